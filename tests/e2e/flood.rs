//! Denial of service from anonymous traffic: forged callbacks and junk SAML posts are counted and
//! summarised, never one audit event each.

use hub_e2e::{Options, SamlIdp, TestHub};
use reqwest::StatusCode;
use serde_json::json;

use crate::federation::{audit_actions, org_with_domain};
use crate::saml::{connect_saml, users};

fn metric(text: &str, name: &str, label: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_callbacks_and_junk_saml_posts_are_counted_not_logged_one_by_one() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let idp = SamlIdp::start(users("globex.test"));
    let conn = connect_saml(&hub, "globex", "Globex SAML", &[&idp], json!({})).await;
    let acs = conn["saml"]["acs_url"].as_str().unwrap().to_string();
    let before = audit_actions(&hub, "globex").await.len();
    let all_before = hub
        .get(&hub.operator_key, "/api/v1/audit?limit=1000")
        .await
        .json["events"]
        .as_array()
        .unwrap()
        .len();

    const N: usize = 300;
    let c = reqwest::Client::new();
    for i in 0..N {
        let r = c
            .post(&acs)
            .form(&[
                ("SAMLResponse", "PHg+"),
                ("RelayState", &format!("forged-{i}")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = c
            .get(format!(
                "{}/login/oidc/callback?state=forged-{i}&code=x",
                hub.url
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }

    // Within a couple of windows, a handful of summaries, not 600 events.
    let mut counted = 0;
    for _ in 0..50 {
        let summaries: Vec<_> = audit_actions(&hub, "globex")
            .await
            .into_iter()
            .filter(|e| e["action"] == "login.failures_summarized")
            .collect();
        counted = summaries
            .iter()
            .map(|e| e["details"]["count"].as_u64().unwrap())
            .sum::<u64>();
        if counted as usize >= N {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(counted as usize, N, "every junk post is counted");
    let after = audit_actions(&hub, "globex").await.len();
    assert!(
        after - before <= 10,
        "{} audit events for {N} junk posts",
        after - before
    );
    let all_after = hub
        .get(&hub.operator_key, "/api/v1/audit?limit=1000")
        .await
        .json["events"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        all_after - all_before <= 20,
        "{} audit events hub-wide for {} anonymous failures",
        all_after - all_before,
        2 * N
    );
    let text = reqwest::get(format!("{}/metrics", hub.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &text,
            "hub_anonymous_failures_total",
            "surface=\"saml_acs\""
        ),
        N as u64,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "hub_anonymous_failures_total",
            "surface=\"oidc_callback\""
        ),
        N as u64
    );
    hub.stop().await;
}
