//! Outbound SCIM addresses people by an identifier the hub issued, never by a name a partner
//! controls: a partner's person whose userName is an owner's employee's name there cannot get
//! the owner's employee deactivated in the owner's application.

use reqwest::StatusCode;
use serde_json::json;

use hub_e2e::{Browser, eventually};

use crate::deprovision::{REDIRECT1, client_id};
use crate::spaces::{try_sign_in, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_cannot_deactivate_an_owners_employee_through_a_shared_user_name() {
    let w = world().await;
    let hub = &w.hub;
    // Acme's dana is in Acme's extranet as "dana" (the extranet's own naming), linked to the
    // hub by her hub id.
    let r = hub
        .post(
            &w.acme_admin,
            "/api/v1/orgs/acme/users",
            json!({"email": "dana@acme.test", "name": "Dana Acme"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dana = r.json["id"].as_str().unwrap().to_string();
    let remote_dana = w.target.add_user("dana", &dana).await;
    // Globex names one of its own people "dana" and gets them into Acme's space.
    let r = hub
        .post(
            &w.globex_admin,
            "/api/v1/orgs/globex/users",
            json!({"email": "mallory@globex.test", "name": "Mallory", "username": "dana",
                   "groups": ["Engineering"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let grant = w.propose().await;
    w.accept(&grant).await;
    // Both sign in to the extranet, so it knows them.
    let cid = client_id(&w.extranet);
    for email in ["bob@globex.test", "mallory@globex.test"] {
        let (status, page) = try_sign_in(hub, &Browser::new(), &cid, REDIRECT1, email).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{email}: {page}");
    }

    // Globex withdraws: the extranet is told about Globex's people, bob and "dana".
    let r = hub
        .post(
            &w.globex_admin,
            &format!("/api/v1/orgs/globex/invitations/{grant}/withdraw"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // bob, whom the extranet knows by his hub id, is deactivated there (the control)...
    let deactivated = eventually(20, || async {
        (w.target.user(&w.remote_bob).await["active"] == false).then_some(())
    })
    .await;
    assert!(
        deactivated.is_some(),
        "{}",
        w.target.user(&w.remote_bob).await
    );
    // ...and once every SCIM delivery is done, Acme's dana is untouched.
    let settled = eventually(20, || async {
        let mut rows = Vec::new();
        for org in ["acme", "globex"] {
            let r = hub
                .get(&hub.operator_key, &format!("/api/v1/orgs/{org}/deliveries"))
                .await;
            rows.extend(
                r.json
                    .as_array()?
                    .iter()
                    .filter(|d| d["kind"] == "scim")
                    .cloned(),
            );
        }
        let done = |d: &serde_json::Value| d["status"] == "delivered" || d["status"] == "skipped";
        (rows.len() >= 2 && rows.iter().all(done)).then_some(rows)
    })
    .await;
    assert!(settled.is_some(), "deliveries did not settle");
    assert_eq!(
        w.target.user(&remote_dana).await["active"],
        true,
        "Globex's \"dana\" deactivated Acme's dana"
    );
    w.hub.stop().await;
}
