//! `/api/v1/audit`: the audit log as each party may see it. The operator sees everything; an
//! organization's key sees the events that concern its organization, including the operator's
//! actions on it.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Deserialize;

use super::views::{AuditEventView, AuditPage, CheckpointsView, PublicKeyView, RedactedView};
use crate::audit::operator::record_read;
use crate::audit::{AuditAction, AuditRecord};
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppQuery, OrgCtx, Principal};
use crate::ids::OrgId;
use crate::state::AppState;
use crate::storage::{self, audit::Scope};

const MAX_PAGE: u64 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events with a sequence number above this.
    after: Option<i64>,
    /// Page size, 1-1000 (default 100).
    limit: Option<u64>,
    /// Only this action, e.g. `organization.created`.
    action: Option<String>,
    /// Operator only: the events that concern this organization (slug or id).
    org: Option<String>,
}

async fn scope_for(
    state: &AppState,
    principal: &Principal,
    org: Option<&str>,
) -> Result<Scope, ApiError> {
    let requested = match org {
        Some(name) => Some(
            crate::orgs::organizations::resolve(state.store.conn(), name)
                .await?
                .filter(|o| principal.can_see(o.id))
                .ok_or_else(|| ApiError::not_found("organization"))?
                .id,
        ),
        None => None,
    };
    match (principal.org_id(), requested) {
        (Some(own), _) => Ok(Scope::Org(own)),
        (None, Some(org)) => Ok(Scope::Org(org)),
        (None, None) if principal.sees_all() => Ok(Scope::All),
        (None, None) => Err(ApiError::not_found("organization")),
    }
}

/// Action names are dotted lowercase words; anything else is a malformed query.
fn check_action(action: Option<&str>) -> Result<(), ApiError> {
    match action {
        Some(a)
            if a.is_empty()
                || a.len() > 64
                || !a
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_') =>
        {
            Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                "action must look like organization.created",
            ))
        }
        _ => Ok(()),
    }
}

/// A page of the log, and the organizations its events concern.
async fn page(
    state: &AppState,
    scope: Scope,
    q: &AuditQuery,
) -> Result<(Json<AuditPage>, Vec<OrgId>), ApiError> {
    check_action(q.action.as_deref())?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let records = storage::audit::list(
        state.store.conn(),
        scope,
        q.after.unwrap_or(0),
        limit,
        q.action.as_deref(),
    )
    .await?;
    let next_after = (records.len() as u64 == limit)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    let mut orgs: Vec<OrgId> = Vec::new();
    for o in records.iter().flat_map(|r| &r.orgs) {
        if !orgs.contains(o) {
            orgs.push(*o);
        }
    }
    let page = AuditPage {
        events: records.into_iter().map(AuditEventView::from).collect(),
        next_after,
    };
    Ok((Json(page), orgs))
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let scope = scope_for(&state, &principal, q.org.as_deref()).await?;
    let (listed, shown) = page(&state, scope, &q).await?;
    if principal.is_operator() {
        // Each organization whose events the operator read sees that it read them.
        let orgs = match scope {
            Scope::Org(org) => vec![org],
            Scope::All => shown,
        };
        record_read(&state, &principal, &orgs, "GET /api/v1/audit").await?;
    }
    Ok(listed)
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit", tag = "audit",
    params(("org" = String, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 404, body = Problem)))]
pub async fn list_org_audit(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if q.org.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "the organization is in the path; drop the org parameter",
        ));
    }
    Ok(page(&state, Scope::Org(ctx.org.id), &q).await?.0)
}

/// Events a redacted export shows in full: the organization's own, and the hub's key
/// introductions (public, and needed to check checkpoints).
fn visible_to(r: &AuditRecord, org: OrgId) -> bool {
    r.orgs.contains(&org) || r.action == AuditAction::SigningKeyCreated.as_str()
}

/// Every visible event as JSON Lines, streamed in sequence order. Without `action`, any
/// party's export verifies offline with `hub audit verify --file` (an organization's export
/// carries stubs for events that are not its own).
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(AuditQuery),
    responses((status = 200, content_type = "application/x-ndjson", body = AuditEventView)))]
pub async fn export_audit(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let scope = scope_for(&state, &principal, q.org.as_deref()).await?;
    check_action(q.action.as_deref())?;
    if principal.is_operator() {
        let orgs = match scope {
            Scope::Org(org) => vec![org],
            Scope::All => storage::organizations::list_all(state.store.conn())
                .await?
                .into_iter()
                .map(|o| o.id)
                .collect(),
        };
        record_read(&state, &principal, &orgs, "GET /api/v1/audit/export").await?;
    }
    let action = q.action.clone();
    let start = q.after.unwrap_or(0);
    // Without an action filter, an organization's export is the whole chain with the other
    // organizations' events reduced to stubs, so the organization can verify its part offline.
    let (scope, redact_for) = match (scope, &action) {
        (Scope::Org(org), None) => (Scope::All, Some(org)),
        (scope, _) => (scope, None),
    };
    let body = stream::unfold(Some(start), move |after| {
        let state = state.clone();
        let action = action.clone();
        async move {
            let after = after?;
            match storage::audit::list(
                state.store.conn(),
                scope,
                after,
                MAX_PAGE,
                action.as_deref(),
            )
            .await
            {
                Ok(records) if records.is_empty() => None,
                Ok(records) => {
                    let next = records.last().map(|r| r.seq);
                    let mut out = Vec::new();
                    for r in records {
                        let line = match redact_for {
                            Some(org) if !visible_to(&r, org) => {
                                serde_json::to_writer(&mut out, &RedactedView::from(r))
                            }
                            _ => serde_json::to_writer(&mut out, &AuditEventView::from(r)),
                        };
                        if line.is_ok() {
                            out.push(b'\n');
                        }
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::from(out)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed mid-stream");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// Signed checkpoints of the chain and the public keys that verify them.
#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit",
    responses((status = 200, body = CheckpointsView), (status = 401, body = Problem)))]
pub async fn list_checkpoints(
    State(state): State<AppState>,
    _principal: Principal,
) -> Result<Json<CheckpointsView>, ApiError> {
    let c = state.store.conn();
    let checkpoints = storage::audit::checkpoints(c).await?;
    let mut keys: Vec<PublicKeyView> = Vec::new();
    for cp in &checkpoints {
        if keys.iter().any(|k| k.kid == cp.key_id) {
            continue;
        }
        if let Some(k) = storage::signing_keys::get(c, &cp.key_id).await? {
            keys.push(PublicKeyView {
                kid: k.kid,
                alg: k.alg,
                public_key: k.public_key,
            });
        }
    }
    Ok(Json(CheckpointsView { checkpoints, keys }))
}
