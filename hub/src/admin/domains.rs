//! `/api/v1/orgs/{org}/domains`: claim, verify by DNS TXT, attest (operator), remove.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::views::DomainView;
use crate::error::{ApiError, Problem};
use crate::http::extract::{AppJson, OrgCtx};
use crate::orgs::domains::{self, AddDomain, AttestDomain};
use crate::state::AppState;
use crate::storage;

#[utoipa::path(get, path = "/api/v1/orgs/{org}/domains", tag = "domains",
    params(("org" = String, Path)), responses((status = 200, body = [DomainView]), (status = 404, body = Problem)))]
pub async fn list_domains(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<DomainView>>, ApiError> {
    let list = storage::domains::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(list.into_iter().map(DomainView::from).collect()))
}

/// Claims a domain; the answer carries the TXT record to publish.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/domains", tag = "domains", request_body = AddDomain,
    params(("org" = String, Path)),
    responses((status = 201, body = DomainView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_domain(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<AddDomain>,
) -> Result<(StatusCode, Json<DomainView>), ApiError> {
    let d = domains::add(&state, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/domains/{domain}", tag = "domains",
    params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = DomainView), (status = 404, body = Problem)))]
pub async fn get_domain(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<DomainView>, ApiError> {
    Ok(Json(domains::get(&state, &ctx, &name).await?.into()))
}

/// Looks up `_hub-challenge.<domain>` and verifies the domain if the TXT record holds the challenge.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/domains/{domain}/verify", tag = "domains",
    params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = DomainView), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem)))]
pub async fn verify_domain(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<DomainView>, ApiError> {
    Ok(Json(domains::verify_dns(&state, &ctx, &name).await?.into()))
}

/// The operator vouches for the domain (recorded with its reason in the audit log).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/domains/{domain}/attest", tag = "domains",
    request_body = AttestDomain, params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn attest_domain(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
    AppJson(input): AppJson<AttestDomain>,
) -> Result<Json<DomainView>, ApiError> {
    Ok(Json(
        domains::attest(&state, &ctx, &name, input, None)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/domains/{domain}", tag = "domains",
    params(("org" = String, Path), ("domain" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove_domain(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    domains::remove(&state, &ctx, &name, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
