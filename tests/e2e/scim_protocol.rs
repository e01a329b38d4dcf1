//! RFC 7644 as a third-party SCIM client reads it: discovery documents at the addresses their
//! `meta.location` names, SCIM errors for every failure under `/scim/v2`, `/.search`, and the
//! `attributes` / `excludedAttributes` parameters.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::org_with_domain;
use crate::scim::{ENTERPRISE, GROUP, PATCH_OP, Scim, USER, assert_error, scim_user};

const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A request with any body and content type; the answer must be a SCIM document.
async fn raw(
    scim: &Scim,
    method: Method,
    url: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = scim.http.request(method, url).bearer_auth(&scim.token);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.body(body).send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    assert_eq!(
        ct.as_deref(),
        Some("application/scim+json"),
        "{status}: {text}"
    );
    (status, serde_json::from_str(&text).unwrap())
}

fn assert_scim_error(status: StatusCode, json: &Value, want: StatusCode) {
    assert_eq!(status, want, "{json}");
    assert_eq!(json["schemas"], json!([ERROR]), "{json}");
    assert_eq!(json["status"], want.as_u16().to_string(), "{json}");
    assert!(json["detail"].is_string(), "{json}");
}

#[tokio::test]
async fn every_discovery_document_is_served_where_its_location_points() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    for list in ["/Schemas", "/ResourceTypes"] {
        let r = scim.call(Method::GET, list, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        for item in r.json["Resources"].as_array().unwrap() {
            let location = item["meta"]["location"].as_str().unwrap();
            let path = location.strip_prefix(&scim.base).unwrap();
            let one = scim.call(Method::GET, path, None).await;
            assert_eq!(one.status, StatusCode::OK, "{path}: {}", one.json);
            assert_eq!(&one.json, item, "{path}");
        }
    }
    let user = scim
        .call(Method::GET, &format!("/Schemas/{USER}"), None)
        .await;
    assert_eq!(user.json["id"], USER);
    let rt = scim.call(Method::GET, "/ResourceTypes/Group", None).await;
    assert_eq!(rt.json["schema"], GROUP);
    for path in [
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope",
        "/ResourceTypes/Nope",
    ] {
        assert_error(
            &scim.call(Method::GET, path, None).await,
            StatusCode::NOT_FOUND,
            None,
        );
    }
    // The Group schema publishes what group responses carry.
    let group = scim
        .call(Method::GET, &format!("/Schemas/{GROUP}"), None)
        .await;
    let members = group.json["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap()
        .clone();
    let subs: Vec<&str> = members["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for want in ["value", "display", "$ref", "type"] {
        assert!(subs.contains(&want), "{subs:?}");
    }
    // ServiceProviderConfig says what is and is not there.
    let spc = scim.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(spc.json["bulk"]["supported"], false);
    assert_eq!(spc.json["filter"]["supported"], true);
    assert_eq!(spc.json["patch"]["supported"], true);
    hub.stop().await;
}

#[tokio::test]
async fn every_failure_under_the_scim_base_is_a_scim_error() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let id = scim_user(&scim, "alice@acme.test").await;
    let base = scim.base.clone();
    let root = base.trim_end_matches("/acme").to_string();
    let before = hub.snapshot().await;
    for (method, url, want) in [
        (Method::GET, format!("{base}/Nope"), StatusCode::NOT_FOUND),
        (
            Method::GET,
            format!("{base}/Users/{id}/x"),
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, base.clone(), StatusCode::NOT_FOUND),
        (Method::GET, format!("{root}/"), StatusCode::NOT_FOUND),
        (
            Method::GET,
            format!("{root}/nope/Users"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            format!("{base}/Users"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            format!("{base}/Users/{id}"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::PUT,
            format!("{base}/ServiceProviderConfig"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            format!("{base}/Users/.search"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            format!("{base}/Me"),
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            Method::POST,
            format!("{base}/Bulk"),
            StatusCode::NOT_IMPLEMENTED,
        ),
        (
            Method::POST,
            format!("{base}/.search"),
            StatusCode::NOT_IMPLEMENTED,
        ),
    ] {
        let (status, json) = raw(&scim, method.clone(), &url, None, Vec::new()).await;
        assert_scim_error(status, &json, want);
        assert!(
            !json["detail"].as_str().unwrap().contains("openapi"),
            "{method} {url}: {json}"
        );
    }
    // Bodies: not JSON, another media type, too large.
    let users = format!("{base}/Users");
    let cases: Vec<(Option<&str>, Vec<u8>, StatusCode)> = vec![
        (
            Some("application/scim+json"),
            b"{\"userName\": ".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("text/plain"),
            br#"{"userName": "b@acme.test"}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"userName=b@acme.test".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/scim+json"),
            vec![b' '; 2 * 1024 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (ct, body, want) in cases {
        let (status, json) = raw(&scim, Method::POST, &users, ct, body).await;
        assert_scim_error(status, &json, want);
    }
    // application/json is accepted as well (RFC 7644 §3.1).
    let (status, json) = raw(
        &scim,
        Method::POST,
        &users,
        Some("application/json; charset=utf-8"),
        json!({"schemas": [USER], "userName": "json@acme.test"})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let after = hub.snapshot().await;
    assert_ne!(before, after);
    hub.stop().await;
}

#[tokio::test]
async fn search_by_post_finds_users_and_groups() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let alice = scim_user(&scim, "alice@acme.test").await;
    scim_user(&scim, "bob@acme.test").await;
    let g = scim
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": [GROUP], "displayName": "Sales", "members": [{"value": alice}]}),
            ),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.json);
    let r = scim
        .call(
            Method::POST,
            "/Users/.search",
            Some(json!({"schemas": [SEARCH], "filter": "userName sw \"ali\"",
                "attributes": ["userName"], "startIndex": 1, "count": 10})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["totalResults"], 1);
    assert_eq!(
        r.json["Resources"][0],
        json!({"schemas": [USER], "id": alice, "userName": "alice@acme.test"})
    );
    let r = scim
        .call(
            Method::POST,
            "/Groups/.search",
            Some(
                json!({"schemas": [SEARCH], "filter": "displayName eq \"sales\"",
                "excludedAttributes": ["members", "meta"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["totalResults"], 1);
    assert!(
        r.json["Resources"][0].get("members").is_none(),
        "{}",
        r.json
    );
    assert_eq!(r.json["Resources"][0]["displayName"], "Sales");
    // A bad search is a SCIM error.
    for body in [
        json!({"schemas": [SEARCH], "filter": "userName eq"}),
        json!({"schemas": [SEARCH], "count": "ten"}),
        json!({"schemas": ["urn:nope"], "filter": "userName pr"}),
        json!("search"),
    ] {
        let r = scim
            .call(Method::POST, "/Users/.search", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.json);
    }
    hub.stop().await;
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_every_answer() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let created = scim
        .call(
            Method::POST,
            "/Users?attributes=userName,name.givenName",
            Some(
                json!({"schemas": [USER, ENTERPRISE], "userName": "alice@acme.test",
                "name": {"givenName": "Alice", "familyName": "Acme"},
                "emails": [{"value": "alice@acme.test", "type": "work", "primary": true}],
                "title": "Engineer",
                ENTERPRISE: {"department": "R&D", "employeeNumber": "7"}}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.json,
        json!({"schemas": [USER], "id": id, "userName": "alice@acme.test",
            "name": {"givenName": "Alice"}})
    );
    // GET one, GET the list, PUT and PATCH answers.
    let one = scim
        .call(
            Method::GET,
            &format!("/Users/{id}?excludedAttributes=emails,name,meta,id"),
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["id"], id.as_str(), "id is always returned");
    assert!(one.json.get("emails").is_none() && one.json.get("name").is_none());
    assert!(one.json.get("meta").is_none());
    assert_eq!(one.json["title"], "Engineer");
    assert_eq!(one.json[ENTERPRISE]["department"], "R&D");
    let q = format!("attributes={ENTERPRISE}:department,emails.value");
    let list = scim.call(Method::GET, &format!("/Users?{q}"), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    assert_eq!(
        list.json["Resources"][0],
        json!({"schemas": [USER, ENTERPRISE], "id": id,
            "emails": [{"value": "alice@acme.test"}], ENTERPRISE: {"department": "R&D"}})
    );
    let patched = scim
        .call(
            Method::PATCH,
            &format!("/Users/{id}?attributes=title"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "title", "value": "Lead"}]})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json);
    assert_eq!(
        patched.json,
        json!({"schemas": [USER], "id": id, "title": "Lead"})
    );
    let put = scim
        .call(
            Method::PUT,
            &format!("/Users/{id}?excludedAttributes={ENTERPRISE}"),
            Some(
                json!({"schemas": [USER, ENTERPRISE], "userName": "alice@acme.test",
                ENTERPRISE: {"department": "Sales"}}),
            ),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.json);
    assert!(put.json.get(ENTERPRISE).is_none(), "{}", put.json);
    assert_eq!(put.json["schemas"], json!([USER]));
    // A password is never returned, even when asked for.
    let r = scim
        .call(
            Method::GET,
            &format!("/Users/{id}?attributes=password,userName"),
            None,
        )
        .await;
    assert_eq!(
        r.json,
        json!({"schemas": [USER], "id": id, "userName": "alice@acme.test"})
    );
    // Groups: attributes=displayName leaves the members out.
    let g = scim
        .call(
            Method::POST,
            "/Groups?attributes=displayName",
            Some(json!({"schemas": [GROUP], "displayName": "Sales", "members": [{"value": id}]})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.json);
    let gid = g.json["id"].as_str().unwrap();
    assert_eq!(
        g.json,
        json!({"schemas": [GROUP], "id": gid, "displayName": "Sales"})
    );
    let g = scim
        .call(
            Method::GET,
            &format!("/Groups/{gid}?attributes=members.value"),
            None,
        )
        .await;
    assert_eq!(
        g.json,
        json!({"schemas": [GROUP], "id": gid, "members": [{"value": id}]})
    );
    hub.stop().await;
}

/// Guessing SCIM tokens (issue 17): an address that failed too often gets 429 with Retry-After
/// in SCIM's error format, and nothing it sends is looked at (not even a real token) until its
/// window ends; the directory's real client at another address is served throughout.
#[tokio::test]
async fn guessing_scim_tokens_is_throttled_per_address_and_the_real_client_keeps_working() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(hub_e2e::Options {
        clock: Some(clock.clone()),
        config: Some(|c| {
            c.server.bearer_auth_max_failures_per_ip = 5;
            c.server.bearer_auth_window_secs = 60;
            c.oidc.trusted_proxy_hops = 1;
        }),
        ..Default::default()
    })
    .await;
    crate::federation::org_with_domain(&hub, "acme", "acme.test").await;
    let okta = crate::scim::Scim::connect(&hub, "acme").await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let guesser = "198.51.100.66";
    let real = "192.0.2.10";
    let guess = crate::scim::Scim {
        base: okta.base.clone(),
        token: "hubscim_guessed0123456789abcdef".into(),
        http: reqwest::Client::new(),
    };
    for _ in 0..5 {
        let r = guess
            .call_with(Method::GET, "/Users", None, &from(guesser))
            .await;
        crate::scim::assert_error(&r, StatusCode::UNAUTHORIZED, None);
    }
    // Locked: another guess, and even the real token from that address, wait.
    for client in [&guess, &okta] {
        let r = client
            .call_with(Method::GET, "/Users", None, &from(guesser))
            .await;
        crate::scim::assert_error(&r, StatusCode::TOO_MANY_REQUESTS, None);
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
    // The real client elsewhere is served, and its work goes through.
    let r = okta
        .call_with(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [crate::scim::USER],
                "userName": "ada@acme.test",
                "name": {"givenName": "Ada", "familyName": "L"},
                "emails": [{"value": "ada@acme.test", "primary": true}],
                "active": true
            })),
            &from(real),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    // Failures are counted, not logged one event each, and no guess reaches the log.
    let metrics = hub.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.json.as_str().unwrap();
    assert!(
        text.contains("hub_anonymous_failures_total{surface=\"scim_auth\"} 5"),
        "{text}"
    );
    assert!(text.contains("hub_anonymous_failures_total{surface=\"scim_auth_throttled\"} 2"));
    // The window is bounded: the address is heard again once it ends.
    clock.advance(chrono::Duration::seconds(61));
    let r = okta
        .call_with(Method::GET, "/Users", None, &from(guesser))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    hub.stop().await;
}
