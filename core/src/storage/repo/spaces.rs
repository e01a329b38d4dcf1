//! Spaces, the applications serving them, and their grants. A space and its applications
//! belong to the owner (`org_id`); a grant belongs to two organizations, the owner and the
//! partner, and every query names which side is asking.

use std::collections::BTreeMap;

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::ids::{AppId, GrantId, OrgId, SpaceId};
use crate::orgs::model::Release;
use crate::spaces::model::{Consent, Grant, GrantStatus, Space, Subject};
use crate::storage::entities::{space, space_app, space_grant, space_grant_app};
use crate::storage::{Conn, StoreError, StoreResult};

fn to_space(m: space::Model, apps: Vec<AppId>) -> StoreResult<Space> {
    Ok(Space {
        id: parse(&m.id, "spaces")?,
        org_id: parse(&m.org_id, "spaces")?,
        slug: m.slug,
        name: m.name,
        description: m.description,
        apps,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("space_grants"))
}

fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt("space_grants"))
}

impl TryFrom<space_grant::Model> for Grant {
    type Error = StoreError;
    fn try_from(m: space_grant::Model) -> Result<Self, StoreError> {
        Ok(Self {
            requested: json(&m.requested)?,
            consent: Consent {
                release: match &m.consented {
                    Some(c) => json(c)?,
                    None => Release::default(),
                },
                apps: Vec::new(),
            },
            valid_days: m.valid_days,
            expires_at: m.expires_at,
            reviews: json(&m.reviews)?,
            id: parse(&m.id, "space_grants")?,
            space_id: parse(&m.space_id, "space_grants")?,
            org_id: parse(&m.org_id, "space_grants")?,
            partner_org_id: parse(&m.partner_org_id, "space_grants")?,
            subject: Subject::from_parts(&m.subject_kind, &m.subject)
                .ok_or(StoreError::Corrupt("space_grants"))?,
            status: m
                .status
                .parse()
                .map_err(|_| StoreError::Corrupt("space_grants"))?,
            proposed_at: m.proposed_at,
            decided_at: m.decided_at,
            withdrawn_at: m.withdrawn_at,
            withdrawn_by: m
                .withdrawn_by
                .as_deref()
                .map(|o| parse(o, "space_grants"))
                .transpose()?,
        })
    }
}

/// The applications of each of the owner's spaces in `ids`.
async fn apps_of(
    c: &impl Conn,
    org: OrgId,
    ids: &[String],
) -> StoreResult<BTreeMap<String, Vec<AppId>>> {
    let mut out: BTreeMap<String, Vec<AppId>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for m in space_app::Entity::find()
        .filter(space_app::Column::OrgId.eq(org.to_string()))
        .filter(space_app::Column::SpaceId.is_in(ids.iter().cloned()))
        .order_by_asc(space_app::Column::AppId)
        .all(c)
        .await?
    {
        let app = parse(&m.app_id, "space_apps")?;
        out.entry(m.space_id).or_default().push(app);
    }
    Ok(out)
}

async fn with_apps(c: &impl Conn, org: OrgId, rows: Vec<space::Model>) -> StoreResult<Vec<Space>> {
    let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
    let mut apps = apps_of(c, org, &ids).await?;
    rows.into_iter()
        .map(|m| {
            let a = apps.remove(&m.id).unwrap_or_default();
            to_space(m, a)
        })
        .collect()
}

async fn write_apps(c: &impl Conn, s: &Space) -> StoreResult<()> {
    space_app::Entity::delete_many()
        .filter(space_app::Column::OrgId.eq(s.org_id.to_string()))
        .filter(space_app::Column::SpaceId.eq(s.id.to_string()))
        .exec(c)
        .await?;
    if s.apps.is_empty() {
        return Ok(());
    }
    space_app::Entity::insert_many(s.apps.iter().map(|a| space_app::ActiveModel {
        space_id: Set(s.id.to_string()),
        app_id: Set(a.to_string()),
        org_id: Set(s.org_id.to_string()),
    }))
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn insert(c: &impl Conn, s: &Space) -> StoreResult<()> {
    space::Entity::insert(space::ActiveModel {
        id: Set(s.id.to_string()),
        org_id: Set(s.org_id.to_string()),
        slug: Set(s.slug.clone()),
        name: Set(s.name.clone()),
        description: Set(s.description.clone()),
        created_at: Set(s.created_at),
        updated_at: Set(s.updated_at),
    })
    .exec_without_returning(c)
    .await?;
    write_apps(c, s).await
}

/// Writes the name, description and applications.
pub async fn update(c: &impl Conn, s: &Space) -> StoreResult<()> {
    space::Entity::update_many()
        .set(space::ActiveModel {
            name: Set(s.name.clone()),
            description: Set(s.description.clone()),
            updated_at: Set(s.updated_at),
            ..Default::default()
        })
        .filter(space::Column::OrgId.eq(s.org_id.to_string()))
        .filter(space::Column::Id.eq(s.id.to_string()))
        .exec(c)
        .await?;
    write_apps(c, s).await
}

/// Deletes the space, its application links and its grants.
pub async fn delete(c: &impl Conn, org: OrgId, id: SpaceId) -> StoreResult<()> {
    let ids: Vec<String> = space_grant::Entity::find()
        .filter(space_grant::Column::OrgId.eq(org.to_string()))
        .filter(space_grant::Column::SpaceId.eq(id.to_string()))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    if !ids.is_empty() {
        space_grant_app::Entity::delete_many()
            .filter(space_grant_app::Column::GrantId.is_in(ids))
            .exec(c)
            .await?;
    }
    space_grant::Entity::delete_many()
        .filter(space_grant::Column::OrgId.eq(org.to_string()))
        .filter(space_grant::Column::SpaceId.eq(id.to_string()))
        .exec(c)
        .await?;
    space_app::Entity::delete_many()
        .filter(space_app::Column::OrgId.eq(org.to_string()))
        .filter(space_app::Column::SpaceId.eq(id.to_string()))
        .exec(c)
        .await?;
    space::Entity::delete_many()
        .filter(space::Column::OrgId.eq(org.to_string()))
        .filter(space::Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<Space>> {
    let rows = space::Entity::find()
        .filter(space::Column::OrgId.eq(org.to_string()))
        .order_by_asc(space::Column::Slug)
        .all(c)
        .await?;
    with_apps(c, org, rows).await
}

/// The owner's space by id or slug.
pub async fn get(c: &impl Conn, org: OrgId, name: &str) -> StoreResult<Option<Space>> {
    let column = if name.parse::<SpaceId>().is_ok() {
        space::Column::Id
    } else {
        space::Column::Slug
    };
    let rows = space::Entity::find()
        .filter(space::Column::OrgId.eq(org.to_string()))
        .filter(column.eq(name))
        .all(c)
        .await?;
    Ok(with_apps(c, org, rows).await?.into_iter().next())
}

/// The owner's spaces in `ids`.
pub async fn by_ids(c: &impl Conn, org: OrgId, ids: &[SpaceId]) -> StoreResult<Vec<Space>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = space::Entity::find()
        .filter(space::Column::OrgId.eq(org.to_string()))
        .filter(space::Column::Id.is_in(ids.iter().map(|i| i.to_string())))
        .order_by_asc(space::Column::Slug)
        .all(c)
        .await?;
    with_apps(c, org, rows).await
}

/// The spaces that `app` (of `org`) serves.
pub async fn spaces_of_app(c: &impl Conn, org: OrgId, app: AppId) -> StoreResult<Vec<SpaceId>> {
    space_app::Entity::find()
        .filter(space_app::Column::OrgId.eq(org.to_string()))
        .filter(space_app::Column::AppId.eq(app.to_string()))
        .all(c)
        .await?
        .iter()
        .map(|m| parse(&m.space_id, "space_apps"))
        .collect()
}

// ---- grants

pub async fn insert_grant(c: &impl Conn, g: &Grant) -> StoreResult<()> {
    write_consent_apps(c, g).await?;
    space_grant::Entity::insert(space_grant::ActiveModel {
        requested: Set(to_json(&g.requested)?),
        consented: Set(consented(g)?),
        valid_days: Set(g.valid_days),
        expires_at: Set(g.expires_at),
        reviews: Set(to_json(&g.reviews)?),
        id: Set(g.id.to_string()),
        space_id: Set(g.space_id.to_string()),
        org_id: Set(g.org_id.to_string()),
        partner_org_id: Set(g.partner_org_id.to_string()),
        subject_kind: Set(g.subject.kind().to_string()),
        subject: Set(g.subject.value().to_string()),
        status: Set(g.status.as_str().to_string()),
        proposed_at: Set(g.proposed_at),
        decided_at: Set(g.decided_at),
        withdrawn_at: Set(g.withdrawn_at),
        withdrawn_by: Set(g.withdrawn_by.map(|o| o.to_string())),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

fn consented(g: &Grant) -> StoreResult<Option<String>> {
    if g.decided_at.is_none() || g.status == GrantStatus::Declined {
        return Ok(None);
    }
    to_json(&g.consent.release).map(Some)
}

/// Replaces the applications a grant was consented for.
async fn write_consent_apps(c: &impl Conn, g: &Grant) -> StoreResult<()> {
    space_grant_app::Entity::delete_many()
        .filter(space_grant_app::Column::GrantId.eq(g.id.to_string()))
        .exec(c)
        .await?;
    if g.consent.apps.is_empty() {
        return Ok(());
    }
    space_grant_app::Entity::insert_many(g.consent.apps.iter().map(|a| {
        space_grant_app::ActiveModel {
            grant_id: Set(g.id.to_string()),
            app_id: Set(a.to_string()),
            org_id: Set(g.org_id.to_string()),
        }
    }))
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// Moves a grant from `from` to its new status, with its consent, expiry, request and
/// reviews; false if it was no longer in `from` (a concurrent decision won).
pub async fn set_status(c: &impl Conn, g: &Grant, from: GrantStatus) -> StoreResult<bool> {
    let res = space_grant::Entity::update_many()
        .set(space_grant::ActiveModel {
            requested: Set(to_json(&g.requested)?),
            consented: Set(consented(g)?),
            valid_days: Set(g.valid_days),
            expires_at: Set(g.expires_at),
            reviews: Set(to_json(&g.reviews)?),
            status: Set(g.status.as_str().to_string()),
            decided_at: Set(g.decided_at),
            withdrawn_at: Set(g.withdrawn_at),
            withdrawn_by: Set(g.withdrawn_by.map(|o| o.to_string())),
            ..Default::default()
        })
        .filter(space_grant::Column::Id.eq(g.id.to_string()))
        .filter(space_grant::Column::OrgId.eq(g.org_id.to_string()))
        .filter(space_grant::Column::PartnerOrgId.eq(g.partner_org_id.to_string()))
        .filter(space_grant::Column::Status.eq(from.as_str()))
        .exec(c)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    write_consent_apps(c, g).await?;
    Ok(true)
}

/// Reads grants with the applications each was consented for.
async fn grants(c: &impl Conn, rows: Vec<space_grant::Model>) -> StoreResult<Vec<Grant>> {
    let mut out: Vec<Grant> = rows
        .into_iter()
        .map(Grant::try_from)
        .collect::<StoreResult<_>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let mut apps: BTreeMap<String, Vec<AppId>> = BTreeMap::new();
    for ids in out.chunks(500) {
        for m in space_grant_app::Entity::find()
            .filter(space_grant_app::Column::GrantId.is_in(ids.iter().map(|g| g.id.to_string())))
            .order_by_asc(space_grant_app::Column::AppId)
            .all(c)
            .await?
        {
            let app = parse(&m.app_id, "space_grant_apps")?;
            apps.entry(m.grant_id).or_default().push(app);
        }
    }
    for g in &mut out {
        g.consent.apps = apps.remove(&g.id.to_string()).unwrap_or_default();
    }
    Ok(out)
}

async fn one(c: &impl Conn, row: Option<space_grant::Model>) -> StoreResult<Option<Grant>> {
    Ok(grants(c, row.into_iter().collect())
        .await?
        .into_iter()
        .next())
}

/// Accepted grants whose expiry has come, at most `limit`.
pub async fn expired(c: &impl Conn, now: i64, limit: u64) -> StoreResult<Vec<Grant>> {
    use sea_orm::QuerySelect;
    let rows = space_grant::Entity::find()
        .filter(space_grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .filter(space_grant::Column::ExpiresAt.lte(now))
        .order_by_asc(space_grant::Column::ExpiresAt)
        .limit(limit)
        .all(c)
        .await?;
    grants(c, rows).await
}

/// The grants of one of the owner's spaces.
pub async fn grants_of_space(c: &impl Conn, org: OrgId, space: SpaceId) -> StoreResult<Vec<Grant>> {
    let rows = space_grant::Entity::find()
        .filter(space_grant::Column::OrgId.eq(org.to_string()))
        .filter(space_grant::Column::SpaceId.eq(space.to_string()))
        .order_by_asc(space_grant::Column::Id)
        .all(c)
        .await?;
    grants(c, rows).await
}

/// A grant as the owner sees it.
pub async fn owner_grant(c: &impl Conn, org: OrgId, id: GrantId) -> StoreResult<Option<Grant>> {
    let row = space_grant::Entity::find()
        .filter(space_grant::Column::OrgId.eq(org.to_string()))
        .filter(space_grant::Column::Id.eq(id.to_string()))
        .one(c)
        .await?;
    one(c, row).await
}

/// A grant as the partner sees it (an invitation).
pub async fn partner_grant(
    c: &impl Conn,
    partner: OrgId,
    id: GrantId,
) -> StoreResult<Option<Grant>> {
    let row = space_grant::Entity::find()
        .filter(space_grant::Column::PartnerOrgId.eq(partner.to_string()))
        .filter(space_grant::Column::Id.eq(id.to_string()))
        .one(c)
        .await?;
    one(c, row).await
}

/// Every grant naming `partner`'s people (its invitations), newest first.
pub async fn invitations(c: &impl Conn, partner: OrgId) -> StoreResult<Vec<Grant>> {
    let rows = space_grant::Entity::find()
        .filter(space_grant::Column::PartnerOrgId.eq(partner.to_string()))
        .order_by_desc(space_grant::Column::Id)
        .all(c)
        .await?;
    grants(c, rows).await
}

/// The accepted grants admitting people of `partner` to any of the owner's `spaces`.
pub async fn accepted_for(
    c: &impl Conn,
    owner: OrgId,
    partner: OrgId,
    spaces: &[SpaceId],
) -> StoreResult<Vec<Grant>> {
    if spaces.is_empty() {
        return Ok(Vec::new());
    }
    let rows = space_grant::Entity::find()
        .filter(space_grant::Column::OrgId.eq(owner.to_string()))
        .filter(space_grant::Column::PartnerOrgId.eq(partner.to_string()))
        .filter(space_grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .filter(space_grant::Column::SpaceId.is_in(spaces.iter().map(|s| s.to_string())))
        .all(c)
        .await?;
    grants(c, rows).await
}

/// Every accepted grant admitting people of `partner` anywhere.
pub async fn accepted_of_partner(c: &impl Conn, partner: OrgId) -> StoreResult<Vec<Grant>> {
    let rows = space_grant::Entity::find()
        .filter(space_grant::Column::PartnerOrgId.eq(partner.to_string()))
        .filter(space_grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .all(c)
        .await?;
    grants(c, rows).await
}
