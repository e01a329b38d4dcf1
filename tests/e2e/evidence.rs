//! Applications' own evidence (issue 18): Acme's extranet, serving the space Globex accepted,
//! records what happened in it; both parties retrieve it with inclusion proofs that Go's own
//! `sumdb/tlog` verifies against the signed checkpoint; an organization outside the space gets
//! 404 and finds nothing of it in its own proofs. Bad input is refused and records nothing.

use hub_e2e::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deprovision::client_id;
use crate::federation::org_with_domain;
use crate::transparency::go_verify;

#[tokio::test(flavor = "multi_thread")]
async fn an_application_records_evidence_that_each_party_of_its_space_proves() {
    let w = crate::spaces::world().await;
    let hub = &w.hub;
    let grant = w.propose().await;
    w.accept(&grant).await;
    org_with_domain(hub, "initech", "initech.test").await;
    let initech = hub.org_admin_key("initech").await;
    let space_id = hub
        .get(&w.acme_admin, "/api/v1/orgs/acme/spaces/project-x")
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id_of = |key: String, org: &'static str| async move {
        hub.get(&key, &format!("/api/v1/orgs/{org}")).await.json["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let acme_id = id_of(w.acme_admin.clone(), "acme").await;
    let globex_id = id_of(w.globex_admin.clone(), "globex").await;
    let (cid, secret) = (
        client_id(&w.extranet),
        w.extranet["client_secret"].as_str().unwrap().to_string(),
    );
    let post = |body: Value, secret: String| {
        let (url, cid) = (format!("{}/api/v1/evidence", hub.url), cid.clone());
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .basic_auth(cid, Some(secret))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let good = json!({"space": "project-x", "type": "document.uploaded",
        "data": {"name": "plan-v3.pdf", "sha256": "9f86d081884c7d65"}});

    // Refused, and nothing recorded: a wrong secret, a space the extranet does not serve, a
    // malformed type, too much data, a subject it was never given.
    let (status, _) = post(good.clone(), "wrong".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut bad = good.clone();
    bad["space"] = json!("elsewhere");
    assert_eq!(post(bad, secret.clone()).await.0, StatusCode::NOT_FOUND);
    let mut bad = good.clone();
    bad["type"] = json!("Document Uploaded!");
    assert_eq!(
        post(bad, secret.clone()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut bad = good.clone();
    bad["data"] = json!({"blob": "x".repeat(5000)});
    assert_eq!(
        post(bad, secret.clone()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let mut bad = good.clone();
    bad["subject"] = json!("someone-it-never-saw");
    assert_eq!(
        post(bad, secret.clone()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Recorded, as an event of both parties of the space.
    let (status, rec) = post(good.clone(), secret.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{rec}");
    let orgs = rec["organizations"].as_array().unwrap();
    assert!(
        orgs.contains(&json!(acme_id)) && orgs.contains(&json!(globex_id)),
        "{rec}"
    );
    assert_eq!(orgs.len(), 2);
    let seq = rec["seq"].as_i64().unwrap();

    // Once a checkpoint covers it, each party gets it with its proof, which Go verifies.
    let vkey = eventually(30, || async {
        let key = hub.get(&w.globex_read, "/api/v1/audit/log/key").await;
        let cp = hub
            .get(&w.globex_read, "/api/v1/orgs/globex/audit/proofs?limit=1")
            .await;
        (key.status == StatusCode::OK && cp.json["size"].as_i64().unwrap_or(0) >= seq)
            .then(|| key.json["vkey"].as_str().unwrap().to_string())
    })
    .await
    .expect("a checkpoint covers the evidence");
    for (org, org_id, key) in [
        ("acme", &acme_id, &w.acme_admin),
        ("globex", &globex_id, &w.globex_read),
    ] {
        let r = hub
            .get(
                key,
                &format!("/api/v1/orgs/{org}/evidence?space={space_id}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{org}: {r:?}");
        let events = r.json["events"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1, "{org}: {events:?}");
        let leaf: Value = serde_json::from_str(events[0]["leaf"].as_str().unwrap()).unwrap();
        assert_eq!(leaf["action"], "evidence.recorded");
        assert_eq!(leaf["details"]["data"]["name"], "plan-v3.pdf");
        assert_eq!(leaf["actor"]["kind"], "application");
        let input = json!({"vkey": vkey, "org": org_id, "checkpoint": r.json["checkpoint"],
            "events": events});
        go_verify(&input).unwrap_or_else(|e| panic!("{org}: {e}"));
    }

    // Initech was never a party: 404, and nothing of it in its own proofs.
    let r = hub
        .get(
            &initech,
            &format!("/api/v1/orgs/initech/evidence?space={space_id}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = hub
        .get(&initech, "/api/v1/orgs/initech/audit/proofs?limit=1000")
        .await;
    assert!(!r.json.to_string().contains("plan-v3.pdf"));
    let r = hub
        .get(&initech, "/api/v1/orgs/initech/evidence?space=project-x")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
}
