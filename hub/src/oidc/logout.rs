//! Ending access: RP-initiated logout (OIDC RP-Initiated Logout 1.0), ending every session and
//! token of a person (the deprovisioning engine builds on it), and the back-channel logout token
//! (OIDC Back-Channel Logout 1.0) the outbox POSTs to each application a session reached.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::authorize::with_params;
use super::cookies::{self, SESSION_COOKIE};
use super::pages;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ids::{AppId, OrgId, UserId};
use crate::jose;
use crate::orgs::model::Application;
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::storage::{self, StoreError, Tx};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Who must be told that a session ended.
#[derive(Debug, Clone)]
pub struct LogoutNotice {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub session_id: String,
    pub apps: Vec<AppId>,
}

/// Ends one session and revokes its tokens inside `tx`; returns whom to notify.
pub async fn end_session(
    tx: &Tx,
    now: i64,
    org: OrgId,
    user: UserId,
    session_id: &str,
    reason: &str,
) -> Result<Option<LogoutNotice>, StoreError> {
    if !storage::oidc::end_session(tx.conn(), org, session_id, now, reason).await? {
        return Ok(None);
    }
    storage::oidc::revoke_session_tokens(tx.conn(), org, session_id, now).await?;
    let apps = storage::oidc::session_apps(tx.conn(), org, session_id).await?;
    Ok(Some(LogoutNotice {
        org_id: org,
        user_id: user,
        session_id: session_id.to_string(),
        apps,
    }))
}

/// Ends one live session of a person on their own or their admin's request: its tokens are
/// revoked, its applications' back-channel logouts queued and the end audited (by `actor`,
/// with `details` and the reason), in one transaction; then the delivery worker is woken.
/// False if the session had ended already (nothing is written).
pub async fn end_and_notify(
    state: &AppState,
    (org, user): (OrgId, UserId),
    session_id: &str,
    reason: &str,
    actor: &Actor,
    mut details: Value,
) -> Result<bool, StoreError> {
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let Some(notice) = end_session(&tx, now, org, user, session_id, reason).await? else {
        return Ok(false);
    };
    crate::deprovision::queue_logouts(&tx, state, std::slice::from_ref(&notice)).await?;
    details["reason"] = json!(reason);
    let event = AuditEvent::new(
        actor,
        AuditAction::SessionEnded,
        format!("session:{session_id}"),
    )
    .org(org)
    .details(details);
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok(true)
}

/// Ends every session of a person and revokes all their tokens (offline ones too) inside `tx`.
pub async fn end_user_access(
    tx: &Tx,
    state: &AppState,
    org: OrgId,
    user: UserId,
    reason: &str,
) -> Result<Vec<LogoutNotice>, StoreError> {
    let now = state.clock.now_ms();
    let mut notices = Vec::new();
    for sid in storage::oidc::live_sessions_of(tx.conn(), org, user, now).await? {
        if let Some(n) = end_session(tx, now, org, user, &sid, reason).await? {
            notices.push(n);
        }
    }
    let until = now + (state.config.oidc.access_token_ttl_secs as i64) * 1000;
    storage::oidc::revoke_user_tokens(tx.conn(), org, user, now, until).await?;
    Ok(notices)
}

/// The logout token (Back-Channel Logout 1.0 §2.4), signed like the client's ID tokens. `jti` is
/// the delivery's id, the same on every retry, so the application can drop duplicates; without
/// `sid` it logs the person out of every session at the application.
pub async fn logout_token(
    state: &AppState,
    app: &Application,
    jti: &str,
    sub: &str,
    sid: Option<&str>,
) -> Result<String, crate::signing::SigningError> {
    let now = state.clock.now_ms() / 1000;
    let mut claims = json!({
        "iss": state.config.server.public_url,
        "aud": app.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": jti,
        "sub": sub,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    if let Some(sid) = sid {
        claims["sid"] = json!(sid);
    }
    state
        .keys
        .signer(app.id_token_alg)
        .await?
        .sign_jwt("logout+jwt", &claims)
}

/// The client named by a (possibly expired) ID token we signed, or by `client_id`.
async fn logout_client(
    state: &AppState,
    q: &HashMap<String, String>,
) -> Result<(Option<Application>, Option<Value>), StoreError> {
    let mut claims = None;
    let mut client_id = q.get("client_id").cloned();
    if let Some(hint) = q.get("id_token_hint").filter(|h| h.len() < 16 * 1024) {
        let kid = jose::peek_header(hint)
            .ok()
            .and_then(|h| h.get("kid").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        let key = state.keys.public_key(&kid).await.ok().flatten();
        if let Some(key) = key
            && let Ok(v) = jose::verify(hint, |k| (k == key.kid).then(|| key.clone()))
            && v.claims["iss"].as_str() == Some(&state.config.server.public_url)
        {
            let aud = v.claims["aud"].as_str().map(str::to_string);
            if client_id.is_some() && client_id != aud {
                return Ok((None, None));
            }
            client_id = aud;
            claims = Some(v.claims);
        }
    }
    let app = match client_id {
        Some(id) if id.len() <= 200 => state.clients.find(&state.store, &id).await?,
        _ => None,
    };
    Ok((app, claims))
}

pub async fn get_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    logout(&state, &headers, q, false).await
}

pub async fn post_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(q): Form<HashMap<String, String>>,
) -> Response {
    let confirmed = q.get("confirm").is_some_and(|v| v == "yes");
    logout(&state, &headers, q, confirmed).await
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    q: HashMap<String, String>,
    confirmed: bool,
) -> Response {
    let (app, hint) = match logout_client(state, &q).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "logout: storage error");
            return pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not sign you out.",
                "Please try again in a moment.",
            );
        }
    };
    let return_to = match (q.get("post_logout_redirect_uri"), &app) {
        (Some(uri), Some(app)) if app.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            Some(uri.clone())
        }
        (Some(_), _) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "The application asked to return you to an address it has not registered.",
                "You may still be signed in; close the browser to be sure, and tell the application's owners.",
            );
        }
        (None, _) => None,
    };
    let session_token = cookies::get(headers, SESSION_COOKIE);
    let session = match &session_token {
        Some(t) => storage::oidc::session_by_token(state.store.conn(), &hash_token(t))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let now = state.clock.now_ms();
    let session = session.filter(|s| s.is_live(now));
    // Without proof that the request comes from this session's application, ask first
    // (RP-Initiated Logout §2: protects against logout CSRF).
    let hint_matches = hint.as_ref().is_some_and(|h| {
        session
            .as_ref()
            .is_none_or(|s| h["sid"].as_str() == Some(&s.id))
    });
    if session.is_some() && !hint_matches && !confirmed {
        // Only these three are carried over, and only as text values.
        let kept = ["post_logout_redirect_uri", "state", "client_id"];
        let fields = q.iter().filter(|(k, _)| kept.contains(&k.as_str()));
        return pages::page(
            StatusCode::OK,
            "Sign out",
            html! {
                h1 { "Sign out of the hub?" }
                p { "You will be signed out of every application you reached through the hub." }
                form method="post" action="/oauth2/logout" {
                    @for (k, v) in fields {
                        input type="hidden" name=(k) value=(v);
                    }
                    input type="hidden" name="confirm" value="yes";
                    button type="submit" { "Sign out" }
                }
            },
        );
    }
    if let Some(s) = &session {
        let actor = Actor::User {
            org_id: s.org_id,
            user_id: s.user_id,
            reauthenticated_at: None,
        };
        let details = json!({"client_id": app.as_ref().map(|a| a.client_id.clone())});
        let ended = end_and_notify(
            state,
            (s.org_id, s.user_id),
            &s.id,
            "logout",
            &actor,
            details,
        )
        .await;
        match ended {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "logout: storage error");
                return pages::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The hub could not sign you out.",
                    "Please try again in a moment.",
                );
            }
        }
    }
    let mut response = match return_to {
        Some(uri) => {
            let mut params = Vec::new();
            if let Some(s) = q.get("state") {
                params.push(("state", s.as_str()));
            }
            Redirect::to(&with_params(&uri, &params)).into_response()
        }
        None => pages::page(
            StatusCode::OK,
            "Signed out",
            html! { h1 { "You are signed out" } p { "You can close this window." } },
        ),
    };
    cookies::set(&mut response, state, SESSION_COOKIE, "", Some(0));
    response
}
