//! Upstream federation: each company signs in with its own IdP. End to end in headless
//! Chromium against real npm `oidc-provider` IdPs and a real SAML IdP (PyPI `pysaml2`) with an
//! `openid-client` app downstream, and
//! attack tests against a misbehaving IdP (npm `jose`): all refused, nothing linked, audited.

use hub_e2e::{
    Browser, NodePeer, Options, SamlIdp, TestHub, free_port, pkce, query_param, run_node,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) const SECRET: &str = "upstream-client-secret";

/// An organization with a verified (attested) domain.
pub(crate) async fn org_with_domain(hub: &TestHub, slug: &str, domain: &str) {
    let op = hub.operator_key.clone();
    hub.create_org(slug).await;
    let r = hub
        .post(
            &op,
            &format!("/api/v1/orgs/{slug}/domains"),
            json!({"domain": domain}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &op,
            &format!("/api/v1/orgs/{slug}/domains/{domain}/attest"),
            json!({"reason": "test fixture"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

pub(crate) async fn add_user(hub: &TestHub, slug: &str, email: &str) -> String {
    let r = hub
        .post(
            &hub.maker(slug),
            &format!("/api/v1/orgs/{slug}/users"),
            json!({"email": email, "name": "Existing User"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.json["id"].as_str().unwrap().to_string()
}

/// Registers an application; returns (client_id, secret).
pub(crate) async fn add_app(hub: &TestHub, slug: &str, redirect: &str) -> (String, String) {
    let r = hub
        .post(
            &hub.maker(slug),
            &format!("/api/v1/orgs/{slug}/applications"),
            // An application of the organization's own that is given its people's groups.
            json!({"name": "Extranet", "client_type": "confidential", "redirect_uris": [redirect],
                "release": {"claims": ["email", "name", "preferred_username", "groups"],
                    "groups": ["*"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    (
        r.json["application"]["client_id"]
            .as_str()
            .unwrap()
            .to_string(),
        r.json["client_secret"].as_str().unwrap().to_string(),
    )
}

/// Connects the organization to an IdP; returns the connection's id.
pub(crate) async fn connect(
    hub: &TestHub,
    slug: &str,
    name: &str,
    issuer: &str,
    jit: bool,
) -> String {
    connect_for(hub, slug, name, issuer, jit, &[]).await
}

/// Connects the organization to an IdP serving only `domains` (all, if empty).
async fn connect_for(
    hub: &TestHub,
    slug: &str,
    name: &str,
    issuer: &str,
    jit: bool,
    domains: &[&str],
) -> String {
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/{slug}/connections"),
            json!({
                "name": name, "kind": "oidc", "client_secret": SECRET, "jit_provisioning": jit,
                "domains": domains,
                "oidc": {"issuer": issuer, "client_id": format!("hub-{slug}"),
                         "scopes": ["email", "profile", "groups"]}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert!(
        r.json.get("client_secret").is_none(),
        "the secret is never shown"
    );
    assert_eq!(r.json["has_client_secret"], true);
    let id = r.json["id"].as_str().unwrap().to_string();
    hub.approve_connection(slug, &id).await;
    id
}

fn callback(hub: &TestHub) -> String {
    format!("{}/login/oidc/callback", hub.url)
}

pub(crate) async fn audit_actions(hub: &TestHub, slug: &str) -> Vec<Value> {
    let r = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/{slug}/audit?limit=1000"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    r.json["events"].as_array().unwrap().clone()
}

/// The reasons of refused sign-ins in `slug`'s audit view, once at least `n` are there: each
/// refusal audited on its own (an IdP vouched for someone), and each anonymous failure counted
/// in the window summaries.
pub(crate) async fn refusal_reasons(hub: &TestHub, slug: &str, n: usize) -> Vec<String> {
    let mut reasons = Vec::new();
    for _ in 0..50 {
        reasons.clear();
        for e in audit_actions(hub, slug).await {
            match e["action"].as_str() {
                Some("login.refused") => {
                    reasons.push(e["details"]["reason"].as_str().unwrap().to_string())
                }
                Some("login.failures_summarized") => {
                    for (why, count) in e["details"]["reasons"].as_object().unwrap() {
                        for _ in 0..count.as_u64().unwrap() {
                            reasons.push(why.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if reasons.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    reasons
}

pub(crate) fn upstream(slug: &str, hub: &TestHub, accounts: Value) -> (NodePeer, String) {
    let peer = NodePeer::start(
        "upstream-op.mjs",
        &[
            ("CLIENT_ID", format!("hub-{slug}")),
            ("CLIENT_SECRET", SECRET.to_string()),
            ("REDIRECT_URI", callback(hub)),
            ("ACCOUNTS", accounts.to_string()),
        ],
    );
    let issuer = peer.ready["issuer"].as_str().unwrap().to_string();
    (peer, issuer)
}

#[tokio::test(flavor = "multi_thread")]
async fn employees_of_two_companies_sign_in_through_their_own_idps_in_chromium() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    // Acme: the user exists already (linked by verified email at first sign-in).
    org_with_domain(&hub, "acme", "acme.test").await;
    let alice_id = add_user(&hub, "acme", "alice@acme.test").await;
    // Globex: no users yet; its policy creates them at first sign-in.
    org_with_domain(&hub, "globex", "globex.test").await;
    let (idp_a, issuer_a) = upstream(
        "acme",
        &hub,
        json!({"alice": {"password": "alice-pw", "claims": {
            "email": "alice@acme.test", "email_verified": true, "name": "Alice Acme",
            "given_name": "Alice", "family_name": "Acme", "groups": ["engineering"]}}}),
    );
    let (idp_b, issuer_b) = upstream(
        "globex",
        &hub,
        json!({"bob": {"password": "bob-pw", "claims": {
            "email": "bob@globex.test", "email_verified": true, "name": "Bob Globex",
            "given_name": "Bob", "family_name": "Globex", "groups": ["sales"]}}}),
    );
    let conn_a = connect(&hub, "acme", "Acme OIDC", &issuer_a, false).await;
    connect(&hub, "globex", "Globex OIDC", &issuer_b, true).await;
    // Initech: a SAML IdP (pysaml2); carol exists already and is linked by her email.
    org_with_domain(&hub, "initech", "initech.test").await;
    let carol_id = add_user(&hub, "initech", "carol@initech.test").await;
    let idp_c = SamlIdp::start(json!({"carol": {"pw": "carol-pw", "attrs": {
        "uid": ["carol"], "mail": ["carol@initech.test"], "givenName": ["Carol"],
        "sn": ["Initech"], "displayName": ["Carol Initech"], "isMemberOf": ["finance"]}}}));
    crate::saml::connect_saml(
        &hub,
        "initech",
        "Initech SAML",
        &[&idp_c],
        json!({"domains": ["initech.test"]}),
    )
    .await;
    // Initech's contractors sign in elsewhere: with two connections the hub asks for the
    // work email and routes by its domain.
    connect_for(
        &hub,
        "initech",
        "Initech contractors",
        &issuer_a,
        false,
        &["contractors.initech.test"],
    )
    .await;

    // "Test connection" reads the real discovery document and keys.
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/connections/{conn_a}/test"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["ok"], true, "{}", r.json);

    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-artifacts/federation");
    std::fs::create_dir_all(&shots).unwrap();
    let mut results = Vec::new();
    for (slug, login, password) in [
        ("acme", "alice", "alice-pw"),
        ("globex", "bob", "bob-pw"),
        ("initech", "carol", "carol-pw"),
    ] {
        let port = free_port();
        let (cid, sec) = add_app(&hub, slug, &format!("http://127.0.0.1:{port}/cb")).await;
        let (ok, lines, out) = run_node(
            "browser-login.mjs",
            &[
                ("ISSUER", hub.url.clone()),
                ("APP_PORT", port.to_string()),
                ("CLIENT_ID", cid),
                ("CLIENT_SECRET", sec),
                ("LOGIN", login.to_string()),
                ("PASSWORD", password.to_string()),
                ("SHOTS", shots.display().to_string()),
                ("NAME", slug.to_string()),
                ("EMAIL", format!("{login}@{slug}.test")),
            ],
        )
        .await;
        assert!(ok, "{out}");
        let last = lines.last().cloned().unwrap_or(Value::Null);
        assert!(last.get("claims").is_some(), "{slug}: {out}");
        results.push(last["claims"].clone());
    }
    let (a, b) = (&results[0], &results[1]);
    assert_eq!(a["iss"], hub.url.as_str());
    assert_eq!(a["sub"], alice_id.as_str(), "linked to the existing user");
    assert_eq!(a["email"], "alice@acme.test");
    assert_eq!(a["org"]["slug"], "acme");
    assert_eq!(b["email"], "bob@globex.test");
    assert_eq!(b["org"]["slug"], "globex");
    assert_eq!(b["name"], "Bob Globex");
    assert_eq!(b["groups"], json!(["sales"]));
    assert!(shots.join("acme-2-idp-login.png").is_file());
    let c = &results[2];
    assert_eq!(c["sub"], carol_id.as_str(), "linked to the existing user");
    assert_eq!(c["email"], "carol@initech.test");
    assert_eq!(c["org"]["slug"], "initech");
    assert!(
        shots.join("initech-1-hub-email.png").is_file(),
        "the hub asked"
    );
    assert!(shots.join("initech-3-back-in-app.png").is_file());
    let initech = audit_actions(&hub, "initech").await;
    assert!(initech.iter().any(|e| e["action"] == "session.started"
        && e["details"]["method"] == "saml"
        && e["details"]["connection"] == "Initech SAML"));

    let acme = audit_actions(&hub, "acme").await;
    let linked = acme
        .iter()
        .find(|e| e["action"] == "identity.linked")
        .expect("the first sign-in links the identity");
    assert_eq!(linked["details"]["issuer"], issuer_a.as_str());
    assert!(acme.iter().any(|e| e["action"] == "session.started"
        && e["details"]["method"] == "oidc"
        && e["details"]["connection"] == "Acme OIDC"));
    let globex = audit_actions(&hub, "globex").await;
    assert!(
        globex
            .iter()
            .any(|e| e["action"] == "user.created" && e["details"]["source"] == "jit")
    );
    assert!(
        !acme
            .iter()
            .chain(&globex)
            .chain(&initech)
            .any(|e| e["action"] == "login.refused"),
        "nothing was refused"
    );
    drop((idp_a, idp_b, idp_c));
    hub.stop().await;
}

/// Drives a sign-in with a cookie jar up to the hub's callback URL (the IdP answers at once).
pub(crate) async fn until_callback(
    hub: &TestHub,
    browser: &Browser,
    client_id: &str,
    redirect: &str,
) -> String {
    let (_, challenge) = pkce();
    let (status, loc, body) = browser
        .authorize(
            hub,
            &[
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid email"),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let login = format!("{}{}", hub.url, loc.unwrap());
    let r = browser.client.get(&login).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let r = browser.client.get(&to_idp).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()["location"].to_str().unwrap().to_string()
}

pub(crate) async fn follow(browser: &Browser, url: &str) -> (StatusCode, String, Option<String>) {
    let r = browser.client.get(url).send().await.unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), r.text().await.unwrap(), loc)
}

pub(crate) async fn set_mode(idp: &str, mode: Value) {
    let r = reqwest::Client::new()
        .post(format!("{idp}/__mode"))
        .json(&mode)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_emails_states_issuers_and_nonces_are_refused_unlinked_and_audited() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    add_user(&hub, "acme", "alice@acme.test").await;
    add_user(&hub, "globex", "bob@globex.test").await;
    let rogue = NodePeer::start(
        "rogue-op.mjs",
        &[
            ("CLIENT_ID", "hub-acme".to_string()),
            ("EMAIL", "alice@acme.test".to_string()),
        ],
    );
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    connect(&hub, "acme", "Acme OIDC", &idp, true).await;
    let redirect = "https://extranet.acme.test/cb";
    let (cid, _) = add_app(&hub, "acme", redirect).await;

    let refused = |page: &str, status: StatusCode| {
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(
            page.contains("acme Inc."),
            "the page names the company: {page}"
        );
    };
    let mut expected_refusals = Vec::new();

    // Acme's IdP vouches for a Globex address: refused, even with just-in-time creation on.
    set_mode(&idp, json!({"email": "bob@globex.test"})).await;
    let b = Browser::new();
    let cb = until_callback(&hub, &b, &cid, redirect).await;
    let (status, page, _) = follow(&b, &cb).await;
    refused(&page, status);
    assert!(
        !page.contains("globex.test"),
        "technical detail stays out of the page"
    );
    expected_refusals.push("globex.test");

    // A foreign nonce, another audience, another issuer inside the token, an unsigned token,
    // an expired token.
    for (mode, why) in [
        (json!({"nonce": "someone-elses"}), "nonce"),
        (json!({"aud": "another-client"}), "audience"),
        (json!({"iss": "http://127.0.0.1:1/other"}), "issuer"),
        (json!({"alg": "none"}), "ID token"),
        (json!({"exp": -120}), "expired"),
    ] {
        set_mode(&idp, mode.clone()).await;
        let b = Browser::new();
        let cb = until_callback(&hub, &b, &cid, redirect).await;
        let (status, page, _) = follow(&b, &cb).await;
        refused(&page, status);
        expected_refusals.push(why);
    }
    set_mode(&idp, json!({})).await;

    // A mixed-up `iss` on the callback (RFC 9207).
    let b = Browser::new();
    let cb = until_callback(&hub, &b, &cid, redirect).await;
    let mixed = cb.replace(
        &format!("iss={}", urlencode(&idp)),
        &format!("iss={}", urlencode("https://idp.globex.test")),
    );
    assert_ne!(mixed, cb);
    let (status, page, _) = follow(&b, &mixed).await;
    refused(&page, status);
    expected_refusals.push("mix-up");

    // A state from another browser's sign-in (login CSRF): refused, and the state is spent.
    let victim = Browser::new();
    let cb = until_callback(&hub, &Browser::new(), &cid, redirect).await;
    let (status, page, _) = follow(&victim, &cb).await;
    refused(&page, status);
    expected_refusals.push("other than the one that started");
    // A state the hub never issued.
    let (status, _, _) = follow(
        &victim,
        &format!("{}/login/oidc/callback?state=forged&code=x", hub.url),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let events = audit_actions(&hub, "acme").await;
    assert!(
        !events.iter().any(|e| e["action"] == "identity.linked"
            || e["action"] == "session.started"
            || (e["action"] == "user.created" && e["details"]["source"] == "jit")),
        "nothing was linked or signed in: {events:?}"
    );
    let reasons = refusal_reasons(&hub, "acme", expected_refusals.len()).await;
    assert_eq!(reasons.len(), expected_refusals.len(), "{reasons:?}");
    for why in expected_refusals {
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "no refusal mentions {why:?}: {reasons:?}"
        );
    }
    let ops = hub
        .get(
            &hub.operator_key,
            "/api/v1/audit?action=login.failures_summarized",
        )
        .await;
    assert!(
        ops.json["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["reasons"]
                .as_object()
                .unwrap()
                .keys()
                .any(|r| r.contains("did not issue"))),
        "the forged state is counted hub-wide: {}",
        ops.json
    );

    // The same IdP behaving well signs alice in: the refusals above were not vacuous.
    let b = Browser::new();
    let cb = until_callback(&hub, &b, &cid, redirect).await;
    let (status, page, loc) = follow(&b, &cb).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let loc = loc.unwrap();
    assert!(
        loc.starts_with(redirect) && query_param(&loc, "code").is_some(),
        "{loc}"
    );
    drop(rogue);
    hub.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn home_realm_discovery_asks_for_the_email_and_refuses_other_domains() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    add_user(&hub, "acme", "alice@acme.test").await;
    let rogue = NodePeer::start(
        "rogue-op.mjs",
        &[
            ("CLIENT_ID", "hub-acme".to_string()),
            ("EMAIL", "alice@acme.test".to_string()),
        ],
    );
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "labs.acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/domains/labs.acme.test/attest",
            json!({"reason": "test fixture"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    connect_for(&hub, "acme", "Acme primary", &idp, false, &["acme.test"]).await;
    connect_for(&hub, "acme", "Acme labs", &idp, false, &["labs.acme.test"]).await;
    let redirect = "https://extranet.acme.test/cb";
    let (cid, _) = add_app(&hub, "acme", redirect).await;
    let b = Browser::new();
    let (_, challenge) = pkce();
    let base = [
        ("client_id", cid.as_str()),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // Two connections and no hint: the hub asks for the work email.
    let (_, loc, _) = b.authorize(&hub, &base).await;
    let login = format!("{}{}", hub.url, loc.unwrap());
    let (status, page, _) = follow(&b, &login).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Work email"), "{page}");
    let request = query_param(&login, "request").unwrap();
    // An address of another company is turned back with a plain explanation.
    let r = b
        .client
        .post(format!("{}/login", hub.url))
        .form(&[("request", request.as_str()), ("email", "eve@globex.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("globex.test is not an address of acme Inc.")
    );
    // Acme's address goes on to Acme's IdP.
    let r = b
        .client
        .post(format!("{}/login", hub.url))
        .form(&[("request", request.as_str()), ("email", "alice@acme.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap();
    assert!(to.starts_with(&format!("{idp}/auth?")), "{to}");
    assert_eq!(
        query_param(to, "login_hint").as_deref(),
        Some("alice@acme.test")
    );

    // login_hint skips the question.
    let mut hinted = base.to_vec();
    hinted.push(("login_hint", "alice@acme.test"));
    let b = Browser::new();
    let (_, loc, _) = b.authorize(&hub, &hinted).await;
    let (status, _, to) = follow(&b, &format!("{}{}", hub.url, loc.unwrap())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.unwrap().starts_with(&format!("{idp}/auth?")));

    // So does domain_hint.
    let mut hinted = base.to_vec();
    hinted.push(("domain_hint", "acme.test"));
    let b = Browser::new();
    let (_, loc, _) = b.authorize(&hub, &hinted).await;
    let (status, _, to) = follow(&b, &format!("{}{}", hub.url, loc.unwrap())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = to.unwrap();
    assert!(to.starts_with(&format!("{idp}/auth?")), "{to}");
    assert_eq!(query_param(&to, "login_hint"), None);

    // A labs address goes to the labs connection, whose IdP may vouch only for labs addresses:
    // it asserts alice@acme.test, which is refused.
    let mut hinted = base.to_vec();
    hinted.push(("login_hint", "bob@labs.acme.test"));
    let b = Browser::new();
    let (_, loc, _) = b.authorize(&hub, &hinted).await;
    let (status, _, to) = follow(&b, &format!("{}{}", hub.url, loc.unwrap())).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, cb) = follow(&b, &to.unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page, _) = follow(&b, &cb.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let events = audit_actions(&hub, "acme").await;
    let refusal = events
        .iter()
        .find(|e| e["action"] == "login.refused")
        .expect("refused");
    assert_eq!(refusal["details"]["connection"], "Acme labs");
    assert!(
        refusal["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("not one of this connection's domains"),
        "{refusal}"
    );
    drop(rogue);
    hub.stop().await;
}

#[tokio::test]
async fn bad_connection_settings_get_problem_json_and_change_nothing() {
    let hub = TestHub::start().await;
    hub.create_org("acme").await;
    let before = hub.snapshot().await;
    for body in [
        json!({"name": "x", "kind": "oidc", "client_secret": "s",
               "oidc": {"issuer": "http://idp.acme.test", "client_id": "hub"}}),
        json!({"name": "x", "kind": "oidc", "client_secret": "s",
               "oidc": {"issuer": "https://10.0.0.1", "client_id": "hub"}}),
        json!({"name": "x", "kind": "oidc",
               "oidc": {"issuer": "https://idp.acme.test", "client_id": "hub"}}),
        json!({"name": "x", "kind": "oidc", "client_secret": "s"}),
        json!({"name": "x", "kind": "oidc", "client_secret": "s",
               "oidc": {"issuer": "https://idp.acme.test", "client_id": "hub",
                        "scopes": ["a b"]}}),
        json!({"name": "x", "kind": "saml"}),
        json!({"name": "x", "kind": "ldap"}),
        json!({"name": "x", "kind": "oidc", "client_secret": "s", "domains": ["not a domain"],
               "oidc": {"issuer": "https://idp.acme.test", "client_id": "hub"}}),
        json!({"name": "", "kind": "oidc", "client_secret": "s",
               "oidc": {"issuer": "https://idp.acme.test", "client_id": "hub", "extra": 1}}),
    ] {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/connections",
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert_eq!(r.content_type, "application/problem+json");
    }
    assert_eq!(before, hub.snapshot().await);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_directory_only_its_active_people_sign_in() {
    use crate::scim::{PATCH_OP, Scim, USER};
    use reqwest::Method;
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let rogue = rogue_idp("carol@acme.test");
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    // Just-in-time creation is on, but the directory will overrule it.
    connect(&hub, "acme", "Acme OIDC", &idp, true).await;
    let redirect = "https://extranet.acme.test/cb";
    let (cid, _) = add_app(&hub, "acme", redirect).await;
    let scim = Scim::connect(&hub, "acme").await;
    let carol = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "carol@acme.test", "active": true})),
        )
        .await;
    assert_eq!(carol.status, StatusCode::CREATED, "{}", carol.json);
    let carol = carol.json["id"].as_str().unwrap().to_string();
    // Dave was created by the admins and is not in the directory.
    add_user(&hub, "acme", "dave@acme.test").await;

    let sign_in = |email: &'static str| {
        let (hub, idp, cid) = (&hub, idp.clone(), cid.clone());
        async move {
            set_mode(&idp, json!({"email": email, "sub": email})).await;
            let b = Browser::new();
            let cb = until_callback(hub, &b, &cid, redirect).await;
            follow(&b, &cb).await
        }
    };
    let (status, page, loc) = sign_in("carol@acme.test").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(loc.unwrap().starts_with(redirect));
    for email in ["dave@acme.test", "erin@acme.test"] {
        let (status, page, _) = sign_in(email).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{email}: {page}");
        assert!(page.contains("directory"), "{page}");
    }
    // The directory deactivates carol: her next sign-in is refused.
    let r = scim
        .call(
            Method::PATCH,
            &format!("/Users/{carol}"),
            Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let (status, page, _) = sign_in("carol@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let reasons: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .filter(|e| e["action"] == "login.refused")
        .map(|e| e["details"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].contains("not in the organization's directory"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("just-in-time creation does not apply"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("not active"), "{reasons:?}");
    let users = hub.get(&hub.operator_key, "/api/v1/orgs/acme/users").await;
    assert!(
        !users.json.to_string().contains("erin@acme.test"),
        "nobody was created just in time"
    );
    drop(rogue);
    hub.stop().await;
}

/// The misbehaving IdP (behaving, until told otherwise) for acme.
pub(crate) fn rogue_idp(email: &str) -> NodePeer {
    NodePeer::start(
        "rogue-op.mjs",
        &[
            ("CLIENT_ID", "hub-acme".to_string()),
            ("EMAIL", email.to_string()),
        ],
    )
}
