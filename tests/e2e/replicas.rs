//! Two `hub serve` replicas on one PostgreSQL, as the deploy files run them: a person signs in
//! on one and is deprovisioned on the other, and their tokens are refused on both at once; the
//! replica running the deliveries is killed (SIGKILL) and the other finishes them, each arriving
//! once after deduplication; the replica running a sync is killed and the other completes it,
//! nobody lost or doubled; one unbroken audit chain.

use hub_e2e::{
    HubProcess, NodePeer, Slapd, TestDb, eventually, free_port, hub_command, pkce, query_param,
    random_key, wait_ready,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::ldap::person;

struct Replica {
    process: HubProcess,
    url: String,
}

async fn replica(env: &[(String, String)], dir: &std::path::Path, port: u16) -> Replica {
    let mut env = env.to_vec();
    env.push(("HUB_SERVER__LISTEN".into(), format!("127.0.0.1:{port}")));
    let process = HubProcess::spawn(&env, dir);
    let url = process.url();
    wait_ready(&format!("{url}/readyz"), 30).await.unwrap();
    Replica { process, url }
}

fn client() -> reqwest::Client {
    hub_e2e::http_client()
}

async fn post(url: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let r = client()
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str, key: &str) -> Value {
    let r = client().get(url).bearer_auth(key).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    r.json().await.unwrap()
}

/// The development sign-in at `base` for `email`, then the code exchange: the token response.
async fn sign_in(base: &str, cid: &str, secret: &str, redirect: &str, email: &str) -> Value {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (verifier, challenge) = pkce();
    let r = browser
        .get(format!("{base}/oauth2/authorize"))
        .query(&[
            ("client_id", cid),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid email offline_access"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = r.headers()["location"].to_str().unwrap().to_string();
    let request = query_param(&format!("{base}{login}"), "request").unwrap();
    let r = browser
        .post(format!("{base}/login"))
        .form(&[("request", request.as_str()), ("email", email)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    let code = query_param(&back, "code").unwrap();
    let r = client()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(cid, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn refresh_refused(base: &str, cid: &str, secret: &str, refresh: &str) -> bool {
    let r = client()
        .post(format!("{base}/oauth2/token"))
        .basic_auth(cid, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    r.status() == StatusCode::BAD_REQUEST
}

async fn active(base: &str, cid: &str, secret: &str, token: &str) -> bool {
    let r = client()
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(cid, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["active"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_logins_deprovisioning_deliveries_and_syncs() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{p1}");
    let env: Vec<(String, String)> = [
        ("HUB_DATABASE__URL", db.url.as_str()),
        ("HUB_SECRETS__KEY", &random_key()),
        ("HUB_SERVER__PUBLIC_URL", &public),
        ("HUB_OIDC__DEV_LOGIN", "true"),
        ("HUB_OUTBOUND__ALLOW_LOOPBACK", "true"),
        ("HUB_OUTBOX__BACKOFF_BASE_MS", "200"),
        ("HUB_OUTBOX__BACKOFF_MAX_SECS", "1"),
        ("HUB_OUTBOX__MAX_ATTEMPTS", "100"),
        ("HUB_OUTBOX__TIMEOUT_SECS", "2"),
        ("HUB_OUTBOX__CLAIM_SECS", "3"),
        ("HUB_OUTBOX__POLL_MS", "200"),
        ("HUB_JOBS__LEASE_SECS", "3"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = hub_command(&env, &["operator", "create-key", "--name", "replicas"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let one = replica(&env, dir.path(), p1).await;
    let two = replica(&env, dir.path(), p2).await;
    let (u1, u2) = (one.url.clone(), two.url.clone());

    post(
        &format!("{u1}/api/v1/orgs"),
        &key,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    post(
        &format!("{u2}/api/v1/orgs/acme/domains"),
        &key,
        json!({"domain": "acme.test"}),
    )
    .await;
    let (s, _) = post(
        &format!("{u1}/api/v1/orgs/acme/domains/acme.test/attest"),
        &key,
        json!({"reason": "test"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let port = free_port();
    let redirect = "https://extranet.example/cb";
    let (s, app) = post(
        &format!("{u2}/api/v1/orgs/acme/applications"),
        &key,
        json!({"name": "Extranet", "client_type": "confidential", "redirect_uris": [redirect],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/bcl/extranet"),
            "webhook": {"url": format!("http://127.0.0.1:{port}/hook/extranet")}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let cid = app["application"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = app["client_secret"].as_str().unwrap().to_string();
    let hook_secret = app["application"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let mut people = Vec::new();
    for i in 0..20 {
        let (s, u) = post(
            &format!("{u1}/api/v1/orgs/acme/users"),
            &key,
            json!({"email": format!("p{i:02}@acme.test"), "name": format!("Person {i}")}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        people.push(u["id"].as_str().unwrap().to_string());
    }
    let receiver = NodePeer::start(
        "downstream.mjs",
        &[
            ("PORT", port.to_string()),
            ("ISSUER", public.clone()),
            ("AUDIENCES", cid.clone()),
            ("SECRETS", json!({"extranet": hook_secret}).to_string()),
            ("SLOW_MS", "300".into()),
        ],
    );

    // p00 signs in on replica one and is deprovisioned on replica two.
    let t = sign_in(&u1, &cid, &secret, redirect, "p00@acme.test").await;
    let (refresh, access) = (
        t["refresh_token"].as_str().unwrap(),
        t["access_token"].as_str().unwrap(),
    );
    assert!(
        active(&u2, &cid, &secret, access).await,
        "both replicas know the token"
    );
    let started = std::time::Instant::now();
    let (s, r) = post(
        &format!("{u2}/api/v1/orgs/acme/users/{}/deprovision", people[0]),
        &key,
        json!({"reason": "left"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    for base in [&u1, &u2] {
        assert!(!active(base, &cid, &secret, access).await, "{base}");
        assert!(
            refresh_refused(base, &cid, &secret, refresh).await,
            "{base}"
        );
    }
    let refused_after = started.elapsed();
    assert!(
        refused_after < std::time::Duration::from_secs(1),
        "refused on both replicas {refused_after:?} after the request"
    );

    // The rest leave at once on replica two; it is killed while their webhooks are in flight.
    for p in &people[1..] {
        let (s, r) = post(
            &format!("{u2}/api/v1/orgs/acme/users/{p}/deprovision"),
            &key,
            json!({"reason": "left"}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    let mut lines = tokio::task::block_in_place(|| receiver.take(4, 30));
    drop(two.process);
    let mut webhooks = BTreeSet::new();
    let mut logouts = BTreeSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        for l in lines.drain(..) {
            assert_eq!(l["valid"], true, "{l}");
            let key = l["key"].as_str().unwrap().to_string();
            if l["kind"] == "hook" {
                webhooks.insert(key);
            } else {
                logouts.insert(key);
            }
        }
        if webhooks.len() >= 20 && !logouts.is_empty() || std::time::Instant::now() > deadline {
            break;
        }
        lines = tokio::task::block_in_place(|| receiver.take(1, 5));
    }
    assert_eq!(
        webhooks.len(),
        20,
        "every leaver's webhook arrives, replica two gone"
    );
    assert_eq!(logouts.len(), 1, "p00's one session at the extranet");
    for l in tokio::task::block_in_place(|| receiver.take(10, 2)) {
        assert_eq!(l["dup"], true, "only duplicates after that: {l}");
    }
    let done = eventually(30, || async {
        let d = get(
            &format!("{u1}/api/v1/orgs/acme/deliveries?status=delivered&limit=100"),
            &key,
        )
        .await;
        (d.as_array().unwrap().len() == 21).then_some(())
    })
    .await;
    assert!(done.is_some(), "replica one records each delivery once");

    // A sync on replica one, killed midway; replica two (restarted) completes it.
    let slapd = Slapd::start();
    let ldif: String = (0..4000)
        .map(|i| {
            person(
                &format!("l{i:04}"),
                &format!("Ldap {i}"),
                Some(&format!("l{i:04}@acme.test")),
                None,
            )
        })
        .collect();
    slapd.add(&ldif);
    let two = replica(&env, dir.path(), p2).await;
    let u2 = two.url.clone();
    let (s, d) = post(
        &format!("{u1}/api/v1/orgs/acme/directories"),
        &key,
        json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": "syncpw",
            "ldap": {"url": slapd.url, "bind_dn": format!("cn=hub-sync,{}", Slapd::SUFFIX),
                     "base_dn": Slapd::SUFFIX, "schedule": {"enabled": false}}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let sync = format!(
        "/api/v1/orgs/acme/directories/{}/sync",
        d["id"].as_str().unwrap()
    );
    let background = {
        let (url, key) = (format!("{u1}{sync}"), key.clone());
        tokio::spawn(async move {
            let _ = client().post(url).bearer_auth(key).send().await;
        })
    };
    let count = |base: String| {
        let key = key.clone();
        async move {
            get(&format!("{base}/api/v1/orgs/acme/users"), &key)
                .await
                .as_array()
                .unwrap()
                .iter()
                .filter(|u| u["email"].as_str().is_some_and(|e| e.starts_with('l')))
                .count()
        }
    };
    let partial = eventually(60, || async {
        let n = count(u2.clone()).await;
        (n > 0).then_some(n)
    })
    .await
    .expect("the sync writes");
    drop(one.process);
    background.abort();
    assert!(partial < 4000, "killed midway ({partial} written)");
    let run = eventually(30, || async {
        let (s, r) = post(&format!("{u2}{sync}"), &key, json!(null)).await;
        (s == StatusCode::OK).then_some(r)
    })
    .await
    .expect("replica two runs the sync once replica one's lease expired");
    assert_eq!(run["status"], "succeeded", "{run}");
    let all = get(&format!("{u2}/api/v1/orgs/acme/users"), &key).await;
    let emails: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .filter(|e| e.starts_with('l'))
        .collect();
    let unique: BTreeSet<&&str> = emails.iter().collect();
    assert_eq!((emails.len(), unique.len()), (4000, 4000));
    drop(two.process);
    let out = hub_command(&env, &["audit", "verify"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    db.drop_db().await;
}

/// The OIDC signing keys in the database: `(purpose, created_at, not_before)`.
async fn oidc_keys(db: &sea_orm::DatabaseConnection) -> Vec<(String, i64, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT purpose, created_at, not_before FROM signing_keys \
         WHERE purpose LIKE 'oidc-%' ORDER BY purpose",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.try_get("", "purpose").unwrap(),
            r.try_get("", "created_at").unwrap(),
            r.try_get("", "not_before").unwrap(),
        )
    })
    .collect()
}

/// Verifies `token` with the keys of the JWKS document `jwks`; its claims.
fn verify_with(jwks: &Value, token: &str) -> Value {
    let keys: Vec<hub::jose::PublicKey> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| hub::jose::PublicKey::from_jwk(k).unwrap())
        .collect();
    hub::jose::verify(token, |kid| keys.iter().find(|k| k.kid == kid).cloned())
        .unwrap()
        .claims
}

/// Two replicas starting together on an empty database, each loading its keys while the other
/// creates them: one key per advertised algorithm, created at once (a fresh hub has no JWKS
/// cached anywhere), the same JWKS on both, and a token signed by either verifies with the
/// other's JWKS. No replica may ever see some of a fresh hub's keys without the others, or it
/// would take the hub for one in use and publish the missing key with the publish delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_on_an_empty_database_make_each_signing_key_once() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let (p1, p2) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{p1}");
    let env: Vec<(String, String)> = [
        ("HUB_DATABASE__URL", db.url.as_str()),
        ("HUB_SECRETS__KEY", &random_key()),
        ("HUB_SERVER__PUBLIC_URL", &public),
        ("HUB_OIDC__DEV_LOGIN", "true"),
        // A key published with the delay would refuse grants for an hour.
        ("HUB_OIDC__KEY_PUBLISH_SECS", "3600"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (one, two) = tokio::join!(replica(&env, dir.path(), p1), replica(&env, dir.path(), p2));
    let (u1, u2) = (one.url.clone(), two.url.clone());
    let watch = sea_orm::Database::connect(&db.url).await.unwrap();
    assert!(
        oidc_keys(&watch).await.is_empty(),
        "no key before first use"
    );

    // What other replicas can see while the keys are made: none of them or all of them.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let keys = oidc_keys(&watch).await;
                seen.insert(keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>());
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            seen
        })
    };
    // First key loads on both replicas at once, several requests each.
    let jwks_of = |base: String| async move {
        let r = client()
            .get(format!("{base}/oauth2/jwks"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{base}");
        r.json::<Value>().await.unwrap()
    };
    let loads = (0..8).map(|i| jwks_of(if i % 2 == 0 { u1.clone() } else { u2.clone() }));
    let first = futures_util::future::join_all(loads).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = watcher.await.unwrap();
    let all = vec!["oidc-es256".to_string(), "oidc-rs256".to_string()];
    assert!(
        seen.iter().all(|s| s.is_empty() || *s == all),
        "a replica could see some keys of a fresh hub without the others: {seen:?}"
    );
    let keys = oidc_keys(&sea_orm::Database::connect(&db.url).await.unwrap()).await;
    assert_eq!(
        keys.iter().map(|k| k.0.clone()).collect::<Vec<_>>(),
        all,
        "one key per algorithm"
    );
    for (purpose, created_at, not_before) in &keys {
        assert!(
            not_before <= created_at,
            "the first {purpose} key signs at once, not after the publish delay"
        );
    }
    let (j1, j2) = (jwks_of(u1.clone()).await, jwks_of(u2.clone()).await);
    assert_eq!(j1, j2, "both replicas publish the same keys");
    assert!(first.iter().all(|j| *j == j1), "{first:?}");
    let mut kinds: Vec<&str> = j1["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["EC", "RSA"]);

    // Tokens of each algorithm, from each replica, verify with the other's JWKS.
    let out = hub_command(&env, &["operator", "create-key", "--name", "keys"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let created = get(
        &format!("{u2}/api/v1/audit?action=signing_key.created&limit=100"),
        &key,
    )
    .await;
    let mut audited: Vec<&str> = created["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["details"]["purpose"].as_str())
        .filter(|p| p.starts_with("oidc-"))
        .collect();
    audited.sort_unstable();
    assert_eq!(audited, all, "each key created (and audited) once");
    let (s, _) = post(
        &format!("{u1}/api/v1/orgs"),
        &key,
        json!({"slug": "acme", "name": "Acme"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    post(
        &format!("{u2}/api/v1/orgs/acme/domains"),
        &key,
        json!({"domain": "acme.test"}),
    )
    .await;
    let (s, _) = post(
        &format!("{u1}/api/v1/orgs/acme/domains/acme.test/attest"),
        &key,
        json!({"reason": "test"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post(
        &format!("{u2}/api/v1/orgs/acme/users"),
        &key,
        json!({"email": "alice@acme.test", "name": "Alice"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let redirect = "https://rs.example/cb";
    let (s, app) = post(
        &format!("{u1}/api/v1/orgs/acme/applications"),
        &key,
        json!({"name": "RS", "client_type": "confidential", "redirect_uris": [redirect],
            "id_token_signed_response_alg": "RS256"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let cid = app["application"]["client_id"].as_str().unwrap();
    let secret = app["client_secret"].as_str().unwrap();
    for (signer, other) in [(&u1, &j2), (&u2, &j1)] {
        let t = sign_in(signer, cid, secret, redirect, "alice@acme.test").await;
        let id = t["id_token"].as_str().unwrap();
        assert_eq!(hub::jose::peek_header(id).unwrap()["alg"], "RS256");
        assert_eq!(verify_with(other, id)["aud"], cid);
        let at = t["access_token"].as_str().unwrap();
        assert_eq!(hub::jose::peek_header(at).unwrap()["alg"], "ES256");
        assert_eq!(verify_with(other, at)["client_id"], cid);
    }
    drop((one, two));
    db.drop_db().await;
}
