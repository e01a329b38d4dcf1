//! `/api/v1/orgs/{org}/operator-requests` and `/break-glass`: the operator's changes to an
//! organization that has its own admin wait there for that admin (approve or reject), and the
//! operator's break-glass windows are listed there for the organization to review.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::ms_to_rfc3339;
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::orgs::model::{
    BreakGlass, OpenBreakGlass, OperatorRequest, RequestStatus, ReviewBreakGlass,
};
use crate::orgs::operator;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `api_key.create`, `roles.set`, `domain.attest`, `domain.remove`, `user.create`,
    /// `user.update`, `directory.create`, `directory.update` or `scim_token.create`.
    pub kind: &'static str,
    /// The change as the operator asked it.
    #[schema(value_type = Object)]
    pub change: Value,
    #[schema(value_type = Object)]
    pub requested_by: Value,
    pub status: RequestStatus,
    pub created_at: String,
    pub decided_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub decided_by: Option<Value>,
    /// In the answer that approved it: what was made (a key's secret, shown this once).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
}

impl From<OperatorRequest> for RequestView {
    fn from(r: OperatorRequest) -> Self {
        Self {
            id: r.id.to_string(),
            kind: r.kind.as_str(),
            change: r.payload,
            requested_by: r.requested_by,
            status: r.status,
            created_at: ms_to_rfc3339(r.created_at),
            decided_at: r.decided_at.map(ms_to_rfc3339),
            decided_by: r.decided_by,
            result: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BreakGlassView {
    pub id: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub opened_by: Value,
    pub opened_at: String,
    pub ends_at: String,
    pub reviewed_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub reviewed_by: Option<Value>,
    pub review_note: Option<String>,
}

impl From<BreakGlass> for BreakGlassView {
    fn from(b: BreakGlass) -> Self {
        Self {
            id: b.id.to_string(),
            reason: b.reason,
            opened_by: b.opened_by,
            opened_at: ms_to_rfc3339(b.opened_at),
            ends_at: ms_to_rfc3339(b.ends_at),
            reviewed_at: b.reviewed_at.map(ms_to_rfc3339),
            reviewed_by: b.reviewed_by,
            review_note: b.review_note,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/operator-requests", tag = "operator",
    params(("org" = String, Path)),
    responses((status = 200, body = [RequestView]), (status = 404, body = Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    let list = operator::requests(&state, &ctx).await?;
    Ok(Json(list.into_iter().map(RequestView::from).collect()))
}

/// The organization's own admin approves: the change is made in their name (a key's secret is
/// in this answer, once).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/operator-requests/{request_id}/approve", tag = "operator",
    params(("org" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = RequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_request(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<RequestView>, ApiError> {
    let r = operator::decide(&state, &ctx, &id, true).await?;
    let result = operator::apply(&state, &ctx, &r).await?;
    let mut view = RequestView::from(r);
    view.result = Some(result);
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/operator-requests/{request_id}/reject", tag = "operator",
    params(("org" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = RequestView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reject_request(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<RequestView>, ApiError> {
    Ok(Json(
        operator::decide(&state, &ctx, &id, false).await?.into(),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/break-glass", tag = "operator",
    params(("org" = String, Path)),
    responses((status = 200, body = [BreakGlassView]), (status = 404, body = Problem)))]
pub async fn list_break_glass(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<BreakGlassView>>, ApiError> {
    let list = operator::break_glasses(&state, &ctx).await?;
    Ok(Json(list.into_iter().map(BreakGlassView::from).collect()))
}

/// The operator opens a break-glass window: its changes apply without the organization's
/// approval until it ends; the organization's admins are told at once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/break-glass", tag = "operator",
    request_body = OpenBreakGlass, params(("org" = String, Path)),
    responses((status = 201, body = BreakGlassView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn open_break_glass(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<OpenBreakGlass>,
) -> Result<(StatusCode, Json<BreakGlassView>), ApiError> {
    let b = operator::open_break_glass(&state, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(b.into())))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/break-glass/{window_id}/review", tag = "operator",
    request_body = ReviewBreakGlass, params(("org" = String, Path), ("window_id" = String, Path)),
    responses((status = 200, body = BreakGlassView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn review_break_glass(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<ReviewBreakGlass>,
) -> Result<Json<BreakGlassView>, ApiError> {
    Ok(Json(
        operator::review_break_glass(&state, &ctx, &id, input)
            .await?
            .into(),
    ))
}
