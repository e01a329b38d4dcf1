//! Tenant isolation matrix: organization A's keys get 404 (not 403, not data) for every read and
//! write of organization B's resources, on every route the OpenAPI document lists, and nothing
//! changes. Routes are taken from the document, so a new route is covered (or fails the test).

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A plausible body per operation, so that only the tenant check stands between the request
/// and a change.
fn body_for(method: &Method, path: &str) -> Option<Value> {
    let body = match (method.as_str(), path) {
        ("PATCH", "/api/v1/orgs/{org}") => json!({"name": "Hijacked"}),
        ("POST", "/api/v1/orgs/{org}/domains") => json!({"domain": "hijack.example"}),
        ("POST", "/api/v1/orgs/{org}/domains/{domain}/attest") => json!({"reason": "because"}),
        ("POST", "/api/v1/orgs/{org}/applications") => json!({
            "name": "Hijack", "client_type": "public", "redirect_uris": ["https://evil.example/cb"]}),
        ("PATCH", "/api/v1/orgs/{org}/applications/{app_id}") => {
            json!({"redirect_uris": ["https://evil.example/cb"]})
        }
        ("POST", "/api/v1/orgs/{org}/api-keys") => json!({"name": "backdoor", "role": "admin"}),
        ("POST", "/api/v1/orgs/{org}/users") => {
            json!({"email": "mallory@b.example", "name": "Mallory"})
        }
        ("PATCH", "/api/v1/orgs/{org}/users/{user_id}") => json!({"status": "suspended"}),
        ("POST", "/api/v1/orgs/{org}/connections") => json!({
            "name": "rogue", "kind": "oidc", "client_secret": "x",
            "oidc": {"issuer": "https://idp.a.example", "client_id": "hub"}}),
        ("PATCH", "/api/v1/orgs/{org}/connections/{connection_id}") => {
            json!({"status": "disabled"})
        }
        ("POST", "/api/v1/orgs/{org}/directories") => json!({"name": "rogue", "kind": "scim"}),
        ("POST", "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens") => {
            json!({"name": "backdoor"})
        }
        ("PATCH", "/api/v1/orgs/{org}/directories/{directory_id}") => json!({"status": "disabled"}),
        ("POST", "/api/v1/orgs/{org}/users/{user_id}/deprovision") => json!({"reason": "hijack"}),
        ("POST", "/api/v1/orgs/{org}/spaces") => json!({"name": "Hijack"}),
        ("PUT", "/api/v1/orgs/{org}/roles") => json!({"org_admin": ["Everyone"]}),
        ("PATCH", "/api/v1/orgs/{org}/spaces/{space}") => json!({"name": "Hijacked"}),
        ("POST", "/api/v1/orgs/{org}/spaces/{space}/grants") => json!({"organization": "org-a"}),
        _ if method == Method::POST || method == Method::PATCH => json!({}),
        _ => return None,
    };
    Some(body)
}

#[tokio::test]
async fn org_keys_get_404_for_every_route_of_another_org() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    let (_, _) = hub.create_org("org-a").await;
    let (b_id, _) = hub.create_org("org-b").await;
    let (_, a_admin) = hub.create_org_key("org-a", "admin").await;
    let (_, a_read) = hub.create_org_key("org-a", "read").await;
    let (b_key_id, _) = hub.create_org_key("org-b", "admin").await;
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/org-b/domains",
            json!({"domain": "b.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = hub
        .post(&hub.maker("org-b"), "/api/v1/orgs/org-b/applications", json!({
            "name": "B app", "client_type": "confidential", "redirect_uris": ["https://b.example/cb"]}))
        .await;
    let b_app = r.json["application"]["id"].as_str().unwrap().to_string();
    let r = hub
        .operator_change(
            "org-b",
            "/api/v1/orgs/org-b/domains/b.example/attest",
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // B has an admin of its own: it adds its people, directory and token itself.
    let b_maker = hub.maker("org-b");
    let r = hub
        .post(
            &b_maker,
            "/api/v1/orgs/org-b/users",
            json!({"email": "bob@b.example", "name": "Bob"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let b_user = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &b_maker,
            "/api/v1/orgs/org-b/connections",
            json!({"name": "B IdP", "kind": "oidc", "client_secret": "s3cret",
                   "oidc": {"issuer": "https://idp.b.example", "client_id": "hub"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let b_conn = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &b_maker,
            "/api/v1/orgs/org-b/directories",
            json!({"name": "B directory", "kind": "scim"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let b_dir = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &b_maker,
            &format!("/api/v1/orgs/org-b/directories/{b_dir}/scim-tokens"),
            json!({"name": "B token"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let b_token = r.json["token"]["id"].as_str().unwrap().to_string();
    // A second user of B leaves, so B has a leaver record to reach for.
    let r = hub
        .post(
            &b_maker,
            "/api/v1/orgs/org-b/users",
            json!({"email": "leaver@b.example", "name": "Leaver"}),
        )
        .await;
    let b_leaving = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &op,
            &format!("/api/v1/orgs/org-b/users/{b_leaving}/deprovision"),
            json!({"reason": "left B"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let b_leaver = hub.get(&op, "/api/v1/orgs/org-b/leavers").await.json[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A space of B, and a grant in it (B's own people: in force at once).
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/org-b/spaces",
            json!({"name": "B space", "applications": [b_app]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/org-b/spaces/b-space/grants",
            json!({"organization": "org-b"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let b_grant = r.json["id"].as_str().unwrap().to_string();

    let doc = hub
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .json;
    let paths = doc["paths"].as_object().unwrap();
    let before = hub.snapshot().await;
    let mut tried = 0;
    for (template, ops) in paths {
        if !template.contains("{org}") {
            continue;
        }
        for (method, _) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            for org_ref in ["org-b", b_id.as_str()] {
                let path = template
                    .replace("{org}", org_ref)
                    .replace("{domain}", "b.example")
                    .replace("{app_id}", &b_app)
                    .replace("{key_id}", &b_key_id)
                    .replace("{user_id}", &b_user)
                    .replace("{connection_id}", &b_conn)
                    .replace("{directory_id}", &b_dir)
                    .replace("{token_id}", &b_token)
                    .replace("{sync_id}", "01a208d0-bb66-72b1-a166-39b10500d751")
                    .replace("{leaver_id}", &b_leaver)
                    .replace("{space}", "b-space")
                    .replace("{grant_id}", &b_grant)
                    .replace("{request_id}", "01a208d0-bb66-72b1-a166-39b10500d753")
                    .replace("{window_id}", "01a208d0-bb66-72b1-a166-39b10500d754")
                    .replace("{witness_id}", "01a208d0-bb66-72b1-a166-39b10500d755")
                    .replace("{delivery_id}", "01a208d0-bb66-72b1-a166-39b10500d752");
                assert!(!path.contains('{'), "unmapped path parameter in {template}");
                for key in [&a_admin, &a_read] {
                    let body = body_for(&method, template);
                    let r = hub
                        .call(method.clone(), &path, Some(key), body.as_ref())
                        .await;
                    assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {r:?}");
                    assert_eq!(r.content_type, "application/problem+json");
                    assert_eq!(
                        r.json["detail"], "organization not found",
                        "{method} {path}"
                    );
                    tried += 1;
                }
            }
        }
    }
    assert!(
        tried >= 4 * 19,
        "only {tried} requests: did the OpenAPI document lose routes?"
    );

    // Routes without {org}: the `org` filter and the listings.
    for path in ["/api/v1/audit?org=org-b", "/api/v1/audit/export?org=org-b"] {
        let r = hub.get(&a_admin, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
    }
    let orgs = hub.get(&a_admin, "/api/v1/orgs").await.json;
    let slugs: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["org-a"]);
    let events = hub.get(&a_read, "/api/v1/audit?limit=1000").await.json;
    for e in events["events"].as_array().unwrap() {
        let text = e.to_string();
        assert!(
            !text.contains(&b_id) && !text.contains("org-b") && !text.contains(&b_app),
            "leak: {text}"
        );
    }
    let export = hub.get(&a_read, "/api/v1/audit/export").await.json;
    assert!(!export.to_string().contains(&b_id));
    // The transparency log's checkpoint, key and consistency proofs name no organization.
    hub::audit::tree::publish(&hub.state).await.unwrap();
    for path in [
        "/api/v1/audit/log/checkpoint",
        "/api/v1/audit/log/key",
        "/api/v1/audit/log/consistency?old=1&new=2",
    ] {
        let r = hub
            .client
            .get(format!("{}{path}", hub.url))
            .bearer_auth(&a_read)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains(&b_id) && !text.contains("org-b"),
            "{path}: {text}"
        );
    }
    // Every route that is not organization-scoped is known to this test.
    let global: Vec<&String> = paths.keys().filter(|p| !p.contains("{org}")).collect();
    assert_eq!(
        global,
        [
            "/api/v1/audit",
            "/api/v1/audit/checkpoints",
            "/api/v1/audit/export",
            "/api/v1/audit/log/checkpoint",
            "/api/v1/audit/log/consistency",
            "/api/v1/audit/log/cosignatures",
            "/api/v1/audit/log/key",
            "/api/v1/orgs"
        ],
        "a new global route needs an isolation check here"
    );

    assert_eq!(
        before,
        hub.snapshot().await,
        "a cross-organization request changed something"
    );
    hub.stop().await;
}

#[tokio::test]
async fn operator_actions_on_an_org_appear_in_that_orgs_audit_view_only() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    let (a_id, _) = hub.create_org("org-a").await;
    hub.create_org("org-b").await;
    let (_, a_read) = hub.create_org_key("org-a", "read").await;
    let (_, b_read) = hub.create_org_key("org-b", "read").await;
    let r = hub
        .post(&op, "/api/v1/orgs/org-a/applications", json!({
            "name": "Operator-made", "client_type": "public", "redirect_uris": ["https://a.example/cb"]}))
        .await;
    let app_id = r.json["application"]["id"].as_str().unwrap().to_string();

    let is_it = |e: &Value| {
        e["target"] == format!("application:{app_id}") && e["action"] == "application.created"
    };
    for path in [
        "/api/v1/audit?limit=1000",
        "/api/v1/orgs/org-a/audit?limit=1000",
    ] {
        let view = hub.get(&a_read, path).await.json;
        let event = view["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| is_it(e))
            .cloned();
        let event =
            event.unwrap_or_else(|| panic!("org A does not see the operator's action at {path}"));
        assert_eq!(event["actor"]["kind"], "operator");
        assert_eq!(event["orgs"], json!([a_id]));
    }
    let b_view = hub.get(&b_read, "/api/v1/audit?limit=1000").await.json;
    assert!(!b_view["events"].as_array().unwrap().iter().any(is_it));
    hub.stop().await;
}
