//! The hub as OpenID Connect provider: a real client library (npm `openid-client`) as the
//! downstream application, a real back-channel logout receiver (npm `jose`), and negative tests
//! in the spirit of the OpenID conformance suite.

use hub_e2e::{Browser, NodePeer, Options, TestHub, free_port, pkce, query_param, run_node};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An organization `acme` with a verified domain, an active user, and what `app` describes.
pub(crate) async fn fixture(hub: &TestHub, apps: &[Value]) -> (String, Vec<Value>) {
    let op = hub.operator_key.clone();
    hub.create_org("acme").await;
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/domains/acme.test/attest",
            json!({"reason": "test fixture"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/users",
            json!({
            "email": "alice@acme.test", "name": "Alice Liddell", "given_name": "Alice",
            "family_name": "Liddell", "groups": ["engineering", "partners"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let user_id = r.json["id"].as_str().unwrap().to_string();
    let mut created = Vec::new();
    for app in apps {
        let r = hub
            .post(&op, "/api/v1/orgs/acme/applications", app.clone())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        created.push(r.json);
    }
    (user_id, created)
}

pub(crate) fn confidential(name: &str, redirect: &str) -> Value {
    json!({"name": name, "client_type": "confidential", "redirect_uris": [redirect]})
}

fn step<'a>(lines: &'a [Value], name: &str, app: Option<i64>) -> &'a Value {
    lines
        .iter()
        .find(|l| l["step"] == name && app.is_none_or(|a| l["app"] == a))
        .unwrap_or_else(|| panic!("no {name} step in {lines:#?}"))
}

// Multi-threaded: the hub runs in this test's runtime and must serve the receiver's JWKS fetch
// while the test waits for the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_refreshes_revokes_and_logs_out_with_back_channel() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    let recv_port = free_port();
    let (r1, r2) = (
        "http://127.0.0.1:9/app1/callback",
        "http://127.0.0.1:9/app2/callback",
    );
    let mut app1 = confidential("Extranet", r1);
    app1["post_logout_redirect_uris"] = json!(["http://127.0.0.1:9/app1/signed-out"]);
    // The organization's own directory groups reach an application only if its policy says.
    app1["release"] = json!({"claims": ["email", "name", "preferred_username", "groups"],
        "groups": ["*"]});
    app1["backchannel_logout_uri"] = json!(format!("http://127.0.0.1:{recv_port}/bcl/app1"));
    let mut app2 = confidential("Partner portal", r2);
    app2["backchannel_logout_uri"] = json!(format!("http://127.0.0.1:{recv_port}/bcl/app2"));
    app2["id_token_signed_response_alg"] = json!("RS256");
    let (user_id, apps) = fixture(&hub, &[app1, app2]).await;
    let id = |i: usize| {
        apps[i]["application"]["client_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let secret = |i: usize| apps[i]["client_secret"].as_str().unwrap().to_string();

    let receiver = NodePeer::start(
        "bcl-receiver.mjs",
        &[
            ("PORT", recv_port.to_string()),
            ("ISSUER", hub.url.clone()),
            ("AUDIENCES", format!("{},{}", id(0), id(1))),
        ],
    );
    let (ok, lines, log) = run_node(
        "rp.mjs",
        &[
            ("ISSUER", hub.url.clone()),
            ("EMAIL", "alice@acme.test".into()),
            ("APP1_ID", id(0)),
            ("APP1_SECRET", secret(0)),
            ("APP1_REDIRECT", r1.into()),
            ("APP2_ID", id(1)),
            ("APP2_SECRET", secret(1)),
            ("APP2_REDIRECT", r2.into()),
        ],
    )
    .await;
    assert!(ok, "{log}");

    let login = step(&lines, "login", Some(1));
    assert_eq!(login["signedIn"], true);
    assert_eq!(
        login["iss_param"],
        hub.url.as_str(),
        "RFC 9207 iss in the authorization response"
    );
    assert_eq!(login["header"]["alg"], "ES256");
    let claims = &login["claims"];
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["iss"], hub.url.as_str());
    assert_eq!(claims["email"], "alice@acme.test");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["org"]["slug"], "acme");
    assert_eq!(claims["groups"], json!(["engineering", "partners"]));
    assert!(claims["sid"].is_string() && claims["auth_time"].is_number());
    let userinfo = &step(&lines, "userinfo", Some(1))["userinfo"];
    assert_eq!(userinfo["email"], "alice@acme.test");
    assert_eq!(userinfo["sub"], user_id.as_str());

    let refresh = step(&lines, "refresh", None);
    assert_eq!(
        (
            refresh["rotated"].as_bool(),
            refresh["new_access"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let revoke = step(&lines, "revoke", None);
    assert_eq!(revoke["refusedAfterRevoke"], true);
    assert_eq!(revoke["accessActiveAfterRevoke"], false);

    // The second application reuses the hub session (no sign-in) and gets RS256 ID tokens.
    let login2 = step(&lines, "login", Some(2));
    assert_eq!(login2["signedIn"], false);
    assert_eq!(login2["header"]["alg"], "RS256");
    // One hub session, under a sid of the second application's own.
    assert!(login2["claims"]["sid"].is_string());
    assert_ne!(login2["claims"]["sid"], claims["sid"]);

    let logout = step(&lines, "logout", None);
    assert_eq!(logout["status"], 303);
    assert_eq!(
        logout["location"],
        "http://127.0.0.1:9/app1/signed-out?state=bye"
    );
    let after = step(&lines, "after_logout", None);
    assert_eq!(after["refusedAfterLogout"], true);
    assert_eq!(after["accessActive"], false);

    // Both applications got a valid logout token for the session.
    let mut got = tokio::task::block_in_place(|| receiver.take(2, 60));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 2, "{got:?}");
    for (line, (path, aud, sid)) in got.iter().zip([
        ("/bcl/app1", id(0), &claims["sid"]),
        ("/bcl/app2", id(1), &login2["claims"]["sid"]),
    ]) {
        assert_eq!(line["path"], path);
        assert_eq!(line["valid"], true, "{line}");
        assert_eq!(line["aud"], aud.as_str());
        assert_eq!(&line["sid"], sid, "the sid of that application's ID token");
        assert_eq!(line["sub"], user_id.as_str());
        assert_eq!(line["contentType"], "application/x-www-form-urlencoded");
    }
    let audit = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/audit?limit=1000")
        .await
        .json;
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["session.started", "tokens.revoked", "session.ended"] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    hub.stop().await;
}

pub(crate) const REDIRECT: &str = "https://app.acme.test/cb";

/// A hub with the development sign-in and one confidential application; its client id and secret.
pub(crate) async fn hub_with_app(redirect: &str) -> (TestHub, String, String) {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let (_, apps) = fixture(&hub, &[confidential("App", redirect)]).await;
    let cid = apps[0]["application"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sec = apps[0]["client_secret"].as_str().unwrap().to_string();
    (hub, cid, sec)
}

/// Signs alice in and exchanges the code: the token response.
pub(crate) async fn signed_in_tokens(
    hub: &TestHub,
    browser: &Browser,
    cid: &str,
    sec: &str,
    redirect: &str,
) -> Value {
    let (code, verifier) = code_for(hub, browser, cid, redirect).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body, _) = token(hub, (cid, sec), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Signs alice in through `browser` for `client_id` and returns the code and PKCE verifier.
pub(crate) async fn code_for(
    hub: &TestHub,
    browser: &Browser,
    client_id: &str,
    redirect: &str,
) -> (String, String) {
    code_for_user(hub, browser, client_id, redirect, "alice@acme.test").await
}

/// Signs `email` in (development sign-in) through `browser` for `client_id`, or reuses the
/// browser's hub session; returns the code and PKCE verifier.
pub(crate) async fn code_for_user(
    hub: &TestHub,
    browser: &Browser,
    client_id: &str,
    redirect: &str,
    email: &str,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, loc, _) = browser
        .authorize(
            hub,
            &[
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid email offline_access"),
                ("state", "s1"),
                ("nonce", "n1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    let back = if loc.starts_with("/login") {
        browser.sign_in(hub, &loc, email).await
    } else {
        loc
    };
    assert!(back.starts_with(redirect), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
    (query_param(&back, "code").unwrap(), verifier)
}

pub(crate) async fn token(
    hub: &TestHub,
    auth: (&str, &str),
    form: &[(&str, &str)],
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let r = hub
        .client
        .post(format!("{}/oauth2/token", hub.url))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

pub(crate) async fn introspect(hub: &TestHub, auth: (&str, &str), tok: &str) -> Value {
    let r = hub
        .client
        .post(format!("{}/oauth2/introspect", hub.url))
        .basic_auth(auth.0, Some(auth.1))
        .form(&[("token", tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn codes_are_single_use_and_a_replay_revokes_what_they_issued() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let redirect = "https://app.acme.test/cb";
    let (_, apps) = fixture(
        &hub,
        &[
            confidential("App", redirect),
            confidential("Other", "https://other.acme.test/cb"),
        ],
    )
    .await;
    let (cid, sec) = (
        apps[0]["application"]["client_id"].as_str().unwrap(),
        apps[0]["client_secret"].as_str().unwrap(),
    );
    let (oid, osec) = (
        apps[1]["application"]["client_id"].as_str().unwrap(),
        apps[1]["client_secret"].as_str().unwrap(),
    );
    let browser = Browser::new();

    let (code, verifier) = code_for(&hub, &browser, cid, redirect).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    // Another client's valid credentials cannot redeem it.
    let (status, body, _) = token(&hub, (oid, osec), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body, headers) = token(&hub, (cid, sec), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&hub, (cid, sec), &access).await["active"], true);
    // Tenant-neutral introspection: the other application of the same org may ask; it is active.
    assert_eq!(introspect(&hub, (oid, osec), &access).await["active"], true);

    let (status, body, _) = token(&hub, (cid, sec), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&hub, (cid, sec), &access).await["active"],
        false,
        "replay must revoke the access token"
    );
    let (status, body, _) = token(
        &hub,
        (cid, sec),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let audit = hub
        .get(
            &hub.operator_key,
            "/api/v1/audit?action=oauth.code_replayed",
        )
        .await
        .json;
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn redirect_uris_match_exactly_or_the_request_stops_at_the_hub() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let redirect = "https://app.acme.test/cb";
    let (_, apps) = fixture(&hub, &[confidential("App", redirect)]).await;
    let cid = apps[0]["application"]["client_id"].as_str().unwrap();
    let browser = Browser::new();
    let (_, challenge) = pkce();
    for bad in [
        "https://app.acme.test/cb/extra",
        "https://app.acme.test/c",
        "https://APP.acme.test/cb",
        "https://app.acme.test/CB",
        "https://app.acme.test/cb?x=1",
        "https://app.acme.test/cb#frag",
        "https://app.acme.test/cb/../cb",
        "https://app.acme.test.evil.example/cb",
        "http://app.acme.test/cb",
        "",
    ] {
        let (status, loc, body) = browser
            .authorize(
                &hub,
                &[
                    ("client_id", cid),
                    ("redirect_uri", bad),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            loc.is_none(),
            "{bad}: must not redirect to an unregistered URI"
        );
        assert!(body.contains("We could not sign you in"), "{bad}");
    }
    // Unknown client, repeated parameters: also a page, not a redirect.
    for params in [
        vec![
            ("client_id", "nope"),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
        vec![
            ("client_id", cid),
            ("client_id", cid),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    ] {
        let (status, loc, _) = browser.authorize(&hub, &params).await;
        assert_eq!((status, loc), (StatusCode::BAD_REQUEST, None));
    }
    // Once the redirect URI is established, errors go back to it with state and iss.
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("response_type", "token"), ("scope", "openid")],
            "unsupported_response_type",
        ),
        (
            &[("response_type", "code"), ("scope", "email")],
            "invalid_scope",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", "eyJ"),
            ],
            "request_not_supported",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none"),
            ],
            "login_required",
        ),
        (
            &[
                ("response_type", "code"),
                ("scope", "openid"),
                ("max_age", "-1"),
            ],
            "invalid_request",
        ),
    ];
    for (extra, expected) in cases {
        let mut params = vec![
            ("client_id", cid),
            ("redirect_uri", redirect),
            ("state", "xyz"),
        ];
        if !extra.iter().any(|(k, _)| *k == "code_challenge") {
            params.extend([
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ]);
        }
        params.extend_from_slice(extra);
        let (status, loc, _) = browser.authorize(&hub, &params).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let loc = loc.unwrap();
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some(expected),
            "{extra:?}: {loc}"
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
        assert_eq!(query_param(&loc, "iss").as_deref(), Some(hub.url.as_str()));
    }
    hub.stop().await;
}

#[tokio::test]
async fn pkce_is_required_for_public_clients_and_checked_for_everyone() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let redirect = "https://spa.acme.test/cb";
    let public = json!({"name": "SPA", "client_type": "public", "redirect_uris": [redirect]});
    let (_, apps) = fixture(&hub, &[public]).await;
    let cid = apps[0]["application"]["client_id"].as_str().unwrap();
    let browser = Browser::new();
    // No code_challenge from a public client.
    let (_, loc, _) = browser
        .authorize(
            &hub,
            &[
                ("client_id", cid),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("invalid_request")
    );

    let redeem = |code: String, verifier: Option<String>| {
        let hub = &hub;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code),
                ("redirect_uri", redirect.to_string()),
                ("client_id", cid.to_string()),
            ];
            if let Some(v) = verifier {
                form.push(("code_verifier", v));
            }
            let r = hub
                .client
                .post(format!("{}/oauth2/token", hub.url))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, _) = code_for(&hub, &browser, cid, redirect).await;
    let (status, body) = redeem(code, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (code, _) = code_for(&hub, &browser, cid, redirect).await;
    let (wrong, _) = pkce();
    let (status, body) = redeem(code, Some(wrong)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (code, verifier) = code_for(&hub, &browser, cid, redirect).await;
    let (status, body) = redeem(code, Some(verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id_token"].is_string());
    hub.stop().await;
}

#[tokio::test]
async fn expired_codes_and_wrong_clients_are_refused() {
    let clock = std::sync::Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        dev_login: true,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let redirect = "https://app.acme.test/cb";
    let mut post = confidential("Post", "https://post.acme.test/cb");
    post["token_endpoint_auth_method"] = json!("client_secret_post");
    let (_, apps) = fixture(&hub, &[confidential("App", redirect), post]).await;
    let (cid, sec) = (
        apps[0]["application"]["client_id"].as_str().unwrap(),
        apps[0]["client_secret"].as_str().unwrap(),
    );
    let browser = Browser::new();

    let (code, verifier) = code_for(&hub, &browser, cid, redirect).await;
    clock.advance(chrono::Duration::seconds(61));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body, _) = token(&hub, (cid, sec), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Wrong secret, unknown client, and the right secret by the wrong method: 401 invalid_client.
    let (status, body, headers) = token(
        &hub,
        (cid, "wrong"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let (status, _, _) = token(
        &hub,
        ("nobody", "x"),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (pid, psec) = (
        apps[1]["application"]["client_id"].as_str().unwrap(),
        apps[1]["client_secret"].as_str().unwrap(),
    );
    let (status, _, _) = token(&hub, (pid, psec), &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a client_secret_post client must not use Basic"
    );
    let r = hub
        .client
        .post(format!("{}/oauth2/token", hub.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", pid),
            ("client_secret", psec),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client",
        "authenticated, but not allowed this grant"
    );
    hub.stop().await;
}
