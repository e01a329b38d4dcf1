//! A third-party, application-side SCIM client (PyPI `scim2-client` with `scim2-models`,
//! tests/peers/scim_client.py) drives Users and Groups against the hub the way an application
//! built on it would: discovery, create, get, filter, `attributes` / `excludedAttributes`,
//! replace, PATCH (the enterprise URN path, multi-valued emails), `.search`, Groups with
//! members, delete. The client validates every answer against the published schemas; the
//! script exits non-zero naming any deviation. Then the hub's side: state and audit trail.

use std::time::Duration;

use hub_e2e::{TestHub, peers_dir};
use reqwest::StatusCode;
use serde_json::Value;

use crate::federation::{audit_actions, org_with_domain};
use crate::scim::{Scim, admin_user};

/// Runs the client script against `scim`; its last stdout line is its JSON summary.
async fn run_client(scim: &Scim, domain: &str) -> Value {
    let python = peers_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "run scripts/install-peers.sh first (tests/peers/.venv is missing)"
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg("scim_client.py")
            .current_dir(peers_dir())
            .env("SCIM_BASE", &scim.base)
            .env("SCIM_TOKEN", &scim.token)
            .env("DOMAIN", domain)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the SCIM client script timed out")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "scim2-client found a deviation ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("no summary line: {stdout}"));
    assert_eq!(summary["ok"], true);
    summary
}

#[tokio::test]
async fn scim2_client_drives_users_and_groups_against_the_hub() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let summary = run_client(&scim, "acme.test").await;
    let (alice, bob, group) = (
        summary["alice"].as_str().unwrap(),
        summary["bob"].as_str().unwrap(),
        summary["group"].as_str().unwrap(),
    );

    // The hub's own view of what the client did.
    let a = admin_user(&hub, "acme", alice).await;
    assert_eq!(a["username"], "alice@acme.test");
    assert_eq!(a["email"], "a.acme@acme.test", "the primary email signs in");
    assert_eq!(a["name"], "Alice Acme");
    assert_eq!(a["status"], "active");
    assert_eq!(a["groups"], serde_json::json!(["Platform"]));
    let b = admin_user(&hub, "acme", bob).await;
    assert_eq!(b["status"], "deprovisioned");
    assert_eq!(b["email"], "");
    // Only the two people the client created exist: the refused ones left nothing.
    let users = hub.get(&hub.operator_key, "/api/v1/orgs/acme/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert_eq!(users.json.as_array().unwrap().len(), 2, "{}", users.json);

    let events = audit_actions(&hub, "acme").await;
    let of = |target: String| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["target"] == target)
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        of(format!("user:{alice}")),
        [
            "user.created",
            "user.updated",
            "user.updated",
            "user.updated"
        ]
    );
    assert_eq!(
        of(format!("user:{bob}")),
        ["user.created", "user.deprovisioned"]
    );
    assert_eq!(
        of(format!("group:{group}")),
        ["group.created", "group.updated"]
    );
    for e in events.iter().filter(|e| {
        e["target"] == format!("user:{alice}") || e["target"] == format!("group:{group}")
    }) {
        assert_eq!(e["actor"]["kind"], "directory", "{e}");
        assert_eq!(e["details"]["source"], "scim", "{e}");
    }
    hub.stop().await;
}
