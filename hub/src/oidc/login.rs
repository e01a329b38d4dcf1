//! The hub's sign-in page. Upstream federation (each company's own IdP) arrives with its own
//! issue; until then the only method is the DEVELOPMENT-ONLY passwordless login, which is off
//! unless `oidc.dev_login = true` and must never be enabled where real people sign in.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::authorize::finish;
use super::cookies::{self, AUTH_REQUEST_COOKIE, SESSION_COOKIE};
use super::model::{AuthRequest, Session};
use super::pages::{self, escape};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::secrets::{hash_token, random_token};
use crate::state::AppState;
use crate::storage;
use crate::users::UserStatus;

#[derive(Deserialize)]
pub struct LoginQuery {
    request: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    request: String,
    email: String,
}

const EXPIRED: &str = "This sign-in has expired or was started in another browser.";
const GO_BACK: &str = "Go back to the application and start again.";

/// The pending request, if it exists, is unexpired and belongs to this browser.
async fn pending(state: &AppState, headers: &HeaderMap, id: &str) -> Result<AuthRequest, Response> {
    let binding = cookies::get(headers, AUTH_REQUEST_COOKIE);
    let found = if id.len() > 100 {
        Ok(None)
    } else {
        storage::oidc::get_auth_request(state.store.conn(), id).await
    };
    match found {
        Ok(Some(r))
            if r.expires_at > state.clock.now_ms()
                && binding.is_some_and(|b| hash_token(&b) == r.browser_hash) =>
        {
            Ok(r)
        }
        Ok(_) => Err(pages::error(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK)),
        Err(e) => {
            tracing::error!(error = %e, "login: storage error");
            Err(pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not handle this sign-in.",
                "Please try again in a moment.",
            ))
        }
    }
}

async fn org_name(state: &AppState, r: &AuthRequest) -> String {
    match storage::organizations::get(state.store.conn(), r.org_id).await {
        Ok(Some(o)) => o.name,
        _ => "your organization".into(),
    }
}

fn form(request: &AuthRequest, org: &str, email: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(p)))
        .unwrap_or_default();
    format!(
        "<h1>Sign in to {org}</h1>{problem}\
         <p class=\"note\">Development sign-in: no password is asked. Never use it where real people sign in.</p>\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{req}\">\
         <label for=\"email\">Work email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{email}\">\
         <button type=\"submit\">Continue</button></form>",
        org = escape(org),
        req = escape(&request.id),
        email = escape(email),
    )
}

pub async fn get_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let request = match pending(&state, &headers, &q.request).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let org = org_name(&state, &request).await;
    if !state.config.oidc.dev_login {
        return pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{org} has not connected its sign-in to the hub yet."),
            &format!("Please ask {org}'s IT administrators to connect their identity provider."),
        );
    }
    let hint = request.params.login_hint.clone().unwrap_or_default();
    pages::page(
        StatusCode::OK,
        "Sign in",
        &form(&request, &org, &hint, None),
    )
}

pub async fn post_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !state.config.oidc.dev_login {
        return pages::error(
            StatusCode::NOT_FOUND,
            "There is no such sign-in page.",
            GO_BACK,
        );
    }
    let request = match pending(&state, &headers, &f.request).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let org = org_name(&state, &request).await;
    let email = f.email.trim().to_ascii_lowercase();
    let user = match storage::users::find_by_email(state.store.conn(), request.org_id, &email).await
    {
        Ok(Some(u)) if u.status == UserStatus::Active => u,
        Ok(_) => {
            let problem = format!("{org} has no active account for that email address.");
            return pages::page(
                StatusCode::UNAUTHORIZED,
                "Sign in",
                &form(&request, &org, &email, Some(&problem)),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "login: storage error");
            return pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not handle this sign-in.",
                "Please try again in a moment.",
            );
        }
    };
    let app = match storage::applications::get(state.store.conn(), request.org_id, request.app_id)
        .await
    {
        Ok(Some(app)) => app,
        _ => return pages::error(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK),
    };
    let (Ok(token), now) = (random_token(), state.clock.now_ms()) else {
        return pages::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The hub could not handle this sign-in.",
            "Please try again in a moment.",
        );
    };
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: user.org_id,
        user_id: user.id,
        auth_time: now,
        created_at: now,
        expires_at: now + (state.config.oidc.session_ttl_secs as i64) * 1000,
        ended_at: None,
    };
    let started = async {
        let tx = state.store.begin().await?;
        // Single use: a second submission of the same request finds it gone.
        if !storage::oidc::delete_auth_request(tx.conn(), &request.id).await? {
            return Ok(false);
        }
        storage::oidc::insert_session(tx.conn(), &session, &hash_token(&token)).await?;
        let event = AuditEvent::new(
            &Actor::User {
                org_id: user.org_id,
                user_id: user.id,
            },
            AuditAction::SessionStarted,
            format!("session:{}", session.id),
        )
        .org(user.org_id)
        .details(json!({"method": "dev_login", "client_id": app.client_id}));
        state.commit_audited(tx, event).await?;
        Ok::<_, crate::storage::StoreError>(true)
    };
    match started.await {
        Ok(true) => {}
        Ok(false) => return pages::error(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK),
        Err(e) => {
            tracing::error!(error = %e, "login: storage error");
            return pages::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not handle this sign-in.",
                "Please try again in a moment.",
            );
        }
    }
    let mut response = finish(&state, &app, &session, &request.params).await;
    cookies::set(
        &mut response,
        &state,
        SESSION_COOKIE,
        &token,
        Some(state.config.oidc.session_ttl_secs),
    );
    cookies::set(&mut response, &state, AUTH_REQUEST_COOKIE, "", Some(0));
    response
}
