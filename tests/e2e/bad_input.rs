//! Bad input gets a clear 4xx problem and changes nothing: checked against a snapshot of every
//! table (the audit log included) before and after.

use hub_e2e::{Options, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Case {
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Body,
    status: StatusCode,
    detail_has: &'static str,
}

enum Body {
    Json(Value),
    Raw(&'static str, &'static str),
    Big(usize),
}

fn case(
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Body,
    status: u16,
    detail_has: &'static str,
) -> Case {
    Case {
        what,
        method,
        path,
        body,
        status: StatusCode::from_u16(status).unwrap(),
        detail_has,
    }
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let hub = TestHub::start_with(Options {
        max_body_bytes: Some(4096),
        ..Default::default()
    })
    .await;
    hub.create_org("acme").await;
    let r = hub
        .post(&hub.operator_key, "/api/v1/orgs/acme/applications", json!({
            "name": "Portal", "client_type": "public", "redirect_uris": ["https://portal.example.com/cb"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let app =
        |uris: Value| json!({"name": "New", "client_type": "confidential", "redirect_uris": uris});
    use Body::*;
    let cases = [
        case(
            "malformed JSON",
            Method::POST,
            "/api/v1/orgs",
            Raw("application/json", "{\"slug\": \"x\","),
            400,
            "not valid JSON",
        ),
        case(
            "not JSON at all",
            Method::POST,
            "/api/v1/orgs",
            Raw("application/json", "slug=x"),
            400,
            "not valid JSON",
        ),
        case(
            "wrong content type",
            Method::POST,
            "/api/v1/orgs",
            Raw("text/plain", "{}"),
            415,
            "Content-Type",
        ),
        case(
            "unknown field",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "beta", "name": "Beta", "admin": true})),
            422,
            "unknown field",
        ),
        case(
            "missing field",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "beta"})),
            422,
            "missing field",
        ),
        case(
            "wrong type",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": 7, "name": "Beta"})),
            422,
            "invalid type",
        ),
        case(
            "oversized body",
            Method::POST,
            "/api/v1/orgs",
            Big(64 * 1024),
            413,
            "larger than",
        ),
        case(
            "invalid slug",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "Not A Slug", "name": "Beta"})),
            422,
            "slug",
        ),
        case(
            "slug with trailing hyphen",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "beta-", "name": "Beta"})),
            422,
            "slug",
        ),
        case(
            "empty name",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "beta", "name": "  "})),
            422,
            "name",
        ),
        case(
            "control characters in name",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "beta", "name": "Be\u{0007}ta"})),
            422,
            "control",
        ),
        case(
            "duplicate slug",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "acme", "name": "Other"})),
            409,
            "slug",
        ),
        case(
            "duplicate name",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "acme2", "name": "acme Inc."})),
            409,
            "named",
        ),
        case(
            "invalid domain",
            Method::POST,
            "/api/v1/orgs/acme/domains",
            Json(json!({"domain": "not a domain"})),
            422,
            "domain",
        ),
        case(
            "IP as domain",
            Method::POST,
            "/api/v1/orgs/acme/domains",
            Json(json!({"domain": "10.0.0.1"})),
            422,
            "IP",
        ),
        case(
            "wildcard domain",
            Method::POST,
            "/api/v1/orgs/acme/domains",
            Json(json!({"domain": "*.acme.com"})),
            422,
            "wildcard",
        ),
        case(
            "single-label domain",
            Method::POST,
            "/api/v1/orgs/acme/domains",
            Json(json!({"domain": "localhost"})),
            422,
            "two labels",
        ),
        case(
            "duplicate application name",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(
                json!({"name": "Portal", "client_type": "public", "redirect_uris": ["https://p.example.com/cb"]}),
            ),
            409,
            "named",
        ),
        case(
            "no redirect URIs",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(app(json!([]))),
            422,
            "redirect",
        ),
        case(
            "http redirect to a remote host",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(app(json!(["http://evil.example.com/cb"]))),
            422,
            "loopback",
        ),
        case(
            "redirect with fragment",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(app(json!(["https://a.example.com/cb#x"]))),
            422,
            "fragment",
        ),
        case(
            "wildcard redirect",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(app(json!(["https://*.example.com/cb"]))),
            422,
            "wildcard",
        ),
        case(
            "unknown client type",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(
                json!({"name": "X", "client_type": "trusted", "redirect_uris": ["https://x.example.com"]}),
            ),
            422,
            "unknown variant",
        ),
        case(
            "operator role for an org key",
            Method::POST,
            "/api/v1/orgs/acme/api-keys",
            Json(json!({"name": "k", "role": "operator"})),
            422,
            "role",
        ),
        case(
            "bad audit query",
            Method::GET,
            "/api/v1/audit?after=yesterday",
            Json(Value::Null),
            400,
            "after",
        ),
        case(
            "NUL in audit action",
            Method::GET,
            "/api/v1/audit?action=a%00b",
            Json(Value::Null),
            400,
            "action",
        ),
        case(
            "NUL in redirect URI",
            Method::POST,
            "/api/v1/orgs/acme/applications",
            Json(app(json!(["https://a.example.com/\u{0}"]))),
            422,
            "control",
        ),
        case(
            "NUL in name",
            Method::POST,
            "/api/v1/orgs",
            Json(json!({"slug": "nul", "name": "a\u{0}b"})),
            422,
            "control",
        ),
        case(
            "unknown audit parameter",
            Method::GET,
            "/api/v1/audit?color=red",
            Json(Value::Null),
            400,
            "unknown field",
        ),
        case(
            "malformed application id",
            Method::GET,
            "/api/v1/orgs/acme/applications/not-a-uuid",
            Json(Value::Null),
            404,
            "application",
        ),
        case(
            "unknown organization",
            Method::GET,
            "/api/v1/orgs/nope",
            Json(Value::Null),
            404,
            "organization",
        ),
        case(
            "wrong method",
            Method::PUT,
            "/api/v1/orgs",
            Json(json!({})),
            405,
            "method",
        ),
    ];
    let before = hub.snapshot().await;
    for c in cases {
        let mut req = hub
            .client
            .request(c.method.clone(), format!("{}{}", hub.url, c.path))
            .bearer_auth(&hub.operator_key);
        req = match c.body {
            Body::Json(Value::Null) => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(ct, text) => req.header("content-type", ct).body(text),
            Body::Big(n) => req.header("content-type", "application/json").body(format!(
                "{{\"slug\":\"big\",\"name\":\"{}\"}}",
                "x".repeat(n)
            )),
        };
        let r = TestHub::read(req.send().await.unwrap()).await;
        assert_eq!(r.status, c.status, "{}: {r:?}", c.what);
        assert_eq!(r.content_type, "application/problem+json", "{}", c.what);
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(c.detail_has),
            "{}: detail {detail:?} lacks {:?}",
            c.what,
            c.detail_has
        );
        assert_eq!(r.json["status"], c.status.as_u16(), "{}", c.what);
    }
    assert_eq!(
        before,
        hub.snapshot().await,
        "a refused request changed the database or the audit log"
    );
    hub.stop().await;
}

#[tokio::test]
async fn hostile_path_and_header_values_do_not_crash_the_hub() {
    let hub = TestHub::start().await;
    hub.create_org("acme").await;
    let before = hub.snapshot().await;
    for path in [
        "/api/v1/orgs/%00",
        "/api/v1/orgs/..%2F..%2Fetc",
        "/api/v1/orgs/acme/domains/%E2%80%AE.com",
        "/api/v1/orgs/acme/domains/a%20b",
        "/api/v1/orgs/' OR 1=1 --",
        "/api/v1/orgs/acme/api-keys/00000000-0000-0000-0000-000000000000",
    ] {
        let r = hub.get(&hub.operator_key, path).await;
        assert!(r.status.is_client_error(), "{path}: {r:?}");
    }
    let long_key = "k".repeat(10_000);
    for key in [
        "Basic abc",
        "Bearer",
        "Bearer  ",
        "bearer hub_",
        long_key.as_str(),
    ] {
        let r = hub
            .client
            .get(format!("{}/api/v1/orgs", hub.url))
            .header("authorization", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{key:.20}");
    }
    assert_eq!(
        hub.get(&hub.operator_key, "/healthz").await.status,
        StatusCode::OK
    );
    assert_eq!(before, hub.snapshot().await);
    hub.stop().await;
}
