//! The hardened provider as a real third-party relying party sees it: npm `openid-client`
//! (tests/peers/rp-hardening.mjs) on a fresh hub.

use hub_e2e::{Options, TestHub, run_node};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_hardening::creds;
use crate::oidc_provider::fixture;

const REDIRECT: &str = "http://127.0.0.1:9/rp/callback";

fn step<'a>(lines: &'a [Value], name: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["step"] == name)
        .unwrap_or_else(|| panic!("no {name} step in {lines:#?}"))
}

// Multi-threaded: the hub serves the node script while the test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_meets_the_hardened_provider() {
    let hub = TestHub::start_with(Options {
        dev_login: true,
        ..Default::default()
    })
    .await;
    let (ok, lines, log) = run_node(
        "rp-hardening.mjs",
        &[("ISSUER", hub.url.clone()), ("STEPS", "keygen".into())],
    )
    .await;
    assert!(ok, "{log}");
    let keys = step(&lines, "keygen");
    let app = |name: &str, extra: Value| {
        let mut a =
            json!({"name": name, "client_type": "confidential", "redirect_uris": [REDIRECT]});
        a.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        a
    };
    let (_, apps) = fixture(
        &hub,
        &[
            app("Conf", json!({})),
            app(
                "Legacy",
                json!({"id_token_signed_response_alg": "RS256",
                    "post_logout_redirect_uris": ["http://127.0.0.1:9/rp/signed-out"]}),
            ),
            app("Service", json!({"allow_client_credentials": true})),
            app(
                "Post",
                json!({"token_endpoint_auth_method": "client_secret_post", "allow_client_credentials": true}),
            ),
            app("SPA", json!({"client_type": "public"})),
            app(
                "Signed",
                json!({"token_endpoint_auth_method": "private_key_jwt", "allow_client_credentials": true,
                    "jwks": {"keys": [keys["public"]]}}),
            ),
        ],
    )
    .await;
    let c: Vec<(String, String)> = apps.iter().map(creds).collect();
    let env = |steps: &str| {
        vec![
            ("ISSUER", hub.url.clone()),
            ("EMAIL", "alice@acme.test".to_string()),
            ("REDIRECT", REDIRECT.to_string()),
            ("STEPS", steps.to_string()),
            ("CONF_ID", c[0].0.clone()),
            ("CONF_SECRET", c[0].1.clone()),
            ("RS_ID", c[1].0.clone()),
            ("RS_SECRET", c[1].1.clone()),
            ("SVC_ID", c[2].0.clone()),
            ("SVC_SECRET", c[2].1.clone()),
            ("POST_ID", c[3].0.clone()),
            ("PUB_ID", c[4].0.clone()),
            ("PKJ_ID", c[5].0.clone()),
            ("PKJ_KEY", keys["private"].to_string()),
        ]
    };
    let (ok, lines, log) = run_node(
        "rp-hardening.mjs",
        &env("fresh_jwks_rs256,discovery,pkce,public_introspection,errors,logout_no_state"),
    )
    .await;
    assert!(ok, "{log}");

    // A fresh hub: the JWKS read before any token already holds the RS256 key that signs.
    let fresh = step(&lines, "fresh_jwks_rs256");
    assert!(
        fresh["algsBefore"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256")),
        "{fresh}"
    );
    assert_eq!(fresh["header"]["alg"], "RS256");
    assert_eq!(fresh["kidPublishedBefore"], true, "{fresh}");

    let d = step(&lines, "discovery");
    for endpoint in ["token", "introspection", "revocation"] {
        assert_eq!(d[endpoint], json!(["ES256", "RS256"]), "{d}");
    }
    assert_eq!(
        d["prompts"],
        json!(["none", "login", "consent", "select_account"])
    );
    assert_eq!(
        (
            d["activeBefore"].as_bool(),
            d["activeAfterRevocation"].as_bool()
        ),
        (Some(true), Some(false))
    );

    let pkce = step(&lines, "pkce");
    assert_eq!(pkce["kind"], "AuthorizationResponseError", "{pkce}");
    assert_eq!(pkce["error"], "invalid_request");

    let public = step(&lines, "public_introspection");
    assert_eq!(public["kind"], "ResponseBodyError", "{public}");
    assert_eq!(
        (public["error"].as_str(), public["status"].as_u64()),
        (Some("invalid_client"), Some(401))
    );
    assert_eq!(public["revokedOwn"], true);

    // Refused credentials are an OAuth error to openid-client, not a bearer challenge; with
    // HTTP Basic the challenge names Basic, as RFC 6749 §5.2 asks.
    let e = step(&lines, "errors");
    for what in ["post", "postIntrospection"] {
        assert_eq!(e[what]["kind"], "ResponseBodyError", "{what}: {e}");
        assert_eq!(e[what]["error"], "invalid_client");
        assert_eq!(e[what]["status"], 401);
    }
    assert_eq!(
        e["basic"]["code"], "OAUTH_WWW_AUTHENTICATE_CHALLENGE",
        "{e}"
    );
    assert_eq!(e["basic"]["schemes"], json!(["basic"]));

    let logout = step(&lines, "logout_no_state");
    assert_eq!(logout["status"], 303);
    assert_eq!(logout["location"], logout["expected"], "{logout}");

    // The organization is suspended: its service client gets no token.
    let r = hub
        .call(
            Method::PATCH,
            "/api/v1/orgs/acme",
            Some(&hub.operator_key),
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (ok, lines, log) = run_node("rp-hardening.mjs", &env("suspended")).await;
    assert!(ok, "{log}");
    let s = step(&lines, "suspended");
    assert_eq!(s["kind"], "ResponseBodyError", "{s}");
    assert_eq!(s["error"], "unauthorized_client");
    hub.stop().await;
}
