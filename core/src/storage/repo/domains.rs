//! Domains claimed by an organization.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::parse;
use crate::ids::{DomainId, OrgId};
use crate::orgs::model::{DomainStatus, OrgDomain, VerificationMethod};
use crate::storage::entities::org_domain::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for OrgDomain {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "org_domains")?,
            org_id: parse(&m.org_id, "org_domains")?,
            domain: m.domain,
            status: parse(&m.status, "org_domains")?,
            method: m
                .method
                .as_deref()
                .map(|v| parse(v, "org_domains"))
                .transpose()?,
            challenge: m.challenge,
            verified_at: m.verified_at,
            created_at: m.created_at,
        })
    }
}

pub async fn insert(c: &impl Conn, org: OrgId, d: &OrgDomain) -> StoreResult<()> {
    let row = ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(org.to_string()),
        domain: Set(d.domain.clone()),
        status: Set(d.status.as_str().to_string()),
        method: Set(d.method.map(|m| m.as_str().to_string())),
        challenge: Set(d.challenge.clone()),
        verified_at: Set(d.verified_at),
        created_at: Set(d.created_at),
    };
    Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

pub async fn list(c: &impl Conn, org: OrgId) -> StoreResult<Vec<OrgDomain>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .order_by_asc(Column::Domain)
        .all(c)
        .await?
        .into_iter()
        .map(OrgDomain::try_from)
        .collect()
}

/// Whether the organization holds `domain` verified.
pub async fn is_verified(c: &impl Conn, org: OrgId, domain: &str) -> StoreResult<bool> {
    Ok(get(c, org, domain)
        .await?
        .is_some_and(|d| d.status == DomainStatus::Verified))
}

fn by_name(org: OrgId, domain: &str) -> Select<Entity> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Domain.eq(domain))
}

pub async fn get(c: &impl Conn, org: OrgId, domain: &str) -> StoreResult<Option<OrgDomain>> {
    by_name(org, domain)
        .one(c)
        .await?
        .map(OrgDomain::try_from)
        .transpose()
}

/// Reads the domain claim and locks its row until the transaction ends.
pub async fn get_for_update(
    c: &impl Conn,
    org: OrgId,
    domain: &str,
) -> StoreResult<Option<OrgDomain>> {
    by_name(org, domain)
        .lock_exclusive()
        .one(c)
        .await?
        .map(OrgDomain::try_from)
        .transpose()
}

pub async fn mark_verified(
    c: &impl Conn,
    org: OrgId,
    id: DomainId,
    method: VerificationMethod,
    at: i64,
) -> StoreResult<()> {
    Entity::update_many()
        .set(ActiveModel {
            status: Set(DomainStatus::Verified.as_str().to_string()),
            method: Set(Some(method.as_str().to_string())),
            verified_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .filter(Column::Status.eq(DomainStatus::Pending.as_str()))
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes the claim; returns whether it existed.
pub async fn delete(c: &impl Conn, org: OrgId, id: DomainId) -> StoreResult<bool> {
    let res = Entity::delete_many()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The organization that has verified `domain`, if any. Deliberately across organizations:
/// it answers "who may vouch for this domain", which is what keeps one org from claiming another's.
pub async fn verified_owner(c: &impl Conn, domain: &str) -> StoreResult<Option<OrgId>> {
    Entity::find()
        .filter(Column::Domain.eq(domain))
        .filter(Column::Status.eq(DomainStatus::Verified.as_str()))
        .one(c)
        .await?
        .map(|m| parse(&m.org_id, "org_domains"))
        .transpose()
}
