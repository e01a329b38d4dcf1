//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): validate the request, reuse a
//! live hub session or send the person to sign in, then return a single-use code with `state`
//! and `iss` (RFC 9207). Until the client and its exact redirect URI are established, errors are
//! shown as a page and never redirected (RFC 6749 §4.1.2.1). PKCE is required unless the
//! application turned it off (never for public clients). Requests waiting for a sign-in are
//! bounded per client and per address and expire (`oidc.auth_request_ttl_secs`).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;

use super::request::SourceIp;
use super::tokens::SCOPES;
use crate::login::cookies::{self, AUTH_REQUEST_COOKIE, SESSION_COOKIE};
use crate::login::pages;
use crate::orgs::model::{Application, ClientType, OrgStatus};
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::{AuthParams, AuthRequest, AuthTarget, Code, Session};
use crate::state::AppState;
use crate::storage;
use crate::users::UserStatus;

/// Appends query parameters to a registered redirect URI (unchanged when there are none: no
/// trailing `?`).
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return uri.to_string();
    }
    let mut url = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(_) => return uri.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

pub(crate) struct Redirectable<'a> {
    state: &'a AppState,
    redirect_uri: &'a str,
    client_state: Option<&'a str>,
}

impl<'a> Redirectable<'a> {
    /// Errors for the request `params` describe (its client and redirect URI are established).
    pub(crate) fn new(state: &'a AppState, params: &'a AuthParams) -> Self {
        Self {
            state,
            redirect_uri: &params.redirect_uri,
            client_state: params.state.as_deref(),
        }
    }

    /// An error sent back to the client (RFC 6749 §4.1.2.1), with `iss` (RFC 9207).
    pub(crate) fn error(&self, error: &str, description: &str) -> Response {
        let iss = self.state.config.server.public_url.as_str();
        let mut params = vec![
            ("error", error),
            ("error_description", description),
            ("iss", iss),
        ];
        if let Some(s) = self.client_state {
            params.push(("state", s));
        }
        Redirect::to(&with_params(self.redirect_uri, &params)).into_response()
    }
}

/// The query (GET) or form (POST): every value of each parameter (empty ones count as
/// omitted, RFC 6749 §3.1), so that a repeated one can be refused.
fn multi_valued(pairs: Vec<(String, String)>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
        out.entry(k).or_default().push(v);
    }
    out
}

pub async fn get_authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    authorize(&state, &headers, source, pairs).await
}

pub async fn post_authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        tracing::info!("authorization request POSTed without a form body");
        return pages::error(StatusCode::BAD_REQUEST, UNKNOWN_APP, ASK_APP_OWNER);
    }
    let pairs = url::form_urlencoded::parse(&body).into_owned().collect();
    authorize(&state, &headers, source, pairs).await
}

const UNKNOWN_APP: &str = "The application that sent you here is not registered at the hub, or sent you with a wrong address.";
const ASK_APP_OWNER: &str =
    "Please tell the people who run that application; the hub's log has the details.";

async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    source: SourceIp,
    pairs: Vec<(String, String)>,
) -> Response {
    let q = multi_valued(pairs);
    // A repeated parameter has no value here; it is refused once the client is known.
    let get = |k: &str| match q.get(k).map(Vec::as_slice) {
        Some([v]) => Some(v.as_str()),
        _ => None,
    };
    let Some(client_id) = get("client_id").filter(|c| c.len() <= 200) else {
        return pages::error(StatusCode::BAD_REQUEST, UNKNOWN_APP, ASK_APP_OWNER);
    };
    let app = match state.clients.find(&state.store, client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            tracing::info!(client_id, "authorization request for an unknown client");
            return pages::error(StatusCode::BAD_REQUEST, UNKNOWN_APP, ASK_APP_OWNER);
        }
        Err(e) => return pages::PageError::from(e).into_response(),
    };
    // Exact string match (RFC 9700 §4.1.3): no prefix, case or normalization tolerance.
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| app.redirect_uris.iter().any(|u| u == r))
    else {
        tracing::warn!(client_id, redirect_uri = ?get("redirect_uri"), "redirect_uri does not match a registered one");
        return pages::error(StatusCode::BAD_REQUEST, UNKNOWN_APP, ASK_APP_OWNER);
    };
    let client_state = get("state");
    let back = Redirectable {
        state,
        redirect_uri,
        client_state,
    };
    if client_state.is_some_and(|s| s.len() > 2048) {
        return back.error("invalid_request", "state is too long");
    }
    // RFC 6749 §3.1: parameters MUST NOT be included more than once.
    if let Some((name, _)) = q.iter().find(|(_, v)| v.len() > 1) {
        let name: String = name.chars().take(40).collect();
        tracing::info!(client_id, param = %name, "authorization request repeats a parameter");
        return back.error(
            "invalid_request",
            &format!("{name} is sent more than once (RFC 6749 §3.1)"),
        );
    }
    if get("response_type") != Some("code") {
        return back.error(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if get("request").is_some() {
        return back.error("request_not_supported", "request objects are not supported");
    }
    if get("request_uri").is_some() {
        return back.error("request_uri_not_supported", "request_uri is not supported");
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return back.error("invalid_request", "only response_mode=query is supported");
    }
    let requested: Vec<&str> = get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if !requested.contains(&"openid") {
        return back.error("invalid_scope", "the openid scope is required");
    }
    let mut scope: Vec<String> = Vec::new();
    for s in SCOPES {
        if requested.contains(s) {
            scope.push((*s).to_string());
        }
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(c), Some("S256"))
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(c.to_string())
        }
        (Some(_), Some("S256")) => {
            return back.error(
                "invalid_request",
                "code_challenge must be a base64url SHA-256 (43 characters)",
            );
        }
        (Some(_), _) => return back.error("invalid_request", "code_challenge_method must be S256"),
        (None, Some(_)) => {
            return back.error(
                "invalid_request",
                "code_challenge_method without code_challenge",
            );
        }
        (None, None) if app.client_type == ClientType::Public || app.require_pkce => {
            return back.error(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256 (RFC 7636)",
            );
        }
        (None, None) => None,
    };
    let prompt: Vec<String> = get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if prompt
        .iter()
        .any(|p| !["none", "login", "consent", "select_account"].contains(&p.as_str()))
    {
        return back.error("invalid_request", "unknown prompt value");
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return back.error("invalid_request", "prompt=none cannot be combined");
    }
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => return back.error("invalid_request", "max_age must be a non-negative integer"),
    };
    let nonce = get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return back.error("invalid_request", "nonce is too long");
    }
    let login_hint = get("login_hint")
        .filter(|h| h.len() <= 320)
        .map(str::to_string);
    let domain_hint = get("domain_hint")
        .filter(|h| h.len() <= 253)
        .map(|h| h.trim().to_ascii_lowercase());
    let params = AuthParams {
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope,
        state: client_state.map(str::to_string),
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
        domain_hint,
        session_id: None,
    };
    match storage::organizations::get(state.store.conn(), app.org_id).await {
        Ok(Some(o)) if o.status == OrgStatus::Active => {}
        Ok(_) => {
            return back.error(
                "access_denied",
                "the application's organization is suspended",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "authorize: storage error");
            return back.error("server_error", "internal error");
        }
    }

    let now = state.clock.now_ms();
    let force_login = params.prompt.iter().any(|p| p == "login");
    match current_session(state, headers, &app).await {
        Ok(Some(session))
            if !force_login
                && params
                    .max_age
                    .is_none_or(|m| now - session.auth_time <= m * 1000) =>
        {
            if params.prompt.iter().any(|p| p == "select_account") {
                return super::interaction::chooser_page(state, &app, &session, &params).await;
            }
            return finish(state, &app, &session, &params).await;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "authorize: storage error");
            return back.error("server_error", "internal error");
        }
    }
    if params.prompt.iter().any(|p| p == "none") {
        return back.error("login_required", "the person must sign in");
    }
    // Sign in first; the request waits, bound to this browser.
    let (id, binding) = match keep_pending(state, &app, params, Some(source)).await {
        Ok(v) => v,
        Err(response) => return response,
    };
    let mut response = Redirect::to(&format!("/login?request={id}")).into_response();
    set_binding(&mut response, state, &binding);
    response
}

/// Sets the cookie that binds a pending request to this browser.
pub(crate) fn set_binding(response: &mut Response, state: &AppState, binding: &str) {
    let ttl = state.config.oidc.auth_request_ttl_secs;
    cookies::set(response, state, AUTH_REQUEST_COOKIE, binding, Some(ttl));
}

/// Stores `params` as a request waiting for this browser; returns its id and the browser's
/// binding (for `set_binding`). A request from `source` (a new sign-in, not a page of one
/// already signed in) is refused with `temporarily_unavailable` when its client or its address
/// has too many pending; expired requests are purged first.
pub(crate) async fn keep_pending(
    state: &AppState,
    app: &Application,
    params: AuthParams,
    source: Option<SourceIp>,
) -> Result<(String, String), Response> {
    let back = Redirectable::new(state, &params);
    let internal = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "authorize: storage error");
        back.error("server_error", "internal error")
    };
    let (Ok(id), Ok(binding)) = (random_token(), random_token()) else {
        return Err(back.error("server_error", "internal error"));
    };
    let now = state.clock.now_ms();
    let cfg = &state.config.oidc;
    let source_key = source.and_then(|s| s.storage_key());
    if let Some(source) = source {
        let c = state.store.conn();
        if let Err(e) = storage::oidc::purge_auth_requests(c, now).await {
            return Err(internal(&e));
        }
        let counts =
            storage::oidc::pending_auth_requests(c, app.org_id, app.id, source_key.as_deref(), now)
                .await;
        let (of_client, of_source) = match counts {
            Ok(v) => v,
            Err(e) => return Err(internal(&e)),
        };
        let refused = if of_source >= cfg.max_pending_auth_requests_per_ip {
            Some("per_ip")
        } else if of_client >= cfg.max_pending_auth_requests_per_client {
            Some("per_client")
        } else {
            None
        };
        if let Some(reason) = refused {
            state.metrics.authorization_request_refused(reason);
            tracing::warn!(client_id = %app.client_id, ip = ?source.0, reason, "too many pending authorization requests");
            return Err(back.error(
                "temporarily_unavailable",
                "too many sign-ins are waiting to be finished; try again later",
            ));
        }
    }
    let ttl_ms = i64::try_from(cfg.auth_request_ttl_secs)
        .unwrap_or(900)
        .saturating_mul(1000);
    let request = AuthRequest {
        id: id.clone(),
        org_id: app.org_id,
        target: AuthTarget::App(app.id),
        browser_hash: hash_token(&binding),
        params: params.clone(),
        created_at: now,
        expires_at: now.saturating_add(ttl_ms),
        source: source_key,
    };
    match storage::oidc::insert_auth_request(state.store.conn(), &request).await {
        Ok(()) => Ok((id, binding)),
        Err(e) => Err(internal(&e)),
    }
}

/// The live hub session of this browser, if it belongs to a person who may use `app`.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
    app: &Application,
) -> Result<Option<Session>, crate::storage::StoreError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) =
        storage::oidc::session_by_token(state.store.conn(), &hash_token(&token)).await?
    else {
        return Ok(None);
    };
    if !session.is_live(state.clock.now_ms()) {
        return Ok(None);
    }
    let user = storage::users::get(state.store.conn(), session.org_id, session.user_id).await?;
    let Some(user) = user.filter(|u| u.status == UserStatus::Active) else {
        return Ok(None);
    };
    // The person's own organization's applications, or another's through a space.
    Ok(crate::spaces::may_use(state.store.conn(), app, &user)
        .await?
        .admitted
        .then_some(session))
}

/// Issues the code for `params` in `session` and sends the browser back to the client; with
/// `prompt=consent`, asks the person first.
pub async fn finish(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Response {
    if params.prompt.iter().any(|p| p == "consent") {
        return super::interaction::consent_page(state, app, session, params).await;
    }
    let back = Redirectable::new(state, params);
    match issue_code(state, app, session, params).await {
        Ok(code) => {
            let iss = state.config.server.public_url.as_str();
            let mut q = vec![("code", code.as_str()), ("iss", iss)];
            if let Some(s) = params.state.as_deref() {
                q.push(("state", s));
            }
            let mut r = Redirect::to(&with_params(&params.redirect_uri, &q)).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "could not issue an authorization code");
            back.error("server_error", "internal error")
        }
    }
}

async fn issue_code(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Result<String, crate::error::ServiceError> {
    let code = random_token()?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    storage::oidc::insert_code(
        tx.conn(),
        &Code {
            code_hash: hash_token(&code),
            // The person's organization: codes and tokens are theirs (an application of another
            // organization reaches them through a space).
            org_id: session.org_id,
            app_id: app.id,
            grant_id: uuid::Uuid::now_v7().to_string(),
            user_id: session.user_id,
            session_id: session.id.clone(),
            redirect_uri: params.redirect_uri.clone(),
            scope: params.scope.clone(),
            nonce: params.nonce.clone(),
            code_challenge: params.code_challenge.clone(),
            auth_time: session.auth_time,
            created_at: now,
            expires_at: now + (state.config.oidc.code_ttl_secs as i64) * 1000,
            used_at: None,
        },
    )
    .await?;
    storage::oidc::add_session_app(tx.conn(), session.org_id, &session.id, app.id, now).await?;
    let evidence = access_evidence(state, app, session, params);
    let appended = evidence.len() as u64;
    for event in evidence {
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
    }
    tx.commit().await?;
    state.metrics.audit_events.inc_by(appended);
    Ok(code)
}

/// The evidence of a sign-in to `app` (`access.granted`), in the transaction of its code: for
/// the person's organization (who, by the hub's id), and, when the application is another
/// organization's, for its owner (by the `sub` its application was given, never the hub's id).
fn access_evidence(
    state: &AppState,
    app: &Application,
    session: &Session,
    params: &AuthParams,
) -> Vec<crate::audit::AuditEvent> {
    use crate::audit::{Actor, AuditAction, AuditEvent};
    let target = format!("application:{}", app.id);
    let person = Actor::User {
        org_id: session.org_id,
        user_id: session.user_id,
        reauthenticated_at: None,
    };
    let own = AuditEvent::new(&person, AuditAction::AccessGranted, target.clone())
        .org(session.org_id)
        .details(
            serde_json::json!({"application": app.client_id, "owner": app.org_id,
            "auth_time": session.auth_time, "scope": params.scope}),
        );
    if app.org_id == session.org_id {
        return vec![own];
    }
    let sub = crate::spaces::release::subject(state, app, session.org_id, session.user_id);
    let system = Actor::System {
        component: "sign-in".into(),
    };
    let owners = AuditEvent::new(&system, AuditAction::AccessGranted, target)
        .org(app.org_id)
        .details(serde_json::json!({"application": app.client_id, "sub": sub,
            "organization": session.org_id, "auth_time": session.auth_time,
            "scope": params.scope}));
    vec![own, owners]
}
