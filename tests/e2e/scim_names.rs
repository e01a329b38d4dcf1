//! SCIM userNames and emails as an attacker (a partner's token) and sloppy clients send them:
//! a name in another organization's domain, look-alikes of an existing person, control
//! characters, two `@`; and people without any email, as Entra and Okta may send them.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::federation::{audit_actions, org_with_domain};
use crate::scim::{PATCH_OP, Scim, USER, admin_user, assert_error};

#[tokio::test]
async fn a_partner_cannot_provision_a_user_named_after_another_organizations_employee() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let globex = Scim::connect(&hub, "globex").await;
    // The token's first use is recorded (once a minute at most): use it before comparing.
    let warm = globex
        .call(Method::GET, "/ServiceProviderConfig", None)
        .await;
    assert_eq!(warm.status, StatusCode::OK);
    let before = hub.snapshot().await;
    // Globex's directory names one of its users after Acme's CEO; its email is Globex's own.
    for user_name in [
        "ceo@acme.test",
        "CEO@ACME.TEST",
        "ceo@acme.test.",
        "ceo@sub.acme.test",
        "ceo@",
        "@acme.test",
    ] {
        let r = globex
            .call(
                Method::POST,
                "/Users",
                Some(
                    json!({"schemas": [USER], "userName": user_name, "active": true,
                    "emails": [{"value": "mallory@globex.test", "type": "work", "primary": true}]}),
                ),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(
            r.json["detail"].as_str().unwrap().contains("userName"),
            "{}",
            r.json
        );
    }
    assert_eq!(before, hub.snapshot().await, "nothing was created");
    // Nor can a replace or a PATCH rename an existing user into Acme's domain.
    let created = globex
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "mallory@globex.test"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_string();
    let before = hub.snapshot().await;
    let r = globex
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_OP], "Operations": [
                {"op": "replace", "path": "userName", "value": "ceo@acme.test"}]})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let r = globex
        .call(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER], "userName": "ceo@acme.test",
                "emails": [{"value": "mallory@globex.test", "primary": true}]})),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    // The admin API holds usernames to the same rule.
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/globex/users",
            json!({"email": "eve@globex.test", "name": "Eve", "username": "ceo@acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(r.json["errors"][0]["field"], "username");
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    // A userName that is not an email address stays the organization's own business.
    let r = globex
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "jdoe",
                "emails": [{"value": "jdoe@globex.test", "primary": true}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    hub.stop().await;
}

#[tokio::test]
async fn look_alike_user_names_cannot_become_a_second_person() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let alice = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "alice@acme.test",
                "emails": [{"value": "alice@acme.test", "primary": true}]})),
        )
        .await;
    assert_eq!(alice.status, StatusCode::CREATED, "{}", alice.json);
    let jdoe = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "J.Doe",
                "emails": [{"value": "jdoe@acme.test", "primary": true}]})),
        )
        .await;
    assert_eq!(jdoe.status, StatusCode::CREATED, "{}", jdoe.json);
    assert_eq!(jdoe.json["userName"], "J.Doe", "kept as given for display");
    let before = hub.snapshot().await;
    for (n, user_name) in [
        "ALICE@acme.test",
        "alice\u{200B}@acme.test",
        "\u{FEFF}alice@acme.test",
        "ali\u{00AD}ce@acme.test",
        // Cyrillic а (U+0430) for the Latin a.
        "\u{0430}lice@acme.test",
        // Fullwidth letters fold to ASCII under NFKC.
        "\u{FF41}lice@acme.test",
        "j.doe",
        "J.D\u{043E}e",
        "j.do\u{0435}\u{200D}",
        "\u{FF2A}.Doe",
    ]
    .iter()
    .enumerate()
    {
        let r = scim
            .call(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [USER], "userName": user_name,
                    "emails": [{"value": format!("other{n}@acme.test"), "primary": true}]})),
            )
            .await;
        // An email-shaped name with an invisible character is not an email address at all;
        // every other spelling is the same person.
        let invisible = user_name
            .chars()
            .any(|c| matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00AD}' | '\u{200D}'));
        if invisible && user_name.contains('@') {
            assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        } else {
            assert_error(&r, StatusCode::CONFLICT, Some("uniqueness"));
        }
    }
    assert_eq!(before, hub.snapshot().await, "no second person");
    // Okta's lookup before a create finds the person under any of those spellings.
    for filter in [
        r#"userName eq "ALICE@acme.test""#,
        r#"userName eq "alice\u200b@acme.test""#,
        r#"userName eq "аlice@acme.test""#,
    ] {
        let found = scim.find(filter).await;
        assert_eq!(found["totalResults"], 1, "{filter}");
        assert_eq!(found["Resources"][0]["id"], alice.json["id"]);
    }
    hub.stop().await;
}

#[tokio::test]
async fn control_characters_and_a_second_at_sign_are_refused() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    let warm = scim.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(warm.status, StatusCode::OK);
    let before = hub.snapshot().await;
    for body in [
        json!({"schemas": [USER], "userName": "alice@acme.test\n"}),
        json!({"schemas": [USER], "userName": "\ralice@acme.test"}),
        json!({"schemas": [USER], "userName": "al\u{2028}ice"}),
        json!({"schemas": [USER], "userName": "al\u{85}ice"}),
        json!({"schemas": [USER], "userName": "alice\u{1b}[2J"}),
        json!({"schemas": [USER], "userName": "alice",
            "emails": [{"value": "alice@acme.test\r\n", "primary": true}]}),
        json!({"schemas": [USER], "userName": "alice",
            "emails": [{"value": "evil@globex.test@acme.test", "primary": true}]}),
        json!({"schemas": [USER], "userName": "evil@globex.test@acme.test"}),
        json!({"schemas": [USER], "userName": "alice",
            "emails": [{"value": "al\tice@acme.test", "primary": true}]}),
    ] {
        let r = scim.call(Method::POST, "/Users", Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(r.json["detail"].is_string(), "{body}");
    }
    assert_eq!(before, hub.snapshot().await, "nothing was created");
    hub.stop().await;
}

#[tokio::test]
async fn a_user_without_email_is_accepted_and_never_matched_by_email() {
    let hub = TestHub::start().await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    // Entra and Okta always send userName; emails only usually.
    let mut ids = Vec::new();
    for user_name in ["jdoe", "rroe"] {
        let r = scim
            .call(
                Method::POST,
                "/Users",
                Some(
                    json!({"schemas": [USER], "userName": user_name, "active": true,
                    "name": {"givenName": "J", "familyName": user_name}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        assert!(r.json.get("emails").is_none(), "{}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    let user = admin_user(&hub, "acme", &ids[0]).await;
    assert_eq!(user["username"], "jdoe");
    assert_eq!(user["status"], "active");
    // The published schema agrees: emails is optional, userName required.
    let schema = scim
        .call(Method::GET, &format!("/Schemas/{USER}"), None)
        .await;
    assert_eq!(schema.status, StatusCode::OK, "{}", schema.json);
    let attrs = schema.json["attributes"].as_array().unwrap();
    let attr = |n: &str| attrs.iter().find(|a| a["name"] == n).unwrap().clone();
    assert_eq!(attr("emails")["required"], false);
    assert_eq!(attr("userName")["required"], true);
    // An email can be added later, and removed again.
    let r = scim
        .call(
            Method::PATCH,
            &format!("/Users/{}", ids[0]),
            Some(
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "emails",
                "value": [{"value": "jdoe@acme.test", "type": "work", "primary": true}]}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        admin_user(&hub, "acme", &ids[0]).await["email"],
        "jdoe@acme.test"
    );
    let r = scim
        .call(
            Method::PATCH,
            &format!("/Users/{}", ids[0]),
            Some(
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "emails"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.json.get("emails").is_none(), "{}", r.json);
    assert_eq!(admin_user(&hub, "acme", &ids[0]).await["email"], "");
    let created: Vec<_> = audit_actions(&hub, "acme")
        .await
        .into_iter()
        .filter(|e| e["action"] == "user.created")
        .collect();
    assert_eq!(created.len(), 2);
    hub.stop().await;
}

#[tokio::test]
async fn an_empty_email_at_sign_in_matches_nobody() {
    let hub = TestHub::start_with(hub_e2e::Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let scim = Scim::connect(&hub, "acme").await;
    // A person without any email, active in the directory.
    let r = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER], "userName": "jdoe", "active": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let redirect = "https://extranet.acme.test/cb";
    let app = crate::deprovision::create_app(
        &hub,
        "acme",
        json!({"name": "Extranet", "client_type": "confidential", "redirect_uris": [redirect]}),
    )
    .await;
    let cid = app["application"]["client_id"].as_str().unwrap();
    for email in ["", "   "] {
        let browser = hub_e2e::Browser::new();
        let (_, challenge) = hub_e2e::pkce();
        let (status, loc, body) = browser
            .authorize(
                &hub,
                &[
                    ("client_id", cid),
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
        let login = url::Url::parse(&format!("{}{}", hub.url, loc.unwrap())).unwrap();
        let request = login
            .query_pairs()
            .find(|(k, _)| k == "request")
            .unwrap()
            .1
            .to_string();
        let r = browser
            .client
            .post(format!("{}/login", hub.url))
            .form(&[("request", request.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "{email:?} signed someone in"
        );
    }
    let events = audit_actions(&hub, "acme").await;
    assert!(
        !events.iter().any(|e| e["action"] == "session.started"),
        "nobody signed in"
    );
    hub.stop().await;
}
