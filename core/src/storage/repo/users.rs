//! Users of an organization.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::parse;
use crate::ids::{OrgId, UserId};
use crate::storage::entities::user::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};
use crate::users::model::User;
use crate::users::names::username_key;

impl TryFrom<Model> for User {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "users")?,
            org_id: parse(&m.org_id, "users")?,
            external_id: m.external_id,
            username: m.username,
            email: m.email,
            email_verified: m.email_verified,
            name: m.name,
            given_name: m.given_name,
            family_name: m.family_name,
            name_formatted: m.name_formatted,
            emails: serde_json::from_str(&m.emails).map_err(|_| StoreError::Corrupt("users"))?,
            groups: serde_json::from_str(&m.groups).map_err(|_| StoreError::Corrupt("users"))?,
            status: parse(&m.status, "users")?,
            status_reason: m.status_reason,
            created_at: m.created_at,
            updated_at: m.updated_at,
            directory_id: m
                .directory_id
                .as_deref()
                .map(|d| parse(d, "users"))
                .transpose()?,
            version: m.version,
            attributes: serde_json::from_str(&m.attributes)
                .map_err(|_| StoreError::Corrupt("users"))?,
        })
    }
}

fn active(u: &User) -> StoreResult<ActiveModel> {
    Ok(ActiveModel {
        id: Set(u.id.to_string()),
        org_id: Set(u.org_id.to_string()),
        external_id: Set(u.external_id.clone()),
        username: Set(u.username.clone()),
        email: Set(u.email.clone()),
        email_verified: Set(u.email_verified),
        name: Set(u.name.clone()),
        given_name: Set(u.given_name.clone()),
        family_name: Set(u.family_name.clone()),
        groups: Set(serde_json::to_string(&u.groups).map_err(|_| StoreError::Corrupt("users"))?),
        status: Set(u.status.as_str().to_string()),
        status_reason: Set(u.status_reason.clone()),
        created_at: Set(u.created_at),
        updated_at: Set(u.updated_at),
        directory_id: Set(u.directory_id.map(|d| d.to_string())),
        version: Set(u.version),
        attributes: Set(
            serde_json::to_string(&u.attributes).map_err(|_| StoreError::Corrupt("users"))?
        ),
        source_hash: sea_orm::ActiveValue::NotSet,
        source_version: sea_orm::ActiveValue::NotSet,
        // Derived here, so every write path keeps it equal to the name.
        username_key: Set(username_key(&u.username)),
        name_formatted: Set(u.name_formatted.clone()),
        emails: Set(serde_json::to_string(&u.emails).map_err(|_| StoreError::Corrupt("users"))?),
    })
}

/// Stores a user in its organization (`user.org_id`).
pub async fn insert(c: &impl Conn, user: &User) -> StoreResult<()> {
    Entity::insert(active(user)?)
        .exec_without_returning(c)
        .await?;
    Ok(())
}

/// Writes the profile, groups and status (never the identifiers).
pub async fn update_profile(c: &impl Conn, user: &User) -> StoreResult<()> {
    let row = active(user)?;
    Entity::update_many()
        .set(ActiveModel {
            name: row.name,
            given_name: row.given_name,
            family_name: row.family_name,
            groups: row.groups,
            status: row.status,
            status_reason: row.status_reason,
            updated_at: row.updated_at,
            version: row.version,
            ..Default::default()
        })
        .filter(Column::OrgId.eq(user.org_id.to_string()))
        .filter(Column::Id.eq(user.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

fn by_id(org: OrgId, id: UserId) -> Select<Entity> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
}

pub async fn get(c: &impl Conn, org: OrgId, id: UserId) -> StoreResult<Option<User>> {
    by_id(org, id).one(c).await?.map(User::try_from).transpose()
}

pub async fn get_for_update(c: &impl Conn, org: OrgId, id: UserId) -> StoreResult<Option<User>> {
    by_id(org, id)
        .lock_exclusive()
        .one(c)
        .await?
        .map(User::try_from)
        .transpose()
}

/// The organization's user whose sign-in email is `email`; never a user without an email
/// (an empty or blank `email` matches nobody).
pub async fn find_by_email(c: &impl Conn, org: OrgId, email: &str) -> StoreResult<Option<User>> {
    if email.trim().is_empty() {
        return Ok(None);
    }
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Email.eq(email))
        .one(c)
        .await?
        .map(User::try_from)
        .transpose()
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<User>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .order_by_asc(Column::Email)
        .all(c)
        .await?
        .into_iter()
        .map(User::try_from)
        .collect()
}

/// Writes every field of a user (a directory's full replace): identifiers included.
pub async fn update_all(c: &impl Conn, user: &User) -> StoreResult<()> {
    let mut row = active(user)?;
    row.id = sea_orm::ActiveValue::NotSet;
    row.org_id = sea_orm::ActiveValue::NotSet;
    row.created_at = sea_orm::ActiveValue::NotSet;
    Entity::update_many()
        .set(row)
        .filter(Column::OrgId.eq(user.org_id.to_string()))
        .filter(Column::Id.eq(user.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// Stores new users of one organization in multi-row inserts, each with the fingerprint of the
/// directory entry it came from (if any).
pub async fn insert_many(c: &impl Conn, users: &[(User, Option<String>)]) -> StoreResult<()> {
    for chunk in users.chunks(200) {
        let rows = chunk
            .iter()
            .map(|(u, hash)| {
                let mut row = active(u)?;
                if let Some(h) = hash {
                    row.source_hash = Set(Some(h.clone()));
                    row.source_version = Set(Some(u.version));
                }
                Ok(row)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Entity::insert_many(rows).exec_without_returning(c).await?;
    }
    Ok(())
}

/// Writes every field of a user as a directory sync does, with the fingerprint of the entry
/// (`None`: no entry, as for a removal, which forgets it).
pub async fn update_from_directory(
    c: &impl Conn,
    user: &User,
    hash: Option<&str>,
) -> StoreResult<()> {
    let mut row = active(user)?;
    row.id = sea_orm::ActiveValue::NotSet;
    row.org_id = sea_orm::ActiveValue::NotSet;
    row.created_at = sea_orm::ActiveValue::NotSet;
    row.source_hash = Set(hash.map(str::to_string));
    row.source_version = Set(hash.map(|_| user.version));
    Entity::update_many()
        .set(row)
        .filter(Column::OrgId.eq(user.org_id.to_string()))
        .filter(Column::Id.eq(user.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

/// The users `dir` manages whose directory ids are among `ids`.
pub async fn by_external_ids(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
    ids: &[String],
) -> StoreResult<Vec<User>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = Entity::find()
            .filter(Column::OrgId.eq(org.to_string()))
            .filter(Column::DirectoryId.eq(dir.to_string()))
            .filter(Column::ExternalId.is_in(chunk.iter().cloned()))
            .all(c)
            .await?;
        for m in rows {
            out.push(User::try_from(m)?);
        }
    }
    Ok(out)
}

/// The users of `org` with one of these emails.
pub async fn by_emails(c: &impl Conn, org: OrgId, emails: &[String]) -> StoreResult<Vec<User>> {
    let mut out = Vec::new();
    // A user without an email is never found by email.
    let emails: Vec<String> = emails
        .iter()
        .filter(|e| !e.trim().is_empty())
        .cloned()
        .collect();
    for chunk in emails.chunks(500) {
        let rows = Entity::find()
            .filter(Column::OrgId.eq(org.to_string()))
            .filter(Column::Email.is_in(chunk.iter().cloned()))
            .all(c)
            .await?;
        for m in rows {
            out.push(User::try_from(m)?);
        }
    }
    Ok(out)
}

/// How many users `dir` manages that are not deprovisioned.
pub async fn count_managed(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
) -> StoreResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::DirectoryId.eq(dir.to_string()))
        .filter(Column::Status.ne("deprovisioned"))
        .count(c)
        .await?)
}

/// The DN (kept in `attributes.dn`) of each user `dir` manages that is not deprovisioned, by
/// id: what group reconciliation needs, without reading whole rows.
pub async fn dns_of_directory(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
) -> StoreResult<Vec<(UserId, String)>> {
    let rows: Vec<(String, String)> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Attributes)
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::DirectoryId.eq(dir.to_string()))
        .filter(Column::Status.ne("deprovisioned"))
        .into_tuple()
        .all(c)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, attrs) in rows {
        #[derive(serde::Deserialize)]
        struct Dn {
            dn: Option<String>,
        }
        let dn: Dn = serde_json::from_str(&attrs).map_err(|_| StoreError::Corrupt("users"))?;
        if let Some(dn) = dn.dn {
            out.push((super::parse(&id, "users")?, dn));
        }
    }
    Ok(out)
}

/// What a full sync needs to know of each user `dir` manages without reading the row.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub id: UserId,
    pub external_id: Option<String>,
    pub deprovisioned: bool,
    pub version: i64,
    /// The hash of the directory entry when the sync last wrote the user, and the user's
    /// version then: both equal now means nothing changed on either side.
    pub source_hash: Option<String>,
    pub source_version: Option<i64>,
}

pub async fn fingerprints(
    c: &impl Conn,
    org: OrgId,
    dir: crate::ids::DirectoryId,
) -> StoreResult<Vec<Fingerprint>> {
    type Row = (
        String,
        Option<String>,
        String,
        i64,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::ExternalId)
        .column(Column::Status)
        .column(Column::Version)
        .column(Column::SourceHash)
        .column(Column::SourceVersion)
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::DirectoryId.eq(dir.to_string()))
        .into_tuple()
        .all(c)
        .await?;
    rows.into_iter()
        .map(
            |(id, external_id, status, version, source_hash, source_version)| {
                Ok(Fingerprint {
                    id: super::parse(&id, "users")?,
                    external_id,
                    deprovisioned: status == "deprovisioned",
                    version,
                    source_hash,
                    source_version,
                })
            },
        )
        .collect()
}

/// Records, for each `(user, entry hash, version)`, what the directory said when the user
/// had that version. 500 users per statement.
pub async fn set_fingerprints(
    c: &impl Conn,
    org: OrgId,
    items: &[(UserId, String, i64)],
) -> StoreResult<()> {
    use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait};
    for chunk in items.chunks(500) {
        let mut hash = CaseStatement::new();
        let mut version = CaseStatement::new();
        for (id, h, v) in chunk {
            hash = hash.case(
                Expr::col(Column::Id).eq(id.to_string()),
                Expr::value(h.clone()),
            );
            version = version.case(Expr::col(Column::Id).eq(id.to_string()), Expr::value(*v));
        }
        Entity::update_many()
            .col_expr(
                Column::SourceHash,
                hash.finally(Expr::col(Column::SourceHash)).into(),
            )
            .col_expr(
                Column::SourceVersion,
                version.finally(Expr::col(Column::SourceVersion)).into(),
            )
            .filter(Column::OrgId.eq(org.to_string()))
            .filter(Column::Id.is_in(chunk.iter().map(|(id, _, _)| id.to_string())))
            .exec(c)
            .await?;
    }
    Ok(())
}

/// Users of `org` by id (chunked).
pub async fn by_ids(c: &impl Conn, org: OrgId, ids: &[UserId]) -> StoreResult<Vec<User>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        for m in Entity::find()
            .filter(Column::OrgId.eq(org.to_string()))
            .filter(Column::Id.is_in(chunk.iter().map(|u| u.to_string())))
            .all(c)
            .await?
        {
            out.push(User::try_from(m)?);
        }
    }
    Ok(out)
}
