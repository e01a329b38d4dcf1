//! Re-authentication in the console: a change to who can sign in or who belongs (the forms of
//! `access`) needs a fresh sign-in at the admin's own IdP within `reauth::WINDOW_MS`, as the
//! hub recorded it with the session. Without one the change is refused, whoever posted it,
//! and kept for the session; the admin is sent through their organization's IdP again with
//! `prompt=login` and `max_age=0`, and back at the hub confirms the waiting change, which then
//! runs through its own form handler like any other post.

use axum::body::Body;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use tower::ServiceExt;

use super::html::Href;
use super::{CsrfForm, Viewer, checked, csrf_field, forbidden_post, internal_error};
use super::{page, to_idp};
use crate::clock::ms_to_rfc3339;
use crate::http::extract::OrgCtx;
use crate::login::cookies::{self, AUTH_REQUEST_COOKIE};
use crate::reauth::{Fields, PENDING_TTL_MS, WINDOW_MS};
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::{AuthParams, AuthRequest};
use crate::state::AppState;
use crate::storage;

/// Where the browser comes back to after signing in again.
const RESUME: &str = "/console/reauth/resume";

/// The org admin of a POST to `path` that needs a recent sign-in. With one: the context to act
/// in, whose audit actor records that sign-in. Without: the change is kept for the session and
/// the answer is the page that says nothing was changed and offers to sign in again.
pub(super) async fn sensitive(
    state: &AppState,
    headers: &HeaderMap,
    f: &Fields,
    path: &str,
) -> Result<(Viewer, OrgCtx), Response> {
    let v = super::setup::acting(state, headers, f).await?;
    let now = state.clock.now_ms();
    if let Some(at) = v.recent_sign_in(now) {
        let mut ctx = v.ctx();
        ctx.principal.reauthenticated(at);
        return Ok((v, ctx));
    }
    if let Err(e) = crate::reauth::keep(state, &v.session, path, f).await {
        tracing::error!(error = %e, "console: could not keep the change for after sign-in");
        return Err(internal_error());
    }
    tracing::info!(org = %v.org.slug, path, "console change refused: no recent sign-in");
    Err(stale(&v, StatusCode::FORBIDDEN, true))
}

fn minutes(ms: i64) -> i64 {
    ms / 60_000
}

/// When the viewer last signed in afresh, in words.
pub(super) fn last_sign_in(v: &Viewer) -> String {
    match &v.step_up {
        Some(s) => format!(
            "your last sign-in at your company's IdP was at {}",
            ms_to_rfc3339(s.at_ms)
        ),
        None => "this session has no sign-in of that kind (it began at an application, not in \
                 the console)"
            .into(),
    }
}

/// The form that sends the viewer to their IdP to sign in again.
fn sign_in_again(v: &Viewer) -> Markup {
    html! {
        form method="post" action="/console/reauth" {
            (csrf_field(v))
            button type="submit" { "Sign in again" }
        }
    }
}

fn back_to_setup() -> Markup {
    html! { p { a href=(Href::to("/console/setup")) { "Back to setup" } } }
}

/// The answer to a change made without a recent sign-in (`refused`: it was just refused).
fn stale(v: &Viewer, status: StatusCode, refused: bool) -> Response {
    to_idp(page(
        status,
        Some(v),
        "Sign in again to make this change",
        html! {
            @if refused { p.problem role="alert" { "Nothing was changed." } }
            p {
                "Changes to who can sign in to " (v.org.name) " or who belongs to it need a \
                 sign-in at your company's IdP from the last " (minutes(WINDOW_MS)) " minutes; "
                (last_sign_in(v)) "."
            }
            p {
                "Your change waits for " (minutes(PENDING_TTL_MS)) " minutes: sign in again at \
                 your IdP (it asks for your password even if you are signed in there), then \
                 confirm the change here."
            }
            (sign_in_again(v))
            (back_to_setup())
        },
    ))
}

/// `GET /console/reauth`: what signing in again is for, and its button.
pub async fn explain(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match super::views::signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = state.clock.now_ms();
    to_idp(page(
        StatusCode::OK,
        Some(&v),
        "Sign in again",
        html! {
            p {
                "Changes to who can sign in or who belongs (identity providers, directories, \
                 their secrets and tokens, held deprovisionings, roles) need a sign-in at your \
                 company's IdP from the last " (minutes(WINDOW_MS)) " minutes."
            }
            @match v.recent_sign_in(now) {
                Some(at) => p.ok {
                    "Your sign-in is recent (at " (ms_to_rfc3339(at)) "): you can make such \
                     changes until " (ms_to_rfc3339(at + WINDOW_MS)) "."
                },
                None => p { (capitalized(&last_sign_in(&v))) "." },
            }
            (sign_in_again(&v))
        },
    ))
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `POST /console/reauth`: a sign-in of the viewer's own organization, bound to this browser,
/// that the IdP must make afresh and that renews this session (not a new one), then back to
/// the waiting change.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match super::views::signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    let (Ok(id), Ok(binding)) = (random_token(), random_token()) else {
        return internal_error();
    };
    let now = state.clock.now_ms();
    let ttl = PENDING_TTL_MS;
    let request = AuthRequest {
        id: id.clone(),
        org_id: v.org.id,
        target: crate::sessions::model::AuthTarget::Console,
        browser_hash: hash_token(&binding),
        params: AuthParams {
            client_id: "hub-console".into(),
            redirect_uri: RESUME.into(),
            scope: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: vec!["login".into()],
            max_age: Some(0),
            login_hint: Some(v.user.email.clone()),
            domain_hint: None,
            session_id: Some(v.session.id.clone()),
        },
        created_at: now,
        expires_at: now + ttl,
        source: None,
    };
    if let Err(e) = storage::oidc::insert_auth_request(state.store.conn(), &request).await {
        tracing::error!(error = %e, "console re-authentication: storage error");
        return internal_error();
    }
    let mut r = Redirect::to(&format!("/login?request={id}")).into_response();
    cookies::set(
        &mut r,
        &state,
        AUTH_REQUEST_COOKIE,
        &binding,
        Some((ttl / 1000) as u64),
    );
    r
}

/// After signing in again: to `back_to` if it is a console page, else the console.
pub(super) fn back(back_to: &str) -> Response {
    let safe = back_to.starts_with("/console/")
        && !back_to.contains("//")
        && !back_to.contains('\\')
        && back_to.len() <= 200;
    Redirect::to(if safe { back_to } else { "/console" }).into_response()
}

/// A re-authentication that changed nothing.
pub(super) fn refused(title: &str, text: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        None,
        title,
        html! {
            p.problem role="alert" { (text) }
            p { a href=(Href::to(RESUME)) { "Back to the console" } }
        },
    )
}

/// What a waiting change does, in words.
fn describe(path: &str) -> &'static str {
    let parts: Vec<&str> = path
        .trim_start_matches("/console/setup/")
        .split('/')
        .collect();
    match parts.as_slice() {
        ["connections"] => "Connect an identity provider",
        ["connections", _] => "Change an identity provider connection",
        ["connections", _, "delete"] => "Delete an identity provider connection",
        ["connections", _, "approve"] => "Approve an identity provider connection",
        ["directories"] => "Connect a directory",
        ["directories", _] => "Change a directory",
        ["directories", _, "tokens"] => "Make a SCIM token",
        ["directories", _, "tokens", _, "revoke"] => "Revoke a SCIM token",
        ["directories", _, "syncs", _, "confirm"] => "Confirm a held mass deprovisioning",
        ["roles"] => "Change which directory groups make admins and compliance officers",
        _ => "A change to sign-in or directories",
    }
}

/// Fields whose values are secrets: said to be given, never shown again.
const SECRET_FIELDS: [&str; 2] = ["client_secret", "bind_password"];

/// `GET /console/reauth/resume`: the change waiting for this session, to confirm (with a
/// recent sign-in) or to sign in again for; or setup, when none waits.
pub async fn waiting(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let v = match super::setup::org_admin(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (path, form) = match crate::reauth::waiting(&state, &v.session).await {
        Ok(Some(w)) => w,
        Ok(None) => return Redirect::to("/console/setup").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: the waiting change is unreadable");
            return internal_error();
        }
    };
    let now = state.clock.now_ms();
    let recent = v.recent_sign_in(now).is_some();
    let csrf = csrf_field(&v);
    let body = html! {
        p {
            "Your change waits: " strong { (describe(&path)) } " (" code { (path) } ")."
        }
        table {
            tbody {
                @for (k, value) in form.iter().filter(|(_, value)| !value.trim().is_empty()) {
                    tr {
                        th scope="row" { (k) }
                        td {
                            @if SECRET_FIELDS.contains(&k.as_str()) {
                                "(given; kept sealed, not shown again)"
                            } @else {
                                (value)
                            }
                        }
                    }
                }
            }
        }
        @if recent {
            p.ok { "You signed in again. Confirm the change to make it." }
            form method="post" action=(Href::to(RESUME)) class="inline" {
                (csrf)
                button type="submit" { "Make the change" }
            }
            " "
        } @else {
            p {
                "It needs a sign-in at your company's IdP from the last " (minutes(WINDOW_MS))
                " minutes; " (last_sign_in(&v)) "."
            }
            (sign_in_again(&v))
        }
        form method="post" action="/console/reauth/discard" class="inline" {
            (csrf)
            button type="submit" { "Discard it" }
        }
        (back_to_setup())
    };
    let r = page(StatusCode::OK, Some(&v), "Your waiting change", body);
    if recent { r } else { to_idp(r) }
}

/// `POST /console/reauth/resume`: makes the waiting change, once, through its own form handler
/// (which checks the recent sign-in again and records it in the audit event).
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match super::setup::org_admin(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    let (path, mut form) = match crate::reauth::waiting(&state, &v.session).await {
        Ok(Some(w)) => w,
        Ok(None) => return Redirect::to("/console/setup").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: the waiting change is unreadable");
            return internal_error();
        }
    };
    let now = state.clock.now_ms();
    if v.recent_sign_in(now).is_none() {
        return stale(&v, StatusCode::FORBIDDEN, false);
    }
    // Made once: whoever takes it away first makes it.
    match crate::reauth::discard(&state, &v.session).await {
        Ok(true) => {}
        Ok(false) => return Redirect::to("/console/setup").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: storage error");
            return internal_error();
        }
    }
    if !path.starts_with("/console/setup/") {
        return Redirect::to("/console/setup").into_response();
    }
    form.push(("csrf".into(), v.csrf()));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut request = Request::builder()
        .method("POST")
        .uri(&path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for name in [header::COOKIE, header::ORIGIN, header::HOST] {
        for value in headers.get_all(&name) {
            request = request.header(&name, value);
        }
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return internal_error();
    };
    match super::router()
        .with_state(state.clone())
        .oneshot(request)
        .await
    {
        Ok(r) => r,
        Err(e) => match e {},
    }
}

/// `POST /console/reauth/discard`: drops the waiting change.
pub async fn discard(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match super::views::signed_in(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    match crate::reauth::discard(&state, &v.session).await {
        Ok(_) => Redirect::to("/console/setup").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: storage error");
            internal_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_changes_are_described_by_their_form() {
        assert_eq!(
            describe("/console/setup/connections"),
            "Connect an identity provider"
        );
        assert_eq!(
            describe("/console/setup/directories/x/tokens"),
            "Make a SCIM token"
        );
        assert_eq!(
            describe("/console/setup/directories/x/syncs/y/confirm"),
            "Confirm a held mass deprovisioning"
        );
        assert_eq!(
            describe("/console/setup/connections/x/approve"),
            "Approve an identity provider connection"
        );
    }

    #[test]
    fn only_console_pages_are_gone_back_to() {
        let to = |p: &str| {
            back(p)
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(to(RESUME), RESUME);
        assert_eq!(to("https://evil.example/"), "/console");
        assert_eq!(to("/console//evil.example"), "/console");
        assert_eq!(to("/console/\\evil.example"), "/console");
    }
}
