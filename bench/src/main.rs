//! `hub-bench`: performance measured in a benchmark, never in timed tests. Each scenario runs on
//! SQLite and on PostgreSQL in one run, side by side with a raw-database baseline doing the
//! least the same job needs, and the report gives the ratios. Its own workspace member, so the
//! server binary carries none of it; the replicas it measures are this binary's hidden
//! `serve`, which is `hub serve`.
//!
//! Scenarios (foundation): admin API read latency over kept-alive HTTP against a raw single-row
//! query; audit append throughput (hash-chained, one transaction per event) against a raw insert
//! in its own transaction.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use connectors::SecretString;
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hub::audit::{Actor, AuditAction, AuditEvent};
use hub::config::Config;
use hub::state::AppState;
use hub::storage::{self, Store};

mod deprovision;
mod ldap;
mod login;
mod scim;
mod soak;
mod token;

/// Benchmarks of the hub on SQLite and PostgreSQL, side by side with raw baselines and real
/// peers; writes a Markdown report (bench/RESULTS.md).
#[derive(Parser)]
#[command(name = "hub-bench", version)]
struct Cli {
    /// Configuration file (TOML) the measured hubs start from; HUB_* variables override it.
    #[arg(short, long, env = "HUB_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Subcommand)]
enum Sub {
    /// `hub serve`, for the replicas the benchmark starts.
    #[command(hide = true)]
    Serve,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hub-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let config = Config::load(cli.config.as_deref())?;
        hub::init_logging(&config);
        match cli.command {
            Some(Sub::Serve) => {
                let listener = tokio::net::TcpListener::bind(config.server.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", config.server.listen))?;
                hub::run(config, listener).await?;
                Ok(())
            }
            None => run(&config, cli.args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where to write the Markdown report.
    #[arg(long, default_value = "bench/RESULTS.md")]
    pub out: PathBuf,
    /// PostgreSQL server to benchmark on (a fresh database is created and dropped); "" skips it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub postgres: String,
    /// Admin API reads per measurement.
    #[arg(long, default_value_t = 5000)]
    pub requests: usize,
    /// Audit appends per measurement.
    #[arg(long, default_value_t = 2000)]
    pub appends: usize,
    /// Concurrent clients for the throughput measurements.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Code-for-token exchanges per target (half sequential, half concurrent).
    #[arg(long, default_value_t = 2000)]
    pub exchanges: usize,
    /// SCIM user creates (half sequential, half concurrent); all then join one group in a
    /// single PATCH.
    #[arg(long, default_value_t = 10_000)]
    pub scim_users: usize,
    /// Federated logins through an upstream OIDC IdP, and as many straight at it.
    #[arg(long, default_value_t = 200)]
    pub logins: usize,
    /// Skip the npm peers (the oidc-provider comparison and the federated login).
    #[arg(long)]
    pub no_peer: bool,
    /// Users in the LDAP sync benchmark's slapd (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub ldap_users: usize,
    /// Leavers in the time-to-deprovision benchmark, one after another and as many again in a
    /// burst (0 skips it).
    #[arg(long, default_value_t = 200)]
    pub leavers: usize,
    /// Downstream applications (back-channel logout receivers) each leaver is signed in to.
    #[arg(long, default_value_t = 10)]
    pub receivers: usize,
    /// Seconds of the soak run (two replicas on PostgreSQL, mixed load; 0 skips it).
    #[arg(long, default_value_t = 300)]
    pub soak_secs: u64,
}

/// Latency distribution of one measurement.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    pub count: usize,
    pub per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Stats {
    pub(crate) fn from(mut samples: Vec<Duration>, wall: Duration) -> Self {
        samples.sort();
        let pick = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Self {
            count: samples.len(),
            per_sec: samples.len() as f64 / wall.as_secs_f64().max(1e-9),
            p50_us: pick(0.50),
            p99_us: pick(0.99),
        }
    }
}

struct BackendResult {
    name: &'static str,
    api_seq: Stats,
    api_conc: Stats,
    raw_read: Stats,
    audit_seq: Stats,
    audit_conc: Stats,
    raw_insert: Stats,
    token: token::TokenResult,
    login: Result<login::LoginResult, String>,
    scim: scim::ScimResult,
    deprovision: Option<deprovision::DeprovisionBench>,
}

pub async fn run(base: &Config, args: BenchArgs) -> Result<()> {
    let mut results = Vec::new();
    let dir = tempfile::tempdir().context("temp dir")?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    results.push(bench_backend(base, "SQLite (file, WAL)", &sqlite_url, &args).await?);
    if !args.postgres.is_empty() {
        let name = format!("hubbench_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect_url(&format!("{}/postgres", args.postgres)).await?;
        admin.execute(&format!("CREATE DATABASE {name}")).await?;
        let url = format!("{}/{name}", args.postgres);
        let outcome = bench_backend(base, "PostgreSQL 1 replica", &url, &args).await;
        admin
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        results.push(outcome?);
        let name = format!("hubbench_{}", uuid::Uuid::new_v4().simple());
        admin.execute(&format!("CREATE DATABASE {name}")).await?;
        let url = format!("{}/{name}", args.postgres);
        let outcome = bench_replicas(base, &url, &args).await;
        admin
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        results.push(outcome?);
    }
    let peer = match (args.no_peer, token::peers_dir()) {
        (true, _) => Err("skipped (--no-peer)".to_string()),
        (false, None) => {
            Err("not run: tests/peers/node_modules missing (scripts/install-peers.sh)".to_string())
        }
        (false, Some(dir)) => {
            eprintln!("== npm oidc-provider (token exchanges)");
            let half = (args.exchanges / 2).max(2);
            token::oidc_provider(&dir, half, half, args.concurrency)
                .await
                .map_err(|e| format!("failed: {e:#}"))
        }
    };
    let ldap = if args.ldap_users == 0 {
        Err("skipped (--ldap-users 0)".to_string())
    } else {
        ldap_backends(&args).await
    };
    let soak = if args.soak_secs == 0 || args.postgres.is_empty() {
        Err("skipped (--soak-secs 0, or no PostgreSQL)".to_string())
    } else {
        soak_on_postgres(&args).await
    };
    let raw_sign = token::raw_es256_per_sec()?;
    let mut report = render(&results, &peer, raw_sign, &args);
    report.push_str(&render_extra(&results, &ldap, &args));
    report.push_str(&render_soak(&soak));
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &report).with_context(|| format!("write {}", args.out.display()))?;
    println!("{report}");
    eprintln!("report written to {}", args.out.display());
    Ok(())
}

/// The LDAP benchmark on a fresh SQLite file and (unless skipped) a fresh PostgreSQL database.
async fn ldap_backends(args: &BenchArgs) -> Result<ldap::LdapBench, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut backends = vec![(
        "SQLite (file, WAL)",
        format!("sqlite://{}", dir.path().join("ldap.db").display()),
    )];
    let mut pg = None;
    if !args.postgres.is_empty() {
        let name = format!("hubbench_ldap_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect_url(&format!("{}/postgres", args.postgres))
            .await
            .map_err(|e| e.to_string())?;
        admin
            .execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| e.to_string())?;
        backends.push(("PostgreSQL 1 replica", format!("{}/{name}", args.postgres)));
        pg = Some((admin, name));
    }
    let result = ldap::run(args.ldap_users, &backends)
        .await
        .map_err(|e| format!("failed: {e:#}"));
    if let Some((admin, name)) = pg {
        let _ = admin
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
    result
}

async fn soak_on_postgres(args: &BenchArgs) -> Result<soak::SoakResult, String> {
    let name = format!("hubbench_soak_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect_url(&format!("{}/postgres", args.postgres))
        .await
        .map_err(|e| e.to_string())?;
    admin
        .execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| e.to_string())?;
    let result = soak::run(
        &format!("{}/{name}", args.postgres),
        args.soak_secs,
        args.concurrency,
    )
    .await
    .map_err(|e| format!("failed: {e:#}"));
    let _ = admin
        .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    result
}

fn render_soak(soak: &Result<soak::SoakResult, String>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## Soak: two replicas, mixed load\n");
    let r = match soak {
        Err(e) => {
            let _ = writeln!(s, "Not run: {e}");
            return s;
        }
        Ok(r) => r,
    };
    let _ = writeln!(
        s,
        "Two `hub serve` replicas on one PostgreSQL database, {} s, loopback only: concurrent clients sign people in (development sign-in, code exchange at the other replica), rotate refresh tokens, push SCIM creates, and sign other people in who then leave over SCIM and are rehired (each leaver's back-channel logout delivered from the outbox), while a real slapd directory of 500 people changes every 5 s and the replicas' schedulers sync it (incremental every 3 s, full every 20 s). Every answer is checked.\n",
        r.secs
    );
    let _ = writeln!(s, "| operation | done | per second | p50 / p99 (ms) |");
    let _ = writeln!(s, "|---|---|---|---|");
    for (op, (st, n)) in &r.ops {
        let _ = writeln!(
            s,
            "| {op} | {n} | {:.1} | {:.1} / {:.1} |",
            st.per_sec,
            st.p50_us / 1e3,
            st.p99_us / 1e3
        );
    }
    let _ = writeln!(
        s,
        "\n**Errors: {}**{}",
        r.errors.len(),
        if r.errors.is_empty() {
            String::new()
        } else {
            format!(
                " (first: {})",
                r.errors
                    .iter()
                    .filter(|e| !e.is_empty())
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    );
    let fmt = |v: &[u64]| {
        v.iter()
            .map(|k| format!("{} MiB", k / 1024))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    if let (Some(first), Some(last)) = (r.rss.first(), r.rss.last()) {
        let max: Vec<u64> = (0..first.1.len())
            .map(|i| r.rss.iter().map(|(_, v)| v[i]).max().unwrap_or(0))
            .collect();
        let _ = writeln!(
            s,
            "\nResident memory of the two replicas: {} at {} s, {} at {} s, at most {} ({} samples).",
            fmt(&first.1),
            first.0,
            fmt(&last.1),
            last.0,
            fmt(&max),
            r.rss.len()
        );
    }
    let _ = writeln!(
        s,
        "\nDirectory sync runs: {}. Deprovisioning: {}. Logout tokens received: {}. The audit log verified with {} events.",
        r.syncs
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.deliveries
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        r.logouts_received,
        r.audit_events
    );
    s
}

/// A `hub serve` process (this executable) on `db_url`; killed when dropped.
pub(crate) struct Server(std::process::Child);

impl Server {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hub serve` on `db_url` with the secrets key `key` and `env`; returns it and its URL
/// once it listens.
pub(crate) fn spawn_serve(
    db_url: &str,
    key: &str,
    env: &[(&str, &str)],
) -> Result<(Server, String)> {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("serve")
        .env("HUB_DATABASE__URL", db_url)
        .env("HUB_SECRETS__KEY", key)
        .env("HUB_SERVER__LISTEN", "127.0.0.1:0")
        .env("HUB_LOG__FORMAT", "json")
        .env("HUB_LOG__LEVEL", "info")
        .env("RUST_LOG", "hub=info")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting hub serve")?;
    let stderr = child.stderr.take().context("stderr")?;
    let child = Server(child);
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .context("hub serve exited before listening")??;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["fields"]["message"] == "hub listening"
            && let Some(addr) = v["fields"]["addr"].as_str()
        {
            break addr.to_string();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, format!("http://{addr}")))
}

/// A new operator key on the (migrated) database at `db_url`.
pub(crate) async fn operator_key(db_url: &str) -> Result<String> {
    let store = Store::connect_url(db_url).await?;
    let (_, secret) = hub::orgs::api_keys::create_operator_key(
        &store,
        &hub::clock::SystemClock,
        &Actor::Cli {
            command: "bench".into(),
        },
        "bench",
    )
    .await?;
    store.close().await?;
    Ok(secret)
}

/// Token exchanges, SCIM writes and time-to-deprovision with two `hub serve` replicas on one
/// PostgreSQL database, the requests spread over both (round robin); both replicas' outbox
/// workers deliver.
async fn bench_replicas(base: &Config, url: &str, args: &BenchArgs) -> Result<BackendResult> {
    let name = "PostgreSQL 2 replicas";
    eprintln!("== {name}");
    let mut config = base.clone();
    config.outbound.allow_loopback = true;
    config.database.url = SecretString::new(url);
    let key = base64_key()?;
    config.secrets.key = Some(SecretString::new(key.clone()));
    config.secrets.key_file = None;
    config.database.max_connections = config
        .database
        .max_connections
        .max(args.concurrency as u32 + 2);
    config.jobs.enabled = false;
    let state = hub::build_state(config).await?;
    let env = [
        ("HUB_OUTBOUND__ALLOW_LOOPBACK", "true"),
        ("HUB_JOBS__SCHEDULER_TICK_SECS", "86400"),
    ];
    let (r1, u1) = spawn_serve(url, &key, &env)?;
    let (r2, u2) = spawn_serve(url, &key, &env)?;
    let operator = operator_key(url).await?;
    let client = reqwest::Client::new();
    client
        .post(format!("{u1}/api/v1/orgs"))
        .bearer_auth(&operator)
        .json(&json!({"slug": "bench", "name": "Bench"}))
        .send()
        .await?
        .error_for_status()?;
    eprintln!("   token exchanges over both replicas");
    let half = (args.exchanges / 2).max(2);
    let token = token::hub(&state, &u1, &operator, half, half, args.concurrency, 2).await?;
    eprintln!("   SCIM user creates over both replicas");
    let replicas = [u1.clone(), u2.clone()];
    let scim = scim::run(
        &u1,
        &operator,
        args.scim_users / 2,
        args.scim_users - args.scim_users / 2,
        args.concurrency,
        &replicas,
    )
    .await?;
    let deprovision = if args.leavers == 0 {
        None
    } else {
        eprintln!("   time to deprovision over both replicas");
        Some(
            deprovision::run(
                &state,
                &u1,
                &operator,
                args.leavers,
                args.receivers,
                args.concurrency,
                &replicas,
            )
            .await?,
        )
    };
    drop((r1, r2));
    let verify =
        hub::audit::verify_chain(&state.store, Some(&state.secrets), &Default::default()).await?;
    anyhow::ensure!(
        verify.ok(),
        "audit chain broken after the benchmark: {:?}",
        verify.problem
    );
    state.store.clone().close().await?;
    Ok(BackendResult {
        name,
        api_seq: Stats::default(),
        api_conc: Stats::default(),
        raw_read: Stats::default(),
        audit_seq: Stats::default(),
        audit_conc: Stats::default(),
        raw_insert: Stats::default(),
        token,
        login: Err("not measured with two replicas".into()),
        scim,
        deprovision,
    })
}

async fn bench_backend(
    base: &Config,
    name: &'static str,
    url: &str,
    args: &BenchArgs,
) -> Result<BackendResult> {
    eprintln!("== {name}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = base.clone();
    config.server.public_url = format!("http://{addr}");
    // The federated-login scenario's IdP listens on loopback.
    config.outbound.allow_loopback = true;
    config.database.url = SecretString::new(url);
    config.secrets.key = Some(SecretString::new(base64_key()?));
    config.secrets.key_file = None;
    config.database.max_connections = config
        .database
        .max_connections
        .max(args.concurrency as u32 + 2);
    let state = hub::build_state(config).await?;
    let actor = Actor::Cli {
        command: "bench".into(),
    };
    let (_, key) = hub::orgs::api_keys::create_operator_key(
        &state.store,
        state.clock.as_ref(),
        &actor,
        "bench",
    )
    .await?;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hub::serve(state.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    let base_url = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base_url}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    post("/api/v1/orgs", json!({"slug": "bench", "name": "Bench"}))
        .await?
        .error_for_status()?;
    let created: serde_json::Value = post(
        "/api/v1/orgs/bench/applications",
        json!({"name": "App", "client_type": "confidential", "redirect_uris": ["https://app.example.com/cb"]}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let app_id = created["application"]["id"]
        .as_str()
        .context("app id")?
        .to_string();
    let read_url = format!("{base_url}/api/v1/orgs/bench/applications/{app_id}");

    // Warm up connections and caches.
    for _ in 0..200 {
        client
            .get(&read_url)
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?;
    }
    eprintln!("   admin API reads, sequential");
    let api_seq = timed_seq(args.requests, || async {
        client
            .get(&read_url)
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok(())
    })
    .await?;
    eprintln!("   admin API reads, {} concurrent", args.concurrency);
    let api_conc = {
        let client = client.clone();
        let (url, key) = (Arc::new(read_url.clone()), Arc::new(key.clone()));
        timed_conc(args.requests, args.concurrency, move |_| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            async move {
                client
                    .get(url.as_str())
                    .bearer_auth(key.as_str())
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                Ok(())
            }
        })
        .await?
    };
    eprintln!("   raw single-row reads");
    let app = app_id.parse().context("app id")?;
    let org = storage::organizations::find_by_slug(state.store.conn(), "bench")
        .await?
        .context("org")?
        .id;
    let raw_read = timed_seq(args.requests, || async {
        storage::applications::get(state.store.conn(), org, app)
            .await?
            .context("app")?;
        Ok(())
    })
    .await?;

    eprintln!("   audit appends, sequential");
    let audit_seq = timed_seq(args.appends, || append_one(&state, org)).await?;
    eprintln!("   audit appends, {} concurrent", args.concurrency);
    let audit_conc = {
        let state = state.clone();
        timed_conc(args.appends, args.concurrency, move |_| {
            let state = state.clone();
            async move { append_one(&state, org).await }
        })
        .await?
    };
    eprintln!("   raw inserts");
    state
        .store
        .execute("CREATE TABLE bench_baseline (seq BIGINT PRIMARY KEY, payload TEXT NOT NULL)")
        .await?;
    let counter = std::sync::atomic::AtomicI64::new(0);
    let raw_insert = timed_seq(args.appends, || async {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tx = state.store.begin().await?;
        tx.execute(&format!(
            "INSERT INTO bench_baseline (seq, payload) VALUES ({n}, '{{\"n\":{n}}}')"
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    })
    .await?;

    eprintln!("   token exchanges");
    let half = (args.exchanges / 2).max(2);
    let token = token::hub(&state, &base_url, &key, half, half, args.concurrency, 1).await?;
    // The federated login runs before the SCIM benchmark: once an organization has a directory,
    // only the people it manages may sign in.
    let login = match (args.no_peer, token::peers_dir()) {
        (true, _) => Err("skipped (--no-peer)".to_string()),
        (false, None) => {
            Err("not run: tests/peers/node_modules missing (scripts/install-peers.sh)".to_string())
        }
        (false, Some(dir)) => {
            eprintln!("   federated logins ({} each way)", args.logins);
            login::federated(&dir, &base_url, &key, args.logins)
                .await
                .map_err(|e| format!("failed: {e:#}"))
        }
    };
    eprintln!("   SCIM user creates and a group PATCH");
    let scim = scim::run(
        &base_url,
        &key,
        args.scim_users / 2,
        args.scim_users - args.scim_users / 2,
        args.concurrency,
        &[],
    )
    .await?;
    let deprovision = if args.leavers == 0 {
        None
    } else {
        eprintln!(
            "   time to deprovision: {} leavers one by one, {} in a burst, {} receivers",
            args.leavers, args.leavers, args.receivers
        );
        Some(
            deprovision::run(
                &state,
                &base_url,
                &key,
                args.leavers,
                args.receivers,
                args.concurrency,
                &[],
            )
            .await?,
        )
    };

    let _ = stop_tx.send(());
    let _ = server.await;
    let verify =
        hub::audit::verify_chain(&state.store, Some(&state.secrets), &Default::default()).await?;
    anyhow::ensure!(
        verify.ok(),
        "audit chain broken after the benchmark: {:?}",
        verify.problem
    );
    state.store.clone().close().await?;
    Ok(BackendResult {
        name,
        api_seq,
        api_conc,
        raw_read,
        audit_seq,
        audit_conc,
        raw_insert,
        token,
        login,
        scim,
        deprovision,
    })
}

async fn append_one(state: &AppState, org: hub::ids::OrgId) -> Result<()> {
    let tx = state.store.begin().await?;
    let event = AuditEvent::new(
        &Actor::System {
            component: "bench".into(),
        },
        AuditAction::OrganizationUpdated,
        format!("organization:{org}"),
    )
    .org(org)
    .details(json!({"bench": true}));
    state.commit_audited(tx, event).await?;
    Ok(())
}

pub(crate) async fn timed_seq<F, Fut>(n: usize, mut op: F) -> Result<Stats>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut samples = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        op().await?;
        samples.push(t.elapsed());
    }
    Ok(Stats::from(samples, start.elapsed()))
}

/// Runs `op(i)` for i in 0..n from `workers` concurrent tasks.
pub(crate) async fn timed_conc<F, Fut>(n: usize, workers: usize, op: F) -> Result<Stats>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers.max(1) {
        let (op, next) = (op.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                op(i).await?;
                samples.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for h in handles {
        all.extend(h.await??);
    }
    Ok(Stats::from(all, start.elapsed()))
}

pub(crate) fn base64_key() -> Result<String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(hub::secrets::random_bytes::<32>()?))
}

fn render(
    results: &[BackendResult],
    peer: &Result<token::TokenResult, String>,
    raw_sign: f64,
    args: &BenchArgs,
) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(s, "# Benchmark results (`hub-bench`)\n");
    let _ = writeln!(
        s,
        "Measured {} on a {cores}-core machine; client and hub share it (in one process, \
         loopback HTTP/1.1 with kept-alive connections). {} reads and {} audit appends per \
         measurement, {} concurrent clients. Regenerate with `cargo run --release -p hub-bench`.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        args.requests,
        args.appends,
        args.concurrency
    );
    let _ = writeln!(
        s,
        "## Admin API read latency (`GET /api/v1/orgs/{{org}}/applications/{{id}}`)\n"
    );
    let _ = writeln!(
        s,
        "Baseline: the same application row read straight from the database with one query (no HTTP, no authentication).\n"
    );
    let _ = writeln!(
        s,
        "| backend | hub sequential p50 / p99 (µs) | raw query p50 / p99 (µs) | hub ÷ raw (p50) | hub concurrent req/s | concurrent p99 (µs) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.api_seq.count > 0) {
        let _ = writeln!(
            s,
            "| {} | {:.0} / {:.0} | {:.0} / {:.0} | {:.1}x | {:.0} | {:.0} |",
            r.name,
            r.api_seq.p50_us,
            r.api_seq.p99_us,
            r.raw_read.p50_us,
            r.raw_read.p99_us,
            r.api_seq.p50_us / r.raw_read.p50_us.max(1e-9),
            r.api_conc.per_sec,
            r.api_conc.p99_us
        );
    }
    let _ = writeln!(
        s,
        "\n## Audit append throughput (hash-chained, one transaction per event)\n"
    );
    let _ = writeln!(
        s,
        "Baseline: a raw one-row insert in its own transaction. The audit append also locks the chain head, reads it, hashes a canonical encoding, writes the event, its organization scope and the new head.\n"
    );
    let _ = writeln!(
        s,
        "| backend | audit appends/s sequential (p50 / p99 µs) | raw inserts/s (p50 / p99 µs) | audit ÷ raw throughput | audit appends/s, concurrent (p99 µs) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.api_seq.count > 0) {
        let _ = writeln!(
            s,
            "| {} | {:.0} ({:.0} / {:.0}) | {:.0} ({:.0} / {:.0}) | {:.2} | {:.0} ({:.0}) |",
            r.name,
            r.audit_seq.per_sec,
            r.audit_seq.p50_us,
            r.audit_seq.p99_us,
            r.raw_insert.per_sec,
            r.raw_insert.p50_us,
            r.raw_insert.p99_us,
            r.audit_seq.per_sec / r.raw_insert.per_sec.max(1e-9),
            r.audit_conc.per_sec,
            r.audit_conc.p99_us
        );
    }
    let cores = cores.max(1) as f64;
    let _ = writeln!(s, "\n## Token endpoint: authorization code exchanges\n");
    let _ = writeln!(
        s,
        "Each exchange: client_secret_basic, code + PKCE S256, one ES256 ID token and one JWT access token (two signatures), a refresh token for the hub. The same Rust client exchanges codes minted beforehand on each target, {} sequentially and {} with {} concurrent clients. npm `oidc-provider` (one Node.js process, in-memory adapter) is the peer. Both servers run as their own processes; the load client shares the machine, so besides wall-clock throughput the table gives exchanges per CPU-second of the server process (from /proc), the figure to hold against Keycloak's sizing guide (about 120 token grants/s per vCPU). For PostgreSQL that CPU leaves out the database server's own processes, so the SQLite row (database work in the hub's process) is the one to compare with the anchor and the peer. The last column is the share of that CPU a raw ES256 signature pair would take.\n",
        (args.exchanges / 2).max(2) - 1,
        (args.exchanges / 2).max(2),
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| target | sequential p50 / p99 (µs) | concurrent exchanges/s (wall) | concurrent p99 (µs) | exchanges per server CPU-second | × Keycloak anchor (per CPU-second) | raw ES256 pair's share of that CPU |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    let row = |s: &mut String, name: &str, t: &token::TokenResult| {
        let per_core = t.per_cpu_second.unwrap_or(t.conc.per_sec / cores);
        let _ = writeln!(
            s,
            "| {name} | {:.0} / {:.0} | {:.0} | {:.0} | {:.0} | {:.1}x | {:.1}% |",
            t.seq.p50_us,
            t.seq.p99_us,
            t.conc.per_sec,
            t.conc.p99_us,
            per_core,
            per_core / 120.0,
            100.0 * 2.0 * per_core / raw_sign
        );
    };
    for r in results {
        row(&mut s, &format!("hub, {}", r.name), &r.token);
    }
    match peer {
        Ok(p) => {
            row(&mut s, "npm oidc-provider", p);
            for r in results {
                let _ = writeln!(
                    s,
                    "\nhub ({}) ÷ oidc-provider: {:.1}x the concurrent throughput, {:.2}x the sequential p50 latency.",
                    r.name,
                    r.token.conc.per_sec / p.conc.per_sec.max(1e-9),
                    r.token.seq.p50_us / p.seq.p50_us.max(1e-9)
                );
            }
        }
        Err(why) => {
            let _ = writeln!(s, "| npm oidc-provider | {why} | | | | | |");
        }
    }
    let _ = writeln!(
        s,
        "\nRaw ES256 signing with ring on this machine: {raw_sign:.0} signatures/s on one core ({:.0} on {cores:.0} cores); an exchange needs two.",
        raw_sign * cores
    );
    let _ = writeln!(
        s,
        "\n## Federated login: the time the hub adds\n\nA person signs in through their company's OIDC IdP (npm `oidc-provider` with a password form, one Node.js process), {} times each way, interleaved, each login in a fresh cookie jar: **direct** is a relying party signing in at the IdP alone (authorization request, login form, password post, redirect with a code, code exchange); **through the hub** an application sends the person to the hub, the hub to the same IdP (the same steps there), back to the hub's callback (which exchanges the code at the IdP, checks the ID token, links the identity and starts the session), back to the application, which exchanges its own code at the hub. **Added** is, login by login, through-the-hub minus direct; **hub requests** is the time of the requests the hub answers (authorize, its login step, the callback, the token exchange), an upper bound of its share since the callback waits for the IdP's code exchange.\n",
        args.logins
    );
    let _ = writeln!(
        s,
        "| backend | direct p50 / p99 (ms) | through the hub p50 / p99 (ms) | added p50 / p99 (ms) | hub requests p50 / p99 (ms) | added ÷ direct (p50) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        match &r.login {
            Ok(l) => {
                let _ = writeln!(
                    s,
                    "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2} |",
                    r.name,
                    l.direct.p50_us / 1e3,
                    l.direct.p99_us / 1e3,
                    l.hub.p50_us / 1e3,
                    l.hub.p99_us / 1e3,
                    l.added.p50_us / 1e3,
                    l.added.p99_us / 1e3,
                    l.hub_requests.p50_us / 1e3,
                    l.hub_requests.p99_us / 1e3,
                    l.added.p50_us / l.direct.p50_us.max(1e-9),
                );
            }
            Err(e) => {
                let _ = writeln!(s, "| {} | {e} | | | | |", r.name);
            }
        }
    }
    let _ = writeln!(
        s,
        "\n## SCIM writes\n\nUser creates pushed over HTTP as Okta or Entra ID push them (each checked against the verified domains and uniqueness, written and audited in one transaction), half one after another and half from {} concurrent clients; then one PATCH adding every created user to one group (Entra's form: `Add` on `members` with a value list), which also rewrites each member's `groups` claim. Entra ID asks an endpoint to sustain 25 requests/s.\n",
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| backend | creates/s sequential (p50 / p99 ms) | creates/s concurrent (p99 ms) | × Entra's 25/s | group PATCH adding N members |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in results {
        let c = &r.scim;
        let _ = writeln!(
            s,
            "| {} | {:.0} ({:.1} / {:.1}) | {:.0} ({:.1}) | {:.0}x | {} members in {:.2} s |",
            r.name,
            c.seq.per_sec,
            c.seq.p50_us / 1e3,
            c.seq.p99_us / 1e3,
            c.conc.per_sec,
            c.conc.p99_us / 1e3,
            c.conc.per_sec / 25.0,
            c.members,
            c.group_patch.as_secs_f64()
        );
    }
    let _ = writeln!(
        s,
        "\nEvery run ends with a full `verify_chain` of the log it wrote; the run fails if the chain does not verify."
    );
    let _ = writeln!(
        s,
        "Counts: {}.",
        results
            .iter()
            .filter(|r| r.api_seq.count > 0)
            .map(|r| format!(
                "{} {} reads / {} appends",
                r.name, r.api_seq.count, r.audit_seq.count
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The LDAP and time-to-deprovision sections.
fn render_extra(
    results: &[BackendResult],
    ldap: &Result<ldap::LdapBench, String>,
    args: &BenchArgs,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## LDAP directory sync\n");
    match ldap {
        Err(e) => {
            let _ = writeln!(s, "Not measured: {e}\n");
        }
        Ok(l) => {
            let _ = writeln!(
                s,
                "A real slapd (syncprov) loaded offline with {} users and {} groups (each user in two), on this machine. **Raw** is `ldapsearch` reading the same users with the same attributes to /dev/null, median of 3: paged (`-E pr=500`) {:.0} ms, a syncrepl refresh (`-E !sync=ro`) {:.0} ms. The hub runs as its own `hub serve` process; each sync is one admin API call, timed to its answer (read, reconcile, audit, groups). **First** creates every user (each audited, in the same transaction as its change); **re-sync** is the steady state: a full read that finds nothing changed; **incremental** reads 100 changed users by `modifyTimestamp`; then the directory is switched to syncrepl: a full refresh, and 100 changes read from the cookie. Memory is the `hub serve` process's resident set before the first sync, after the last, and at its peak (`VmHWM`).\n",
                l.users,
                l.groups,
                ms(l.raw_paged),
                ms(l.raw_syncrepl)
            );
            let _ = writeln!(
                s,
                "| backend | first full sync | re-sync, nothing changed | re-sync ÷ raw paged | incremental, 100 changes | syncrepl full refresh | syncrepl, 100 changes | RSS before / after / peak |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
            for b in &l.backends {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} s ({} created, {:.1}x raw) | {:.2} s ({} unchanged) | {:.1}x | {:.0} ms ({} updated) | {:.2} s ({:.1}x raw syncrepl) | {:.0} ms ({} updated) | {} / {} / {} MiB |",
                    b.name,
                    b.first.as_secs_f64(),
                    b.first_counts["created"],
                    b.first.as_secs_f64() / l.raw_paged.as_secs_f64().max(1e-9),
                    b.resync.as_secs_f64(),
                    b.resync_counts["unchanged"],
                    b.resync.as_secs_f64() / l.raw_paged.as_secs_f64().max(1e-9),
                    ms(b.incremental),
                    b.incremental_counts["updated"],
                    b.syncrepl_full.as_secs_f64(),
                    b.syncrepl_full.as_secs_f64() / l.raw_syncrepl.as_secs_f64().max(1e-9),
                    ms(b.syncrepl_incremental),
                    b.syncrepl_incremental_counts["updated"],
                    b.rss_before_kb / 1024,
                    b.rss_after_kb / 1024,
                    b.peak_kb / 1024
                );
            }
            let _ = writeln!(
                s,
                "\nFor comparison: Keycloak's periodic LDAP sync is off by default (daily or weekly when on); Entra ID provisions in 40-minute cycles."
            );
        }
    }
    let _ = writeln!(s, "\n## Time to deprovision\n");
    if results.iter().all(|r| r.deprovision.is_none()) {
        let _ = writeln!(s, "Not measured (--leavers 0).");
        return s;
    }
    let _ = writeln!(
        s,
        "Each leaver is signed in to {} downstream applications (one hub session that reached them all), each application with its own back-channel logout receiver on loopback. The directory deactivates the leaver over SCIM as Entra ID sends it (`PATCH` `Replace` `active` `\"False\"`), timed from the moment the request is sent: **local revocation** until its answer (the status change, sessions ended, refresh tokens revoked, access tokens off at introspection, the {} deliveries queued, audited, in one committed transaction); **all delivered** until the last of the leaver's {} logout tokens reached its receiver (signed, POSTed from the durable outbox). {} leavers one after another, then {} at once from {} concurrent SCIM clients (a mass departure). Goals: local revocation p99 under 100 ms, all deliveries p99 under 1 s; Entra ID's own provisioning works in 40-minute cycles.\n",
        args.receivers,
        args.receivers,
        args.receivers,
        args.leavers,
        args.leavers,
        args.concurrency
    );
    let _ = writeln!(
        s,
        "| backend | one by one: local revocation p50 / p99 | one by one: all delivered p50 / p99 | burst: local revocation p50 / p99 | burst: all delivered p50 / p99 | burst: last delivery after |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in results {
        if let Some(d) = &r.deprovision {
            let _ = writeln!(
                s,
                "| {} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.2} s for {} leavers × {} |",
                r.name,
                d.seq_local.p50_us / 1e3,
                d.seq_local.p99_us / 1e3,
                d.seq_all.p50_us / 1e3,
                d.seq_all.p99_us / 1e3,
                d.burst_local.p50_us / 1e3,
                d.burst_local.p99_us / 1e3,
                d.burst_all.p50_us / 1e3,
                d.burst_all.p99_us / 1e3,
                d.burst_wall.as_secs_f64(),
                d.burst,
                d.receivers
            );
            let _ = d.sequential;
        }
    }
    s
}
