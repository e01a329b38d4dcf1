//! The audit log as a transparency log (issue 18), checked with none of the hub's code: Go's
//! own `sumdb/note` and `sumdb/tlog` (`tests/go/auditverify`) verify an organization's events
//! against the hub's signed checkpoints, and that a later checkpoint extends an earlier one. An
//! organization sees only its own events (others' leaves are hashes inside the proofs); an
//! edited event, or a history the operator rewrote, fails the verifier.

use hub_e2e::{Options, TestHub, go_tool};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{add_user, org_with_domain};

/// Runs the Go verifier on `input`: `Ok(summary)` or `Err(its error)`.
pub(crate) fn go_verify(input: &Value) -> Result<Value, String> {
    use std::io::Write;
    let mut child = std::process::Command::new(go_tool("auditverify"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    if out.status.success() && answer["ok"] == true {
        Ok(answer)
    } else {
        Err(answer["error"].as_str().unwrap_or_default().to_string())
    }
}

pub(crate) async fn publish(hub: &TestHub) -> Value {
    let cp = hub::audit::tree::publish(&hub.state).await.unwrap();
    assert!(cp.is_some(), "the tree grew");
    let r = hub
        .get(&hub.operator_key, "/api/v1/audit/log/checkpoint")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/plain"), "{r:?}");
    json!(cp.unwrap().note)
}

/// Every page of `org`'s events with their proofs, against the latest checkpoint.
async fn proofs(hub: &TestHub, key: &str, org: &str) -> (String, Vec<Value>) {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let r = hub
            .get(
                key,
                &format!("/api/v1/orgs/{org}/audit/proofs?after={after}&limit=3"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        events.extend(r.json["events"].as_array().unwrap().iter().cloned());
        match r.json["next_after"].as_i64() {
            Some(n) => after = n,
            None => return (r.json["checkpoint"].as_str().unwrap().to_string(), events),
        }
    }
}

#[tokio::test]
async fn an_organizations_events_verify_with_gos_tlog_and_a_rewritten_history_does_not() {
    let hub = TestHub::start_with(Options {
        // The test publishes checkpoints itself.
        config: Some(|c| c.audit.log_checkpoint_secs = 3600),
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    add_user(&hub, "acme", "ada@acme.test").await;
    add_user(&hub, "globex", "gil@globex.test").await;
    let acme = hub.org_admin_key("acme").await;
    let acme_id = hub.get(&acme, "/api/v1/orgs/acme").await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = hub.get(&acme, "/api/v1/audit/log/key").await;
    assert_eq!(
        key.status,
        StatusCode::NOT_FOUND,
        "no checkpoint yet: {key:?}"
    );

    // The first checkpoint: acme's events, each proven in it, nothing of globex's.
    let first = publish(&hub).await;
    let key = hub.get(&acme, "/api/v1/audit/log/key").await;
    assert_eq!(key.status, StatusCode::OK, "{key:?}");
    let vkey = key.json["vkey"].as_str().unwrap().to_string();
    assert!(vkey.starts_with(key.json["origin"].as_str().unwrap()));
    let (checkpoint, events) = proofs(&hub, &acme, "acme").await;
    assert_eq!(json!(checkpoint), first);
    assert!(events.len() >= 3, "{events:?}");
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("ada@acme.test"));
    for other in ["globex", "gil@"] {
        assert!(!text.contains(other), "acme sees {other}: {text}");
    }
    let input = json!({"vkey": vkey, "org": acme_id, "checkpoint": checkpoint, "events": events});
    let ok = go_verify(&input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok["events"], events.len());
    // Another organization's key, or a checkpoint signed by another key, does not verify.
    let wrong_org =
        json!({"vkey": vkey, "org": "not-acme", "checkpoint": checkpoint, "events": events});
    assert!(go_verify(&wrong_org).unwrap_err().contains("does not name"));
    let forged_key = "example.com/audit+ba5eba11+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    let forged =
        json!({"vkey": forged_key, "org": acme_id, "checkpoint": checkpoint, "events": []});
    assert!(go_verify(&forged).is_err());

    // The log grows; the new checkpoint extends the first (consistency proof), and acme's new
    // event is in it.
    add_user(&hub, "acme", "bea@acme.test").await;
    let second = publish(&hub).await;
    let size = |note: &Value| -> u64 {
        note.as_str()
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    let (old, new) = (size(&first), size(&second));
    assert!(new > old);
    let r = hub
        .get(
            &acme,
            &format!("/api/v1/audit/log/consistency?old={old}&new={new}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let consistency = r.json["proof"].clone();
    let (checkpoint2, events2) = proofs(&hub, &acme, "acme").await;
    assert!(
        serde_json::to_string(&events2)
            .unwrap()
            .contains("bea@acme.test")
    );
    let grown = json!({"vkey": vkey, "org": acme_id, "checkpoint": checkpoint2,
        "events": events2, "old_checkpoint": first, "consistency": consistency});
    go_verify(&grown).unwrap_or_else(|e| panic!("{e}"));
    let r = hub
        .get(
            &acme,
            &format!("/api/v1/audit/log/consistency?old={new}&new={old}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");

    // Someone with the database edits one of acme's events: its proof no longer holds.
    use sea_orm::{ConnectionTrait, Statement};
    let db = hub.db.connect().await;
    let ada_seq = events2
        .iter()
        .find(|e| e["leaf"].as_str().unwrap().contains("ada@acme.test"))
        .unwrap()["seq"]
        .as_i64()
        .unwrap();
    let exec = |sql: String| {
        let db = &db;
        async move {
            db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap();
        }
    };
    exec(format!(
        "UPDATE audit_events SET details = '{{\"email\":\"mallory@acme.test\"}}' WHERE seq = {ada_seq}"
    ))
    .await;
    let (_, edited) = proofs(&hub, &acme, "acme").await;
    let input = json!({"vkey": vkey, "org": acme_id, "checkpoint": checkpoint2, "events": edited});
    let err = go_verify(&input).unwrap_err();
    assert!(err.contains("is not in the tree"), "{err}");

    // The operator rewrites the tree over the edited history and signs it again: the new
    // checkpoint of the same size does not extend what acme kept.
    for t in ["audit_tree_hashes", "audit_tree_checkpoints"] {
        exec(format!("DELETE FROM {t}")).await;
    }
    exec("UPDATE audit_tree SET size = 0".to_string()).await;
    let forked = publish(&hub).await;
    assert!(size(&forked) >= new, "{forked}");
    assert_ne!(forked, second);
    let r = hub
        .get(
            &acme,
            &format!(
                "/api/v1/audit/log/consistency?old={old}&new={}",
                size(&forked)
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let fork = json!({"vkey": vkey, "org": acme_id, "checkpoint": forked, "events": [],
        "old_checkpoint": first, "consistency": r.json["proof"]});
    let err = go_verify(&fork).unwrap_err();
    assert!(err.contains("does not extend"), "{err}");
    db.close().await.ok();
    hub.stop().await;
}
