//! The web console in headless Chromium (Playwright): people of two companies sign in with
//! their own IdPs (`oidc-provider`), their roles come from their directory groups (Acme's
//! pushed over SCIM, Globex's as its IdP asserts them), and each
//! flow is driven with a screenshot kept under `target/test-artifacts/console`: an org admin's
//! provisioning state, audit log (verified, exported as CSV and JSON) and spaces; a compliance
//! officer who reads but cannot act; an employee who sees only their own account; the partner's
//! admin accepting an invitation. Every page, tried by the other organization's admin, shows
//! nothing of the first organization's, and its actions answer 404; a form without its CSRF
//! token changes nothing.

use hub_e2e::{Options, TestHub, run_node};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{audit_actions, connect, org_with_domain, upstream};

const PAGES: [&str; 4] = [
    "/console",
    "/console/organization",
    "/console/audit",
    "/console/spaces",
];

/// Runs the console script for one person; returns its lines (the first is the sign-in).
pub(crate) async fn walk(hub: &TestHub, who: &str, email: &str, steps: Value) -> Vec<Value> {
    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-artifacts/console");
    std::fs::create_dir_all(&shots).unwrap();
    let (ok, lines, out) = run_node(
        "console.mjs",
        &[
            ("HUB", hub.url.clone()),
            ("EMAIL", email.to_string()),
            ("LOGIN", who.to_string()),
            ("PASSWORD", format!("{who}-pw")),
            ("SHOTS", shots.display().to_string()),
            ("NAME", who.to_string()),
            ("STEPS", steps.to_string()),
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        !lines.iter().any(|l| l.get("error").is_some()),
        "{who}: {out}"
    );
    assert_eq!(lines.len(), steps.as_array().unwrap().len() + 1, "{out}");
    assert!(
        lines[0]["text"].as_str().unwrap().contains(email),
        "{who} signed in: {}",
        lines[0]
    );
    lines
}

pub(crate) fn text(line: &Value) -> &str {
    line["text"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_compliance_officers_and_employees_use_the_console_through_their_own_sso() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let account = |email: &str, groups: &[&str]| {
        json!({"password": format!("{}-pw", email.split('@').next().unwrap()), "claims": {
            "email": email, "email_verified": true, "name": email, "groups": groups}})
    };
    let (idp_a, issuer_a) = upstream(
        "acme",
        &hub,
        json!({"alice": account("alice@acme.test", &[]),
               "carol": account("carol@acme.test", &[]),
               "erin": account("erin@acme.test", &[])}),
    );
    let (idp_b, issuer_b) = upstream(
        "globex",
        &hub,
        json!({"bob": account("bob@globex.test", &["Globex-IT"])}),
    );
    let conn_a = connect(&hub, "acme", "Acme OIDC", &issuer_a, true).await;
    connect(&hub, "globex", "Globex OIDC", &issuer_b, true).await;
    for (slug, admins, compliance) in [
        ("acme", "IT-Admins", "Compliance"),
        ("globex", "Globex-IT", "Globex-Compliance"),
    ] {
        let r = hub
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/orgs/{slug}/roles"),
                Some(hub.org_admin_key(slug).await.as_str()),
                Some(&json!({"org_admin": [admins], "compliance_officer": [compliance]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    // Acme's directory (SCIM, as Entra ID pushes it) holds its people and the groups that
    // carry the roles; it also has a leaver and a space it invited Globex to.
    let scim = crate::scim::Scim::connect(&hub, "acme").await;
    let mut ids = std::collections::BTreeMap::new();
    for who in ["alice", "carol", "erin"] {
        let r = scim
            .call(
                reqwest::Method::POST,
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
    for (group, who) in [("IT-Admins", "alice"), ("Compliance", "carol")] {
        let r = scim
            .call(
                reqwest::Method::POST,
                "/Groups",
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": group, "members": [{"value": ids[who]}]}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    // Acme has an admin of its own by now (its role mapping): it adds the person itself.
    let acme_admin = hub.org_admin_key("acme").await;
    let r = hub
        .post(
            &acme_admin,
            "/api/v1/orgs/acme/users",
            json!({"email": "leaver@acme.test", "name": "Leaver"}),
        )
        .await;
    let leaver = r.json["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &op,
            &format!("/api/v1/orgs/acme/users/{leaver}/deprovision"),
            json!({"reason": "left Acme"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X", "description": "Joint venture with Globex"}),
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
    let grant = r.json["id"].as_str().unwrap().to_string();

    // Alice, Acme's admin: every page, the exports, the verification.
    let pages: Vec<Value> = PAGES.iter().map(|p| json!({"goto": p})).collect();
    let mut steps = pages.clone();
    steps.push(json!({"fetch": "/console/audit/export?format=csv"}));
    steps.push(json!({"fetch": "/console/audit/export?format=json"}));
    steps.push(json!({"post": "/console/logout", "csrf": false}));
    // Setup, step by step: test the IdP connection, a SCIM token, an application, a space and
    // an invitation to Globex; a bad redirect URI refused with its reason.
    steps.push(json!({"goto": "/console/setup"}));
    steps.push(json!({"on": "/console/setup", "click": "Test connection"}));
    steps.push(json!({"on": "/console/setup",
        "fill": {"input[placeholder='Entra ID provisioning']": "Okta provisioning"},
        "click": "Make a token"}));
    steps.push(json!({"on": "/console/setup", "open": "Register an application",
        "fill": {"#a-name": "Portal", "#a-uri": "https://portal.acme.test/cb"}, "click": "Register"}));
    steps.push(json!({"on": "/console/setup", "open": "Create a space",
        "fill": {"#s-name": "Launch", "#s-desc": "The product launch"}, "click": "Create"}));
    steps.push(
        json!({"on": "/console/setup", "open": "Invite a partner organization",
        "select": {"#g-space": "launch"}, "fill": {"#g-org": "globex"}, "click": "Invite"}),
    );
    steps.push(
        json!({"on": "/console/setup", "open": "Register an application",
        "fill": {"#a-name": "Bad", "#a-uri": "http://evil.example/cb"}, "click": "Register"}),
    );
    // Managing them: a new secret, a space made and deleted, an application deleted.
    steps.push(json!({"on": "/console/setup", "click": "New secret for Portal"}));
    steps.push(json!({"on": "/console/setup", "open": "Create a space",
        "fill": {"#s-name": "Scratch"}, "click": "Create"}));
    steps.push(json!({"on": "/console/setup", "click": "Delete space Scratch"}));
    steps.push(json!({"on": "/console/setup", "click": "Delete Portal"}));
    let alice = walk(&hub, "alice", "alice@acme.test", json!(steps)).await;
    for line in &alice[1..=4] {
        assert_eq!(line["status"], 200, "{line}");
        let csp = line["csp"].as_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    }
    assert!(text(&alice[1]).contains("org_admin"), "{}", alice[1]);
    let org_page = text(&alice[2]);
    assert!(org_page.contains("leaver@acme.test") && org_page.contains("left Acme"));
    assert!(org_page.contains("Corporate directory"), "{org_page}");
    assert!(
        text(&alice[3]).contains("The audit log verifies"),
        "{}",
        alice[3]
    );
    assert!(text(&alice[3]).contains("user.deprovisioned"));
    let spaces = text(&alice[4]);
    assert!(
        spaces.contains("Project X") && spaces.contains("pending"),
        "{spaces}"
    );
    assert!(
        spaces.contains("Withdraw"),
        "an admin can withdraw: {spaces}"
    );
    assert_eq!(alice[5]["status"], 200);
    assert!(text(&alice[5]).starts_with("seq,time,actor,action,target,details,hash"));
    assert!(text(&alice[5]).contains("user.deprovisioned"));
    assert!(
        alice[6]["type"]
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(text(&alice[6]).trim_start().starts_with('['));
    assert_eq!(
        alice[7]["status"], 403,
        "no CSRF token, no logout: {}",
        alice[7]
    );
    let setup = text(&alice[8]);
    assert!(
        setup.contains("1. Sign-in") && setup.contains("Acme OIDC"),
        "{setup}"
    );
    assert!(setup.contains("/scim/v2/acme"), "{setup}");
    assert!(
        text(&alice[9]).contains("Every check passed"),
        "{}",
        alice[9]
    );
    assert!(
        text(&alice[10]).contains("hubscim_"),
        "the token, once: {}",
        alice[10]
    );
    assert!(text(&alice[11]).contains("client secret"), "{}", alice[11]);
    assert!(
        text(&alice[13]).contains("Launch") && text(&alice[13]).contains("pending"),
        "{}",
        alice[13]
    );
    assert!(
        text(&alice[14]).contains("redirect_uris"),
        "a bad redirect URI is refused with its reason: {}",
        alice[14]
    );
    let apps = hub.get(&op, "/api/v1/orgs/acme/applications").await.json;
    assert!(!apps.to_string().contains("evil.example"));
    assert!(
        text(&alice[15]).contains("new client secret"),
        "{}",
        alice[15]
    );
    assert!(
        text(&alice[16]).contains("Delete space Scratch"),
        "{}",
        alice[16]
    );
    assert!(!text(&alice[17]).contains("Scratch"), "{}", alice[17]);
    assert!(!text(&alice[18]).contains("Portal"), "{}", alice[18]);
    let apps = hub.get(&op, "/api/v1/orgs/acme/applications").await.json;
    assert!(!apps.to_string().contains("Portal"), "{apps}");
    let created = audit_actions(&hub, "acme").await;
    for a in [
        "scim_token.created",
        "application.created",
        "application.secret_rotated",
        "application.deleted",
        "space.created",
        "space.deleted",
        "space_grant.proposed",
    ] {
        let e = created
            .iter()
            .find(|e| e["action"] == a && e["actor"]["kind"] == "user")
            .unwrap_or_else(|| panic!("{a} by alice, audited"));
        assert_eq!(e["actor"]["user_id"], ids["alice"].as_str());
    }

    // Carol, compliance officer: reads everything, acts on nothing.
    let mut steps = pages.clone();
    steps.push(json!({"goto": "/console/setup"}));
    let carol = walk(&hub, "carol", "carol@acme.test", json!(steps)).await;
    for line in &carol[1..=4] {
        assert_eq!(line["status"], 200, "{line}");
    }
    assert_eq!(
        carol[5]["status"], 403,
        "setup is the admins': {}",
        carol[5]
    );
    assert!(!text(&carol[4]).contains("Withdraw"), "{}", carol[4]);
    // Erin, an employee: her own account only.
    let mut steps = pages.clone();
    steps.push(json!({"click": "End", "on": "/console"}));
    let erin = walk(&hub, "erin", "erin@acme.test", json!(steps)).await;
    assert_eq!(erin[1]["status"], 200);
    assert!(text(&erin[1]).contains("Sessions"));
    for line in &erin[2..=4] {
        assert_eq!(line["status"], 403, "{line}");
        assert!(text(line).contains("administrators and compliance officers"));
    }
    // She ends her session from the console: signed out, audited.
    assert!(
        erin[5]["url"].as_str().unwrap().ends_with("/console/login"),
        "{}",
        erin[5]
    );
    assert!(audit_actions(&hub, "acme").await.iter().any(
        |e| e["action"] == "session.ended" && e["details"]["reason"] == "ended in the console"
    ));

    // Bob, Globex's admin: sees Acme's invitation and accepts it; every page shows nothing of
    // Acme's own, and acting on Acme's side of the grant is not found.
    let mut steps = pages.clone();
    steps.push(json!({"click": "Accept", "on": "/console/spaces"}));
    steps.push(json!({"post": format!("/console/grants/{grant}/withdraw"), "csrf": true}));
    steps.push(json!({"click": "Accept", "on": "/console/spaces"}));
    steps.push(json!({"post": format!("/console/sessions/{grant}/end"), "csrf": true}));
    steps.push(json!({"fetch": "/console/audit/export?format=csv"}));
    let acme_dir = hub.get(&op, "/api/v1/orgs/acme/directories").await.json[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Globex wires a SAML IdP from the console (pysaml2's metadata, read by the hub).
    let saml_idp = hub_e2e::SamlIdp::start(json!({}));
    steps.push(
        json!({"on": "/console/setup", "open": "Connect a SAML 2.0 IdP",
        "fill": {"#sm-name": "Globex SAML", "#sm-meta": saml_idp.metadata_url(),
                 "#sm-domains": "globex.test"},
        "click": "Connect the SAML IdP"}),
    );
    steps.push(json!({"goto": "/console/setup"}));
    for path in [
        format!("/console/setup/connections/{conn_a}/test"),
        format!("/console/setup/directories/{acme_dir}/tokens"),
        format!("/console/setup/directories/{acme_dir}/sync"),
    ] {
        steps.push(json!({"post": path, "csrf": true, "form": {"name": "backdoor"}}));
    }
    // The operator opens a break-glass window in Globex: every page its overseers see says so.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/globex/break-glass",
            json!({"reason": "ticket 4711", "hours": 1}),
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");
    let bob = walk(&hub, "bob", "bob@globex.test", json!(steps)).await;
    for line in &bob[1..=4] {
        let t = text(line);
        assert!(
            t.contains("break-glass window open in") && t.contains("ticket 4711"),
            "the banner at {}: {t}",
            line["step"]
        );
    }
    for line in bob[1..=4].iter().chain([&bob[9], &bob[11]]) {
        let t = text(line);
        for secret in [
            "alice@acme.test",
            "carol@acme.test",
            "leaver@acme.test",
            "left Acme",
            "Corporate directory",
        ] {
            assert!(
                !t.contains(secret),
                "Globex sees {secret:?} at {}",
                line["step"]
            );
        }
    }
    assert!(
        text(&bob[4]).contains("Project X"),
        "the invitation: {}",
        bob[4]
    );
    assert!(text(&bob[5]).contains("accepted"), "{}", bob[5]);
    assert_eq!(
        bob[6]["status"], 404,
        "not Globex's grant to withdraw: {}",
        bob[6]
    );
    assert!(text(&bob[7]).contains("accepted"), "{}", bob[7]);
    assert_eq!(bob[8]["status"], 404, "not Bob's session: {}", bob[8]);
    assert_eq!(bob[11]["status"], 200, "Globex's own setup: {}", bob[11]);
    assert!(
        text(&bob[11]).contains("Globex SAML") && text(&bob[11]).contains("/metadata"),
        "the SAML connection and the hub's metadata for it: {}",
        bob[11]
    );
    let conns = hub.get(&op, "/api/v1/orgs/globex/connections").await.json;
    assert!(
        conns
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "saml"),
        "{conns}"
    );
    for line in &bob[12..=14] {
        assert_eq!(
            line["status"], 404,
            "Acme's connection and directory: {line}"
        );
    }
    let tokens = hub
        .get(
            &op,
            &format!("/api/v1/orgs/acme/directories/{acme_dir}/scim-tokens"),
        )
        .await
        .json;
    assert_eq!(
        tokens.as_array().unwrap().len(),
        2,
        "only alice's: {tokens}"
    );
    let accepted = audit_actions(&hub, "acme")
        .await
        .into_iter()
        .find(|e| e["action"] == "space_grant.accepted")
        .expect("Acme sees the acceptance");
    assert_eq!(
        accepted["actor"]["kind"], "user",
        "Bob, signed in: {accepted}"
    );
    let r = hub
        .get(&op, "/api/v1/orgs/acme/spaces/project-x/grants")
        .await;
    assert_eq!(
        r.json[0]["status"], "accepted",
        "the withdrawal was refused"
    );
    drop((idp_a, idp_b, saml_idp));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_it_admin_syncs_ldap_and_confirms_a_held_mass_deprovision_in_the_console() {
    use crate::ldap::{person, sync};
    use hub_e2e::Slapd;
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    let op = hub.operator_key.clone();
    org_with_domain(&hub, "acme", "acme.test").await;
    // The directory: the IT admin (in it-admins) and eight temporary people.
    let slapd = Slapd::start();
    let mut ldif = person("ian", "Ian Admin", Some("ian@acme.test"), Some("Ian"));
    for i in 0..8 {
        ldif.push_str(&person(
            &format!("temp{i}"),
            &format!("Temp {i}"),
            Some(&format!("temp{i}@acme.test")),
            None,
        ));
    }
    slapd.add(&ldif);
    slapd.add(&format!(
        "dn: cn=it-admins,{s}\nobjectClass: groupOfNames\ncn: it-admins\nmember: uid=ian,ou=people,{s}\n",
        s = Slapd::SUFFIX
    ));
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": "syncpw",
                "ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
                         "base_dn": Slapd::SUFFIX}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dir = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(sync(&hub, &dir).await["counts"]["created"], 9);
    let r = hub
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/roles",
            Some(hub.org_admin_key("acme").await.as_str()),
            Some(&json!({"org_admin": ["it-admins"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let (idp, issuer) = upstream(
        "acme",
        &hub,
        json!({"ian": {"password": "ian-pw", "claims": {
            "email": "ian@acme.test", "email_verified": true, "name": "Ian Admin"}}}),
    );
    connect(&hub, "acme", "Acme OIDC", &issuer, false).await;
    // The eight leave the directory at once: more than the mass-deprovision threshold.
    let mut gone = String::new();
    for i in 0..8 {
        gone.push_str(&format!(
            "dn: uid=temp{i},ou=people,{}\nchangetype: delete\n\n",
            Slapd::SUFFIX
        ));
    }
    slapd.modify(&gone);

    let ian = walk(
        &hub,
        "ian",
        "ian@acme.test",
        json!([
            {"goto": "/console/setup"},
            {"click": "Sync now", "on": "/console/setup"},
            {"wait": 3000},
            {"goto": "/console/setup"},
            {"click": "Confirm the deprovisioning", "on": "/console/setup"},
            {"wait": 1000},
            {"goto": "/console/organization"},
        ]),
    )
    .await;
    assert!(text(&ian[1]).contains("Acme LDAP"), "{}", ian[1]);
    assert!(
        text(&ian[4]).contains("holds 8 people"),
        "the held sync, and its confirm button: {}",
        ian[4]
    );
    let org = text(&ian[7]);
    assert!(org.contains("deprovisioned"), "{org}");
    let users = hub.get(&op, "/api/v1/orgs/acme/users").await.json;
    let temps: Vec<&Value> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"].as_str().unwrap().starts_with("temp"))
        .collect();
    assert_eq!(temps.len(), 8);
    assert!(
        temps.iter().all(|u| u["status"] == "deprovisioned"),
        "confirmed in the console: {temps:?}"
    );
    let events = audit_actions(&hub, "acme").await;
    let confirmed = events
        .iter()
        .find(|e| e["action"] == "directory.sync_confirmed")
        .expect("the confirmation is audited");
    assert_eq!(confirmed["actor"]["kind"], "user", "{confirmed}");
    assert!(events.iter().any(|e| e["action"] == "directory.sync_held"));
    drop(idp);
    hub.stop().await;
}
