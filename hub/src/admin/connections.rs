//! `/api/v1/orgs/{org}/connections`: the organization's identity provider connections, and a
//! "test connection" check.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::ms_to_rfc3339;
use crate::error::{ApiError, Problem};
use crate::federation::connections::{self, CreateConnection, TestReport, UpdateConnection};
use crate::federation::model::{
    Connection, ConnectionKind, ConnectionStatus, OidcSettings, SamlAttributes, SamlNameIdFormat,
};
use crate::http::extract::{AppJson, OrgCtx};
use crate::state::AppState;
use crate::storage;

/// A connection as the API shows it: settings, whether a secret is stored, never the secret.
#[derive(Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub name: String,
    pub kind: ConnectionKind,
    pub status: ConnectionStatus,
    /// The email domains this connection serves; empty: all the organization's.
    pub domains: Vec<String>,
    pub oidc: Option<OidcSettings>,
    pub saml: Option<SamlView>,
    pub has_client_secret: bool,
    pub jit_provisioning: bool,
    pub require_email_verified: bool,
    /// The redirect URI to register at the IdP.
    pub callback_url: String,
    pub created_at: String,
    pub updated_at: String,
    /// When the organization's own admin approved the connection to link existing people by
    /// email; `null` for one the hub operator made or last changed (it links nobody who exists
    /// until approved with `POST .../approve`).
    pub links_approved_at: Option<String>,
}

/// A SAML connection's settings and what to give its IdP.
#[derive(Serialize, ToSchema)]
pub struct SamlView {
    /// The hub's entity ID for this connection; its metadata is served at this address.
    pub sp_entity_id: String,
    /// The assertion consumer service URL (HTTP-POST) the IdP sends responses to.
    pub acs_url: String,
    pub metadata_url: Option<String>,
    /// The IdP's entity ID, from its metadata.
    pub idp_entity_id: Option<String>,
    pub attributes: SamlAttributes,
    pub name_id_format: SamlNameIdFormat,
    pub allow_unsolicited: bool,
}

fn view(state: &AppState, c: Connection) -> ConnectionView {
    let saml = c.saml.as_ref().map(|s| SamlView {
        sp_entity_id: crate::federation::saml::sp_entity_id(state, c.id),
        acs_url: crate::federation::saml::acs_url(state, c.id),
        metadata_url: s.settings.metadata_url.clone(),
        idp_entity_id: s
            .settings
            .metadata_xml
            .as_deref()
            .and_then(|x| connectors::saml::parse_idp_metadata(x).ok())
            .map(|m| m.entity_id),
        attributes: s.settings.attributes.clone(),
        name_id_format: s.settings.name_id_format,
        allow_unsolicited: s.settings.allow_unsolicited,
    });
    ConnectionView {
        saml,
        id: c.id.to_string(),
        name: c.name,
        kind: c.kind,
        status: c.status,
        domains: c.domains,
        oidc: c.oidc,
        has_client_secret: c.kind == ConnectionKind::Oidc && c.secret_sealed.is_some(),
        jit_provisioning: c.jit_provisioning,
        require_email_verified: c.require_email_verified,
        callback_url: crate::login::upstream::callback_url(state),
        created_at: ms_to_rfc3339(c.created_at),
        updated_at: ms_to_rfc3339(c.updated_at),
        links_approved_at: c.links_approved_at.map(ms_to_rfc3339),
    }
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/connections", tag = "connections",
    params(("org" = String, Path)), responses((status = 200, body = [ConnectionView]), (status = 404, body = Problem)))]
pub async fn list_connections(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<Vec<ConnectionView>>, ApiError> {
    let list = storage::connections::list(state.store.conn(), ctx.org.id).await?;
    Ok(Json(list.into_iter().map(|c| view(&state, c)).collect()))
}

/// Connects an identity provider; the client secret is stored sealed and never shown again.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/connections", tag = "connections",
    request_body = CreateConnection, params(("org" = String, Path)),
    responses((status = 201, body = ConnectionView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    AppJson(input): AppJson<CreateConnection>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let c = connections::create(&state, &ctx, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, c))))
}

#[utoipa::path(get, path = "/api/v1/orgs/{org}/connections/{connection_id}", tag = "connections",
    params(("org" = String, Path), ("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem)))]
pub async fn get_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    let c = connections::get(&state, &ctx, &id).await?;
    Ok(Json(view(&state, c)))
}

#[utoipa::path(patch, path = "/api/v1/orgs/{org}/connections/{connection_id}", tag = "connections",
    request_body = UpdateConnection, params(("org" = String, Path), ("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
    AppJson(input): AppJson<UpdateConnection>,
) -> Result<Json<ConnectionView>, ApiError> {
    let c = connections::update(&state, &ctx, &id, input).await?;
    Ok(Json(view(&state, c)))
}

#[utoipa::path(delete, path = "/api/v1/orgs/{org}/connections/{connection_id}", tag = "connections",
    params(("org" = String, Path), ("connection_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    connections::delete(&state, &ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The organization's own admin approves a connection the hub operator made or changed, so that
/// it may link existing people by email. The operator gets 403.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/connections/{connection_id}/approve", tag = "connections",
    params(("org" = String, Path), ("connection_id" = String, Path)),
    responses((status = 200, body = ConnectionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn approve_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<ConnectionView>, ApiError> {
    let c = connections::approve(&state, &ctx, &id).await?;
    Ok(Json(view(&state, c)))
}

/// Reads the IdP's discovery document and keys now and reports each problem in plain words.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/connections/{connection_id}/test", tag = "connections",
    params(("org" = String, Path), ("connection_id" = String, Path)),
    responses((status = 200, body = TestReport), (status = 404, body = Problem)))]
pub async fn test_connection(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<TestReport>, ApiError> {
    Ok(Json(connections::test(&state, &ctx, &id).await?))
}
