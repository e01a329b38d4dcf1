//! The one user-lifecycle transition, whoever asks for it (SCIM, an LDAP/AD sync, an admin, an
//! organization's suspension): `provisioned -> active -> suspended -> deprovisioned` and back.
//!
//! The caller sets the new status and reason ([`set_status`]) and writes the row its own way (a
//! single update, a batch insert with fingerprints); [`transition`], in the same transaction,
//! names the change for the audit log and does what it means: a person who was active and is not
//! any more is a leaver (every door closes, deliveries queued); a person who is active again is
//! told to the applications (reactivation deliveries). So the audit action always agrees with
//! the deliveries.

use serde_json::json;

use super::{User, UserStatus};
use crate::audit::AuditAction;
use crate::deprovision::{Ended, Signal};
use crate::state::AppState;
use crate::storage::{StoreError, Tx};

/// What a status change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The audit action naming the change.
    pub action: AuditAction,
    /// The access ended, when the person was active and is not any more.
    pub ended: Option<Ended>,
    /// Reactivation deliveries queued, when the person is active again.
    pub returned: usize,
}

impl Transition {
    /// The audit details of what the change did downstream.
    pub fn details(&self) -> serde_json::Value {
        json!({
            "access_ended": self.ended.as_ref().map(Ended::details),
            "deliveries_queued": self.returned + self.ended.as_ref().map_or(0, |e| e.deliveries),
        })
    }
}

/// The audit action of a change from `was` (`None`: the person is new) to `now`.
pub fn action(was: Option<UserStatus>, now: UserStatus) -> AuditAction {
    use UserStatus::{Active, Deprovisioned, Suspended};
    match (was, now) {
        (None, _) => AuditAction::UserCreated,
        (Some(w), n) if w == n => AuditAction::UserUpdated,
        (Some(_), Deprovisioned) => AuditAction::UserDeprovisioned,
        (Some(Active), Suspended) => AuditAction::UserSuspended,
        (Some(Suspended | Deprovisioned), Active) => AuditAction::UserReactivated,
        // A deprovisioned person suspended: still without access, nothing to tell.
        (Some(_), _) => AuditAction::UserUpdated,
    }
}

/// Sets `user`'s status and reason, with a new version, if the status changes; returns whether
/// it did.
pub fn set_status(user: &mut User, status: UserStatus, reason: Option<String>, now: i64) -> bool {
    if user.status == status {
        return false;
    }
    user.status = status;
    user.status_reason = reason;
    user.version += 1;
    user.updated_at = now;
    true
}

/// Names and carries out, inside `tx`, the change of `user` from `was` to its status now (the
/// caller has written the row). `signal` says why and when, for a leaver.
pub async fn transition(
    tx: &Tx,
    state: &AppState,
    was: Option<UserStatus>,
    user: &User,
    signal: &Signal,
) -> Result<Transition, StoreError> {
    let action = action(was, user.status);
    let ended = if was == Some(UserStatus::Active) && user.status != UserStatus::Active {
        Some(crate::deprovision::leaver(tx, state, user, signal).await?)
    } else {
        None
    };
    let returned = if action == AuditAction::UserReactivated {
        crate::deprovision::returning(tx, state, user).await?
    } else {
        0
    };
    Ok(Transition {
        action,
        ended,
        returned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserStatus::{Active, Deprovisioned, Suspended};

    #[test]
    fn every_change_has_one_name() {
        assert_eq!(action(None, Active), AuditAction::UserCreated);
        assert_eq!(action(Some(Active), Active), AuditAction::UserUpdated);
        assert_eq!(action(Some(Active), Suspended), AuditAction::UserSuspended);
        assert_eq!(
            action(Some(Active), Deprovisioned),
            AuditAction::UserDeprovisioned
        );
        assert_eq!(
            action(Some(Suspended), Deprovisioned),
            AuditAction::UserDeprovisioned
        );
        assert_eq!(
            action(Some(Suspended), Active),
            AuditAction::UserReactivated
        );
        // The admin's case the old code audited as `user.updated` while reactivation
        // deliveries were queued.
        assert_eq!(
            action(Some(Deprovisioned), Active),
            AuditAction::UserReactivated
        );
        assert_eq!(
            action(Some(Deprovisioned), Suspended),
            AuditAction::UserUpdated
        );
    }
}
