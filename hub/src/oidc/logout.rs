//! RP-initiated logout (OIDC RP-Initiated Logout 1.0): the application sends the browser here to
//! end the person's hub session; ending it is `crate::sessions`.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::authorize::with_params;
use crate::audit::Actor;
use crate::jose;
use crate::login::cookies::{self, SESSION_COOKIE};
use crate::login::pages;
use crate::orgs::model::Application;
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::storage::{self, StoreError};

use crate::sessions::end_and_notify;

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
        session.as_ref().is_none_or(|s| {
            app.as_ref().is_some_and(|a| {
                h["sid"].as_str() == Some(&crate::sessions::app_sid(state, a.id, &s.id))
            })
        })
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
    cookies::clear(&mut response, state, SESSION_COOKIE);
    response
}
