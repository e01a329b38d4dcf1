//! LDAP changes between full syncs, against a real slapd (syncprov, ppolicy): incremental reads
//! by `modifyTimestamp` follow changes and ppolicy locks (deletions wait for the next full
//! sync); a syncrepl (RFC 4533 refreshAndPersist) watch started by the scheduler hears adds,
//! changes, group changes and deletions within moments, a deletion deprovisioning the person at
//! once; a server that goes away in the middle of a paged read deprovisions nobody.

use hub_e2e::{Options, Slapd, TestHub, eventually};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{audit_actions, org_with_domain};
use crate::ldap::{by_email, person, sync, sync_mode, users};

async fn directory(hub: &TestHub, slapd: &Slapd, ldap: Value) -> String {
    let mut settings = json!({"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
        "base_dn": Slapd::SUFFIX});
    for (k, v) in ldap.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": "syncpw",
                "ldap": settings}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.json["id"].as_str().unwrap().to_string()
}

fn lock(uid: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n\n",
        Slapd::SUFFIX
    )
}

fn unlock(uid: &str) -> String {
    format!(
        "dn: uid={uid},ou=people,{}\nchangetype: modify\ndelete: pwdAccountLockedTime\n\n",
        Slapd::SUFFIX
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_reads_follow_changes_and_locks_and_leave_deletions_to_full_syncs() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let slapd = Slapd::start();
    slapd.add(&format!(
        "{}{}{}",
        person(
            "alice",
            "Alice Acme",
            Some("alice@acme.test"),
            Some("Alice")
        ),
        person("bob", "Bob Builder", Some("bob@acme.test"), Some("Bob")),
        person(
            "carol",
            "Carol Cole",
            Some("carol@acme.test"),
            Some("Carol")
        ),
    ));
    let dir = directory(
        &hub,
        &slapd,
        json!({"mode": "incremental", "schedule": {"enabled": false}}),
    )
    .await;
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["created"], 3, "{run}");
    let d = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}"),
        )
        .await
        .json;
    assert_eq!(d["has_cursor"], true, "{d}");
    // modifyTimestamp has a one-second resolution: change things in a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    slapd.modify(&format!(
        "dn: uid=alice,ou=people,{s}\nchangetype: modify\nreplace: cn\ncn: Alice Anderson\n\n{lock}\
         dn: uid=carol,ou=people,{s}\nchangetype: delete\n",
        s = Slapd::SUFFIX,
        lock = lock("bob"),
    ));
    let run = sync_mode(&hub, &dir, "incremental").await;
    assert_eq!(run["mode"], "incremental", "{run}");
    assert_eq!(run["counts"]["read"], 2, "only what changed: {run}");
    assert_eq!(run["counts"]["updated"], 1, "{run}");
    assert_eq!(
        run["counts"]["suspended"], 1,
        "a ppolicy lock disables: {run}"
    );
    assert_eq!(run["counts"]["deprovisioned"], 0, "{run}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "alice@acme.test")["name"], "Alice Anderson");
    assert_eq!(by_email(&all, "bob@acme.test")["status"], "suspended");
    assert_eq!(
        by_email(&all, "carol@acme.test")["status"],
        "active",
        "an incremental read cannot see a deletion"
    );
    let bob = by_email(&all, "bob@acme.test")["id"].clone();
    let leavers = crate::deprovision::leavers(&hub, "acme").await;
    let l = leavers.iter().find(|l| l["user_id"] == bob).unwrap();
    assert_eq!(
        (l["source"].as_str(), l["outcome"].as_str()),
        (Some("ldap"), Some("suspended"))
    );

    // The full sync finds the deletion; an unlock comes back through the CLI's incremental run.
    // An admin's edit of a directory-managed user is undone by the next full sync even though
    // the entry itself did not change (the directory is the source of truth).
    let alice = by_email(&all, "alice@acme.test")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/acme/users/{alice}"),
            Some(&hub.operator_key),
            Some(&json!({"name": "Edited By Hand"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["deprovisioned"], 1, "{run}");
    assert_eq!(run["counts"]["updated"], 1, "alice is restored: {run}");
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["unchanged"], 2, "{run}");
    assert_eq!(run["counts"]["updated"], 0, "{run}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    slapd.modify(&unlock("bob"));
    let out = hub.cli(&["sync", "acme", "--incremental"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("succeeded (incremental)"), "{stdout}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "bob@acme.test")["status"], "active");
    assert_eq!(by_email(&all, "carol@acme.test")["status"], "deprovisioned");
    assert_eq!(by_email(&all, "alice@acme.test")["name"], "Alice Anderson");
    let runs = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/syncs"),
        )
        .await
        .json;
    let modes: Vec<(&str, &str)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["mode"].as_str().unwrap(),
                r["triggered_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            ("incremental", "cli"),
            ("full", "admin"),
            ("full", "admin"),
            ("incremental", "admin"),
            ("full", "admin")
        ]
    );
    // A changed filter drops the cursor: the next incremental run is a full one.
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/acme/directories/{dir}"),
            Some(&hub.operator_key),
            Some(&json!({"ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
                "base_dn": format!("ou=people,{}", Slapd::SUFFIX), "mode": "incremental",
                "schedule": {"enabled": false}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["has_cursor"], false, "{}", r.json);
    let run = sync_mode(&hub, &dir, "incremental").await;
    assert_eq!(run["mode"], "full", "{run}");
    assert!(
        audit_actions(&hub, "acme")
            .await
            .iter()
            .any(|e| e["action"] == "directory.updated" && e["details"]["cursor_reset"] == true)
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syncrepl_watch_hears_changes_and_deletions_in_moments() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        scheduler: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let slapd = Slapd::start();
    slapd.add(&format!(
        "{}{}dn: cn=staff,{s}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=alice,ou=people,{s}\n\n",
        person("alice", "Alice Acme", Some("alice@acme.test"), Some("Alice")),
        person("bob", "Bob Builder", Some("bob@acme.test"), Some("Bob")),
        s = Slapd::SUFFIX
    ));
    let dir = directory(&hub, &slapd, json!({"mode": "syncrepl"})).await;
    // The scheduler runs the first full sync at once (a syncrepl refresh that yields a cookie),
    // then keeps a persistent search open.
    let first = eventually(20, || async {
        let all = users(&hub).await;
        (all.len() == 2).then_some(all)
    })
    .await
    .expect("the scheduler syncs a new directory");
    assert_eq!(
        by_email(&first, "alice@acme.test")["groups"],
        json!(["staff"])
    );
    let alice = by_email(&first, "alice@acme.test")["id"].clone();

    slapd.add(&person("dave", "Dave Day", Some("dave@acme.test"), None));
    slapd.modify(&format!(
        "dn: uid=bob,ou=people,{s}\nchangetype: modify\nreplace: cn\ncn: Robert Builder\n\n\
         dn: cn=staff,{s}\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people,{s}\n",
        s = Slapd::SUFFIX
    ));
    let heard = eventually(20, || async {
        let all = users(&hub).await;
        let ok = all.len() == 3
            && by_email(&all, "bob@acme.test")["name"] == "Robert Builder"
            && by_email(&all, "bob@acme.test")["groups"] == json!(["staff"]);
        ok.then_some(all)
    })
    .await;
    assert!(heard.is_some(), "{:#?}", users(&hub).await);

    // A deletion: alice is deprovisioned without anyone asking for a sync.
    let deleted_at = std::time::Instant::now();
    slapd.modify(&format!(
        "dn: uid=alice,ou=people,{}\nchangetype: delete\n",
        Slapd::SUFFIX
    ));
    let gone = eventually(20, || async {
        let all = users(&hub).await;
        (by_email(&all, "alice@acme.test")["status"] == "deprovisioned").then_some(())
    })
    .await;
    assert!(gone.is_some(), "the watch deprovisions a deleted user");
    let took = deleted_at.elapsed();
    let leaver = crate::deprovision::leavers(&hub, "acme")
        .await
        .into_iter()
        .find(|l| l["user_id"] == alice)
        .unwrap();
    assert_eq!(leaver["source"], "ldap");
    assert_eq!(leaver["outcome"], "deprovisioned");
    let runs = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/syncs"),
        )
        .await
        .json;
    let watched: Vec<&Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mode"] == "syncrepl")
        .collect();
    assert!(!watched.is_empty(), "{runs:#}");
    assert!(watched.iter().all(|r| r["triggered_by"] == "watch"));
    assert!(
        watched.iter().any(|r| r["counts"]["deprovisioned"] == 1),
        "{runs:#}"
    );
    assert_eq!(
        runs.as_array().unwrap().last().unwrap()["mode"],
        "full",
        "the first run was the full one"
    );
    eprintln!("syncrepl: deletion applied {took:?} after ldapdelete");
    // A one-shot incremental refresh from the stored cookie finds nothing new.
    let run = sync_mode(&hub, &dir, "incremental").await;
    assert_eq!(run["mode"], "incremental", "{run}");
    assert_eq!(run["counts"]["deprovisioned"], 0, "{run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_going_away_in_the_middle_of_a_read_deprovisions_nobody() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let slapd = Slapd::start();
    let ldif: String = (0..1500)
        .map(|i| {
            person(
                &format!("u{i:04}"),
                &format!("User {i}"),
                Some(&format!("u{i:04}@acme.test")),
                None,
            )
        })
        .collect();
    slapd.add(&ldif);
    let dir = directory(&hub, &slapd, json!({"schedule": {"enabled": false}})).await;
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["created"], 1500, "{run}");

    // The next read: the server is killed (SIGKILL) once the first page arrived.
    let org = hub::storage::organizations::find_by_slug(hub.state.store.conn(), "acme")
        .await
        .unwrap()
        .unwrap();
    let d = hub::storage::directories::get(hub.state.store.conn(), org.id, dir.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let pid = slapd.pid().unwrap();
    let row = hub::directories::sync::run(
        &hub.state,
        &org,
        &d,
        hub::directories::sync::Mode::Full,
        hub::directories::sync::Trigger::Admin,
        move |n| {
            if n > 0 && n < 1500 {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid])
                    .status();
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(row.status, "failed", "{row:?}");
    assert!(row.error.is_some(), "{row:?}");
    assert!(row.progress < 1500, "it failed mid-read: {row:?}");
    let all = users(&hub).await;
    assert_eq!(all.len(), 1500);
    assert!(
        all.iter().all(|u| u["status"] == "active"),
        "a partial read deprovisions nobody"
    );
    assert!(crate::deprovision::leavers(&hub, "acme").await.is_empty());
    hub.stop().await;
}
