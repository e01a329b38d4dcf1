//! Directories and their SCIM bearer tokens.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::directories::{Directory, ScimToken};
use crate::ids::{DirectoryId, OrgId, ScimTokenId};
use crate::storage::entities::{directory, scim_token};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<directory::Model> for Directory {
    type Error = StoreError;
    fn try_from(m: directory::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "directories")?,
            org_id: parse(&m.org_id, "directories")?,
            name: m.name,
            kind: parse(&m.kind, "directories")?,
            status: parse(&m.status, "directories")?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl TryFrom<scim_token::Model> for ScimToken {
    type Error = StoreError;
    fn try_from(m: scim_token::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "scim_tokens")?,
            org_id: parse(&m.org_id, "scim_tokens")?,
            directory_id: parse(&m.directory_id, "scim_tokens")?,
            name: m.name,
            token_hash: m.token_hash,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        })
    }
}

pub async fn insert(c: &impl Conn, d: &Directory) -> StoreResult<()> {
    directory::Entity::insert(directory::ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(d.org_id.to_string()),
        name: Set(d.name.clone()),
        kind: Set(d.kind.as_str().to_string()),
        status: Set(d.status.as_str().to_string()),
        settings: Set("{}".to_string()),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<Directory>> {
    directory::Entity::find()
        .filter(directory::Column::OrgId.eq(org.to_string()))
        .order_by_asc(directory::Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(Directory::try_from)
        .collect()
}

pub async fn get(c: &impl Conn, org: OrgId, id: DirectoryId) -> StoreResult<Option<Directory>> {
    directory::Entity::find()
        .filter(directory::Column::OrgId.eq(org.to_string()))
        .filter(directory::Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(Directory::try_from)
        .transpose()
}

pub async fn insert_token(c: &impl Conn, t: &ScimToken) -> StoreResult<()> {
    scim_token::Entity::insert(scim_token::ActiveModel {
        id: Set(t.id.to_string()),
        org_id: Set(t.org_id.to_string()),
        directory_id: Set(t.directory_id.to_string()),
        name: Set(t.name.clone()),
        token_hash: Set(t.token_hash.clone()),
        created_at: Set(t.created_at),
        last_used_at: Set(t.last_used_at),
        revoked_at: Set(t.revoked_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn tokens(c: &impl Conn, org: OrgId, dir: DirectoryId) -> StoreResult<Vec<ScimToken>> {
    scim_token::Entity::find()
        .filter(scim_token::Column::OrgId.eq(org.to_string()))
        .filter(scim_token::Column::DirectoryId.eq(dir.to_string()))
        .order_by_asc(scim_token::Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(ScimToken::try_from)
        .collect()
}

/// The live (unrevoked) token with this hash, whatever its organization: the caller checks it
/// against the organization in the URL.
pub async fn find_token(c: &impl Conn, hash: &str) -> StoreResult<Option<ScimToken>> {
    scim_token::Entity::find()
        .filter(scim_token::Column::TokenHash.eq(hash))
        .filter(scim_token::Column::RevokedAt.is_null())
        .one(c)
        .await?
        .map(ScimToken::try_from)
        .transpose()
}

pub async fn revoke_token(
    c: &impl Conn,
    org: OrgId,
    dir: DirectoryId,
    id: ScimTokenId,
    at: i64,
) -> StoreResult<bool> {
    let r = scim_token::Entity::update_many()
        .set(scim_token::ActiveModel {
            revoked_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(scim_token::Column::OrgId.eq(org.to_string()))
        .filter(scim_token::Column::DirectoryId.eq(dir.to_string()))
        .filter(scim_token::Column::Id.eq(id.to_string()))
        .filter(scim_token::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}
