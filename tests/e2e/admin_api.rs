//! The admin API's ordinary paths: health, metrics, OpenAPI, organizations, applications, keys.

use hub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let hub = TestHub::start().await;
    let r = hub.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = hub.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (r.status, r.json["database"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let r = hub
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json["openapi"].as_str().unwrap().starts_with("3."));
    assert!(r.json["paths"]["/api/v1/orgs/{org}/applications"]["post"].is_object());
    let r = hub.call(Method::GET, "/metrics", None, None).await;
    let text = r.json.as_str().unwrap().to_string();
    assert!(
        text.contains("hub_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
        "{text}"
    );
    let r = hub.call(Method::GET, "/no/such/thing", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.content_type, "application/problem+json");
    hub.stop().await;
}

#[tokio::test]
async fn organization_application_and_key_lifecycle() {
    let hub = TestHub::start().await;
    let op = hub.operator_key.clone();
    let (org_id, _) = hub.create_org("acme").await;

    // by slug and by id
    let by_slug = hub.get(&op, "/api/v1/orgs/acme").await;
    let by_id = hub.get(&op, &format!("/api/v1/orgs/{org_id}")).await;
    assert_eq!(by_slug.json, by_id.json);

    let (_, admin) = hub.create_org_key("acme", "admin").await;
    let r = hub
        .post(
            &admin,
            "/api/v1/orgs/acme/applications",
            json!({
                "name": "Extranet",
                "client_type": "confidential",
                "redirect_uris": ["https://extranet.example.com/cb", "http://127.0.0.1:3000/cb"],
                "backchannel_logout_uri": "https://extranet.example.com/bcl"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let secret = r.json["client_secret"].as_str().unwrap().to_string();
    let app_id = r.json["application"]["id"].as_str().unwrap().to_string();
    assert!(secret.len() >= 40);
    // the secret is stored only as a hash
    let snap = hub.snapshot().await.to_string();
    assert!(!snap.contains(&secret));

    let r = hub
        .get(&admin, &format!("/api/v1/orgs/acme/applications/{app_id}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json.get("client_secret").is_none());

    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/applications/{app_id}"),
            Some(&admin),
            Some(&json!({"backchannel_logout_uri": null, "name": "Extranet 2"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["name"], "Extranet 2");
    assert!(r.json["backchannel_logout_uri"].is_null());

    let r = hub
        .post(
            &admin,
            &format!("/api/v1/orgs/acme/applications/{app_id}/secret"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_ne!(r.json["client_secret"].as_str().unwrap(), secret);

    // public clients have no secret
    let r = hub
        .post(&admin, "/api/v1/orgs/acme/applications", json!({
            "name": "SPA", "client_type": "public", "redirect_uris": ["https://spa.example.com/"]
        }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.json["client_secret"].is_null());

    // a read key can read but not write
    let (_, read) = hub.create_org_key("acme", "read").await;
    assert_eq!(
        hub.get(&read, "/api/v1/orgs/acme/applications")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = hub
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/applications/{app_id}"),
            Some(&read),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // an org key cannot create organizations or suspend its own
    let r = hub
        .post(
            &admin,
            "/api/v1/orgs",
            json!({"slug": "evil", "name": "Evil"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = hub
        .call(
            Method::PATCH,
            "/api/v1/orgs/acme",
            Some(&admin),
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = hub
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/applications/{app_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = hub
        .get(&admin, &format!("/api/v1/orgs/acme/applications/{app_id}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let (key_id, key) = hub.create_org_key("acme", "admin").await;
    // suspension by the operator shuts the organization's keys out
    let r = hub
        .call(
            Method::PATCH,
            "/api/v1/orgs/acme",
            Some(&op),
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        hub.get(&admin, "/api/v1/orgs/acme").await.status,
        StatusCode::FORBIDDEN
    );

    // revoked keys stop working at once
    let r = hub
        .call(
            Method::DELETE,
            &format!("/api/v1/orgs/acme/api-keys/{key_id}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json["revoked_at"].is_string());
    assert_eq!(
        hub.get(&key, "/api/v1/orgs").await.status,
        StatusCode::UNAUTHORIZED
    );

    let r = hub.get(&op, "/api/v1/audit?limit=1000").await;
    let actions: Vec<&str> = r.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "organization.created",
        "api_key.created",
        "application.created",
        "application.updated",
        "application.secret_rotated",
        "application.deleted",
        "organization.updated",
        "api_key.revoked",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn missing_or_unknown_credentials_get_401_problem() {
    let hub = TestHub::start().await;
    for key in [None, Some("hub_not-a-real-key"), Some("")] {
        let r = hub.call(Method::GET, "/api/v1/orgs", key, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.json["status"], 401);
    }
    hub.stop().await;
}

#[tokio::test]
async fn an_organization_cannot_take_a_name_that_reads_like_anothers() {
    let hub = TestHub::start().await;
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs",
            json!({"slug": "acme", "name": "Acme Corp"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let before = hub.snapshot().await;
    for (slug, name) in [
        ("acme2", "Acme Corp"),
        ("acme3", "ACME  corp."),
        ("acme4", "\u{410}cme Corp"),
        ("acme5", "Acme\u{200B} Corp"),
    ] {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs",
                json!({"slug": slug, "name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{name:?}: {r:?}");
    }
    assert_eq!(before, hub.snapshot().await, "nothing changed");
    // Nor by renaming.
    hub.create_org("globex").await;
    let r = hub
        .call(
            reqwest::Method::PATCH,
            "/api/v1/orgs/globex",
            Some(&hub.operator_key),
            Some(&json!({"name": "acme corp"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs",
            json!({"slug": "acme-group", "name": "Acme Group"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a different name is fine: {r:?}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn an_admin_bringing_a_leaver_back_is_audited_as_a_reactivation() {
    let hub = TestHub::start().await;
    crate::federation::org_with_domain(&hub, "acme", "acme.test").await;
    let alice = crate::federation::add_user(&hub, "acme", "alice@acme.test").await;
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/users/{alice}/deprovision"),
            json!({"reason": "left the company"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = hub
        .call(
            Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{alice}"),
            Some(&hub.operator_key),
            Some(&json!({"status": "active", "reason": "rehired"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["status"], "active");
    let events = crate::federation::audit_actions(&hub, "acme").await;
    let last = events
        .iter()
        .filter(|e| e["target"] == format!("user:{alice}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(
        last,
        ["user.created", "user.deprovisioned", "user.reactivated"],
        "{events:#?}"
    );
    hub.stop().await;
}
