//! The outbound address policy, from the attacker's side: an IdP's discovery document, an LDAP
//! URL or a name resolving inside cannot make the hub connect to an internal address (traps on
//! loopback count every connection), and errors do not tell an open port from a closed one.

use hub_e2e::{Browser, Dnsmasq, NodePeer, Options, TestHub, Trap, free_udp_port, pkce};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{add_app, add_user, connect, org_with_domain, set_mode};

fn rogue() -> (NodePeer, String, u16) {
    let rogue = NodePeer::start(
        "rogue-op.mjs",
        &[
            ("CLIENT_ID", "hub-acme".to_string()),
            ("EMAIL", "alice@acme.test".to_string()),
        ],
    );
    let idp = rogue.ready["issuer"].as_str().unwrap().to_string();
    let port = url::Url::parse(&idp).unwrap().port().unwrap();
    (rogue, idp, port)
}

async fn test_connection(hub: &TestHub, id: &str) -> Value {
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/connections/{id}/test"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.json
}

fn discovery_detail(report: &Value) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "discovery")
        .unwrap_or_else(|| panic!("{report}"))["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Follows a sign-in from the application's authorization request for up to ten hops, by
/// hand; returns the last status.
async fn sign_in_hops(hub: &TestHub, client_id: &str, redirect: &str) -> StatusCode {
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let (mut status, mut loc, _) = browser
        .authorize(
            hub,
            &[
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid email"),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    for _ in 0..10 {
        let Some(next) = loc.take().filter(|_| status.is_redirection()) else {
            break;
        };
        if next.starts_with(redirect) {
            // Back at the application: with an error, never a code.
            assert!(next.contains("error="), "{next}");
            assert!(!next.contains("code="), "{next}");
            return StatusCode::BAD_GATEWAY;
        }
        let url = if next.starts_with('/') {
            format!("{}{next}", hub.url)
        } else {
            next
        };
        let r = browser.client.get(&url).send().await.unwrap();
        status = r.status();
        loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
    }
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discovery_document_cannot_point_the_hub_at_internal_addresses() {
    let (rogue_idp, idp, port) = rogue();
    // Fresh IdPs for the sign-ins, whose documents the hub has not read before.
    let fresh = [rogue(), rogue()];
    let mut allow = vec![format!("127.0.0.1:{port}")];
    allow.extend(fresh.iter().map(|(_, _, p)| format!("127.0.0.1:{p}")));
    let hub = TestHub::start_with(Options {
        // Only the IdPs themselves are allowed among internal addresses.
        outbound_allow: allow,
        ..Default::default()
    })
    .await;
    let trap4 = Trap::start("127.0.0.1", b"").await;
    let trap6 = Trap::start("::1", b"").await;
    let (t4, t6) = (trap4.addr.port(), trap6.addr.port());
    org_with_domain(&hub, "acme", "acme.test").await;
    add_user(&hub, "acme", "alice@acme.test").await;
    let conn = connect(&hub, "acme", "Acme OIDC", &idp, true).await;
    let redirect = "https://extranet.acme.test/cb";
    let (cid, _) = add_app(&hub, "acme", redirect).await;

    // The untouched document passes, so the checks below can fail.
    let report = test_connection(&hub, &conn).await;
    assert_eq!(report["ok"], true, "{report}");

    for meta in [
        json!({"jwks_uri": format!("http://127.0.0.1:{t4}/jwks")}),
        json!({"jwks_uri": format!("http://[::1]:{t6}/jwks")}),
        json!({"jwks_uri": format!("https://[::ffff:127.0.0.1]:{t4}/jwks")}),
        json!({"jwks_uri": format!("https://[::127.0.0.1]:{t4}/jwks")}),
        json!({"jwks_uri": format!("http://localhost.:{t4}/jwks")}),
        json!({"jwks_uri": format!("https://2130706433:{t4}/jwks")}),
        json!({"jwks_uri": "https://169.254.169.254/latest/meta-data"}),
        json!({"jwks_uri": "https://10.0.0.5/jwks"}),
        json!({"jwks_uri": "https://[64:ff9b::a9fe:a9fe]/jwks"}),
        json!({"token_endpoint": format!("http://127.0.0.1:{t4}/token")}),
        json!({"token_endpoint": "http://169.254.169.254/token"}),
        json!({"userinfo_endpoint": format!("http://[::1]:{t6}/userinfo")}),
        // Plain http to a public name: never, a client secret would cross the network in clear.
        json!({"token_endpoint": "http://idp.example.com/token"}),
    ] {
        set_mode(&idp, json!({"meta": meta})).await;
        let report = test_connection(&hub, &conn).await;
        assert_eq!(report["ok"], false, "{meta}: {report}");
        let detail = discovery_detail(&report);
        assert!(
            detail.contains("not an address the hub may connect to") || detail.contains("http"),
            "{meta}: {detail}"
        );
    }
    assert_eq!(trap4.count(), 0, "the hub connected to 127.0.0.1");
    assert_eq!(trap6.count(), 0, "the hub connected to [::1]");

    // At sign-in: a document naming an internal token endpoint never gets the code or the
    // client secret; the person gets an error, never a code.
    for ((_, other_idp, _), token_endpoint) in fresh.iter().zip([
        format!("http://127.0.0.1:{t4}/token"),
        "http://169.254.169.254/token".to_string(),
    ]) {
        set_mode(
            other_idp,
            json!({"meta": {"token_endpoint": token_endpoint}}),
        )
        .await;
        let r = hub
            .call(
                reqwest::Method::PATCH,
                &format!("/api/v1/orgs/acme/connections/{conn}"),
                Some(&hub.operator_key),
                Some(
                    &json!({"oidc": {"issuer": other_idp, "client_id": "hub-acme"},
                             "client_secret": "again"}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        let status = sign_in_hops(&hub, &cid, redirect).await;
        assert!(
            status.is_client_error() || status.is_server_error(),
            "{token_endpoint}: {status}"
        );
    }
    assert_eq!(trap4.count(), 0, "the code and secret went to 127.0.0.1");
    let r = hub
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/orgs/acme/connections/{conn}"),
            Some(&hub.operator_key),
            Some(&json!({"oidc": {"issuer": idp, "client_id": "hub-acme"},
                         "client_secret": "again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // Back to a clean document: sign-in works again.
    set_mode(&idp, json!({})).await;
    let report = test_connection(&hub, &conn).await;
    assert_eq!(report["ok"], true, "{report}");
    drop((rogue_idp, fresh));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ldap_urls_and_names_that_lead_inside_are_refused_before_a_bind() {
    let trap4 = Trap::start("127.0.0.1", b"").await;
    let trap6 = Trap::start("::1", b"").await;
    let (t4, t6) = (trap4.addr.port(), trap6.addr.port());
    let dns_port = free_udp_port();
    let _dns = Dnsmasq::start_with_hosts(dns_port, &[], &[("ldap.inside.acme.test", "127.0.0.1")])
        .await
        .unwrap();
    let hub = TestHub::start_with(Options {
        dns_port: Some(dns_port),
        scheduler: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let create = |url: String| {
        json!({"name": format!("dir {url}"), "kind": "ldap", "bind_password": "pw",
               "ldap": {"url": url, "bind_dn": "cn=hub,dc=acme,dc=test", "base_dn": "dc=acme,dc=test"}})
    };
    for url in [
        format!("ldap://localhost:{t4}"),
        format!("ldap://localhost.:{t4}"),
        format!("ldap://[::1]:{t6}"),
        format!("ldap://2130706433:{t4}"),
        format!("ldap://127.1:{t4}"),
        format!("ldap://0x7f.0.0.1:{t4}"),
        format!("ldap://017700000001:{t4}"),
        format!("ldap://[::ffff:127.0.0.1]:{t4}"),
        "ldap://[::ffff:169.254.169.254]".to_string(),
        "ldaps://[fd00::5]".to_string(),
        "ldaps://10.0.0.5".to_string(),
    ] {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/directories",
                create(url.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {r:?}");
        assert!(r.json.to_string().contains("ldap.url"), "{url}: {r:?}");
    }
    let r = hub
        .get(&hub.operator_key, "/api/v1/orgs/acme/directories")
        .await;
    assert_eq!(r.json.as_array().map(Vec::len), Some(0), "{r:?}");

    // A name is saved as it is, but resolves inside: every sync, on demand and scheduled,
    // refuses it before connecting.
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/acme/directories",
            create(format!("ldap://ldap.inside.acme.test:{t4}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dir = r.json["id"].as_str().unwrap().to_string();
    // The scheduler runs it first (a new directory's full sync is due at once).
    let scheduled = hub_e2e::eventually(20, || async {
        let r = hub
            .get(
                &hub.operator_key,
                &format!("/api/v1/orgs/acme/directories/{dir}/syncs"),
            )
            .await;
        r.json.as_array().and_then(|runs| {
            runs.iter()
                .find(|run| run["triggered_by"] == "schedule" && run["status"] != "running")
                .cloned()
        })
    })
    .await
    .expect("a scheduled run");
    assert_eq!(scheduled["status"], "failed", "{scheduled}");
    assert!(
        scheduled["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not an address the hub may connect to"),
        "{scheduled}"
    );
    // And on demand.
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/acme/directories/{dir}/sync?mode=full"),
            json!(null),
        )
        .await;
    assert_eq!(r.json["status"], "failed", "{r:?}");
    assert!(
        r.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not an address the hub may connect to"),
        "{r:?}"
    );
    assert_eq!(trap4.count(), 0, "the hub connected to 127.0.0.1");
    assert_eq!(trap6.count(), 0, "the hub connected to [::1]");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_do_not_tell_an_open_port_from_a_closed_one() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let silent = Trap::start("127.0.0.1", b"").await;
    let chatty = Trap::start("127.0.0.1", b"SSH-2.0-OpenSSH_9.2\r\n").await;
    let http = Trap::start(
        "127.0.0.1",
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let ports = [
        closed,
        silent.addr.port(),
        chatty.addr.port(),
        http.addr.port(),
    ];

    // LDAP: a sync's error is the same sentence whatever listens.
    let mut ldap_errors = Vec::new();
    for port in ports {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/directories",
                json!({"name": format!("dir {port}"), "kind": "ldap", "bind_password": "pw",
                       "ldap": {"url": format!("ldap://127.0.0.1:{port}"),
                                "bind_dn": "cn=hub,dc=acme,dc=test", "base_dn": "dc=acme,dc=test"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let dir = r.json["id"].as_str().unwrap();
        let r = hub
            .post(
                &hub.operator_key,
                &format!("/api/v1/orgs/acme/directories/{dir}/sync?mode=full"),
                json!(null),
            )
            .await;
        assert_eq!(r.json["status"], "failed", "{r:?}");
        let error = r.json["error"]
            .as_str()
            .unwrap()
            .replace(&port.to_string(), "PORT");
        ldap_errors.push(error);
    }
    assert!(
        ldap_errors.windows(2).all(|w| w[0] == w[1]),
        "{ldap_errors:#?}"
    );

    // OIDC: "test connection" says the same of every port that is not an IdP.
    let mut oidc_errors = Vec::new();
    for port in ports {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/acme/connections",
                json!({"name": format!("idp {port}"), "kind": "oidc", "client_secret": "s",
                       "oidc": {"issuer": format!("http://127.0.0.1:{port}"), "client_id": "hub"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r.json["id"].as_str().unwrap();
        let report = test_connection(&hub, id).await;
        let detail = discovery_detail(&report).replace(&port.to_string(), "PORT");
        oidc_errors.push(detail);
    }
    assert!(
        oidc_errors[..3].windows(2).all(|w| w[0] == w[1]),
        "{oidc_errors:#?}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_secret_never_follows_a_changed_destination() {
    let hub = TestHub::start_with(Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "acme", "acme.test").await;
    let op = hub.operator_key.clone();
    let patch = |path: String, body: Value| {
        let hub = &hub;
        let op = op.clone();
        async move {
            hub.call(reqwest::Method::PATCH, &path, Some(&op), Some(&body))
                .await
        }
    };
    let honest = Trap::start("127.0.0.1", b"").await;
    let attacker = Trap::start("127.0.0.1", b"").await;

    // LDAP: the bind password stays with the server it was given for.
    let password = "bind-secret-6c1f";
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/directories",
            json!({"name": "Acme LDAP", "kind": "ldap", "bind_password": password,
                   "ldap": {"url": format!("ldap://127.0.0.1:{}", honest.addr.port()),
                            "start_tls": true,
                            "bind_dn": "cn=hub,dc=acme,dc=test", "base_dn": "dc=acme,dc=test"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let dir = r.json["id"].as_str().unwrap().to_string();
    let moved = |url: String, start_tls: bool, tls_insecure: bool| {
        json!({"ldap": {"url": url, "start_tls": start_tls, "tls_insecure": tls_insecure,
                        "bind_dn": "cn=hub,dc=acme,dc=test", "base_dn": "dc=acme,dc=test"}})
    };
    let evil = format!("ldap://127.0.0.1:{}", attacker.addr.port());
    let same = format!("ldap://127.0.0.1:{}", honest.addr.port());
    for body in [
        moved(evil.clone(), true, false),
        moved(same.clone(), false, false),
        moved(same.clone(), true, true),
    ] {
        let r = patch(format!("/api/v1/orgs/acme/directories/{dir}"), body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert!(r.json.to_string().contains("bind_password"), "{r:?}");
    }
    assert_eq!(attacker.count(), 0);
    assert!(!attacker.saw(password));
    // Given again, the move is accepted (and the new server gets the new password only).
    let mut body = moved(evil.clone(), true, false);
    body["bind_password"] = json!("a-new-password");
    let r = patch(format!("/api/v1/orgs/acme/directories/{dir}"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");

    // OIDC: the client secret stays with its issuer.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/connections",
            json!({"name": "Acme IdP", "kind": "oidc", "client_secret": "client-secret-91ab",
                   "oidc": {"issuer": "https://idp.acme.test", "client_id": "hub"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let conn = r.json["id"].as_str().unwrap().to_string();
    let r = patch(
        format!("/api/v1/orgs/acme/connections/{conn}"),
        json!({"oidc": {"issuer": format!("http://127.0.0.1:{}", attacker.addr.port()),
                        "client_id": "hub"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(r.json.to_string().contains("client_secret"), "{r:?}");
    let r = patch(
        format!("/api/v1/orgs/acme/connections/{conn}"),
        json!({"oidc": {"issuer": "https://idp.acme.test", "client_id": "hub-2"}}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "same issuer, no secret needed: {r:?}"
    );

    // Outbound SCIM: the bearer token stays with its URL; a webhook's new URL gets a new
    // signing secret.
    let r = hub
        .post(
            &op,
            "/api/v1/orgs/acme/applications",
            json!({"name": "Extranet", "client_type": "confidential",
                   "redirect_uris": ["https://extranet.acme.test/cb"],
                   "scim_target": {"url": format!("http://127.0.0.1:{}/scim/v2", honest.addr.port()),
                                   "token": "scim-token-77de"},
                   "webhook": {"url": format!("http://127.0.0.1:{}/hook", honest.addr.port())}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let app = r.json["application"]["id"].as_str().unwrap().to_string();
    let first_secret = r.json["application"]["webhook_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = patch(
        format!("/api/v1/orgs/acme/applications/{app}"),
        json!({"scim_target": {"url": format!("http://127.0.0.1:{}/scim/v2", attacker.addr.port())}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert!(r.json.to_string().contains("scim_target.token"), "{r:?}");
    let r = patch(
        format!("/api/v1/orgs/acme/applications/{app}"),
        json!({"webhook": {"url": format!("http://127.0.0.1:{}/hook", attacker.addr.port())}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let second_secret = r.json["webhook_secret"]
        .as_str()
        .expect("a new signing secret for the new URL")
        .to_string();
    assert_ne!(first_secret, second_secret);
    assert_eq!(attacker.count(), 0);
    hub.stop().await;
}
