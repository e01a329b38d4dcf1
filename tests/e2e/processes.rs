//! The hub as real processes: zero-setup start on SQLite, and two replicas on one PostgreSQL
//! database serving the same data. Processes are stopped by PID.

use hub_e2e::{HubProcess, TestDb, hub_command, random_key, wait_ready};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn serve_starts_with_no_setup_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let hub = HubProcess::spawn(&[], dir.path());
    let url = hub.url();
    wait_ready(&format!("{url}/readyz"), 30).await.unwrap();
    assert!(dir.path().join("data/hub.db").is_file());
    assert!(dir.path().join("data/hub.key").is_file());
    // SQLite in WAL mode
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}",
        dir.path().join("data/hub.db").display()
    ))
    .await
    .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get("", "journal_mode").unwrap();
    assert_eq!(mode, "wal");
    db.close().await.ok();
    // Readable by the hub's user only: the database (sealed secrets, token hashes, everyone's
    // identities), its WAL and shared memory, the key file, and the directory the hub made.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for file in [
        "data/hub.db",
        "data/hub.db-wal",
        "data/hub.db-shm",
        "data/hub.key",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    assert_eq!(mode("data"), 0o700);
    drop(hub);
}

#[tokio::test]
async fn an_existing_database_readable_by_others_is_narrowed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let db = dir.path().join("data/hub.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let hub = HubProcess::spawn(&[], dir.path());
    let url = hub.url();
    wait_ready(&format!("{url}/readyz"), 30).await.unwrap();
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(hub);
}

#[tokio::test]
async fn two_processes_on_one_postgres_serve_the_same_data() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let key = random_key();
    let base = vec![
        ("HUB_DATABASE__URL".to_string(), db.url.clone()),
        ("HUB_SECRETS__KEY".to_string(), key),
        ("HUB_LOG__LEVEL".to_string(), "warn".to_string()),
    ];
    // Started together: the migration runs once under an advisory lock.
    let h1 = HubProcess::spawn(&base, dir.path());
    let h2 = HubProcess::spawn(&base, dir.path());
    let (u1, u2) = (h1.url(), h2.url());
    wait_ready(&format!("{u1}/readyz"), 30).await.unwrap();
    wait_ready(&format!("{u2}/readyz"), 30).await.unwrap();

    let out = hub_command(&base, &["operator", "create-key", "--name", "replica-test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let op = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let client = hub_e2e::http_client();
    let post = |url: String, body: Value| client.post(url).bearer_auth(&op).json(&body).send();
    let r = post(
        format!("{u1}/api/v1/orgs"),
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{u2}/api/v1/orgs/acme"))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Acme");

    let r = post(
        format!("{u2}/api/v1/orgs/acme/domains"),
        json!({"domain": "acme.example"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .get(format!("{u1}/api/v1/orgs/acme/domains"))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()[0]["domain"],
        "acme.example"
    );

    // Concurrent writes through both replicas keep one unbroken audit chain.
    let mut writes = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 { &u1 } else { &u2 };
        writes.push(post(
            format!("{url}/api/v1/orgs"),
            json!({"slug": format!("org-{i}"), "name": format!("Org {i}")}),
        ));
    }
    for r in futures_util::future::join_all(writes).await {
        assert_eq!(r.unwrap().status(), StatusCode::CREATED);
    }
    drop((h1, h2));
    let out = hub_command(&base, &["audit", "verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The 24 events of the writes and keys, and the operator's two reads of acme's data.
    assert!(text.contains("audit log OK: 26 events"), "{text}");
    db.drop_db().await;
}
