//! The provider's tokens after sign-in: refresh rotation and reuse, forged tokens at
//! introspection and userinfo, private_key_jwt client credentials, discovery and key rotation,
//! suspension of a person, and a client's secret rotated or the client deleted.

use hub_e2e::{Browser, Options, TestHub, pkce};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_provider::{
    REDIRECT, confidential, fixture, hub_with_app, introspect, signed_in_tokens, token,
};

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let (hub, cid, sec) = hub_with_app(REDIRECT).await;
    let (cid, sec, redirect) = (cid.as_str(), sec.as_str(), REDIRECT);
    let first = signed_in_tokens(&hub, &Browser::new(), cid, sec, redirect).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second, _) = token(
        &hub,
        (cid, sec),
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    // Narrowing is allowed, widening is not.
    let (status, body, _) = token(
        &hub,
        (cid, sec),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2),
            ("scope", "openid email profile"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // r1 again: theft assumed, the family (r2 and its access token) is revoked.
    let (status, _, _) = token(
        &hub,
        (cid, sec),
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body, _) = token(
        &hub,
        (cid, sec),
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&hub, (cid, sec), second["access_token"].as_str().unwrap()).await["active"],
        false
    );
    let audit = hub
        .get(
            &hub.operator_key,
            "/api/v1/audit?action=oauth.refresh_token_reused",
        )
        .await
        .json;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn forged_tokens_are_inactive_at_introspection_and_userinfo() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let (hub, cid, sec) = hub_with_app(REDIRECT).await;
    let (cid, sec, redirect) = (cid.as_str(), sec.as_str(), REDIRECT);
    let issued = signed_in_tokens(&hub, &Browser::new(), cid, sec, redirect).await;
    let real = issued["access_token"].as_str().unwrap();
    let parts: Vec<&str> = real.split('.').collect();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"].as_str().unwrap();

    // alg=none with the real claims.
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": kid, "typ": "at+jwt"})
            .to_string()
            .as_bytes()),
        parts[1]
    );
    // HS256 "signed" with the public JWK as the secret (key confusion).
    let hs = format!(
        "{}.{}.{}",
        b64(json!({"alg": "HS256", "kid": kid, "typ": "at+jwt"})
            .to_string()
            .as_bytes()),
        parts[1],
        parts[2]
    );
    // ES256 signed by an attacker's key under the hub's kid.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let attacker =
        hub::jose::PrivateKey::from_pkcs8(hub::jose::Alg::ES256, pkcs8.as_ref()).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    let wrong_key = hub::jose::sign(&attacker, kid, "at+jwt", &claims).unwrap();
    // The real signature over edited claims.
    let mut edited = claims.clone();
    edited["scope"] = json!("openid email profile groups");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(edited.to_string().as_bytes()),
        parts[2]
    );

    assert_eq!(introspect(&hub, (cid, sec), real).await["active"], true);
    for forged in [
        none.as_str(),
        hs.as_str(),
        wrong_key.as_str(),
        tampered.as_str(),
        "not.a.jwt",
        "",
    ] {
        if !forged.is_empty() {
            assert_eq!(
                introspect(&hub, (cid, sec), forged).await,
                json!({"active": false}),
                "{forged:.40}"
            );
        }
        let r = hub
            .client
            .get(format!("{}/oauth2/userinfo", hub.url))
            .bearer_auth(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn private_key_jwt_client_credentials_and_assertion_replay() {
    let hub = TestHub::start().await;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let key = hub::jose::PrivateKey::from_pkcs8(hub::jose::Alg::ES256, pkcs8.as_ref()).unwrap();
    let mut service = json!({"name": "Service", "client_type": "confidential", "redirect_uris": ["https://svc.acme.test/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.public_jwk("svc-1")]},
        "allow_client_credentials": true});
    let (_, apps) = fixture(&hub, &[service.take()]).await;
    let cid = apps[0]["application"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
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
    let call = |a: String| {
        let hub = &hub;
        async move {
            let r = hub
                .client
                .post(format!("{}/oauth2/token", hub.url))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "reports:read"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let token_endpoint = format!("{}/oauth2/token", hub.url);
    let good = assertion(&token_endpoint, "jti-1");
    let (status, body) = call(good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_null() && body["id_token"].is_null());
    assert_eq!(body["scope"], "reports:read");
    let (status, _) = call(good).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a replayed assertion must be refused"
    );
    let (status, _) = call(assertion("https://elsewhere.example/token", "jti-2")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong audience");
    // An assertion signed by another key.
    let other = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let other = hub::jose::PrivateKey::from_pkcs8(hub::jose::Alg::ES256, other.as_ref()).unwrap();
    let forged = hub::jose::sign(&other, "svc-1", "JWT", &json!({"iss": cid, "sub": cid, "aud": token_endpoint, "iat": now, "exp": now + 60, "jti": "jti-3"})).unwrap();
    let (status, _) = call(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

#[tokio::test]
async fn discovery_jwks_and_key_rotation() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let doc = hub
        .call(Method::GET, "/.well-known/openid-configuration", None, None)
        .await
        .json;
    assert_eq!(doc["issuer"], hub.url.as_str());
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["backchannel_logout_supported"], true);
    let jwks = hub.call(Method::GET, "/oauth2/jwks", None, None).await.json;
    let keys = jwks["keys"].as_array().unwrap();
    let mut kinds: Vec<(&str, &str)> = keys
        .iter()
        .map(|k| (k["kty"].as_str().unwrap(), k["alg"].as_str().unwrap()))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [("EC", "ES256"), ("RSA", "RS256")]);
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "no private material in the JWKS");
        }
    }

    let redirect = "https://app.acme.test/cb";
    let (_, apps) = fixture(&hub, &[confidential("App", redirect)]).await;
    let (cid, sec) = (
        apps[0]["application"]["client_id"].as_str().unwrap(),
        apps[0]["client_secret"].as_str().unwrap(),
    );
    let browser = Browser::new();
    let before = signed_in_tokens(&hub, &browser, cid, sec, redirect).await;
    let old_token = before["access_token"].as_str().unwrap().to_string();

    let out = hub.cli(&["keys", "rotate", "--publish-secs", "0"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // This hub caches keys; a fresh state sees the rotation at once (replicas do after key_cache_secs).
    let fresh = hub::keys::KeyRing::new(
        hub.state.store.clone(),
        hub.state.secrets.clone(),
        hub.state.clock.clone(),
        std::time::Duration::from_secs(0),
        std::time::Duration::from_secs(3600),
    );
    let jwks = fresh.jwks().await.unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        4,
        "old and new keys of both algorithms published"
    );
    let new_kid = fresh
        .signer(hub::jose::Alg::ES256)
        .await
        .unwrap()
        .kid()
        .to_string();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str())
    );
    // Tokens signed by the old key keep verifying while it is published.
    assert_eq!(
        introspect(&hub, (cid, sec), &old_token).await["active"],
        true
    );
    let verify = hub.cli(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    hub.stop().await;
}

#[tokio::test]
async fn suspending_a_user_ends_their_sessions_and_tokens_at_once() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let redirect = "https://app.acme.test/cb";
    let (user_id, apps) = fixture(&hub, &[confidential("App", redirect)]).await;
    let (cid, sec) = (
        apps[0]["application"]["client_id"].as_str().unwrap(),
        apps[0]["client_secret"].as_str().unwrap(),
    );
    let browser = Browser::new();
    let t = signed_in_tokens(&hub, &browser, cid, sec, redirect).await;
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{user_id}"),
            Some(&hub.operator_key),
            Some(&json!({"status": "suspended", "reason": "left the company"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        introspect(&hub, (cid, sec), t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    let (status, _, _) = token(
        &hub,
        (cid, sec),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The browser session is gone too: the next authorization asks to sign in again.
    let (_, challenge) = pkce();
    let (_, loc, _) = browser
        .authorize(
            &hub,
            &[
                ("client_id", cid),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert!(loc.unwrap().starts_with("/login"));
    hub.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_or_deleted_client_is_refused_at_once_despite_the_client_cache() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let mut svc = confidential("Service", "https://svc.acme.test/cb");
    svc["allow_client_credentials"] = json!(true);
    let (_, apps) = fixture(&hub, &[svc]).await;
    let app_id = apps[0]["application"]["id"].as_str().unwrap();
    let cid = apps[0]["application"]["client_id"].as_str().unwrap();
    let old = apps[0]["client_secret"].as_str().unwrap();
    let grant = [("grant_type", "client_credentials")];
    // The first grant puts the client in the cache.
    let (status, body, _) = token(&hub, (cid, old), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let op = hub.operator_key.clone();
    let path = format!("/api/v1/orgs/acme/applications/{app_id}");
    let r = hub.post(&op, &format!("{path}/secret"), json!(null)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let new = r.json["client_secret"].as_str().unwrap().to_string();
    let (status, _, _) = token(&hub, (cid, old), &grant).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old secret still worked"
    );
    let (status, body, _) = token(&hub, (cid, &new), &grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let r = hub.call(Method::DELETE, &path, Some(&op), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let (status, body, _) = token(&hub, (cid, &new), &grant).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a deleted client still authenticated"
    );
    hub.stop().await;
}

/// POSTs `body` to the UserInfo endpoint with `content_type` and `bearer` (each if given).
async fn post_userinfo(
    hub: &TestHub,
    content_type: Option<&str>,
    body: &str,
    bearer: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = hub
        .client
        .post(format!("{}/oauth2/userinfo", hub.url))
        .body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, json)
}

/// RFC 6750 §2.2 and §3.1, OIDC Core §5.3.3: a malformed UserInfo request is `invalid_request`
/// as JSON with the Bearer challenge naming the error, never a plain-text 415.
#[tokio::test]
async fn userinfo_by_post_answers_malformed_requests_with_bearer_errors() {
    let (hub, cid, sec) = hub_with_app(REDIRECT).await;
    let issued = signed_in_tokens(&hub, &Browser::new(), &cid, &sec, REDIRECT).await;
    let at = issued["access_token"].as_str().unwrap();
    let form = "application/x-www-form-urlencoded";
    let in_body = format!("access_token={at}");
    let twice = format!("access_token={at}&access_token={at}");
    let json_body = json!({ "access_token": at }).to_string();
    for (what, ct, body, bearer) in [
        (
            "a JSON body",
            Some("application/json"),
            json_body.as_str(),
            Some(at),
        ),
        (
            "a JSON body alone",
            Some("application/json"),
            json_body.as_str(),
            None,
        ),
        ("a text body", Some("text/plain"), in_body.as_str(), None),
        ("a body without a type", None, in_body.as_str(), Some(at)),
        ("a repeated parameter", Some(form), twice.as_str(), None),
        (
            "two methods at once",
            Some(form),
            in_body.as_str(),
            Some(at),
        ),
    ] {
        let (status, headers, json) = post_userinfo(&hub, ct, body, bearer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
        assert_eq!(json["error"], "invalid_request", "{what}: {json}");
        assert!(json["error_description"].is_string(), "{what}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_request\""),
            "{what}: {challenge}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{what}");
    }
    let (_, _, json) = post_userinfo(&hub, Some(form), &twice, None).await;
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{json}"
    );
    // Well-formed POSTs: the token in the form body, or in the header with an empty body (with
    // or without a form content type) or beside other form parameters.
    for (what, ct, body, bearer) in [
        ("in the form body", Some(form), in_body.as_str(), None),
        ("in the header, no body", None, "", Some(at)),
        ("in the header, empty form", Some(form), "", Some(at)),
        (
            "in the header, other parameters",
            Some(form),
            "x=1",
            Some(at),
        ),
    ] {
        let (status, _, json) = post_userinfo(&hub, ct, body, bearer).await;
        assert_eq!(status, StatusCode::OK, "{what}: {json}");
        assert_eq!(json["email"], "alice@acme.test", "{what}");
    }
    // A bad token stays invalid_token (401), whatever the method.
    let (status, headers, json) =
        post_userinfo(&hub, Some(form), "access_token=not.a.jwt", None).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    hub.stop().await;
}
