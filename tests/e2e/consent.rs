//! Consent cannot widen silently, and it does not last for ever. An application the owner adds
//! to an accepted space admits nobody of the partner, and a wider request releases nothing
//! more, until the partner's admin accepts again; a grant holds for its validity period, both
//! sides recertify it in the review window before it ends, and an expired grant or a rejected
//! recertification ends access downstream like a withdrawal (tokens refused, the application
//! told through back-channel logout, a verified webhook and outbound SCIM).

use std::sync::Arc;

use hub_e2e::{Browser, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deprovision::{REDIRECT1, create_app, jwt_claims, refresh_works, sign_in};
use crate::federation::audit_actions;
use crate::spaces::{try_sign_in, world, world_with};

async fn invitation(w: &crate::spaces::World, grant: &str) -> Value {
    let r = w
        .hub
        .get(&w.globex_read, "/api/v1/orgs/globex/invitations")
        .await;
    r.json
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == grant)
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_added_or_a_claim_asked_later_waits_for_the_partners_new_acceptance() {
    let w = world().await;
    let hub = &w.hub;
    let grant = w
        .propose_with(json!({"organization": "globex", "group": "Engineering"}))
        .await;
    w.accept(&grant).await;
    // Consented to nothing beyond the identifier: bob's tokens carry no email.
    let t = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert!(id["email"].is_null(), "{id}");
    assert_eq!(id["sub"], w.bob_sub.as_str());

    // Acme adds its wiki to the space, and asks for bob's email.
    let wiki = create_app(
        hub,
        "acme",
        json!({"name": "Wiki", "client_type": "confidential", "redirect_uris": [REDIRECT1]}),
    )
    .await;
    let wiki_id = wiki["application"]["id"].as_str().unwrap().to_string();
    let r = hub
        .call(
            reqwest::Method::PATCH,
            "/api/v1/orgs/acme/spaces/project-x",
            Some(w.acme_admin.as_str()),
            Some(&json!({"applications": [w.extranet_id, wiki_id]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/acme/spaces/project-x/grants/{grant}"),
            Some(w.acme_admin.as_str()),
            Some(&json!({"release": {"claims": ["email"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["awaiting_consent"]["claims"], json!(["email"]));
    // Nobody of Globex reaches the wiki yet, and the extranet learns no more than before.
    let wiki_cid = crate::deprovision::client_id(&wiki);
    let (status, page) = try_sign_in(
        hub,
        &Browser::new(),
        &wiki_cid,
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    assert_ne!(status, StatusCode::SEE_OTHER, "{page}");
    let t = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    assert!(jwt_claims(t["id_token"].as_str().unwrap())["email"].is_null());
    // Globex's admin sees what waits for it, and was told.
    let inv = invitation(&w, &grant).await;
    assert_eq!(inv["status"], "accepted");
    assert_eq!(
        inv["awaiting_consent"]["applications"],
        json!([wiki_id]),
        "{inv}"
    );
    assert_eq!(inv["awaiting_consent"]["claims"], json!(["email"]));
    let globex = audit_actions(hub, "globex").await;
    for action in ["space.updated", "space_grant.changed"] {
        assert!(
            globex.iter().any(|e| e["action"] == action),
            "globex is not told of {action}"
        );
    }
    // The operator cannot consent for Globex, nor can a read key.
    let accept = format!("/api/v1/orgs/globex/invitations/{grant}/accept");
    for key in [&hub.operator_key, &w.globex_read] {
        let r = hub.post(key, &accept, json!(null)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    }
    // Globex accepts the wider request: bob reaches the wiki, with his email.
    w.accept(&grant).await;
    let t = sign_in(hub, &Browser::new(), &wiki, REDIRECT1, "bob@globex.test").await;
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "bob@globex.test");
    assert_eq!(
        id["sub"],
        w.bob_sub.as_str(),
        "one sub per owner, the same at the wiki"
    );
    assert!(invitation(&w, &grant).await["awaiting_consent"].is_null());
    // Narrowing holds at once: the email is no longer released.
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/acme/spaces/project-x/grants/{grant}"),
            Some(w.acme_admin.as_str()),
            Some(&json!({"release": {"claims": []}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let t = sign_in(hub, &Browser::new(), &wiki, REDIRECT1, "bob@globex.test").await;
    assert!(jwt_claims(t["id_token"].as_str().unwrap())["email"].is_null());
    // A release the partner could not judge is refused.
    for bad in [
        json!({"release": {"claims": ["password"]}}),
        json!({"release": {"claims": ["groups"], "groups": ["*"]}}),
        json!({"release": {"claims": ["groups"]}}),
    ] {
        let r = hub
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/orgs/acme/spaces/project-x/grants/{grant}"),
                Some(w.acme_admin.as_str()),
                Some(&bad),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r:?}");
    }
    w.hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_grant_and_a_rejected_recertification_end_access_downstream() {
    // The hub's clock starts 25 days (and 100 s) back, so that what it signs at the end is a
    // minute old for the receivers (which check token ages against real time: at most two
    // minutes, and never from the future).
    let day = chrono::Duration::days(1);
    let secs = chrono::Duration::seconds;
    let clock = Arc::new(hub::clock::FixedClock::new(
        chrono::Utc::now() - day * 25 - secs(100),
    ));
    let w = world_with(Some(clock.clone())).await;
    let hub = &w.hub;
    // Bob's access holds 30 days; carol's 25.
    let bob_grant = w
        .propose_with(json!({"organization": "globex", "group": "Engineering",
            "valid_days": 30}))
        .await;
    w.accept(&bob_grant).await;
    let r = hub
        .post(
            &w.acme_admin,
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "user": "carol@globex.test", "valid_days": 25}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let carol_grant = r.json["id"].as_str().unwrap().to_string();
    w.accept(&carol_grant).await;
    // Not due yet: nothing to recertify.
    let keep = json!({"decision": "keep"});
    let owner_review = format!("/api/v1/orgs/acme/spaces/project-x/grants/{bob_grant}/review");
    let partner_review = format!("/api/v1/orgs/globex/invitations/{bob_grant}/review");
    let r = hub.post(&w.acme_admin, &owner_review, keep.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");

    // A minute before carol's grant ends, she signs in.
    clock.advance(day * 25 - secs(60));
    let carol = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "carol@globex.test",
    )
    .await;
    let carol_refresh = carol["refresh_token"].as_str().unwrap().to_string();
    // Bob's grant is in its review window: the campaign shows both to each side.
    for (key, slug) in [(&w.acme_admin, "acme"), (&w.globex_read, "globex")] {
        let r = hub
            .get(key, &format!("/api/v1/orgs/{slug}/recertification"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let rows = r.json.as_array().unwrap();
        assert_eq!(rows.len(), 2, "{slug}: {rows:?}");
        assert_eq!(rows[0]["id"], carol_grant.as_str(), "soonest first");
        assert!(rows.iter().all(|g| g["in_review"] == true), "{rows:?}");
    }
    // Both sides keep bob's: it holds another 30 days, and each decision names its reviewer.
    let before = invitation(&w, &bob_grant).await["expires_at"].clone();
    let r = hub.post(&w.acme_admin, &owner_review, keep.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["expires_at"], before, "one side is not enough");
    let r = hub
        .post(&hub.operator_key, &partner_review, keep.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the operator: {r:?}");
    let r = hub
        .post(&w.globex_admin, &partner_review, keep.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_ne!(r.json["expires_at"], before, "renewed");
    let reviews = r.json["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert!(
        reviews[1]["by"].as_str().unwrap().contains("org_key"),
        "{reviews:?}"
    );

    // Carol's grant expires: the sweep ends her access downstream.
    clock.advance(secs(90));
    let expired = eventually(20, || async {
        (invitation(&w, &carol_grant).await["status"] == "expired").then_some(())
    })
    .await;
    assert!(expired.is_some(), "{}", invitation(&w, &carol_grant).await);
    assert!(!refresh_works(hub, &w.extranet, &carol_refresh).await.0);
    let mut got = tokio::task::block_in_place(|| w.receiver.take(2, 30));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0]["valid"], true, "{}", got[0]);
    assert_eq!(got[1]["valid"], true, "{}", got[1]);
    assert_eq!(got[1]["type"], "space.access_withdrawn");
    for slug in ["acme", "globex"] {
        assert!(
            audit_actions(hub, slug)
                .await
                .iter()
                .any(|e| e["action"] == "space_grant.expired"),
            "{slug} sees the expiry"
        );
    }

    // Globex ends bob's access at a later review: his tokens stop, the extranet is told.
    let bob = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    let bob_refresh = bob["refresh_token"].as_str().unwrap().to_string();
    let r = hub
        .post(&w.globex_admin, &partner_review, json!({"decision": "end"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "withdrawn");
    assert_eq!(r.json["people_lost_access"], 1);
    assert!(!refresh_works(hub, &w.extranet, &bob_refresh).await.0);
    let mut got = tokio::task::block_in_place(|| w.receiver.take(2, 30));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0]["sub"], w.bob_sub.as_str());
    assert_eq!(got[1]["data"]["user"], json!({"sub": w.bob_sub}));
    let deactivated = eventually(20, || async {
        (w.target.user(&w.remote_bob).await["active"] == false).then_some(())
    })
    .await;
    assert!(
        deactivated.is_some(),
        "{}",
        w.target.user(&w.remote_bob).await
    );
    let (status, _) = try_sign_in(
        hub,
        &Browser::new(),
        &crate::deprovision::client_id(&w.extranet),
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    assert_ne!(status, StatusCode::SEE_OTHER);
    let bad = hub
        .post(
            &w.globex_admin,
            &partner_review,
            json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    w.hub.stop().await;
}
