//! Time-to-deprovision benchmark: leavers signed in to 10 downstream applications (each with its
//! own back-channel logout receiver on loopback) are deactivated over SCIM in Entra ID's form.
//! Measured per leaver from the moment the PATCH is sent: until its answer (the local
//! revocation: sessions ended, refresh tokens revoked, access tokens off, deliveries queued, in
//! one committed transaction) and until the last of its 10 logout tokens arrived. Once one
//! leaver after another, once as a burst (a mass layoff) from concurrent SCIM clients.

use anyhow::{Context, Result, bail};
use axum::extract::State;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Stats;
use hub::ids::{AppId, UserId};
use hub::secrets::{hash_token, random_token};
use hub::sessions::model::Session;
use hub::state::AppState;
use hub::storage;

pub(crate) struct DeprovisionBench {
    pub receivers: usize,
    pub sequential: usize,
    pub burst: usize,
    pub seq_local: Stats,
    pub seq_all: Stats,
    pub burst_local: Stats,
    pub burst_all: Stats,
    pub burst_wall: Duration,
}

/// Arrival times of logout tokens, by subject.
#[derive(Clone, Default)]
pub(crate) struct Arrivals {
    by_sub: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
    notify: Arc<tokio::sync::Notify>,
}

pub(crate) async fn receive(State(a): State<Arrivals>, body: String) -> axum::http::StatusCode {
    let at = Instant::now();
    let sub = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .and_then(|(_, t)| t.split('.').nth(1).map(str::to_string))
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| c["sub"].as_str().map(str::to_string));
    let Some(sub) = sub else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    if let Ok(mut m) = a.by_sub.lock() {
        m.entry(sub).or_default().push(at);
    }
    a.notify.notify_waiters();
    axum::http::StatusCode::OK
}

impl Arrivals {
    /// How many logout tokens arrived in all.
    pub(crate) fn count(&self) -> usize {
        self.by_sub
            .lock()
            .map(|m| m.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    /// The last of `n` arrivals for `sub`, waiting up to 60 s.
    async fn last_of(&self, sub: &str, n: usize) -> Result<Instant> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let notified = self.notify.notified();
            if let Some(v) = self
                .by_sub
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .get(sub)
                .filter(|v| v.len() >= n)
            {
                return v.iter().max().copied().context("arrivals");
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                bail!("the logout tokens for {sub} did not all arrive within 60 s");
            }
        }
    }
}

pub(crate) async fn run(
    state: &AppState,
    base_url: &str,
    operator_key: &str,
    leavers: usize,
    receivers: usize,
    workers: usize,
    replicas: &[String],
) -> Result<DeprovisionBench> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let admin = |path: &str, body: Value| {
        http.post(format!("{base_url}{path}"))
            .bearer_auth(operator_key)
            .json(&body)
            .send()
    };
    admin("/api/v1/orgs", json!({"slug": "deprov", "name": "Deprov"}))
        .await?
        .error_for_status()?;
    admin(
        "/api/v1/orgs/deprov/domains",
        json!({"domain": "deprov-bench.test"}),
    )
    .await?
    .error_for_status()?;
    admin(
        "/api/v1/orgs/deprov/domains/deprov-bench.test/attest",
        json!({"reason": "benchmark"}),
    )
    .await?
    .error_for_status()?;
    let arrivals = Arrivals::default();
    let mut apps: Vec<AppId> = Vec::new();
    for i in 0..receivers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/bcl", axum::routing::post(receive))
            .with_state(arrivals.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let created: Value = admin(
            "/api/v1/orgs/deprov/applications",
            json!({"name": format!("App {i}"), "client_type": "confidential",
                "redirect_uris": [format!("https://app{i}.deprov-bench.test/cb")],
                "backchannel_logout_uri": format!("http://{addr}/bcl")}),
        )
        .await?
        .error_for_status()?
        .json()
        .await?;
        apps.push(
            created["application"]["id"]
                .as_str()
                .context("app id")?
                .parse()?,
        );
    }
    let dir: Value = admin(
        "/api/v1/orgs/deprov/directories",
        json!({"name": "Entra", "kind": "scim"}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let scim_base = dir["scim_base_url"].as_str().context("base")?.to_string();
    // The deactivations go to each replica in turn (the SCIM base on each).
    let scim_bases: Vec<String> = if replicas.is_empty() {
        vec![scim_base.clone()]
    } else {
        replicas
            .iter()
            .map(|r| format!("{r}/scim/v2/deprov"))
            .collect()
    };
    let create_base = scim_bases[0].clone();
    let tok: Value = admin(
        &format!(
            "/api/v1/orgs/deprov/directories/{}/scim-tokens",
            dir["id"].as_str().context("id")?
        ),
        json!({"name": "bench"}),
    )
    .await?
    .error_for_status()?
    .json()
    .await?;
    let token = tok["secret"].as_str().context("token")?.to_string();
    let org = storage::organizations::find_by_slug(state.store.conn(), "deprov")
        .await?
        .context("org")?;

    // The people, each signed in to every application (a hub session that reached them all).
    let total = leavers * 2;
    let mut users = Vec::with_capacity(total);
    for i in 0..total {
        let r: Value = http
            .post(format!("{create_base}/Users"))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("leaver{i:05}@deprov-bench.test"), "active": true,
                    "emails": [{"primary": true, "value": format!("leaver{i:05}@deprov-bench.test")}]})
                .to_string(),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        users.push(r["id"].as_str().context("user id")?.to_string());
    }
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    for u in &users {
        let user: UserId = u.parse()?;
        let session = Session {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: org.id,
            user_id: user,
            auth_time: now,
            created_at: now,
            expires_at: now + 3_600_000,
            ended_at: None,
        };
        storage::oidc::insert_session(tx.conn(), &session, &hash_token(&random_token()?)).await?;
        for app in &apps {
            storage::oidc::add_session_app(tx.conn(), org.id, &session.id, *app, now).await?;
        }
    }
    tx.commit().await?;

    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deactivate = {
        let (http, scim_bases, token, turn) = (
            http.clone(),
            Arc::new(scim_bases),
            token.clone(),
            turn.clone(),
        );
        move |id: String| {
            let k = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let scim_base = scim_bases[k % scim_bases.len()].clone();
            let (http, token) = (http.clone(), token.clone());
            async move {
                let r = http
                    .patch(format!("{scim_base}/Users/{id}"))
                    .bearer_auth(&token)
                    .header("content-type", "application/scim+json")
                    .body(
                        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
                        .to_string(),
                    )
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("SCIM PATCH answered {}", r.status());
                }
                Ok::<_, anyhow::Error>(())
            }
        }
    };
    let (seq_users, burst_users) = users.split_at(leavers);
    let mut local = Vec::new();
    let mut all = Vec::new();
    for u in seq_users {
        let t0 = Instant::now();
        deactivate(u.clone()).await?;
        local.push(t0.elapsed());
        let last = arrivals.last_of(u, receivers).await?;
        all.push(last.saturating_duration_since(t0));
    }
    let seq_wall: Duration = all.iter().sum();
    let seq_local = Stats::from(local, seq_wall);
    let seq_all = Stats::from(all, seq_wall);

    // The burst: every remaining leaver at once, from `workers` concurrent clients.
    let started: Arc<Mutex<HashMap<String, (Instant, Duration)>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let burst_users: Arc<Vec<String>> = Arc::new(burst_users.to_vec());
    let t_burst = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers.max(1) {
        let (next, burst_users, started, deactivate) = (
            next.clone(),
            burst_users.clone(),
            started.clone(),
            deactivate.clone(),
        );
        handles.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(u) = burst_users.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let t0 = Instant::now();
                deactivate(u.clone()).await?;
                started
                    .lock()
                    .map_err(|_| anyhow::anyhow!("lock"))?
                    .insert(u.clone(), (t0, t0.elapsed()));
            }
        }));
    }
    for h in handles {
        h.await??;
    }
    let mut local = Vec::new();
    let mut all = Vec::new();
    let mut last_overall = t_burst;
    let starts = started.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
    for (u, (t0, l)) in &starts {
        local.push(*l);
        let last = arrivals.last_of(u, receivers).await?;
        last_overall = last_overall.max(last);
        all.push(last.saturating_duration_since(*t0));
    }
    let burst_wall = last_overall.saturating_duration_since(t_burst);
    Ok(DeprovisionBench {
        receivers,
        sequential: seq_users.len(),
        burst: burst_users.len(),
        seq_local,
        seq_all,
        burst_local: Stats::from(local, burst_wall),
        burst_all: Stats::from(all, burst_wall),
        burst_wall,
    })
}
