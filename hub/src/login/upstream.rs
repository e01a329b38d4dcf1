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
use crate::login::pages::{self, PageError, PageResult};
use crate::orgs::model::Organization;
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::AuthRequest;
use crate::state::AppState;
use crate::storage;

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
) -> PageResult<connectors::oidc::OidcConnector> {
    crate::federation::oidc::connector(state, conn)
        .await
        .map_err(|e| {
            tracing::warn!(connection = %conn.id, error = %e, "upstream IdP unavailable");
            PageError::page(
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
) -> PageResult {
    if conn.kind == ConnectionKind::Saml {
        return super::saml::start(state, request, org, conn).await;
    }
    let connector = connector_or_page(state, org, conn).await?;
    let upstream_state = random_token().map_err(|_| PageError::Internal)?;
    let freshness = if wants_fresh(request) {
        connectors::oidc::Freshness::Fresh
    } else {
        connectors::oidc::Freshness::Any
    };
    let (url, flow) = connector
        .authorization_url(&callback_url(state), &upstream_state, login_hint, freshness)
        .map_err(|e| {
            tracing::error!(connection = %conn.id, error = %e, "could not build the IdP URL");
            PageError::Internal
        })?;
    record(
        state,
        request,
        conn,
        &upstream_state,
        request.browser_hash.clone(),
        (STATE_CONTEXT, flow.as_bytes()),
    )
    .await?;
    tracing::info!(org = %org.slug, connection = %conn.name, "sending the browser to the upstream IdP");
    Ok(Redirect::to(&url).into_response())
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
) -> PageResult<()> {
    let sealed = state
        .secrets
        .seal(context, connector_state)
        .map_err(|_| PageError::Internal)?;
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
    storage::connections::insert_upstream_login(state.store.conn(), &login).await?;
    Ok(())
}

/// The refusal of a sign-in through a connection that is switched off.
pub(super) fn switched_off(org: &Organization) -> Refusal {
    Refusal::new(
        "the connection is disabled",
        format!(
            "Sign-in through {} is switched off at the moment.",
            org.name
        ),
    )
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
) -> PageError {
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
        return PageError::Page(refusal_page(org, &refusal));
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
    PageError::Page(refusal_page(org, &refusal))
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
) -> PageResult {
    let expired = || {
        PageError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was started in another browser.",
            "Go back to the application and start again.",
        )
    };
    let Some(upstream_state) = params.get("state").filter(|s| s.len() <= 200) else {
        return Err(refuse(
            &state,
            None,
            None,
            None,
            Refusal::new(
                "callback without state",
                "This sign-in could not be completed.",
            ),
        )
        .await);
    };
    let tx = state.store.begin().await?;
    let login =
        storage::connections::take_upstream_login(tx.conn(), &hash_token(upstream_state)).await?;
    tx.commit().await?;
    let Some(login) = login else {
        return Err(refuse(
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
        .await);
    };
    let c = state.store.conn();
    let (Some(org), Some(conn)) = (
        storage::organizations::get(c, login.org_id).await?,
        storage::connections::get(c, login.org_id, login.connection_id).await?,
    ) else {
        return Err(expired());
    };
    // The state must come back to the browser that started the sign-in (login CSRF).
    if !same_browser(&headers, crate::login::cookies::AUTH_REQUEST_COOKIE, &login) {
        return Err(refuse(
            &state,
            Some(&org),
            Some(&conn),
            None,
            Refusal::new(
                "callback in a browser other than the one that started the sign-in",
                "This sign-in was started in another browser.",
            ),
        )
        .await);
    }
    if login.expires_at <= state.clock.now_ms() {
        return Err(expired());
    }
    if conn.status != ConnectionStatus::Active {
        return Err(refuse(&state, Some(&org), Some(&conn), None, switched_off(&org)).await);
    }
    let request = match storage::oidc::get_auth_request(c, &login.auth_request_id).await? {
        Some(r) if r.expires_at > state.clock.now_ms() => r,
        _ => return Err(expired()),
    };
    let flow = state
        .secrets
        .open_bytes(STATE_CONTEXT, &login.connector_state)
        .map(ConnectorState::new)
        .map_err(|_| PageError::Internal)?;
    let connector = connector_or_page(&state, &org, &conn).await?;
    let identity = match connector
        .complete(&callback_url(&state), &flow, &CallbackParams(params))
        .await
    {
        Ok(i) => i,
        Err(e) => {
            return Err(refuse(
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
            .await);
        }
    };
    let user = match crate::federation::linking::resolve(&state, &org, &conn, &identity).await? {
        Ok(u) => u,
        Err(refusal) => {
            return Err(refuse(&state, Some(&org), Some(&conn), Some(&identity), refusal).await);
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
