//! Issue 16, from the attacker's side: every name a tenant or a person controls, shown in the
//! console, is text. Two organizations give their names, their people's display names and
//! groups, an IdP connection, a directory and its SCIM token, an application, a space with its
//! description, the role groups and a leaver's reason (an audit detail) the same hostile value:
//! a `<script>` element, an attribute break-out with an `<img onerror>` and a `javascript:` URL.
//! (Acme's admin gets her name and groups from its directory, Globex's from his IdP at his first
//! sign-in.) Each console page that shows them is opened in headless Chromium (Playwright) by each
//! organization's admin: the HTML the hub serves holds the value escaped and no element or
//! attribute made from it, the DOM has no handler, no `javascript:` URL and no script but the
//! console's own, the page shows the value as typed, and no dialog opens. The sign-in flow's
//! own pages (here: an organization that has not connected its IdP yet) escape it too.

use hub_e2e::{Browser, Options, TestHub, run_node};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{connect, upstream};

/// What an attacker names things: a script element, an attribute break-out with an event
/// handler, and a `javascript:` URL.
const EVIL: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>javascript:alert(1)";
/// `EVIL` as HTML text (and a double-quoted attribute value) must carry it.
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x \
                       onerror=alert(1)&gt;javascript:alert(1)";

/// An organization named after `EVIL`, with the verified domain `domain`.
async fn evil_org(hub: &TestHub, slug: &str, label: &str, domain: &str) -> String {
    let op = &hub.operator_key;
    let name = format!("{label} {EVIL}");
    let r = hub
        .post(op, "/api/v1/orgs", json!({"slug": slug, "name": name}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            op,
            &format!("/api/v1/orgs/{slug}/domains"),
            json!({"domain": domain}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            op,
            &format!("/api/v1/orgs/{slug}/domains/{domain}/attest"),
            json!({"reason": "test fixture"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    name
}

/// `admins` make `slug`'s admins; the compliance officers' group breaks out of its text area.
async fn evil_roles(hub: &TestHub, slug: &str, admins: &str) {
    let r = hub
        .call(
            Method::PUT,
            &format!("/api/v1/orgs/{slug}/roles"),
            Some(hub.operator_key.as_str()),
            Some(&json!({"org_admin": [admins],
                         "compliance_officer": [format!("</textarea>{EVIL}")]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

fn account(login: &str, email: &str, admins: &str) -> Value {
    json!({login: {"password": format!("{login}-pw"), "claims": {
        "email": email, "email_verified": true, "name": format!("Admin {EVIL}"),
        "groups": [admins, EVIL]}}})
}

/// Opens `pages` in Chromium as `login`; returns one line per page (after the sign-in's).
async fn open(hub: &TestHub, login: &str, email: &str, pages: &[&str]) -> Vec<Value> {
    let (ok, lines, out) = run_node(
        "console-xss.mjs",
        &[
            ("HUB", hub.url.clone()),
            ("EMAIL", email.to_string()),
            ("LOGIN", login.to_string()),
            ("PASSWORD", format!("{login}-pw")),
            ("PAGES", json!(pages).to_string()),
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        !lines.iter().any(|l| l.get("error").is_some()),
        "{login}: {out}"
    );
    assert_eq!(lines.len(), pages.len() + 1, "{out}");
    assert!(
        lines[0]["text"].as_str().unwrap().contains(email),
        "{login} signed in: {}",
        lines[0]
    );
    lines[1..].to_vec()
}

/// The markup an attacker's value would make, were it not escaped.
fn assert_inert_html(what: &str, html: &str) {
    for made in [
        "<script>alert",
        "<img",
        "onerror=alert(1)>",
        "href=\"javascript:",
        "action=\"javascript:",
        "src=\"javascript:",
    ] {
        assert!(!html.contains(made), "{what} serves {made:?}:\n{html}");
    }
}

/// One page as the admin saw it: served, escaped, inert, and showing the value as typed.
fn assert_inert(line: &Value, shows: &[&str]) {
    let path = line["path"].as_str().unwrap();
    let html = line["html"].as_str().unwrap();
    let text = line["text"].as_str().unwrap();
    assert_eq!(line["status"], 200, "{path}: {}", line["text"]);
    assert_inert_html(path, html);
    assert!(html.contains(ESCAPED), "{path} shows the value escaped");
    for shown in shows {
        assert!(
            text.contains(shown),
            "{path} shows {shown:?} as text: {text}"
        );
    }
    let dom = &line["dom"];
    assert_eq!(dom["loads"], 0, "{path}: an element that loads something");
    assert_eq!(
        dom["scripts"],
        json!(["/console/assets/console.js"]),
        "{path}: the console's script only"
    );
    assert_eq!(dom["handlers"], json!([]), "{path}: event handlers");
    assert_eq!(dom["jsUrls"], json!([]), "{path}: javascript: URLs");
    assert_eq!(line["dialogs"], json!([]), "{path} opened a dialog");
}

#[tokio::test(flavor = "multi_thread")]
async fn names_from_tenants_and_people_are_inert_text_on_every_console_page() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    let acme = evil_org(&hub, "acme", "Acme", "acme.test").await;
    let globex = evil_org(&hub, "globex", "Globex", "globex.test").await;
    evil_roles(&hub, "acme", "IT-Admins").await;
    evil_roles(&hub, "globex", "Globex-IT").await;
    let (idp_a, issuer_a) = upstream(
        "acme",
        &hub,
        account("alice", "alice@acme.test", "IT-Admins"),
    );
    let (idp_b, issuer_b) = upstream(
        "globex",
        &hub,
        account("bob", "bob@globex.test", "Globex-IT"),
    );
    let connection = format!("Acme SSO {EVIL}");
    connect(&hub, "acme", &connection, &issuer_a, false).await;
    connect(
        &hub,
        "globex",
        &format!("Globex SSO {EVIL}"),
        &issuer_b,
        true,
    )
    .await;
    // Acme's directory (SCIM, renamed by the attacker) pushes Alice, her name and her groups;
    // it gets a second token named by the attacker.
    let scim = crate::scim::Scim::connect(&hub, "acme").await;
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": [crate::scim::USER], "userName": "alice@acme.test",
                "active": true, "displayName": format!("Admin {EVIL}"),
                "emails": [{"primary": true, "value": "alice@acme.test"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let alice_id = r.json["id"].as_str().unwrap().to_string();
    for group in ["IT-Admins", EVIL] {
        let r = scim
            .call(
                Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": group, "members": [{"value": alice_id}]}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let dirs = hub.get(&op, "/api/v1/orgs/acme/directories").await.json;
    let dir = dirs[0]["id"].as_str().unwrap().to_string();
    let directory = format!("HR {EVIL}");
    // Acme has an admin of its own by now: it names its directory and token itself.
    let acme_admin = hub.org_admin_key("acme").await;
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/directories/{dir}"),
            Some(acme_admin.as_str()),
            Some(&json!({"name": directory})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub
        .post(
            &acme_admin,
            &format!("/api/v1/orgs/acme/directories/{dir}/scim-tokens"),
            json!({"name": EVIL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let application = format!("Portal {EVIL}");
    let r = hub
        .post(
            &acme_admin,
            "/api/v1/orgs/acme/applications",
            json!({"name": application, "client_type": "confidential",
                   "redirect_uris": ["https://portal.acme.test/cb"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let space = format!("Project {EVIL}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/spaces",
            json!({"name": space, "slug": "project-x", "description": EVIL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "group": "Globex-IT"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // Globex accepts: the access is on both organizations' recertification campaign.
    let grant = r.json["id"].as_str().unwrap().to_string();
    let globex_key = hub.org_admin_key("globex").await;
    let r = hub
        .post(
            &globex_key,
            &format!("/api/v1/orgs/globex/invitations/{grant}/accept"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // A leaver whose reason (an audit detail) is the attacker's value.
    let r = hub
        .post(
            &acme_admin,
            "/api/v1/orgs/acme/users",
            json!({"email": "leaver@acme.test", "name": EVIL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let leaver = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &op,
            &format!("/api/v1/orgs/acme/users/{leaver}/deprovision"),
            json!({"reason": EVIL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // The filter of the audit page echoes what the link says (a reflected value).
    let filter = format!(
        "/console/audit?action={}",
        url::form_urlencoded::byte_serialize(EVIL.as_bytes()).collect::<String>()
    );
    let alice = open(
        &hub,
        "alice",
        "alice@acme.test",
        &[
            "/console",
            "/console/organization",
            "/console/audit",
            &filter,
            "/console/spaces",
            "/console/setup",
            "/console/reauth",
        ],
    )
    .await;
    let in_json = serde_json::to_string(EVIL).unwrap();
    let admin = format!("Admin {EVIL}");
    let expected: [&[&str]; 7] = [
        // Her name and groups, her organization, the operator's changes as notices.
        &[&acme, &admin, &connection, &directory],
        // The directory as a source of people, the leaver's reason.
        &[&acme, &directory, EVIL],
        // The events' details (names and the leaver's reason, as JSON).
        &[&acme, &in_json],
        &[&acme],
        // The space, its description and the partner's name.
        &[&acme, &space, &globex],
        // The connection, the directory and its token, the application, the space, the roles.
        &[&acme, &connection, &directory, &application, &space],
        &[&acme],
    ];
    for (line, shows) in alice.iter().zip(expected) {
        assert_inert(line, shows);
    }
    let reflected = alice[3]["html"].as_str().unwrap();
    assert!(
        reflected.contains(&format!("value=\"{ESCAPED}\"")),
        "the filter's value, escaped in its attribute: {reflected}"
    );
    let setup = alice[5]["html"].as_str().unwrap();
    assert!(
        setup.contains(&format!("&lt;/textarea&gt;{ESCAPED}</textarea>")),
        "the role groups stay inside their text area"
    );
    assert!(
        setup.contains(&format!("data-confirm=\"Delete Acme SSO {ESCAPED}?")),
        "a confirmation question names the connection, escaped in its attribute"
    );

    // Globex's admin sees Acme's invitation: Acme's and the space's names.
    let bob = open(
        &hub,
        "bob",
        "bob@globex.test",
        &["/console", "/console/spaces", "/console/recertification"],
    )
    .await;
    assert_inert(&bob[0], &[&globex, &admin]);
    assert_inert(&bob[1], &[&globex, &acme, &space]);
    // The campaign names the space, its owner and the partner.
    assert_inert(&bob[2], &[&globex, &acme, &space]);

    // The sign-in flow's pages: an organization that has not connected its IdP yet.
    let initech = evil_org(&hub, "initech", "Initech", "initech.test").await;
    let browser = Browser::new();
    let r = browser
        .client
        .post(format!("{}/console/login", hub.url))
        .form(&[("email", "carl@initech.test")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The lookup, then the hub's sign-in for Initech.
    let mut r = r;
    for _ in 0..2 {
        let to = r.headers()["location"].to_str().unwrap().to_string();
        r = browser
            .client
            .get(format!("{}{to}", hub.url))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let html = r.text().await.unwrap();
    assert_inert_html("the sign-in page", &html);
    assert!(
        html.contains(&format!("Initech {ESCAPED} has not connected")),
        "{initech}: {html}"
    );
    drop((idp_a, idp_b));
    hub.stop().await;
}
