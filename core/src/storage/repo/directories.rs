//! Directories and their SCIM bearer tokens.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::directories::model::{Directory, ScimToken};
use crate::ids::{DirectoryId, OrgId, ScimTokenId};
use crate::storage::entities::{directory, directory_sync, scim_token};
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
            ldap: match m.settings.as_str() {
                "{}" => None,
                s => Some(serde_json::from_str(s).map_err(|_| StoreError::Corrupt("directories"))?),
            },
            secret_sealed: m.secret_sealed,
            created_at: m.created_at,
            updated_at: m.updated_at,
            cursor: m.sync_cursor,
            last_full_at: m.last_full_at,
            last_incremental_at: m.last_incremental_at,
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

fn directory_model(d: &Directory) -> StoreResult<directory::ActiveModel> {
    Ok(directory::ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(d.org_id.to_string()),
        name: Set(d.name.clone()),
        kind: Set(d.kind.as_str().to_string()),
        status: Set(d.status.as_str().to_string()),
        settings: Set(match &d.ldap {
            Some(s) => serde_json::to_string(s).map_err(|_| StoreError::Corrupt("directories"))?,
            None => "{}".to_string(),
        }),
        secret_sealed: Set(d.secret_sealed.clone()),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
        sync_cursor: Set(d.cursor.clone()),
        last_full_at: Set(d.last_full_at),
        last_incremental_at: Set(d.last_incremental_at),
    })
}

pub async fn insert(c: &impl Conn, d: &Directory) -> StoreResult<()> {
    directory::Entity::insert(directory_model(d)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Writes the settings an admin edits: name, status, LDAP settings, bind password. A changed
/// setting may change what the cursor means, so the caller clears it when it must.
pub async fn update_settings(c: &impl Conn, d: &Directory) -> StoreResult<()> {
    let row = directory_model(d)?;
    directory::Entity::update_many()
        .set(directory::ActiveModel {
            name: row.name,
            status: row.status,
            settings: row.settings,
            secret_sealed: row.secret_sealed,
            updated_at: row.updated_at,
            sync_cursor: row.sync_cursor,
            ..Default::default()
        })
        .filter(directory::Column::OrgId.eq(d.org_id.to_string()))
        .filter(directory::Column::Id.eq(d.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// Records where the directory's next incremental read starts and when syncs last finished.
pub async fn set_sync_state(
    c: &impl Conn,
    org: OrgId,
    id: DirectoryId,
    cursor: Option<&str>,
    last_full_at: Option<i64>,
    last_incremental_at: Option<i64>,
) -> StoreResult<()> {
    let mut row = directory::ActiveModel {
        sync_cursor: Set(cursor.map(str::to_string)),
        ..Default::default()
    };
    if let Some(at) = last_full_at {
        row.last_full_at = Set(Some(at));
    }
    if let Some(at) = last_incremental_at {
        row.last_incremental_at = Set(Some(at));
    }
    directory::Entity::update_many()
        .set(row)
        .filter(directory::Column::OrgId.eq(org.to_string()))
        .filter(directory::Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// Every active LDAP directory of every active organization: the scheduler's work list. The
/// one read across organizations, for background work that then acts in each directory's own.
pub async fn scheduled_ldap(c: &impl Conn) -> StoreResult<Vec<Directory>> {
    use crate::storage::entities::organization;
    use sea_orm::sea_query::Query;
    directory::Entity::find()
        .filter(directory::Column::Kind.eq("ldap"))
        .filter(directory::Column::Status.eq("active"))
        .filter(
            directory::Column::OrgId.in_subquery(
                Query::select()
                    .column(organization::Column::Id)
                    .from(organization::Entity)
                    .and_where(organization::Column::Status.eq("active"))
                    .to_owned(),
            ),
        )
        .order_by_asc(directory::Column::CreatedAt)
        .all(c)
        .await?
        .into_iter()
        .map(Directory::try_from)
        .collect()
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

/// One recorded sync run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRow {
    pub id: String,
    pub org_id: OrgId,
    pub directory_id: DirectoryId,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub counts: serde_json::Value,
    /// Users whose deprovisioning waits for an admin's confirmation.
    pub held: Vec<crate::ids::UserId>,
    pub error: Option<String>,
    /// full, incremental or syncrepl.
    pub mode: String,
    /// admin, cli, schedule or watch.
    pub triggered_by: String,
    /// Entries read so far (while running).
    pub progress: i64,
}

fn sync_model(r: &SyncRow) -> StoreResult<directory_sync::ActiveModel> {
    Ok(directory_sync::ActiveModel {
        id: Set(r.id.clone()),
        org_id: Set(r.org_id.to_string()),
        directory_id: Set(r.directory_id.to_string()),
        status: Set(r.status.clone()),
        started_at: Set(r.started_at),
        finished_at: Set(r.finished_at),
        counts: Set(r.counts.to_string()),
        held: Set(
            serde_json::to_string(&r.held).map_err(|_| StoreError::Corrupt("directory_syncs"))?
        ),
        error: Set(r.error.clone()),
        mode: Set(r.mode.clone()),
        triggered_by: Set(r.triggered_by.clone()),
        progress: Set(r.progress),
    })
}

impl TryFrom<directory_sync::Model> for SyncRow {
    type Error = StoreError;
    fn try_from(m: directory_sync::Model) -> Result<Self, StoreError> {
        let corrupt = |_| StoreError::Corrupt("directory_syncs");
        Ok(Self {
            id: m.id,
            org_id: parse(&m.org_id, "directory_syncs")?,
            directory_id: parse(&m.directory_id, "directory_syncs")?,
            status: m.status,
            started_at: m.started_at,
            finished_at: m.finished_at,
            counts: serde_json::from_str(&m.counts).map_err(corrupt)?,
            held: serde_json::from_str(&m.held).map_err(corrupt)?,
            error: m.error,
            mode: m.mode,
            triggered_by: m.triggered_by,
            progress: m.progress,
        })
    }
}

pub async fn insert_sync(c: &impl Conn, r: &SyncRow) -> StoreResult<()> {
    directory_sync::Entity::insert(sync_model(r)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn update_sync(c: &impl Conn, r: &SyncRow) -> StoreResult<()> {
    let mut m = sync_model(r)?;
    m.id = sea_orm::ActiveValue::Unchanged(r.id.clone());
    directory_sync::Entity::update(m).exec(c).await?;
    Ok(())
}

pub async fn syncs(
    c: &impl Conn,
    org: OrgId,
    dir: DirectoryId,
    limit: u64,
) -> StoreResult<Vec<SyncRow>> {
    use sea_orm::QuerySelect;
    directory_sync::Entity::find()
        .filter(directory_sync::Column::OrgId.eq(org.to_string()))
        .filter(directory_sync::Column::DirectoryId.eq(dir.to_string()))
        .order_by_desc(directory_sync::Column::StartedAt)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(SyncRow::try_from)
        .collect()
}

pub async fn get_sync(c: &impl Conn, org: OrgId, id: &str) -> StoreResult<Option<SyncRow>> {
    directory_sync::Entity::find()
        .filter(directory_sync::Column::OrgId.eq(org.to_string()))
        .filter(directory_sync::Column::Id.eq(id))
        .one(c)
        .await?
        .map(SyncRow::try_from)
        .transpose()
}

/// Records when a token was last used.
pub async fn touch_token(c: &impl Conn, id: ScimTokenId, at: i64) -> StoreResult<()> {
    scim_token::Entity::update_many()
        .set(scim_token::ActiveModel {
            last_used_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(scim_token::Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// Records how many entries a running sync has read.
pub async fn set_progress(c: &impl Conn, org: OrgId, sync_id: &str, read: i64) -> StoreResult<()> {
    directory_sync::Entity::update_many()
        .set(directory_sync::ActiveModel {
            progress: Set(read),
            ..Default::default()
        })
        .filter(directory_sync::Column::OrgId.eq(org.to_string()))
        .filter(directory_sync::Column::Id.eq(sync_id))
        .filter(directory_sync::Column::Status.eq("running"))
        .exec(c)
        .await?;
    Ok(())
}

/// Marks runs of `dir` still `running` (their replica died: the caller holds the directory's
/// lease now) as `abandoned`; returns how many.
pub async fn abandon_running(
    c: &impl Conn,
    org: OrgId,
    dir: DirectoryId,
    at: i64,
) -> StoreResult<u64> {
    let r = directory_sync::Entity::update_many()
        .set(directory_sync::ActiveModel {
            status: Set("abandoned".into()),
            finished_at: Set(Some(at)),
            error: Set(Some(
                "the replica running this sync stopped before it finished; nothing it read was applied after that".into(),
            )),
            ..Default::default()
        })
        .filter(directory_sync::Column::OrgId.eq(org.to_string()))
        .filter(directory_sync::Column::DirectoryId.eq(dir.to_string()))
        .filter(directory_sync::Column::Status.eq("running"))
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}
