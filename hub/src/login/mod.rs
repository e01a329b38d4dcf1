//! The hub's sign-in page: home-realm discovery sends the person to their organization's own
//! IdP (`upstream`). An organization with no connection can, only where
//! `oidc.dev_login = true`, use the DEVELOPMENT-ONLY passwordless login, which must never be
//! enabled where real people sign in.

pub mod cookies;
pub mod pages;
pub mod saml;
pub mod upstream;

/// The browser sign-in's routes: the sign-in page, the upstream OIDC callback, each SAML
/// connection's SP metadata and assertion consumer service.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/login", get(get_login).post(post_login))
        .route(upstream::CALLBACK_PATH, get(upstream::callback))
        .route("/saml/{connection}/metadata", get(saml::metadata))
        .route("/saml/{connection}/acs", post(saml::acs))
}

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use self::cookies::AUTH_REQUEST_COOKIE;
use self::pages::{PageError, PageResult};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::federation::linking::{Route, route};
use crate::oidc::authorize::finish;
use crate::orgs::model::Organization;
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::{AuthRequest, AuthTarget, Session};
use crate::state::AppState;
use crate::storage;
use crate::users::{User, UserStatus};

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
pub(crate) async fn pending(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> PageResult<AuthRequest> {
    let binding = cookies::get(headers, AUTH_REQUEST_COOKIE);
    let found = if id.len() > 100 {
        None
    } else {
        storage::oidc::get_auth_request(state.store.conn(), id).await?
    };
    match found {
        Some(r)
            if r.expires_at > state.clock.now_ms()
                && binding.is_some_and(|b| hash_token(&b) == r.browser_hash) =>
        {
            Ok(r)
        }
        _ => Err(PageError::page(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK)),
    }
}

/// The organization of the pending request (it exists while the request does).
async fn organization(state: &AppState, r: &AuthRequest) -> PageResult<Organization> {
    storage::organizations::get(state.store.conn(), r.org_id)
        .await?
        .ok_or(PageError::Internal)
}

/// The organization a person signs in with: the application's own, or the organization that
/// verified the email's domain when one of the application's spaces admits its people (their
/// own IdP vouches for them, never the application owner's).
async fn home(
    state: &AppState,
    request: &AuthRequest,
    org: Organization,
    email: Option<&str>,
) -> Result<Organization, crate::storage::StoreError> {
    let c = state.store.conn();
    let Some(domain) = email.and_then(connectors::email::domain_of) else {
        return Ok(org);
    };
    let Some(owner) = storage::domains::verified_owner(c, &domain).await? else {
        return Ok(org);
    };
    if owner == org.id {
        return Ok(org);
    }
    let Some(app_id) = request.target.app() else {
        return Ok(org);
    };
    let Some(app) = storage::applications::get(c, request.org_id, app_id).await? else {
        return Ok(org);
    };
    if !crate::spaces::partner_admitted(c, &app, owner).await? {
        return Ok(org);
    }
    Ok(storage::organizations::get(c, owner)
        .await?
        .filter(|o| o.status == crate::orgs::model::OrgStatus::Active)
        .unwrap_or(org))
}

fn form(request: &AuthRequest, org: &str, email: &str, problem: Option<&str>, dev: bool) -> Markup {
    html! {
        h1 { "Sign in to " (org) }
        @if let Some(problem) = problem {
            p role="alert" { strong { (problem) } }
        }
        @if dev {
            p.note { "Development sign-in: no password is asked. Never use it where real people sign in." }
        } @else {
            p.note { "Enter your work email: the hub sends you to your company's own sign-in." }
        }
        form method="post" action="/login" {
            input type="hidden" name="request" value=(request.id);
            label for="email" { "Work email" }
            input id="email" name="email" type="email" autocomplete="username" required value=(email);
            button type="submit" { "Continue" }
        }
    }
}

/// The page (or redirect) that home-realm discovery leads to.
async fn routed(
    state: &AppState,
    request: &AuthRequest,
    org: &Organization,
    email: Option<&str>,
) -> PageResult {
    // "@domain" stands for a domain hint: it routes, but is no address to hint or prefill.
    let address = email.filter(|e| !e.starts_with('@'));
    Ok(match route(state, org.id, email).await? {
        Route::Connection(conn) => upstream::start(state, request, org, &conn, address).await?,
        Route::AskEmail => pages::page(
            StatusCode::OK,
            "Sign in",
            form(request, &org.name, "", None, false),
        ),
        Route::ForeignDomain(domain) => {
            let problem = format!(
                "{domain} is not an address of {}. This application is for {} people: use your \
                 {} email.",
                org.name, org.name, org.name
            );
            pages::page(
                StatusCode::OK,
                "Sign in",
                form(
                    request,
                    &org.name,
                    address.unwrap_or_default(),
                    Some(&problem),
                    false,
                ),
            )
        }
        Route::NoConnection if state.config.oidc.dev_login => pages::page(
            StatusCode::OK,
            "Sign in",
            form(request, &org.name, address.unwrap_or_default(), None, true),
        ),
        Route::NoConnection => pages::error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{} has not connected its sign-in to the hub yet.", org.name),
            &format!(
                "Please ask {}'s IT administrators to connect their identity provider.",
                org.name
            ),
        ),
    })
}

/// `GET /login`: routes the pending request to the organization's IdP, or asks for the email.
pub async fn get_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    let request = pending(&state, &headers, &q.request).await?;
    let org = organization(&state, &request).await?;
    // A domain hint stands for an address at that domain (the IdP learns no login hint).
    let hint = request
        .params
        .login_hint
        .clone()
        .or_else(|| request.params.domain_hint.as_ref().map(|d| format!("@{d}")));
    if hint.is_none() {
        // People of partner organizations sign in here too: ask whose they are first.
        let app = match request.target.app() {
            Some(app_id) => {
                storage::applications::get(state.store.conn(), request.org_id, app_id).await?
            }
            None => None,
        };
        if let Some(app) = app
            && crate::spaces::admits_partners(state.store.conn(), &app).await?
        {
            return Ok(pages::page(
                StatusCode::OK,
                "Sign in",
                form(&request, &org.name, "", None, false),
            ));
        }
    }
    let org = home(&state, &request, org, hint.as_deref()).await?;
    routed(&state, &request, &org, hint.as_deref()).await
}

/// `POST /login`: the email form. With connections it routes to the IdP; without, and only
/// when enabled, it is the development sign-in.
pub async fn post_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: crate::oidc::request::SourceIp,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let request = pending(&state, &headers, &f.request).await?;
    // Each address typed is a home-realm lookup: counted per client address, so the companies
    // on the hub cannot be listed in bulk through the sign-in page.
    let now = state.clock.now_ms();
    if let Err(wait) = state.realm_throttle.check(None, source.0, now) {
        state.metrics.anonymous_failure("realm_lookup_throttled");
        let mut r = pages::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts from your network.",
            "Please wait a minute and try again.",
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return Ok(r);
    }
    state.realm_throttle.record_failure(None, source.0, now);
    let org = organization(&state, &request).await?;
    let email = f.email.trim().to_ascii_lowercase();
    if email.len() > 320 {
        return Err(PageError::page(
            StatusCode::BAD_REQUEST,
            "That is not an email address.",
            GO_BACK,
        ));
    }
    let org = home(&state, &request, org, Some(&email)).await?;
    match route(&state, org.id, Some(&email)).await? {
        Route::NoConnection if state.config.oidc.dev_login => {}
        _ => return routed(&state, &request, &org, Some(&email)).await,
    }
    let user = match storage::users::find_by_email(state.store.conn(), org.id, &email).await? {
        Some(u) if u.status == UserStatus::Active => u,
        _ => {
            let problem = format!("{} has no active account for that email address.", org.name);
            return Ok(pages::page(
                StatusCode::UNAUTHORIZED,
                "Sign in",
                form(&request, &org.name, &email, Some(&problem), true),
            ));
        }
    };
    let mut method = json!({"method": "dev_login"});
    if upstream::wants_fresh(&request) {
        // The development sign-in asks nothing, ever: it is as fresh as it is worthless.
        method["fresh"] = json!(true);
    }
    sign_in(&state, &request, &user, method).await
}

/// The IdP's time of a fresh authentication recorded in `method` (see
/// `upstream::mark_fresh`): `Some(None)` when fresh without a time (the development
/// sign-in), `None` when the sign-in was not a fresh authentication.
fn fresh_auth(method: &serde_json::Value) -> Option<Option<i64>> {
    (method["fresh"] == json!(true)).then(|| method["upstream_auth_time"].as_i64())
}

fn method_name(method: &serde_json::Value) -> String {
    method["method"].as_str().unwrap_or("unknown").to_string()
}

/// Starts a hub session for `user` (audited, with how the person signed in), consuming the
/// pending request `request_id` if there is one. `Ok(None)` if that request was used already.
async fn open_session(
    state: &AppState,
    user: &User,
    method: serde_json::Value,
    request_id: Option<&str>,
) -> Result<Option<(Session, String)>, crate::storage::StoreError> {
    let token = random_token().map_err(|_| crate::storage::StoreError::Corrupt("random"))?;
    let now = state.clock.now_ms();
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: user.org_id,
        user_id: user.id,
        auth_time: now,
        created_at: now,
        expires_at: now + (state.config.oidc.session_ttl_secs as i64) * 1000,
        ended_at: None,
    };
    let tx = state.store.begin().await?;
    // Single use: a second submission of the same request finds it gone.
    if let Some(id) = request_id
        && !storage::oidc::delete_auth_request(tx.conn(), id).await?
    {
        return Ok(None);
    }
    storage::oidc::insert_session(tx.conn(), &session, &hash_token(&token)).await?;
    let fresh = fresh_auth(&method);
    let name = method_name(&method);
    let event = AuditEvent::new(
        &Actor::User {
            org_id: user.org_id,
            user_id: user.id,
            reauthenticated_at: None,
        },
        AuditAction::SessionStarted,
        format!("session:{}", session.id),
    )
    .org(user.org_id)
    .details(method);
    let record = crate::audit::append(&tx, state.clock.as_ref(), event).await?;
    if let Some(upstream_auth_ms) = fresh {
        // The IdP authenticated the person afresh for this sign-in: the session starts with a
        // recent sign-in, dated like its audit event.
        let step_up = crate::reauth::StepUp {
            session_id: session.id.clone(),
            org_id: user.org_id,
            user_id: user.id,
            at_ms: record.at_ms,
            upstream_auth_ms,
            method: name,
        };
        storage::reauth::put_step_up(tx.conn(), &step_up).await?;
    }
    tx.commit().await?;
    state.metrics.audit_events.inc();
    Ok(Some((session, token)))
}

/// Ends a sign-in: consumes the pending request, starts the hub session (audited, with how the
/// person signed in), sets the session cookie and answers the application.
pub async fn sign_in(
    state: &AppState,
    request: &AuthRequest,
    user: &User,
    mut method: serde_json::Value,
) -> PageResult {
    let app_id = match request.target {
        AuthTarget::Console => return console_sign_in(state, request, user, method).await,
        AuthTarget::App(a) => a,
    };
    let Some(app) = storage::applications::get(state.store.conn(), request.org_id, app_id).await?
    else {
        return Err(PageError::page(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK));
    };
    if !crate::spaces::may_use(state.store.conn(), &app, user)
        .await?
        .admitted
    {
        return no_access(state, &app, user).await;
    }
    method["client_id"] = json!(app.client_id);
    let Some((session, token)) = open_session(state, user, method, Some(&request.id)).await? else {
        return Err(PageError::page(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK));
    };
    let mut response = finish(state, &app, &session, &request.params).await;
    cookies::set_session(&mut response, state, &token);
    // A consent page binds its own pending request to this browser: keep that cookie.
    if !sets_cookie(&response, AUTH_REQUEST_COOKIE) {
        cookies::clear(&mut response, state, AUTH_REQUEST_COOKIE);
    }
    Ok(response)
}

/// Whether `response` sets the cookie `name`.
pub(crate) fn sets_cookie(response: &Response, name: &str) -> bool {
    response
        .headers()
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{name}=")))
}

/// Ends a sign-in to the hub's console: the person's own organization only, then the console.
async fn console_sign_in(
    state: &AppState,
    request: &AuthRequest,
    user: &User,
    mut method: serde_json::Value,
) -> PageResult {
    if user.org_id != request.org_id {
        return Err(PageError::page(StatusCode::FORBIDDEN, EXPIRED, GO_BACK));
    }
    method["client_id"] = json!("hub-console");
    if let Some(session_id) = request.params.session_id.clone() {
        return console_reauthenticated(state, request, user, &session_id, method).await;
    }
    let Some((_, token)) = open_session(state, user, method, Some(&request.id)).await? else {
        return Err(PageError::page(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK));
    };
    let mut response = crate::console::signed_in();
    cookies::set_session(&mut response, state, &token);
    cookies::clear(&mut response, state, AUTH_REQUEST_COOKIE);
    Ok(response)
}

/// The end of a console re-authentication (the pending request names the session it renews):
/// the IdP must have authenticated the person afresh, and they must be the session's person.
/// The session then gets a new token (the old cookie stops working), a new authentication time
/// and its fresh sign-in recorded, audited as `session.reauthenticated`; the browser goes back
/// to the console, where a change may wait for it. Anything else changes nothing.
async fn console_reauthenticated(
    state: &AppState,
    request: &AuthRequest,
    user: &User,
    session_id: &str,
    method: serde_json::Value,
) -> PageResult {
    use crate::console::reauth_refused;
    let c = state.store.conn();
    let expired = || PageError::page(StatusCode::BAD_REQUEST, EXPIRED, GO_BACK);
    // The request is single use, whatever the outcome.
    if !storage::oidc::delete_auth_request(c, &request.id).await? {
        return Err(expired());
    }
    let now = state.clock.now_ms();
    let session = match storage::oidc::get_session(c, request.org_id, session_id).await? {
        Some(s) if s.is_live(now) => s,
        _ => return Err(expired()),
    };
    if session.user_id != user.id {
        tracing::warn!(session = %session.id, "console re-authentication by another person");
        let event = AuditEvent::new(
            &Actor::User {
                org_id: user.org_id,
                user_id: user.id,
                reauthenticated_at: None,
            },
            AuditAction::LoginRefused,
            format!("session:{}", session.id),
        )
        .org(user.org_id)
        .details(json!({
            "reason": "a re-authentication of another person's console session",
            "session_user_id": session.user_id,
            "method": method,
        }));
        let tx = state.store.begin().await?;
        state.commit_audited(tx, event).await?;
        return Ok(reauth_refused(
            "You signed in as someone else",
            &format!(
                "Your company's sign-in answered for {}, not for the person of this console                  session. Nothing was changed: sign in again as yourself.",
                user.email
            ),
        ));
    }
    let Some(upstream_auth_ms) = fresh_auth(&method) else {
        return Ok(reauth_refused(
            "Your sign-in could not be confirmed",
            "Your company's sign-in service did not confirm that it checked who you are just              now (it was asked to, and did not say when it authenticated you). Nothing was              changed. Try again; if this keeps happening, tell your IT administrators that the              hub needs auth_time from the IdP.",
        ));
    };
    let token = random_token().map_err(|_| PageError::Internal)?;
    let renewed = async {
        let tx = state.store.begin().await?;
        if !storage::oidc::reauthenticate_session(
            tx.conn(),
            session.org_id,
            &session.id,
            &hash_token(&token),
            now,
        )
        .await?
        {
            return Ok(false);
        }
        let step_up_method = method_name(&method);
        let event = AuditEvent::new(
            &Actor::User {
                org_id: user.org_id,
                user_id: user.id,
                reauthenticated_at: None,
            },
            AuditAction::SessionReauthenticated,
            format!("session:{}", session.id),
        )
        .org(user.org_id)
        .details(method);
        let record = crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        let step_up = crate::reauth::StepUp {
            session_id: session.id.clone(),
            org_id: session.org_id,
            user_id: user.id,
            at_ms: record.at_ms,
            upstream_auth_ms,
            method: step_up_method,
        };
        storage::reauth::put_step_up(tx.conn(), &step_up).await?;
        tx.commit().await?;
        state.metrics.audit_events.inc();
        Ok::<_, crate::storage::StoreError>(true)
    };
    if !renewed.await? {
        return Err(expired());
    }
    let mut response = crate::console::reauthenticated(&request.params.redirect_uri);
    cookies::set_session(&mut response, state, &token);
    cookies::clear(&mut response, state, AUTH_REQUEST_COOKIE);
    Ok(response)
}

/// The page for a person the application does not admit (no space of it admits them, or it
/// requires one), recorded as a refused sign-in both organizations see.
async fn no_access(
    state: &AppState,
    app: &crate::orgs::model::Application,
    user: &User,
) -> PageResult {
    tracing::info!(app = %app.client_id, user = %user.id, "sign-in refused: no access to the application");
    let event = AuditEvent::new(
        &Actor::User {
            org_id: user.org_id,
            user_id: user.id,
            reauthenticated_at: None,
        },
        AuditAction::LoginRefused,
        format!("application:{}", app.id),
    )
    .org(user.org_id)
    .org(app.org_id)
    .details(
        json!({"reason": "no space of the application admits the person",
        "client_id": app.client_id}),
    );
    let tx = state.store.begin().await?;
    state.commit_audited(tx, event).await?;
    Err(PageError::page(
        StatusCode::FORBIDDEN,
        &format!("You do not have access to {}.", app.name),
        "Access for people of your organization comes through a shared space. Ask your \
         organization's administrators, or the application's owner, to invite you.",
    ))
}

/// Signs a person in to the hub alone, with no application waiting (an IdP-initiated SAML
/// sign-in): the session lets their applications sign them in without asking again.
pub async fn sign_in_to_hub(
    state: &AppState,
    org: &Organization,
    user: &User,
    method: serde_json::Value,
) -> PageResult {
    let (_, token) = open_session(state, user, method, None)
        .await?
        .ok_or(PageError::Internal)?;
    let mut response = pages::page(
        StatusCode::OK,
        "Signed in",
        html! {
            h1 { "You are signed in" }
            p {
                (org.name) " signed you in to the hub as " (user.email) ". Open the application \
                 you want to use; it will not ask you to sign in again."
            }
        },
    );
    cookies::set_session(&mut response, state, &token);
    Ok(response)
}
