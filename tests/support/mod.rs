//! Test harness: a fresh database per test (SQLite file, or a new PostgreSQL database when
//! `HUB_TEST_DATABASE=postgres`), the hub started in-process on 127.0.0.1:0, the `hub` binary for
//! CLI and multi-process tests, and real peers (dnsmasq) started and stopped by PID.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine;
use connectors::SecretString;
use hub::{AppState, Config};
use reqwest::{Method, StatusCode};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, FromQueryResult, JsonValue, Statement,
};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the suite keeps its databases: `sqlite` (default) or `postgres`.
pub fn backend() -> String {
    std::env::var("HUB_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

/// Base URL of the PostgreSQL server (no database name).
pub fn postgres_base() -> String {
    std::env::var("HUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A throwaway database.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A database of the suite's backend.
    pub async fn new() -> Self {
        match backend().as_str() {
            "postgres" => Self::postgres().await,
            "sqlite" => Self::sqlite(),
            other => panic!("HUB_TEST_DATABASE must be sqlite or postgres, not {other:?}"),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hub.db").display());
        Self {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL database named `hubtest_<run>_<random>`; `.ci/run` drops leftovers.
    pub async fn postgres() -> Self {
        let run = std::env::var("HUB_TEST_RUN_ID").unwrap_or_else(|_| "local".into());
        let name = format!(
            "hubtest_{}_{}",
            run.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>(),
            uuid::Uuid::new_v4().simple()
        );
        let admin = Database::connect(format!("{}/postgres", postgres_base()))
            .await
            .expect(
                "PostgreSQL at HUB_TEST_POSTGRES_URL (default 127.0.0.1:5432) must be reachable",
            );
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.ok();
        Self {
            url: format!("{}/{name}", postgres_base()),
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    /// Drops a PostgreSQL database (SQLite files go with their temp dir).
    pub async fn drop_db(&self) {
        if let Some(name) = &self.pg_name
            && let Ok(admin) = Database::connect(format!("{}/postgres", postgres_base())).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            admin.close().await.ok();
        }
    }
}

/// An HTTP client for tests (installs the TLS provider the hub uses first).
pub fn http_client() -> reqwest::Client {
    hub::install_crypto_provider();
    reqwest::Client::new()
}

/// A random base64 AEAD key.
pub fn random_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2))
}

/// A free loopback port (bound then released; the race is acceptable for tests).
pub fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP listener on loopback that counts the connections it accepts and records what they
/// send (writing `banner` first, if any; each connection is closed after a short silence):
/// where a test asserts the hub never connected, or never sent a secret.
pub struct Trap {
    pub addr: SocketAddr,
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Trap {
    pub async fn start(ip: &str, banner: &'static [u8]) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (accepted.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    if !banner.is_empty() {
                        let _ = s.write_all(banner).await;
                    }
                    let mut buf = [0u8; 4096];
                    while let Ok(Ok(n)) =
                        tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
                    {
                        if n == 0 {
                            break;
                        }
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Self {
            addr,
            accepted,
            received,
            task,
        }
    }

    pub fn count(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether `needle` was among the bytes received.
    pub fn saw(&self, needle: &str) -> bool {
        let got = self.received.lock().unwrap();
        got.windows(needle.len()).any(|w| w == needle.as_bytes())
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free loopback port for a UDP+TCP server such as dnsmasq.
pub fn free_udp_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if StdTcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Options for [`TestHub::start_with`].
#[derive(Default)]
pub struct Options {
    /// Nameserver for domain verification lookups (a dnsmasq port).
    pub dns_port: Option<u16>,
    /// A small body limit, to test oversized bodies cheaply.
    pub max_body_bytes: Option<usize>,
    /// Enable the development-only sign-in form.
    pub dev_login: bool,
    /// Let the hub call loopback receivers (back-channel logout to a local test app).
    pub allow_loopback: bool,
    /// `outbound.allow`: internal addresses the hub may call although `allow_loopback` is off.
    pub outbound_allow: Vec<String>,
    /// A clock the test controls.
    pub clock: Option<std::sync::Arc<hub::clock::FixedClock>>,
    /// Run the directory sync scheduler every second (off: it never ticks after the start,
    /// so tests that sync by hand see only their own runs).
    pub scheduler: bool,
    /// Outbox retries: (base backoff ms, max attempts); default (2000, 12) as configured.
    pub outbox_retries: Option<(u64, u32)>,
    /// Lease length in seconds (default 30).
    pub lease_secs: Option<u64>,
    /// Any other configuration change, applied last (before validation).
    pub config: Option<fn(&mut Config)>,
}

/// The hub running in-process, with an operator key.
pub struct TestHub {
    pub url: String,
    pub operator_key: String,
    pub secrets_key: String,
    pub db: TestDb,
    pub state: AppState,
    pub config: Config,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A response: status and parsed JSON body (`Null` if none).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub json: Value,
    pub content_type: String,
}

impl TestHub {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        let db = TestDb::new().await;
        let secrets_key = random_key();
        let mut config = Config::load(None).unwrap();
        config.database.url = SecretString::new(db.url.clone());
        config.secrets.key = Some(SecretString::new(secrets_key.clone()));
        config.secrets.key_file = None;
        config.secrets.create_key_file = false;
        config.log.level = "warn".into();
        if let Some(port) = options.dns_port {
            config.dns.nameservers = vec![SocketAddr::from(([127, 0, 0, 1], port))];
            config.dns.timeout_secs = 2;
        }
        if let Some(max) = options.max_body_bytes {
            config.server.max_body_bytes = max;
        }
        config.oidc.dev_login = options.dev_login;
        config.outbound.allow_loopback = options.allow_loopback;
        config.outbound.allow = options.outbound_allow.clone();
        config.audit.failure_window_secs = 1;
        config.jobs.scheduler_tick_secs = if options.scheduler { 1 } else { 86_400 };
        config.outbox.poll_ms = 200;
        if let Some((base, attempts)) = options.outbox_retries {
            config.outbox.backoff_base_ms = base;
            config.outbox.max_attempts = attempts;
            config.outbox.backoff_max_secs = 2;
            config.outbox.timeout_secs = 2;
            config.outbox.claim_secs = 5;
        }
        if let Some(l) = options.lease_secs {
            config.jobs.lease_secs = l;
        }
        if let Some(change) = options.config {
            change(&mut config);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.server.public_url = format!("http://{addr}");
        config.validate().unwrap();
        let clock: std::sync::Arc<dyn hub::clock::Clock> = match &options.clock {
            Some(c) => c.clone(),
            None => std::sync::Arc::new(hub::clock::SystemClock),
        };
        let state = hub::build_state_with_clock(config.clone(), clock)
            .await
            .unwrap();
        let actor = hub::audit::Actor::Cli {
            command: "test".into(),
        };
        let (_, operator_key) = hub::orgs::api_keys::create_operator_key(
            &state.store,
            state.clock.as_ref(),
            &actor,
            "test-operator",
        )
        .await
        .unwrap();
        let (tx, rx) = oneshot::channel();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            let _ = hub::serve(serving, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            url: format!("http://{addr}"),
            operator_key,
            secrets_key,
            db,
            state,
            config,
            client: http_client(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server (signing a final checkpoint) and drops a PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.state.store.clone().close().await.ok();
        self.db.drop_db().await;
    }

    /// Sends a request with `key` as bearer (if any) and `body` as JSON (if any).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::read(req.send().await.unwrap()).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Resp {
            status,
            json,
            content_type,
        }
    }

    pub async fn get(&self, key: &str, path: &str) -> Resp {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(key), Some(&body)).await
    }

    /// Creates an organization as operator and returns `(id, slug)`.
    pub async fn create_org(&self, slug: &str) -> (String, String) {
        let r = self
            .post(
                &self.operator_key,
                "/api/v1/orgs",
                serde_json::json!({"slug": slug, "name": format!("{slug} Inc.")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        (r.json["id"].as_str().unwrap().to_string(), slug.to_string())
    }

    /// Creates an organization key (`admin` or `read`) and returns `(key id, secret)`.
    pub async fn create_org_key(&self, org: &str, role: &str) -> (String, String) {
        let r = self
            .post(
                &self.operator_key,
                &format!("/api/v1/orgs/{org}/api-keys"),
                serde_json::json!({"name": format!("{org}-{role}-{}", uuid::Uuid::new_v4().simple()), "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        (
            r.json["key"]["id"].as_str().unwrap().to_string(),
            r.json["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Every row of every table, plus the chain head: equal snapshots mean nothing changed.
    pub async fn snapshot(&self) -> Value {
        let db = self.db.connect().await;
        let backend = db.get_database_backend();
        let mut out = serde_json::Map::new();
        for table in [
            "organizations",
            "org_domains",
            "applications",
            "api_keys",
            "audit_events",
            "audit_event_orgs",
            "audit_head",
            "signing_keys",
            "users",
            "connections",
            "directories",
            "scim_tokens",
            "groups",
            "group_members",
            "leavers",
            "outbox",
            "spaces",
            "space_apps",
            "space_grants",
            "org_role_groups",
            "security_notices",
        ] {
            let rows = JsonValue::find_by_statement(Statement::from_string(
                backend,
                format!("SELECT * FROM {table} ORDER BY 1"),
            ))
            .all(&db)
            .await
            .unwrap();
            out.insert(table.into(), Value::Array(rows));
        }
        db.close().await.ok();
        Value::Object(out)
    }

    /// Environment that points the `hub` binary at this hub's database and key.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            ("HUB_DATABASE__URL".into(), self.db.url.clone()),
            ("HUB_SECRETS__KEY".into(), self.secrets_key.clone()),
            ("HUB_LOG__LEVEL".into(), "warn".into()),
            (
                "HUB_OUTBOUND__ALLOW_LOOPBACK".into(),
                self.config.outbound.allow_loopback.to_string(),
            ),
            (
                "HUB_OUTBOUND__ALLOW".into(),
                serde_json::to_string(&self.config.outbound.allow).unwrap(),
            ),
        ]
    }

    /// Runs the `hub` binary with this hub's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        hub_command(&self.cli_env(), args).output().unwrap()
    }
}

/// Path of the `hub` binary built next to this test binary (`cargo build --bins` first).
pub fn hub_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|p| p.parent()).unwrap();
    let bin = dir.join("hub");
    assert!(
        bin.is_file(),
        "{} not found: build it first with `cargo build --bins` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A `hub` command with a clean HUB_* environment plus `env`.
pub fn hub_command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(hub_binary());
    for (k, _) in std::env::vars() {
        if k.starts_with("HUB_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v))).args(args);
    cmd
}

/// A child process killed (by PID) when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `url` answers 200, or fails after `secs`.
pub async fn wait_ready(url: &str, secs: u64) -> Result<()> {
    let client = http_client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} not ready after {secs}s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real dnsmasq serving TXT (and A/AAAA) records on 127.0.0.1:`port` (UDP and TCP), nothing
/// else.
pub struct Dnsmasq {
    _child: ChildGuard,
}

impl Dnsmasq {
    pub async fn start(port: u16, txt: &[(&str, &str)]) -> Result<Self> {
        Self::start_with_hosts(port, txt, &[]).await
    }

    /// With address records too: `(name, ip)` pairs.
    pub async fn start_with_hosts(
        port: u16,
        txt: &[(&str, &str)],
        hosts: &[(&str, &str)],
    ) -> Result<Self> {
        let binary = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .context("dnsmasq not installed: scripts/test.sh installs Debian's dnsmasq-base")?;
        let mut cmd = Command::new(binary);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--user=root",
            "--pid-file=",
        ])
        .arg(format!("--port={port}"));
        for (name, value) in txt {
            cmd.arg(format!("--txt-record={name},{value}"));
        }
        for (name, ip) in hosts {
            cmd.arg(format!("--host-record={name},{ip}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start dnsmasq")?;
        let guard = ChildGuard(child);
        // Ready when its TCP port accepts.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self { _child: guard });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("dnsmasq did not start on port {port}")
    }
}

/// The directory of the npm peers (`tests/peers`, installed by scripts/install-peers.sh).
pub fn peers_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "npm peers missing: run scripts/install-peers.sh (npm ci in tests/peers)"
    );
    dir
}

/// Runs a node script from `tests/peers`; returns its JSON lines (stdout) and success.
pub async fn run_node(script: &str, env: &[(&str, String)]) -> (bool, Vec<Value>, String) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script).current_dir(peers_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("node script timed out")
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let lines = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (
        out.status.success(),
        lines,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// A long-running node peer whose JSON stdout lines arrive on a channel.
pub struct NodePeer {
    _child: ChildGuard,
    pub lines: std::sync::mpsc::Receiver<Value>,
    /// The peer's first line, `{"ready": true, ...}`.
    pub ready: Value,
}

impl NodePeer {
    pub fn start(script: &str, env: &[(&str, String)]) -> Self {
        Self::spawn(Command::new("node"), script, env)
    }

    /// A Python peer, run by the virtualenv `scripts/install-peers.sh` makes in tests/peers.
    pub fn python(script: &str, env: &[(&str, String)]) -> Self {
        let python = peers_dir().join(".venv/bin/python");
        assert!(
            python.is_file(),
            "run scripts/install-peers.sh first (tests/peers/.venv is missing)"
        );
        Self::spawn(Command::new(python), script, env)
    }

    fn spawn(mut cmd: Command, script: &str, env: &[(&str, String)]) -> Self {
        cmd.arg(script)
            .current_dir(peers_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node must be installed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let ready: Value = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("peer did not start");
        assert_eq!(ready["ready"], true);
        Self {
            _child: ChildGuard(child),
            lines: rx,
            ready,
        }
    }

    /// The next `n` lines, waiting up to `secs` in all.
    pub fn take(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => out.push(v),
                Err(_) => break,
            }
        }
        out
    }
}

/// A browser stand-in: a cookie jar, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        hub::install_crypto_provider();
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// GET /oauth2/authorize with `params`; returns status, Location and body.
    pub async fn authorize(
        &self,
        hub: &TestHub,
        params: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let r = self
            .client
            .get(format!("{}/oauth2/authorize", hub.url))
            .query(params)
            .send()
            .await
            .unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (r.status(), loc, r.text().await.unwrap())
    }

    /// Signs in on the hub's development form reached at `login_location`; returns the
    /// redirect back to the application.
    pub async fn sign_in(&self, hub: &TestHub, login_location: &str, email: &str) -> String {
        let url = url::Url::parse(&format!("{}{login_location}", hub.url)).unwrap();
        let request = url
            .query_pairs()
            .find(|(k, _)| k == "request")
            .unwrap()
            .1
            .to_string();
        let page = self.client.get(url.as_str()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let r = self
            .client
            .post(format!("{}/login", hub.url))
            .form(&[("request", request.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
        r.headers()["location"].to_str().unwrap().to_string()
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// A `hub serve` process on a port it picked itself (no port races), with its log kept.
pub struct HubProcess {
    _child: ChildGuard,
    addr: std::sync::mpsc::Receiver<String>,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HubProcess {
    /// Starts `hub serve` in `dir` with `env` (returns at once; see [`HubProcess::url`]).
    pub fn spawn(env: &[(String, String)], dir: &std::path::Path) -> Self {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| k == "HUB_SERVER__LISTEN") {
            env.push(("HUB_SERVER__LISTEN".into(), "127.0.0.1:0".into()));
        }
        env.push(("HUB_LOG__FORMAT".into(), "json".into()));
        env.push(("HUB_LOG__LEVEL".into(), "info".into()));
        let mut child = hub_command(&env, &["serve"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "hub listening"
                    && let Some(addr) = v["fields"]["addr"].as_str()
                {
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            _child: ChildGuard(child),
            addr: rx,
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    /// Waits until the process listens; its base URL (or a panic with its log).
    pub fn url(&self) -> String {
        match self.addr.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => panic!(
                "hub did not start; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            ),
        }
    }
}

/// A real SAML IdP (PyPI `pysaml2`, tests/peers/saml_idp.py) with its own signing key.
pub struct SamlIdp {
    _peer: NodePeer,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl SamlIdp {
    /// `users`: login -> {"pw": ..., "attrs": {"mail": [...], ...}}.
    pub fn start(users: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let peer = NodePeer::python(
            "saml_idp.py",
            &[
                ("WORKDIR", dir.path().display().to_string()),
                ("USERS", users.to_string()),
            ],
        );
        let base = peer.ready["base"].as_str().unwrap().to_string();
        Self {
            _peer: peer,
            base,
            _dir: dir,
        }
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    /// Registers a service provider by its metadata document.
    pub async fn register_sp(&self, metadata_xml: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__sp", self.base))
            .body(metadata_xml.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }

    /// Switches how the IdP signs (`{"sign_alg": "sha1"}`) or whom it names as the audience.
    pub async fn mode(&self, mode: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__mode", self.base))
            .body(mode.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// The value of a hidden `<input name=NAME value=...>` in an HTML form.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = v + tag[v..].find('"')?;
    Some(
        tag[v..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The `action` of the first form in an HTML page.
pub fn form_action(html: &str) -> Option<String> {
    let at = html.find("<form")?;
    let a = at + html[at..].find("action=\"")? + "action=\"".len();
    let end = a + html[a..].find('"')?;
    Some(html[a..end].replace("&amp;", "&"))
}

/// A real OpenLDAP slapd (tests/peers/slapd-start.sh: syncprov, ppolicy, memberof) on a free
/// loopback port, suffix
/// `dc=acme,dc=test`, rootdn `cn=admin,dc=acme,dc=test` / `secret`; stopped by PID when dropped.
pub struct Slapd {
    pub url: String,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Slapd {
    pub const SUFFIX: &'static str = "dc=acme,dc=test";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let out = Command::new("bash")
            .arg(peers_dir().join("slapd-start.sh"))
            .arg(dir.path())
            .arg(port.to_string())
            .arg(Self::SUFFIX)
            .env("SLAPD_MEMBEROF", "1")
            .output()
            .expect("slapd-start.sh (run scripts/install-peers.sh)");
        assert!(
            out.status.success(),
            "slapd did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Self {
            url: format!("ldap://127.0.0.1:{port}"),
            port,
            dir,
        };
        s.add(&format!(
            "dn: {suffix}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: acme\ndc: acme\n\n\
             dn: ou=people,{suffix}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: ou=former,{suffix}\nobjectClass: organizationalUnit\nou: former\n\n\
             dn: cn=hub-sync,{suffix}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: hub-sync\nuserPassword: syncpw\n",
            suffix = Self::SUFFIX
        ));
        s
    }

    fn tool(&self, tool: &str, ldif: &str) {
        use std::io::Write;
        let mut child = Command::new(tool)
            .args(["-x", "-H", &self.url, "-D"])
            .arg(format!("cn=admin,{}", Self::SUFFIX))
            .args(["-w", "secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool} failed: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ldapadd` of an LDIF.
    pub fn add(&self, ldif: &str) {
        self.tool("ldapadd", ldif)
    }

    /// `ldapmodify` with an LDIF of changes (modify, modrdn, delete).
    pub fn modify(&self, ldif: &str) {
        self.tool("ldapmodify", ldif)
    }

    /// The server's PID.
    pub fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("slapd.pid"))
            .ok()
            .map(|p| p.trim().to_string())
    }

    /// Stops the server (by PID).
    pub fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("slapd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real Samba AD domain controller (tests/peers/samba-ad-start.sh), realm HUB.TEST, base
/// `DC=hub,DC=test`, `Administrator@hub.test` / `Passw0rd!Admin`. Samba listens on the fixed
/// AD ports (389, 636...) of 127.0.0.1, so one runs per machine at a time. Stopped by PID.
pub struct SambaAd {
    pid: String,
    dir: tempfile::TempDir,
}

impl SambaAd {
    pub const BASE: &'static str = "DC=hub,DC=test";
    pub const ADMIN: &'static str = "Administrator@hub.test";
    pub const PASSWORD: &'static str = "Passw0rd!Admin";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(peers_dir().join("samba-ad-start.sh"))
            .arg(dir.path())
            .output()
            .expect("samba-ad-start.sh (run scripts/install-peers.sh)");
        assert!(
            out.status.success(),
            "samba did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            pid: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            dir,
        }
    }

    /// `samba-tool user ...` (or any samba-tool command) on the DC's database.
    pub fn tool(&self, args: &[&str]) {
        let db = self.dir.path().join("private/sam.ldb");
        let out = Command::new("samba-tool")
            .args(args)
            .arg("-H")
            .arg(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "samba-tool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for SambaAd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
        // Samba's fixed ports are free only once every one of its processes is gone: wait for
        // the master (which reaps its children) and then for the LDAP port, so that the next
        // test run's DC does not find them taken by a DC still shutting down.
        let gone = || {
            !Command::new("kill")
                .args(["-0", &self.pid])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        for _ in 0..1200 {
            if gone() && std::net::TcpStream::connect(("127.0.0.1", 389)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// A real SCIM 2.0 service provider (PyPI `scim2-server`, in-memory) as a downstream
/// application's provisioning endpoint, accepting one bearer token; stopped by PID when dropped.
pub struct ScimServer {
    _child: ChildGuard,
    pub url: String,
    pub token: String,
    http: reqwest::Client,
}

impl ScimServer {
    pub async fn start() -> Self {
        let bin = peers_dir().join(".venv/bin/scim2-server");
        assert!(
            bin.is_file(),
            "run scripts/install-peers.sh first (scim2-server is missing from tests/peers/.venv)"
        );
        let port = free_port();
        let token = format!("app-scim-{}", uuid::Uuid::new_v4().simple());
        let child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", &token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scim2-server");
        let s = Self {
            _child: ChildGuard(child),
            url: format!("http://127.0.0.1:{port}"),
            token,
            http: http_client(),
        };
        for _ in 0..200 {
            if let Ok(r) = s
                .http
                .get(format!("{}/ServiceProviderConfig", s.url))
                .send()
                .await
                && r.status().is_success()
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("scim2-server did not start on port {port}");
    }

    /// Provisions a user the way the application's own admin would have.
    /// Creates a user as the application would (for example at its first sign-in through the
    /// hub), with the hub's id for the person as `externalId`; returns the application's id.
    pub async fn add_user(&self, user_name: &str, external_id: &str) -> String {
        let r = self
            .http
            .post(format!("{}/Users", self.url))
            .bearer_auth(&self.token)
            .header("content-type", "application/scim+json")
            .body(
                serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name, "externalId": external_id, "active": true})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// The user's resource as the application holds it (`Null` if gone).
    pub async fn user(&self, id: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/Users/{id}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::NOT_FOUND {
            return Value::Null;
        }
        r.json().await.unwrap()
    }

    /// The ids of the members of the group named `name` (`None` if there is no such group).
    pub async fn group_members(&self, name: &str) -> Option<Vec<String>> {
        let r = self
            .http
            .get(format!("{}/Groups", self.url))
            .query(&[("filter", format!("displayName eq \"{name}\""))])
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let g = v["Resources"].as_array()?.first()?.clone();
        Some(
            g["members"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|x| x["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}

/// Polls `check` every 100 ms for up to `secs`; the first `Some` it returns.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
