//! Crash safety, with the hub as a real process killed with SIGKILL: once while deliveries are
//! in flight (a receiver that answers slowly) and once in the middle of a directory sync. After
//! a restart every delivery reaches its receiver exactly once once duplicates are dropped by
//! their idempotency key (at least once on the wire), the sync completes with no user lost or
//! duplicated, and the audit log verifies.

use hub_e2e::{
    HubProcess, NodePeer, Slapd, TestDb, eventually, free_port, hub_command, random_key, wait_ready,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use crate::ldap::person;

struct Api {
    url: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }
}

async fn start(env: &[(String, String)], dir: &std::path::Path, key: &str) -> (HubProcess, Api) {
    let p = HubProcess::spawn(env, dir);
    let url = p.url();
    wait_ready(&format!("{url}/readyz"), 30).await.unwrap();
    let api = Api {
        url,
        key: key.to_string(),
        http: hub_e2e::http_client(),
    };
    (p, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_delivery_and_mid_sync_loses_nothing_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("HUB_DATABASE__URL", db.url.as_str()),
        ("HUB_SECRETS__KEY", &random_key()),
        ("HUB_OUTBOUND__ALLOW_LOOPBACK", "true"),
        ("HUB_OUTBOX__BACKOFF_BASE_MS", "200"),
        ("HUB_OUTBOX__BACKOFF_MAX_SECS", "1"),
        ("HUB_OUTBOX__MAX_ATTEMPTS", "100"),
        ("HUB_OUTBOX__TIMEOUT_SECS", "2"),
        ("HUB_OUTBOX__CLAIM_SECS", "3"),
        ("HUB_OUTBOX__PER_APP_CONCURRENCY", "4"),
        ("HUB_JOBS__LEASE_SECS", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = hub_command(&env, &["migrate"]).output().unwrap();
    assert!(out.status.success());
    let out = hub_command(&env, &["operator", "create-key", "--name", "crash-test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (first, api) = start(&env, dir.path(), &key).await;
    api.post("/api/v1/orgs", json!({"slug": "acme", "name": "Acme"}))
        .await;
    api.post("/api/v1/orgs/acme/domains", json!({"domain": "acme.test"}))
        .await;
    let (s, _) = api
        .post(
            "/api/v1/orgs/acme/domains/acme.test/attest",
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let port = free_port();
    let (s, app) = api
        .post(
            "/api/v1/orgs/acme/applications",
            json!({"name": "Extranet", "client_type": "confidential",
                "redirect_uris": ["https://extranet.example/cb"],
                "webhook": {"url": format!("http://127.0.0.1:{port}/hook/extranet")}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let secret = app["application"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let mut users = Vec::new();
    for i in 0..30 {
        let (s, u) = api
            .post(
                "/api/v1/orgs/acme/users",
                json!({"email": format!("p{i:02}@acme.test"), "name": format!("Person {i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        users.push(u["id"].as_str().unwrap().to_string());
    }
    // A receiver that takes each request, then answers 300 ms later.
    let receiver = NodePeer::start(
        "downstream.mjs",
        &[
            ("PORT", port.to_string()),
            ("ISSUER", api.url.clone()),
            ("SECRETS", json!({"extranet": secret}).to_string()),
            ("SLOW_MS", "300".into()),
        ],
    );
    for u in &users {
        let (s, r) = api
            .post(
                &format!("/api/v1/orgs/acme/users/{u}/deprovision"),
                json!({"reason": "left"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let mut lines = tokio::task::block_in_place(|| receiver.take(6, 30));
    assert_eq!(lines.len(), 6);
    // SIGKILL, with deliveries answered, in flight and waiting.
    drop(first);
    let (_second, api) = start(&env, dir.path(), &key).await;
    let mut distinct: BTreeMap<String, Value> = BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        for l in lines.drain(..) {
            assert_eq!(l["valid"], true, "{l}");
            distinct
                .entry(l["key"].as_str().unwrap().to_string())
                .or_insert(l);
        }
        if distinct.len() >= 30 || std::time::Instant::now() > deadline {
            break;
        }
        lines = tokio::task::block_in_place(|| receiver.take(1, 5));
    }
    assert_eq!(distinct.len(), 30, "every delivery arrives");
    let people: BTreeSet<String> = distinct
        .values()
        .map(|l| l["data"]["user"]["sub"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        people,
        users.iter().cloned().collect(),
        "one event per leaver"
    );
    // Nothing arrives after that but duplicates of what arrived.
    for l in tokio::task::block_in_place(|| receiver.take(10, 2)) {
        assert!(distinct.contains_key(l["key"].as_str().unwrap()), "{l}");
        assert_eq!(l["dup"], true, "{l}");
    }
    let done = eventually(30, || async {
        let d = api
            .get("/api/v1/orgs/acme/deliveries?status=delivered&limit=1000")
            .await;
        (d.as_array().unwrap().len() == 30).then_some(())
    })
    .await;
    assert!(done.is_some(), "the hub records every delivery once");
    let leavers = api.get("/api/v1/orgs/acme/leavers?limit=1000").await;
    assert_eq!(leavers.as_array().unwrap().len(), 30);

    // The middle of a sync: 4000 people in the directory; SIGKILL once some are written.
    let slapd = Slapd::start();
    let ldif: String = (0..4000)
        .map(|i| {
            person(
                &format!("l{i:04}"),
                &format!("Ldap {i}"),
                Some(&format!("l{i:04}@acme.test")),
                None,
            )
        })
        .collect();
    slapd.add(&ldif);
    let (s, d) = api
        .post(
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": "syncpw",
                "ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
                         "base_dn": Slapd::SUFFIX, "schedule": {"enabled": false}}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let dir_id = d["id"].as_str().unwrap().to_string();
    let sync_path = format!("/api/v1/orgs/acme/directories/{dir_id}/sync");
    let started = {
        let (url, key, path) = (api.url.clone(), key.clone(), sync_path.clone());
        tokio::spawn(async move {
            let _ = hub_e2e::http_client()
                .post(format!("{url}{path}"))
                .bearer_auth(key)
                .send()
                .await;
        })
    };
    let ldap_users = || async {
        api.get("/api/v1/orgs/acme/users")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["email"].as_str().is_some_and(|e| e.starts_with('l')))
            .count()
    };
    let partial = eventually(60, || async {
        let n = ldap_users().await;
        (n > 0).then_some(n)
    })
    .await
    .expect("the sync writes");
    drop(_second);
    started.abort();
    assert!(partial < 4000, "killed in the middle ({partial} written)");

    let (_third, api) = start(&env, dir.path(), &key).await;
    // The dead replica's lease expires within jobs.lease_secs; then the sync runs again.
    let run = eventually(30, || async {
        let (s, r) = api.post(&sync_path, json!(null)).await;
        (s == StatusCode::OK).then_some(r)
    })
    .await
    .expect("the sync runs again once the lease expired");
    assert_eq!(run["status"], "succeeded", "{run}");
    let all = api.get("/api/v1/orgs/acme/users").await;
    let emails: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .filter(|e| e.starts_with('l'))
        .collect();
    let unique: BTreeSet<&&str> = emails.iter().collect();
    assert_eq!(
        (emails.len(), unique.len()),
        (4000, 4000),
        "none lost, none twice"
    );
    assert_eq!(
        run["counts"]["created"].as_u64().unwrap() + run["counts"]["unchanged"].as_u64().unwrap(),
        4000,
        "{run}"
    );
    let runs = api
        .get(&format!("/api/v1/orgs/acme/directories/{dir_id}/syncs"))
        .await;
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["succeeded", "abandoned"], "{runs}");
    drop(_third);
    let out = hub_command(&env, &["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    db.drop_db().await;
}
