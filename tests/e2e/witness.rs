//! Witnesses (issue 18): an organization's own `hub witness`, run as a separate process, cosigns
//! each checkpoint that extends the last one it saw; a verifier (Go's `sumdb/note`) can then
//! require k of the organization's n witnesses. A history the operator rewrote and signed again
//! is a split view: the witness cosigns nothing and exits 3. A witness that goes away holds
//! nothing up.

use hub_e2e::{Options, TestHub, hub_command};
use reqwest::StatusCode;
use serde_json::json;

use crate::federation::{add_user, org_with_domain};
use crate::transparency::{go_verify, publish};

/// Runs `hub witness ...` to the end: (exit code, stdout, stderr).
async fn witness(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::from(hub_command(&[], args))
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The latest checkpoint as `key` sees it (its organization's cosignatures only).
async fn checkpoint_text(hub: &TestHub, key: &str) -> String {
    hub.client
        .get(format!("{}/api/v1/audit/log/checkpoint", hub.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_witness_cosigns_what_extends_its_view_and_cries_out_at_a_split_view() {
    let hub = TestHub::start_with(Options {
        config: Some(|c| c.audit.log_checkpoint_secs = 3600),
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    add_user(&hub, "acme", "ada@acme.test").await;
    let admin = hub.org_admin_key("acme").await;
    let (_, reader) = hub.create_org_key("acme", "read").await;
    let acme_id = hub.get(&admin, "/api/v1/orgs/acme").await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = publish(&hub).await;
    let log_key = hub.get(&reader, "/api/v1/audit/log/key").await.json["vkey"]
        .as_str()
        .unwrap()
        .to_string();

    // Acme makes a witness key on its own machine and registers the verifier key.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("witness.key");
    let state = dir.path().join("witness-state.json");
    let key_path = key_file.to_str().unwrap();
    let (code, vkey, err) = witness(&[
        "witness",
        "keygen",
        "--name",
        "acme.test/witness",
        "--out",
        key_path,
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let vkey = vkey.trim().to_string();
    assert!(vkey.starts_with("acme.test/witness+"), "{vkey}");
    let (code, _, err) = witness(&[
        "witness",
        "keygen",
        "--name",
        "acme.test/witness",
        "--out",
        key_path,
    ])
    .await;
    assert_ne!(code, 0, "a key file is never overwritten: {err}");
    let run = [
        "witness",
        "run",
        "--once",
        "--hub",
        hub.url.as_str(),
        "--api-key",
        reader.as_str(),
        "--log-key",
        log_key.as_str(),
        "--key-file",
        key_path,
        "--state",
        state.to_str().unwrap(),
    ];
    // Not registered yet: its cosignature is not kept.
    let (code, _, err) = witness(&run).await;
    assert_eq!(code, 1, "{err}");
    // The operator cannot register a witness for acme; acme's admin can.
    let path = "/api/v1/orgs/acme/witnesses";
    let r = hub
        .post(&hub.operator_key, path, json!({"vkey": vkey}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = hub.post(&admin, path, json!({"vkey": "nonsense"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = hub.post(&admin, path, json!({"vkey": vkey})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    // The witness cosigns; the checkpoint carries it; k of n holds with the Go verifier.
    let (code, out, err) = witness(&run).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"cosigned\""), "{out}");
    let note = checkpoint_text(&hub, &reader).await;
    assert!(note.contains("\n— acme.test/witness "), "{note}");
    // Another organization's view of the checkpoint carries only its own witnesses.
    org_with_domain(&hub, "globex", "globex.test").await;
    let (_, globex) = hub.create_org_key("globex", "read").await;
    let theirs = checkpoint_text(&hub, &globex).await;
    assert!(!theirs.contains("acme.test/witness"), "{theirs}");
    let input = |k: usize| {
        json!({"vkey": log_key, "org": acme_id, "checkpoint": note, "events": [],
            "witnesses": [vkey], "k": k})
    };
    go_verify(&input(1)).unwrap_or_else(|e| panic!("{e}"));
    let err = go_verify(&input(2)).unwrap_err();
    assert!(err.contains("only 1 of the required 2"), "{err}");

    // The log grows: the witness checks the new tree extends what it cosigned, and cosigns.
    add_user(&hub, "acme", "bea@acme.test").await;
    let second = publish(&hub).await;
    assert_ne!(second, first);
    let (code, _, err) = witness(&run).await;
    assert_eq!(code, 0, "{err}");
    let seen = std::fs::read_to_string(&state).unwrap();

    // The operator rewrites an event and the tree over it, and signs again: a split view.
    use sea_orm::{ConnectionTrait, Statement};
    let db = hub.db.connect().await;
    for sql in [
        "UPDATE audit_events SET details = '{}' WHERE seq = 2",
        "DELETE FROM audit_tree_hashes",
        "DELETE FROM audit_tree_cosignatures",
        "DELETE FROM audit_tree_checkpoints",
        "UPDATE audit_tree SET size = 0",
    ] {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
    }
    db.close().await.ok();
    publish(&hub).await;
    let (code, _, err) = witness(&run).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("SPLIT VIEW"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        seen,
        "the witness keeps what it cosigned as evidence"
    );

    // A witness that went away holds nothing up: the log keeps growing and signing.
    add_user(&hub, "acme", "cy@acme.test").await;
    publish(&hub).await;
    hub.stop().await;
}
