//! `hub bench`: performance measured in a benchmark, never in timed tests. Each scenario runs on
//! SQLite and on PostgreSQL in one run, side by side with a raw-database baseline doing the
//! least the same job needs, and the report gives the ratios.
//!
//! Scenarios (foundation): admin API read latency over kept-alive HTTP against a raw single-row
//! query; audit append throughput (hash-chained, one transaction per event) against a raw insert
//! in its own transaction.

use anyhow::{Context, Result};
use clap::Args;
use connectors::SecretString;
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::config::Config;
use crate::state::AppState;
use crate::storage::{self, Store};

mod login;
mod scim;
mod token;

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
    fn from(mut samples: Vec<Duration>, wall: Duration) -> Self {
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
    let raw_sign = token::raw_es256_per_sec()?;
    let report = render(&results, &peer, raw_sign, &args);
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &report).with_context(|| format!("write {}", args.out.display()))?;
    println!("{report}");
    eprintln!("report written to {}", args.out.display());
    Ok(())
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
    let state = crate::build_state(config).await?;
    let actor = Actor::Cli {
        command: "bench".into(),
    };
    let (_, key) = crate::orgs::api_keys::create_operator_key(
        &state.store,
        state.clock.as_ref(),
        &actor,
        "bench",
    )
    .await?;

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(state.clone(), listener, async {
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
    let token = token::hub(&state, &base_url, &key, half, half, args.concurrency).await?;
    eprintln!("   SCIM user creates and a group PATCH");
    let scim = scim::run(
        &base_url,
        &key,
        args.scim_users / 2,
        args.scim_users - args.scim_users / 2,
        args.concurrency,
    )
    .await?;
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

    let _ = stop_tx.send(());
    let _ = server.await;
    let verify = crate::audit::verify_chain(&state.store, Some(&state.secrets)).await?;
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
    })
}

async fn append_one(state: &AppState, org: crate::ids::OrgId) -> Result<()> {
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

fn base64_key() -> Result<String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.encode(crate::secrets::random_bytes::<32>()?))
}

fn render(
    results: &[BackendResult],
    peer: &Result<token::TokenResult, String>,
    raw_sign: f64,
    args: &BenchArgs,
) -> String {
    let mut s = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(s, "# Benchmark results (`hub bench`)\n");
    let _ = writeln!(
        s,
        "Measured {} on a {cores}-core machine; client and hub share it (in one process, \
         loopback HTTP/1.1 with kept-alive connections). {} reads and {} audit appends per \
         measurement, {} concurrent clients. Regenerate with `cargo run --release -p hub -- bench`.\n",
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
    for r in results {
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
    for r in results {
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
            .map(|r| format!(
                "{} {} reads / {} appends",
                r.name, r.api_seq.count, r.audit_seq.count
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}
