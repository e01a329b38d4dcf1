//! The web console at `/console`: server-rendered HTML with one small script of progressive
//! enhancement, served by the hub itself (no CDN). People sign in with their own company's
//! IdP through the hub (the same home-realm discovery as an application's sign-in); what they
//! see follows their roles in their own organization, from its directory groups
//! (`orgs::roles`): everyone sees their profile, sessions and applications; a compliance
//! officer also the organization's provisioning state, the audit log with exports and its
//! verification, and the spaces with their access review; an org admin can also answer
//! invitations and withdraw grants. Every page shows the viewer's own organization only.
//! Changes to who can sign in or who belongs need a recent fresh sign-in at the admin's IdP
//! (`reauth`), and overseers see everyone else's such changes as security notices (`notices`).
//!
//! Security: the session cookie is HttpOnly and SameSite=Lax; every form carries a CSRF token
//! derived from the session cookie (which no other site can read) and a POST from another
//! origin is refused; pages forbid framing and anything not served by the hub itself. Pages are
//! maud templates (`html`): every value is escaped where it lands, and links are the hub's own
//! paths.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::json;

use crate::audit::Actor;

use crate::login::cookies::{self, AUTH_REQUEST_COOKIE, SESSION_COOKIE};
use crate::orgs::model::{OrgStatus, Organization};
use crate::orgs::roles::HubRole;
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::{AuthParams, AuthRequest, Session};
use crate::state::AppState;
use crate::storage::{self, StoreError};
use crate::users::{User, UserStatus};
use html::Href;

mod access;
mod audit;
mod html;
mod notices;
mod reauth;
mod reviews;
mod setup;
mod views;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(views::home))
        .route("/console/login", get(login_page).post(start_login))
        .route("/console/login/continue", get(continue_login))
        .route("/console/logout", post(logout))
        .route("/console/sessions/{session}/end", post(views::end_session))
        .route("/console/organization", get(views::organization))
        .route("/console/audit", get(audit::audit))
        .route("/console/audit/export", get(audit::audit_export))
        .route("/console/spaces", get(views::spaces))
        .route("/console/recertification", get(reviews::campaign))
        .route(
            "/console/recertification/{grant}/{side}/{decision}",
            post(reviews::decide),
        )
        .route(
            "/console/invitations/{grant}/{decision}",
            post(views::decide_invitation),
        )
        .route(
            "/console/grants/{grant}/withdraw",
            post(views::withdraw_grant),
        )
        .route("/console/notices/read", post(notices::mark_read))
        .route("/console/reauth", get(reauth::explain).post(reauth::start))
        .route(
            "/console/reauth/resume",
            get(reauth::waiting).post(reauth::resume),
        )
        .route("/console/reauth/discard", post(reauth::discard))
        .route("/console/setup", get(setup::setup))
        .route(
            "/console/setup/connections",
            post(access::create_connection),
        )
        .route(
            "/console/setup/connections/{id}",
            post(access::update_connection),
        )
        .route(
            "/console/setup/connections/{id}/delete",
            post(access::delete_connection),
        )
        .route(
            "/console/setup/connections/{id}/approve",
            post(access::approve_connection),
        )
        .route(
            "/console/setup/connections/{id}/test",
            post(access::test_connection),
        )
        .route("/console/setup/directories", post(access::create_directory))
        .route(
            "/console/setup/directories/{id}",
            post(access::update_directory),
        )
        .route(
            "/console/setup/directories/{id}/tokens",
            post(access::create_token),
        )
        .route(
            "/console/setup/directories/{id}/tokens/{token}/revoke",
            post(access::revoke_token),
        )
        .route(
            "/console/setup/directories/{id}/sync",
            post(access::sync_now),
        )
        .route(
            "/console/setup/directories/{id}/syncs/{sync}/confirm",
            post(access::confirm_sync),
        )
        .route("/console/setup/roles", post(access::set_roles))
        .route(
            "/console/setup/applications",
            post(setup::create_application),
        )
        .route(
            "/console/setup/applications/{id}/secret",
            post(setup::rotate_secret),
        )
        .route(
            "/console/setup/applications/{id}/delete",
            post(setup::delete_application),
        )
        .route("/console/setup/spaces", post(setup::create_space))
        .route(
            "/console/setup/spaces/{space}/delete",
            post(setup::delete_space),
        )
        .route("/console/setup/grants", post(setup::propose_grant))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
}

/// The person looking at the console, in their own organization.
pub struct Viewer {
    pub session: Session,
    /// The session cookie's value (the CSRF token is derived from it).
    token: String,
    pub user: User,
    pub org: Organization,
    pub roles: Vec<HubRole>,
    /// The session's last fresh sign-in at the person's IdP, if any.
    pub step_up: Option<crate::reauth::StepUp>,
    /// For those who oversee: what the operator is doing in the organization, shown on every
    /// page (a break-glass window in force, requests waiting for approval).
    pub operator: OperatorActivity,
}

/// The operator's open break-glass window and pending requests in the viewer's organization.
#[derive(Debug, Clone, Default)]
pub struct OperatorActivity {
    pub break_glass: Option<crate::orgs::model::BreakGlass>,
    pub pending_requests: usize,
}

impl Viewer {
    /// The time of the session's fresh sign-in if it is recent enough at `now_ms` for a change
    /// to who can sign in or who belongs.
    pub fn recent_sign_in(&self, now_ms: i64) -> Option<i64> {
        self.step_up
            .as_ref()
            .filter(|s| s.is_recent(now_ms))
            .map(|s| s.at_ms)
    }

    pub fn is(&self, role: HubRole) -> bool {
        self.roles.contains(&role)
    }

    /// Sees the organization's provisioning state, audit log and spaces.
    pub fn oversees(&self) -> bool {
        self.is(HubRole::OrgAdmin) || self.is(HubRole::ComplianceOfficer)
    }

    pub fn csrf(&self) -> String {
        hash_token(&format!("console-csrf:{}", self.token))
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            org_id: self.org.id,
            user_id: self.user.id,
            reauthenticated_at: None,
        }
    }

    /// The organization context the services take, acting as this person with the power of
    /// an admin key (callers check the role first).
    pub fn ctx(&self) -> crate::access::OrgCtx {
        crate::access::OrgCtx {
            org: self.org.clone(),
            principal: crate::access::Principal::person(
                self.org.clone(),
                self.user.id,
                crate::orgs::model::Role::Admin,
            ),
        }
    }
}

/// The viewer of this request, if a live session of an active person is behind it.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, StoreError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let c = state.store.conn();
    let Some(session) = storage::oidc::session_by_token(c, &hash_token(&token)).await? else {
        return Ok(None);
    };
    if !session.is_live(state.clock.now_ms()) {
        return Ok(None);
    }
    let (Some(user), Some(org)) = (
        storage::users::get(c, session.org_id, session.user_id).await?,
        storage::organizations::get(c, session.org_id).await?,
    ) else {
        return Ok(None);
    };
    if user.status != UserStatus::Active || org.status != OrgStatus::Active {
        return Ok(None);
    }
    let roles = crate::orgs::roles::roles_of(c, &user).await?;
    let step_up = crate::reauth::step_up(state, &session)
        .await?
        .filter(|s| s.user_id == user.id);
    let mut viewer = Viewer {
        session,
        token,
        user,
        org,
        roles,
        step_up,
        operator: OperatorActivity::default(),
    };
    if viewer.oversees() {
        let now = state.clock.now_ms();
        viewer.operator = OperatorActivity {
            break_glass: storage::operator::open_break_glass(c, viewer.org.id, now).await?,
            pending_requests: storage::operator::requests(c, viewer.org.id)
                .await?
                .iter()
                .filter(|r| r.status == crate::orgs::model::RequestStatus::Pending)
                .count(),
        };
    }
    Ok(Some(viewer))
}

/// A POST the viewer meant: the form's CSRF token matches, and the browser says it came from
/// the hub's own origin (when it says anything).
pub fn checked(state: &AppState, headers: &HeaderMap, viewer: &Viewer, csrf: &str) -> bool {
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_none_or(|o| {
            let ours = url::Url::parse(&state.config.server.public_url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            o == ours
        });
    origin_ok && crate::secrets::ct_eq(csrf.as_bytes(), viewer.csrf().as_bytes())
}

// ---- the page frame

const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The sign-in form's submission is redirected on to the person's company IdP, wherever it is
/// (CSP checks a form's redirects too); that page, and the pages whose one form sends the
/// person to sign in again, hold nothing else.
const SIGN_IN_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
                           form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'";

/// A console page: the frame, its navigation by role, and the security headers.
pub fn page(status: StatusCode, viewer: Option<&Viewer>, title: &str, body: Markup) -> Response {
    let html = html! {
        // Raw: maud's constant `<!DOCTYPE html>`.
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Hub console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "Hub console" }
                    @if let Some(v) = viewer { (nav(v)) }
                }
                main #main {
                    @if let Some(v) = viewer { (operator_banner(v)) }
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    secured((status, Html(html.into_string())).into_response())
}

/// The banner that tells an organization's overseers, on every page, that the operator is
/// acting in it without their approval, or waits for it.
fn operator_banner(v: &Viewer) -> Markup {
    let a = &v.operator;
    html! {
        @if let Some(b) = &a.break_glass {
            div.banner.alert role="alert" {
                strong { "The hub operator has a break-glass window open in " (v.org.name) }
                " until " (crate::clock::ms_to_rfc3339(b.ends_at)) ". Reason given: “" (b.reason)
                "”. Changes the operator makes meanwhile apply without your approval and are in "
                a href=(Href::to("/console/audit")) { "the audit log" }
                "; an admin reviews the window afterwards."
            }
        }
        @if a.pending_requests > 0 {
            div.banner role="status" {
                (a.pending_requests) " change(s) asked by the hub operator wait for an admin's "
                "approval (GET /api/v1/orgs/" (v.org.slug) "/operator-requests)."
            }
        }
    }
}

fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not no-referrer: with it browsers send `Origin: null` on the console's own forms.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn nav(v: &Viewer) -> Markup {
    let mut links = vec![("/console", "My account")];
    if v.is(HubRole::OrgAdmin) {
        links.push(("/console/setup", "Setup"));
    }
    if v.oversees() {
        links.push(("/console/organization", "Organization"));
        links.push(("/console/audit", "Audit log"));
        links.push(("/console/spaces", "Spaces"));
        links.push(("/console/recertification", "Recertification"));
    }
    let roles: Vec<&str> = v.roles.iter().map(|r| r.as_str()).collect();
    html! {
        nav aria-label="Console" {
            ul { @for (href, label) in links { li { a href=(Href::to(href)) { (label) } } } }
        }
        div.who {
            (v.user.email) " · " (v.org.name)
            @if !roles.is_empty() { " (" (roles.join(", ")) ")" }
            form method="post" action="/console/logout" class="inline" {
                (csrf_field(v))
                button type="submit" { "Sign out" }
            }
        }
    }
}

pub fn csrf_field(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf()); }
}

/// A plain message page (errors, refusals), in the console's frame.
pub fn message(status: StatusCode, viewer: Option<&Viewer>, title: &str, text: &str) -> Response {
    page(status, viewer, title, html! { p { (text) } })
}

pub fn internal_error() -> Response {
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "Something went wrong",
        "The hub could not show this page. Please try again in a moment.",
    )
}

// ---- signing in

fn login_form(problem: Option<&str>) -> Markup {
    html! {
        @if let Some(problem) = problem {
            p.problem role="alert" { (problem) }
        }
        p {
            "Sign in with your company's own account: enter your work email and the hub sends you \
             to your company's sign-in."
        }
        form method="post" action="/console/login" {
            label for="email" { "Work email" }
            input #email name="email" type="email" autocomplete="username" required;
            button type="submit" { "Continue" }
        }
    }
}

fn sign_in_page(status: StatusCode, problem: Option<&str>) -> Response {
    to_idp(page(status, None, "Sign in", login_form(problem)))
}

/// A page whose form sends the person to their IdP (see [`SIGN_IN_CSP`]).
fn to_idp(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SIGN_IN_CSP),
    );
    r
}

async fn login_page() -> Response {
    sign_in_page(StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
}

/// The sealed work email between the two steps of the console's home-realm discovery.
const REALM_COOKIE: &str = "hub_realm";
const REALM_CONTEXT: &str = "console.realm";

/// `POST /console/login`: the same answer for every well-formed address, on the hub or not (a
/// redirect to the next step, the address sealed in a short-lived cookie), so the answer tells
/// an anonymous caller nothing about which companies are on the hub.
async fn start_login(State(state): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let Ok(email) = connectors::email::Email::parse(f.email.trim_matches(' ')) else {
        return sign_in_page(
            StatusCode::BAD_REQUEST,
            Some("That is not an email address."),
        );
    };
    let Ok(sealed) = state.secrets.seal(
        REALM_CONTEXT,
        email.to_string().to_ascii_lowercase().as_bytes(),
    ) else {
        return internal_error();
    };
    let mut r = Redirect::to("/console/login/continue").into_response();
    cookies::set(&mut r, &state, REALM_COOKIE, &sealed, Some(10 * 60));
    r
}

/// The page for an address whose company the hub does not sign in: it names no company and
/// no domain.
fn no_realm_page() -> Response {
    sign_in_page(
        StatusCode::OK,
        Some(
            "The hub could not send you to your company's sign-in. If your company signs in \
             here, its IT administrators can tell you which address to use.",
        ),
    )
}

/// `GET /console/login/continue`: looks the sealed address up (counted per client address,
/// 429 over `server.realm_lookups_per_ip`) and starts a sign-in for the organization that
/// verified its domain: a pending request bound to this browser, then the hub's sign-in, which
/// sends the person to their IdP.
async fn continue_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: crate::oidc::request::SourceIp,
) -> Response {
    let now = state.clock.now_ms();
    if let Err(wait) = state.realm_throttle.check(None, source.0, now) {
        state.metrics.anonymous_failure("realm_lookup_throttled");
        let mut r = sign_in_page(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many sign-in attempts from your network. Please wait and try again."),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    state.realm_throttle.record_failure(None, source.0, now);
    let email = cookies::get(&headers, REALM_COOKIE)
        .and_then(|c| state.secrets.open(REALM_CONTEXT, &c).ok())
        .map(|e| e.expose().to_string());
    let Some(email) = email else {
        return Redirect::to("/console/login").into_response();
    };
    let Some(domain) = connectors::email::domain_of(&email) else {
        return Redirect::to("/console/login").into_response();
    };
    let c = state.store.conn();
    let org = match storage::domains::verified_owner(c, &domain).await {
        Ok(Some(id)) => storage::organizations::get(c, id).await.ok().flatten(),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "console login: storage error");
            return internal_error();
        }
    };
    let Some(org) = org.filter(|o| o.status == OrgStatus::Active) else {
        let mut r = no_realm_page();
        cookies::clear(&mut r, &state, REALM_COOKIE);
        return r;
    };
    let (Ok(id), Ok(binding)) = (random_token(), random_token()) else {
        return internal_error();
    };
    let request = AuthRequest {
        id: id.clone(),
        org_id: org.id,
        target: crate::sessions::model::AuthTarget::Console,
        browser_hash: hash_token(&binding),
        params: AuthParams {
            client_id: "hub-console".into(),
            redirect_uri: "/console".into(),
            scope: vec!["openid".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            // The console's sign-in is a fresh one at the IdP (its SSO session is not enough):
            // it is what lets an admin change sign-in and directories for five minutes.
            prompt: vec!["login".into()],
            max_age: Some(0),
            login_hint: Some(email),
            domain_hint: None,
            session_id: None,
        },
        created_at: now,
        expires_at: now + 15 * 60 * 1000,
        source: None,
    };
    if let Err(e) = storage::oidc::insert_auth_request(c, &request).await {
        tracing::error!(error = %e, "console login: storage error");
        return internal_error();
    }
    let mut r = Redirect::to(&format!("/login?request={id}")).into_response();
    cookies::set(&mut r, &state, AUTH_REQUEST_COOKIE, &binding, Some(15 * 60));
    cookies::clear(&mut r, &state, REALM_COOKIE);
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Ends the viewer's hub session (their applications get back-channel logout).
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let v = match viewer(&state, &headers).await {
        Ok(Some(v)) => v,
        Ok(None) => return Redirect::to("/console/login").into_response(),
        Err(_) => return internal_error(),
    };
    if !checked(&state, &headers, &v, &f.csrf) {
        return forbidden_post(&v);
    }
    if end(&state, &v, &v.session.id.clone(), "console logout")
        .await
        .is_err()
    {
        return internal_error();
    }
    let mut r = Redirect::to("/console/login").into_response();
    cookies::clear(&mut r, &state, SESSION_COOKIE);
    r
}

pub fn forbidden_post(v: &Viewer) -> Response {
    message(
        StatusCode::FORBIDDEN,
        Some(v),
        "Not done",
        "This form was not sent from the console page it belongs to. Go back and try again.",
    )
}

/// Ends one of the viewer's own sessions, audited, with back-channel logout queued.
pub async fn end(
    state: &AppState,
    v: &Viewer,
    session_id: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    crate::sessions::end_and_notify(
        state,
        (v.org.id, v.user.id),
        session_id,
        reason,
        &v.actor(),
        json!({}),
    )
    .await
}

/// The end of a console sign-in (`oidc::login::sign_in` hands over): the session cookie is
/// set by the caller; the browser goes to the console.
pub fn signed_in() -> Response {
    Redirect::to("/console").into_response()
}

/// The end of a console re-authentication (`oidc::login` hands over, the new session cookie
/// set by the caller): back to the console page the request named.
pub fn reauthenticated(back_to: &str) -> Response {
    reauth::back(back_to)
}

/// A re-authentication that changed nothing (another person, or an IdP that did not confirm a
/// fresh sign-in), in the console's frame.
pub fn reauth_refused(title: &str, text: &str) -> Response {
    reauth::refused(title, text)
}

#[derive(Deserialize)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub after: Option<i64>,
    pub format: Option<String>,
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("console.css"))
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", include_str!("console.js"))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
