//! The deprovisioning engine end to end: a leaver signed in to two downstream applications is
//! deactivated the way Entra ID sends it; both applications get a valid back-channel logout
//! token (npm `jose`), the refresh tokens are refused, introspection says inactive, the
//! application's SCIM service (PyPI `scim2-server`) gets the deactivation and its webhook
//! (verified by npm `standardwebhooks`) the event; a rehire undoes it and keeps the `sub`. An
//! unreachable application neither slows the others nor loses its deliveries: they retry, then
//! dead-letter visibly, and an admin's retry delivers them.

use hub_e2e::{Browser, NodePeer, Options, ScimServer, TestHub, eventually, free_port};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{audit_actions, org_with_domain};
use crate::oidc_provider::{code_for_user, introspect, token};
use crate::scim::{PATCH_OP, Scim, USER};

/// The claims of a compact JWT (not verified: the hub signed it, the test reads it).
pub(crate) fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub(crate) const REDIRECT1: &str = "https://extranet.example/cb";
pub(crate) const REDIRECT2: &str = "https://portal.example/cb";

/// Signs `email` in to the application and exchanges the code: the token response.
pub(crate) async fn sign_in(
    hub: &TestHub,
    browser: &Browser,
    app: &Value,
    redirect: &str,
    email: &str,
) -> Value {
    let cid = app["application"]["client_id"].as_str().unwrap();
    let secret = app["client_secret"].as_str().unwrap();
    let (code, verifier) = code_for_user(hub, browser, cid, redirect, email).await;
    let (status, body, _) = token(
        hub,
        (cid, secret),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Whether the refresh token still works at the application.
pub(crate) async fn refresh_works(hub: &TestHub, app: &Value, refresh: &str) -> (bool, Value) {
    let cid = app["application"]["client_id"].as_str().unwrap();
    let secret = app["client_secret"].as_str().unwrap();
    let (status, body, _) = token(
        hub,
        (cid, secret),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    (status == StatusCode::OK, body)
}

pub(crate) async fn active_at_introspection(hub: &TestHub, app: &Value, tok: &str) -> bool {
    let cid = app["application"]["client_id"].as_str().unwrap();
    let secret = app["client_secret"].as_str().unwrap();
    introspect(hub, (cid, secret), tok).await["active"] == true
}

pub(crate) async fn create_app(hub: &TestHub, slug: &str, app: Value) -> Value {
    let r = hub
        .post(
            &hub.maker(slug),
            &format!("/api/v1/orgs/{slug}/applications"),
            app,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.json
}

pub(crate) fn client_id(app: &Value) -> String {
    app["application"]["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The downstream receivers (back-channel logout and webhooks) for these applications.
pub(crate) fn receivers(hub: &TestHub, port: u16, apps: &[&Value], secrets: Value) -> NodePeer {
    NodePeer::start(
        "downstream.mjs",
        &[
            ("PORT", port.to_string()),
            ("ISSUER", hub.url.clone()),
            (
                "AUDIENCES",
                apps.iter()
                    .map(|a| client_id(a))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("SECRETS", secrets.to_string()),
        ],
    )
}

pub(crate) async fn leavers(hub: &TestHub, slug: &str) -> Vec<Value> {
    let r = hub
        .get(&hub.operator_key, &format!("/api/v1/orgs/{slug}/leavers"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json.as_array().unwrap().clone()
}

/// The leaver once all its deliveries are done.
pub(crate) async fn completed_leaver(hub: &TestHub, slug: &str, user: &str) -> Value {
    eventually(30, || async {
        leavers(hub, slug)
            .await
            .into_iter()
            .find(|l| l["user_id"] == user && l["completed_at"].is_string())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no completed leaver for {user}: {:#?}",
            futures_util::FutureExt::now_or_never(leavers(hub, slug))
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_deactivation_closes_every_door_and_a_rehire_opens_them_again() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    // Entra ID provisions alice.
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [USER], "userName": "alice@acme.test", "active": true,
                "displayName": "Alice Liddell", "externalId": "e-1",
                "emails": [{"primary": true, "type": "work", "value": "alice@acme.test"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let alice = r.json["id"].as_str().unwrap().to_string();
    // The extranet provisions its own users over SCIM; alice is there already.
    let target = ScimServer::start().await;
    let remote = target.add_user("alice@acme.test", &alice).await;
    let port = free_port();
    let extranet = create_app(
        &hub,
        "acme",
        json!({"name": "Extranet", "client_type": "confidential", "redirect_uris": [REDIRECT1],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/extranet"),
            "scim_target": {"url": target.url, "token": target.token},
            "webhook": {"url": format!("http://127.0.0.1:{port}/hook/extranet")}}),
    )
    .await;
    let secret = extranet["application"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("whsec_"));
    let shown = hub
        .get(
            &hub.operator_key,
            &format!(
                "/api/v1/orgs/acme/applications/{}",
                extranet["application"]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert!(
        !shown.json.to_string().contains(&target.token) && shown.json["webhook_secret"].is_null(),
        "secrets are shown once: {}",
        shown.json
    );
    let portal = create_app(
        &hub,
        "acme",
        json!({"name": "Partner portal", "client_type": "confidential",
            "redirect_uris": [REDIRECT2], "id_token_signed_response_alg": "RS256",
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/portal")}),
    )
    .await;
    let receiver = receivers(
        &hub,
        port,
        &[&extranet, &portal],
        json!({"extranet": secret}),
    );

    // Alice signs in to both applications (one hub session).
    let browser = Browser::new();
    let t1 = sign_in(&hub, &browser, &extranet, REDIRECT1, "alice@acme.test").await;
    let t2 = sign_in(&hub, &browser, &portal, REDIRECT2, "alice@acme.test").await;
    let (r1, a1) = (
        t1["refresh_token"].as_str().unwrap(),
        t1["access_token"].as_str().unwrap(),
    );
    let r2 = t2["refresh_token"].as_str().unwrap();
    assert!(active_at_introspection(&hub, &extranet, a1).await);

    // Entra ID deactivates her: PATCH with "Replace" and the string "False".
    let r = scim
        .call(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["active"], false);
    // Locally, at once: the access token is inactive, both refresh tokens are refused.
    assert!(!active_at_introspection(&hub, &extranet, a1).await);
    let (ok, body) = refresh_works(&hub, &extranet, r1).await;
    assert!(!ok, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(!refresh_works(&hub, &portal, r2).await.0);

    // Downstream: two valid logout tokens for her session, one verified webhook.
    let mut got = tokio::task::block_in_place(|| receiver.take(3, 30));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 3, "{got:#?}");
    for (line, (path, aud)) in got[..2].iter().zip([
        ("/bcl/extranet", client_id(&extranet)),
        ("/bcl/portal", client_id(&portal)),
    ]) {
        assert_eq!(line["path"], path);
        assert_eq!(line["valid"], true, "{line}");
        assert_eq!(line["aud"], aud.as_str());
        assert_eq!(line["sub"], alice.as_str());
        assert!(line["sid"].is_string(), "{line}");
        assert_eq!(line["dup"], false);
    }
    // One hub session, named differently to each application (so they cannot join records on
    // it), and each logout token names it as that application's ID token did.
    assert_ne!(got[0]["sid"], got[1]["sid"], "a sid per application");
    for (line, tokens) in got[..2].iter().zip([&t1, &t2]) {
        let id = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(line["sid"], id["sid"], "{line}");
    }
    let hook = &got[2];
    assert_eq!(hook["path"], "/hook/extranet");
    assert_eq!(hook["valid"], true, "{hook}");
    assert_eq!(hook["type"], "user.suspended");
    assert_eq!(hook["data"]["user"]["sub"], alice.as_str());
    assert_eq!(hook["data"]["source"], "scim");
    // The extranet's SCIM service has her deactivated.
    let remote_user = eventually(20, || async {
        let u = target.user(&remote).await;
        (u["active"] == false).then_some(u)
    })
    .await;
    assert!(remote_user.is_some(), "{}", target.user(&remote).await);

    // Compliance: the leaver, its four deliveries, its times.
    let leaver = completed_leaver(&hub, "acme", &alice).await;
    assert_eq!(leaver["source"], "scim");
    assert_eq!(leaver["outcome"], "suspended");
    assert_eq!(leaver["deliveries"], 4);
    assert!(leaver["revocation_ms"].as_i64().unwrap() >= 0);
    assert!(leaver["completion_ms"].as_i64().unwrap() >= leaver["revocation_ms"].as_i64().unwrap());
    let detail = hub
        .get(
            &hub.operator_key,
            &format!(
                "/api/v1/orgs/acme/leavers/{}",
                leaver["id"].as_str().unwrap()
            ),
        )
        .await
        .json;
    let mut kinds: Vec<&str> = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["status"], "delivered", "{d}");
            d["kind"].as_str().unwrap()
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "backchannel_logout",
            "backchannel_logout",
            "scim",
            "webhook"
        ]
    );
    let summary = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/deprovisioning")
        .await
        .json;
    assert_eq!(summary["leavers"], 1, "{summary}");
    assert_eq!(summary["by_source"]["scim"], 1);
    assert!(summary["completion"]["p99_ms"].is_i64(), "{summary}");
    assert_eq!(summary["outstanding_deliveries"], 0);
    let actions: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    for a in [
        "user.suspended",
        "delivery.delivered",
        "deprovisioning.completed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} not in {actions:?}");
    }
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "delivery.delivered")
            .count(),
        4
    );
    let metrics = hub
        .call(Method::GET, "/metrics", None, None)
        .await
        .json
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        metrics.contains("hub_deprovision_revocation_seconds_count{source=\"scim\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("hub_deprovision_completion_seconds_count{source=\"scim\"} 1"));

    // A rehire: Entra ID reactivates her; she signs in again with the same `sub`, and the
    // extranet hears it.
    let r = scim
        .call(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "True"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let back = eventually(20, || async {
        let u = target.user(&remote).await;
        (u["active"] == true).then_some(u)
    })
    .await;
    assert!(back.is_some(), "the extranet reactivates her");
    let hook = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(
        hook.first().map(|h| h["type"].clone()),
        Some(json!("user.reactivated"))
    );
    let again = Browser::new();
    let t = sign_in(&hub, &again, &extranet, REDIRECT1, "alice@acme.test").await;
    let a = t["access_token"].as_str().unwrap();
    assert!(active_at_introspection(&hub, &extranet, a).await);
    let claims = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], alice.as_str(), "the same stable sub");
    let out = hub.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_application_does_not_slow_the_others_and_dead_letters_visibly() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        outbox_retries: Some((200, 4)),
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let alice = crate::federation::add_user(&hub, "acme", "alice@acme.test").await;
    let port = free_port();
    let closed = free_port();
    let up = create_app(
        &hub,
        "acme",
        json!({"name": "Up", "client_type": "confidential", "redirect_uris": [REDIRECT1],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/up")}),
    )
    .await;
    let down = create_app(
        &hub,
        "acme",
        json!({"name": "Down", "client_type": "confidential", "redirect_uris": [REDIRECT2],
            "backchannel_logout_uri": format!("http://127.0.0.1:{closed}/bcl/down")}),
    )
    .await;
    let receiver = receivers(&hub, port, &[&up, &down], json!({}));
    let browser = Browser::new();
    sign_in(&hub, &browser, &up, REDIRECT1, "alice@acme.test").await;
    sign_in(&hub, &browser, &down, REDIRECT2, "alice@acme.test").await;

    // An admin suspends her.
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{alice}"),
            Some(&hub.operator_key),
            Some(&json!({"status": "suspended", "reason": "left the company"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let got = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(got.len(), 1, "the reachable application is told");
    assert_eq!(got[0]["path"], "/bcl/up");
    assert_eq!(got[0]["valid"], true);
    let deliveries = |status: &'static str| {
        let hub = &hub;
        async move {
            hub.get(
                &hub.operator_key,
                &format!("/api/v1/orgs/acme/deliveries?status={status}"),
            )
            .await
            .json
            .as_array()
            .unwrap()
            .clone()
        }
    };
    // Told at once, while the other is still being retried.
    let delivered = eventually(10, || async {
        let d = deliveries("delivered").await;
        (!d.is_empty()).then_some(d)
    })
    .await
    .expect("the reachable delivery is recorded");
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    let pending = deliveries("pending").await;
    assert_eq!(
        pending.len(),
        1,
        "the unreachable one is still retried: {pending:#?}"
    );
    assert!(
        pending[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("connect"))
    );

    // It dead-letters after its last attempt, visibly.
    let dead = eventually(30, || async {
        let d = deliveries("dead").await;
        (!d.is_empty()).then_some(d)
    })
    .await
    .expect("the delivery dead-letters");
    assert_eq!(dead[0]["attempts"], 4);
    assert_eq!(dead[0]["kind"], "backchannel_logout");
    let summary = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/deprovisioning")
        .await
        .json;
    assert_eq!(summary["dead_deliveries"], 1, "{summary}");
    assert_eq!(summary["incomplete_leavers"], 1);
    let actions: Vec<String> = audit_actions(&hub, "acme")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.iter().any(|a| a == "delivery.dead"), "{actions:?}");

    // A read key may look but not retry; the admin fixes the URI and retries it.
    let (_, read) = hub.create_org_key("acme", "read").await;
    let id = dead[0]["id"].as_str().unwrap();
    let retry = format!("/api/v1/orgs/acme/deliveries/{id}/retry");
    let r = hub.post(&read, &retry, json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = hub
        .call(
            Method::PATCH,
            &format!(
                "/api/v1/orgs/acme/applications/{}",
                down["application"]["id"].as_str().unwrap()
            ),
            Some(&hub.operator_key),
            Some(&json!({"backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/down")})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub.post(&hub.operator_key, &retry, json!(null)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub.post(&hub.operator_key, &retry, json!(null)).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "only a dead delivery is retried"
    );
    let got = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(
        got.first().map(|l| l["path"].clone()),
        Some(json!("/bcl/down"))
    );
    assert_eq!(got[0]["valid"], true);
    let leaver = completed_leaver(&hub, "acme", &alice).await;
    assert_eq!(leaver["source"], "admin");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldap_delete_closes_every_door_through_syncrepl_and_through_a_scheduled_full_sync() {
    use crate::ldap::person;
    use hub_e2e::Slapd;
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        scheduler: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    // acme's OpenLDAP is watched with syncrepl; globex's is read in full every 5 seconds.
    let acme_ldap = Slapd::start();
    acme_ldap.add(&person(
        "alice",
        "Alice Acme",
        Some("alice@acme.test"),
        None,
    ));
    let globex_ldap = Slapd::start();
    globex_ldap.add(&person("bob", "Bob Globex", Some("bob@globex.test"), None));
    for (slug, slapd, ldap) in [
        ("acme", &acme_ldap, json!({"mode": "syncrepl"})),
        (
            "globex",
            &globex_ldap,
            json!({"mode": "full", "schedule": {"full_interval_secs": 5}}),
        ),
    ] {
        let mut settings = json!({"url": slapd.url, "base_dn": Slapd::SUFFIX,
            "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX)});
        for (k, v) in ldap.as_object().unwrap() {
            settings[k] = v.clone();
        }
        let r = hub
            .post(
                &hub.operator_key,
                &format!("/api/v1/orgs/{slug}/directories"),
                json!({"name": "Corporate LDAP", "kind": "ldap", "bind_password": "syncpw",
                    "ldap": settings}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    }
    let port = free_port();
    let acme_app = create_app(
        &hub,
        "acme",
        json!({"name": "Acme extranet", "client_type": "confidential", "redirect_uris": [REDIRECT1],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/acme")}),
    )
    .await;
    let globex_app = create_app(
        &hub,
        "globex",
        json!({"name": "Globex portal", "client_type": "confidential", "redirect_uris": [REDIRECT2],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/globex")}),
    )
    .await;
    let receiver = receivers(&hub, port, &[&acme_app, &globex_app], json!({}));
    // The scheduler's first syncs bring both people in.
    let user_id = |slug: &'static str, email: &'static str| {
        let hub = &hub;
        async move {
            let r = hub
                .get(&hub.operator_key, &format!("/api/v1/orgs/{slug}/users"))
                .await;
            r.json.as_array().and_then(|a| {
                a.iter()
                    .find(|u| u["email"] == email && u["status"] == "active")
                    .map(|u| u["id"].as_str().unwrap().to_string())
            })
        }
    };
    let alice = eventually(20, || user_id("acme", "alice@acme.test"))
        .await
        .expect("alice synced");
    let bob = eventually(20, || user_id("globex", "bob@globex.test"))
        .await
        .expect("bob synced");
    let ta = sign_in(
        &hub,
        &Browser::new(),
        &acme_app,
        REDIRECT1,
        "alice@acme.test",
    )
    .await;
    let tb = sign_in(
        &hub,
        &Browser::new(),
        &globex_app,
        REDIRECT2,
        "bob@globex.test",
    )
    .await;

    // syncrepl: the deletion reaches the hub as it happens.
    acme_ldap.modify(&format!(
        "dn: uid=alice,ou=people,{}\nchangetype: delete\n",
        Slapd::SUFFIX
    ));
    let got = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(got.len(), 1, "alice's application is told");
    assert_eq!(got[0]["path"], "/bcl/acme");
    assert_eq!(got[0]["valid"], true, "{}", got[0]);
    assert_eq!(got[0]["sub"], alice.as_str());
    assert!(
        !refresh_works(&hub, &acme_app, ta["refresh_token"].as_str().unwrap())
            .await
            .0
    );
    assert!(!active_at_introspection(&hub, &acme_app, ta["access_token"].as_str().unwrap()).await);
    let l = completed_leaver(&hub, "acme", &alice).await;
    assert_eq!(
        (l["source"].as_str(), l["outcome"].as_str()),
        (Some("ldap"), Some("deprovisioned"))
    );

    // A scheduled full sync: the next run (within 5 s) finds bob gone.
    globex_ldap.modify(&format!(
        "dn: uid=bob,ou=people,{}\nchangetype: delete\n",
        Slapd::SUFFIX
    ));
    let got = tokio::task::block_in_place(|| receiver.take(1, 30));
    assert_eq!(got.len(), 1, "bob's application is told");
    assert_eq!(got[0]["path"], "/bcl/globex");
    assert_eq!(got[0]["valid"], true, "{}", got[0]);
    assert_eq!(got[0]["sub"], bob.as_str());
    assert!(
        !refresh_works(&hub, &globex_app, tb["refresh_token"].as_str().unwrap())
            .await
            .0
    );
    assert!(
        !active_at_introspection(&hub, &globex_app, tb["access_token"].as_str().unwrap()).await
    );
    let l = completed_leaver(&hub, "globex", &bob).await;
    assert_eq!(l["source"], "ldap");
    let syncs = audit_actions(&hub, "globex")
        .await
        .into_iter()
        .filter(|e| e["action"] == "directory.synced")
        .map(|e| e["details"]["triggered_by"].clone())
        .collect::<Vec<_>>();
    assert!(syncs.iter().all(|t| t == "schedule"), "{syncs:?}");
    assert!(syncs.len() >= 2, "{syncs:?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_an_organization_closes_its_peoples_doors_and_reactivating_it_restores_them() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let alice = crate::federation::add_user(&hub, "acme", "alice@acme.test").await;
    let bob = crate::federation::add_user(&hub, "acme", "bob@acme.test").await;
    let port = free_port();
    let app = create_app(
        &hub,
        "acme",
        json!({"name": "Extranet", "client_type": "confidential", "redirect_uris": [REDIRECT1],
            "webhook": {"url": format!("http://127.0.0.1:{port}/hook/extranet")}}),
    )
    .await;
    let secret = app["application"]["webhook_secret"].as_str().unwrap();
    let receiver = receivers(&hub, port, &[&app], json!({"extranet": secret}));
    let t = sign_in(&hub, &Browser::new(), &app, REDIRECT1, "alice@acme.test").await;
    // bob was suspended by an admin before; the organization's suspension does not own that.
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{bob}"),
            Some(&hub.operator_key),
            Some(&json!({"status": "suspended", "reason": "on leave"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let before = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(before[0]["data"]["user"]["sub"], bob.as_str());

    let status = |s: &'static str| {
        let hub = &hub;
        async move {
            let r = hub
                .call(
                    Method::PATCH,
                    "/api/v1/orgs/acme",
                    Some(&hub.operator_key),
                    Some(&json!({"status": s})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
        }
    };
    status("suspended").await;
    assert!(
        !refresh_works(&hub, &app, t["refresh_token"].as_str().unwrap())
            .await
            .0
    );
    let got = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(got[0]["type"], "user.suspended");
    assert_eq!(got[0]["data"]["user"]["sub"], alice.as_str());
    assert_eq!(got[0]["data"]["source"], "organization");
    let l = completed_leaver(&hub, "acme", &alice).await;
    assert_eq!(l["source"], "organization");

    status("active").await;
    let got = tokio::task::block_in_place(|| receiver.take(1, 20));
    assert_eq!(got[0]["type"], "user.reactivated");
    assert_eq!(got[0]["data"]["user"]["sub"], alice.as_str());
    let user = |id: String| {
        let hub = &hub;
        async move {
            hub.get(&hub.operator_key, &format!("/api/v1/orgs/acme/users/{id}"))
                .await
                .json["status"]
                .clone()
        }
    };
    assert_eq!(user(alice.clone()).await, "active");
    assert_eq!(
        user(bob.clone()).await,
        "suspended",
        "bob's own suspension stands"
    );
    let t = sign_in(&hub, &Browser::new(), &app, REDIRECT1, "alice@acme.test").await;
    assert!(active_at_introspection(&hub, &app, t["access_token"].as_str().unwrap()).await);
    hub.stop().await;
}
