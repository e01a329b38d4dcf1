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
    tamper(&hub, &["DELETE FROM audit_event_orgs WHERE seq = 3".into()]).await;
    let (ok, text) = verify(&hub);
    assert!(!ok);
    assert!(
        text.contains("sequence 3: organization scopes differ"),
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
    // The whole chain, ending with the operator's own read of it (recorded to every
    // organization before the first line was served).
    assert_eq!(text.lines().count() as i64, seq + 1);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["action"], "operator.read", "{last}");
    assert_eq!(
        last["details"]["read"], "GET /api/v1/audit/export",
        "{last}"
    );
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

    // With the signed checkpoints, even an export rewritten with recomputed hashes fails.
    let cps = hub
        .get(&hub.operator_key, "/api/v1/audit/checkpoints")
        .await
        .json;
    let cp_file = dir.path().join("checkpoints.json");
    std::fs::write(&cp_file, cps.to_string()).unwrap();
    std::fs::write(&file, &text).unwrap();
    let args = [
        "audit",
        "verify",
        "--file",
        file.to_str().unwrap(),
        "--checkpoints",
        cp_file.to_str().unwrap(),
    ];
    let out = hub.cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("checkpoint key") && stdout.contains("1 signed checkpoint"),
        "{stdout}"
    );

    let mut records: Vec<hub::audit::AuditRecord> = text
        .lines()
        .map(|l| hub::audit::AuditRecord::from_export_line(l).unwrap())
        .collect();
    let mut prev = hub::audit::GENESIS_HASH.to_string();
    for r in &mut records {
        if r.seq == 4 {
            r.details = json!({"domain": "alpha.evil"});
        }
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        prev = r.hash.clone();
    }
    let forged: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(&file, forged).unwrap();
    let out = hub.cli(&["audit", "verify", "--file", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "a consistent rewrite passes without checkpoints"
    );
    let out = hub.cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!("sequence {seq}: checkpoint invalid")),
        "{stdout}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_key_slipped_into_the_table_cannot_vouch_for_checkpoints() {
    let (hub, last) = hub_with_history().await;
    // Replace the stored public key and signature with the attacker's: the chain introduced
    // another key, so the checkpoint fails even without the secrets key.
    tamper(&hub, &[format!(
        "UPDATE signing_keys SET public_key = 'BOGUS' WHERE kid = (SELECT key_id FROM audit_checkpoints WHERE seq = {last})"
    )])
    .await;
    let out = hub.cli(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(
        text.contains("differs from the one the chain introduced"),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn concurrent_writes_checkpoints_and_cli_keep_one_chain() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    let mut writes = Vec::new();
    for i in 0..24 {
        let body = json!({"slug": format!("org-{i}"), "name": format!("Org {i}")});
        let req = hub
            .client
            .post(format!("{}/api/v1/orgs", hub.url))
            .bearer_auth(&op)
            .json(&body)
            .send();
        writes.push(req);
    }
    let checkpoints = async {
        for _ in 0..6 {
            hub::audit::checkpoint(
                &hub.state.store,
                &hub.state.signer,
                hub.state.clock.as_ref(),
            )
            .await
            .unwrap();
            tokio::task::yield_now().await;
        }
    };
    let env = hub.cli_env();
    let cli = tokio::task::spawn_blocking(move || {
        hub_e2e::hub_command(&env, &["operator", "create-key", "--name", "concurrent"])
            .output()
            .unwrap()
    });
    let (results, (), cli) = tokio::join!(futures_util::future::join_all(writes), checkpoints, cli);
    for r in results {
        assert_eq!(r.unwrap().status(), StatusCode::CREATED);
    }
    let cli = cli.unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let (ok, text) = verify(&hub);
    assert!(ok, "{text}");
    // signing key, operator key, 24 organizations, the CLI's key
    assert!(text.contains("audit log OK: 27 events"), "{text}");
    hub.stop().await;
}

#[tokio::test]
async fn an_organization_verifies_its_own_part_of_the_log() {
    let (hub, seq) = hub_with_history().await;
    let (_, alpha) = hub.create_org_key("alpha", "read").await;
    let beta_id = hub.get(&hub.operator_key, "/api/v1/orgs/beta").await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let export = hub
        .client
        .get(format!("{}/api/v1/audit/export", hub.url))
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    let text = export.text().await.unwrap();
    // The whole chain (plus the key just made and the operator's read of beta), with beta's
    // events reduced to stubs.
    assert_eq!(text.lines().count() as i64, seq + 2);
    assert!(
        !text.contains(&beta_id) && !text.contains("\"beta\""),
        "{text}"
    );
    assert!(text.lines().any(|l| l.contains("\"redacted\":true")));
    assert!(text.contains("signing_key.created"));
    let cps = hub
        .call(
            reqwest::Method::GET,
            "/api/v1/audit/checkpoints",
            Some(&alpha),
            None,
        )
        .await
        .json;
    let dir = tempfile::tempdir().unwrap();
    let (file, cp_file) = (dir.path().join("alpha.jsonl"), dir.path().join("cps.json"));
    std::fs::write(&cp_file, cps.to_string()).unwrap();
    let verify_file = |content: &str| {
        std::fs::write(&file, content).unwrap();
        let out = hub.cli(&[
            "audit",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--checkpoints",
            cp_file.to_str().unwrap(),
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, out) = verify_file(&text);
    assert!(ok, "{out}");
    assert!(out.contains("redacted stubs"), "{out}");
    // An edit of one of alpha's own events, or of a stub's hash, is found.
    let (ok, out) = verify_file(&text.replacen("alpha.example", "alpha.evil", 1));
    assert!(!ok && out.contains("contents do not match"), "{out}");
    let stub = text
        .lines()
        .find(|l| l.contains("\"redacted\":true"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(stub).unwrap();
    v["hash"] = json!("0".repeat(64));
    let (ok, out) = verify_file(&text.replacen(stub, &v.to_string(), 1));
    assert!(!ok && out.contains("previous-hash link broken"), "{out}");
    hub.stop().await;
}

#[tokio::test]
async fn a_chain_rewritten_after_its_checkpoints_were_deleted_still_fails() {
    // A day of history, signed by a checkpoint.
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(
        chrono::Utc::now() - chrono::Duration::days(1),
    ));
    let hub = TestHub::start_with(hub_e2e::Options {
        clock: Some(clock),
        ..Default::default()
    })
    .await;
    hub.create_org("alpha").await;
    hub.create_org("beta").await;
    hub.create_org_key("beta", "admin").await;
    let out = hub.cli(&["audit", "checkpoint"]);
    assert!(out.status.success());
    let (ok, text) = verify(&hub);
    assert!(ok, "{text}");
    // A compliance officer kept the checkpoints.
    let cps = hub
        .get(&hub.operator_key, "/api/v1/audit/checkpoints")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("checkpoints.json");
    std::fs::write(&kept, cps.json.to_string()).unwrap();

    // The attacker rewrites event 2 and every hash after it, fixes the head, and deletes the
    // checkpoints: the chain alone is consistent again.
    let (last, _) = storage::audit::head(hub.state.store.conn()).await.unwrap();
    let records = storage::audit::list(hub.state.store.conn(), Scope::All, 0, 1000, None)
        .await
        .unwrap();
    let mut sql = Vec::new();
    let mut prev = records[0].hash.clone();
    for mut r in records.into_iter().skip(1) {
        if r.seq == 2 {
            r.details = json!({"forged": true});
        }
        r.prev_hash = prev.clone();
        r.hash = r.compute_hash();
        sql.push(format!(
            "UPDATE audit_events SET details = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            r.details, r.prev_hash, r.hash, r.seq
        ));
        prev = r.hash.clone();
    }
    sql.push(format!(
        "UPDATE audit_head SET hash = '{prev}' WHERE id = 1"
    ));
    sql.push("DELETE FROM audit_checkpoints".into());
    tamper(&hub, &sql).await;

    let (ok, text) = verify(&hub);
    assert!(!ok, "{text}");
    assert!(
        text.contains("sequence 1: no signed checkpoint covers"),
        "{text}"
    );
    // With the checkpoints kept elsewhere, the rewrite itself is named.
    let out = hub.cli(&["audit", "verify", "--checkpoints", kept.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!("sequence {last}: checkpoint invalid")),
        "{text}"
    );
    hub.stop().await;
}
