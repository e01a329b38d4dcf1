//! The person's part of an authorization between sign-in and the code (OIDC Core §3.1.2.1):
//! the account chooser of `prompt=select_account` ("continue as X" or "use another account",
//! which restarts the sign-in) and the consent page of `prompt=consent`, which names what the
//! application receives and needs the person's approval (audited as `oauth.consent_granted`).
//! Each page shows one pending request, bound to this browser and to the session it was shown
//! for; its form posts to `/oauth2/interaction` and is single use.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::json;

use super::authorize::{Redirectable, current_session, finish, keep_pending, set_binding};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::login::cookies::AUTH_REQUEST_COOKIE;
use crate::login::pages::{self, PageResult};
use crate::orgs::model::Application;
use crate::sessions::model::{AuthParams, Session};
use crate::state::AppState;
use crate::storage;

pub const PATH: &str = "/oauth2/interaction";

const EXPIRED: &str = "This page has expired or was opened in another browser.";
const GO_BACK: &str = "Go back to the application and start again.";

/// What the person is told an application receives for each scope (OIDC Core §5.4).
fn released(scope: &[String]) -> Vec<&'static str> {
    let mut out = vec!["a stable identifier of you at the hub, and your organization's name"];
    for s in scope {
        out.push(match s.as_str() {
            "email" => "your email address",
            "profile" => "your name and username",
            "groups" => "the groups you belong to in your organization's directory",
            "offline_access" => "access while you are not signed in, until you sign out or leave",
            _ => continue,
        });
    }
    out
}

fn form(request: &str, buttons: &[(&str, &str)]) -> Markup {
    html! {
        form method="post" action=(PATH) {
            input type="hidden" name="request" value=(request);
            @for (action, label) in buttons {
                button type="submit" name="action" value=(action) { (label) }
            }
        }
    }
}

/// Keeps `params` waiting for this browser and the session shown, and answers with `page`.
async fn shown(
    state: &AppState,
    app: &Application,
    session: &Session,
    mut params: AuthParams,
    title: &str,
    body: impl FnOnce(&str) -> Markup,
) -> Response {
    params.session_id = Some(session.id.clone());
    match keep_pending(state, app, params, None).await {
        Ok((id, binding)) => {
            let mut response = pages::page(StatusCode::OK, title, body(&id));
            set_binding(&mut response, state, &binding);
            response
        }
        Err(response) => response,
    }
}

/// `prompt=consent`: what the application asks for, to approve or deny.
pub async fn consent_page(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Response {
    let owner = storage::organizations::get(state.store.conn(), app.org_id)
        .await
        .ok()
        .flatten()
        .map(|o| o.name)
        .unwrap_or_default();
    let name = app.name.clone();
    shown(state, app, session, params.clone(), "Allow access", |id| {
        html! {
            h1 { "Allow " (name) " to use your account?" }
            p.note { "An application of " (owner) "." }
            p { "It will receive:" }
            ul {
                @for item in released(&params.scope) {
                    li { (item) }
                }
            }
            (form(id, &[("approve", "Allow"), ("deny", "Deny")]))
        }
    })
    .await
}

/// `prompt=select_account`: continue as the signed-in person, or sign in as someone else.
pub async fn chooser_page(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Response {
    let user = storage::users::get(state.store.conn(), session.org_id, session.user_id).await;
    let Ok(Some(user)) = user else {
        return pages::error(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK);
    };
    let name = app.name.clone();
    let continue_as = format!("Continue as {}", user.email);
    shown(
        state,
        app,
        session,
        params.clone(),
        "Choose an account",
        |id| {
            html! {
                h1 { "Choose an account for " (name) }
                p { "You are signed in as " strong { (user.name) } " (" (user.email) ")." }
                (form(id, &[("continue", &continue_as), ("another", "Use another account")]))
            }
        },
    )
    .await
}

/// The answer the page's form posts: `request` and `action`, each once.
struct Answer {
    request: String,
    action: String,
}

fn answer(body: &[u8]) -> Option<Answer> {
    let form = super::request::single_valued(url::form_urlencoded::parse(body)).ok()?;
    Some(Answer {
        request: form.get("request")?.clone(),
        action: form.get("action")?.clone(),
    })
}

/// `POST /oauth2/interaction`: the answer to a consent page or an account chooser.
pub async fn post_interaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let expired = || pages::error(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK);
    let Some(f) = answer(&body) else {
        return Err(expired().into());
    };
    let request = crate::login::pending(&state, &headers, &f.request).await?;
    let conn = state.store.conn();
    let Some(app_id) = request.target.app() else {
        return Err(expired().into());
    };
    let Some(app) = storage::applications::get(conn, request.org_id, app_id).await? else {
        return Err(expired().into());
    };
    // The page was shown for this browser's live session; a sign-in since then voids it.
    let session = match current_session(&state, &headers, &app).await? {
        Some(s) if request.params.session_id.as_deref() == Some(s.id.as_str()) => s,
        _ => return Err(expired().into()),
    };
    let mut params = request.params.clone();
    params.session_id = None;
    let choosing = params.prompt.iter().any(|p| p == "select_account");
    if f.action == "another" && choosing {
        // Sign in again: the same request waits, bound to this browser.
        return Ok(Redirect::to(&format!("/login?request={}", request.id)).into_response());
    }
    // Every other answer uses the request up.
    if !storage::oidc::delete_auth_request(conn, &request.id).await? {
        return Err(expired().into());
    }
    let mut response = match (f.action.as_str(), choosing) {
        ("continue", true) => {
            params.prompt.retain(|p| p != "select_account");
            finish(&state, &app, &session, &params).await
        }
        ("approve", false) => {
            record_consent(&state, &app, &session, &params).await?;
            params.prompt.retain(|p| p != "consent");
            finish(&state, &app, &session, &params).await
        }
        ("deny", false) => Redirectable::new(&state, &params)
            .error("access_denied", "the person did not allow the application"),
        _ => expired(),
    };
    if !crate::login::sets_cookie(&response, AUTH_REQUEST_COOKIE) {
        crate::login::cookies::clear(&mut response, &state, AUTH_REQUEST_COOKIE);
    }
    Ok(response)
}

async fn record_consent(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Result<(), crate::storage::StoreError> {
    let event = AuditEvent::new(
        &Actor::User {
            org_id: session.org_id,
            user_id: session.user_id,
            reauthenticated_at: None,
        },
        AuditAction::ConsentGranted,
        format!("application:{}", app.id),
    )
    .org(session.org_id)
    .org(app.org_id)
    .details(json!({"client_id": app.client_id, "scope": params.scope, "session": session.id}));
    let tx = state.store.begin().await?;
    state.commit_audited(tx, event).await?;
    Ok(())
}
