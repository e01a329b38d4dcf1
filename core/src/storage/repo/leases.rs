//! Leases: a named job is run by the replica holding its lease, until the lease expires unless
//! renewed. A replica that dies stops renewing, so another takes the job over after at most one
//! lease period. Leases are global (a job names its organization's resource), not tenant data.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, QueryFilter};

use crate::storage::entities::lease::{ActiveModel, Column, Entity};
use crate::storage::{Conn, StoreResult};

/// Takes `name` for `holder` until `expires_at` if it is free, expired, or already `holder`'s.
pub async fn acquire(
    c: &impl Conn,
    name: &str,
    holder: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<bool> {
    let row = ActiveModel {
        name: Set(name.to_string()),
        holder: Set(holder.to_string()),
        acquired_at: Set(now),
        expires_at: Set(expires_at),
    };
    let n = Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Name)
                .update_columns([Column::Holder, Column::AcquiredAt, Column::ExpiresAt])
                .action_and_where(
                    Expr::col((Entity, Column::ExpiresAt))
                        .lt(now)
                        .or(Expr::col((Entity, Column::Holder)).eq(holder)),
                )
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(n == 1)
}

/// Extends `holder`'s lease; `false` if it was lost (taken over after it expired).
pub async fn renew(c: &impl Conn, name: &str, holder: &str, expires_at: i64) -> StoreResult<bool> {
    let r = Entity::update_many()
        .set(ActiveModel {
            expires_at: Set(expires_at),
            ..Default::default()
        })
        .filter(Column::Name.eq(name))
        .filter(Column::Holder.eq(holder))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Gives the lease up (if `holder` still has it).
pub async fn release(c: &impl Conn, name: &str, holder: &str) -> StoreResult<()> {
    Entity::delete_many()
        .filter(Column::Name.eq(name))
        .filter(Column::Holder.eq(holder))
        .exec(c)
        .await?;
    Ok(())
}

/// Who holds `name` and until when, if anyone does at `now`.
pub async fn holder(c: &impl Conn, name: &str, now: i64) -> StoreResult<Option<(String, i64)>> {
    Ok(Entity::find_by_id(name.to_string())
        .one(c)
        .await?
        .filter(|m| m.expires_at >= now)
        .map(|m| (m.holder, m.acquired_at)))
}
