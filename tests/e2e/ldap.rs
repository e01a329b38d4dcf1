//! LDAP directory sync against a real OpenLDAP slapd: a full sync, a change, a rename and move
//! (the same hub user), a unicode name, an entry missing an attribute, a deletion, a mass
//! deletion held for an admin to confirm, and the server going away (nobody deprovisioned).

use hub_e2e::{Options, Slapd, TestHub};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{audit_actions, org_with_domain};

pub(crate) fn person(uid: &str, cn: &str, mail: Option<&str>, given: Option<&str>) -> String {
    let mut s = format!(
        "dn: uid={uid},ou=people,{suffix}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {sn}\n",
        suffix = Slapd::SUFFIX,
        sn = cn.split(' ').next_back().unwrap_or(cn),
    );
    if let Some(m) = mail {
        s.push_str(&format!("mail: {m}\n"));
    }
    if let Some(g) = given {
        s.push_str(&format!("givenName: {g}\n"));
    }
    s.push('\n');
    s
}

pub(crate) async fn users(hub: &TestHub) -> Vec<Value> {
    let r = hub.get(&hub.operator_key, "/api/v1/orgs/acme/users").await;
    assert_eq!(r.status, StatusCode::OK);
    r.json.as_array().unwrap().clone()
}

pub(crate) fn by_email<'a>(users: &'a [Value], email: &str) -> &'a Value {
    users
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {users:#?}"))
}

pub(crate) async fn sync(hub: &TestHub, dir: &str) -> Value {
    sync_mode(hub, dir, "full").await
}

/// Runs a sync of `dir` in `mode` (full or incremental) through the admin API.
pub(crate) async fn sync_mode(hub: &TestHub, dir: &str, mode: &str) -> Value {
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/sync?mode={mode}"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json
}

#[tokio::test(flavor = "multi_thread")]
async fn ldap_sync_follows_the_directory_and_never_deprovisions_on_a_bad_read() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let slapd = Slapd::start();
    slapd.add(&format!(
        "{}{}{}{}{}",
        person(
            "alice",
            "Alice Acme",
            Some("alice@acme.test"),
            Some("Alice")
        ),
        person("bob", "Bob Builder", Some("Bob@Acme.test"), Some("Bob")),
        person("zoe", "Zoë Ünïcödé", Some("zoe@acme.test"), Some("Zoë")),
        person("carol", "Carol Nomail", None, Some("Carol")),
        person("dave", "Dave Nogiven", Some("dave@acme.test"), None),
    ));
    // Groups, one nested in the other.
    slapd.add(&format!(
        "dn: cn=engineering,{s}\nobjectClass: groupOfNames\ncn: engineering\nmember: uid=alice,ou=people,{s}\n\n\
         dn: cn=staff,{s}\nobjectClass: groupOfNames\ncn: staff\nmember: cn=engineering,{s}\nmember: uid=zoe,ou=people,{s}\n",
        s = Slapd::SUFFIX
    ));
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": "syncpw",
                "ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
                         "base_dn": Slapd::SUFFIX}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.json["has_bind_password"], true);
    assert!(
        !r.json.to_string().contains("syncpw"),
        "the password is never shown"
    );
    let dir = r.json["id"].as_str().unwrap().to_string();

    // The first full sync.
    let run = sync(&hub, &dir).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["read"], 5, "{run}");
    assert_eq!(run["counts"]["created"], 4, "{run}");
    assert_eq!(run["counts"]["skipped"], 1, "carol has no email: {run}");
    assert_eq!(run["counts"]["groups_created"], 2, "{run}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "zoe@acme.test")["name"], "Zoë Ünïcödé");
    assert_eq!(by_email(&all, "bob@acme.test")["username"], "bob");
    assert_eq!(by_email(&all, "dave@acme.test")["given_name"], Value::Null);
    assert_eq!(
        by_email(&all, "alice@acme.test")["groups"],
        json!(["engineering", "staff"]),
        "nested groups count"
    );
    assert_eq!(by_email(&all, "zoe@acme.test")["groups"], json!(["staff"]));
    let bob_id = by_email(&all, "bob@acme.test")["id"].clone();

    // A change, and a rename plus move: bob keeps his hub identity. Through the CLI this time.
    slapd.modify(&format!(
        "dn: uid=alice,ou=people,{s}\nchangetype: modify\nreplace: cn\ncn: Alice Anderson\n\n\
         dn: uid=bob,ou=people,{s}\nchangetype: modrdn\nnewrdn: uid=robert\ndeleteoldrdn: 1\nnewsuperior: ou=former,{s}\n",
        s = Slapd::SUFFIX
    ));
    let out = hub.cli(&["sync", "acme"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("succeeded"), "{stdout}");
    assert!(
        stderr.contains("entries read"),
        "progress is shown: {stderr}"
    );
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "alice@acme.test")["name"], "Alice Anderson");
    let bob = by_email(&all, "bob@acme.test");
    assert_eq!(bob["id"], bob_id, "a rename and move keep the same user");
    assert_eq!(bob["username"], "robert");
    assert_eq!(bob["status"], "active");

    // A deletion deprovisions; a membership removed in the directory leaves the claim.
    slapd.modify(&format!(
        "dn: uid=dave,ou=people,{s}\nchangetype: delete\n\n\
         dn: cn=engineering,{s}\nchangetype: modify\nreplace: member\nmember: uid=zoe,ou=people,{s}\n",
        s = Slapd::SUFFIX
    ));
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["deprovisioned"], 1, "{run}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "alice@acme.test")["groups"], json!([]));
    assert_eq!(
        by_email(&all, "zoe@acme.test")["groups"],
        json!(["engineering", "staff"])
    );
    assert_eq!(
        by_email(&users(&hub).await, "dave@acme.test")["status"],
        "deprovisioned"
    );

    // A mass deletion is held for an admin, who confirms it.
    let mut ldif = String::new();
    for i in 0..8 {
        ldif.push_str(&person(
            &format!("temp{i}"),
            &format!("Temp {i}"),
            Some(&format!("temp{i}@acme.test")),
            None,
        ));
    }
    slapd.add(&ldif);
    assert_eq!(sync(&hub, &dir).await["counts"]["created"], 8);
    let mut gone = String::new();
    for i in 0..8 {
        gone.push_str(&format!(
            "dn: uid=temp{i},ou=people,{}\nchangetype: delete\n\n",
            Slapd::SUFFIX
        ));
    }
    slapd.modify(&gone);
    let run = sync(&hub, &dir).await;
    assert_eq!(run["status"], "held", "{run}");
    assert_eq!(run["counts"]["held"], 8, "{run}");
    assert_eq!(run["held_users"].as_array().unwrap().len(), 8);
    assert_eq!(
        by_email(&users(&hub).await, "temp0@acme.test")["status"],
        "active",
        "nobody is deprovisioned until an admin confirms"
    );
    assert!(
        audit_actions(&hub, "acme")
            .await
            .iter()
            .any(|e| e["action"] == "directory.sync_held")
    );
    let sync_id = run["id"].as_str().unwrap();
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/syncs/{sync_id}/confirm"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["counts"]["deprovisioned"], 8);
    assert_eq!(
        by_email(&users(&hub).await, "temp7@acme.test")["status"],
        "deprovisioned"
    );

    // The server goes away: the run fails, says why, and deprovisions nobody.
    slapd.stop();
    let before = users(&hub).await;
    let run = sync(&hub, &dir).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("could not open an LDAP session"),
        "{run}"
    );
    assert_eq!(before, users(&hub).await, "nobody changed");
    let history = hub
        .get(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/syncs"),
        )
        .await;
    let statuses: Vec<&str> = history
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "failed",
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded",
            "succeeded"
        ],
        "newest first; the held run became succeeded when confirmed"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn active_directory_sync_on_samba_follows_disables_renames_moves_and_deletes() {
    use hub_e2e::SambaAd;
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let ad = SambaAd::start();
    for (user, given, sn) in [
        ("alice", "Alice", "Acme"),
        ("bob", "Bob", "Builder"),
        ("zoe", "Zoë", "Ünïcödé"),
    ] {
        ad.tool(&[
            "user",
            "add",
            user,
            "Passw0rd!1",
            &format!("--mail-address={user}@acme.test"),
            &format!("--given-name={given}"),
            &format!("--surname={sn}"),
        ]);
    }
    ad.tool(&["user", "disable", "bob"]);
    ad.tool(&["ou", "add", &format!("OU=Former,{}", SambaAd::BASE)]);
    ad.tool(&["group", "add", "Finance"]);
    ad.tool(&["group", "add", "Back Office"]);
    ad.tool(&["group", "addmembers", "Finance", "zoe"]);
    ad.tool(&["group", "addmembers", "Back Office", "Finance"]);
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme AD", "kind": "ldap", "bind_password": SambaAd::PASSWORD,
                "ldap": {"url": "ldap://127.0.0.1:389", "start_tls": true, "tls_insecure": true,
                         "bind_dn": SambaAd::ADMIN, "base_dn": SambaAd::BASE,
                         "active_directory": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dir = r.json["id"].as_str().unwrap().to_string();

    let run = sync(&hub, &dir).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"], 3, "{run}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "alice@acme.test")["username"], "alice");
    assert_eq!(by_email(&all, "alice@acme.test")["status"], "active");
    assert_eq!(
        by_email(&all, "bob@acme.test")["status"],
        "suspended",
        "disabled in AD"
    );
    assert_eq!(by_email(&all, "zoe@acme.test")["family_name"], "Ünïcödé");
    let zoe = by_email(&all, "zoe@acme.test")["id"].clone();
    assert_eq!(
        by_email(&all, "zoe@acme.test")["groups"],
        json!(["Back Office", "Finance"]),
        "nested AD groups count; built-in groups are not mirrored"
    );

    // Enable bob, disable alice, rename zoe's account and move her to another OU: an
    // incremental read (uSNChanged above the DC's highestCommittedUSN at the last read) sees it.
    ad.tool(&["user", "enable", "bob"]);
    ad.tool(&["user", "disable", "alice"]);
    ad.tool(&["user", "rename", "zoe", "--samaccountname=zoe.u"]);
    ad.tool(&[
        "user",
        "move",
        "zoe.u",
        &format!("OU=Former,{}", SambaAd::BASE),
    ]);
    let run = sync_mode(&hub, &dir, "incremental").await;
    assert_eq!(run["mode"], "incremental", "{run}");
    assert_eq!(run["counts"]["read"], 3, "only the changed entries: {run}");
    assert_eq!(run["counts"]["reactivated"], 1, "{run}");
    assert_eq!(run["counts"]["suspended"], 1, "{run}");
    let all = users(&hub).await;
    assert_eq!(by_email(&all, "bob@acme.test")["status"], "active");
    assert_eq!(by_email(&all, "alice@acme.test")["status"], "suspended");
    let z = by_email(&all, "zoe@acme.test");
    assert_eq!(
        z["id"], zoe,
        "objectGUID keeps the user through a rename and a move"
    );
    assert_eq!(z["username"], "zoe.u");

    // A deletion deprovisions, at the next full sync (an incremental read cannot see it).
    ad.tool(&["user", "delete", "bob"]);
    let run = sync_mode(&hub, &dir, "incremental").await;
    assert_eq!(run["counts"]["deprovisioned"], 0, "{run}");
    let run = sync(&hub, &dir).await;
    assert_eq!(run["counts"]["deprovisioned"], 1, "{run}");
    assert_eq!(
        by_email(&users(&hub).await, "bob@acme.test")["status"],
        "deprovisioned"
    );
    drop(ad);
    hub.stop().await;
}
