//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OIDC Core §9): exactly the method the client registered, nothing weaker.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

use super::error::OAuthError;
use crate::jose::{self, PublicKey};
use crate::orgs::model::{Application, TokenAuthMethod};
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
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
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

/// Authenticates the calling client from the headers and form; returns its application.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Application, OAuthError> {
    let basic = basic(headers);
    let used_basic = basic.is_some();
    let fail = |d: &str| OAuthError::invalid_client(d, used_basic);
    let (client_id, presented) = match basic {
        Some(Ok((id, secret))) => (id, Presented::Basic(secret)),
        Some(Err(())) => return Err(fail("malformed HTTP Basic credentials")),
        None => {
            let id = form.get("client_id").cloned();
            if let Some(assertion) = form.get("client_assertion") {
                if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
                    return Err(fail("client_assertion_type must be jwt-bearer"));
                }
                let iss = jose_claim(assertion, "iss")
                    .ok_or_else(|| fail("unreadable client assertion"))?;
                if id.as_ref().is_some_and(|i| *i != iss) {
                    return Err(fail("client_id and the assertion's issuer differ"));
                }
                (iss, Presented::Assertion(assertion.clone()))
            } else if let Some(secret) = form.get("client_secret") {
                (
                    id.ok_or_else(|| fail("client_id is missing"))?,
                    Presented::Post(secret.clone()),
                )
            } else {
                (
                    id.ok_or_else(|| fail("client authentication is missing"))?,
                    Presented::None,
                )
            }
        }
    };
    if client_id.is_empty() || client_id.len() > 200 {
        return Err(fail("unknown client"));
    }
    let app = state
        .clients
        .find(&state.store, &client_id)
        .await?
        .ok_or_else(|| fail("unknown client"))?;
    let ok = match (app.token_endpoint_auth_method, &presented) {
        (TokenAuthMethod::ClientSecretBasic, Presented::Basic(s))
        | (TokenAuthMethod::ClientSecretPost, Presented::Post(s)) => secret_matches(&app, s),
        (TokenAuthMethod::PrivateKeyJwt, Presented::Assertion(a)) => {
            check_assertion(state, &app, a).await?
        }
        (TokenAuthMethod::None, Presented::None) => true,
        _ => false,
    };
    if !ok {
        tracing::info!(client_id = %app.client_id, "client authentication failed");
        return Err(fail("client authentication failed"));
    }
    Ok(app)
}

enum Presented {
    Basic(String),
    Post(String),
    Assertion(String),
    None,
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

/// RFC 7523 §3: signed by one of the client's registered keys, `iss` = `sub` = client id, `aud`
/// naming this hub's token endpoint or issuer, unexpired, and its `jti` never seen before.
async fn check_assertion(
    state: &AppState,
    app: &Application,
    assertion: &str,
) -> Result<bool, OAuthError> {
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
    let verified = jose::verify(assertion, |kid| {
        keys.iter()
            .find(|k| k.kid == kid || (kid.is_empty() && keys.len() == 1))
            .cloned()
    });
    let Ok(v) = verified else {
        return Ok(false);
    };
    let c = &v.claims;
    let issuer = &state.config.server.public_url;
    let token_endpoint = format!("{issuer}/oauth2/token");
    let aud_ok = match &c["aud"] {
        serde_json::Value::String(a) => *a == token_endpoint || a == issuer,
        serde_json::Value::Array(list) => list
            .iter()
            .any(|a| a.as_str() == Some(&token_endpoint) || a.as_str() == Some(issuer)),
        _ => false,
    };
    let now = state.clock.now_ms() / 1000;
    let exp = c["exp"].as_i64().unwrap_or(0);
    let jti = c["jti"].as_str().unwrap_or_default();
    if c["iss"].as_str() != Some(&app.client_id)
        || c["sub"].as_str() != Some(&app.client_id)
        || !aud_ok
        || exp < now
        || exp > now + 600
        || jti.is_empty()
        || jti.len() > 200
    {
        return Ok(false);
    }
    match storage::oidc::record_assertion(state.store.conn(), jti, &app.client_id, exp * 1000).await
    {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => {
            tracing::warn!(client_id = %app.client_id, "replayed client assertion refused");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}
