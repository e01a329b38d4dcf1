//! Background jobs of `hub serve`: the token signing keys rotate on their own once the newest is
//! `oidc.key_rotation_days` old, the new key published before it signs, under a lease.

use hub_e2e::{Options, TestHub, eventually};
use reqwest::Method;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate_on_schedule() {
    let clock = Arc::new(hub::clock::FixedClock::new(chrono::Utc::now()));
    let hub = TestHub::start_with(Options {
        clock: Some(clock.clone()),
        scheduler: true,
        ..Default::default()
    })
    .await;
    let kids = || async {
        let jwks = hub.call(Method::GET, "/oauth2/jwks", None, None).await.json;
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // One key per advertised algorithm (ES256, RS256), published from the start.
    let first = kids().await;
    assert_eq!(first.len(), 2, "{first:?}");
    // Nothing happens before the rotation period.
    clock.advance(chrono::Duration::days(89));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(kids().await, first);
    clock.advance(chrono::Duration::days(2));
    let rotated = eventually(15, || async {
        let k = kids().await;
        (k.len() == 4).then_some(k)
    })
    .await
    .expect("the scheduler rotates the keys after 90 days");
    assert!(
        first.iter().all(|k| rotated.contains(k)),
        "the old keys stay published"
    );
    let events = hub
        .get(&hub.operator_key, "/api/v1/audit?limit=1000")
        .await
        .json;
    let created = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "signing_key.created")
        .count();
    assert!(created >= 3, "each key's creation is audited ({created})");
    hub.stop().await;
}
