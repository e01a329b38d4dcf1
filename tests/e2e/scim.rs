//! The SCIM 2.0 service provider driven with the request sequences Okta and Entra ID send, and
//! with bad input: clear SCIM errors, nothing changed, no panic.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{audit_actions, org_with_domain};

pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A SCIM client as Okta or Entra ID: a base URL and a bearer token.
pub(crate) struct Scim {
    pub(crate) base: String,
    pub(crate) token: String,
    pub(crate) http: reqwest::Client,
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) json: Value,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Scim {
    /// Creates a SCIM directory for `slug` and a token for it.
    pub(crate) async fn connect(hub: &TestHub, slug: &str) -> Self {
        let r = hub
            .post(
                &hub.maker(slug),
                &format!("/api/v1/orgs/{slug}/directories"),
                json!({"name": "Corporate directory", "kind": "scim"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let base = r.json["scim_base_url"].as_str().unwrap().to_string();
        assert_eq!(base, format!("{}/scim/v2/{slug}", hub.url));
        let id = r.json["id"].as_str().unwrap();
        let t = hub
            .post(
                &hub.maker(slug),
                &format!("/api/v1/orgs/{slug}/directories/{id}/scim-tokens"),
                json!({"name": "provisioning"}),
            )
            .await;
        assert_eq!(t.status, StatusCode::CREATED, "{t:?}");
        let token = t.json["secret"].as_str().unwrap().to_string();
        assert!(token.starts_with("hubscim_"));
        Self {
            base,
            token,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    pub(crate) async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/scim+json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        if !text.is_empty() {
            assert_eq!(headers["content-type"], "application/scim+json", "{text}");
        }
        Answer {
            status,
            json,
            headers,
        }
    }

    pub(crate) async fn find(&self, filter: &str) -> Value {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", filter)
            .append_pair("startIndex", "1")
            .append_pair("count", "100")
            .finish();
        let r = self.call(Method::GET, &format!("/Users?{q}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        r.json
    }
}

pub(crate) fn assert_error(a: &Answer, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.json);
    assert_eq!(
        a.json["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(a.json["status"], status.as_u16().to_string());
    if let Some(t) = scim_type {
        assert_eq!(a.json["scimType"], t, "{}", a.json);
    }
}

pub(crate) async fn admin_user(hub: &TestHub, slug: &str, id: &str) -> Value {
    let r = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/{slug}/users/{id}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json
}

#[tokio::test]
async fn okta_creates_updates_deactivates_and_reactivates_a_user() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let okta = Scim::connect(&hub, "acme").await;

    // Okta looks the user up first, then creates them.
    let found = okta.find(r#"userName eq "alice@acme.test""#).await;
    assert_eq!(found["totalResults"], 0);
    assert_eq!(found["Resources"], json!([]));
    let created = okta
        .call(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER],
                "userName": "alice@acme.test",
                "name": {"givenName": "Alice", "familyName": "Acme"},
                "emails": [{"primary": true, "value": "alice@acme.test", "type": "work"}],
                "displayName": "Alice Acme",
                "locale": "en-US",
                "externalId": "00u1abcd",
                "groups": [],
                "password": "Secr3t!",
                "active": true
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.headers["location"],
        format!("{}/Users/{id}", okta.base).as_str()
    );
    assert_eq!(created.json["meta"]["version"], "W/\"1\"");
    assert_eq!(created.headers["etag"], "W/\"1\"");
    assert_eq!(
        created.json["locale"], "en-US",
        "unmodelled attributes are kept"
    );
    assert!(
        created.json.get("password").is_none(),
        "a password is never kept"
    );
    let found = okta.find(r#"userName eq "ALICE@acme.test""#).await;
    assert_eq!(
        found["totalResults"], 1,
        "userName compares case-insensitively"
    );
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // A profile change: Okta PUTs the whole user.
    let put = okta
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": [USER], "id": id, "userName": "alice@acme.test",
                "name": {"givenName": "Alice", "familyName": "Anderson"},
                "emails": [{"primary": true, "value": "alice@acme.test", "type": "work"}],
                "displayName": "Alice Anderson", "active": true, "externalId": "00u1abcd"
            })),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.json);
    assert_eq!(put.json["name"]["familyName"], "Anderson");
    assert_eq!(put.json["meta"]["version"], "W/\"2\"");
    assert_eq!(
        admin_user(&hub, "acme", &id).await["name"],
        "Alice Anderson"
    );

    // Deactivation and reactivation, as Okta sends them.
    for (active, status) in [(false, "suspended"), (true, "active")] {
        let r = okta
            .call(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(json!({"schemas": [PATCH_OP],
                    "Operations": [{"op": "replace", "value": {"active": active}}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(r.json["active"], active);
        assert_eq!(admin_user(&hub, "acme", &id).await["status"], status);
    }
    let events = audit_actions(&hub, "acme").await;
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["target"] == format!("user:{id}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "user.updated",
            "user.suspended",
            "user.reactivated"
        ]
    );
    let created_event = events
        .iter()
        .find(|e| e["action"] == "user.created")
        .unwrap();
    assert_eq!(created_event["actor"]["kind"], "directory");
    assert_eq!(created_event["details"]["source"], "scim");
    hub.stop().await;
}

#[tokio::test]
async fn entra_creates_patches_deactivates_deletes_and_rehires_a_user() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let entra = Scim::connect(&hub, "acme").await;
    let found = entra.find(r#"userName eq "bob@acme.test""#).await;
    assert_eq!(found["totalResults"], 0);
    let created = entra
        .call(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [USER, ENTERPRISE],
                "externalId": "bob",
                "userName": "bob@acme.test",
                "active": true,
                "displayName": "Bob Builder",
                "emails": [{"primary": true, "type": "work", "value": "bob@acme.test"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Bob Builder", "familyName": "Builder", "givenName": "Bob"},
                "phoneNumbers": [{"primary": true, "type": "work", "value": "+1 555 0100"}],
                "title": "Engineer",
                ENTERPRISE: {"department": "Engineering", "employeeNumber": "42"}
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(created.json[ENTERPRISE]["department"], "Engineering");
    assert!(
        created.json["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE))
    );
    let by_external = entra.find(r#"externalId eq "bob""#).await;
    assert_eq!(by_external["totalResults"], 1);

    // Entra's PATCH: capitalized ops, paths with filters and extension URNs.
    let r = entra
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Bob B. Builder"},
                {"op": "Replace", "path": "name.familyName", "value": "B. Builder"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "robert@acme.test"},
                {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "mgr-1"}},
                {"op": "Replace", "path": "title", "value": "Lead"}
            ]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["displayName"], "Bob B. Builder");
    assert_eq!(r.json["emails"][0]["value"], "robert@acme.test");
    assert_eq!(r.json[ENTERPRISE]["manager"]["value"], "mgr-1");
    assert_eq!(r.json[ENTERPRISE]["department"], "Engineering");
    assert_eq!(r.json["title"], "Lead");
    let user = admin_user(&hub, "acme", &id).await;
    assert_eq!(user["email"], "robert@acme.test");

    // If-Match with a stale version is refused and changes nothing.
    let stale = entra
        .call_with(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Stale"}]})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_error(&stale, StatusCode::PRECONDITION_FAILED, None);

    // Deactivation: Entra sends the string "False".
    let r = entra
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": "active", "value": "False"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["active"], false);
    assert_eq!(admin_user(&hub, "acme", &id).await["status"], "suspended");
    let inactive = entra.find("active eq false").await;
    assert_eq!(inactive["totalResults"], 1);

    // Deletion deprovisions: gone from SCIM, kept (and audited) in the hub.
    let r = entra
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = entra.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_error(&r, StatusCode::NOT_FOUND, None);
    assert_eq!(
        admin_user(&hub, "acme", &id).await["status"],
        "deprovisioned"
    );
    let r = entra
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, None);

    // A rehire: the same person pushed again keeps their id (and so their `sub`).
    let again = entra
        .call(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [USER], "userName": "bob@acme.test", "active": true,
                "emails": [{"primary": true, "type": "work", "value": "bob@acme.test"}],
                "name": {"givenName": "Bob", "familyName": "Builder"}}),
            ),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
    assert_eq!(again.json["id"], id.as_str());
    assert_eq!(admin_user(&hub, "acme", &id).await["status"], "active");
    let actions: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .filter(|e| e["target"] == format!("user:{id}"))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "user.updated",
            "user.suspended",
            "user.deprovisioned",
            "user.reactivated"
        ]
    );
    hub.stop().await;
}

#[tokio::test]
async fn bad_scim_requests_get_scim_errors_and_change_nothing() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let acme = Scim::connect(&hub, "acme").await;
    let globex = Scim::connect(&hub, "globex").await;
    let existing = acme
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "alice@acme.test"})),
        )
        .await;
    assert_eq!(existing.status, StatusCode::CREATED, "{}", existing.json);
    let id = existing.json["id"].as_str().unwrap().to_string();
    // Both tokens have been used (their last use is recorded at most once a minute).
    let warm = globex
        .call(Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(warm.status, StatusCode::OK);
    let before = hub.snapshot().await;

    // Wrong, missing and another organization's tokens.
    for token in ["", "hubscim_nope", "Basic abc"] {
        let r = reqwest::Client::new()
            .get(format!("{}/Users", acme.base))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().contains_key("www-authenticate"));
    }
    let cross = Scim {
        base: acme.base.clone(),
        token: globex.token.clone(),
        http: reqwest::Client::new(),
    };
    assert_error(
        &cross.call(Method::GET, &format!("/Users/{id}"), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &cross.call(Method::GET, "/Users", None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        &globex
            .call(Method::GET, &format!("/Users/{id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        None,
    );

    // Malformed, unknown and hostile filters.
    for filter in [
        "userName eq",
        "userName xx \"a\"",
        "nosuchattribute eq \"a\"",
        "userName eq \"a\" and (",
        &format!("{}userName eq \"a\"{}", "(".repeat(5000), ")".repeat(5000)),
        &format!(
            "{}userName eq \"a\"{}",
            "not (".repeat(200),
            ")".repeat(200)
        ),
        &vec!["userName eq \"a\""; 500].join(" or "),
        "meta.created gt \"yesterday\"",
        "active eq \"maybe\"",
    ] {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", filter)
            .finish();
        let r = acme.call(Method::GET, &format!("/Users?{q}"), None).await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    let r = acme.call(Method::GET, "/Users?count=abc", None).await;
    assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Bodies that cannot be a user.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    for body in [
        json!("a string"),
        json!({"schemas": [USER]}),
        json!({"schemas": [USER], "userName": 5}),
        json!({"schemas": [USER], "userName": "eve@evil.test"}),
        json!({"schemas": [USER], "userName": "x", "emails": "nope"}),
        json!({"schemas": [USER], "userName": "a\u{0}b@acme.test"}),
        json!({"schemas": [USER], "userName": "b@acme.test", "active": "perhaps"}),
        json!({"schemas": [USER], "userName": "b@acme.test", "blob": "x".repeat(20_000)}),
    ] {
        let r = acme.call(Method::POST, "/Users", Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.json);
    }
    let r = reqwest::Client::new()
        .post(format!("{}/Users", acme.base))
        .bearer_auth(&acme.token)
        .header("content-type", "application/scim+json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = reqwest::Client::new()
        .post(format!("{}/Users", acme.base))
        .bearer_auth(&acme.token)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = reqwest::Client::new()
        .post(format!("{}/Users", acme.base))
        .bearer_auth(&acme.token)
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A duplicate userName, and a PATCH that cannot apply.
    let dup = acme
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "Alice@acme.test"})),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, Some("uniqueness"));
    for ops in [
        json!([{"op": "explode", "path": "userName", "value": "x"}]),
        json!([{"op": "remove"}]),
        json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        json!([{"op": "replace", "path": "userName", "value": 7}]),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@elsewhere.test"}]),
    ] {
        let r = acme
            .call(
                Method::PATCH,
                &format!("/Users/{id}"),
                Some(json!({"schemas": [PATCH_OP], "Operations": ops})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ops}: {}", r.json);
    }
    for path in [
        "/Users/not-an-id",
        "/Users/01a208a6-2f8f-71ae-9313-b1e1a1305e84",
    ] {
        assert_error(
            &acme.call(Method::GET, path, None).await,
            StatusCode::NOT_FOUND,
            None,
        );
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");

    // The service is still there, and discovery answers.
    let r = acme.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["patch"]["supported"], true);
    assert_eq!(r.json["etag"]["supported"], true);
    for path in ["/ResourceTypes", "/Schemas"] {
        let r = acme.call(Method::GET, path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.json["totalResults"].as_u64().unwrap() >= 1);
    }
    // A revoked token stops working at once.
    let dirs = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/directories")
        .await;
    let dir = dirs.json[0]["id"].as_str().unwrap();
    let tokens = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/scim-tokens"),
        )
        .await;
    let tid = tokens.json[0]["id"].as_str().unwrap();
    assert!(
        tokens.json[0]["last_used_at"].is_string(),
        "{}",
        tokens.json
    );
    let r = hub
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/directories/{dir}/scim-tokens/{tid}"),
            Some(&hub.operator_key),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &acme.call(Method::GET, "/Users", None).await,
        StatusCode::UNAUTHORIZED,
        None,
    );
    hub.stop().await;
}

pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

pub(crate) async fn scim_user(scim: &Scim, user_name: &str) -> String {
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": user_name, "active": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.json["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn groups_pushed_by_okta_and_entra_follow_memberships_into_the_groups_claim() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let okta = Scim::connect(&hub, "acme").await;
    let alice = scim_user(&okta, "alice@acme.test").await;
    let bob = scim_user(&okta, "bob@acme.test").await;
    let outsider = scim_user(&Scim::connect(&hub, "globex").await, "eve@globex.test").await;
    let groups_of = |id: String| {
        let hub = &hub;
        async move { admin_user(hub, "acme", &id).await["groups"].clone() }
    };

    // Okta: create, add a member, rename, remove the member by filter.
    let g = okta
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Engineering", "members": []})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.json);
    let gid = g.json["id"].as_str().unwrap().to_string();
    let patch = |ops: Value| json!({"schemas": [PATCH_OP], "Operations": ops});
    let r = okta
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "add", "path": "members",
                "value": [{"value": alice, "display": "alice@acme.test"}]}]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    assert_eq!(groups_of(alice.clone()).await, json!(["Engineering"]));
    let r = okta
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "replace",
                "value": {"id": gid, "displayName": "Platform Engineering"}}]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    assert_eq!(
        groups_of(alice.clone()).await,
        json!(["Platform Engineering"])
    );
    let got = okta
        .call(Method::GET, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(got.json["members"][0]["value"], alice.as_str());
    assert_eq!(got.json["members"][0]["display"], "alice@acme.test");
    let r = okta
        .call(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(patch(json!([{"op": "remove",
                "path": format!("members[value eq \"{alice}\"]")}]))),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(groups_of(alice.clone()).await, json!([]));

    // Entra: look up by name without members, create, add, remove by value list.
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", "displayName eq \"Sales\"")
        .append_pair("excludedAttributes", "members")
        .finish();
    let found = okta.call(Method::GET, &format!("/Groups?{q}"), None).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.json["totalResults"], 0);
    let s = okta
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "externalId": "8aa1", "displayName": "Sales",
                "members": []}),
            ),
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.json);
    let sid = s.json["id"].as_str().unwrap().to_string();
    for (op, want) in [("Add", json!(["Sales"])), ("Remove", json!([]))] {
        let r = okta
            .call(
                Method::PATCH,
                &format!("/Groups/{sid}"),
                Some(patch(
                    json!([{"op": op, "path": "members", "value": [{"value": bob}]}]),
                )),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
        assert_eq!(groups_of(bob.clone()).await, want);
    }
    let found = okta.call(Method::GET, &format!("/Groups?{q}"), None).await;
    assert_eq!(found.json["totalResults"], 1);
    assert!(found.json["Resources"][0].get("members").is_none());

    // Members must be users of this organization: an unknown id or another organization's
    // user is refused, and nothing changes.
    let before = hub.snapshot().await;
    for member in [
        outsider.as_str(),
        "01a208a6-2f8f-71ae-9313-b1e1a1305e84",
        "nope",
    ] {
        let r = okta
            .call(
                Method::PATCH,
                &format!("/Groups/{sid}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": member}]}]),
                )),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
    assert_eq!(before, hub.snapshot().await);

    let r = okta
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_error(
        &okta
            .call(Method::GET, &format!("/Groups/{gid}"), None)
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    let actions: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .filter(|e| e["target"] == format!("group:{gid}"))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "group.created",
            "group.updated",
            "group.updated",
            "group.updated",
            "group.deleted"
        ]
    );
    hub.stop().await;
}
