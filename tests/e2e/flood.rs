//! Denial of service from anonymous traffic: forged callbacks and junk SAML posts are counted and
//! summarised, never one audit event each; silent, idle and slow connections cannot exhaust the
//! process.

use hub_e2e::{HubProcess, Options, SamlIdp, TestHub, wait_ready};
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
    // The test reads the log as the operator, and each such read is itself recorded
    // (`operator.read`): count every other event.
    let not_reads = |events: Vec<serde_json::Value>| {
        events
            .into_iter()
            .filter(|e| e["action"] != "operator.read")
            .count()
    };
    let before = not_reads(audit_actions(&hub, "globex").await);
    let everything = || async {
        hub.get(&hub.operator_key, "/api/v1/audit?limit=1000")
            .await
            .json["events"]
            .as_array()
            .unwrap()
            .clone()
    };
    let all_before = not_reads(everything().await);

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
    let after = not_reads(audit_actions(&hub, "globex").await);
    assert!(
        after - before <= 10,
        "{} audit events for {N} junk posts",
        after - before
    );
    let all_after = not_reads(everything().await);
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

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_cannot_exhaust_the_hub() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let cap = 64;
    let hub = HubProcess::spawn(
        &[
            ("HUB_SERVER__MAX_CONNECTIONS".into(), cap.to_string()),
            ("HUB_SERVER__HEADER_TIMEOUT_SECS".into(), "2".into()),
        ],
        dir.path(),
    );
    let url = hub.url();
    wait_ready(&format!("{url}/readyz"), 30).await.unwrap();
    let addr = url.trim_start_matches("http://").to_string();
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", hub.pid()))
            .unwrap()
            .count()
    };
    let base = fds();

    // Two thousand connections that never say a word.
    let mut silent = Vec::new();
    for _ in 0..2000 {
        if let Ok(s) = tokio::net::TcpStream::connect(&addr).await {
            silent.push(s);
        }
    }
    // The hub holds no more than its cap (it accepts, then closes the idlest: give the closing
    // a moment; the bound is what it settles to, not an instant's count), and still answers a
    // prompt client at once.
    let settle = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while fds() > base + cap + 16 && std::time::Instant::now() < settle {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fds() <= base + cap + 16, "{} open files", fds());
    let health = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        reqwest::get(format!("{url}/healthz")),
    )
    .await
    .expect("healthz answers during the flood")
    .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // A client that sends its headers a byte at a time is cut off after the header timeout.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    while started.elapsed() < std::time::Duration::from_secs(15) {
        if slow.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(std::time::Duration::from_millis(300), slow.read(&mut buf)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                // An error answer (408) before closing also ends it.
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "the slow client was never cut off");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // The silent ones are gone too (evicted or timed out), and the count shows it.
    drop(silent);
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(&text, "hub_http_connections_evicted_total", "") > 0,
        "{text}"
    );
}
