//! Regression tests for what outside attackers and third-party OAuth clients found at the
//! token, introspection and revocation endpoints: suspended organizations' clients, PKCE by
//! default, public clients at introspection, throttled client authentication, request bodies
//! and repeated parameters, `WWW-Authenticate`, discovery's signing algorithms and the reasons
//! a client assertion is refused. Each test is written from the client's (or attacker's) side.

use hub_e2e::{Browser, Options, TestHub, pkce, query_param};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_provider::{REDIRECT, code_for, confidential, fixture, signed_in_tokens, token};

/// `(client_id, client_secret)` of a created application.
pub(crate) fn creds(app: &Value) -> (String, String) {
    (
        app["application"]["client_id"]
            .as_str()
            .unwrap()
            .to_string(),
        app["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// POSTs `body` with `content_type` (if any) and optional Basic credentials.
pub(crate) async fn post_raw(
    hub: &TestHub,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    basic: Option<(&str, &str)>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = hub
        .client
        .post(format!("{}{path}", hub.url))
        .body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// POSTs a form with optional Basic credentials.
pub(crate) async fn post_form(
    hub: &TestHub,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, HeaderMap, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    post_raw(
        hub,
        path,
        Some("application/x-www-form-urlencoded"),
        &body,
        basic,
    )
    .await
}

pub(crate) async fn metrics(hub: &TestHub) -> String {
    hub.client
        .get(format!("{}/metrics", hub.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn suspend(hub: &TestHub, org: &str) {
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/{org}"),
            Some(&hub.operator_key),
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn a_suspended_organizations_clients_get_no_tokens() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let mut svc = confidential("Service", "https://svc.acme.test/cb");
    svc["allow_client_credentials"] = json!(true);
    let (_, apps) = fixture(&hub, &[svc, confidential("App", REDIRECT)]).await;
    let (sid, ssec) = creds(&apps[0]);
    let (aid, asec) = creds(&apps[1]);
    let grant = [("grant_type", "client_credentials")];
    let (status, body, _) = token(&hub, (&sid, &ssec), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let person = signed_in_tokens(&hub, &Browser::new(), &aid, &asec, REDIRECT).await;

    suspend(&hub, "acme").await;
    // No signed access token for a suspended organization's service client.
    let (status, body, _) = token(&hub, (&sid, &ssec), &grant).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{body}"
    );
    assert!(body["access_token"].is_null());
    // Nor a refreshed one, nor an introspection answer.
    let refresh = person["refresh_token"].as_str().unwrap();
    let (status, body, _) = token(
        &hub,
        (&aid, &asec),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["access_token"].is_null());
    let (status, _, body) = post_form(
        &hub,
        "/oauth2/introspect",
        &[("token", person["access_token"].as_str().unwrap())],
        Some((&aid, &asec)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    // Authorization requests are refused too (back to the client, with state).
    let (_, challenge) = pkce();
    let (status, loc, _) = Browser::new()
        .authorize(
            &hub,
            &[
                ("client_id", aid.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("state", "st"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    hub.stop().await;
}

#[tokio::test]
async fn pkce_is_required_by_default_and_always_for_public_clients() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let spa = json!({"name": "SPA", "client_type": "public", "redirect_uris": ["https://spa.acme.test/cb"]});
    let (_, apps) = fixture(&hub, &[confidential("App", REDIRECT), spa]).await;
    assert_eq!(apps[0]["application"]["require_pkce"], true, "{}", apps[0]);
    let (cid, _) = creds(&apps[0]);
    let no_pkce = [
        ("client_id", cid.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    let browser = Browser::new();
    let (status, loc, _) = browser.authorize(&hub, &no_pkce).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        query_param(&loc, "error_description")
            .unwrap()
            .contains("code_challenge")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));

    // An admin may relax it for a confidential client, never for a public one.
    let path = |i: usize| {
        format!(
            "/api/v1/orgs/acme/applications/{}",
            apps[i]["application"]["id"].as_str().unwrap()
        )
    };
    let op = hub.operator_key.clone();
    let r = hub
        .call(
            Method::PATCH,
            &path(0),
            Some(&op),
            Some(&json!({"require_pkce": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["require_pkce"], false);
    let (status, loc, _) = browser.authorize(&hub, &no_pkce).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().starts_with("/login"));
    let r = hub
        .call(
            Method::PATCH,
            &path(1),
            Some(&op),
            Some(&json!({"require_pkce": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    hub.stop().await;
}

#[tokio::test]
async fn public_clients_may_not_introspect_and_revoke_only_their_own_tokens() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let spa_redirect = "https://spa.acme.test/cb";
    let spa = json!({"name": "SPA", "client_type": "public", "redirect_uris": [spa_redirect]});
    let (_, apps) = fixture(&hub, &[spa, confidential("App", REDIRECT)]).await;
    let (pid, _) = creds(&apps[0]);
    let (cid, csec) = creds(&apps[1]);
    let browser = Browser::new();
    let (code, verifier) = code_for(&hub, &browser, &pid, spa_redirect).await;
    let (status, _, tokens) = post_form(
        &hub,
        "/oauth2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", spa_redirect),
            ("client_id", &pid),
            ("code_verifier", &verifier),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // RFC 7662 §2.1: the caller must authenticate; a public client has nothing to show.
    let (status, headers, body) = post_form(
        &hub,
        "/oauth2/introspect",
        &[("token", access), ("client_id", &pid)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(body.get("active").is_none());
    assert!(headers.get("www-authenticate").is_none());

    // Another client's token is left alone; its own is revoked.
    let other = signed_in_tokens(&hub, &Browser::new(), &cid, &csec, REDIRECT).await;
    let other_refresh = other["refresh_token"].as_str().unwrap();
    for t in [other_refresh, refresh] {
        let (status, _, _) = post_form(
            &hub,
            "/oauth2/revoke",
            &[("token", t), ("client_id", &pid)],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body, _) = token(
        &hub,
        (&cid, &csec),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", other_refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = post_form(
        &hub,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &pid),
        ],
        None,
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "{status} {body}");
    hub.stop().await;
}

/// Two confidential clients A and B that may use the client credentials grant: their
/// (client id, secret).
async fn two_service_clients(hub: &TestHub) -> ((String, String), (String, String)) {
    let mut a = confidential("A", "https://a.acme.test/cb");
    a["allow_client_credentials"] = json!(true);
    let mut b = confidential("B", "https://b.acme.test/cb");
    b["allow_client_credentials"] = json!(true);
    let (_, apps) = fixture(hub, &[a, b]).await;
    (creds(&apps[0]), creds(&apps[1]))
}

#[tokio::test]
async fn wrong_client_secrets_are_counted_and_throttled_for_a_bounded_window() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        clock: Some(clock.clone()),
        config: Some(|c| {
            c.oidc.client_auth_max_failures = 5;
            c.oidc.client_auth_max_failures_per_ip = 8;
            c.oidc.client_auth_window_secs = 60;
        }),
        ..Default::default()
    })
    .await;
    let ((aid, asec), (bid, bsec)) = two_service_clients(&hub).await;
    let grant = [("grant_type", "client_credentials")];
    let guess = "guessed-secret-0123456789";
    for _ in 0..5 {
        let (status, body, _) = token(&hub, (&aid, guess), &grant).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Locked: even the right secret is not looked at until the window ends.
    let (status, body, headers) = token(&hub, (&aid, &asec), &grant).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client from the same address is not locked by A's failures...
    let (status, body, _) = token(&hub, (&bid, &bsec), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...until the address itself has failed too often, whatever the client.
    for _ in 0..3 {
        let (status, _, _) = token(&hub, ("nobody-at-all", guess), &grant).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body, _) = token(&hub, (&bid, &bsec), &grant).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");

    let text = metrics(&hub).await;
    assert!(
        text.contains("hub_oauth_client_auth_failures_total{reason=\"wrong_secret\"} 5"),
        "{text}"
    );
    assert!(text.contains("hub_oauth_client_auth_failures_total{reason=\"unknown_client\"} 3"));
    assert!(text.contains("hub_oauth_client_auth_failures_total{reason=\"throttled\"} 2"));
    assert!(!text.contains(guess) && !text.contains(&asec));

    // The window is bounded: the real client gets in again.
    clock.advance(chrono::Duration::seconds(61));
    let (status, body, _) = token(&hub, (&aid, &asec), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = token(&hub, (&bid, &bsec), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hub.stop().await;
}

/// Guessing codes or refresh tokens is throttled like guessing secrets: a client that sends
/// tokens the hub never issued is locked out from that address for the window, another client
/// is not.
#[tokio::test]
async fn guessed_codes_and_refresh_tokens_are_counted_and_throttled() {
    let hub = TestHub::start_with(Options {
        config: Some(|c| {
            c.oidc.client_auth_max_failures = 5;
            c.oidc.client_auth_max_failures_per_ip = 100;
        }),
        ..Default::default()
    })
    .await;
    let ((aid, asec), (bid, bsec)) = two_service_clients(&hub).await;
    for i in 0..5 {
        let guess = format!("guessed-{i}-0123456789abcdef");
        let grant = if i % 2 == 0 {
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", guess.as_str()),
            ]
        } else {
            [
                ("grant_type", "authorization_code"),
                ("code", guess.as_str()),
            ]
        };
        let (status, body, _) = token(&hub, (&aid, &asec), &grant).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    let grant = [("grant_type", "client_credentials")];
    let (status, body, headers) = token(&hub, (&aid, &asec), &grant).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key("retry-after"));
    let (status, body, _) = token(&hub, (&bid, &bsec), &grant).await;
    assert_eq!(status, StatusCode::OK, "another client is served: {body}");
    let text = metrics(&hub).await;
    assert!(
        text.contains("hub_oauth_client_auth_failures_total{reason=\"unknown_grant\"} 5"),
        "{text}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn token_introspection_and_revocation_answer_bad_bodies_with_oauth_errors() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let mut svc = confidential("Service", REDIRECT);
    svc["allow_client_credentials"] = json!(true);
    let (_, apps) = fixture(&hub, &[svc]).await;
    let (cid, sec) = creds(&apps[0]);
    let auth = Some((cid.as_str(), sec.as_str()));
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        for (ct, body) in [
            (
                Some("application/json"),
                r#"{"grant_type":"client_credentials"}"#,
            ),
            (None, ""),
            (Some("text/plain"), "token=abc"),
        ] {
            let (status, headers, json) = post_raw(&hub, path, ct, body, auth).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {ct:?}: {json}");
            assert_eq!(json["error"], "invalid_request", "{path} {ct:?}");
            assert!(
                headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json")
            );
        }
    }
    // RFC 6749 §3.1/§3.2: a parameter must not be sent twice.
    for (path, body) in [
        (
            "/oauth2/token",
            "grant_type=client_credentials&grant_type=client_credentials",
        ),
        (
            "/oauth2/token",
            "grant_type=client_credentials&scope=a&scope=b",
        ),
        ("/oauth2/introspect", "token=a&token=b"),
        ("/oauth2/revoke", "token=a&token=b"),
    ] {
        let (status, _, json) = post_raw(
            &hub,
            path,
            Some("application/x-www-form-urlencoded"),
            body,
            auth,
        )
        .await;
        assert_eq!(
            (status, json["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{path} {body}: {json}"
        );
        assert!(
            json["error_description"]
                .as_str()
                .unwrap()
                .contains("more than once")
        );
    }
    // A charset parameter is fine.
    let (status, _, json) = post_raw(
        &hub,
        "/oauth2/token",
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        "grant_type=client_credentials",
        auth,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");

    // On /authorize too: once the client and redirect URI are known, back to the client.
    let (_, challenge) = pkce();
    let (status, loc, _) = Browser::new()
        .authorize(
            &hub,
            &[
                ("client_id", cid.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
                ("scope", "openid email"),
                ("state", "st"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    hub.stop().await;
}

#[tokio::test]
async fn invalid_client_challenges_only_the_scheme_the_client_tried() {
    let hub = TestHub::start().await;
    let mut post = confidential("Post", "https://post.acme.test/cb");
    post["token_endpoint_auth_method"] = json!("client_secret_post");
    post["allow_client_credentials"] = json!(true);
    let (_, apps) = fixture(&hub, &[confidential("Basic", REDIRECT), post]).await;
    let (bid, _) = creds(&apps[0]);
    let (pid, _) = creds(&apps[1]);
    for (path, extra) in [
        ("/oauth2/token", ("grant_type", "client_credentials")),
        ("/oauth2/introspect", ("token", "x")),
        ("/oauth2/revoke", ("token", "x")),
    ] {
        let (status, headers, body) = post_form(&hub, path, &[extra], Some((&bid, "wrong"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"], "invalid_client");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{path}: {challenge}");
        // Credentials in the body (or none at all): no challenge, just the OAuth error.
        for form in [
            vec![
                extra,
                ("client_id", pid.as_str()),
                ("client_secret", "wrong"),
            ],
            vec![extra, ("client_id", "unknown-client")],
            vec![extra],
        ] {
            let (status, headers, body) = post_form(&hub, path, &form, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {form:?}");
            assert_eq!(body["error"], "invalid_client");
            assert!(
                headers.get("www-authenticate").is_none(),
                "{path} {form:?}: {:?}",
                headers.get("www-authenticate")
            );
        }
    }
    hub.stop().await;
}

/// An EC P-256 client key and its private_key_jwt assertion maker.
pub(crate) fn client_key() -> hub::jose::PrivateKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    hub::jose::PrivateKey::from_pkcs8(hub::jose::Alg::ES256, pkcs8.as_ref()).unwrap()
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn discovery_advertises_only_what_is_done_and_private_key_jwt_works_everywhere() {
    let hub = TestHub::start().await;
    let doc = hub
        .call(Method::GET, "/.well-known/openid-configuration", None, None)
        .await
        .json;
    // RFC 8414 §2: each endpoint offering private_key_jwt lists its signing algorithms.
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = doc[format!("{endpoint}_endpoint_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(methods.iter().any(|m| m == "private_key_jwt"), "{endpoint}");
        assert_eq!(
            doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["ES256", "RS256"]),
            "{endpoint}"
        );
    }
    assert_eq!(
        doc["prompt_values_supported"],
        json!(["none", "login", "consent", "select_account"])
    );

    let key = client_key();
    let svc = json!({"name": "Service", "client_type": "confidential", "redirect_uris": ["https://svc.acme.test/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("svc-1")]},
        "allow_client_credentials": true});
    let (_, apps) = fixture(&hub, &[svc]).await;
    let (cid, _) = creds(&apps[0]);
    let now = chrono::Utc::now().timestamp();
    let assertion = |aud: &str, jti: &str| {
        hub::jose::sign(
            &key,
            "svc-1",
            "JWT",
            &json!({"iss": cid, "sub": cid, "aud": aud, "iat": now, "exp": now + 60, "jti": jti}),
        )
        .unwrap()
    };
    let a = assertion(&hub.url, "t-1");
    let (status, _, body) = post_form(
        &hub,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &a),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    // The issuer or the endpoint called is the audience (RFC 7523 §3, RFC 9700 §2.5).
    for (i, (path, aud)) in [
        ("/oauth2/introspect", hub.url.clone()),
        (
            "/oauth2/introspect",
            format!("{}/oauth2/introspect", hub.url),
        ),
        ("/oauth2/revoke", format!("{}/oauth2/revoke", hub.url)),
    ]
    .into_iter()
    .enumerate()
    {
        let a = assertion(&aud, &format!("i-{i}"));
        let (status, _, body) = post_form(
            &hub,
            path,
            &[
                ("token", &access),
                ("client_id", &cid),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &a),
            ],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path} {aud}: {body}");
        if path == "/oauth2/introspect" {
            assert_eq!(body["active"], true, "{body}");
        }
    }
    hub.stop().await;
}

#[tokio::test]
async fn a_refused_client_assertion_says_why() {
    let hub = TestHub::start().await;
    let key = client_key();
    let svc = json!({"name": "Service", "client_type": "confidential", "redirect_uris": ["https://svc.acme.test/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("svc-1")]},
        "allow_client_credentials": true});
    let (_, apps) = fixture(&hub, &[svc]).await;
    let (cid, _) = creds(&apps[0]);
    let now = chrono::Utc::now().timestamp();
    let endpoint = format!("{}/oauth2/token", hub.url);
    let sign = |k: &hub::jose::PrivateKey, kid: &str, claims: Value| {
        hub::jose::sign(k, kid, "JWT", &claims).unwrap()
    };
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": cid, "sub": cid, "aud": aud, "iat": now, "exp": exp, "jti": jti});
    let call = |a: String| {
        let hub = &hub;
        async move {
            let (status, _, body) = post_form(
                hub,
                "/oauth2/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &a),
                ],
                None,
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(body["error"], "invalid_client");
            body["error_description"].as_str().unwrap().to_string()
        }
    };
    let good = sign(&key, "svc-1", claims(&endpoint, now + 60, "j-1"));
    let (status, _, body) = post_form(
        &hub,
        "/oauth2/token",
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &good),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = client_key();
    for (assertion, why) in [
        (good, "replay"),
        (
            sign(&key, "svc-1", claims(&endpoint, now + 3600, "j-2")),
            "expir",
        ),
        (
            sign(&key, "svc-1", claims(&endpoint, now - 120, "j-3")),
            "expired",
        ),
        (
            sign(
                &key,
                "svc-1",
                claims("https://elsewhere.example/token", now + 60, "j-4"),
            ),
            "audience",
        ),
        (
            sign(&other, "svc-1", claims(&endpoint, now + 60, "j-5")),
            "signature",
        ),
        (
            sign(&other, "svc-9", claims(&endpoint, now + 60, "j-6")),
            "key",
        ),
    ] {
        let description = call(assertion).await;
        assert!(
            description.to_lowercase().contains(why),
            "{why}: {description}"
        );
    }
    // Still counted, by reason, never by value.
    let text = metrics(&hub).await;
    assert!(
        text.contains("hub_oauth_client_auth_failures_total{reason=\"bad_assertion\"} 6"),
        "{text}"
    );
    hub.stop().await;
}
