//! `/api/v1/orgs` and `/api/v1/orgs/{org}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::views::OrgView;
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx, Principal};
use crate::orgs::organizations::{self, CreateOrg, UpdateOrg};
use crate::orgs::roles::RoleGroups;
use crate::state::AppState;

/// Organizations the caller can see: all (operator) or its own.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "organizations",
    responses((status = 200, body = [OrgView]), (status = 401, body = Problem)))]
pub async fn list_orgs(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<OrgView>>, ApiError> {
    let orgs = organizations::list(&state, &principal).await?;
    Ok(Json(orgs.into_iter().map(OrgView::from).collect()))
}

/// Creates an organization (operator only).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "organizations", request_body = CreateOrg,
    responses((status = 201, body = OrgView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_org(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(input): AppJson<CreateOrg>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    principal.require_whole_hub()?;
    let org = organizations::create(&state, &principal.actor(), input).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}", tag = "organizations",
    params(("org" = String, Path, description = "slug or id")),
    responses((status = 200, body = OrgView), (status = 404, body = Problem)))]
pub async fn get_org(ctx: OrgCtx) -> Json<OrgView> {
    Json(ctx.org.into())
}

/// Renames an organization; the operator may also suspend or reactivate it.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}", tag = "organizations", request_body = UpdateOrg,
    params(("org" = String, Path, description = "slug or id")),
    responses((status = 200, body = OrgView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<UpdateOrg>,
) -> Result<Json<OrgView>, ApiError> {
    ctx.require_admin()?;
    let org = organizations::update(&state, &ctx.principal, &ctx.org, input).await?;
    Ok(Json(org.into()))
}

/// Which of the organization's directory groups hold the hub's roles in the console.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/roles", tag = "organizations",
    params(("org" = String, Path)), responses((status = 200, body = RoleGroups), (status = 404, body = Problem)))]
pub async fn get_roles(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<RoleGroups>, ApiError> {
    Ok(Json(crate::orgs::roles::get(&state, &ctx).await?))
}

/// Replaces the mapping: `{"org_admin": ["IT-Admins"], "compliance_officer": ["Compliance"]}`.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/roles", tag = "organizations",
    request_body = RoleGroups, params(("org" = String, Path)),
    responses((status = 200, body = RoleGroups), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_roles(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<RoleGroups>,
) -> Result<Json<RoleGroups>, ApiError> {
    Ok(Json(
        crate::orgs::roles::set(&state, &ctx, input, None).await?,
    ))
}
