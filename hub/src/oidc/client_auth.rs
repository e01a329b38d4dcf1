//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OIDC Core §9): exactly the method the client registered, nothing weaker. Every failure is
//! counted by reason (never by value) and throttled per (client, address) and per address
//! (`throttle`); a locked-out caller is refused before any secret is looked at. A client of a
//! suspended organization authenticates but may do nothing (`unauthorized_client`).

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

use super::error::OAuthError;
use super::request::SourceIp;
use crate::jose::{self, PublicKey};
use crate::orgs::model::{Application, OrgStatus, TokenAuthMethod};
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::storage::{self, StoreError};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Percent-decoding of the `client_id:client_secret` halves (RFC 6749 §2.3.1).
fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

fn basic(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parsed = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((form_decode(id)?, form_decode(secret)?))
        });
    Some(parsed.ok_or(()))
}

/// Why a client failed to authenticate: the metric's `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Malformed,
    Missing,
    UnknownClient,
    WrongMethod,
    WrongSecret,
    BadAssertion,
}

impl Failure {
    fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Missing => "missing",
            Self::UnknownClient => "unknown_client",
            Self::WrongMethod => "wrong_method",
            Self::WrongSecret => "wrong_secret",
            Self::BadAssertion => "bad_assertion",
        }
    }
}

enum Presented {
    Basic(String),
    Post(String),
    Assertion(String),
    None,
}

/// Authenticates the calling client from the headers and form; returns its application.
/// `endpoint` is the path called (`/oauth2/token`, ...): an assertion may name it as audience.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    source: SourceIp,
    endpoint: &str,
) -> Result<Application, OAuthError> {
    let basic = basic(headers);
    let used_basic = basic.is_some();
    let now = state.clock.now_ms();
    // Counts, throttles and answers a failure; `client` is a registered client id.
    let fail = |why: Failure, client: Option<&str>, description: &str| {
        state.metrics.client_auth_failure(why.reason());
        state.throttle.record_failure(client, source.0, now);
        OAuthError::invalid_client(description, used_basic)
    };
    let (client_id, presented) = match basic {
        Some(Ok((id, secret))) => (id, Presented::Basic(secret)),
        Some(Err(())) => {
            return Err(fail(
                Failure::Malformed,
                None,
                "malformed HTTP Basic credentials",
            ));
        }
        None => {
            let id = form.get("client_id").cloned();
            if let Some(assertion) = form.get("client_assertion") {
                if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
                    return Err(fail(
                        Failure::Malformed,
                        None,
                        "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ));
                }
                let Some(iss) = jose_claim(assertion, "iss") else {
                    return Err(fail(
                        Failure::Malformed,
                        None,
                        "unreadable client assertion",
                    ));
                };
                if id.as_ref().is_some_and(|i| *i != iss) {
                    return Err(fail(
                        Failure::Malformed,
                        None,
                        "client_id and the assertion's issuer differ",
                    ));
                }
                (iss, Presented::Assertion(assertion.clone()))
            } else if let Some(secret) = form.get("client_secret") {
                let Some(id) = id else {
                    return Err(fail(Failure::Missing, None, "client_id is missing"));
                };
                (id, Presented::Post(secret.clone()))
            } else {
                let Some(id) = id else {
                    return Err(fail(
                        Failure::Missing,
                        None,
                        "client authentication is missing",
                    ));
                };
                (id, Presented::None)
            }
        }
    };
    let app = if client_id.is_empty() || client_id.len() > 200 {
        None
    } else {
        state.clients.find(&state.store, &client_id).await?
    };
    let registered = app.as_ref().map(|a| a.client_id.as_str());
    if let Err(wait) = state.throttle.check(registered, source.0, now) {
        state.metrics.client_auth_failure("throttled");
        tracing::warn!(client_id = registered.unwrap_or("(unknown)"), ip = ?source.0, "client authentication throttled");
        return Err(OAuthError::throttled(wait));
    }
    let Some(app) = app else {
        return Err(fail(Failure::UnknownClient, None, "unknown client"));
    };
    let checked = match (app.token_endpoint_auth_method, &presented) {
        (TokenAuthMethod::ClientSecretBasic, Presented::Basic(s))
        | (TokenAuthMethod::ClientSecretPost, Presented::Post(s)) => {
            if secret_matches(&app, s) {
                Ok(())
            } else {
                Err((
                    Failure::WrongSecret,
                    "client authentication failed".to_string(),
                ))
            }
        }
        (TokenAuthMethod::PrivateKeyJwt, Presented::Assertion(a)) => {
            check_assertion(state, &app, a, endpoint)
                .await?
                .map_err(|why| {
                    (
                        Failure::BadAssertion,
                        format!("client assertion refused: {why}"),
                    )
                })
        }
        (TokenAuthMethod::None, Presented::None) => Ok(()),
        (m, _) => Err((
            Failure::WrongMethod,
            format!("this client authenticates with {m}"),
        )),
    };
    if let Err((why, description)) = checked {
        tracing::info!(client_id = %app.client_id, reason = why.reason(), %description, "client authentication failed");
        return Err(fail(why, Some(&app.client_id), &description));
    }
    // Authenticated; a suspended organization's clients may still do nothing.
    let org = storage::organizations::get(state.store.conn(), app.org_id).await?;
    if !org.is_some_and(|o| o.status == OrgStatus::Active) {
        tracing::info!(client_id = %app.client_id, "client of a suspended organization refused");
        return Err(OAuthError::new(
            "unauthorized_client",
            "the client's organization is suspended",
        ));
    }
    Ok(app)
}

fn secret_matches(app: &Application, secret: &str) -> bool {
    let Some(stored) = &app.secret_hash else {
        return false;
    };
    crate::secrets::ct_eq(stored.as_bytes(), hash_token(secret).as_bytes())
}

fn jose_claim(token: &str, name: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get(name)?.as_str().map(str::to_string)
}

/// How far ahead an assertion may expire, and the clock skew allowed.
const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;
const SKEW_SECS: i64 = 60;

/// RFC 7523 §3: signed by one of the client's registered keys, `iss` = `sub` = client id, `aud`
/// naming this hub (its issuer, its token endpoint, or the endpoint called), unexpired, not
/// valid for too long, and its `jti` never seen before. `Ok(Err(why))` says why it was refused.
async fn check_assertion(
    state: &AppState,
    app: &Application,
    assertion: &str,
    endpoint: &str,
) -> Result<Result<(), &'static str>, OAuthError> {
    let keys: Vec<PublicKey> = app
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(serde_json::Value::as_array)
        .map(|ks| {
            ks.iter()
                .filter_map(|k| PublicKey::from_jwk(k).ok())
                .collect()
        })
        .unwrap_or_default();
    let kid = jose::peek_header(assertion)
        .ok()
        .and_then(|h| {
            h.get("kid")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| k.kid == kid || (kid.is_empty() && keys.len() == 1))
        .cloned();
    let Some(key) = key else {
        return Ok(Err(
            "signed by a key the client has not registered (unknown kid)",
        ));
    };
    let Ok(v) = jose::verify(assertion, |_| Some(key.clone())) else {
        return Ok(Err(
            "bad signature (or an algorithm the key does not allow)",
        ));
    };
    let c = &v.claims;
    let issuer = &state.config.server.public_url;
    let audiences = [
        issuer.clone(),
        format!("{issuer}/oauth2/token"),
        format!("{issuer}{endpoint}"),
    ];
    let aud_ok = match &c["aud"] {
        serde_json::Value::String(a) => audiences.contains(a),
        serde_json::Value::Array(list) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    let now = state.clock.now_ms() / 1000;
    let exp = c["exp"].as_i64();
    let jti = c["jti"].as_str().unwrap_or_default();
    let why =
        if c["iss"].as_str() != Some(&app.client_id) || c["sub"].as_str() != Some(&app.client_id) {
            Some("iss and sub must both be the client_id")
        } else if !aud_ok {
            Some("wrong audience: aud must be the hub's issuer or the endpoint called")
        } else if exp.is_none_or(|e| e + SKEW_SECS < now) {
            Some("expired (or no exp)")
        } else if exp.is_some_and(|e| e > now + MAX_ASSERTION_LIFETIME_SECS) {
            Some("expiry too far in the future: at most 10 minutes ahead")
        } else if c["nbf"].as_i64().is_some_and(|nbf| nbf > now + SKEW_SECS) {
            Some("not valid yet (nbf)")
        } else if jti.is_empty() || jti.len() > 200 {
            Some("jti is missing or too long")
        } else {
            None
        };
    if let Some(why) = why {
        return Ok(Err(why));
    }
    let expires = exp.unwrap_or(now).saturating_add(SKEW_SECS) * 1000;
    match storage::oidc::record_assertion(state.store.conn(), jti, &app.client_id, expires).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::Conflict(_)) => Ok(Err("replayed: this jti was already used")),
        Err(e) => Err(e.into()),
    }
}
