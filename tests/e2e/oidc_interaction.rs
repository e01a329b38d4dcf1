//! Regression tests for the browser side of the provider: pending authorization requests
//! bounded per client and per address, `prompt=consent` and `prompt=select_account` done (not
//! only advertised), every advertised algorithm's key published before it signs, and
//! RP-initiated logout without `state`.

use hub_e2e::{Browser, Options, TestHub, form_value, pkce, query_param};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_hardening::{creds, metrics};
use crate::oidc_provider::{REDIRECT, confidential, fixture, signed_in_tokens, token};

/// GET /oauth2/authorize from `browser` as if from `ip` (the hub trusts one proxy hop).
async fn authorize_from(
    hub: &TestHub,
    browser: &Browser,
    ip: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let r = browser
        .client
        .get(format!("{}/oauth2/authorize", hub.url))
        .query(params)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), loc, r.text().await.unwrap())
}

fn auth_params<'a>(
    cid: &'a str,
    challenge: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("client_id", cid),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    p.extend_from_slice(extra);
    p
}

#[tokio::test]
async fn pending_authorization_requests_are_capped_per_address_and_client_and_expire() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        dev_login: true,
        clock: Some(clock.clone()),
        config: Some(|c| {
            c.oidc.max_pending_auth_requests_per_ip = 3;
            c.oidc.max_pending_auth_requests_per_client = 5;
            c.oidc.trusted_proxy_hops = 1;
        }),
        ..Default::default()
    })
    .await;
    let (_, apps) = fixture(&hub, &[confidential("App", REDIRECT)]).await;
    let (cid, _) = creds(&apps[0]);
    let (_, challenge) = pkce();
    let params = auth_params(&cid, &challenge, &[]);
    // A flood of sign-ins that never finish, each from a fresh browser.
    let flood = |ip: &'static str| {
        let (hub, params) = (&hub, &params);
        async move { authorize_from(hub, &Browser::new(), ip, params).await }
    };
    for _ in 0..3 {
        let (status, loc, _) = flood("203.0.113.1").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(loc.unwrap().starts_with("/login"));
    }
    let (status, loc, _) = flood("203.0.113.1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));
    // Other addresses fill the client's cap.
    for ip in ["203.0.113.2", "203.0.113.3"] {
        let (_, loc, _) = flood(ip).await;
        assert!(loc.unwrap().starts_with("/login"));
    }
    let (_, loc, _) = flood("203.0.113.4").await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("temporarily_unavailable")
    );
    let text = metrics(&hub).await;
    assert!(
        text.contains("hub_oauth_authorization_requests_refused_total{reason=\"per_ip\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("hub_oauth_authorization_requests_refused_total{reason=\"per_client\"} 1")
    );

    // They expire, and expired ones no longer count (nor stay stored).
    clock.advance(chrono::Duration::seconds(901));
    let (_, loc, _) = flood("203.0.113.1").await;
    assert!(loc.unwrap().starts_with("/login"));
    use sea_orm::{ConnectionTrait, Statement};
    let db = hub.db.connect().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM oidc_auth_requests",
        ))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    assert_eq!(n, 1, "expired requests are purged");
    hub.stop().await;
}

/// Creates a second active user of acme.
async fn add_user(hub: &TestHub, email: &str) -> String {
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/users",
            json!({"email": email, "name": "Bob Builder"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.json["id"].as_str().unwrap().to_string()
}

/// POSTs the interaction form of `page` with `action`; returns status and Location.
async fn interact(
    hub: &TestHub,
    browser: &Browser,
    page: &str,
    action: &str,
) -> (StatusCode, Option<String>, String) {
    let request = form_value(page, "request").expect("the page carries the request");
    let r = browser
        .client
        .post(format!("{}/oauth2/interaction", hub.url))
        .form(&[("request", request.as_str()), ("action", action)])
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), loc, r.text().await.unwrap())
}

#[tokio::test]
async fn prompt_consent_asks_the_person_and_is_remembered_in_the_audit_log() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let (_, apps) = fixture(&hub, &[confidential("Extranet", REDIRECT)]).await;
    let (cid, sec) = creds(&apps[0]);
    let browser = Browser::new();
    // A live session first (no consent asked without prompt=consent).
    signed_in_tokens(&hub, &browser, &cid, &sec, REDIRECT).await;
    let (_, challenge) = pkce();
    let params = auth_params(&cid, &challenge, &[("prompt", "consent")]);
    let (status, loc, page) = browser.authorize(&hub, &params).await;
    assert_eq!(status, StatusCode::OK, "{loc:?}");
    assert!(page.contains("Extranet"), "{page}");
    assert!(
        page.contains("email address"),
        "names what is released: {page}"
    );
    let (status, loc, _) = interact(&hub, &browser, &page, "deny").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st"));

    let (_, _, page) = browser.authorize(&hub, &params).await;
    let (status, loc, _) = interact(&hub, &browser, &page, "approve").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(
        loc.starts_with(REDIRECT) && query_param(&loc, "code").is_some(),
        "{loc}"
    );
    // The page's request is single use.
    let (status, loc, _) = interact(&hub, &browser, &page, "approve").await;
    assert_eq!((status, loc), (StatusCode::BAD_REQUEST, None));
    // Another browser cannot answer for this one.
    let (_, _, page) = browser.authorize(&hub, &params).await;
    let (status, loc, _) = interact(&hub, &Browser::new(), &page, "approve").await;
    assert_eq!((status, loc), (StatusCode::BAD_REQUEST, None));

    // After a fresh sign-in, consent comes before the code.
    let fresh = Browser::new();
    let (_, loc, _) = fresh.authorize(&hub, &params).await;
    let loc = loc.unwrap();
    assert!(loc.starts_with("/login"), "{loc}");
    let request = query_param(&format!("{}{loc}", hub.url), "request").unwrap();
    let r = fresh
        .client
        .post(format!("{}/login", hub.url))
        .form(&[("request", request.as_str()), ("email", "alice@acme.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let (status, loc, _) = interact(&hub, &fresh, &page, "approve").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(query_param(&loc.unwrap(), "code").is_some());
    let audit = hub
        .get(
            &hub.operator_key,
            "/api/v1/audit?action=oauth.consent_granted",
        )
        .await
        .json;
    assert_eq!(audit["events"].as_array().unwrap().len(), 2, "{audit}");
    hub.stop().await;
}

#[tokio::test]
async fn prompt_select_account_offers_to_continue_or_use_another_account() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let (alice, apps) = fixture(&hub, &[confidential("Extranet", REDIRECT)]).await;
    let bob = add_user(&hub, "bob@acme.test").await;
    let (cid, sec) = creds(&apps[0]);
    let browser = Browser::new();
    signed_in_tokens(&hub, &browser, &cid, &sec, REDIRECT).await;
    let (verifier, challenge) = pkce();
    let params = auth_params(&cid, &challenge, &[("prompt", "select_account")]);
    let redeem = |code: String| {
        let (hub, cid, sec, verifier) = (&hub, &cid, &sec, &verifier);
        async move {
            let (status, body, _) = token(
                hub,
                (cid, sec),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier),
                ],
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let payload = body["id_token"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap()
                .to_string();
            use base64::Engine;
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            claims["sub"].as_str().unwrap().to_string()
        }
    };
    let (status, _, page) = browser.authorize(&hub, &params).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("alice@acme.test"), "{page}");
    let (status, loc, _) = interact(&hub, &browser, &page, "continue").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let code = query_param(&loc.unwrap(), "code").unwrap();
    assert_eq!(redeem(code).await, alice);

    // "Use another account" restarts the sign-in.
    let (_, _, page) = browser.authorize(&hub, &params).await;
    let (status, loc, _) = interact(&hub, &browser, &page, "another").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with("/login"), "{loc}");
    let back = browser.sign_in(&hub, &loc, "bob@acme.test").await;
    let code = query_param(&back, "code").unwrap();
    assert_eq!(query_param(&back, "state").as_deref(), Some("st"));
    assert_eq!(redeem(code).await, bob);
    hub.stop().await;
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_string()
}

async fn jwks(hub: &TestHub) -> Vec<Value> {
    let doc = hub.call(Method::GET, "/oauth2/jwks", None, None).await.json;
    doc["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_fresh_hub_publishes_every_advertised_algorithm_before_it_signs() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let doc = hub
        .call(Method::GET, "/.well-known/openid-configuration", None, None)
        .await
        .json;
    // The relying party reads the JWKS before any token is issued, and caches it.
    let published = jwks(&hub).await;
    for alg in doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
    {
        assert!(
            published.iter().any(|k| k["alg"] == *alg),
            "{alg} advertised but not in the JWKS: {published:?}"
        );
    }
    let mut rs = confidential("Legacy", REDIRECT);
    rs["id_token_signed_response_alg"] = json!("RS256");
    let (_, apps) = fixture(&hub, &[rs]).await;
    let (cid, sec) = creds(&apps[0]);
    let t = signed_in_tokens(&hub, &Browser::new(), &cid, &sec, REDIRECT).await;
    let kid = kid_of(t["id_token"].as_str().unwrap());
    assert!(
        published
            .iter()
            .any(|k| k["kid"] == kid.as_str() && k["alg"] == "RS256"),
        "the RS256 ID token's key was not in the JWKS read before: {kid}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_key_added_to_a_running_hub_signs_only_after_the_publish_delay() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        dev_login: true,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    // A hub from before: it has its ES256 key, and no RS256 key yet.
    hub::signing::Signer::load_or_create(
        &hub.state.store,
        &hub.state.secrets,
        clock.as_ref(),
        "oidc-es256",
        hub::jose::Alg::ES256,
    )
    .await
    .unwrap();
    let published = jwks(&hub).await;
    let rsa: Vec<&Value> = published.iter().filter(|k| k["alg"] == "RS256").collect();
    assert_eq!(
        rsa.len(),
        1,
        "the new RS256 key is published at once: {published:?}"
    );
    let mut rs = confidential("Legacy", REDIRECT);
    rs["id_token_signed_response_alg"] = json!("RS256");
    let (_, apps) = fixture(&hub, &[rs]).await;
    let (cid, sec) = creds(&apps[0]);
    let browser = Browser::new();
    let (code, verifier) = crate::oidc_provider::code_for(&hub, &browser, &cid, REDIRECT).await;
    let (status, body, headers) = token(
        &hub,
        (&cid, &sec),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(headers.get("retry-after").is_some());
    clock.advance(chrono::Duration::seconds(
        hub.config.oidc.key_publish_secs as i64 + 1,
    ));
    let t = signed_in_tokens(&hub, &browser, &cid, &sec, REDIRECT).await;
    assert_eq!(
        kid_of(t["id_token"].as_str().unwrap()),
        rsa[0]["kid"].as_str().unwrap()
    );
    hub.stop().await;
}

#[tokio::test]
async fn logout_without_state_returns_to_the_exact_registered_uri() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let mut app = confidential("App", REDIRECT);
    app["post_logout_redirect_uris"] = json!(["https://app.acme.test/signed-out"]);
    let (_, apps) = fixture(&hub, &[app]).await;
    let (cid, sec) = creds(&apps[0]);
    let browser = Browser::new();
    let t = signed_in_tokens(&hub, &browser, &cid, &sec, REDIRECT).await;
    let r = browser
        .client
        .get(format!("{}/oauth2/logout", hub.url))
        .query(&[
            ("id_token_hint", t["id_token"].as_str().unwrap()),
            (
                "post_logout_redirect_uri",
                "https://app.acme.test/signed-out",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "https://app.acme.test/signed-out"
    );
    hub.stop().await;
}
