//! Downstream applications (OIDC clients) of an organization.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

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
    })
}

pub async fn insert(c: &impl Conn, org: OrgId, app: &Application) -> StoreResult<()> {
    Entity::insert(active(org, app)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Writes every field of `app` (secret hash included) within `org`.
pub async fn update(c: &impl Conn, org: OrgId, app: &Application) -> StoreResult<()> {
    Entity::update_many()
        .set(active(org, app)?)
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(app.id.to_string()))
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

pub async fn get(c: &impl Conn, org: OrgId, id: AppId) -> StoreResult<Option<Application>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
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

pub async fn delete(c: &impl Conn, org: OrgId, id: AppId) -> StoreResult<()> {
    Entity::delete_many()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}
