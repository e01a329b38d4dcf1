//! The operator's requests waiting for an organization's approval, and break-glass windows.
//! Both belong to one organization; every query names it.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::parse;
use crate::ids::{OrgId, RequestId};
use crate::orgs::model::{BreakGlass, OperatorRequest, RequestStatus};
use crate::storage::entities::{break_glass as bg, operator_request as req};
use crate::storage::{Conn, StoreError, StoreResult};

fn json(s: &str, table: &'static str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt(table))
}

impl TryFrom<req::Model> for OperatorRequest {
    type Error = StoreError;
    fn try_from(m: req::Model) -> Result<Self, StoreError> {
        const T: &str = "operator_requests";
        Ok(Self {
            id: parse(&m.id, T)?,
            org_id: parse(&m.org_id, T)?,
            kind: parse(&m.kind, T)?,
            payload: json(&m.payload, T)?,
            requested_by: json(&m.requested_by, T)?,
            status: parse(&m.status, T)?,
            created_at: m.created_at,
            decided_at: m.decided_at,
            decided_by: m.decided_by.as_deref().map(|s| json(s, T)).transpose()?,
        })
    }
}

impl TryFrom<bg::Model> for BreakGlass {
    type Error = StoreError;
    fn try_from(m: bg::Model) -> Result<Self, StoreError> {
        const T: &str = "break_glass";
        Ok(Self {
            id: parse(&m.id, T)?,
            org_id: parse(&m.org_id, T)?,
            reason: m.reason,
            opened_by: json(&m.opened_by, T)?,
            opened_at: m.opened_at,
            ends_at: m.ends_at,
            reviewed_at: m.reviewed_at,
            reviewed_by: m.reviewed_by.as_deref().map(|s| json(s, T)).transpose()?,
            review_note: m.review_note,
        })
    }
}

pub async fn insert_request(c: &impl Conn, r: &OperatorRequest) -> StoreResult<()> {
    req::Entity::insert(req::ActiveModel {
        id: Set(r.id.to_string()),
        org_id: Set(r.org_id.to_string()),
        kind: Set(r.kind.as_str().to_string()),
        payload: Set(r.payload.to_string()),
        requested_by: Set(r.requested_by.to_string()),
        status: Set(r.status.as_str().to_string()),
        created_at: Set(r.created_at),
        decided_at: Set(r.decided_at),
        decided_by: Set(r.decided_by.as_ref().map(ToString::to_string)),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

pub async fn requests(c: &impl Conn, org: OrgId) -> StoreResult<Vec<OperatorRequest>> {
    req::Entity::find()
        .filter(req::Column::OrgId.eq(org.to_string()))
        .order_by_desc(req::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(OperatorRequest::try_from)
        .collect()
}

pub async fn request(
    c: &impl Conn,
    org: OrgId,
    id: RequestId,
) -> StoreResult<Option<OperatorRequest>> {
    req::Entity::find()
        .filter(req::Column::OrgId.eq(org.to_string()))
        .filter(req::Column::Id.eq(id.to_string()))
        .one(c)
        .await?
        .map(OperatorRequest::try_from)
        .transpose()
}

/// Decides a pending request; false if it was no longer pending (decided meanwhile).
pub async fn decide(c: &impl Conn, r: &OperatorRequest) -> StoreResult<bool> {
    let res = req::Entity::update_many()
        .set(req::ActiveModel {
            status: Set(r.status.as_str().to_string()),
            decided_at: Set(r.decided_at),
            decided_by: Set(r.decided_by.as_ref().map(ToString::to_string)),
            ..Default::default()
        })
        .filter(req::Column::OrgId.eq(r.org_id.to_string()))
        .filter(req::Column::Id.eq(r.id.to_string()))
        .filter(req::Column::Status.eq(RequestStatus::Pending.as_str()))
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Puts an approved request back to pending (its change could not be made).
pub async fn reopen(c: &impl Conn, r: &OperatorRequest) -> StoreResult<()> {
    req::Entity::update_many()
        .set(req::ActiveModel {
            status: Set(RequestStatus::Pending.as_str().to_string()),
            decided_at: Set(None),
            decided_by: Set(None),
            ..Default::default()
        })
        .filter(req::Column::OrgId.eq(r.org_id.to_string()))
        .filter(req::Column::Id.eq(r.id.to_string()))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn insert_break_glass(c: &impl Conn, b: &BreakGlass) -> StoreResult<()> {
    bg::Entity::insert(bg::ActiveModel {
        id: Set(b.id.to_string()),
        org_id: Set(b.org_id.to_string()),
        reason: Set(b.reason.clone()),
        opened_by: Set(b.opened_by.to_string()),
        opened_at: Set(b.opened_at),
        ends_at: Set(b.ends_at),
        reviewed_at: Set(b.reviewed_at),
        reviewed_by: Set(b.reviewed_by.as_ref().map(ToString::to_string)),
        review_note: Set(b.review_note.clone()),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The organization's break-glass windows, newest first.
pub async fn break_glasses(c: &impl Conn, org: OrgId) -> StoreResult<Vec<BreakGlass>> {
    bg::Entity::find()
        .filter(bg::Column::OrgId.eq(org.to_string()))
        .order_by_desc(bg::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(BreakGlass::try_from)
        .collect()
}

/// The window open in the organization at `now`, if any.
pub async fn open_break_glass(
    c: &impl Conn,
    org: OrgId,
    now: i64,
) -> StoreResult<Option<BreakGlass>> {
    bg::Entity::find()
        .filter(bg::Column::OrgId.eq(org.to_string()))
        .filter(bg::Column::OpenedAt.lte(now))
        .filter(bg::Column::EndsAt.gt(now))
        .order_by_desc(bg::Column::EndsAt)
        .one(c)
        .await?
        .map(BreakGlass::try_from)
        .transpose()
}

/// Records the review of a window; false if it was reviewed already.
pub async fn review_break_glass(c: &impl Conn, b: &BreakGlass) -> StoreResult<bool> {
    let res = bg::Entity::update_many()
        .set(bg::ActiveModel {
            reviewed_at: Set(b.reviewed_at),
            reviewed_by: Set(b.reviewed_by.as_ref().map(ToString::to_string)),
            review_note: Set(b.review_note.clone()),
            ..Default::default()
        })
        .filter(bg::Column::OrgId.eq(b.org_id.to_string()))
        .filter(bg::Column::Id.eq(b.id.to_string()))
        .filter(bg::Column::ReviewedAt.is_null())
        .exec(c)
        .await?;
    Ok(res.rows_affected == 1)
}
