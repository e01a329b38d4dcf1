//! Organizations. The organization row is the tenant itself.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::parse;
use crate::ids::OrgId;
use crate::orgs::model::Organization;
use crate::storage::entities::organization::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for Organization {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "organizations")?,
            slug: m.slug,
            name: m.name,
            status: parse(&m.status, "organizations")?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

fn active(o: &Organization) -> ActiveModel {
    ActiveModel {
        id: Set(o.id.to_string()),
        slug: Set(o.slug.clone()),
        name: Set(o.name.clone()),
        status: Set(o.status.as_str().to_string()),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
    }
}

pub async fn insert(c: &impl Conn, org: &Organization) -> StoreResult<()> {
    Entity::insert(active(org))
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Writes only the name and status (and the update time), so concurrent changes to other
/// columns are not overwritten with stale values.
pub async fn update_profile(c: &impl Conn, org: &Organization) -> StoreResult<()> {
    Entity::update_many()
        .set(ActiveModel {
            name: Set(org.name.clone()),
            status: Set(org.status.as_str().to_string()),
            updated_at: Set(org.updated_at),
            ..Default::default()
        })
        .filter(Column::Id.eq(org.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn get(c: &impl Conn, id: OrgId) -> StoreResult<Option<Organization>> {
    Entity::find_by_id(id.to_string())
        .one(c)
        .await?
        .map(Organization::try_from)
        .transpose()
}

/// Reads the organization and locks its row until the transaction ends (PostgreSQL; SQLite
/// write transactions are serialized already).
pub async fn get_for_update(c: &impl Conn, id: OrgId) -> StoreResult<Option<Organization>> {
    Entity::find_by_id(id.to_string())
        .lock_exclusive()
        .one(c)
        .await?
        .map(Organization::try_from)
        .transpose()
}

pub async fn find_by_slug(c: &impl Conn, slug: &str) -> StoreResult<Option<Organization>> {
    Entity::find()
        .filter(Column::Slug.eq(slug))
        .one(c)
        .await?
        .map(Organization::try_from)
        .transpose()
}

/// Every organization: for the operator only (the service layer enforces who may call it).
pub async fn list_all(c: &impl Conn) -> StoreResult<Vec<Organization>> {
    Entity::find()
        .order_by_asc(Column::Slug)
        .all(c)
        .await?
        .into_iter()
        .map(Organization::try_from)
        .collect()
}
