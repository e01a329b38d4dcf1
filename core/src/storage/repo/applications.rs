//! Downstream applications (OIDC clients) of an organization.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::parse;
use crate::ids::{AppId, OrgId};
use crate::orgs::model::Application;
use crate::storage::entities::application::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for Application {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "applications")?,
            org_id: parse(&m.org_id, "applications")?,
            client_id: m.client_id,
            name: m.name,
            client_type: parse(&m.client_type, "applications")?,
            secret_hash: m.secret_hash,
            redirect_uris: serde_json::from_str(&m.redirect_uris)
                .map_err(|_| StoreError::Corrupt("applications"))?,
            backchannel_logout_uri: m.backchannel_logout_uri,
            created_at: m.created_at,
            updated_at: m.updated_at,
            token_endpoint_auth_method: parse(&m.token_endpoint_auth_method, "applications")?,
            id_token_alg: crate::jose::Alg::parse(&m.id_token_signed_response_alg)
                .ok_or(StoreError::Corrupt("applications"))?,
            jwks: m
                .jwks
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| StoreError::Corrupt("applications"))?,
            post_logout_redirect_uris: serde_json::from_str(&m.post_logout_redirect_uris)
                .map_err(|_| StoreError::Corrupt("applications"))?,
            allow_client_credentials: m.allow_client_credentials,
            spaces_required: m.spaces_required,
            require_pkce: m.require_pkce,
            scim_target: m
                .scim_target
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| StoreError::Corrupt("applications"))?,
            webhook: m
                .webhook
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| StoreError::Corrupt("applications"))?,
            subject_type: parse(&m.subject_type, "applications")?,
            release: serde_json::from_str(&m.release)
                .map_err(|_| StoreError::Corrupt("applications"))?,
        })
    }
}

fn active(org: OrgId, a: &Application) -> StoreResult<ActiveModel> {
    Ok(ActiveModel {
        id: Set(a.id.to_string()),
        org_id: Set(org.to_string()),
        client_id: Set(a.client_id.clone()),
        name: Set(a.name.clone()),
        client_type: Set(a.client_type.as_str().to_string()),
        secret_hash: Set(a.secret_hash.clone()),
        redirect_uris: Set(serde_json::to_string(&a.redirect_uris)
            .map_err(|_| StoreError::Corrupt("applications"))?),
        backchannel_logout_uri: Set(a.backchannel_logout_uri.clone()),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
        token_endpoint_auth_method: Set(a.token_endpoint_auth_method.as_str().to_string()),
        id_token_signed_response_alg: Set(a.id_token_alg.as_str().to_string()),
        jwks: Set(a.jwks.as_ref().map(|j| j.to_string())),
        post_logout_redirect_uris: Set(serde_json::to_string(&a.post_logout_redirect_uris)
            .map_err(|_| StoreError::Corrupt("applications"))?),
        allow_client_credentials: Set(a.allow_client_credentials),
        spaces_required: Set(a.spaces_required),
        require_pkce: Set(a.require_pkce),
        scim_target: Set(a
            .scim_target
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|_| StoreError::Corrupt("applications"))?),
        webhook: Set(a
            .webhook
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|_| StoreError::Corrupt("applications"))?),
        subject_type: Set(a.subject_type.as_str().to_string()),
        release: Set(
            serde_json::to_string(&a.release).map_err(|_| StoreError::Corrupt("applications"))?
        ),
    })
}

pub async fn insert(c: &impl Conn, org: OrgId, app: &Application) -> StoreResult<()> {
    Entity::insert(active(org, app)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Writes the settings an admin edits (name, redirect URIs, logout URI), never the secret.
pub async fn update_settings(c: &impl Conn, org: OrgId, app: &Application) -> StoreResult<()> {
    let row = active(org, app)?;
    Entity::update_many()
        .set(ActiveModel {
            name: row.name,
            redirect_uris: row.redirect_uris,
            backchannel_logout_uri: row.backchannel_logout_uri,
            updated_at: row.updated_at,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            id_token_signed_response_alg: row.id_token_signed_response_alg,
            jwks: row.jwks,
            post_logout_redirect_uris: row.post_logout_redirect_uris,
            allow_client_credentials: row.allow_client_credentials,
            spaces_required: row.spaces_required,
            require_pkce: row.require_pkce,
            scim_target: row.scim_target,
            webhook: row.webhook,
            subject_type: row.subject_type,
            release: row.release,
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(app.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// Replaces the client secret's hash, and nothing else.
pub async fn set_secret_hash(
    c: &impl Conn,
    org: OrgId,
    id: AppId,
    secret_hash: &str,
    at: i64,
) -> StoreResult<()> {
    Entity::update_many()
        .set(ActiveModel {
            secret_hash: Set(Some(secret_hash.to_string())),
            updated_at: Set(at),
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<Application>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .order_by_asc(Column::Name)
        .all(c)
        .await?
        .into_iter()
        .map(Application::try_from)
        .collect()
}

fn by_id(org: OrgId, id: AppId) -> Select<Entity> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
}

pub async fn get(c: &impl Conn, org: OrgId, id: AppId) -> StoreResult<Option<Application>> {
    by_id(org, id)
        .one(c)
        .await?
        .map(Application::try_from)
        .transpose()
}

/// Reads the application and locks its row until the transaction ends.
pub async fn get_for_update(
    c: &impl Conn,
    org: OrgId,
    id: AppId,
) -> StoreResult<Option<Application>> {
    by_id(org, id)
        .lock_exclusive()
        .one(c)
        .await?
        .map(Application::try_from)
        .transpose()
}

/// Applications by id in whichever organization owns them: those a person of another
/// organization reached through a space, named by the hub's own rows (sessions, tokens,
/// deliveries), never by a request.
pub async fn by_ids_any(c: &impl Conn, ids: &[AppId]) -> StoreResult<Vec<Application>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::Id.is_in(ids.iter().map(|i| i.to_string())))
        .all(c)
        .await?
        .into_iter()
        .map(Application::try_from)
        .collect()
}

/// The application with this OAuth `client_id`, in whichever organization owns it: the token
/// endpoint's lookup, before the client has authenticated.
pub async fn find_by_client_id(c: &impl Conn, client_id: &str) -> StoreResult<Option<Application>> {
    Entity::find()
        .filter(Column::ClientId.eq(client_id))
        .one(c)
        .await?
        .map(Application::try_from)
        .transpose()
}

pub async fn find_by_name(
    c: &impl Conn,
    org: OrgId,
    name: &str,
) -> StoreResult<Option<Application>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Name.eq(name))
        .one(c)
        .await?
        .map(Application::try_from)
        .transpose()
}

/// Deletes the application; returns whether it existed.
pub async fn delete(c: &impl Conn, org: OrgId, id: AppId) -> StoreResult<bool> {
    let res = Entity::delete_many()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}
