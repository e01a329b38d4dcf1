//! Email addresses are read one way everywhere: a second `@`, a line break, a control or an
//! invisible character is refused whether an admin, an IdP or a partner sends it, and nothing
//! is created or linked.

use hub_e2e::{Browser, NodePeer, TestHub};
use reqwest::StatusCode;
use serde_json::json;

use crate::federation::{add_app, connect, follow, org_with_domain, set_mode, until_callback};

const SMUGGLED: [&str; 6] = [
    "mallory@evil.test@acme.test",
    "\"mallory@evil.test\"@acme.test",
    "alice@acme.test\nBcc: mallory@evil.test",
    "alice\r@acme.test",
    "ali\u{200B}ce@acme.test",
    "alice\u{0}@acme.test",
];

#[tokio::test(flavor = "multi_thread")]
async fn smuggled_email_addresses_are_refused_everywhere() {
    let hub = TestHub::start_with(hub_e2e::Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;

    // An admin.
    let before = hub.snapshot().await;
    for email in SMUGGLED {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/users",
                json!({"email": email, "name": "Someone"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{email:?}: {r:?}"
        );
        assert!(r.json.to_string().contains("email"), "{r:?}");
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");

    // An IdP, with just-in-time creation on: the address is refused, nobody is created.
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
    for email in SMUGGLED {
        set_mode(&idp, json!({"email": email})).await;
        let b = Browser::new();
        let cb = until_callback(&hub, &b, &cid, redirect).await;
        let (status, page, _) = follow(&b, &cb).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{email:?}: {page}");
    }
    let users = hub.get(&hub.operator_key, "/api/v1/orgs/acme/users").await;
    assert_eq!(users.json.as_array().map(Vec::len), Some(0), "{users:?}");
    // The same IdP with a plain address signs in: the refusals were not vacuous.
    set_mode(&idp, json!({})).await;
    let b = Browser::new();
    let cb = until_callback(&hub, &b, &cid, redirect).await;
    let (status, page, _) = follow(&b, &cb).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");

    // A space owner naming a partner's person.
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X", "description": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    for email in SMUGGLED {
        let user = email.replace("acme.test", "globex.test");
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/spaces/project-x/grants",
                json!({"organization": "globex", "user": user}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{user:?}: {r:?}"
        );
    }
    drop(rogue);
    hub.stop().await;
}
