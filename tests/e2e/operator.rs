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

/// The operator cannot make an IdP that becomes anyone: a connection it made (or last changed)
/// links nobody who already exists until the organization's own admin approves it, which the
/// operator cannot do itself; the approval is audited and is a security notice.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_the_operator_made_links_nobody_who_exists_until_the_organization_approves() {
    use crate::federation::{
        SECRET, add_app, add_user, follow, org_with_domain, rogue_idp, set_mode, until_callback,
    };
    let hub = TestHub::start_with(hub_e2e::Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    org_with_domain(&hub, "acme", "acme.test").await;
    add_user(&hub, "acme", "carol@acme.test").await;
    add_user(&hub, "acme", "dave@acme.test").await;
    // Acme has an admin of its own (before it had one, the operator's connection would be
    // approved as made: the operator sets an organization up).
    let (_, admin) = hub.create_org_key("acme", "admin").await;
    let rogue = rogue_idp("carol@acme.test");
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    // The operator connects an IdP of its own choosing to acme.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/connections",
            json!({"name": "Operator's IdP", "kind": "oidc", "client_secret": SECRET,
                   "oidc": {"issuer": idp, "client_id": "hub-acme"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert!(r.json["links_approved_at"].is_null(), "{r:?}");
    let approve = format!(
        "/api/v1/orgs/acme/connections/{}/approve",
        r.json["id"].as_str().unwrap()
    );
    let connection = approve.trim_end_matches("/approve").to_string();
    let redirect = "https://extranet.acme.test/cb";
    let (cid, _) = add_app(&hub, "acme", redirect).await;
    let sign_in = |email: &'static str| {
        let (hub, idp, cid) = (&hub, idp.clone(), cid.clone());
        async move {
            set_mode(&idp, json!({"email": email, "sub": email})).await;
            let b = hub_e2e::Browser::new();
            let cb = until_callback(hub, &b, &cid, redirect).await;
            follow(&b, &cb).await
        }
    };

    // Carol exists: the operator's IdP vouching for her email does not make it carol.
    let (status, page, _) = sign_in("carol@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("not yet approved"), "{page}");
    // The operator cannot approve its own connection.
    let r = hub.post(&op, &approve, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");

    // Acme's own admin approves: audited, and carol signs in.
    let r = hub.post(&admin, &approve, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.json["links_approved_at"].is_string(), "{r:?}");
    let (status, page, location) = sign_in("carol@acme.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(location.unwrap().starts_with(redirect));

    // The operator changes the connection: the approval is withdrawn, and dave (who exists) is
    // not linked through it; carol, linked while it was approved, still signs in.
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &connection,
            Some(&op),
            Some(&json!({"jit_provisioning": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.json["links_approved_at"].is_null(), "{r:?}");
    let (status, page, _) = sign_in("dave@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // Nor does it make a new person (whose IdP could claim the admins' group), though the
    // operator switched just-in-time creation on.
    let (status, page, _) = sign_in("eve@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("not yet approved"), "{page}");
    let users = hub.get(&admin, "/api/v1/orgs/acme/users").await;
    assert!(
        !users.json.to_string().contains("eve@acme.test"),
        "{users:?}"
    );
    let (status, page, _) = sign_in("carol@acme.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");

    let events = crate::federation::audit_actions(&hub, "acme").await;
    let approved: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "connection.approved")
        .collect();
    assert_eq!(approved.len(), 1, "{events:#?}");
    assert_eq!(
        approved[0]["actor"]["kind"], "org_key",
        "{:#?}",
        approved[0]
    );
    let refused: Vec<&str> = events
        .iter()
        .filter(|e| e["action"] == "login.refused")
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(refused.len(), 3, "carol, dave, eve: {refused:?}");
    assert!(
        refused.iter().all(|r| r.contains("has not approved it")),
        "{refused:?}"
    );
    drop(rogue);
    hub.stop().await;
}

/// Each of the operator's changes that could give someone access to an organization's people
/// (an API key, the role mapping, a domain attested or removed) waits, once the organization
/// has an admin of its own, for that admin: refused without approval (nothing changes, the
/// organization is told), made with it (a key's secret goes to the approving admin only). A
/// break-glass window lets the operator act alone: opening it needs a reason, tells the
/// organization at once (a security notice, its audit view), keys made in it expire with it,
/// and the organization's admin reviews it afterwards.
#[tokio::test]
async fn the_operators_changes_wait_for_the_organization_or_go_through_break_glass() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(hub_e2e::Options {
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    hub.create_org("acme").await;
    // Before acme has an admin, the operator sets it up.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let (_, admin) = hub.create_org_key("acme", "admin").await;
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "acme-labs.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "claiming is harmless: {r:?}");

    // Now every change that gives access waits.
    let asks: Vec<(reqwest::Method, &str, Value)> = vec![
        (
            reqwest::Method::POST,
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "operator's key", "role": "admin"}),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/roles",
            json!({"org_admin": ["Operators"]}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/orgs/acme/domains/acme-labs.test/attest",
            json!({"reason": "contract 42"}),
        ),
    ];
    for (method, path, body) in &asks {
        let r = hub
            .call(method.clone(), path, Some(op.as_str()), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{path}: {r:?}");
        assert_eq!(r.json["code"], "awaiting_approval");
    }
    let keys = hub.get(&admin, "/api/v1/orgs/acme/api-keys").await;
    assert_eq!(keys.json.as_array().unwrap().len(), 1, "no key was made");
    assert_eq!(
        hub.get(&admin, "/api/v1/orgs/acme/roles").await.json["org_admin"],
        json!([])
    );
    let requests = hub.get(&admin, "/api/v1/orgs/acme/operator-requests").await;
    let rows = requests.json.as_array().unwrap().clone();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "pending"));
    // Acme's admins were told of each, as security notices.
    let events = crate::federation::audit_actions(&hub, "acme").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "operator.requested")
            .count(),
        3
    );

    // The operator cannot approve its own request.
    let id = |kind: &str| {
        rows.iter().find(|r| r["kind"] == kind).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let approve = |kind: &str| format!("/api/v1/orgs/acme/operator-requests/{}/approve", id(kind));
    let r = hub.post(&op, &approve("api_key.create"), json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    // Acme's admin approves the key: the secret is in the admin's answer, and it works.
    let r = hub
        .post(&admin, &approve("api_key.create"), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "approved");
    let secret = r.json["result"]["secret"].as_str().unwrap().to_string();
    assert_eq!(
        hub.get(&secret, "/api/v1/orgs/acme").await.status,
        StatusCode::OK
    );
    let r = hub
        .post(&admin, &approve("api_key.create"), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "once: {r:?}");
    // ...approves the attestation, and rejects the role change.
    let r = hub
        .post(&admin, &approve("domain.attest"), json!(null))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let d = hub
        .get(&admin, "/api/v1/orgs/acme/domains/acme-labs.test")
        .await;
    assert_eq!(d.json["status"], "verified", "{d:?}");
    let r = hub
        .post(
            &admin,
            &format!(
                "/api/v1/orgs/acme/operator-requests/{}/reject",
                id("roles.set")
            ),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "rejected");
    assert_eq!(
        hub.get(&admin, "/api/v1/orgs/acme/roles").await.json["org_admin"],
        json!([])
    );
    // Asked again, the role change is approved: made in the admin's name.
    let r = hub
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/roles",
            Some(op.as_str()),
            Some(&json!({"org_admin": ["Operators"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let pending = |rows: &Value, kind: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind && r["status"] == "pending")
            .map(|r| r["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let rows = hub
        .get(&admin, "/api/v1/orgs/acme/operator-requests")
        .await
        .json;
    let roles = pending(&rows, "roles.set");
    let r = hub
        .post(
            &admin,
            &format!("/api/v1/orgs/acme/operator-requests/{roles}/approve"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        hub.get(&admin, "/api/v1/orgs/acme/roles").await.json["org_admin"],
        json!(["Operators"])
    );
    // Removing a verified domain (which frees it for someone else) waits too, and is made
    // once approved.
    let r = hub
        .call(
            reqwest::Method::DELETE,
            "/api/v1/orgs/acme/domains/acme-labs.test",
            Some(op.as_str()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let d = hub
        .get(&admin, "/api/v1/orgs/acme/domains/acme-labs.test")
        .await;
    assert_eq!(d.json["status"], "verified", "still acme's: {d:?}");
    let rows = hub
        .get(&admin, "/api/v1/orgs/acme/operator-requests")
        .await
        .json;
    let removal = pending(&rows, "domain.remove");
    let r = hub
        .post(
            &admin,
            &format!("/api/v1/orgs/acme/operator-requests/{removal}/approve"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let d = hub
        .get(&admin, "/api/v1/orgs/acme/domains/acme-labs.test")
        .await;
    assert_eq!(d.status, StatusCode::NOT_FOUND, "{d:?}");

    // Break-glass: a reason is required, the organization is told at once.
    let r = hub
        .post(&op, "/api/v1/orgs/acme/break-glass", json!({"reason": ""}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = hub
        .post(
            &admin,
            "/api/v1/orgs/acme/break-glass",
            json!({"reason": "mine"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only the operator opens one: {r:?}"
    );
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/break-glass",
            json!({"reason": "acme's IdP is down and its admin is unreachable", "hours": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let window = r.json["id"].as_str().unwrap().to_string();
    let events = crate::federation::audit_actions(&hub, "acme").await;
    let opened = events
        .iter()
        .find(|e| e["action"] == "operator.break_glass_opened")
        .expect("in acme's audit view");
    assert_eq!(
        opened["details"]["reason"],
        "acme's IdP is down and its admin is unreachable"
    );
    // ...and it is a security notice for acme's admins (the console's banner and list), as
    // each of the operator's requests was.
    let acme_id: hub::ids::OrgId = hub.get(&admin, "/api/v1/orgs/acme").await.json["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let notices = hub::storage::notices::list_for(
        hub.state.store.conn(),
        acme_id,
        hub::ids::UserId::new(),
        100,
    )
    .await
    .unwrap();
    let kinds: Vec<&str> = notices.iter().map(|n| n.action.as_str()).collect();
    assert!(kinds.contains(&"operator.break_glass_opened"), "{kinds:?}");
    assert!(kinds.contains(&"operator.requested"), "{kinds:?}");
    // In the window the operator's key is made at once, and expires with the window.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "break-glass key", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let glass_key = r.json["secret"].as_str().unwrap().to_string();
    assert_eq!(
        hub.get(&glass_key, "/api/v1/orgs/acme").await.status,
        StatusCode::OK
    );
    let made = crate::federation::audit_actions(&hub, "acme").await;
    let e = made
        .iter()
        .rev()
        .find(|e| e["action"] == "api_key.created")
        .unwrap();
    assert_eq!(e["details"]["how"]["break_glass"], window.as_str(), "{e}");
    // The window closes by itself: the key stops, and changes wait again.
    clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        hub.get(&glass_key, "/api/v1/orgs/acme").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/api-keys",
            json!({"name": "after the window", "role": "read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    // Acme's admin reviews the window; the operator cannot.
    let review = format!("/api/v1/orgs/acme/break-glass/{window}/review");
    let r = hub.post(&op, &review, json!({"note": "fine"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = hub
        .post(
            &admin,
            &review,
            json!({"note": "confirmed with the ticket"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.json["reviewed_at"].is_string());
    let r = hub.post(&admin, &review, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    let list = hub.get(&admin, "/api/v1/orgs/acme/break-glass").await;
    assert_eq!(list.json[0]["review_note"], "confirmed with the ticket");
    let out = hub.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hub.stop().await;
}
