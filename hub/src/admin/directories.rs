//! `/api/v1/orgs/{org}/directories`: the organization's directories (its source of truth for who
//! belongs) and, for a SCIM directory, the bearer tokens its Okta or Entra ID pushes with.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::ms_to_rfc3339;
use crate::directories::{
    self, CreateDirectory, CreateScimToken, Directory, DirectoryKind, DirectoryStatus,
    LdapSettings, TokenView, UpdateDirectory,
};
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::state::AppState;
use crate::storage;

#[derive(Serialize, ToSchema)]
pub struct DirectoryView {
    pub id: String,
    pub name: String,
    pub kind: DirectoryKind,
    pub status: DirectoryStatus,
    /// For a SCIM directory: the base URL to give Okta or Entra ID ("Tenant URL").
    pub scim_base_url: Option<String>,
    /// For an LDAP directory: how the hub reads it (the bind password is never shown).
    pub ldap: Option<LdapSettings>,
    pub has_bind_password: bool,
    pub created_at: String,
    pub updated_at: String,
    /// For an LDAP directory: when syncs last finished and whether changes can be read
    /// incrementally (a cursor is kept).
    pub last_full_sync_at: Option<String>,
    pub last_incremental_sync_at: Option<String>,
    pub has_cursor: bool,
}

fn view(state: &AppState, ctx: &OrgCtx, d: Directory) -> DirectoryView {
    DirectoryView {
        id: d.id.to_string(),
        name: d.name,
        kind: d.kind,
        status: d.status,
        scim_base_url: (d.kind == DirectoryKind::Scim).then(|| {
            format!(
                "{}/scim/v2/{}",
                state.config.server.public_url.trim_end_matches('/'),
                ctx.org.slug
            )
        }),
        has_bind_password: d.secret_sealed.is_some(),
        ldap: d.ldap,
        created_at: ms_to_rfc3339(d.created_at),
        updated_at: ms_to_rfc3339(d.updated_at),
        last_full_sync_at: d.last_full_at.map(ms_to_rfc3339),
        last_incremental_sync_at: d.last_incremental_at.map(ms_to_rfc3339),
        has_cursor: d.cursor.is_some(),
    }
}

/// One sync run: when, what it did, and the users whose removal waits for confirmation.
#[derive(Serialize, ToSchema)]
pub struct SyncView {
    pub id: String,
    /// running, succeeded, failed, held (removals wait for an admin's confirmation), or
    /// abandoned (the replica running it stopped; what it committed stands).
    pub status: String,
    /// full, incremental, or syncrepl (a batch a persistent search heard).
    pub mode: String,
    /// admin, cli, schedule or watch.
    pub triggered_by: String,
    /// Entries read so far (while running) or in all.
    pub entries_read: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    #[schema(value_type = Object)]
    pub counts: serde_json::Value,
    pub held_users: Vec<String>,
    pub error: Option<String>,
}

fn sync_view(r: storage::directories::SyncRow) -> SyncView {
    SyncView {
        id: r.id,
        status: r.status,
        mode: r.mode,
        triggered_by: r.triggered_by,
        entries_read: r.progress,
        started_at: ms_to_rfc3339(r.started_at),
        finished_at: r.finished_at.map(ms_to_rfc3339),
        duration_ms: r.finished_at.map(|f| f - r.started_at),
        counts: r.counts,
        held_users: r.held.iter().map(ToString::to_string).collect(),
        error: r.error,
    }
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    /// `full` (default: every entry; finds deletions) or `incremental` (what changed since the
    /// last sync; a full sync if there is no cursor yet).
    pub mode: Option<String>,
}

/// Runs a sync of an LDAP directory now and reports it: 200 with the finished run, or 202 with
/// the running one if it outlasts the request (it goes on; follow it at `.../syncs`). 409 if a
/// sync of the directory is running already.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/directories/{directory_id}/sync", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path), SyncQuery),
    responses((status = 200, body = SyncView), (status = 202, body = SyncView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn sync_directory(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<SyncQuery>,
) -> Result<(StatusCode, Json<SyncView>), ApiError> {
    use directories::sync::{Mode, Trigger};
    ctx.require_admin()?;
    let mode = match q.mode.as_deref() {
        None | Some("full") => Mode::Full,
        Some("incremental") => Mode::Incremental,
        Some(_) => {
            return Err(
                crate::error::ServiceError::invalid("mode", "must be full or incremental").into(),
            );
        }
    };
    let d = directories::get(&state, &ctx, &id).await?;
    // The run is its own task: a client that goes away, or the request timeout, does not
    // cancel a sync halfway.
    let run = {
        let (state, org, d) = (state.clone(), ctx.org.clone(), d.clone());
        tokio::spawn(async move {
            directories::sync::run(&state, &org, &d, mode, Trigger::Admin, |_| {}).await
        })
    };
    let patience = std::time::Duration::from_secs(
        state
            .config
            .server
            .request_timeout_secs
            .saturating_sub(2)
            .max(1),
    );
    match tokio::time::timeout(patience, run).await {
        Ok(Ok(row)) => Ok((StatusCode::OK, Json(sync_view(row?)))),
        Ok(Err(e)) => {
            Err(crate::error::ServiceError::Internal(format!("the sync stopped: {e}")).into())
        }
        Err(_) => {
            let running = storage::directories::syncs(state.store.conn(), ctx.org.id, d.id, 1)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    crate::error::ServiceError::Internal("no sync run recorded".into())
                })?;
            Ok((StatusCode::ACCEPTED, Json(sync_view(running))))
        }
    }
}

/// Changes a directory: its name, status, LDAP settings (schedule, mode, filters...) or bind
/// password. A change to what is read drops the incremental cursor: the next sync is full.
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/directories/{directory_id}", tag = "directories",
    request_body = UpdateDirectory, params(("org" = String, Path), ("directory_id" = String, Path)),
    responses((status = 200, body = DirectoryView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_directory(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<UpdateDirectory>,
) -> Result<Json<DirectoryView>, ApiError> {
    let d = directories::update(&state, &ctx, &id, input, None).await?;
    Ok(Json(view(&state, &ctx, d)))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/directories/{directory_id}/syncs", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path)),
    responses((status = 200, body = [SyncView]), (status = 404, body = Problem)))]
pub async fn list_syncs(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Vec<SyncView>>, ApiError> {
    let d = directories::get(&state, &ctx, &id).await?;
    let rows = storage::directories::syncs(state.store.conn(), ctx.org.id, d.id, 100).await?;
    Ok(Json(rows.into_iter().map(sync_view).collect()))
}

/// Confirms the removals a held sync would have made: those users are deprovisioned.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/directories/{directory_id}/syncs/{sync_id}/confirm", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path), ("sync_id" = String, Path)),
    responses((status = 200, body = SyncView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_sync(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, sync_id)): Path<(String, String, String)>,
) -> Result<Json<SyncView>, ApiError> {
    ctx.require_admin()?;
    let d = directories::get(&state, &ctx, &id).await?;
    let row = directories::sync::confirm(&state, &ctx.org, &d, &sync_id, &ctx.actor()).await?;
    Ok(Json(sync_view(row)))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/directories", tag = "directories",
    params(("org" = String, Path)), responses((status = 200, body = [DirectoryView]), (status = 404, body = Problem)))]
pub async fn list_directories(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<DirectoryView>>, ApiError> {
    let list = storage::directories::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(
        list.into_iter().map(|d| view(&state, &ctx, d)).collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/directories", tag = "directories",
    request_body = CreateDirectory, params(("org" = String, Path)),
    responses((status = 201, body = DirectoryView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_directory(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateDirectory>,
) -> Result<(StatusCode, Json<DirectoryView>), ApiError> {
    let d = directories::create(&state, &ctx, input, None).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &ctx, d))))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/directories/{directory_id}", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path)),
    responses((status = 200, body = DirectoryView), (status = 404, body = Problem)))]
pub async fn get_directory(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<DirectoryView>, ApiError> {
    let d = directories::get(&state, &ctx, &id).await?;
    Ok(Json(view(&state, &ctx, d)))
}

/// A new SCIM bearer token, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    /// The bearer token ("Secret Token" in Entra ID, "API Token" in Okta). Only its hash is kept.
    pub secret: String,
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path)),
    responses((status = 200, body = [TokenView]), (status = 404, body = Problem)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let d = directories::get(&state, &ctx, &id).await?;
    let tokens = storage::directories::tokens(state.store.conn(), ctx.org.id, d.id).await?;
    Ok(Json(tokens.iter().map(TokenView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens", tag = "directories",
    request_body = CreateScimToken, params(("org" = String, Path), ("directory_id" = String, Path)),
    responses((status = 201, body = CreatedToken), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<CreateScimToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (token, secret) = directories::create_token(&state, &ctx, &id, input, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: TokenView::from(&token),
            secret,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/directories/{directory_id}/scim-tokens/{token_id}", tag = "directories",
    params(("org" = String, Path), ("directory_id" = String, Path), ("token_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id, token)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    directories::revoke_token(&state, &ctx, &id, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}
