//! The `hub` command line: help, configuration checks, migrations, operator keys.

use hub_e2e::{TestDb, hub_command, random_key};
use std::io::Write;

fn env(db: &TestDb) -> Vec<(String, String)> {
    vec![
        ("HUB_DATABASE__URL".into(), db.url.clone()),
        ("HUB_SECRETS__KEY".into(), random_key()),
        ("HUB_LOG__LEVEL".into(), "warn".into()),
    ]
}

#[test]
fn help_lists_every_command() {
    let out = hub_command(&[], &["--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for cmd in [
        "serve",
        "migrate",
        "check-config",
        "operator",
        "audit",
        "keys",
        "sync",
        "probe",
    ] {
        assert!(text.contains(cmd), "{cmd} missing from --help:\n{text}");
    }
}

#[test]
fn check_config_accepts_the_example_and_explains_mistakes() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/example.toml");
    let out = hub_command(&[], &["--config", example, "check-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));

    let mut bad = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        bad,
        "[server]\nlisten = \"nowhere\"\n[databse]\nurl = \"x\""
    )
    .unwrap();
    let out = hub_command(
        &[],
        &["--config", bad.path().to_str().unwrap(), "check-config"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("databse") || err.contains("listen"), "{err}");

    let env = vec![("HUB_DATABASE__URL".to_string(), "mysql://x".to_string())];
    let out = hub_command(&env, &["check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("database.url must start with sqlite://")
    );
}

#[tokio::test]
async fn migrate_then_create_an_operator_key_that_works() {
    let db = TestDb::new().await;
    let env = env(&db);
    let out = hub_command(&env, &["migrate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hub_command(&env, &["migrate"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 migration(s) applied"));

    let out = hub_command(&env, &["operator", "create-key", "--name", "ops-laptop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(key.starts_with("hub_") && key.len() > 40, "{key}");
    // Stored only as a hash, and the creation is audited.
    let verify = hub_command(&env, &["audit", "verify"]).output().unwrap();
    assert!(String::from_utf8_lossy(&verify.stdout).contains("audit log OK: 1 events"));
    let conn = db.connect().await;
    use sea_orm::{ConnectionTrait, Statement};
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT key_hash FROM api_keys",
        ))
        .await
        .unwrap()
        .unwrap();
    let hash: String = row.try_get("", "key_hash").unwrap();
    assert_ne!(hash, key);
    assert_eq!(hash.len(), 64);
    conn.close().await.ok();

    // list, then revoke: the revocation is audited too
    let out = hub_command(&env, &["operator", "list-keys"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        list.contains("ops-laptop") && list.contains("active"),
        "{list}"
    );
    let id = list.split_whitespace().next().unwrap().to_string();
    let out = hub_command(&env, &["operator", "revoke-key", &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hub_command(&env, &["operator", "revoke-key", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = hub_command(&env, &["operator", "list-keys"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));
    // A key names the person who holds it, and can end by itself.
    let out = hub_command(
        &env,
        &[
            "operator",
            "create-key",
            "--name",
            "on-call",
            "--person",
            "not an email",
        ],
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("person"),
        "{out:?}"
    );
    let out = hub_command(
        &env,
        &[
            "operator",
            "create-key",
            "--name",
            "on-call",
            "--person",
            "Jane@Hub.test",
            "--expires-days",
            "30",
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hub_command(&env, &["operator", "list-keys"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        list.contains("on-call <jane@hub.test>") && list.contains("active, expires"),
        "{list}"
    );
    let verify = hub_command(&env, &["audit", "verify"]).output().unwrap();
    assert!(String::from_utf8_lossy(&verify.stdout).contains("audit log OK: 3 events"));
    db.drop_db().await;
}

#[test]
fn create_key_says_which_database_and_never_makes_a_new_one() {
    // A newcomer runs create-key from another directory, without the server's config: the
    // relative default path names no database there, and none is created.
    let elsewhere = tempfile::tempdir().unwrap();
    let env = vec![("HUB_SECRETS__KEY".to_string(), random_key())];
    let out = hub_command(&env, &["operator", "create-key", "--name", "lost"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("there is no database at sqlite://"), "{err}");
    assert!(err.contains("data/hub.db"), "{err}");
    assert!(!elsewhere.path().join("data").exists(), "nothing created");
    assert!(out.stdout.is_empty(), "no key printed");

    // Where the server keeps its database, it works and says where.
    let here = tempfile::tempdir().unwrap();
    let out = hub_command(&env, &["migrate"])
        .current_dir(here.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hub_command(&env, &["operator", "create-key", "--name", "found"])
        .current_dir(here.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let abs = here.path().join("data/hub.db");
    assert!(
        err.contains(&format!("in the database sqlite://{}", abs.display())),
        "{err}"
    );
}

#[test]
fn dev_login_is_announced_loudly() {
    let env = vec![
        ("HUB_SECRETS__KEY".to_string(), random_key()),
        ("HUB_OIDC__DEV_LOGIN".to_string(), "true".to_string()),
    ];
    let out = hub_command(&env, &["check-config"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARNING: oidc.dev_login is on"), "{err}");
}
