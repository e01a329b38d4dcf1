//! Sessions' fresh sign-ins and the console change each may keep waiting for the next. Both
//! are found by the session's id within its organization; a session has at most one of each.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::ids::OrgId;
use crate::reauth::model::{PendingChange, StepUp};
use crate::storage::entities::{console_pending_change as pc, session_step_up as su};
use crate::storage::{Conn, StoreError, StoreResult};

impl TryFrom<su::Model> for StepUp {
    type Error = StoreError;
    fn try_from(m: su::Model) -> Result<Self, StoreError> {
        Ok(Self {
            session_id: m.session_id,
            org_id: super::parse(&m.org_id, "session_step_ups")?,
            user_id: super::parse(&m.user_id, "session_step_ups")?,
            at_ms: m.at_ms,
            upstream_auth_ms: m.upstream_auth_ms,
            method: m.method,
        })
    }
}

impl TryFrom<pc::Model> for PendingChange {
    type Error = StoreError;
    fn try_from(m: pc::Model) -> Result<Self, StoreError> {
        Ok(Self {
            session_id: m.session_id,
            org_id: super::parse(&m.org_id, "console_pending_changes")?,
            user_id: super::parse(&m.user_id, "console_pending_changes")?,
            path: m.path,
            form_sealed: m.form_sealed,
            created_at: m.created_at,
            expires_at: m.expires_at,
        })
    }
}

/// Records a session's fresh sign-in, replacing the one before.
pub async fn put_step_up(c: &impl Conn, s: &StepUp) -> StoreResult<()> {
    let row = su::ActiveModel {
        session_id: Set(s.session_id.clone()),
        org_id: Set(s.org_id.to_string()),
        user_id: Set(s.user_id.to_string()),
        at_ms: Set(s.at_ms),
        upstream_auth_ms: Set(s.upstream_auth_ms),
        method: Set(s.method.clone()),
    };
    su::Entity::insert(row)
        .on_conflict(
            OnConflict::column(su::Column::SessionId)
                .update_columns([
                    su::Column::AtMs,
                    su::Column::UpstreamAuthMs,
                    su::Column::Method,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn step_up(c: &impl Conn, org: OrgId, session: &str) -> StoreResult<Option<StepUp>> {
    su::Entity::find()
        .filter(su::Column::OrgId.eq(org.to_string()))
        .filter(su::Column::SessionId.eq(session))
        .one(c)
        .await?
        .map(StepUp::try_from)
        .transpose()
}

/// Keeps `p` as its session's waiting change, replacing the one before.
pub async fn put_pending(c: &impl Conn, p: &PendingChange) -> StoreResult<()> {
    let row = pc::ActiveModel {
        session_id: Set(p.session_id.clone()),
        org_id: Set(p.org_id.to_string()),
        user_id: Set(p.user_id.to_string()),
        path: Set(p.path.clone()),
        form_sealed: Set(p.form_sealed.clone()),
        created_at: Set(p.created_at),
        expires_at: Set(p.expires_at),
    };
    pc::Entity::insert(row)
        .on_conflict(
            OnConflict::column(pc::Column::SessionId)
                .update_columns([
                    pc::Column::Path,
                    pc::Column::FormSealed,
                    pc::Column::CreatedAt,
                    pc::Column::ExpiresAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
    Ok(())
}

pub async fn pending(
    c: &impl Conn,
    org: OrgId,
    session: &str,
) -> StoreResult<Option<PendingChange>> {
    pc::Entity::find()
        .filter(pc::Column::OrgId.eq(org.to_string()))
        .filter(pc::Column::SessionId.eq(session))
        .one(c)
        .await?
        .map(PendingChange::try_from)
        .transpose()
}

/// Removes the session's waiting change; whether there was one (a change is made once).
pub async fn delete_pending(c: &impl Conn, org: OrgId, session: &str) -> StoreResult<bool> {
    let r = pc::Entity::delete_many()
        .filter(pc::Column::OrgId.eq(org.to_string()))
        .filter(pc::Column::SessionId.eq(session))
        .exec(c)
        .await?;
    Ok(r.rows_affected > 0)
}

/// Drops waiting changes that expired (each session keeps at most one; this bounds the rest).
pub async fn purge_pending(c: &impl Conn, now: i64) -> StoreResult<()> {
    pc::Entity::delete_many()
        .filter(pc::Column::ExpiresAt.lte(now))
        .exec(c)
        .await?;
    Ok(())
}
