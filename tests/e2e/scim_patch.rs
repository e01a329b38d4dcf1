//! SCIM PATCH and the stored user as clients other than Okta's and Entra's happy paths send
//! them: the enterprise extension URN as a path, `active` removed, `name.formatted` apart from
//! `displayName`, multi-valued `emails` (and `phoneNumbers`) with their types and one primary.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{audit_actions, org_with_domain};
use crate::scim::{ENTERPRISE, PATCH_OP, Scim, USER, admin_user, assert_error};

fn ops(ops: Value) -> Option<Value> {
    Some(json!({"schemas": [PATCH_OP], "Operations": ops}))
}

async fn alice(scim: &Scim) -> String {
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [USER, ENTERPRISE], "userName": "alice@acme.test",
                "displayName": "Alice A.", "name": {"formatted": "Ms Alice Acme",
                "givenName": "Alice", "familyName": "Acme"},
                "emails": [{"value": "alice@acme.test", "type": "work", "primary": true},
                           {"value": "alice.home@acme.test", "type": "home"}],
                "phoneNumbers": [{"value": "+1 555 0100", "type": "work", "primary": true}],
                ENTERPRISE: {"department": "R&D", "employeeNumber": "7"}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["displayName"], "Alice A.");
    assert_eq!(r.json["name"]["formatted"], "Ms Alice Acme");
    assert_eq!(
        r.json["emails"],
        json!([{"value": "alice@acme.test", "type": "work", "primary": true},
               {"value": "alice.home@acme.test", "type": "home"}])
    );
    r.json["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_enterprise_extension_urn_as_a_path_means_the_whole_extension() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let id = alice(&scim).await;
    let path = format!("/Users/{id}");
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": ENTERPRISE,
                "value": {"department": "Sales", "costCenter": "42"}}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json[ENTERPRISE],
        json!({"department": "Sales", "employeeNumber": "7", "costCenter": "42"})
    );
    let keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| !k.starts_with("urn:") || *k == ENTERPRISE),
        "no bogus key: {keys:?}"
    );
    // The path-less form with the URN as a key, and a sub-attribute whose value is an object.
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "add", "value": {
                format!("{ENTERPRISE}:manager"): {"value": "mgr-1"},
                ENTERPRISE: {"division": "EMEA"}}}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json[ENTERPRISE]["manager"]["value"], "mgr-1");
    assert_eq!(r.json[ENTERPRISE]["division"], "EMEA");
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "remove", "path": ENTERPRISE}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json.get(ENTERPRISE).is_none(), "{}", r.json);
    assert_eq!(r.json["schemas"], json!([USER]));
    // An unknown schema URN is an invalid path; a filter that matches nothing, no target.
    let before = hub.snapshot().await;
    for (op, want) in [
        (
            json!({"op": "add", "path": "urn:ietf:params:scim:schemas:extension:nope:2.0:User:x", "value": "1"}),
            "invalidPath",
        ),
        (
            json!({"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "name.givenName.x", "value": "1"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "emails[value co \"@\"", "value": "1"}),
            "invalidPath",
        ),
        (
            json!({"op": "remove", "path": "emails[type eq \"other\"]"}),
            "noTarget",
        ),
        (
            json!({"op": "replace", "path": "emails[value ew \"@nowhere.test\"]",
                "value": {"value": "x@acme.test"}}),
            "noTarget",
        ),
    ] {
        let r = scim
            .call(Method::PATCH, &path, ops(json!([op.clone()])))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some(want));
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    hub.stop().await;
}

#[tokio::test]
async fn removing_active_does_not_reactivate_a_suspended_user() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let id = alice(&scim).await;
    let path = format!("/Users/{id}");
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let before = hub.snapshot().await;
    for op in [
        json!({"op": "remove", "path": "active"}),
        json!({"op": "replace", "path": "active", "value": null}),
        json!({"op": "replace", "value": {"active": null}}),
    ] {
        let r = scim.call(Method::PATCH, &path, ops(json!([op]))).await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("mutability"));
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    // A PUT that leaves `active` out keeps the status as it is.
    let r = scim
        .call(
            Method::PUT,
            &path,
            Some(json!({"schemas": [USER], "userName": "alice@acme.test", "displayName": "Alice"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["active"], false);
    assert_eq!(admin_user(&hub, "acme", &id).await["status"], "suspended");
    let actions: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .filter(|e| e["target"] == format!("user:{id}"))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["user.created", "user.suspended", "user.updated"]);
    hub.stop().await;
}

#[tokio::test]
async fn names_and_multi_valued_emails_are_kept_as_sent() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let id = alice(&scim).await;
    let path = format!("/Users/{id}");
    // name.formatted and displayName are two attributes.
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "name.formatted", "value": "Dr Alice Acme"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["name"]["formatted"], "Dr Alice Acme");
    assert_eq!(r.json["displayName"], "Alice A.");
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "replace", "path": "displayName", "value": "Alice"}])),
        )
        .await;
    assert_eq!(r.json["name"]["formatted"], "Dr Alice Acme");
    assert_eq!(r.json["displayName"], "Alice");
    // A multi-valued add keeps every value with its type; a new primary demotes the old one.
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "add", "path": "emails", "value": [
                {"value": "a.acme@acme.test", "type": "other", "primary": true}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["emails"],
        json!([{"value": "alice@acme.test", "type": "work", "primary": false},
               {"value": "alice.home@acme.test", "type": "home"},
               {"value": "a.acme@acme.test", "type": "other", "primary": true}])
    );
    assert_eq!(
        admin_user(&hub, "acme", &id).await["email"],
        "a.acme@acme.test"
    );
    let r = scim
        .call(
            Method::PATCH,
            &path,
            ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 2);
    let found = scim.find("emails.value eq \"alice@acme.test\"").await;
    assert_eq!(found["totalResults"], 1, "a secondary email is found too");
    // Every email is checked against the verified domains; one primary at most.
    let before = hub.snapshot().await;
    for body in [
        ops(json!([{"op": "add", "path": "emails", "value": [
            {"value": "alice@globex.test", "type": "home"}]}])),
        ops(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
            "value": "alice@globex.test"}]),
        ),
        ops(json!([{"op": "replace", "path": "phoneNumbers", "value": [
            {"value": "+1 555 0100", "primary": true}, {"value": "+1 555 0101", "primary": true}]}])),
        ops(json!([{"op": "add", "path": "phoneNumbers", "value": [{"value": "+1\n555"}]}])),
    ] {
        let r = scim.call(Method::PATCH, &path, body.clone()).await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    for body in [
        json!({"schemas": [USER], "userName": "bob@acme.test", "emails": [
            {"value": "bob@acme.test", "primary": true}, {"value": "b@acme.test", "primary": true}]}),
        json!({"schemas": [USER], "userName": "bob@acme.test", "emails": [
            {"value": "bob@acme.test"}, {"value": "bob@globex.test"}]}),
        json!({"schemas": [USER], "userName": "bob@acme.test", "emails": [{"type": "work"}]}),
    ] {
        let r = scim.call(Method::POST, "/Users", Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    hub.stop().await;
}
