//! The hub's browser cookies: HttpOnly, SameSite=Lax (sent on the top-level redirects of a
//! sign-in, not on cross-site POSTs), Secure whenever the hub is served over https.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::state::AppState;

/// The hub session (its value is stored only as a hash).
pub const SESSION_COOKIE: &str = "hub_session";
/// Binds a pending authorization request to the browser that started it.
pub const AUTH_REQUEST_COOKIE: &str = "hub_authreq";

pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// Sets the hub session cookie for `token`, good for the session's lifetime.
pub fn set_session(response: &mut Response, state: &AppState, token: &str) {
    let ttl = state.config.oidc.session_ttl_secs;
    set(response, state, SESSION_COOKIE, token, Some(ttl));
}

/// Clears the cookie `name`.
pub fn clear(response: &mut Response, state: &AppState, name: &str) {
    set(response, state, name, "", Some(0));
}

/// Sets (or, with `max_age` 0, clears) a cookie on `response`.
pub fn set(
    response: &mut Response,
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<u64>,
) {
    let secure = if state.config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
