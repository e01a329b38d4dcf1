//! Leavers of an organization and their time-to-deprovision.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::parse;
use crate::deprovision::model::Leaver;
use crate::ids::{LeaverId, OrgId, UserId};
use crate::storage::entities::leaver::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for Leaver {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "leavers")?,
            org_id: parse(&m.org_id, "leavers")?,
            user_id: parse(&m.user_id, "leavers")?,
            source: parse(&m.source, "leavers")?,
            reason: m.reason,
            outcome: parse(&m.outcome, "leavers")?,
            signal_at: m.signal_at,
            revoked_at: m.revoked_at,
            deliveries: m.deliveries,
            completed_at: m.completed_at,
        })
    }
}

pub async fn insert(c: &impl Conn, l: &Leaver) -> StoreResult<()> {
    Entity::insert(ActiveModel {
        id: Set(l.id.to_string()),
        org_id: Set(l.org_id.to_string()),
        user_id: Set(l.user_id.to_string()),
        source: Set(l.source.as_str().to_string()),
        reason: Set(l.reason.clone()),
        outcome: Set(l.outcome.as_str().to_string()),
        signal_at: Set(l.signal_at),
        revoked_at: Set(l.revoked_at),
        deliveries: Set(l.deliveries),
        completed_at: Set(l.completed_at),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The newest leavers of `org`, at most `limit`, optionally one user's.
pub async fn list(
    c: &impl Conn,
    org: OrgId,
    user: Option<UserId>,
    limit: u64,
) -> StoreResult<Vec<Leaver>> {
    let mut q = Entity::find().filter(Column::OrgId.eq(org.to_string()));
    if let Some(u) = user {
        q = q.filter(Column::UserId.eq(u.to_string()));
    }
    q.order_by_desc(Column::SignalAt)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(Leaver::try_from)
        .collect()
}

/// Leavers of `org` whose signal came at or after `since`: for the summary.
pub async fn since(c: &impl Conn, org: OrgId, since: i64) -> StoreResult<Vec<Leaver>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::SignalAt.gte(since))
        .order_by_asc(Column::SignalAt)
        .all(c)
        .await?
        .into_iter()
        .map(Leaver::try_from)
        .collect()
}

pub async fn get(c: &impl Conn, org: OrgId, id: LeaverId) -> StoreResult<Option<Leaver>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(Leaver::try_from)
        .transpose()
}

/// Marks the leaver complete at `at` if it has no delivery left pending.
pub async fn complete(c: &impl Conn, org: OrgId, id: LeaverId, at: i64) -> StoreResult<()> {
    Entity::update_many()
        .set(ActiveModel {
            completed_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .filter(Column::CompletedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}
