//! `/api/v1/orgs/{org}/api-keys`: an organization's own admin and read-only keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::views::{KeyCreated, KeyView};
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::orgs::api_keys::{self, CreateKey};
use crate::state::AppState;
use crate::storage;

#[utoipa::path(get, path = "/api/v1/orgs/{org}/api-keys", tag = "api-keys",
    params(("org" = String, Path)), responses((status = 200, body = [KeyView]), (status = 404, body = Problem)))]
pub async fn list_keys(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let list = storage::api_keys::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(list.into_iter().map(KeyView::from).collect()))
}

/// Creates a key; its secret is in the answer, once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/api-keys", tag = "api-keys", request_body = CreateKey,
    params(("org" = String, Path)),
    responses((status = 201, body = KeyCreated), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_key(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateKey>,
) -> Result<(StatusCode, Json<KeyCreated>), ApiError> {
    let (key, secret) = api_keys::create(&state, &ctx, input, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            key: key.into(),
            secret,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/api-keys/{key_id}", tag = "api-keys",
    params(("org" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = KeyView), (status = 404, body = Problem)))]
pub async fn get_key(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(api_keys::get(&state, &ctx, &id).await?.into()))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/api-keys/{key_id}", tag = "api-keys",
    params(("org" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = KeyView), (status = 404, body = Problem)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<KeyView>, ApiError> {
    Ok(Json(api_keys::revoke(&state, &ctx, &id).await?.into()))
}
