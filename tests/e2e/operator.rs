//! The operator is bound too (issue 17): its reads of an organization's people, sessions and
//! audit are recorded to that organization, which sees them in its own audit view; another
//! organization sees nothing of them.

use hub_e2e::TestHub;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The `operator.read` events `key` sees in `org`'s audit view.
async fn operator_reads(hub: &TestHub, key: &str, org: &str) -> Vec<Value> {
    let r = hub
        .get(
            key,
            &format!("/api/v1/orgs/{org}/audit?action=operator.read&limit=1000"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json["events"].as_array().unwrap().clone()
}

fn reads(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["details"]["read"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_operators_reads_of_an_organization_appear_in_its_audit_view() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    crate::federation::org_with_domain(&hub, "acme", "acme.test").await;
    crate::federation::org_with_domain(&hub, "globex", "globex.test").await;
    let (_, acme_admin) = hub.create_org_key("acme", "admin").await;
    let (_, globex_admin) = hub.create_org_key("globex", "admin").await;
    let acme_id = hub.get(&acme_admin, "/api/v1/orgs/acme").await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = crate::federation::add_user(&hub, "acme", "ada@acme.test").await;
    // Creating keys and people is audited already; no read so far.
    assert!(operator_reads(&hub, &acme_admin, "acme").await.is_empty());

    // The operator looks at acme's people, one person, and acme's audit (by path and by query).
    assert_eq!(
        hub.get(&op, "/api/v1/orgs/acme/users").await.status,
        StatusCode::OK
    );
    let one = hub
        .get(&op, &format!("/api/v1/orgs/acme/users/{user}"))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{one:?}");
    assert_eq!(
        hub.get(&op, "/api/v1/orgs/acme/audit").await.status,
        StatusCode::OK
    );
    let by_query = hub.get(&op, &format!("/api/v1/audit?org={acme_id}")).await;
    assert_eq!(by_query.status, StatusCode::OK);

    let seen = operator_reads(&hub, &acme_admin, "acme").await;
    assert_eq!(
        reads(&seen),
        [
            "GET /api/v1/orgs/{org}/users",
            "GET /api/v1/orgs/{org}/users/{user_id}",
            "GET /api/v1/orgs/{org}/audit",
            "GET /api/v1/audit",
        ],
        "{seen:#?}"
    );
    for e in &seen {
        assert_eq!(e["actor"]["kind"], "operator", "{e}");
        assert_eq!(e["orgs"], json!([acme_id]), "{e}");
    }
    // Globex saw none of it; its admin reading its own data records nothing either.
    assert_eq!(
        hub.get(&globex_admin, "/api/v1/orgs/globex/users")
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        operator_reads(&hub, &globex_admin, "globex")
            .await
            .is_empty()
    );
    // The operator's look at globex's audit is recorded once it was served: the listing did
    // not show it yet, globex's next look does.
    assert!(operator_reads(&hub, &op, "globex").await.is_empty());
    assert_eq!(
        reads(&operator_reads(&hub, &globex_admin, "globex").await),
        ["GET /api/v1/orgs/{org}/audit"]
    );
    // A refused read (an unknown person) records nothing.
    let missing = hub
        .get(
            &op,
            "/api/v1/orgs/globex/users/00000000-0000-0000-0000-000000000000",
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(operator_reads(&hub, &globex_admin, "globex").await.len(), 1);

    // The operator's look at the whole log is recorded to every organization it showed.
    let all = hub.get(&op, "/api/v1/audit?limit=1000").await;
    assert_eq!(all.status, StatusCode::OK);
    let acme_reads = reads(&operator_reads(&hub, &acme_admin, "acme").await);
    assert_eq!(
        acme_reads.last().map(String::as_str),
        Some("GET /api/v1/audit")
    );
    assert_eq!(acme_reads.len(), 5, "{acme_reads:?}");
    let globex_reads = reads(&operator_reads(&hub, &globex_admin, "globex").await);
    assert!(
        globex_reads.contains(&"GET /api/v1/audit".to_string()),
        "{globex_reads:?}"
    );
    hub.stop().await;
}
