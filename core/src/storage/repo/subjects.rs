//! Pairwise subjects the hub gave out, to find the person a token names: keyed by the sector
//! (an owner organization or an application) and the subject, both of the hub's making.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::parse;
use crate::ids::{OrgId, UserId};
use crate::storage::entities::pairwise_subject::{ActiveModel, Column, Entity};
use crate::storage::{Conn, StoreResult};

/// Remembers that `subject` in `sector` is `user` of `org` (once; it never changes).
pub async fn remember(
    c: &impl Conn,
    sector: &str,
    subject: &str,
    org: OrgId,
    user: UserId,
    now: i64,
) -> StoreResult<()> {
    Entity::insert(ActiveModel {
        sector: Set(sector.to_string()),
        subject: Set(subject.to_string()),
        org_id: Set(org.to_string()),
        user_id: Set(user.to_string()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::Sector, Column::Subject])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The person `subject` names in `sector`.
pub async fn find(
    c: &impl Conn,
    sector: &str,
    subject: &str,
) -> StoreResult<Option<(OrgId, UserId)>> {
    match Entity::find_by_id((sector.to_string(), subject.to_string()))
        .one(c)
        .await?
    {
        Some(m) => Ok(Some((
            parse(&m.org_id, "pairwise_subjects")?,
            parse(&m.user_id, "pairwise_subjects")?,
        ))),
        None => Ok(None),
    }
}
