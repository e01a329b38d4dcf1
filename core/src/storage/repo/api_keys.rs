//! Admin API keys. Operator keys have no organization; every other key belongs to exactly one.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::ids::{ApiKeyId, OrgId};
use crate::orgs::model::ApiKey;
use crate::storage::entities::api_key::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for ApiKey {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "api_keys")?,
            org_id: m
                .org_id
                .as_deref()
                .map(|v| parse(v, "api_keys"))
                .transpose()?,
            name: m.name,
            role: parse(&m.role, "api_keys")?,
            prefix: m.prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            expires_at: m.expires_at,
            orgs: m
                .orgs
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| StoreError::Corrupt("api_keys"))?,
        })
    }
}

/// Stores a key (its organization is `key.org_id`) with the hash of its secret.
pub async fn insert(c: &impl Conn, key: &ApiKey, key_hash: &str) -> StoreResult<()> {
    let row = ActiveModel {
        id: Set(key.id.to_string()),
        org_id: Set(key.org_id.map(|o| o.to_string())),
        name: Set(key.name.clone()),
        role: Set(key.role.as_str().to_string()),
        key_hash: Set(key_hash.to_string()),
        prefix: Set(key.prefix.clone()),
        created_at: Set(key.created_at),
        revoked_at: Set(key.revoked_at),
        expires_at: Set(key.expires_at),
        orgs: Set(key
            .orgs
            .as_ref()
            .map(|o| serde_json::to_string(o).unwrap_or_default())),
    };
    Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<ApiKey>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .order_by_asc(Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
}

pub async fn get(c: &impl Conn, org: OrgId, id: ApiKeyId) -> StoreResult<Option<ApiKey>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

pub async fn find_active_by_name(
    c: &impl Conn,
    org: OrgId,
    name: &str,
) -> StoreResult<Option<ApiKey>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Name.eq(name))
        .filter(Column::RevokedAt.is_null())
        .one(c)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

/// Revokes an active key; returns whether one was revoked (false if unknown or already revoked).
pub async fn revoke(c: &impl Conn, org: OrgId, id: ApiKeyId, at: i64) -> StoreResult<bool> {
    let res = Entity::update_many()
        .set(ActiveModel {
            revoked_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .filter(Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Keys that have not reached their expiry at `now` (most never do).
fn unexpired(now: i64) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(Column::ExpiresAt.is_null())
        .add(Column::ExpiresAt.gt(now))
}

/// Authentication: the unrevoked, unexpired key whose secret hashes to `key_hash`, in any
/// organization.
pub async fn find_active_by_hash(
    c: &impl Conn,
    key_hash: &str,
    now: i64,
) -> StoreResult<Option<ApiKey>> {
    Entity::find()
        .filter(Column::KeyHash.eq(key_hash))
        .filter(Column::RevokedAt.is_null())
        .filter(unexpired(now))
        .one(c)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

/// Whether the organization has an admin key in force (then it has an admin of its own).
/// Whether the organization ever had an admin key (revoked or expired ones count: keys are
/// never deleted, so this only turns true).
pub async fn had_admin(c: &impl Conn, org: OrgId) -> StoreResult<bool> {
    Ok(Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Role.eq(crate::orgs::model::Role::Admin.as_str()))
        .one(c)
        .await?
        .is_some())
}

/// Operator keys (no organization), for the command line.
pub async fn list_operator(c: &impl Conn) -> StoreResult<Vec<ApiKey>> {
    Entity::find()
        .filter(Column::OrgId.is_null())
        .order_by_asc(Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(ApiKey::try_from)
        .collect()
}

pub async fn revoke_operator(c: &impl Conn, id: ApiKeyId, at: i64) -> StoreResult<u64> {
    let res = Entity::update_many()
        .set(ActiveModel {
            revoked_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(Column::OrgId.is_null())
        .filter(Column::Id.eq(id.to_string()))
        .filter(Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected)
}
