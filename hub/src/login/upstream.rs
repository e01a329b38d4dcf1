//! Signing in through an organization's own identity provider: home-realm discovery, the
//! redirect to the IdP with a `state` bound to the browser, the callback, and linking the
//! upstream identity to a hub user under the organization's rules.
//!
//! Refusals show a page that names the company and whom to ask; the technical reason goes to
//! the log and the audit trail (`login.refused`), never to the page.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use connectors::{CallbackParams, ConnectorState, UpstreamIdentity};
use serde_json::json;

use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::federation::model::{
    Connection, ConnectionKind, ConnectionStatus, Refusal, UpstreamLogin,
};
use crate::login::pages;
use crate::oidc::model::AuthRequest;
use crate::orgs::model::Organization;
use crate::secrets::{hash_token, random_token};
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// Where every OIDC IdP sends people back (register it at the IdP).
pub const CALLBACK_PATH: &str = "/login/oidc/callback";
/// How long an upstream login may take.
const UPSTREAM_TTL_MS: i64 = 10 * 60 * 1000;
const STATE_CONTEXT: &str = "upstream_login.state";

pub fn callback_url(state: &AppState) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        state.config.server.public_url.trim_end_matches('/')
    )
}

/// The connector for `conn`, or the page saying the company's IdP cannot be reached.
async fn connector_or_page(
    state: &AppState,
    org: &Organization,
    conn: &Connection,
) -> Result<connectors::oidc::OidcConnector, Response> {
    crate::federation::oidc::connector(state, conn)
        .await
        .map_err(|e| {
            tracing::warn!(connection = %conn.id, error = %e, "upstream IdP unavailable");
            pages::error(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "{}'s sign-in service cannot be reached right now.",
                    org.name
                ),
                &format!(
                    "Please try again later. If it keeps happening, tell {}'s IT administrators.",
                    org.name
                ),
            )
        })
}

pub(super) fn internal_error() -> Response {
    pages::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The hub could not handle this sign-in.",
        "Please try again in a moment.",
    )
}

/// Whether the pending sign-in must be a fresh authentication at the IdP rather than an answer
/// from the IdP's own session: the console's re-authentication asks for it (`prompt=login`,
/// `max_age=0`), as may an application (OIDC Core §3.1.2.1). The hub has no credentials of
/// its own to check, so the IdP is asked to check them again.
pub fn wants_fresh(request: &AuthRequest) -> bool {
    request.params.prompt.iter().any(|p| p == "login") || request.params.max_age == Some(0)
}

/// How a sign-in that had to be fresh is recorded in `method` (the session's audit details):
/// `fresh` and the IdP's own time of authentication, when the IdP said it (the connector has
/// checked that it is not older than the sign-in). Without that time nothing is claimed.
pub(super) fn mark_fresh(method: &mut serde_json::Value, upstream_auth_ms: Option<i64>) {
    if let Some(at) = upstream_auth_ms {
        method["fresh"] = json!(true);
        method["upstream_auth_time"] = json!(at);
    }
}

/// Starts the upstream login: records the state bound to this browser's pending request and
/// sends the browser to the IdP.
pub async fn start(
    state: &AppState,
    request: &AuthRequest,
    org: &Organization,
    conn: &Connection,
    login_hint: Option<&str>,
) -> Response {
    if conn.kind == ConnectionKind::Saml {
        return super::saml::start(state, request, org, conn).await;
    }
    let connector = match connector_or_page(state, org, conn).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let Ok(upstream_state) = random_token() else {
        return internal_error();
    };
    let freshness = if wants_fresh(request) {
        connectors::oidc::Freshness::Fresh
    } else {
        connectors::oidc::Freshness::Any
    };
    let (url, flow) = match connector.authorization_url(
        &callback_url(state),
        &upstream_state,
        login_hint,
        freshness,
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(connection = %conn.id, error = %e, "could not build the IdP URL");
            return internal_error();
        }
    };
    let recorded = record(
        state,
        request,
        conn,
        &upstream_state,
        request.browser_hash.clone(),
        (STATE_CONTEXT, flow.as_bytes()),
    )
    .await;
    if let Err(page) = recorded {
        return page;
    }
    tracing::info!(org = %org.slug, connection = %conn.name, "sending the browser to the upstream IdP");
    Redirect::to(&url).into_response()
}

/// Whether the browser carries the cookie `login` was bound to.
pub(super) fn same_browser(headers: &HeaderMap, cookie: &str, login: &UpstreamLogin) -> bool {
    crate::login::cookies::get(headers, cookie).is_some_and(|b| {
        crate::secrets::ct_eq(hash_token(&b).as_bytes(), login.browser_hash.as_bytes())
    })
}

/// Records an upstream login in flight: its state hashed, bound to `browser_hash`, the
/// connector's own state sealed under `context`; good for ten minutes.
pub(super) async fn record(
    state: &AppState,
    request: &AuthRequest,
    conn: &Connection,
    upstream_state: &str,
    browser_hash: String,
    (context, connector_state): (&str, &[u8]),
) -> Result<(), Response> {
    let sealed = state
        .secrets
        .seal(context, connector_state)
        .map_err(|_| internal_error())?;
    let now = state.clock.now_ms();
    let login = UpstreamLogin {
        state_hash: hash_token(upstream_state),
        org_id: conn.org_id,
        connection_id: conn.id,
        auth_request_id: request.id.clone(),
        browser_hash,
        connector_state: sealed,
        created_at: now,
        expires_at: now + UPSTREAM_TTL_MS,
    };
    storage::connections::insert_upstream_login(state.store.conn(), &login)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not record the upstream login");
            internal_error()
        })
}

/// Records a refused sign-in and shows the page. Where an IdP vouched for an identity, the
/// refusal is audited on its own (the organization sees it); where nobody did (a forged or
/// replayed callback, a junk post), it is counted and summarised once per window.
pub(super) async fn refuse(
    state: &AppState,
    org: Option<&Organization>,
    conn: Option<&Connection>,
    identity: Option<&UpstreamIdentity>,
    refusal: Refusal,
) -> Response {
    state
        .metrics
        .upstream_login(conn.map_or("unknown", |c| c.kind.as_str()), "refused");
    let target = conn
        .map(|c| format!("connection:{}", c.id))
        .unwrap_or_else(|| "connection:unknown".into());
    if identity.is_none() {
        let surface = match conn.map(|c| c.kind) {
            Some(ConnectionKind::Saml) => "saml_acs",
            _ => "oidc_callback",
        };
        state.metrics.anonymous_failure(surface);
        state.failures.record(
            state.clock.now_ms(),
            org.map(|o| o.id),
            &target,
            surface,
            &refusal.reason,
        );
        tracing::debug!(org = org.map(|o| o.slug.as_str()), reason = %refusal.reason,
            "anonymous sign-in failure counted");
        return refusal_page(org, &refusal);
    }
    tracing::warn!(
        org = org.map(|o| o.slug.as_str()),
        connection = conn.map(|c| c.name.as_str()),
        reason = %refusal.reason,
        "upstream sign-in refused"
    );
    let mut event = AuditEvent::new(
        &Actor::System {
            component: "federation".into(),
        },
        AuditAction::LoginRefused,
        target,
    )
    .details(json!({
        "reason": refusal.reason,
        "connection": conn.map(|c| c.name.clone()),
        "issuer": identity.map(|i| i.issuer.clone()),
        "subject": identity.map(|i| i.subject.clone()),
        "email": identity.and_then(|i| i.email.clone()),
    }));
    if let Some(o) = org {
        event = event.org(o.id);
    }
    let recorded = async {
        let tx = state.store.begin().await?;
        state.commit_audited(tx, event).await
    };
    if let Err(e) = recorded.await {
        tracing::error!(error = %e, "could not audit a refused sign-in");
    }
    refusal_page(org, &refusal)
}

fn refusal_page(org: Option<&Organization>, refusal: &Refusal) -> Response {
    let whom = match org {
        Some(o) => format!(
            "If you think this is wrong, contact {}'s IT administrators; they can look up what \
             happened in the hub's audit log.",
            o.name
        ),
        None => "Go back to the application and start again.".to_string(),
    };
    pages::error(StatusCode::FORBIDDEN, &refusal.page, &whom)
}

/// `GET /login/oidc/callback`: the IdP sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let expired = || {
        pages::error(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was started in another browser.",
            "Go back to the application and start again.",
        )
    };
    let Some(upstream_state) = params.get("state").filter(|s| s.len() <= 200) else {
        return refuse(
            &state,
            None,
            None,
            None,
            Refusal::new(
                "callback without state",
                "This sign-in could not be completed.",
            ),
        )
        .await;
    };
    let login = async {
        let tx = state.store.begin().await?;
        let l = storage::connections::take_upstream_login(tx.conn(), &hash_token(upstream_state))
            .await?;
        tx.commit().await?;
        Ok::<_, StoreError>(l)
    };
    let login = match login.await {
        Ok(Some(l)) => l,
        Ok(None) => {
            return refuse(
                &state,
                None,
                None,
                None,
                Refusal::new(
                    "callback with a state the hub did not issue or already used",
                    "This sign-in could not be completed: it was not started here, or it was \
                     already used.",
                ),
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "callback: storage error");
            return internal_error();
        }
    };
    let (org, conn) = match (
        storage::organizations::get(state.store.conn(), login.org_id).await,
        storage::connections::get(state.store.conn(), login.org_id, login.connection_id).await,
    ) {
        (Ok(Some(o)), Ok(Some(c))) => (o, c),
        (Ok(_), Ok(_)) => return expired(),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "callback: storage error");
            return internal_error();
        }
    };
    // The state must come back to the browser that started the sign-in (login CSRF).
    if !same_browser(&headers, crate::login::cookies::AUTH_REQUEST_COOKIE, &login) {
        return refuse(
            &state,
            Some(&org),
            Some(&conn),
            None,
            Refusal::new(
                "callback in a browser other than the one that started the sign-in",
                "This sign-in was started in another browser.",
            ),
        )
        .await;
    }
    if login.expires_at <= state.clock.now_ms() {
        return expired();
    }
    if conn.status != ConnectionStatus::Active {
        return refuse(
            &state,
            Some(&org),
            Some(&conn),
            None,
            Refusal::new(
                "the connection is disabled",
                format!(
                    "Sign-in through {} is switched off at the moment.",
                    org.name
                ),
            ),
        )
        .await;
    }
    let request =
        match storage::oidc::get_auth_request(state.store.conn(), &login.auth_request_id).await {
            Ok(Some(r)) if r.expires_at > state.clock.now_ms() => r,
            Ok(_) => return expired(),
            Err(e) => {
                tracing::error!(error = %e, "callback: storage error");
                return internal_error();
            }
        };
    let flow = match state
        .secrets
        .open_bytes(STATE_CONTEXT, &login.connector_state)
    {
        Ok(b) => ConnectorState::new(b),
        Err(_) => return internal_error(),
    };
    let connector = match connector_or_page(&state, &org, &conn).await {
        Ok(c) => c,
        Err(page) => return page,
    };
    let identity = match connector
        .complete(&callback_url(&state), &flow, &CallbackParams(params))
        .await
    {
        Ok(i) => i,
        Err(e) => {
            return refuse(
                &state,
                Some(&org),
                Some(&conn),
                None,
                Refusal::new(
                    e.to_string(),
                    format!(
                        "{}'s sign-in service did not confirm who you are.",
                        org.name
                    ),
                ),
            )
            .await;
        }
    };
    let user = match crate::federation::linking::resolve(&state, &org, &conn, &identity).await {
        Ok(Ok(u)) => u,
        Ok(Err(refusal)) => {
            return refuse(&state, Some(&org), Some(&conn), Some(&identity), refusal).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "callback: storage error");
            return internal_error();
        }
    };
    state.metrics.upstream_login("oidc", "signed_in");
    let mut method = json!({"method": "oidc", "connection": conn.name, "issuer": identity.issuer});
    if wants_fresh(&request) {
        let auth_time = identity
            .raw_claims
            .get("auth_time")
            .and_then(|v| v.as_i64());
        mark_fresh(&mut method, auth_time.map(|s| s.saturating_mul(1000)));
    }
    crate::login::sign_in(&state, &request, &user, method).await
}
