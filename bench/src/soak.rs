//! Soak: two `hub serve` replicas on one PostgreSQL under a mixed load for a bounded time, on
//! loopback only. Concurrent clients sign people in (the development sign-in and the code
//! exchange), refresh their tokens, push SCIM changes (creates, deactivations that make leavers
//! and send back-channel logouts, reactivations) and change a real slapd directory that the
//! replicas' schedulers sync every few seconds. Every request's answer is checked; the
//! replicas' memory is sampled; the audit chain is verified at the end.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Stats;
use super::deprovision::{Arrivals, receive};
use hub::deprovision::DeliveryStatus;

pub(crate) struct SoakResult {
    pub secs: u64,
    pub ops: BTreeMap<&'static str, (Stats, usize)>,
    pub errors: Vec<String>,
    /// (seconds since start, RSS KiB of each replica).
    pub rss: Vec<(u64, Vec<u64>)>,
    pub syncs: BTreeMap<String, usize>,
    pub deliveries: BTreeMap<String, usize>,
    pub logouts_received: usize,
    pub audit_events: i64,
}

#[derive(Default)]
struct Log {
    samples: BTreeMap<&'static str, Vec<Duration>>,
    errors: Vec<String>,
}

impl Log {
    fn record(&mut self, op: &'static str, t: Duration, r: Result<()>) {
        match r {
            Ok(()) => self.samples.entry(op).or_default().push(t),
            Err(e) => {
                self.samples.entry(op).or_default();
                if self.errors.len() < 50 {
                    self.errors.push(format!("{op}: {e:#}"));
                } else {
                    self.errors.push(String::new());
                }
            }
        }
    }
}

struct Ctx {
    replicas: Vec<String>,
    key: String,
    scim: Vec<String>,
    scim_token: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    /// SCIM user ids and emails of people who sign in and refresh; and of people who leave and
    /// come back (kept apart, so no refusal is a race of the load itself).
    people: Mutex<Vec<(String, String)>>,
    churn: Mutex<Vec<(String, String)>>,
    refresh: Mutex<Vec<String>>,
}

const REDIRECT: &str = "https://soak.example/cb";

async fn ok(r: reqwest::Response, what: &str) -> Result<Value> {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "{what} answered {status}: {}",
            body.chars().take(200).collect::<String>()
        );
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

impl Ctx {
    fn replica(&self, i: usize) -> &str {
        &self.replicas[i % self.replicas.len()]
    }

    async fn scim_create(&self, i: usize) -> Result<()> {
        let name = format!("soak{i:07}@soak.test");
        let v = ok(
            self.http
                .post(format!("{}/Users", self.scim[i % self.scim.len()]))
                .bearer_auth(&self.scim_token)
                .header("content-type", "application/scim+json")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": name, "active": true,
                        "emails": [{"primary": true, "value": name}]})
                    .to_string(),
                )
                .send()
                .await?,
            "SCIM create",
        )
        .await?;
        let id = v["id"].as_str().context("id")?.to_string();
        let pool = if i.is_multiple_of(2) {
            &self.people
        } else {
            &self.churn
        };
        pool.lock()
            .map_err(|_| anyhow::anyhow!("lock"))?
            .push((id, name));
        Ok(())
    }

    async fn scim_active(&self, i: usize, id: &str, active: bool) -> Result<()> {
        ok(
            self.http
                .patch(format!("{}/Users/{id}", self.scim[i % self.scim.len()]))
                .bearer_auth(&self.scim_token)
                .header("content-type", "application/scim+json")
                .body(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "Replace", "path": "active",
                            "value": if active { "True" } else { "False" }}]})
                    .to_string(),
                )
                .send()
                .await?,
            "SCIM PATCH",
        )
        .await?;
        Ok(())
    }

    async fn login(&self, i: usize, email: &str, keep: bool) -> Result<()> {
        let base = self.replica(i);
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let verifier = hub::secrets::random_token()?;
        let challenge = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                verifier.as_bytes(),
            ))
        };
        let r = browser
            .get(format!("{base}/oauth2/authorize"))
            .query(&[
                ("client_id", self.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid email offline_access"),
                ("state", "s"),
                ("nonce", "n"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await?;
        let login = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("authorize: no redirect to the sign-in")?
            .to_string();
        let request = url::Url::parse(&format!("{base}{login}"))?
            .query_pairs()
            .find(|(k, _)| k == "request")
            .map(|(_, v)| v.to_string())
            .context("no request id")?;
        let r = browser
            .post(format!("{base}/login"))
            .form(&[("request", request.as_str()), ("email", email)])
            .send()
            .await?;
        let back = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .with_context(|| format!("sign-in answered {}", r.status()))?
            .to_string();
        let code = url::Url::parse(&back)?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.to_string())
            .context("no code")?;
        let t = ok(
            self.http
                .post(format!("{}/oauth2/token", self.replica(i + 1)))
                .basic_auth(&self.client_id, Some(&self.client_secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await?,
            "code exchange",
        )
        .await?;
        let rt = t["refresh_token"].as_str().context("refresh token")?;
        if keep {
            self.refresh
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .push(rt.to_string());
        }
        Ok(())
    }

    async fn refresh_one(&self, i: usize) -> Result<bool> {
        let Some(rt) = self
            .refresh
            .lock()
            .map_err(|_| anyhow::anyhow!("lock"))?
            .pop()
        else {
            return Ok(false);
        };
        let r = self
            .http
            .post(format!("{}/oauth2/token", self.replica(i)))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
            .await?;
        let status = r.status();
        let t: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("refresh answered {status}: {t}");
        }
        let rt = t["refresh_token"]
            .as_str()
            .context("rotated refresh token")?;
        self.refresh
            .lock()
            .map_err(|_| anyhow::anyhow!("lock"))?
            .push(rt.to_string());
        Ok(true)
    }
}

pub(crate) async fn run(db_url: &str, secs: u64, workers: usize) -> Result<SoakResult> {
    let scripts = super::ldap::peers_scripts().context("tests/peers/slapd-start.sh not found")?;
    eprintln!("== soak: 2 replicas on PostgreSQL, {secs} s of mixed load");
    let slapd = super::ldap::Slapd::start(&scripts, 500, 5)?;
    let key = super::base64_key()?;
    let env = [
        ("HUB_OUTBOUND__ALLOW_LOOPBACK", "true"),
        ("HUB_OIDC__DEV_LOGIN", "true"),
        ("HUB_JOBS__SCHEDULER_TICK_SECS", "1"),
        ("HUB_JOBS__LEASE_SECS", "10"),
    ];
    let (r1, u1) = super::spawn_serve(db_url, &key, &env)?;
    let (r2, u2) = super::spawn_serve(db_url, &key, &env)?;
    let pids = [r1.id(), r2.id()];
    let operator = super::operator_key(db_url).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let admin = |path: &str, body: Value| {
        http.post(format!("{u1}{path}"))
            .bearer_auth(&operator)
            .json(&body)
            .send()
    };
    for (slug, domain) in [("soak", "soak.test"), ("soakldap", "ldap-bench.test")] {
        ok(
            admin("/api/v1/orgs", json!({"slug": slug, "name": slug})).await?,
            "org",
        )
        .await?;
        ok(
            admin(
                &format!("/api/v1/orgs/{slug}/domains"),
                json!({"domain": domain}),
            )
            .await?,
            "domain",
        )
        .await?;
        ok(
            admin(
                &format!("/api/v1/orgs/{slug}/domains/{domain}/attest"),
                json!({"reason": "soak"}),
            )
            .await?,
            "attest",
        )
        .await?;
    }
    let arrivals = Arrivals::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let recv = axum::Router::new()
        .route("/bcl", axum::routing::post(receive))
        .with_state(arrivals.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, recv).await;
    });
    let app = ok(
        admin(
            "/api/v1/orgs/soak/applications",
            json!({"name": "Soak app", "client_type": "confidential", "redirect_uris": [REDIRECT],
                "backchannel_logout_uri": format!("http://{addr}/bcl")}),
        )
        .await?,
        "application",
    )
    .await?;
    let dir = ok(
        admin(
            "/api/v1/orgs/soak/directories",
            json!({"name": "Entra", "kind": "scim"}),
        )
        .await?,
        "directory",
    )
    .await?;
    let tok = ok(
        admin(
            &format!(
                "/api/v1/orgs/soak/directories/{}/scim-tokens",
                dir["id"].as_str().context("id")?
            ),
            json!({"name": "soak"}),
        )
        .await?,
        "token",
    )
    .await?;
    ok(
        admin(
            "/api/v1/orgs/soakldap/directories",
            json!({"name": "LDAP", "kind": "ldap", "bind_password": "syncpw",
                "ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", super::ldap::SUFFIX),
                    "base_dn": super::ldap::SUFFIX, "mode": "incremental",
                    "schedule": {"full_interval_secs": 20, "incremental_interval_secs": 3}}}),
        )
        .await?,
        "ldap directory",
    )
    .await?;
    let ctx = Arc::new(Ctx {
        replicas: vec![u1.clone(), u2.clone()],
        key: operator.clone(),
        scim: vec![format!("{u1}/scim/v2/soak"), format!("{u2}/scim/v2/soak")],
        scim_token: tok["secret"].as_str().context("secret")?.to_string(),
        client_id: app["application"]["client_id"]
            .as_str()
            .context("client id")?
            .to_string(),
        client_secret: app["client_secret"].as_str().context("secret")?.to_string(),
        http: http.clone(),
        people: Mutex::new(Vec::new()),
        churn: Mutex::new(Vec::new()),
        refresh: Mutex::new(Vec::new()),
    });
    for i in 0..20 {
        ctx.scim_create(i).await?;
    }
    let log = Arc::new(Mutex::new(Log::default()));
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(100));
    let mut tasks = Vec::new();
    for w in 0..workers.max(1) {
        let (ctx, log, counter) = (ctx.clone(), log.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = w;
            while Instant::now() < until {
                k += 1;
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let t = Instant::now();
                let (op, r): (&'static str, Result<()>) = match k % 6 {
                    0 | 3 => {
                        let who = ctx
                            .people
                            .lock()
                            .ok()
                            .and_then(|p| p.get(n % p.len().max(1)).cloned());
                        match who {
                            Some((_, email)) => ("sign-in", ctx.login(n, &email, true).await),
                            None => continue,
                        }
                    }
                    1 | 4 => ("refresh", ctx.refresh_one(n).await.map(|_| ())),
                    2 => ("SCIM create", ctx.scim_create(n).await),
                    _ => {
                        // A person signs in, leaves (a back-channel logout to deliver), and is
                        // rehired; taken out of the pool meanwhile, so no other client uses
                        // them while they are away.
                        let who = ctx.churn.lock().ok().and_then(|mut p| {
                            (!p.is_empty()).then(|| {
                                let i = n % p.len();
                                p.swap_remove(i)
                            })
                        });
                        match who {
                            Some((id, email)) => {
                                let r = async {
                                    ctx.login(n, &email, false).await?;
                                    ctx.scim_active(n, &id, false).await?;
                                    ctx.scim_active(n + 1, &id, true).await
                                }
                                .await;
                                if let Ok(mut p) = ctx.churn.lock() {
                                    p.push((id, email));
                                }
                                ("sign-in, SCIM leave, rehire", r)
                            }
                            None => continue,
                        }
                    }
                };
                if let Ok(mut l) = log.lock() {
                    l.record(op, t.elapsed(), r);
                }
            }
        }));
    }
    // The directory changes while the schedulers sync it; memory is sampled.
    let mut rss = Vec::new();
    let mut round = 0usize;
    while Instant::now() < until {
        let (a, _) = super::ldap::memory(pids[0]);
        let (b, _) = super::ldap::memory(pids[1]);
        rss.push((start.elapsed().as_secs(), vec![a, b]));
        round += 1;
        let i = (round * 37) % 500;
        let t = Instant::now();
        let r = slapd.modify(&format!(
            "dn: uid=u{i:06},ou=people,{}\nchangetype: modify\nreplace: cn\ncn: Soaked {round}\n\n",
            super::ldap::SUFFIX
        ));
        if let Ok(mut l) = log.lock() {
            l.record("LDAP change", t.elapsed(), r);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    for t in tasks {
        t.await?;
    }
    let wall = start.elapsed();
    // Let the last deliveries and syncs finish, then read what the hub says.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (a, _) = super::ldap::memory(pids[0]);
    let (b, _) = super::ldap::memory(pids[1]);
    rss.push((start.elapsed().as_secs(), vec![a, b]));
    let get = |path: String| {
        let http = http.clone();
        let (u1, key) = (u1.clone(), ctx.key.clone());
        async move {
            ok(
                http.get(format!("{u1}{path}"))
                    .bearer_auth(key)
                    .send()
                    .await?,
                "read",
            )
            .await
        }
    };
    let dirs = get("/api/v1/orgs/soakldap/directories".into()).await?;
    let dir_id = dirs[0]["id"].as_str().context("ldap dir")?.to_string();
    let runs = get(format!("/api/v1/orgs/soakldap/directories/{dir_id}/syncs")).await?;
    let mut syncs = BTreeMap::new();
    for r in runs.as_array().into_iter().flatten() {
        let k = format!(
            "{} {}",
            r["mode"].as_str().unwrap_or("?"),
            r["status"].as_str().unwrap_or("?")
        );
        *syncs.entry(k).or_insert(0) += 1;
    }
    drop((r1, r2));
    let store = hub::storage::Store::connect_url(db_url).await?;
    // Counted in the database: the API's listing pages stop at 1000.
    let mut deliveries = BTreeMap::new();
    for status in [
        DeliveryStatus::Delivered,
        DeliveryStatus::Pending,
        DeliveryStatus::Dead,
        DeliveryStatus::Skipped,
    ] {
        let n = hub::storage::outbox::total_with(store.conn(), status).await?;
        deliveries.insert(status.as_str().to_string(), n as usize);
    }
    let verify = hub::audit::verify_chain(&store, None, &Default::default()).await?;
    store.close().await?;
    let mut log = Arc::try_unwrap(log)
        .map_err(|_| anyhow::anyhow!("workers still hold the log"))?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("lock"))?;
    if !verify.ok() {
        log.errors
            .push(format!("audit chain: {:?}", verify.problem));
    }
    let ops = std::mem::take(&mut log.samples)
        .into_iter()
        .map(|(op, v)| {
            let n = v.len();
            (op, (Stats::from(v, wall), n))
        })
        .collect();
    Ok(SoakResult {
        secs,
        ops,
        errors: log.errors,
        rss,
        syncs,
        deliveries,
        logouts_received: arrivals.count(),
        audit_events: verify.events as i64,
    })
}
