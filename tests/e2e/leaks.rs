//! The leak matrix: what another company's application learns about a partner's employee, on
//! every channel, is exactly what the partner's admin consented to. Globex's bob signs in
//! through Globex's own IdP (npm `oidc-provider`) in headless Chromium to Acme's extranet,
//! which a space admits him to with a grant asking for his email and one of his groups. His
//! directory holds more (his name, another group, the hub's id for him, the reason he later
//! leaves): none of it reaches the extranet in the ID token, the access token, userinfo,
//! introspection, the back-channel logout token (verified by npm `jose`), outbound SCIM (the
//! user the hub makes at PyPI `scim2-server`) or the webhook (verified by npm
//! `standardwebhooks`), and the extranet's `sub` for him is not the one Globex's own
//! application gets.

use std::collections::BTreeSet;

use hub_e2e::{Options, ScimServer, TestHub, eventually, free_port};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deprovision::{create_app, jwt_claims, receivers};
use crate::federation::{connect, org_with_domain, upstream};

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Fails if `payload`, anywhere in it, holds one of `secrets` (Globex's directory beyond the
/// consent).
fn holds_none(channel: &str, payload: &Value, secrets: &[&str]) {
    let text = payload.to_string();
    for s in secrets {
        assert!(
            !text.contains(s),
            "{channel} leaks {s:?} of Globex's directory: {payload:#}"
        );
    }
}

/// Signs bob in at `cid` in Chromium through Globex's IdP; the app's claims and raw tokens.
async fn chromium_sign_in(hub: &TestHub, cid: &str, secret: &str, port: u16, name: &str) -> Value {
    let shots =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts/leaks");
    std::fs::create_dir_all(&shots).unwrap();
    let (ok, lines, out) = hub_e2e::run_node(
        "browser-login.mjs",
        &[
            ("ISSUER", hub.url.clone()),
            ("APP_PORT", port.to_string()),
            ("CLIENT_ID", cid.to_string()),
            ("CLIENT_SECRET", secret.to_string()),
            ("LOGIN", "bob".to_string()),
            ("PASSWORD", "bob-pw".to_string()),
            ("SHOTS", shots.display().to_string()),
            ("NAME", name.to_string()),
            ("EMAIL", "bob@globex.test".to_string()),
        ],
    )
    .await;
    assert!(ok, "{out}");
    let last = lines.last().cloned().unwrap_or(Value::Null);
    assert!(last["claims"].is_object(), "{out}");
    last
}

async fn form(hub: &TestHub, path: &str, auth: (&str, &str), body: &[(&str, &str)]) -> Value {
    let r = hub
        .client
        .post(format!("{}{path}", hub.url))
        .basic_auth(auth.0, Some(auth.1))
        .form(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_employee_reaches_another_companys_app_with_exactly_the_consented_claims() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let (idp, issuer) = upstream(
        "globex",
        &hub,
        json!({"bob": {"password": "bob-pw", "claims": {
            "email": "bob@globex.test", "email_verified": true, "name": "Bob Globex",
            "given_name": "Bobby", "family_name": "Globex-Smith",
            "groups": ["engineering", "secret-project"]}}}),
    );
    connect(&hub, "globex", "Globex OIDC", &issuer, true).await;
    let (_, acme_admin) = hub.create_org_key("acme", "admin").await;
    let (_, globex_admin) = hub.create_org_key("globex", "admin").await;

    // Acme's extranet: every channel an application has.
    let target = ScimServer::start().await;
    let hooks = free_port();
    let app_port = free_port();
    let extranet = create_app(
        &hub,
        "acme",
        json!({"name": "Extranet", "client_type": "confidential",
            "redirect_uris": [format!("http://127.0.0.1:{app_port}/cb")],
            "backchannel_logout_uri": format!("http://127.0.0.1:{hooks}/bcl/extranet"),
            "scim_target": {"url": target.url, "token": target.token},
            "webhook": {"url": format!("http://127.0.0.1:{hooks}/hook/extranet")}}),
    )
    .await;
    let receiver = receivers(
        &hub,
        hooks,
        &[&extranet],
        json!({"extranet": extranet["application"]["webhook_secret"]}),
    );
    let (cid, secret) = (
        extranet["application"]["client_id"]
            .as_str()
            .unwrap()
            .to_string(),
        extranet["client_secret"].as_str().unwrap().to_string(),
    );
    // Globex's own portal, to compare the `sub` it sees.
    let portal_port = free_port();
    let portal = create_app(
        &hub,
        "globex",
        json!({"name": "Portal", "client_type": "confidential",
            "redirect_uris": [format!("http://127.0.0.1:{portal_port}/cb")]}),
    )
    .await;

    // The space, and a grant asking for bob's email and his engineering group.
    let r = hub
        .post(
            &acme_admin,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X", "applications": [extranet["application"]["id"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &acme_admin,
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "group": "engineering",
                "release": {"claims": ["email", "groups"], "groups": ["engineering"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let grant = r.json["id"].as_str().unwrap().to_string();
    // Bob signs in at Globex's own portal first (so the hub knows him when Globex accepts),
    // then at the extranet.
    let own = chromium_sign_in(
        &hub,
        &client_id(&portal),
        portal["client_secret"].as_str().unwrap(),
        portal_port,
        "own",
    )
    .await;
    let bob_id = own["claims"]["sub"].as_str().unwrap().to_string();
    let users = hub.get(&globex_admin, "/api/v1/orgs/globex/users").await;
    assert_eq!(
        users.json[0]["id"], bob_id,
        "Globex's own application sees the hub's id for its own employee"
    );
    // Globex's admin sees exactly what is asked before accepting it.
    let inv = hub
        .get(&globex_admin, "/api/v1/orgs/globex/invitations")
        .await;
    assert_eq!(
        inv.json[0]["requested"],
        json!({"claims": ["email", "groups"], "groups": ["engineering"]})
    );
    assert_eq!(
        inv.json[0]["consented"],
        json!({"claims": [], "groups": []})
    );
    let r = hub
        .post(
            &globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/accept"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["consented"], r.json["requested"]);

    let got = chromium_sign_in(&hub, &cid, &secret, app_port, "partner").await;
    let sub = got["claims"]["sub"].as_str().unwrap().to_string();
    assert_ne!(
        sub, bob_id,
        "the extranet's sub is not Globex's own applications'"
    );
    // What must never leave Globex for Acme: the hub's id, his name, his other group, and
    // (later) why he left.
    let secrets = [
        bob_id.as_str(),
        "Bob Globex",
        "Bobby",
        "Globex-Smith",
        "secret-project",
        "left for a competitor",
    ];

    // The ID token: the standard claims of a sign-in, the organization, the space, and the
    // consented email and group; nothing else.
    let id = jwt_claims(got["tokens"]["id_token"].as_str().unwrap());
    assert_eq!(
        keys(&id),
        set(&[
            "iss",
            "aud",
            "azp",
            "sub",
            "iat",
            "exp",
            "auth_time",
            "sid",
            "nonce",
            "org",
            "spaces",
            "email",
            "email_verified",
            "groups"
        ]),
        "{id:#}"
    );
    assert_eq!(id["email"], "bob@globex.test");
    assert_eq!(id["groups"], json!(["engineering"]));
    assert_eq!(id["org"]["slug"], "globex");
    holds_none("the ID token", &id, &secrets);
    // The access token.
    let access = got["tokens"]["access_token"].as_str().unwrap();
    let at = jwt_claims(access);
    assert_eq!(
        keys(&at),
        set(&[
            "iss",
            "aud",
            "client_id",
            "sub",
            "iat",
            "exp",
            "jti",
            "scope",
            "gid",
            "org",
            "sid",
            "auth_time",
            "spaces"
        ]),
        "{at:#}"
    );
    assert_eq!(at["sub"], sub.as_str());
    holds_none("the access token", &at, &secrets);
    // Userinfo.
    let r = hub
        .client
        .get(format!("{}/oauth2/userinfo", hub.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(
        keys(&info),
        set(&["sub", "org", "email", "email_verified", "groups", "spaces"]),
        "{info:#}"
    );
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["groups"], json!(["engineering"]));
    holds_none("userinfo", &info, &secrets);
    // Introspection, by the extranet.
    let intro = form(
        &hub,
        "/oauth2/introspect",
        (&cid, &secret),
        &[("token", access)],
    )
    .await;
    assert_eq!(intro["active"], true, "{intro}");
    let mut want = keys(&at);
    want.extend(set(&["active", "token_type"]));
    assert_eq!(keys(&intro), want, "{intro:#}");
    holds_none("introspection", &intro, &secrets);
    // Outbound SCIM: the hub made bob at the extranet's SCIM service on acceptance, with the
    // pairwise sub as externalId and only his email.
    let made = eventually(20, || async {
        let members = target.group_members("project-x").await?;
        let id = members.first()?.clone();
        Some(target.user(&id).await)
    })
    .await
    .expect("bob in the space's SCIM group");
    assert_eq!(made["externalId"], sub.as_str(), "{made:#}");
    assert_eq!(made["userName"], "bob@globex.test");
    assert_eq!(made["emails"][0]["value"], "bob@globex.test");
    assert!(
        made["displayName"].is_null() && made["name"].is_null(),
        "{made:#}"
    );
    holds_none("outbound SCIM", &made, &secrets);

    // Acme's access review names Globex's people as Acme's applications know them.
    let review = hub
        .get(&acme_admin, "/api/v1/orgs/acme/access-review")
        .await;
    let row = &review.json[0];
    assert_eq!(row["subject"], sub.as_str(), "{review:?}");
    assert_eq!(row["email"], "bob@globex.test");
    assert!(row["user_id"].is_null(), "{row}");
    holds_none("Acme's access review", &review.json, &secrets);
    // Access evidence: Acme's audit view has the sign-in to its extranet by the sub it gave
    // (never Globex's ids); Globex's has its own person's, by the hub's id.
    let path = "/api/v1/orgs/{}/audit?action=access.granted&limit=100";
    let audit = hub.get(&acme_admin, &path.replace("{}", "acme")).await;
    let events = audit.json["events"].as_array().unwrap();
    let seen: Vec<&Value> = events
        .iter()
        .filter(|e| e["details"]["sub"] == sub.as_str())
        .collect();
    assert_eq!(seen.len(), 1, "{events:?}");
    assert_eq!(seen[0]["details"]["application"], cid.as_str());
    assert_eq!(seen[0]["actor"]["kind"], "system", "{:?}", seen[0]);
    holds_none("Acme's audit view of sign-ins", &audit.json, &secrets);
    let audit = hub.get(&globex_admin, &path.replace("{}", "globex")).await;
    let events = audit.json["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["actor"]["user_id"] == bob_id.as_str()
                && e["details"]["application"] == cid.as_str()),
        "{events:?}"
    );

    // Globex's admin deprovisions bob, with Globex's own reason.
    let r = hub
        .post(
            &globex_admin,
            &format!("/api/v1/orgs/globex/users/{bob_id}/deprovision"),
            json!({"reason": "left for a competitor"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let mut told = tokio::task::block_in_place(|| receiver.take(2, 30));
    told.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(told.len(), 2, "{told:#?}");
    // The back-channel logout token: who, which session, nothing else.
    let bcl = &told[0];
    assert_eq!(bcl["valid"], true, "{bcl}");
    assert_eq!(
        keys(&bcl["claims"]),
        set(&["iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"]),
        "{bcl:#}"
    );
    assert_eq!(bcl["claims"]["sub"], sub.as_str());
    holds_none("the logout token", &bcl["claims"], &secrets);
    // The webhook: who (by the extranet's sub) and that access ended.
    let hook = &told[1];
    assert_eq!(hook["valid"], true, "{hook}");
    assert_eq!(hook["type"], "user.deprovisioned");
    assert_eq!(
        keys(&hook["data"]),
        set(&["user", "organization", "status"]),
        "{hook:#}"
    );
    assert_eq!(hook["data"]["user"], json!({"sub": sub}), "{hook:#}");
    holds_none("the webhook", &hook["event"], &secrets);
    // The SCIM deactivation reached the user the hub made, and changed nothing else there.
    let deactivated = eventually(20, || async {
        let u = target.user(made["id"].as_str()?).await;
        (u["active"] == false).then_some(u)
    })
    .await
    .expect("deactivated at the extranet");
    holds_none("outbound SCIM", &deactivated, &secrets);

    drop(idp);
    hub.stop().await;
}

fn client_id(app: &Value) -> String {
    crate::deprovision::client_id(app)
}
