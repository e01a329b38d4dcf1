//! The outbox: downstream notifications written in the transaction of the change that caused
//! them, then claimed by one replica's worker at a time (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite serializes writers), delivered, and marked. A claim expires, so a
//! delivery claimed by a replica that died is claimed again.

use sea_orm::sea_query::{LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::parse;
use crate::deprovision::model::{Delivery, DeliveryStatus, Payload};
use crate::ids::{DeliveryId, LeaverId, OrgId};
use crate::storage::entities::outbox::{ActiveModel, Column, Entity, Model};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<Model> for Delivery {
    type Error = StoreError;
    fn try_from(m: Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(&m.id, "outbox")?,
            org_id: parse(&m.org_id, "outbox")?,
            app_id: parse(&m.app_id, "outbox")?,
            user_id: parse(&m.user_id, "outbox")?,
            leaver_id: m
                .leaver_id
                .as_deref()
                .map(|l| parse(l, "outbox"))
                .transpose()?,
            idempotency_key: m.idempotency_key,
            payload: Payload::from_json(parse(&m.kind, "outbox")?, &m.payload)
                .map_err(|_| StoreError::Corrupt("outbox"))?,
            status: parse(&m.status, "outbox")?,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            claimed_by: m.claimed_by,
            claimed_until: m.claimed_until,
            last_error: m.last_error,
            created_at: m.created_at,
            updated_at: m.updated_at,
            delivered_at: m.delivered_at,
        })
    }
}

fn active(d: &Delivery) -> ActiveModel {
    ActiveModel {
        id: Set(d.id.to_string()),
        org_id: Set(d.org_id.to_string()),
        app_id: Set(d.app_id.to_string()),
        user_id: Set(d.user_id.to_string()),
        leaver_id: Set(d.leaver_id.map(|l| l.to_string())),
        kind: Set(d.kind().as_str().to_string()),
        idempotency_key: Set(d.idempotency_key.clone()),
        payload: Set(d.payload.to_json().to_string()),
        status: Set(d.status.as_str().to_string()),
        attempts: Set(d.attempts),
        next_attempt_at: Set(d.next_attempt_at),
        claimed_by: Set(d.claimed_by.clone()),
        claimed_until: Set(d.claimed_until),
        last_error: Set(d.last_error.clone()),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
        delivered_at: Set(d.delivered_at),
    }
}

/// Queues deliveries (in the caller's transaction).
pub async fn insert_many(c: &impl Conn, rows: &[Delivery]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        Entity::insert_many(chunk.iter().map(active))
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

/// Claims up to `limit` due deliveries for `holder` until `claim_until`, oldest first, skipping
/// rows another replica is claiming at this moment.
pub async fn claim_due(
    c: &impl Conn,
    holder: &str,
    now: i64,
    claim_until: i64,
    limit: u64,
) -> StoreResult<Vec<Delivery>> {
    let due = Query::select()
        .column(Column::Id)
        .from(Entity)
        .and_where(Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .and_where(Column::NextAttemptAt.lte(now))
        .and_where(
            Column::ClaimedUntil
                .is_null()
                .or(Column::ClaimedUntil.lt(now)),
        )
        .order_by(Column::NextAttemptAt, sea_orm::Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    Entity::update_many()
        .set(ActiveModel {
            claimed_by: Set(Some(holder.to_string())),
            claimed_until: Set(Some(claim_until)),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(Column::Id.in_subquery(due))
        .exec_with_returning(c)
        .await?
        .into_iter()
        .map(Delivery::try_from)
        .collect()
}

/// Records the outcome of `holder`'s attempt; `false` if the claim was lost meanwhile (another
/// replica took the row over; its outcome will count).
pub async fn finish_attempt(c: &impl Conn, d: &Delivery, holder: &str) -> StoreResult<bool> {
    let r = Entity::update_many()
        .set(ActiveModel {
            status: Set(d.status.as_str().to_string()),
            attempts: Set(d.attempts),
            next_attempt_at: Set(d.next_attempt_at),
            claimed_by: Set(None),
            claimed_until: Set(None),
            last_error: Set(d.last_error.clone()),
            updated_at: Set(d.updated_at),
            delivered_at: Set(d.delivered_at),
            ..Default::default()
        })
        .filter(Column::Id.eq(d.id.to_string()))
        .filter(Column::ClaimedBy.eq(holder))
        .filter(Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Deliveries of `org`, newest first, optionally of one status or one leaver.
pub async fn list(
    c: &impl Conn,
    org: OrgId,
    status: Option<DeliveryStatus>,
    leaver: Option<LeaverId>,
    limit: u64,
) -> StoreResult<Vec<Delivery>> {
    let mut q = Entity::find().filter(Column::OrgId.eq(org.to_string()));
    if let Some(s) = status {
        q = q.filter(Column::Status.eq(s.as_str()));
    }
    if let Some(l) = leaver {
        q = q.filter(Column::LeaverId.eq(l.to_string()));
    }
    q.order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(Delivery::try_from)
        .collect()
}

pub async fn get(c: &impl Conn, org: OrgId, id: DeliveryId) -> StoreResult<Option<Delivery>> {
    Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(Delivery::try_from)
        .transpose()
}

/// Puts a dead delivery back in the queue, due now; `false` if it was not dead.
pub async fn retry(c: &impl Conn, org: OrgId, id: DeliveryId, now: i64) -> StoreResult<bool> {
    let r = Entity::update_many()
        .set(ActiveModel {
            status: Set(DeliveryStatus::Pending.as_str().to_string()),
            next_attempt_at: Set(now),
            claimed_by: Set(None),
            claimed_until: Set(None),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Id.eq(id.to_string()))
        .filter(Column::Status.eq(DeliveryStatus::Dead.as_str()))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// How many of a leaver's deliveries are not done (pending, or dead until retried).
pub async fn unfinished_of_leaver(c: &impl Conn, org: OrgId, leaver: LeaverId) -> StoreResult<u64> {
    Ok(Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::LeaverId.eq(leaver.to_string()))
        .filter(Column::Status.is_in([
            DeliveryStatus::Pending.as_str(),
            DeliveryStatus::Dead.as_str(),
        ]))
        .count(c)
        .await?)
}

/// How many deliveries of `org` have `status`.
pub async fn count(c: &impl Conn, org: OrgId, status: DeliveryStatus) -> StoreResult<u64> {
    Ok(Entity::find()
        .filter(Column::OrgId.eq(org.to_string()))
        .filter(Column::Status.eq(status.as_str()))
        .count(c)
        .await?)
}

/// How many deliveries are pending, across organizations (the outbox gauge).
pub async fn pending_total(c: &impl Conn) -> StoreResult<u64> {
    total_with(c, DeliveryStatus::Pending).await
}

/// How many deliveries have `status`, across organizations.
pub async fn total_with(c: &impl Conn, status: DeliveryStatus) -> StoreResult<u64> {
    Ok(Entity::find()
        .filter(Column::Status.eq(status.as_str()))
        .count(c)
        .await?)
}
