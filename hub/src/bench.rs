//! `hub bench`: measured in a benchmark, never in timed tests.
use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where to write the Markdown report.
    #[arg(long, default_value = "bench/RESULTS.md")]
    pub out: std::path::PathBuf,
}

pub async fn run(_config: &crate::Config, _args: BenchArgs) -> anyhow::Result<()> {
    Ok(())
}
