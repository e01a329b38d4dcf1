//! The operator cannot put people into an organization that has an admin of its own (issue
//! 17): a person created or changed by the operator, a directory (which imports people) and a
//! SCIM token (which pushes them) each wait for that admin's approval. Pre-creating a person in
//! the organization's admin group was the way around the operator's other bounds.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The pending request of `kind` in acme, as its admin sees them.
async fn pending(hub: &TestHub, admin: &str, kind: &str) -> String {
    let rows = hub
        .get(admin, "/api/v1/orgs/acme/operator-requests")
        .await
        .json;
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["status"] == "pending")
        .unwrap_or_else(|| panic!("no pending {kind}: {rows:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn decide(hub: &TestHub, admin: &str, id: &str, how: &str) -> Value {
    let r = hub
        .post(
            admin,
            &format!("/api/v1/orgs/acme/operator-requests/{id}/{how}"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json
}

#[tokio::test]
async fn the_operator_adds_no_person_directory_or_scim_token_without_the_organization() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    hub.create_org("acme").await;
    // Before acme has an admin of its own, the operator sets it up: a domain, a person.
    for (path, body) in [
        ("/api/v1/orgs/acme/domains", json!({"domain": "acme.test"})),
        (
            "/api/v1/orgs/acme/domains/acme.test/attest",
            json!({"reason": "contract 42"}),
        ),
        (
            "/api/v1/orgs/acme/users",
            json!({"email": "ada@acme.test", "name": "Ada", "groups": ["Staff"]}),
        ),
    ] {
        let r = hub.post(&op, path, body).await;
        assert!(r.status.is_success(), "{path}: {r:?}");
    }
    let ada = hub.get(&op, "/api/v1/orgs/acme/users").await.json[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = hub.org_admin_key("acme").await;
    let r = hub
        .post(
            &admin,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Okta", "kind": "scim"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let okta = r.json["id"].as_str().unwrap().to_string();
    let tokens = format!("/api/v1/orgs/acme/directories/{okta}/scim-tokens");

    // Now the operator's person in the admins' group, its change of Ada's groups, its
    // directory and its SCIM token each wait; nothing is made.
    let asks = [
        (
            Method::POST,
            "/api/v1/orgs/acme/users".to_string(),
            json!({"email": "mallory@acme.test", "name": "Mallory", "groups": ["Admins"]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/orgs/acme/users/{ada}"),
            json!({"groups": ["Staff", "Admins"]}),
        ),
        (
            Method::POST,
            "/api/v1/orgs/acme/directories".to_string(),
            json!({"name": "Shadow", "kind": "scim"}),
        ),
        (Method::POST, tokens.clone(), json!({"name": "shadow feed"})),
    ];
    for (method, path, body) in &asks {
        let r = hub
            .call(method.clone(), path, Some(op.as_str()), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{path}: {r:?}");
        assert_eq!(r.json["code"], "awaiting_approval", "{r:?}");
    }
    // A bind password is a secret no request keeps: refused outright.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Shadow LDAP", "kind": "ldap", "bind_password": "s3cret",
                "ldap": {"url": "ldaps://ldap.example.com", "bind_dn": "cn=hub",
                    "base_dn": "dc=example,dc=com"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let users = hub.get(&admin, "/api/v1/orgs/acme/users").await.json;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users:?}");
    assert_eq!(users[0]["groups"], json!(["Staff"]));
    let dirs = hub.get(&admin, "/api/v1/orgs/acme/directories").await.json;
    assert_eq!(dirs.as_array().unwrap().len(), 1, "{dirs:?}");
    assert_eq!(hub.get(&admin, &tokens).await.json, json!([]));
    // Applications: an operator's application, redirect URI or new secret would receive or
    // redeem acme's people's codes. Refused outright (acme's admin makes its own), nothing
    // changed.
    let app = hub
        .post(
            &admin,
            "/api/v1/orgs/acme/applications",
            json!({"name": "Portal", "client_type": "confidential",
                "redirect_uris": ["https://portal.acme.test/cb"]}),
        )
        .await;
    assert_eq!(app.status, StatusCode::CREATED, "{app:?}");
    let app_path = format!(
        "/api/v1/orgs/acme/applications/{}",
        app.json["application"]["id"].as_str().unwrap()
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/orgs/acme/applications".to_string(),
            json!({"name": "Shadow portal", "client_type": "confidential",
                "redirect_uris": ["https://evil.example/cb"]}),
        ),
        (
            Method::PATCH,
            app_path.clone(),
            json!({"redirect_uris": ["https://evil.example/cb"]}),
        ),
        (Method::POST, format!("{app_path}/secret"), json!(null)),
    ] {
        let r = hub
            .call(method, &path, Some(op.as_str()), Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {r:?}");
    }
    let now = hub.get(&admin, &app_path).await;
    assert_eq!(
        now.json["redirect_uris"],
        json!(["https://portal.acme.test/cb"]),
        "{now:?}"
    );
    let apps = hub.get(&admin, "/api/v1/orgs/acme/applications").await.json;
    assert_eq!(apps.as_array().unwrap().len(), 1, "{apps:?}");

    // The operator may still close doors: a suspension needs no approval.
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{ada}"),
            Some(op.as_str()),
            Some(&json!({"status": "suspended", "reason": "incident 7"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "suspended");

    // Acme's admin rejects the person and the directory: still nothing.
    let id = pending(&hub, &admin, "user.create").await;
    assert_eq!(
        decide(&hub, &admin, &id, "reject").await["status"],
        "rejected"
    );
    let id = pending(&hub, &admin, "directory.create").await;
    decide(&hub, &admin, &id, "reject").await;
    assert_eq!(
        hub.get(&admin, "/api/v1/orgs/acme/users")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // ...approves the token: its secret is in the admin's answer only, and it pushes people.
    let id = pending(&hub, &admin, "scim_token.create").await;
    let done = decide(&hub, &admin, &id, "approve").await;
    let secret = done["result"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("hubscim_"), "{done:?}");
    let r = reqwest::Client::new()
        .get(format!("{}/scim/v2/acme/Users", hub.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // ...and approves the group change, made in the admin's name and audited as approved.
    let id = pending(&hub, &admin, "user.update").await;
    decide(&hub, &admin, &id, "approve").await;
    let ada_now = hub
        .get(&admin, &format!("/api/v1/orgs/acme/users/{ada}"))
        .await;
    assert_eq!(ada_now.json["groups"], json!(["Staff", "Admins"]));
    let events = crate::federation::audit_actions(&hub, "acme").await;
    let change = events
        .iter()
        .find(|e| {
            e["action"] == "user.updated" && e["details"]["groups"] == json!(["Staff", "Admins"])
        })
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(
        change["details"]["how"]["operator_request"], id,
        "{change:?}"
    );
    assert_eq!(change["actor"]["kind"], "org_key", "{change:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "operator.requested")
            .count(),
        4
    );

    // Stripping acme of its admins does not reopen the bootstrap: the operator revokes every
    // admin key of acme (closing a door, which it may), and its next key still waits.
    let keys = hub.get(&admin, "/api/v1/orgs/acme/api-keys").await.json;
    for k in keys.as_array().unwrap() {
        let r = hub
            .call(
                Method::DELETE,
                &format!("/api/v1/orgs/acme/api-keys/{}", k["id"].as_str().unwrap()),
                Some(op.as_str()),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{r:?}");
    }
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "after the purge", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/users",
            json!({"email": "eve@acme.test", "name": "Eve", "groups": ["Admins"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
}

/// A key `hub operator create-key` makes with these limits.
async fn operator_key(hub: &TestHub, read_only: bool, orgs: &[&str]) -> String {
    let spec = hub::orgs::model::NewOperatorKey {
        name: "support".into(),
        person: Some("sam@hub.test".into()),
        read_only,
        orgs: orgs.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    };
    let actor = hub::audit::Actor::Cli {
        command: "test".into(),
    };
    hub::orgs::api_keys::create_operator_key(
        &hub.state.store,
        hub.state.clock.as_ref(),
        &actor,
        &spec,
    )
    .await
    .unwrap()
    .1
}

/// Operator keys can be limited in scope: to some organizations (no other is visible, no
/// organization can be created, the whole log is not readable) and to reading.
#[tokio::test]
async fn operator_keys_limited_to_some_organizations_or_to_reading_stay_within_them() {
    let hub = TestHub::start().await;
    crate::federation::org_with_domain(&hub, "acme", "acme.test").await;
    crate::federation::org_with_domain(&hub, "globex", "globex.test").await;
    let spec = hub::orgs::model::NewOperatorKey {
        name: "x".into(),
        orgs: vec!["initech".into()],
        ..Default::default()
    };
    let actor = hub::audit::Actor::Cli {
        command: "test".into(),
    };
    let unknown = hub::orgs::api_keys::create_operator_key(
        &hub.state.store,
        hub.state.clock.as_ref(),
        &actor,
        &spec,
    )
    .await;
    assert!(unknown.is_err(), "an organization that does not exist");

    // Limited to acme: acme as the operator sees it; globex does not exist for it.
    let acme_only = operator_key(&hub, false, &["acme"]).await;
    let list = hub.get(&acme_only, "/api/v1/orgs").await;
    assert_eq!(list.status, StatusCode::OK);
    let slugs: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme"]);
    assert_eq!(
        hub.get(&acme_only, "/api/v1/orgs/acme/users").await.status,
        StatusCode::OK
    );
    for path in [
        "/api/v1/orgs/globex",
        "/api/v1/orgs/globex/users",
        "/api/v1/audit",
    ] {
        assert_eq!(
            hub.get(&acme_only, path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = hub
        .post(
            &acme_only,
            "/api/v1/orgs/globex/domains",
            json!({"domain": "x.globex.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = hub
        .post(
            &acme_only,
            "/api/v1/orgs",
            json!({"slug": "rogue", "name": "Rogue"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = hub
        .post(
            &acme_only,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "labs.acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "it acts in acme: {r:?}");
    let r = hub.get(&acme_only, "/api/v1/audit/export?org=globex").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    // Read-only: reads (recorded to the organization, naming the person), changes nothing.
    let reader = operator_key(&hub, true, &[]).await;
    assert_eq!(
        hub.get(&reader, "/api/v1/orgs/globex/users").await.status,
        StatusCode::OK
    );
    assert_eq!(
        hub.get(&reader, "/api/v1/orgs")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let writes = [
        (
            Method::POST,
            "/api/v1/orgs",
            json!({"slug": "rogue", "name": "Rogue"}),
        ),
        (
            Method::POST,
            "/api/v1/orgs/globex/domains",
            json!({"domain": "y.globex.test"}),
        ),
        (
            Method::POST,
            "/api/v1/orgs/globex/users",
            json!({"email": "m@globex.test", "name": "M"}),
        ),
        (
            Method::POST,
            "/api/v1/orgs/globex/break-glass",
            json!({"reason": "look around"}),
        ),
    ];
    for (method, path, body) in &writes {
        let r = hub
            .call(method.clone(), path, Some(reader.as_str()), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {r:?}");
    }
    let admin = hub.org_admin_key("globex").await;
    let reads = hub
        .get(
            &admin,
            "/api/v1/orgs/globex/audit?action=operator.read&limit=100",
        )
        .await;
    let named = reads.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["actor"]["key_name"] == "support <sam@hub.test>");
    assert!(named, "{reads:?}");
    let users = hub.get(&admin, "/api/v1/orgs/globex/users").await.json;
    assert_eq!(users, json!([]), "nothing was made");
}
