//! Spaces across organizations, by mutual consent: nobody of the partner gets in before its own
//! admin accepts (not a read key, not the operator, not the owner); once accepted, the people
//! named sign in to the owner's application with a `spaces` claim, and others of the partner do
//! not; withdrawal by either side refuses their tokens at once and tells the application
//! (back-channel logout verified by npm `jose`, the SCIM deactivation at PyPI `scim2-server`, a
//! webhook verified by npm `standardwebhooks`). A partner's leaver is told to the owner's
//! application too. A person of the partner signs in through their own company's IdP in
//! Chromium. Bad input changes nothing.

use hub_e2e::{Browser, NodePeer, Options, ScimServer, TestHub, eventually, free_port, pkce};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::deprovision::{
    REDIRECT1, active_at_introspection, client_id, create_app, jwt_claims, receivers,
    refresh_works, sign_in,
};
use crate::federation::{audit_actions, org_with_domain};

/// Creates a person of `slug` with `groups`; returns their id.
async fn person(hub: &TestHub, slug: &str, email: &str, groups: &[&str]) -> String {
    let r = hub
        .post(
            &hub.maker(slug),
            &format!("/api/v1/orgs/{slug}/users"),
            json!({"email": email, "name": email, "groups": groups}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.json["id"].as_str().unwrap().to_string()
}

/// Tries to sign `email` in to the application on the development form: the status and body
/// of the answer (303 and the redirect back to the application when it worked).
pub(crate) async fn try_sign_in(
    hub: &TestHub,
    browser: &Browser,
    cid: &str,
    redirect: &str,
    email: &str,
) -> (StatusCode, String) {
    let (_, challenge) = pkce();
    let (status, loc, body) = browser
        .authorize(
            hub,
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
    let loc = loc.unwrap();
    if !loc.starts_with("/login") {
        return (StatusCode::SEE_OTHER, loc);
    }
    let request = hub_e2e::query_param(&format!("{}{loc}", hub.url), "request").unwrap();
    let page = browser
        .client
        .get(format!("{}{loc}", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let r = browser
        .client
        .post(format!("{}/login", hub.url))
        .form(&[("request", request.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (status, loc.unwrap_or(r.text().await.unwrap()))
}

/// Acme owns an extranet with a back-channel logout URI, a SCIM service and a webhook; Globex
/// is a partner with bob (Engineering) and carol (no group).
pub(crate) struct World {
    pub(crate) hub: TestHub,
    pub(crate) extranet: Value,
    pub(crate) extranet_id: String,
    pub(crate) target: ScimServer,
    pub(crate) remote_bob: String,
    pub(crate) receiver: NodePeer,
    pub(crate) bob: String,
    /// Bob's `sub` at Acme's applications: pairwise, not his hub id.
    pub(crate) bob_sub: String,
    pub(crate) acme_admin: String,
    pub(crate) globex_admin: String,
    pub(crate) globex_read: String,
}

pub(crate) async fn world() -> World {
    world_with(None).await
}

/// The world on a hub whose clock the test moves (then grants expire within a second of their
/// time: the sweep runs every second).
pub(crate) async fn world_with(clock: Option<std::sync::Arc<hub::clock::FixedClock>>) -> World {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        allow_loopback: true,
        scheduler: clock.is_some(),
        clock,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let (_, acme_admin) = hub.create_org_key("acme", "admin").await;
    let (_, globex_admin) = hub.create_org_key("globex", "admin").await;
    let (_, globex_read) = hub.create_org_key("globex", "read").await;
    person(&hub, "acme", "alice@acme.test", &[]).await;
    let bob = person(&hub, "globex", "bob@globex.test", &["Engineering"]).await;
    person(&hub, "globex", "carol@globex.test", &[]).await;
    // The extranet knows bob (from an earlier sign-in) by the `sub` the hub gives it for him:
    // pairwise per owner organization, so not the one Globex's own applications see.
    let acme_id = hub.get(&hub.operator_key, "/api/v1/orgs/acme").await.json["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_sub = hub.state.secrets.pairwise(&format!("org:{acme_id}"), &bob);
    assert_ne!(bob_sub, bob);
    let target = ScimServer::start().await;
    let remote_bob = target.add_user("bob@globex.test", &bob_sub).await;
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
    let secret = extranet["application"]["webhook_secret"].clone();
    let receiver = receivers(&hub, port, &[&extranet], json!({ "extranet": secret }));
    let extranet_id = extranet["application"]["id"].as_str().unwrap().to_string();
    World {
        hub,
        extranet,
        extranet_id,
        target,
        remote_bob,
        receiver,
        bob,
        bob_sub,
        acme_admin,
        globex_admin,
        globex_read,
    }
}

impl World {
    /// Acme's space "Project X", served by the extranet, and a grant to Globex's Engineering
    /// group, pending; returns the grant's id.
    pub(crate) async fn propose(&self) -> String {
        self.propose_with(json!({"organization": "globex", "group": "Engineering",
            "release": {"claims": ["email"]}}))
            .await
    }

    /// The space, and the grant `grant` asks for.
    pub(crate) async fn propose_with(&self, grant: Value) -> String {
        let hub = &self.hub;
        let r = hub
            .post(
                &self.acme_admin,
                "/api/v1/orgs/acme/spaces",
                json!({"name": "Project X", "description": "The joint venture",
                    "applications": [self.extranet_id]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(r.json["slug"], "project-x");
        let r = hub
            .post(
                &self.acme_admin,
                "/api/v1/orgs/acme/spaces/project-x/grants",
                grant,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(r.json["status"], "pending");
        r.json["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn accept(&self, grant: &str) {
        let r = self
            .hub
            .post(
                &self.globex_admin,
                &format!("/api/v1/orgs/globex/invitations/{grant}/accept"),
                json!(null),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.json["status"], "accepted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_gets_in_only_after_consent_and_withdrawal_closes_the_door_downstream() {
    let w = world().await;
    let hub = &w.hub;
    let cid = client_id(&w.extranet);
    // Before any grant, Globex's people are nobody to Acme's extranet.
    let (status, page) =
        try_sign_in(hub, &Browser::new(), &cid, REDIRECT1, "bob@globex.test").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
    let grant = w.propose().await;
    let invitations = hub
        .get(&w.globex_read, "/api/v1/orgs/globex/invitations")
        .await;
    assert_eq!(invitations.status, StatusCode::OK);
    let inv = &invitations.json[0];
    assert_eq!(inv["id"], grant.as_str());
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["space_slug"], "project-x");
    assert_eq!(inv["owner_slug"], "acme");
    assert_eq!(
        inv["subject"],
        json!({"kind": "group", "value": "Engineering"})
    );
    // Pending is no access.
    let (status, _) = try_sign_in(hub, &Browser::new(), &cid, REDIRECT1, "bob@globex.test").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Consent is Globex's own admin's alone.
    let accept = format!("/api/v1/orgs/globex/invitations/{grant}/accept");
    let r = hub.post(&w.globex_read, &accept, json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a read key: {r:?}");
    let r = hub.post(&hub.operator_key, &accept, json!(null)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the operator: {r:?}");
    assert!(r.json["detail"].as_str().unwrap().contains("own admin"));
    let r = hub.post(&w.acme_admin, &accept, json!(null)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the owner: {r:?}");
    let r = hub
        .post(
            &w.acme_admin,
            &format!("/api/v1/orgs/acme/invitations/{grant}/accept"),
            json!(null),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "not acme's invitation: {r:?}"
    );
    let (status, _) = try_sign_in(hub, &Browser::new(), &cid, REDIRECT1, "bob@globex.test").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "still pending");
    w.accept(&grant).await;
    let r = hub.post(&w.globex_admin, &accept, json!(null)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "accepted once: {r:?}");

    // Bob is in, as Globex's, with the space in his tokens.
    let bob_browser = Browser::new();
    let t = sign_in(hub, &bob_browser, &w.extranet, REDIRECT1, "bob@globex.test").await;
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], w.bob_sub.as_str());
    assert_eq!(id["email"], "bob@globex.test", "released by the grant");
    assert_eq!(id["org"]["slug"], "globex");
    assert_eq!(id["spaces"], json!(["project-x"]));
    let (access, refresh) = (
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
    );
    assert_eq!(jwt_claims(access)["spaces"], json!(["project-x"]));
    // The extranet's SCIM service has the space as a group, with bob in it.
    let members = eventually(20, || async {
        w.target
            .group_members("project-x")
            .await
            .filter(|m| m.contains(&w.remote_bob))
    })
    .await;
    assert!(
        members.is_some(),
        "{:?}",
        w.target.group_members("project-x").await
    );
    assert!(active_at_introspection(hub, &w.extranet, access).await);
    // Carol, of Globex but not of Engineering, is refused, visibly to both organizations.
    let (status, page) =
        try_sign_in(hub, &Browser::new(), &cid, REDIRECT1, "carol@globex.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("do not have access to Extranet"), "{page}");
    for slug in ["acme", "globex"] {
        assert!(
            audit_actions(hub, slug)
                .await
                .iter()
                .any(|e| e["action"] == "login.refused"
                    && e["target"] == format!("application:{}", w.extranet_id)),
            "{slug} sees the refusal"
        );
    }
    // Acme's own people still sign in, with no space claimed.
    let a = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "alice@acme.test",
    )
    .await;
    assert!(jwt_claims(a["id_token"].as_str().unwrap())["spaces"].is_null());
    // The access review: both sides see bob, and only bob.
    for (key, slug) in [(&w.acme_admin, "acme"), (&w.globex_read, "globex")] {
        let r = hub
            .get(key, &format!("/api/v1/orgs/{slug}/access-review"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let rows = r.json.as_array().unwrap();
        assert_eq!(rows.len(), 1, "{slug}: {rows:?}");
        assert_eq!(rows[0]["email"], "bob@globex.test");
        if slug == "acme" {
            assert_eq!(rows[0]["subject"], w.bob_sub.as_str());
            assert!(rows[0]["user_id"].is_null(), "{rows:?}");
        } else {
            assert_eq!(rows[0]["user_id"], w.bob.as_str());
        }
        assert_eq!(rows[0]["organization"], "globex");
        assert_eq!(rows[0]["owner"], "acme");
        assert_eq!(rows[0]["space_slug"], "project-x");
    }

    // Globex withdraws its consent: at once, bob's tokens there are refused...
    let r = hub
        .post(
            &w.globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/withdraw"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "withdrawn");
    assert_eq!(r.json["people_lost_access"], 1);
    assert_eq!(
        r.json["withdrawn_by"],
        hub.get(&w.globex_read, "/api/v1/orgs/globex").await.json["id"]
    );
    assert!(!active_at_introspection(hub, &w.extranet, access).await);
    let (ok, body) = refresh_works(hub, &w.extranet, refresh).await;
    assert!(!ok, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    // ...his hub session no longer opens the extranet...
    let (status, _) = try_sign_in(hub, &bob_browser, &cid, REDIRECT1, "bob@globex.test").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // ...and the extranet is told: a valid logout token, a verified webhook, the SCIM
    // deactivation.
    let mut got = tokio::task::block_in_place(|| w.receiver.take(2, 30));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0]["path"], "/bcl/extranet");
    assert_eq!(got[0]["valid"], true, "{}", got[0]);
    assert_eq!(got[0]["sub"], w.bob_sub.as_str());
    assert_eq!(got[0]["aud"], cid.as_str());
    assert_eq!(got[1]["path"], "/hook/extranet");
    assert_eq!(got[1]["valid"], true, "{}", got[1]);
    assert_eq!(got[1]["type"], "space.access_withdrawn");
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
    let left = eventually(20, || async {
        w.target
            .group_members("project-x")
            .await
            .filter(|m| !m.contains(&w.remote_bob))
    })
    .await;
    assert!(left.is_some(), "bob left the space's SCIM group");
    // Both organizations see each step; the withdrawal says who and what it did.
    for slug in ["acme", "globex"] {
        let events = audit_actions(hub, slug).await;
        for a in [
            "space_grant.proposed",
            "space_grant.accepted",
            "space_grant.withdrawn",
        ] {
            assert!(
                events
                    .iter()
                    .any(|e| e["action"] == a && e["target"] == format!("space_grant:{grant}")),
                "{slug} does not see {a}"
            );
        }
        let w = events
            .iter()
            .find(|e| e["action"] == "space_grant.withdrawn")
            .unwrap();
        assert_eq!(w["details"]["by"], "partner");
        assert_eq!(w["details"]["people_lost_access"], 1);
    }
    let r = hub
        .post(
            &w.acme_admin,
            &format!("/api/v1/orgs/acme/spaces/project-x/grants/{grant}/withdraw"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "withdrawn once: {r:?}");
    let out = hub.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_leaver_is_told_to_the_owners_application_and_the_owner_can_end_the_space() {
    let w = world().await;
    let hub = &w.hub;
    let grant = w.propose().await;
    w.accept(&grant).await;
    let t = sign_in(
        hub,
        &Browser::new(),
        &w.extranet,
        REDIRECT1,
        "bob@globex.test",
    )
    .await;
    let refresh = t["refresh_token"].as_str().unwrap();
    // Globex's admin deprovisions bob: Acme's extranet hears of it like Globex's own apps.
    let r = hub
        .post(
            &w.globex_admin,
            &format!("/api/v1/orgs/globex/users/{}/deprovision", w.bob),
            json!({"reason": "left Globex"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(!refresh_works(hub, &w.extranet, refresh).await.0);
    let mut got = tokio::task::block_in_place(|| w.receiver.take(2, 30));
    got.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0]["path"], "/bcl/extranet");
    assert_eq!(got[0]["valid"], true, "{}", got[0]);
    assert!(got[0]["sid"].is_string(), "his session: {}", got[0]);
    assert_eq!(got[1]["type"], "user.deprovisioned");
    let deactivated = eventually(20, || async {
        (w.target.user(&w.remote_bob).await["active"] == false).then_some(())
    })
    .await;
    assert!(deactivated.is_some());
    let leaver = crate::deprovision::completed_leaver(hub, "globex", &w.bob).await;
    assert_eq!(leaver["deliveries"], 3, "{leaver}");

    // The owner deletes the space: the grant is gone, visibly to Globex too.
    let r = hub
        .call(
            reqwest::Method::DELETE,
            "/api/v1/orgs/acme/spaces/project-x",
            Some(w.acme_admin.as_str()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    let inv = hub
        .get(&w.globex_read, "/api/v1/orgs/globex/invitations")
        .await;
    assert_eq!(inv.json, json!([]));
    assert!(
        audit_actions(hub, "globex")
            .await
            .iter()
            .any(|e| e["action"] == "space.deleted")
    );
    w.hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_can_require_a_space_of_its_own_people() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    person(&hub, "acme", "alice@acme.test", &["Board"]).await;
    person(&hub, "acme", "dave@acme.test", &[]).await;
    let app = create_app(
        &hub,
        "acme",
        json!({"name": "Board room", "client_type": "confidential",
            "redirect_uris": [REDIRECT1], "spaces_required": true}),
    )
    .await;
    assert_eq!(app["application"]["spaces_required"], true);
    let cid = client_id(&app);
    let (status, _) = try_sign_in(&hub, &Browser::new(), &cid, REDIRECT1, "alice@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no space admits her yet");
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Board", "applications": [app["application"]["id"]]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    // A grant to the owner's own people needs no second consent.
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/spaces/board/grants",
            json!({"organization": "acme", "group": "Board"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.json["status"], "accepted");
    let t = sign_in(&hub, &Browser::new(), &app, REDIRECT1, "alice@acme.test").await;
    assert_eq!(
        jwt_claims(t["id_token"].as_str().unwrap())["spaces"],
        json!(["board"])
    );
    let (status, _) = try_sign_in(&hub, &Browser::new(), &cid, REDIRECT1, "dave@acme.test").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "dave is not on the board");
    hub.stop().await;
}

#[tokio::test]
async fn bad_space_requests_get_problem_json_and_change_nothing() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    hub.create_org("acme").await;
    hub.create_org("globex").await;
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let grant = r.json["id"].as_str().unwrap().to_string();
    let (_, globex_admin) = hub.create_org_key("globex", "admin").await;
    let before = hub.snapshot().await;
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X"}),
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": "S", "slug": "Bad Slug"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": "S2", "applications": ["nope"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": "S3", "applications": [uuid::Uuid::now_v7()]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!({"name": "S4", "owner": "globex"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces",
            json!("not an object"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex"}),
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "nobody"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "group": "G", "user": "u@globex.test"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "user": "not-an-email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/orgs/acme/spaces/nowhere/grants",
            json!({"organization": "globex"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/orgs/acme/spaces/project-x/grants/not-a-grant/withdraw",
            json!(null),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, body, want) in cases {
        let r = hub.post(&op, path, body.clone()).await;
        assert_eq!(r.status, want, "{path} {body}: {r:?}");
        assert_eq!(r.content_type, "application/problem+json", "{path}");
    }
    let r = hub
        .post(
            &globex_admin,
            "/api/v1/orgs/globex/invitations/not-a-grant/accept",
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    assert_eq!(
        before,
        hub.snapshot().await,
        "a refused request changed something"
    );
    // Decline, then it can no longer be accepted.
    let r = hub
        .post(
            &globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/decline"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "declined");
    let r = hub
        .post(
            &globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/accept"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_signs_in_through_its_own_idp_in_chromium() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let (idp_a, issuer_a) = crate::federation::upstream(
        "acme",
        &hub,
        json!({"alice": {"password": "alice-pw", "claims": {
            "email": "alice@acme.test", "email_verified": true, "name": "Alice Acme"}}}),
    );
    let (idp_b, issuer_b) = crate::federation::upstream(
        "globex",
        &hub,
        json!({"bob": {"password": "bob-pw", "claims": {
            "email": "bob@globex.test", "email_verified": true, "name": "Bob Globex",
            "groups": ["engineering"]}}}),
    );
    crate::federation::connect(&hub, "acme", "Acme OIDC", &issuer_a, true).await;
    crate::federation::connect(&hub, "globex", "Globex OIDC", &issuer_b, true).await;
    let port = free_port();
    let (cid, secret) =
        crate::federation::add_app(&hub, "acme", &format!("http://127.0.0.1:{port}/cb")).await;
    let app_id = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/applications")
        .await
        .json[0]["id"]
        .clone();
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/spaces",
            json!({"name": "Project X", "applications": [app_id]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/spaces/project-x/grants",
            json!({"organization": "globex", "group": "engineering",
                "release": {"claims": ["email", "name"]}}),
        )
        .await;
    let grant = r.json["id"].as_str().unwrap().to_string();
    let (_, globex_admin) = hub.create_org_key("globex", "admin").await;
    let r = hub
        .post(
            &globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/accept"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-artifacts/spaces");
    std::fs::create_dir_all(&shots).unwrap();
    // The application is Acme's; bob is Globex's and signs in at Globex's IdP (openid-client
    // in Chromium): the hub asks for his work email and sends him to his own company.
    let (ok, lines, out) = hub_e2e::run_node(
        "browser-login.mjs",
        &[
            ("ISSUER", hub.url.clone()),
            ("APP_PORT", port.to_string()),
            ("CLIENT_ID", cid),
            ("CLIENT_SECRET", secret),
            ("LOGIN", "bob".to_string()),
            ("PASSWORD", "bob-pw".to_string()),
            ("SHOTS", shots.display().to_string()),
            ("NAME", "partner".to_string()),
            ("EMAIL", "bob@globex.test".to_string()),
        ],
    )
    .await;
    assert!(ok, "{out}");
    let claims = lines.last().cloned().unwrap_or(Value::Null)["claims"].clone();
    assert_eq!(claims["email"], "bob@globex.test", "{out}");
    assert_eq!(claims["org"]["slug"], "globex");
    assert_eq!(claims["spaces"], json!(["project-x"]));
    assert!(
        shots.join("partner-1-hub-email.png").is_file(),
        "the hub asked"
    );
    let globex = audit_actions(&hub, "globex").await;
    assert!(
        globex.iter().any(
            |e| e["action"] == "session.started" && e["details"]["connection"] == "Globex OIDC"
        )
    );
    drop((idp_a, idp_b));
    hub.stop().await;
}

#[tokio::test]
async fn each_organization_maps_its_own_directory_groups_to_hub_roles() {
    let hub = TestHub::start().await;
    hub.create_org("acme").await;
    hub.create_org("globex").await;
    let (_, acme_admin) = hub.create_org_key("acme", "admin").await;
    let (_, acme_read) = hub.create_org_key("acme", "read").await;
    let r = hub.get(&acme_read, "/api/v1/orgs/acme/roles").await;
    assert_eq!(r.json, json!({"org_admin": [], "compliance_officer": []}));
    let r = hub
        .call(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/roles",
            Some(acme_admin.as_str()),
            Some(
                &json!({"org_admin": ["IT-Admins"], "compliance_officer": ["Compliance", "Audit"]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.json,
        json!({"org_admin": ["IT-Admins"], "compliance_officer": ["Audit", "Compliance"]})
    );
    let before = hub.snapshot().await;
    for (key, body, want) in [
        (
            &acme_read,
            json!({"org_admin": ["X"]}),
            StatusCode::FORBIDDEN,
        ),
        (
            &acme_admin,
            json!({"org_admin": [""]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &acme_admin,
            json!({"operator": ["X"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = hub
            .call(
                reqwest::Method::PUT,
                "/api/v1/orgs/acme/roles",
                Some(key.as_str()),
                Some(&body),
            )
            .await;
        assert_eq!(r.status, want, "{body}: {r:?}");
    }
    assert_eq!(before, hub.snapshot().await);
    let r = hub.get(&acme_admin, "/api/v1/orgs/globex/roles").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let events = audit_actions(&hub, "acme").await;
    let e = events
        .iter()
        .find(|e| e["action"] == "roles.updated")
        .unwrap();
    assert_eq!(e["details"]["after"]["org_admin"], json!(["IT-Admins"]));
    hub.stop().await;
}
