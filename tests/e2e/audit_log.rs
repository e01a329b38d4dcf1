//! The audit log's integrity: untouched logs verify; an edited, deleted, reordered or rewritten
//! event is found by `hub audit verify`, which names the first bad sequence number. Tampering is
//! done directly in the database, as an attacker with database access would.

use hub::storage::{self, audit::Scope};
use hub_e2e::TestHub;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;

/// A hub with a few audited changes and a signed checkpoint over them; returns the last seq.
async fn hub_with_history() -> (TestHub, i64) {
    let hub = TestHub::start().await;
    hub.create_org("alpha").await;
    hub.create_org("beta").await;
    for d in ["alpha.example", "alpha-corp.example"] {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/alpha/domains",
                json!({"domain": d}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    hub.create_org_key("beta", "admin").await;
    let out = hub.cli(&["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (seq, _) = storage::audit::head(hub.state.store.conn()).await.unwrap();
    assert!(seq >= 5);
    (hub, seq)
}

fn verify(hub: &TestHub) -> (bool, String) {
    let out = hub.cli(&["audit", "verify"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn tamper(hub: &TestHub, sql: &[String]) {
    let db = hub.db.connect().await;
    for s in sql {
        db.execute_unprepared(s).await.unwrap();
    }
    db.close().await.ok();
}

#[tokio::test]
async fn untouched_log_verifies_with_checkpoints() {
    let (hub, seq) = hub_with_history().await;
    let (ok, text) = verify(&hub);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("audit log OK: {seq} events")),
        "{text}"
    );
    assert!(text.contains("1 signed checkpoint"), "{text}");
    // The checkpoint is published with the key that verifies it.
    let cps = hub
        .get(&hub.operator_key, "/api/v1/audit/checkpoints")
        .await
        .json;
    assert_eq!(cps["checkpoints"][0]["seq"], seq);
    assert_eq!(cps["keys"][0]["kid"], cps["checkpoints"][0]["key_id"]);
    hub.stop().await;
}

#[tokio::test]
async fn an_edited_event_is_named() {
    let (hub, _) = hub_with_history().await;
    tamper(
        &hub,
        &["UPDATE audit_events SET details = '{\"slug\":\"evil\"}' WHERE seq = 3".into()],
    )
    .await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(text.contains("sequence 3: contents do not match"), "{text}");
    hub.stop().await;
}

#[tokio::test]
async fn a_deleted_event_is_named() {
    let (hub, _) = hub_with_history().await;
    tamper(
        &hub,
        &[
            "DELETE FROM audit_event_orgs WHERE seq = 4".into(),
            "DELETE FROM audit_events WHERE seq = 4".into(),
        ],
    )
    .await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(text.contains("sequence 4: event missing"), "{text}");
    hub.stop().await;
}

#[tokio::test]
async fn a_deleted_last_event_is_named() {
    let (hub, last) = hub_with_history().await;
    tamper(
        &hub,
        &[
            format!("DELETE FROM audit_event_orgs WHERE seq = {last}"),
            format!("DELETE FROM audit_events WHERE seq = {last}"),
        ],
    )
    .await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(
        text.contains(&format!("sequence {last}: event missing")),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn reordered_events_are_named() {
    let (hub, _) = hub_with_history().await;
    tamper(
        &hub,
        &[
            "UPDATE audit_events SET seq = -1 WHERE seq = 2".into(),
            "UPDATE audit_events SET seq = 2 WHERE seq = 3".into(),
            "UPDATE audit_events SET seq = 3 WHERE seq = -1".into(),
        ],
    )
    .await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(text.contains("sequence 2: contents do not match"), "{text}");
    hub.stop().await;
}

#[tokio::test]
async fn a_rewritten_chain_is_caught_by_the_signed_checkpoint() {
    let (hub, last) = hub_with_history().await;
    // The attacker edits the last event and recomputes its hash and the head: the chain alone
    // is consistent again, but the signed checkpoint remembers the old hash.
    let mut record = storage::audit::list(hub.state.store.conn(), Scope::All, last - 1, 1, None)
        .await
        .unwrap()
        .remove(0);
    record.details = json!({"forged": true});
    record.hash = record.compute_hash();
    tamper(
        &hub,
        &[
            format!(
                "UPDATE audit_events SET details = '{}', hash = '{}' WHERE seq = {last}",
                record.details, record.hash
            ),
            format!(
                "UPDATE audit_head SET hash = '{}' WHERE id = 1",
                record.hash
            ),
        ],
    )
    .await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(
        text.contains(&format!("sequence {last}: checkpoint invalid")),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn hidden_visibility_changes_are_named() {
    let (hub, _) = hub_with_history().await;
    // Removing an event from an organization's view (without touching the event) is tampering too.
    tamper(&hub, &["DELETE FROM audit_event_orgs WHERE seq = 2".into()]).await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(
        text.contains("sequence 2: organization scopes differ"),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn an_operator_export_verifies_offline_and_an_edited_export_does_not() {
    let (hub, seq) = hub_with_history().await;
    let export = hub
        .client
        .get(format!("{}/api/v1/audit/export", hub.url))
        .bearer_auth(&hub.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["content-type"], "application/x-ndjson");
    let text = export.text().await.unwrap();
    assert_eq!(text.lines().count() as i64, seq);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, &text).unwrap();
    let out = hub.cli(&["audit", "verify", "--file", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(&file, text.replacen("alpha.example", "alpha.evil", 1)).unwrap();
    let out = hub.cli(&["audit", "verify", "--file", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("contents do not match"));
    hub.stop().await;
}
