//! `/api/v1/orgs/{org}/users`: an organization's people, for organizations without a directory
//! (and for the development sign-in).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::state::AppState;
use crate::storage;
use crate::users::{self, CreateUser, UpdateUser, UserView};

#[utoipa::path(get, path = "/api/v1/orgs/{org}/users", tag = "users",
    params(("org" = String, Path)), responses((status = 200, body = [UserView]), (status = 404, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let list = storage::users::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(list.into_iter().map(UserView::from).collect()))
}

/// Creates a user; the email must be in one of the organization's verified domains.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/users", tag = "users", request_body = CreateUser,
    params(("org" = String, Path)),
    responses((status = 201, body = UserView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = users::create(&state, &ctx, input, None).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/users/{user_id}", tag = "users",
    params(("org" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(users::get(&state, &ctx, &id).await?.into()))
}

/// Changes a user's name or groups, or suspends (ending their sessions and tokens at once) or
/// reactivates them.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/users/{user_id}", tag = "users", request_body = UpdateUser,
    params(("org" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        users::update(&state, &ctx, &id, input, None).await?.into(),
    ))
}
