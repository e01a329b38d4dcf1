//! Issue 15: changes to who can sign in or who belongs, made in the console, need a recent
//! sign-in at the admin's own IdP and notify the organization's other admins. In headless
//! Chromium (Playwright) against a real IdP (`oidc-provider`), with the hub's clock moved on by
//! the test: an admin whose sign-in is older than the window is refused, even when the browser
//! skips the page and posts the form itself; through the page she is sent to her IdP (which asks
//! for her password again), comes back to her waiting change and makes it; a colleague
//! signing in at her IdP instead does not refresh her sign-in. The other admin sees the notices
//! with who did what and when, linked to the audit events, which record the fresh sign-in.
//! And an IdP that answers from an old session, or does not say when it authenticated, renews
//! nothing.

use std::sync::Arc;

use hub_e2e::{Browser, NodePeer, Options, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{text, walk};
use crate::federation::{audit_actions, connect, org_with_domain, set_mode, upstream};

/// The console's re-authentication window (README: five minutes).
const WINDOW_MINUTES: i64 = 5;

/// Waits until `found` holds for the organization's audit events.
async fn until_audited(hub: &TestHub, found: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..600 {
        let events = audit_actions(hub, "acme").await;
        if found(&events) {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the expected audit event never came");
}

fn by<'a>(events: &'a [Value], action: &str, user: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["action"] == action && e["actor"]["user_id"] == user)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_signed_in_long_ago_signs_in_again_at_her_idp_before_changing_sign_in_or_directories()
 {
    let clock = Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    org_with_domain(&hub, "acme", "acme.test").await;
    let account = |who: &str| {
        json!({"password": format!("{who}-pw"), "claims": {
            "email": format!("{who}@acme.test"), "email_verified": true, "name": who}})
    };
    let (idp, issuer) = upstream(
        "acme",
        &hub,
        json!({"alice": account("alice"), "dave": account("dave")}),
    );
    // The IdP Alice connects in the console (a second company IdP, say Okta).
    let (okta, okta_issuer) = upstream("acme-okta", &hub, json!({}));
    connect(&hub, "acme", "Acme OIDC", &issuer, false).await;
    // Acme's directory (SCIM, as Entra ID pushes it): Alice and Dave, both in IT-Admins.
    let scim = crate::scim::Scim::connect(&hub, "acme").await;
    let mut ids = std::collections::BTreeMap::new();
    for who in ["alice", "dave"] {
        let r = scim
            .call(
                Method::POST,
                "/Users",
                Some(
                    json!({"schemas": [crate::scim::USER], "userName": format!("{who}@acme.test"),
                    "active": true, "displayName": who,
                    "emails": [{"primary": true, "value": format!("{who}@acme.test")}]}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        ids.insert(who, r.json["id"].as_str().unwrap().to_string());
    }
    let r = scim
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "IT-Admins",
                "members": [{"value": ids["alice"]}, {"value": ids["dave"]}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let r = hub
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/roles",
            Some(hub.org_admin_key("acme").await.as_str()),
            Some(&json!({"org_admin": ["IT-Admins"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let conns = hub.get(&op, "/api/v1/orgs/acme/connections").await.json;
    let conn = conns[0]["id"].as_str().unwrap().to_string();
    let dirs = hub.get(&op, "/api/v1/orgs/acme/directories").await.json;
    let dir = dirs[0]["id"].as_str().unwrap().to_string();
    let tokens_path = format!("/api/v1/orgs/acme/directories/{dir}/scim-tokens");
    let tokens_before = hub.get(&op, &tokens_path).await.json;

    // The test moves the hub's clock on twice: once Alice has signed in, and once she has made
    // her first change.
    let alice = ids["alice"].clone();
    let mover = {
        let (hub_url, key, clock, alice) =
            (hub.url.clone(), op.clone(), clock.clone(), alice.clone());
        let client = hub.client.clone();
        tokio::spawn(async move {
            let events = |client: reqwest::Client| {
                let (url, key) = (hub_url.clone(), key.clone());
                async move {
                    let r = client
                        .get(format!("{url}/api/v1/orgs/acme/audit?limit=1000"))
                        .bearer_auth(key)
                        .send()
                        .await
                        .unwrap();
                    let v: Value = r.json().await.unwrap();
                    v["events"].as_array().cloned().unwrap_or_default()
                }
            };
            for action in ["session.started", "connection.created"] {
                loop {
                    let e = events(client.clone()).await;
                    if e.iter()
                        .any(|e| e["action"] == action && e["actor"]["user_id"] == alice.as_str())
                    {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                clock.advance(chrono::Duration::minutes(WINDOW_MINUTES * 2));
            }
        })
    };

    // Every form that changes who can sign in or who belongs, posted by the browser itself
    // (with the page's CSRF token) once Alice's sign-in is old: refused, nothing changed.
    let forged = [
        (
            "/console/setup/connections".to_string(),
            json!({"name": "Forged", "issuer": okta_issuer, "client_id": "x", "client_secret": "y"}),
        ),
        (
            format!("/console/setup/connections/{conn}/delete"),
            json!({}),
        ),
        (
            format!("/console/setup/connections/{conn}"),
            json!({"status": "disabled"}),
        ),
        (
            format!("/console/setup/connections/{conn}"),
            json!({"client_secret": "stolen-and-replaced"}),
        ),
        (
            "/console/setup/directories".to_string(),
            json!({"name": "Forged directory", "kind": "scim"}),
        ),
        (
            format!("/console/setup/directories/{dir}"),
            json!({"status": "disabled"}),
        ),
        (
            format!("/console/setup/directories/{dir}/tokens"),
            json!({"name": "forged token"}),
        ),
        (
            format!(
                "/console/setup/directories/{dir}/tokens/{}/revoke",
                tokens_before[0]["id"].as_str().unwrap()
            ),
            json!({}),
        ),
        (
            format!("/console/setup/directories/{dir}/syncs/0190/confirm"),
            json!({}),
        ),
        (
            "/console/setup/roles".to_string(),
            json!({"org_admin": "Everyone", "compliance_officer": ""}),
        ),
    ];
    let mut steps = vec![json!({"until": "/console/setup", "text": "Sign in again"})];
    for (path, form) in &forged {
        steps.push(json!({"post": path, "csrf": true, "form": form}));
    }
    // Through the page: she connects Okta, is sent to sign in again, and a colleague typing
    // his own password at the IdP does not count.
    steps.push(
        json!({"on": "/console/setup", "open": "Connect an OpenID Connect IdP",
        "fill": {"#c-name": "Acme Okta", "#c-issuer": okta_issuer, "#c-client": "hub-acme-okta",
                 "#c-secret": "okta-secret", "#c-domains": ""},
        "click": "Connect the OIDC IdP"}),
    );
    steps.push(json!({"reauth": "Sign in again", "login": "dave"}));
    steps.push(json!({"goto": "/console/reauth/resume"}));
    // She signs in herself, comes back to her change and makes it.
    steps.push(json!({"reauth": "Sign in again"}));
    steps.push(json!({"press": "Make the change"}));
    // Later (the clock moved on again): a new SCIM token for the directory.
    steps.push(json!({"until": "/console/setup", "text": "Sign in again"}));
    steps.push(json!({"on": "/console/setup",
        "fill": {"input[placeholder='Entra ID provisioning']": "Okta provisioning"},
        "click": "Make a token"}));
    steps.push(json!({"reauth": "Sign in again"}));
    steps.push(json!({"press": "Make the change"}));
    let lines = walk(&hub, "alice", "alice@acme.test", json!(steps)).await;
    mover.await.unwrap();

    assert!(
        text(&lines[1]).contains("last sign-in"),
        "the setup page says her sign-in is too old: {}",
        lines[1]
    );
    for line in &lines[2..2 + forged.len()] {
        assert_eq!(line["status"], 403, "{line}");
        let t = text(line);
        assert!(
            t.contains("Nothing was changed") && t.contains("Sign in again"),
            "{line}"
        );
    }
    let n = 2 + forged.len();
    assert!(
        text(&lines[n]).contains("Sign in again")
            && text(&lines[n]).contains("Nothing was changed"),
        "the real form, too: {}",
        lines[n]
    );
    assert!(
        text(&lines[n + 1]).contains("someone else"),
        "Dave's password does not renew Alice's sign-in: {}",
        lines[n + 1]
    );
    assert!(
        text(&lines[n + 2]).contains("Acme Okta") && text(&lines[n + 2]).contains("Sign in again"),
        "her change still waits for her: {}",
        lines[n + 2]
    );
    assert!(
        lines[n + 3]["idp"]
            .as_str()
            .unwrap()
            .contains("Company sign-in"),
        "the IdP asked for her password again: {}",
        lines[n + 3]
    );
    let resume = text(&lines[n + 3]);
    assert!(
        resume.contains("Acme Okta") && resume.contains("Make the change"),
        "back at the hub, her change waits for a last confirmation: {resume}"
    );
    assert!(
        !resume.contains("okta-secret"),
        "the secret is not shown again: {resume}"
    );
    assert!(
        lines[n + 4]["url"]
            .as_str()
            .unwrap()
            .ends_with("/console/setup")
            && text(&lines[n + 4]).contains("Acme Okta"),
        "{}",
        lines[n + 4]
    );
    assert!(
        text(&lines[n + 5]).contains("last sign-in"),
        "{}",
        lines[n + 5]
    );
    assert!(
        text(&lines[n + 6]).contains("Sign in again"),
        "{}",
        lines[n + 6]
    );
    assert!(
        text(&lines[n + 8]).contains("hubscim_"),
        "the new token, once: {}",
        lines[n + 8]
    );

    // Nothing forged happened; the two real changes did, each once.
    let conns = hub.get(&op, "/api/v1/orgs/acme/connections").await.json;
    let names: Vec<&str> = conns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme OIDC", "Acme Okta"], "{conns}");
    assert!(
        conns
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "active")
    );
    // Her own connection is approved as she made it (the operator's waited for an admin).
    assert!(conns[1]["links_approved_at"].is_string(), "{conns}");
    let dirs = hub.get(&op, "/api/v1/orgs/acme/directories").await.json;
    assert_eq!(dirs.as_array().unwrap().len(), 1, "{dirs}");
    assert_eq!(dirs[0]["status"], "active");
    let tokens = hub.get(&op, &tokens_path).await.json;
    assert_eq!(
        tokens.as_array().unwrap().len(),
        tokens_before.as_array().unwrap().len() + 1,
        "{tokens}"
    );
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["revoked_at"].is_null())
    );
    let roles = hub.get(&op, "/api/v1/orgs/acme/roles").await.json;
    assert_eq!(roles["org_admin"], json!(["IT-Admins"]));

    // The audit events record the fresh sign-in each change relied on.
    let events = until_audited(&hub, |e| by(e, "scim_token.created", &alice).len() == 1).await;
    let reauths = by(&events, "session.reauthenticated", &alice);
    assert_eq!(reauths.len(), 2, "{reauths:?}");
    for r in &reauths {
        assert_eq!(r["details"]["method"], "oidc", "{r}");
        assert!(r["details"]["upstream_auth_time"].is_number(), "{r}");
    }
    for (action, reauth) in [
        ("connection.created", reauths[0]),
        ("scim_token.created", reauths[1]),
    ] {
        let changed = by(&events, action, &alice);
        assert_eq!(changed.len(), 1, "{action}: {changed:?}");
        assert_eq!(
            changed[0]["actor"]["reauthenticated_at"], reauth["at_ms"],
            "{action} records the fresh sign-in it relied on: {}",
            changed[0]
        );
    }
    let signed_in = by(&events, "session.started", &alice)[0]["at_ms"]
        .as_i64()
        .unwrap();
    assert!(reauths[0]["at_ms"].as_i64().unwrap() > signed_in + WINDOW_MINUTES * 60_000);
    for forged_action in [
        "connection.deleted",
        "connection.updated",
        "directory.created",
        "directory.updated",
        "scim_token.revoked",
        "directory.sync_confirmed",
        "roles.updated",
    ] {
        assert!(
            by(&events, forged_action, &alice).is_empty(),
            "{forged_action} by Alice"
        );
    }
    assert!(
        by(&events, "session.reauthenticated", ids["dave"].as_str()).is_empty(),
        "Dave's sign-in at Alice's prompt renewed nothing"
    );

    // Dave, the other admin: the notices on his home page, unread, then read.
    let seq = |action: &str| by(&events, action, &alice)[0]["seq"].as_i64().unwrap();
    let dave = walk(
        &hub,
        "dave",
        "dave@acme.test",
        json!([
            {"goto": "/console"},
            {"on": "/console", "click": "Mark all as read"},
        ]),
    )
    .await;
    let home = text(&dave[1]);
    assert!(home.contains("Security notices"), "{home}");
    // Everyone else's changes of this kind are there too (the operator's, through the API).
    let unread: usize = home
        .split(" unread")
        .next()
        .and_then(|s| s.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(unread >= 2, "{home}");
    for (action, what) in [
        ("connection.created", "Acme Okta"),
        ("scim_token.created", "Okta provisioning"),
    ] {
        assert!(home.contains(what), "{what}: {home}");
        assert!(
            home.contains(&format!("audit event #{}", seq(action))),
            "linked to the audit event of {action}: {home}"
        );
    }
    assert!(home.contains("alice@acme.test"), "who: {home}");
    assert!(home.contains("signed in again at"), "{home}");
    assert!(text(&dave[2]).contains("No unread"), "{}", dave[2]);
    // Alice is not notified of her own changes.
    let alice_home = walk(
        &hub,
        "alice",
        "alice@acme.test",
        json!([{"goto": "/console"}]),
    )
    .await;
    assert!(
        !text(&alice_home[1]).contains("Acme Okta"),
        "{}",
        alice_home[1]
    );
    drop((idp, okta));
    hub.stop().await;
}

/// What a browser that follows redirects itself ends on, with what it went through.
struct Landed {
    status: StatusCode,
    body: String,
    url: String,
    /// Every Location followed.
    hops: Vec<String>,
    /// Every session cookie the hub set on the way.
    sessions: Vec<String>,
}

async fn land(hub: &TestHub, b: &Browser, mut r: reqwest::Response) -> Landed {
    let (mut hops, mut sessions) = (Vec::new(), Vec::new());
    let mut url = r.url().to_string();
    for _ in 0..10 {
        for c in r.headers().get_all("set-cookie") {
            if let Some(v) = c.to_str().unwrap().strip_prefix("hub_session=") {
                sessions.push(v.split(';').next().unwrap().to_string());
            }
        }
        let Some(loc) = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
        else {
            break;
        };
        url = if loc.starts_with('/') {
            format!("{}{loc}", hub.url)
        } else {
            loc
        };
        hops.push(url.clone());
        r = b.client.get(&url).send().await.unwrap();
    }
    Landed {
        status: r.status(),
        body: r.text().await.unwrap(),
        url,
        hops,
        sessions,
    }
}

fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with its CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn post(hub: &TestHub, b: &Browser, path: &str, form: &[(&str, &str)]) -> Landed {
    let r = b
        .client
        .post(format!("{}{path}", hub.url))
        .header("origin", &hub.url)
        .form(form)
        .send()
        .await
        .unwrap();
    land(hub, b, r).await
}

async fn get(hub: &TestHub, b: &Browser, path: &str) -> Landed {
    let r = b
        .client
        .get(format!("{}{path}", hub.url))
        .send()
        .await
        .unwrap();
    land(hub, b, r).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idp_that_answers_from_an_old_session_or_without_auth_time_renews_no_sign_in() {
    let clock = Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        clock: Some(clock.clone()),
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = crate::scim::Scim::connect(&hub, "acme").await;
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [crate::scim::USER], "userName": "alice@acme.test",
                "active": true, "displayName": "Alice",
                "emails": [{"primary": true, "value": "alice@acme.test"}]}),
            ),
        )
        .await;
    let alice = r.json["id"].as_str().unwrap().to_string();
    let r = scim
        .call(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "IT-Admins", "members": [{"value": alice}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let r = hub
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/roles",
            Some(hub.org_admin_key("acme").await.as_str()),
            Some(&json!({"org_admin": ["IT-Admins"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // An IdP that answers at once, with whatever auth_time it is told to claim.
    let rogue = NodePeer::start(
        "rogue-op.mjs",
        &[
            ("CLIENT_ID", "hub-acme".to_string()),
            ("EMAIL", "alice@acme.test".to_string()),
        ],
    );
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    connect(&hub, "acme", "Acme OIDC", &idp, false).await;

    // A fresh console sign-in: the IdP is asked to authenticate again and says it just did.
    set_mode(&idp, json!({"auth_time": 0})).await;
    let b = Browser::new();
    let signed_in = post(&hub, &b, "/console/login", &[("email", "alice@acme.test")]).await;
    assert!(signed_in.url.ends_with("/console"), "{}", signed_in.body);
    let to_idp = signed_in.hops.iter().find(|h| h.starts_with(&idp)).unwrap();
    assert!(
        to_idp.contains("prompt=login") && to_idp.contains("max_age=0"),
        "{to_idp}"
    );
    let first_cookie = signed_in.sessions[0].clone();
    let setup = get(&hub, &b, "/console/setup").await;
    assert!(
        !setup.body.contains("reauth-needed"),
        "recent: {}",
        setup.body
    );

    // Ten minutes on: too old. The change is refused (and waits).
    clock.advance(chrono::Duration::minutes(WINDOW_MINUTES * 2));
    let setup = get(&hub, &b, "/console/setup").await;
    assert!(setup.body.contains("reauth-needed"), "{}", setup.body);
    let token = csrf(&setup.body);
    let roles = [
        ("csrf", token.as_str()),
        ("org_admin", "IT-Admins\nSecurity"),
        ("compliance_officer", ""),
    ];
    let refused = post(&hub, &b, "/console/setup/roles", &roles).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Nothing was changed"));

    // The IdP answers from an hour-old session: refused, nothing renewed.
    set_mode(&idp, json!({"auth_time": -3600})).await;
    let again = post(&hub, &b, "/console/reauth", &[("csrf", token.as_str())]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);
    assert!(again.sessions.is_empty());
    // It says nothing of when it authenticated: not a confirmed fresh sign-in either.
    set_mode(&idp, json!({})).await;
    let again = post(&hub, &b, "/console/reauth", &[("csrf", token.as_str())]).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);
    assert!(
        again.body.contains("could not be confirmed"),
        "{}",
        again.body
    );
    assert!(again.sessions.is_empty());
    let still = post(&hub, &b, "/console/setup/roles", &roles).await;
    assert_eq!(still.status, StatusCode::FORBIDDEN, "still too old");

    // A real fresh sign-in: the session gets a new token, the old cookie stops working, and
    // the waiting change is made once, on confirmation.
    set_mode(&idp, json!({"auth_time": 0})).await;
    let back = post(&hub, &b, "/console/reauth", &[("csrf", token.as_str())]).await;
    assert!(back.url.ends_with("/console/reauth/resume"), "{}", back.url);
    assert!(back.body.contains("Make the change") && back.body.contains("Security"));
    assert_eq!(back.sessions.len(), 1);
    assert_ne!(back.sessions[0], first_cookie);
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/console/setup", hub.url))
        .header("cookie", format!("hub_session={first_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    assert_eq!(old.headers()["location"], "/console/login");
    assert_eq!(
        post(
            &hub,
            &b,
            "/console/reauth/resume",
            &[("csrf", token.as_str())]
        )
        .await
        .status,
        StatusCode::FORBIDDEN,
        "the old page's CSRF token went with the old cookie"
    );
    let token = csrf(&back.body);
    let made = post(
        &hub,
        &b,
        "/console/reauth/resume",
        &[("csrf", token.as_str())],
    )
    .await;
    assert!(made.url.ends_with("/console/setup"), "{}", made.body);
    let again = post(
        &hub,
        &b,
        "/console/reauth/resume",
        &[("csrf", token.as_str())],
    )
    .await;
    assert!(
        again.url.ends_with("/console/setup"),
        "nothing waits any more"
    );
    let roles = hub.get(&op, "/api/v1/orgs/acme/roles").await.json;
    assert_eq!(roles["org_admin"], json!(["IT-Admins", "Security"]));
    let events = until_audited(&hub, |e| !by(e, "roles.updated", &alice).is_empty()).await;
    let updated = by(&events, "roles.updated", &alice);
    assert_eq!(updated.len(), 1, "made once: {updated:?}");
    let reauths = by(&events, "session.reauthenticated", &alice);
    assert_eq!(reauths.len(), 1, "only the fresh one counted: {reauths:?}");
    assert_eq!(
        updated[0]["actor"]["reauthenticated_at"],
        reauths[0]["at_ms"]
    );
    drop(rogue);
    hub.stop().await;
}
