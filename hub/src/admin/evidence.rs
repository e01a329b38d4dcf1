//! `/api/v1/audit/log/*` and `/api/v1/orgs/{org}/audit/proofs`: the audit log as a
//! transparency log (`audit::tree`). Its signed checkpoints (C2SP signed notes), its verifier
//! key and consistency proofs between any two sizes reveal no event; an organization gets its
//! own events, each with its inclusion proof against a checkpoint, and nothing of another's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::model::Witness;
use crate::audit::{tree, witness};
use crate::error::{ApiError, Problem, ServiceError};
use crate::http::extract::{AppJson, AppQuery, OrgCtx, Principal};
use crate::state::AppState;
use crate::storage;

const MAX_PAGE: u64 = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// The checkpoint of this tree size (default: the latest).
    size: Option<i64>,
}

async fn checkpoint_at(
    state: &AppState,
    size: Option<i64>,
) -> Result<crate::audit::model::TreeCheckpoint, ApiError> {
    storage::audit_tree::checkpoint(state.store.conn(), size)
        .await?
        .ok_or_else(|| ApiError::not_found("checkpoint"))
}

/// The latest signed checkpoint (or the one of `size`), as a C2SP signed note
/// (`text/plain`): origin, tree size, base64 root hash, then the log's signature and the
/// cosignatures of the witnesses that checked it.
#[utoipa::path(get, path = "/api/v1/audit/log/checkpoint", tag = "audit",
    params(CheckpointQuery),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = Problem)))]
pub async fn get_checkpoint(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<CheckpointQuery>,
) -> Result<Response, ApiError> {
    let cp = checkpoint_at(&state, q.size).await?;
    let note = witness::cosigned(state.store.conn(), &cp, principal.org_id()).await?;
    let mut r = note.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(r)
}

#[derive(Serialize, ToSchema)]
pub struct LogKeyView {
    /// The log's name: every checkpoint's first line.
    pub origin: String,
    /// The C2SP signed-note verifier key (`name+id+base64 key`, Ed25519).
    pub vkey: String,
}

/// The key that verifies the log's checkpoints. Keep it: a checkpoint signed by another key
/// is not the log's.
#[utoipa::path(get, path = "/api/v1/audit/log/key", tag = "audit",
    responses((status = 200, body = LogKeyView), (status = 404, body = Problem)))]
pub async fn get_key(
    State(state): State<AppState>,
    _principal: Principal,
) -> Result<Json<LogKeyView>, ApiError> {
    let key = tree::log_key(&state)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ApiError::not_found("log key (no checkpoint was signed yet)"))?;
    Ok(Json(LogKeyView {
        origin: key.name,
        vkey: key.public_key,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The earlier tree size.
    old: u64,
    /// The later tree size (a checkpoint's).
    new: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ConsistencyView {
    pub old: u64,
    pub new: u64,
    /// RFC 9162 §2.1.4 consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

/// The proof that the tree of size `new` extends the tree of size `old`.
#[utoipa::path(get, path = "/api/v1/audit/log/consistency", tag = "audit",
    params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyView), (status = 400, body = Problem)))]
pub async fn get_consistency(
    State(state): State<AppState>,
    _principal: Principal,
    AppQuery(q): AppQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let (size, _) = storage::audit_tree::tree(state.store.conn()).await?;
    if q.old > q.new || q.new > u64::try_from(size).unwrap_or_default() {
        return Err(ServiceError::invalid(
            "new",
            format!("give 0 <= old <= new <= {size} (the log's size)"),
        )
        .into());
    }
    let proof = tree::consistency(state.store.conn(), q.new, q.old)
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(ConsistencyView {
        old: q.old,
        new: q.new,
        proof,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofsQuery {
    /// Against the checkpoint of this size (default: the latest).
    size: Option<i64>,
    /// Only events with a sequence number above this.
    after: Option<i64>,
    /// Page size, 1-1000 (default 100).
    limit: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProofsView {
    /// The signed checkpoint the proofs are against (a C2SP signed note).
    pub checkpoint: String,
    pub size: i64,
    /// The tree's root hash, base64.
    pub root: String,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<tree::Proven>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// The organization's events in the log, each with its inclusion proof against a signed
/// checkpoint. Other organizations' events are not part of the answer (the proofs carry only
/// hashes of the tree).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/audit/proofs", tag = "audit",
    params(("org" = String, Path), ProofsQuery),
    responses((status = 200, body = ProofsView), (status = 404, body = Problem)))]
pub async fn get_proofs(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppQuery(q): AppQuery<ProofsQuery>,
) -> Result<Json<ProofsView>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ServiceError::invalid("limit", "give 1 to 1000").into());
    }
    let cp = checkpoint_at(&state, q.size).await?;
    let size = u64::try_from(cp.size).unwrap_or_default();
    let (events, next_after) = tree::org_events(
        state.store.conn(),
        ctx.org.id,
        size,
        (q.after.unwrap_or(0), limit),
        tree::Only::All,
    )
    .await
    .map_err(ServiceError::from)?;
    Ok(Json(ProofsView {
        checkpoint: witness::cosigned(state.store.conn(), &cp, Some(ctx.org.id)).await?,
        size: cp.size,
        root: cp.root,
        events,
        next_after,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CosignInput {
    /// The log's checkpoint with the witness's signature line(s) added (a signed note).
    pub checkpoint: String,
}

#[derive(Serialize, ToSchema)]
pub struct CosignView {
    /// How many registered witnesses' signatures were kept.
    pub kept: usize,
}

/// A witness posts its cosignature: the checkpoint it checked, signed by its key. Kept only if
/// the text is the log's checkpoint of that size and a registered witness signed it (409 if the
/// witness was shown another checkpoint of that size).
#[utoipa::path(post, path = "/api/v1/audit/log/cosignatures", tag = "audit",
    request_body = CosignInput,
    responses((status = 200, body = CosignView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn post_cosignature(
    State(state): State<AppState>,
    _principal: Principal,
    AppJson(input): AppJson<CosignInput>,
) -> Result<Json<CosignView>, ApiError> {
    let kept = witness::cosign(&state, &input.checkpoint).await?;
    Ok(Json(CosignView { kept }))
}

#[derive(Serialize, ToSchema)]
pub struct WitnessView {
    pub id: String,
    pub name: String,
    pub vkey: String,
    pub created_at: String,
}

impl From<Witness> for WitnessView {
    fn from(w: Witness) -> Self {
        Self {
            id: w.id,
            name: w.name,
            vkey: w.vkey,
            created_at: crate::clock::ms_to_rfc3339(w.created_at),
        }
    }
}

/// The witness keys the organization trusts to cosign the log's checkpoints.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/witnesses", tag = "audit",
    params(("org" = String, Path)),
    responses((status = 200, body = [WitnessView]), (status = 404, body = Problem)))]
pub async fn list_witnesses(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<WitnessView>>, ApiError> {
    let list = witness::list(&state, &ctx).await?;
    Ok(Json(list.into_iter().map(WitnessView::from).collect()))
}

/// The organization's own admin registers a witness key (`hub witness keygen` prints one).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/witnesses", tag = "audit",
    params(("org" = String, Path)), request_body = witness::AddWitness,
    responses((status = 201, body = WitnessView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_witness(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<witness::AddWitness>,
) -> Result<(StatusCode, Json<WitnessView>), ApiError> {
    let w = witness::add(&state, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(w.into())))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/witnesses/{witness_id}", tag = "audit",
    params(("org" = String, Path), ("witness_id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove_witness(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    witness::remove(&state, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    /// The space, by id (as its grants and invitations show it).
    space: String,
    /// Only events with a sequence number above this.
    after: Option<i64>,
    /// Events read per page, 1-1000 (default 100).
    limit: Option<u64>,
}

/// What the space's applications recorded while this organization was a party of the space
/// (its owner or a partner with a grant in force), each event with its inclusion proof against
/// the latest signed checkpoint. 404 for an organization that never was a party.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/evidence", tag = "audit",
    params(("org" = String, Path), EvidenceQuery),
    responses((status = 200, body = ProofsView), (status = 404, body = Problem)))]
pub async fn list_evidence(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppQuery(q): AppQuery<EvidenceQuery>,
) -> Result<Json<ProofsView>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ServiceError::invalid("limit", "give 1 to 1000").into());
    }
    let c = state.store.conn();
    let space = crate::spaces::evidence::party_space(c, ctx.org.id, &q.space).await?;
    let cp = checkpoint_at(&state, None).await?;
    let target = crate::spaces::evidence::target(space);
    let only = tree::Only::ActionOn {
        action: "evidence.recorded",
        target: &target,
    };
    let size = u64::try_from(cp.size).unwrap_or_default();
    let (events, next_after) =
        tree::org_events(c, ctx.org.id, size, (q.after.unwrap_or(0), limit), only)
            .await
            .map_err(ServiceError::from)?;
    Ok(Json(ProofsView {
        checkpoint: witness::cosigned(c, &cp, Some(ctx.org.id)).await?,
        size: cp.size,
        root: cp.root,
        events,
        next_after,
    }))
}
