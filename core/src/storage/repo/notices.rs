//! Security notices and each person's read mark, per organization. A notice is written in the
//! transaction of the audit event it copies; a read mark only moves forward.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::audit::model::SecurityNotice;
use crate::ids::{OrgId, UserId};
use crate::storage::entities::{security_notice as n, security_notice_read as r};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<n::Model> for SecurityNotice {
    type Error = StoreError;
    fn try_from(m: n::Model) -> Result<Self, StoreError> {
        let json =
            |s: &str| serde_json::from_str(s).map_err(|_| StoreError::Corrupt("security_notices"));
        Ok(Self {
            org_id: super::parse(&m.org_id, "security_notices")?,
            seq: m.seq,
            at_ms: m.at_ms,
            actor: json(&m.actor)?,
            action: m.action,
            target: m.target,
            details: json(&m.details)?,
        })
    }
}

pub async fn insert(c: &impl Conn, notice: &SecurityNotice) -> StoreResult<()> {
    let row = n::ActiveModel {
        org_id: Set(notice.org_id.to_string()),
        seq: Set(notice.seq),
        at_ms: Set(notice.at_ms),
        actor: Set(notice.actor.to_string()),
        actor_user_id: Set(notice.actor["user_id"].as_str().map(str::to_string)),
        action: Set(notice.action.clone()),
        target: Set(notice.target.clone()),
        details: Set(notice.details.to_string()),
    };
    n::Entity::insert(row).exec_without_returning(c).await?;
    Ok(())
}

/// The organization's notices of changes `viewer` did not make themselves, newest first.
pub async fn list_for(
    c: &impl Conn,
    org: OrgId,
    viewer: UserId,
    limit: u64,
) -> StoreResult<Vec<SecurityNotice>> {
    n::Entity::find()
        .filter(n::Column::OrgId.eq(org.to_string()))
        .filter(not_by(viewer))
        .order_by_desc(n::Column::Seq)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(SecurityNotice::try_from)
        .collect()
}

/// Made by someone else than `viewer` (or by no person at all: a key, the operator, the hub).
fn not_by(viewer: UserId) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(n::Column::ActorUserId.is_null())
        .add(n::Column::ActorUserId.ne(viewer.to_string()))
}

/// How many of those are after `viewer`'s read mark.
pub async fn unread(c: &impl Conn, org: OrgId, viewer: UserId) -> StoreResult<u64> {
    let mark = read_mark(c, org, viewer).await?;
    Ok(n::Entity::find()
        .filter(n::Column::OrgId.eq(org.to_string()))
        .filter(n::Column::Seq.gt(mark))
        .filter(not_by(viewer))
        .count(c)
        .await?)
}

/// The sequence number up to which `viewer` has read the notices (0: none).
pub async fn read_mark(c: &impl Conn, org: OrgId, viewer: UserId) -> StoreResult<i64> {
    Ok(r::Entity::find()
        .filter(r::Column::OrgId.eq(org.to_string()))
        .filter(r::Column::UserId.eq(viewer.to_string()))
        .one(c)
        .await?
        .map_or(0, |m| m.read_seq))
}

/// The newest notice's sequence number in the organization (0: none).
pub async fn newest(c: &impl Conn, org: OrgId) -> StoreResult<i64> {
    Ok(n::Entity::find()
        .filter(n::Column::OrgId.eq(org.to_string()))
        .order_by_desc(n::Column::Seq)
        .one(c)
        .await?
        .map_or(0, |m| m.seq))
}

/// Moves `viewer`'s read mark to `seq` (never back).
pub async fn mark_read(
    c: &impl Conn,
    org: OrgId,
    viewer: UserId,
    seq: i64,
    at_ms: i64,
) -> StoreResult<()> {
    if read_mark(c, org, viewer).await? >= seq {
        return Ok(());
    }
    let row = r::ActiveModel {
        org_id: Set(org.to_string()),
        user_id: Set(viewer.to_string()),
        read_seq: Set(seq),
        at_ms: Set(at_ms),
    };
    r::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([r::Column::OrgId, r::Column::UserId])
                .update_columns([r::Column::ReadSeq, r::Column::AtMs])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}
