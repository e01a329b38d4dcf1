//! Home-realm discovery does not tell an anonymous caller which companies are on the hub: the
//! console's sign-in answers an address of a company on the hub exactly as it answers one of a
//! company that is not (same status, same redirect, same body, a sealed cookie either way),
//! the page for an address the hub does not sign in names no company and no domain, and the
//! lookups are counted per client address: over the limit the address gets 429 with
//! `Retry-After`, while another address is served. (A burst of failed client authentications
//! gets 429 too, and others are served: `oidc_hardening::wrong_client_secrets_...`.)

use hub_e2e::{Browser, Options, TestHub};
use reqwest::StatusCode;

/// Posts `email` to the console's sign-in from `ip` (as a trusted proxy says); the answer's
/// status, headers (the cookie's value and the date left out) and body bytes.
async fn ask(
    hub: &TestHub,
    b: &Browser,
    email: &str,
    ip: &str,
) -> (StatusCode, Vec<String>, Vec<u8>) {
    let r = b
        .client
        .post(format!("{}/console/login", hub.url))
        .header("x-forwarded-for", ip)
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let mut headers: Vec<String> = r
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| {
            let v = v.to_str().unwrap();
            if k == "set-cookie" {
                // `hub_realm=<sealed, random>; attributes`: the attributes must match too.
                let (name, rest) = v.split_once('=').unwrap();
                let attrs = rest.split_once(';').map(|(_, a)| a).unwrap_or("");
                format!("{k}: {name}=<sealed>;{attrs}")
            } else {
                format!("{k}: {v}")
            }
        })
        .collect();
    headers.sort();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

async fn follow(hub: &TestHub, b: &Browser, ip: &str) -> reqwest::Response {
    b.client
        .get(format!("{}/console/login/continue", hub.url))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_anonymous_caller_cannot_tell_which_companies_are_on_the_hub() {
    let hub = TestHub::start_with(Options {
        config: Some(|c| {
            c.server.realm_lookups_per_ip = 5;
            c.server.realm_lookup_window_secs = 60;
            c.oidc.trusted_proxy_hops = 1;
        }),
        ..Default::default()
    })
    .await;
    crate::federation::org_with_domain(&hub, "acme", "acme.test").await;
    let (on, off) = (Browser::new(), Browser::new());
    let a = ask(&hub, &on, "alice@acme.test", "198.51.100.7").await;
    let b = ask(&hub, &off, "mallory@nowhere.test", "198.51.100.7").await;
    assert_eq!(a.0, StatusCode::SEE_OTHER);
    assert_eq!(
        a, b,
        "the answers differ between a domain on the hub and one that is not"
    );
    assert!(
        a.1.iter().any(|h| h == "location: /console/login/continue"),
        "{:?}",
        a.1
    );

    // The next step looks the address up; for one the hub does not sign in, the page names
    // neither the domain nor any company on the hub.
    let page = follow(&hub, &off, "198.51.100.7").await;
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    for leak in ["nowhere.test", "acme", "Acme"] {
        assert!(!text.contains(leak), "the page says {leak:?}: {text}");
    }
    let page = follow(&hub, &on, "198.51.100.7").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?request="),
        "an address on the hub goes on to its company's sign-in"
    );

    // Lookups are counted per address: three more, then 429 with Retry-After.
    for _ in 0..3 {
        ask(&hub, &off, "x@nowhere.test", "198.51.100.7").await;
        assert_eq!(
            follow(&hub, &off, "198.51.100.7").await.status(),
            StatusCode::OK
        );
    }
    ask(&hub, &off, "y@nowhere.test", "198.51.100.7").await;
    let r = follow(&hub, &off, "198.51.100.7").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The first answer stays the same for everyone, limited or not: it looks nothing up.
    let c = ask(&hub, &Browser::new(), "alice@acme.test", "198.51.100.7").await;
    assert_eq!(c, a);
    // Another address is served as before.
    let other = Browser::new();
    ask(&hub, &other, "alice@acme.test", "203.0.113.9").await;
    assert_eq!(
        follow(&hub, &other, "203.0.113.9").await.status(),
        StatusCode::SEE_OTHER
    );
    hub.stop().await;
}
