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
mod report;
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
    let mut report = report::render(&results, &peer, raw_sign, &args);
    report.push_str(&report::render_extra(&results, &ldap, &args));
    report.push_str(&report::render_soak(&soak));
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
        &hub::orgs::model::NewOperatorKey {
            name: "bench".into(),
            person: None,
            ..Default::default()
        },
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
        &hub::orgs::model::NewOperatorKey {
            name: "bench".into(),
            person: None,
            ..Default::default()
        },
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
    // Reads with the organization's own key: an operator's reads are audited to the
    // organization (a write each), which is not what this scenario measures.
    let reader: serde_json::Value = post(
        "/api/v1/orgs/bench/api-keys",
        json!({"name": "bench-reader", "role": "read"}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let reader = reader["secret"]
        .as_str()
        .context("org key secret")?
        .to_string();

    // Warm up connections and caches.
    for _ in 0..200 {
        client
            .get(&read_url)
            .bearer_auth(&reader)
            .send()
            .await?
            .error_for_status()?;
    }
    eprintln!("   admin API reads, sequential");
    let api_seq = timed_seq(args.requests, || async {
        client
            .get(&read_url)
            .bearer_auth(&reader)
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
        let (url, key) = (Arc::new(read_url.clone()), Arc::new(reader.clone()));
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
