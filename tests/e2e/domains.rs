//! Domain verification against a real DNS server (dnsmasq on loopback): the TXT record proves
//! control; the operator can attest instead; one organization only can hold a domain verified.

use hub_e2e::{Dnsmasq, Options, TestHub, free_udp_port};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn dns_txt_challenge_verifies_a_domain_once_published() {
    let port = free_udp_port();
    let hub = TestHub::start_with(Options {
        dns_port: Some(port),
        ..Default::default()
    })
    .await;
    hub.create_org("acme").await;
    hub.create_org("rival").await;
    let (_, acme) = hub.create_org_key("acme", "admin").await;
    let (_, rival) = hub.create_org_key("rival", "admin").await;

    let r = hub
        .post(
            &acme,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "Acme.Example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.json["domain"], "acme.example");
    assert_eq!(r.json["status"], "pending");
    let record = r.json["dns_record"].clone();
    assert_eq!(record["name"], "_hub-challenge.acme.example");
    let value = record["value"].as_str().unwrap().to_string();
    assert!(value.starts_with("hub-domain-verification="));

    // Nothing published yet: a wrong record, then none.
    let dns = Dnsmasq::start(
        port,
        &[(
            "_hub-challenge.acme.example",
            "hub-domain-verification=wrong",
        )],
    )
    .await
    .unwrap();
    let before = hub.snapshot().await;
    let r = hub
        .post(
            &acme,
            "/api/v1/orgs/acme/domains/acme.example/verify",
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("_hub-challenge.acme.example")
    );
    assert_eq!(before, hub.snapshot().await);
    drop(dns);

    // The rival claims the same domain (claims are per organization) and publishes its own value.
    let r = hub
        .post(
            &rival,
            "/api/v1/orgs/rival/domains",
            json!({"domain": "acme.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let rival_value = r.json["dns_record"]["value"].as_str().unwrap().to_string();

    let _dns = Dnsmasq::start(
        port,
        &[
            ("_hub-challenge.acme.example", value.as_str()),
            ("_hub-challenge.acme.example", rival_value.as_str()),
        ],
    )
    .await
    .unwrap();
    let r = hub
        .post(
            &acme,
            "/api/v1/orgs/acme/domains/acme.example/verify",
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        (r.json["status"].as_str(), r.json["method"].as_str()),
        (Some("verified"), Some("dns"))
    );

    // The domain is held: the rival's record is there too, but it cannot verify it.
    let r = hub
        .post(
            &rival,
            "/api/v1/orgs/rival/domains/acme.example/verify",
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    let r = hub
        .get(&rival, "/api/v1/orgs/rival/domains/acme.example")
        .await;
    assert_eq!(r.json["status"], "pending");

    let audit = hub
        .get(&acme, "/api/v1/audit?action=domain.verified")
        .await
        .json;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["method"], "dns");
    hub.stop().await;
}

#[tokio::test]
async fn operator_attestation_is_operator_only_and_audited() {
    let hub = TestHub::start().await;
    hub.create_org("acme").await;
    let (_, acme) = hub.create_org_key("acme", "admin").await;
    let r = hub
        .post(
            &acme,
            "/api/v1/orgs/acme/domains",
            json!({"domain": "acme.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let before = hub.snapshot().await;
    let r = hub
        .post(
            &acme,
            "/api/v1/orgs/acme/domains/acme.test/attest",
            json!({"reason": "trust me"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(before, hub.snapshot().await);

    // Acme has an admin of its own: the operator's attestation waits for its approval.
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/domains/acme.test/attest",
            json!({"reason": "contract #42"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let d = hub.get(&acme, "/api/v1/orgs/acme/domains/acme.test").await;
    assert_eq!(d.json["status"], "pending");
    let pending = hub.get(&acme, "/api/v1/orgs/acme/operator-requests").await;
    let id = pending.json[0]["id"].as_str().unwrap().to_string();
    let r = hub
        .post(
            &acme,
            &format!("/api/v1/orgs/acme/operator-requests/{id}/approve"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let d = hub.get(&acme, "/api/v1/orgs/acme/domains/acme.test").await;
    assert_eq!(d.json["method"], "attestation");

    // The organization sees that the operator vouched for its domain, and why.
    let audit = hub
        .get(&acme, "/api/v1/orgs/acme/audit?action=domain.verified")
        .await
        .json;
    let e = &audit["events"][0];
    assert_eq!(
        e["actor"]["kind"], "org_key",
        "made in the name of the admin who approved"
    );
    assert_eq!(e["details"]["reason"], "contract #42");
    assert!(e["details"]["how"]["operator_request"].is_string(), "{e}");
    let asked = hub
        .get(&acme, "/api/v1/orgs/acme/audit?action=operator.requested")
        .await
        .json;
    assert_eq!(asked["events"][0]["actor"]["kind"], "operator");

    let r = hub
        .call(
            reqwest::Method::DELETE,
            "/api/v1/orgs/acme/domains/acme.test",
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        hub.get(&acme, "/api/v1/orgs/acme/domains").await.json,
        json!([])
    );
    hub.stop().await;
}
