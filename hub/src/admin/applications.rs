//! `/api/v1/orgs/{org}/applications`: downstream OIDC clients.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::views::{AppCreated, AppView};
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::orgs::applications::{self, CreateApp, UpdateApp};
use crate::state::AppState;
use crate::storage;

#[utoipa::path(get, path = "/api/v1/orgs/{org}/applications", tag = "applications",
    params(("org" = String, Path)), responses((status = 200, body = [AppView]), (status = 404, body = Problem)))]
pub async fn list_apps(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<AppView>>, ApiError> {
    let list = storage::applications::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(list.into_iter().map(AppView::from).collect()))
}

/// Registers an application; a confidential client's secret is in the answer, once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/applications", tag = "applications",
    request_body = CreateApp, params(("org" = String, Path)),
    responses((status = 201, body = AppCreated), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateApp>,
) -> Result<(StatusCode, Json<AppCreated>), ApiError> {
    let created = applications::create(&state, &ctx, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppCreated {
            application: AppView::from(created.app).with_webhook_secret(created.webhook_secret),
            client_secret: created.client_secret,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/applications/{app_id}", tag = "applications",
    params(("org" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, body = AppView), (status = 404, body = Problem)))]
pub async fn get_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<AppView>, ApiError> {
    Ok(Json(applications::get(&state, &ctx, &id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/orgs/{org}/applications/{app_id}", tag = "applications",
    request_body = UpdateApp, params(("org" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, body = AppView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<UpdateApp>,
) -> Result<Json<AppView>, ApiError> {
    let (app, webhook_secret) = applications::update(&state, &ctx, &id, input).await?;
    Ok(Json(AppView::from(app).with_webhook_secret(webhook_secret)))
}

/// Issues a new client secret; the old one stops working at once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/applications/{app_id}/secret", tag = "applications",
    params(("org" = String, Path), ("app_id" = String, Path)),
    responses((status = 200, body = AppCreated), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rotate_app_secret(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<AppCreated>, ApiError> {
    let (app, secret) = applications::rotate_secret(&state, &ctx, &id).await?;
    Ok(Json(AppCreated {
        application: app.into(),
        client_secret: Some(secret),
    }))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/applications/{app_id}", tag = "applications",
    params(("org" = String, Path), ("app_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_app(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    applications::delete(&state, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
