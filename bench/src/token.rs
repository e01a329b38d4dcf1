//! Token endpoint benchmark: authorization-code-for-token exchanges (code + PKCE S256,
//! client_secret_basic, an ES256 ID token and a JWT access token each), over kept-alive HTTP, on
//! the hub and, side by side in the same run, on npm `oidc-provider` doing the same flow. Codes
//! are minted before the clock starts: only the exchange is measured.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Stats, timed_conc, timed_seq};
use hub::ids::UserId;
use hub::secrets::{hash_token, random_token};
use hub::sessions::model::{Code, Session};
use hub::state::AppState;
use hub::storage;

pub(crate) struct TokenResult {
    pub seq: Stats,
    pub conc: Stats,
    /// Concurrent exchanges per CPU-second of the server process alone (the load client's
    /// CPU excluded): the fair "per vCPU" figure on a machine the client shares.
    pub per_cpu_second: Option<f64>,
}

/// CPU time (user + system) a process has used, from /proc (Linux, 100 ticks per second).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The exchange requests of one target.
#[derive(Clone)]
struct Target {
    /// One URL per server; exchange `i` goes to `token_urls[i % len]`.
    token_urls: Arc<Vec<String>>,
    client_id: String,
    secret: String,
    redirect_uri: String,
    codes: Arc<Vec<(String, String)>>,
}

impl Target {
    async fn exchange(&self, client: &reqwest::Client, i: usize) -> Result<()> {
        let (code, verifier) = self.codes.get(i).context("ran out of codes")?;
        let url = &self.token_urls[i % self.token_urls.len().max(1)];
        let r = client
            .post(url)
            .basic_auth(&self.client_id, Some(&self.secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", self.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "token endpoint answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
        }
        let body: Value = r.json().await?;
        if body["id_token"].as_str().is_none() || body["access_token"].as_str().is_none() {
            bail!("no tokens in {body}");
        }
        Ok(())
    }

    async fn run(
        &self,
        client: &reqwest::Client,
        n_seq: usize,
        n_conc: usize,
        workers: usize,
        server_pids: &[u32],
    ) -> Result<TokenResult> {
        let cpu = |pids: &[u32]| -> Option<f64> { pids.iter().map(|p| cpu_seconds(*p)).sum() };
        let seq = timed_seq(n_seq, {
            let mut i = 0;
            move || {
                let idx = i;
                i += 1;
                let (me, client) = (self.clone(), client.clone());
                async move { me.exchange(&client, idx).await }
            }
        })
        .await?;
        let (me, client) = (self.clone(), client.clone());
        let cpu_before = cpu(server_pids);
        let conc = timed_conc(n_conc, workers, move |i| {
            let (me, client) = (me.clone(), client.clone());
            async move { me.exchange(&client, n_seq + i).await }
        })
        .await?;
        let per_cpu_second = match (cpu_before, cpu(server_pids)) {
            (Some(a), Some(b)) if b > a => Some(n_conc as f64 / (b - a)),
            _ => None,
        };
        Ok(TokenResult {
            seq,
            conc,
            per_cpu_second,
        })
    }
}

/// Mints `n` codes for a fresh user and session of the `bench` organization, then exchanges
/// them against `replicas` `hub serve` processes on the same database (round robin).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn hub(
    state: &AppState,
    base_url: &str,
    operator_key: &str,
    n_seq: usize,
    n_conc: usize,
    workers: usize,
    replicas: usize,
) -> Result<TokenResult> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base_url}{path}"))
            .bearer_auth(operator_key)
            .json(&body)
            .send()
    };
    post(
        "/api/v1/orgs/bench/domains",
        json!({"domain": "bench.test"}),
    )
    .await?
    .error_for_status()?;
    post(
        "/api/v1/orgs/bench/domains/bench.test/attest",
        json!({"reason": "benchmark"}),
    )
    .await?
    .error_for_status()?;
    let user: Value = post(
        "/api/v1/orgs/bench/users",
        json!({"email": "alice@bench.test", "name": "Alice"}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let redirect_uri = "https://app.bench.test/cb".to_string();
    let app: Value = post(
        "/api/v1/orgs/bench/applications",
        json!({
        "name": "Token bench", "client_type": "confidential", "redirect_uris": [redirect_uri]}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let client_id = app["application"]["client_id"]
        .as_str()
        .context("client id")?
        .to_string();
    let secret = app["client_secret"].as_str().context("secret")?.to_string();
    let app_id = app["application"]["id"]
        .as_str()
        .context("app id")?
        .parse()?;
    let user_id: UserId = user["id"].as_str().context("user id")?.parse()?;
    let org = storage::organizations::find_by_slug(state.store.conn(), "bench")
        .await?
        .context("org")?;

    let now = state.clock.now_ms();
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id,
        user_id,
        auth_time: now,
        created_at: now,
        expires_at: now + 3_600_000,
        ended_at: None,
    };
    let verifier = random_token()?;
    let challenge = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            verifier.as_bytes(),
        ))
    };
    let mut codes = Vec::with_capacity(n_seq + n_conc);
    let tx = state.store.begin().await?;
    storage::oidc::insert_session(tx.conn(), &session, &hash_token(&random_token()?)).await?;
    for _ in 0..n_seq + n_conc + replicas {
        let code = random_token()?;
        storage::oidc::insert_code(
            tx.conn(),
            &Code {
                code_hash: hash_token(&code),
                org_id: org.id,
                app_id,
                grant_id: uuid::Uuid::now_v7().to_string(),
                user_id,
                session_id: session.id.clone(),
                redirect_uri: redirect_uri.clone(),
                scope: vec!["openid".into(), "email".into()],
                nonce: Some("n".into()),
                code_challenge: Some(challenge.clone()),
                auth_time: now,
                created_at: now,
                expires_at: now + 3_600_000,
                used_at: None,
            },
        )
        .await?;
        codes.push((code, verifier.clone()));
    }
    storage::oidc::add_session_app(tx.conn(), org.id, &session.id, app_id, now).await?;
    tx.commit().await?;

    // The exchanges go to a separate `hub serve` process on the same database, so that its CPU
    // time can be told from the load client's, as for oidc-provider.
    let mut servers = Vec::new();
    for _ in 0..replicas.max(1) {
        servers.push(spawn_hub(state)?);
    }
    let pids: Vec<u32> = servers.iter().map(|(s, _)| s.id()).collect();
    let target = Target {
        token_urls: Arc::new(
            servers
                .iter()
                .map(|(_, u)| format!("{u}/oauth2/token"))
                .collect(),
        ),
        client_id,
        secret,
        redirect_uri,
        codes: Arc::new(codes),
    };
    // Warm the connection pools and the signing key caches.
    for i in 0..pids.len() {
        target.exchange(&client, i).await?;
    }
    let target = Target {
        codes: Arc::new(target.codes[pids.len()..].to_vec()),
        ..target
    };
    let result = target
        .run(&client, n_seq - pids.len(), n_conc, workers, &pids)
        .await;
    drop(servers);
    result
}

/// Starts `hub serve` (this executable) on the benchmark's database; returns it and its URL.
fn spawn_hub(state: &AppState) -> Result<(super::Server, String)> {
    let cfg = &state.config;
    let key = cfg
        .secrets
        .key
        .as_ref()
        .context("the benchmark sets secrets.key")?;
    super::spawn_serve(cfg.database.url.expose(), key.expose(), &[])
}

/// Where the npm peers are installed, if they are.
pub(crate) fn peers_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var("HUB_BENCH_PEERS").ok().map(PathBuf::from),
        Some(PathBuf::from("tests/peers")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("node_modules/oidc-provider").is_dir() && d.join("op-bench.mjs").is_file())
}

/// Kills the node process when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `oidc-provider` (op-bench.mjs), lets it mint codes, and exchanges them.
pub(crate) async fn oidc_provider(
    dir: &Path,
    n_seq: usize,
    n_conc: usize,
    workers: usize,
) -> Result<TokenResult> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new("node")
        .arg("op-bench.mjs")
        .current_dir(dir)
        .env("PORT", port.to_string())
        .env("N", (n_seq + n_conc + 1).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting node op-bench.mjs")?;
    let stdout = child.stdout.take().context("stdout")?;
    let child = Child(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(600), line)
        .await
        .context("oidc-provider minting codes")???;
    let ready: Value = serde_json::from_str(&line).context("op-bench output")?;
    let codes = ready["codes"]
        .as_array()
        .context("codes")?
        .iter()
        .filter_map(|c| {
            Some((
                c["code"].as_str()?.to_string(),
                c["verifier"].as_str()?.to_string(),
            ))
        })
        .collect::<Vec<_>>();
    let target = Target {
        token_urls: Arc::new(vec![format!(
            "{}/token",
            ready["issuer"].as_str().context("issuer")?
        )]),
        client_id: ready["client_id"].as_str().context("client")?.to_string(),
        secret: ready["client_secret"]
            .as_str()
            .context("secret")?
            .to_string(),
        redirect_uri: ready["redirect_uri"]
            .as_str()
            .context("redirect")?
            .to_string(),
        codes: Arc::new(codes),
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    target.exchange(&client, 0).await?;
    let target = Target {
        codes: Arc::new(target.codes[1..].to_vec()),
        ..target
    };
    let result = target
        .run(&client, n_seq - 1, n_conc, workers, &[child.0.id()])
        .await;
    drop(child);
    result
}

/// ES256 signatures per second on one core, with ring: the ceiling each exchange (two
/// signatures) is compared with.
pub(crate) fn raw_es256_per_sec() -> Result<f64> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow::anyhow!("keygen"))?;
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| anyhow::anyhow!("key"))?;
    let msg = [7u8; 300];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            key.sign(&rng, &msg).map_err(|_| anyhow::anyhow!("sign"))?;
        }
        n += 100;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
