//! SAML federation against a real SAML IdP (PyPI `pysaml2`, which signs with xmlsec1): a signed
//! AuthnRequest the IdP verifies, a signed response the hub verifies; and the attacks: signature
//! wrapping, a tampered assertion, an unsigned or SHA-1 response, another organization's IdP, an
//! assertion for another audience, a replay, another browser, an unsolicited response. All
//! refused, nothing linked, each audited; the same IdP behaving well then signs the person in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hub_e2e::{Browser, SamlIdp, TestHub, form_value, pkce, query_param};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::federation::{add_app, add_user, audit_actions, org_with_domain, refusal_reasons};

/// Connects `slug` to the IdP by its metadata URL and registers the hub's SP metadata there;
/// returns the connection's view.
pub(crate) async fn connect_saml(
    hub: &TestHub,
    slug: &str,
    name: &str,
    idps: &[&SamlIdp],
    extra: Value,
) -> Value {
    let mut saml = json!({"metadata_url": idps[0].metadata_url()});
    if let Some(o) = extra.get("saml") {
        for (k, v) in o.as_object().unwrap() {
            saml[k] = v.clone();
        }
    }
    let mut body = json!({"name": name, "kind": "saml", "saml": saml});
    for (k, v) in extra.as_object().unwrap() {
        if k != "saml" {
            body[k] = v.clone();
        }
    }
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/{slug}/connections"),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.json["has_client_secret"], false);
    hub.approve_connection(slug, r.json["id"].as_str().unwrap())
        .await;
    let sp_md_url = r.json["saml"]["sp_entity_id"].as_str().unwrap();
    let md = reqwest::get(sp_md_url).await.unwrap();
    assert_eq!(md.status(), StatusCode::OK);
    assert_eq!(md.headers()["content-type"], "application/samlmetadata+xml");
    let md = md.text().await.unwrap();
    assert!(md.contains("AuthnRequestsSigned=\"true\""), "{md}");
    for idp in idps {
        idp.register_sp(&md).await;
    }
    r.json
}

/// What the IdP posts back: the ACS address, the SAMLResponse and the RelayState.
struct Posted {
    acs: String,
    response: String,
    relay_state: String,
}

/// Starts a sign-in at the hub for an application of the organization, follows the hub's
/// signed AuthnRequest to `idp` (or, for the attack, to another IdP) and signs in there.
async fn sign_in_at_idp(
    hub: &TestHub,
    browser: &Browser,
    client_id: &str,
    redirect: &str,
    idp: &SamlIdp,
    user: &str,
    password: &str,
) -> Posted {
    let (_, challenge) = pkce();
    let (status, loc, body) = browser
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
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let r = browser
        .client
        .get(format!("{}{}", hub.url, loc.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
    let to_idp = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let mut form: Vec<(String, String)> = to_idp
        .query_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for k in ["SAMLRequest", "RelayState", "SigAlg", "Signature"] {
        assert!(form.iter().any(|(n, _)| n == k), "{k} missing: {to_idp}");
    }
    // The IdP checks the AuthnRequest's signature against the hub's SP metadata.
    let page = browser
        .client
        .get(format!(
            "{}/sso/redirect?{}",
            idp.base,
            to_idp.query().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let status = page.status();
    let text = page.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    form.push(("login".into(), user.into()));
    form.push(("password".into(), password.into()));
    let r = browser
        .client
        .post(format!("{}/login", idp.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    Posted {
        acs: hub_e2e::form_action(&html).unwrap(),
        response: form_value(&html, "SAMLResponse").unwrap(),
        relay_state: form_value(&html, "RelayState").unwrap_or_default(),
    }
}

/// Posts a response to the hub's ACS; returns the status, the page and the Location.
async fn post_acs(browser: &Browser, p: &Posted) -> (StatusCode, String, Option<String>) {
    let r = browser
        .client
        .post(&p.acs)
        .form(&[
            ("SAMLResponse", p.response.as_str()),
            ("RelayState", p.relay_state.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), r.text().await.unwrap(), loc)
}

fn decode(b64: &str) -> String {
    String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
}

fn encode(xml: &str) -> String {
    STANDARD.encode(xml)
}

/// The first `<prefix:Assertion ...>...</prefix:Assertion>` of a response.
fn assertion(xml: &str) -> String {
    let start = xml.find(":Assertion ").expect("an assertion");
    let open = xml[..start].rfind('<').unwrap();
    let prefix = xml[open + 1..start].to_string();
    let close = format!("</{prefix}:Assertion>");
    let end = xml.find(&close).unwrap() + close.len();
    xml[open..end].to_string()
}

/// Removes every XML signature from a response.
fn strip_signatures(xml: &str) -> String {
    strip_elements(xml, "Signature")
}

/// Removes every `<prefix:NAME ...>...</prefix:NAME>` element.
fn strip_elements(xml: &str, name: &str) -> String {
    let mut out = xml.to_string();
    while let Some(at) = out
        .find(&format!(":{name} "))
        .or_else(|| out.find(&format!(":{name}>")))
    {
        let open = out[..at].rfind('<').unwrap();
        let prefix = &out[open + 1..at];
        let close = format!("</{prefix}:{name}>");
        let end = out[open..].find(&close).unwrap() + open + close.len();
        out.replace_range(open..end, "");
    }
    out
}

const ALICE_ATTRS: &str = r#"{"uid": ["alice"], "mail": ["alice@globex.test"],
    "givenName": ["Alice"], "sn": ["Globex"], "displayName": ["Alice Globex"],
    "isMemberOf": ["engineering"]}"#;

pub(crate) fn users(email_domain: &str) -> Value {
    json!({
        "alice": {"pw": "alice-pw", "attrs": serde_json::from_str::<Value>(
            &ALICE_ATTRS.replace("globex.test", email_domain)).unwrap()},
        "mallory": {"pw": "mallory-pw", "attrs": {"uid": ["mallory"],
            "mail": ["mallory@acme.test"], "displayName": ["Mallory"]}},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn saml_attacks_are_refused_unlinked_and_audited_and_a_good_response_signs_in() {
    let hub = TestHub::start_with(hub_e2e::Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "globex", "globex.test").await;
    org_with_domain(&hub, "initech", "initech.test").await;
    let alice_id = add_user(&hub, "globex", "alice@globex.test").await;
    let idp = SamlIdp::start(users("globex.test"));
    // Initech's own IdP, with its own key, also knows Globex's SP (as any IdP could).
    let other_idp = SamlIdp::start(users("initech.test"));
    let conn = connect_saml(
        &hub,
        "globex",
        "Globex SAML",
        &[&idp, &other_idp],
        json!({}),
    )
    .await;
    let initech = connect_saml(
        &hub,
        "initech",
        "Initech SAML",
        &[&other_idp],
        json!({"jit_provisioning": true, "saml": {"allow_unsolicited": true}}),
    )
    .await;
    let conn_id = conn["id"].as_str().unwrap();
    assert_eq!(
        conn["saml"]["idp_entity_id"],
        json!(idp.metadata_url()),
        "{conn}"
    );

    // "Test connection" reads the real metadata again.
    let r = hub
        .post(
            &hub.operator_key,
            &format!("/api/v1/orgs/globex/connections/{conn_id}/test"),
            json!(null),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json["ok"], true, "{}", r.json);

    let redirect = "https://extranet.globex.test/cb";
    let (cid, _) = add_app(&hub, "globex", redirect).await;
    let mut expected = Vec::new();
    let refused = |status: StatusCode, page: &str| {
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(
            page.contains("globex Inc."),
            "the page names the company: {page}"
        );
        assert!(
            !page.contains("Signature"),
            "no technical detail in the page: {page}"
        );
    };

    // A good response, to tamper with (and to post, untouched, at the end).
    let b0 = Browser::new();
    let good = sign_in_at_idp(&hub, &b0, &cid, redirect, &idp, "alice", "alice-pw").await;
    let xml = decode(&good.response);
    assert!(xml.contains("alice@globex.test"), "{xml}");
    let signed = assertion(&xml);

    // XSW: an evil unsigned assertion beside the signed one.
    let evil = signed
        .replace("alice@globex.test", "mallory@globex.test")
        .replacen(" ID=\"", " ID=\"evil", 1);
    let evil_unsigned = strip_signatures(&evil);
    let wrapped_1 = xml.replace(&signed, &format!("{evil_unsigned}{signed}"));
    // XSW: the signed assertion hidden in Extensions, the evil one where the SP looks.
    let at = xml.find(":Response ").unwrap();
    let proto = xml[xml[..at].rfind('<').unwrap() + 1..at].to_string();
    let wrapped_2 = xml.replace(
        &signed,
        &format!("<{proto}:Extensions>{signed}</{proto}:Extensions>{evil_unsigned}"),
    );
    // The signed assertion edited in place (the signature no longer matches).
    let tampered = xml.replace("alice@globex.test", "mallory@globex.test");
    // No signature at all.
    let unsigned = strip_signatures(&xml);
    assert!(!unsigned.contains("SignatureValue"));
    for (doc, why) in [
        (wrapped_1, "signature wrapping"),
        (wrapped_2, "signature wrapping"),
        (tampered, "does not verify"),
        (unsigned, "not signed"),
    ] {
        let b = Browser::new();
        let p = sign_in_at_idp(&hub, &b, &cid, redirect, &idp, "alice", "alice-pw").await;
        let forged = Posted {
            response: encode(&doc),
            ..p
        };
        let (status, page, _) = post_acs(&b, &forged).await;
        refused(status, &page);
        expected.push(why);
    }

    // SHA-1 signatures.
    idp.mode(json!({"sign_alg": "sha1"})).await;
    let b = Browser::new();
    let p = sign_in_at_idp(&hub, &b, &cid, redirect, &idp, "alice", "alice-pw").await;
    assert!(decode(&p.response).contains("rsa-sha1"));
    let (status, page, _) = post_acs(&b, &p).await;
    refused(status, &page);
    expected.push("SHA-1");
    // An assertion for another audience.
    idp.mode(json!({"sign_alg": "sha256", "audience": "http://127.0.0.1:9/other-sp"}))
        .await;
    let b = Browser::new();
    let p = sign_in_at_idp(&hub, &b, &cid, redirect, &idp, "alice", "alice-pw").await;
    let (status, page, _) = post_acs(&b, &p).await;
    refused(status, &page);
    expected.push("audience");
    idp.mode(json!({"audience": null})).await;

    // Signed by another organization's IdP (Initech's), answering Globex's own request.
    other_idp
        .mode(json!({"extra_sso": [format!("{}/sso/redirect", idp.base)]}))
        .await;
    let b = Browser::new();
    let p = sign_in_at_idp(&hub, &b, &cid, redirect, &other_idp, "alice", "alice-pw").await;
    let (status, page, _) = post_acs(&b, &p).await;
    refused(status, &page);
    expected.push("does not verify");

    // Posted in another browser than the one that started the sign-in.
    let p = sign_in_at_idp(
        &hub,
        &Browser::new(),
        &cid,
        redirect,
        &idp,
        "alice",
        "alice-pw",
    )
    .await;
    let (status, page, _) = post_acs(&Browser::new(), &p).await;
    refused(status, &page);
    expected.push("other than the one that started");

    // Unsolicited (IdP-initiated): off for this connection.
    let p = idp_initiated(&idp, &conn).await;
    let (status, page, _) = post_acs(&Browser::new(), &p).await;
    refused(status, &page);
    expected.push("unsolicited");

    let events = audit_actions(&hub, "globex").await;
    assert!(
        !events
            .iter()
            .any(|e| e["action"] == "identity.linked" || e["action"] == "session.started"),
        "nothing was linked or signed in: {events:?}"
    );
    // Forged and replayed posts are anonymous: counted in the window summaries, never one
    // event each.
    let reasons = refusal_reasons(&hub, "globex", expected.len()).await;
    assert_eq!(reasons.len(), expected.len(), "{reasons:#?}");
    for why in &expected {
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "no refusal mentions {why:?}: {reasons:#?}"
        );
    }

    // The untouched response from the start signs alice in (linked by her verified email)...
    let (status, page, loc) = post_acs(&b0, &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let loc = loc.unwrap();
    assert!(
        loc.starts_with(redirect) && query_param(&loc, "code").is_some(),
        "{loc}"
    );
    let events = audit_actions(&hub, "globex").await;
    let linked = events
        .iter()
        .find(|e| e["action"] == "identity.linked")
        .expect("linked");
    assert_eq!(linked["target"], format!("user:{alice_id}"));
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "session.started" && e["details"]["method"] == "saml")
    );
    // ...and the same response posted again is refused: its state is spent.
    let (status, page, _) = post_acs(&b0, &good).await;
    refused(status, &page);

    // Where a connection accepts unsolicited responses, the assertion ID still cannot be
    // replayed.
    let p = idp_initiated(&other_idp, &initech).await;
    let (status, page, _) = post_acs(&Browser::new(), &p).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("You are signed in"), "{page}");
    let (status, page, _) = post_acs(&Browser::new(), &p).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    let events = audit_actions(&hub, "initech").await;
    assert!(events.iter().any(|e| {
        e["action"] == "login.refused"
            && e["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("replayed assertion")
    }));
    assert!(events.iter().any(|e| e["action"] == "user.created"));
    let metrics = reqwest::get(format!("{}/metrics", hub.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"hub_upstream_logins_total{kind="saml",outcome="signed_in"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"hub_upstream_logins_total{kind="saml",outcome="refused"}"#),
        "{metrics}"
    );
    hub.stop().await;
}

/// An unsolicited (IdP-initiated) response for alice, for the connection `conn`.
async fn idp_initiated(idp: &SamlIdp, conn: &Value) -> Posted {
    let html = reqwest::get(format!(
        "{}/idp-init?user=alice&sp={}",
        idp.base,
        urlencode(conn["saml"]["sp_entity_id"].as_str().unwrap())
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    Posted {
        acs: hub_e2e::form_action(&html).unwrap(),
        response: form_value(&html, "SAMLResponse").unwrap(),
        relay_state: String::new(),
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_saml_settings_and_posts_get_clear_errors_and_change_nothing() {
    let hub = TestHub::start_with(hub_e2e::Options {
        allow_loopback: true,
        ..Default::default()
    })
    .await;
    org_with_domain(&hub, "globex", "globex.test").await;
    let idp = SamlIdp::start(users("globex.test"));
    let md = reqwest::get(idp.metadata_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let unsigned_md = strip_elements(&md, "KeyDescriptor");
    assert!(!unsigned_md.contains("X509Certificate"), "{unsigned_md}");
    let before = hub.snapshot().await;
    for (body, field) in [
        (
            json!({"metadata_xml": unsigned_md}),
            "no signing certificate",
        ),
        (
            json!({"metadata_xml": format!("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{md}")}),
            "DTD",
        ),
        (json!({"metadata_xml": "<x/>"}), "EntityDescriptor"),
        (
            json!({"metadata_xml": md, "metadata_url": idp.metadata_url()}),
            "exactly one",
        ),
        (json!({}), "exactly one"),
        (
            json!({"metadata_url": "https://10.0.0.1/md"}),
            "metadata_url",
        ),
        (
            json!({"metadata_url": format!("{}/nothing", idp.base)}),
            "404",
        ),
        (
            json!({"metadata_xml": md, "attributes": {"email": ""}}),
            "attributes.email",
        ),
        (
            json!({"metadata_xml": md, "name_id_format": "transient"}),
            "name_id_format",
        ),
        (json!({"metadata_xml": md, "signing": true}), "signing"),
    ] {
        let r = hub
            .post(
                &hub.operator_key,
                "/api/v1/orgs/globex/connections",
                json!({"name": "x", "kind": "saml", "saml": body}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert_eq!(r.content_type, "application/problem+json");
        assert!(r.json.to_string().contains(field), "{field}: {}", r.json);
    }
    let r = hub
        .post(
            &hub.operator_key,
            "/api/v1/orgs/globex/connections",
            json!({"name": "x", "kind": "saml", "client_secret": "s",
                   "saml": {"metadata_xml": md}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    assert_eq!(before, hub.snapshot().await);

    // Posts the SAML endpoints cannot use: a plain page, no panic, nothing signed in.
    let conn = connect_saml(&hub, "globex", "Globex SAML", &[&idp], json!({})).await;
    let acs = conn["saml"]["acs_url"].as_str().unwrap().to_string();
    let c = reqwest::Client::new();
    for (url, form, status) in [
        (
            format!("{}/saml/not-a-connection/acs", hub.url),
            vec![("SAMLResponse", "x")],
            404,
        ),
        (
            format!("{}/saml/01a208a6-2f8f-71ae-9313-b1e1a1305e84/acs", hub.url),
            vec![("SAMLResponse", "x")],
            404,
        ),
        (acs.clone(), vec![], 403),
        (acs.clone(), vec![("SAMLResponse", "%%%not base64")], 403),
        (acs.clone(), vec![("SAMLResponse", "PHg+")], 403),
        (
            acs.clone(),
            vec![("SAMLResponse", "PHg+"), ("RelayState", "forged")],
            403,
        ),
    ] {
        let r = c.post(&url).form(&form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{url} {form:?}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let r = c
        .get(format!("{}/saml/not-a-connection/metadata", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let refused = refusal_reasons(&hub, "globex", 4).await;
    assert_eq!(
        refused.len(),
        4,
        "each refused post is counted: {refused:#?}"
    );
    let events = audit_actions(&hub, "globex").await;
    assert!(!events.iter().any(|e| e["action"] == "session.started"));
    hub.stop().await;
}
