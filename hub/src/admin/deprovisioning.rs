//! `/api/v1/orgs/{org}/leavers`, `/deliveries`, `/deprovisioning`: what compliance checks of the
//! deprovisioning engine. Each leaver with its signal, its time to local revocation and to the
//! last delivery; every outbox delivery with its state (pending, delivered, dead, skipped),
//! attempts and last error; dead deliveries retried by an admin; and the organization's
//! time-to-deprovision summary (p50/p99).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit::{AuditAction, AuditEvent};
use crate::clock::ms_to_rfc3339;
use crate::deprovision::report::{self, Summary};
use crate::deprovision::{Delivery, DeliveryStatus, Leaver};
use crate::error::{ApiError, Problem, ServiceError};
use crate::http::extract::{AppJson, OrgCtx};
use crate::ids::{DeliveryId, LeaverId, UserId};
use crate::state::AppState;
use crate::storage;
use crate::users::{self, DeprovisionUser, UserView};

#[derive(Serialize, ToSchema)]
pub struct LeaverView {
    pub id: String,
    pub user_id: String,
    /// scim, ldap, admin or organization.
    pub source: String,
    pub reason: String,
    /// The user's status afterwards: suspended or deprovisioned.
    pub outcome: String,
    pub signal_at: String,
    pub revoked_at: String,
    /// From the signal to sessions and tokens ended.
    pub revocation_ms: i64,
    pub deliveries: i64,
    pub completed_at: Option<String>,
    /// From the signal to the last delivery done.
    pub completion_ms: Option<i64>,
}

impl From<Leaver> for LeaverView {
    fn from(l: Leaver) -> Self {
        Self {
            id: l.id.to_string(),
            user_id: l.user_id.to_string(),
            source: l.source.as_str().into(),
            reason: l.reason,
            outcome: l.outcome.as_str().into(),
            signal_at: ms_to_rfc3339(l.signal_at),
            revoked_at: ms_to_rfc3339(l.revoked_at),
            revocation_ms: l.revoked_at - l.signal_at,
            deliveries: l.deliveries,
            completed_at: l.completed_at.map(ms_to_rfc3339),
            completion_ms: l.completed_at.map(|c| c - l.signal_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// backchannel_logout, scim or webhook.
    pub kind: String,
    pub application_id: String,
    pub user_id: String,
    pub leaver_id: Option<String>,
    /// pending, delivered, dead or skipped.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// The logout token's `jti` and the webhook's `webhook-id`: the same on every attempt.
    pub idempotency_key: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            kind: d.kind().as_str().into(),
            application_id: d.app_id.to_string(),
            user_id: d.user_id.to_string(),
            leaver_id: d.leaver_id.map(|l| l.to_string()),
            status: d.status.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Pending)
                .then(|| ms_to_rfc3339(d.next_attempt_at)),
            last_error: d.last_error,
            created_at: ms_to_rfc3339(d.created_at),
            delivered_at: d.delivered_at.map(ms_to_rfc3339),
            idempotency_key: d.id.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LeaverQuery {
    /// Only this user's.
    pub user: Option<String>,
    /// At most this many (default 100, at most 1000), newest first.
    pub limit: Option<u64>,
}

fn limit(l: Option<u64>) -> u64 {
    l.unwrap_or(100).clamp(1, 1000)
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/leavers", tag = "deprovisioning",
    params(("org" = String, Path), LeaverQuery),
    responses((status = 200, body = [LeaverView]), (status = 404, body = Problem)))]
pub async fn list_leavers(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Query(q): Query<LeaverQuery>,
) -> Result<Json<Vec<LeaverView>>, ApiError> {
    let user: Option<UserId> = match q.user.as_deref() {
        Some(u) => Some(u.parse().map_err(|_| ServiceError::NotFound("user"))?),
        None => None,
    };
    let rows = storage::leavers::list(state.store.conn(), ctx.org.id, user, limit(q.limit)).await?;
    Ok(Json(rows.into_iter().map(LeaverView::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct LeaverDetail {
    pub leaver: LeaverView,
    pub deliveries: Vec<DeliveryView>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/leavers/{leaver_id}", tag = "deprovisioning",
    params(("org" = String, Path), ("leaver_id" = String, Path)),
    responses((status = 200, body = LeaverDetail), (status = 404, body = Problem)))]
pub async fn get_leaver(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<LeaverDetail>, ApiError> {
    let id: LeaverId = id.parse().map_err(|_| ServiceError::NotFound("leaver"))?;
    let c = state.store.conn();
    let l = storage::leavers::get(c, ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("leaver"))?;
    let deliveries = storage::outbox::list(c, ctx.org.id, None, Some(id), 1000).await?;
    Ok(Json(LeaverDetail {
        leaver: l.into(),
        deliveries: deliveries.into_iter().map(DeliveryView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// pending, delivered, dead or skipped.
    pub status: Option<String>,
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/deliveries", tag = "deprovisioning",
    params(("org" = String, Path), DeliveryQuery),
    responses((status = 200, body = [DeliveryView]), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let status = match q.status.as_deref() {
        Some(s) => Some(s.parse::<DeliveryStatus>().map_err(|_| {
            ServiceError::invalid("status", "must be pending, delivered, dead or skipped")
        })?),
        None => None,
    };
    let rows =
        storage::outbox::list(state.store.conn(), ctx.org.id, status, None, limit(q.limit)).await?;
    Ok(Json(rows.into_iter().map(DeliveryView::from).collect()))
}

/// Puts a dead delivery back in the queue, to be attempted now (and retried as before).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/deliveries/{delivery_id}/retry", tag = "deprovisioning",
    params(("org" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = DeliveryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<DeliveryView>, ApiError> {
    ctx.require_admin()?;
    let id: DeliveryId = id.parse().map_err(|_| ServiceError::NotFound("delivery"))?;
    let tx = state.store.begin().await?;
    let d = storage::outbox::get(tx.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))?;
    if !storage::outbox::retry(tx.conn(), ctx.org.id, id, state.clock.now_ms()).await? {
        return Err(ServiceError::Conflict(format!(
            "only a dead delivery can be retried; this one is {}",
            d.status
        ))
        .into());
    }
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::DeliveryRetried,
        format!("delivery:{id}"),
    )
    .org(ctx.org.id)
    .details(
        json!({"kind": d.kind(), "application": d.app_id, "attempts": d.attempts,
            "last_error": d.last_error}),
    );
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(&state);
    let d = storage::outbox::get(state.store.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))?;
    Ok(Json(d.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// The window, in days back from now (default 30, at most 3660).
    pub days: Option<u32>,
}

/// Time-to-deprovision of the organization's leavers in the window.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/deprovisioning", tag = "deprovisioning",
    params(("org" = String, Path), SummaryQuery),
    responses((status = 200, body = Summary), (status = 404, body = Problem)))]
pub async fn get_summary(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let days = i64::from(q.days.unwrap_or(30).clamp(1, 3660));
    let since = state.clock.now_ms() - days * 86_400_000;
    Ok(Json(report::summary(&state, ctx.org.id, since).await?))
}

#[derive(Serialize, ToSchema)]
pub struct Deprovisioned {
    pub user: UserView,
    #[schema(value_type = Object)]
    pub access_ended: serde_json::Value,
}

/// Deprovisions a user now (offboarding by hand): sessions end, tokens are revoked, every
/// application is told. A directory still listing the person brings them back at its next
/// sync: it is the source of truth.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/users/{user_id}/deprovision", tag = "users",
    request_body = DeprovisionUser, params(("org" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Deprovisioned), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn deprovision_user(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<DeprovisionUser>,
) -> Result<Json<Deprovisioned>, ApiError> {
    let (user, ended) = users::deprovision_by_admin(&state, &ctx, &id, input).await?;
    Ok(Json(Deprovisioned {
        user: user.into(),
        access_ended: ended.details(),
    }))
}
