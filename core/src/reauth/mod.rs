//! Re-authentication, step-up by recency: a change to who can sign in or who belongs is made
//! only within [`WINDOW_MS`] of the person's last fresh sign-in at their own IdP, as recorded
//! with their session when the IdP answered ([`StepUp`]). A change refused for want of one
//! waits, sealed and bound to the session, until the person has signed in again
//! ([`PendingChange`]); it is made at most once, and only after they confirm it.

pub mod model;

pub use model::{PENDING_TTL_MS, PendingChange, StepUp, WINDOW_MS};

use crate::error::ServiceError;
use crate::sessions::model::Session;
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// A form as posted: its fields in order (repeated names allowed).
pub type Fields = Vec<(String, String)>;

fn context(session: &Session) -> String {
    format!("console.pending_change:{}", session.id)
}

/// The session's last fresh sign-in, if it had one.
pub async fn step_up(state: &AppState, session: &Session) -> Result<Option<StepUp>, StoreError> {
    storage::reauth::step_up(state.store.conn(), session.org_id, &session.id).await
}

/// Keeps the change posted to `path` with `form` (less its CSRF token) as the session's
/// waiting change, replacing any other.
pub async fn keep(
    state: &AppState,
    session: &Session,
    path: &str,
    form: &Fields,
) -> Result<(), ServiceError> {
    let kept: Fields = form.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    let bytes = serde_json::to_vec(&kept).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let now = state.clock.now_ms();
    let pending = PendingChange {
        session_id: session.id.clone(),
        org_id: session.org_id,
        user_id: session.user_id,
        path: path.to_string(),
        form_sealed: state.secrets.seal(&context(session), &bytes)?,
        created_at: now,
        expires_at: now + PENDING_TTL_MS,
    };
    let tx = state.store.begin().await?;
    storage::reauth::purge_pending(tx.conn(), now).await?;
    storage::reauth::put_pending(tx.conn(), &pending).await?;
    tx.commit().await?;
    Ok(())
}

/// The session's waiting change, if it has an unexpired one: its path and form.
pub async fn waiting(
    state: &AppState,
    session: &Session,
) -> Result<Option<(String, Fields)>, ServiceError> {
    let Some(p) = storage::reauth::pending(state.store.conn(), session.org_id, &session.id).await?
    else {
        return Ok(None);
    };
    if p.expires_at <= state.clock.now_ms() || p.user_id != session.user_id {
        return Ok(None);
    }
    let bytes = state
        .secrets
        .open_bytes(&context(session), &p.form_sealed)?;
    let form: Fields = serde_json::from_slice(&bytes)
        .map_err(|_| ServiceError::Internal("pending form".into()))?;
    Ok(Some((p.path, form)))
}

/// Takes the session's waiting change away (it is made once); whether there was one.
pub async fn discard(state: &AppState, session: &Session) -> Result<bool, StoreError> {
    storage::reauth::delete_pending(state.store.conn(), session.org_id, &session.id).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::{OrgId, UserId};

    fn step_up(at_ms: i64) -> StepUp {
        StepUp {
            session_id: "s".into(),
            org_id: OrgId::new(),
            user_id: UserId::new(),
            at_ms,
            upstream_auth_ms: None,
            method: "oidc".into(),
        }
    }

    #[test]
    fn a_sign_in_is_recent_for_five_minutes_and_never_from_the_future() {
        let now = 1_700_000_000_000;
        assert!(step_up(now).is_recent(now));
        assert!(step_up(now - WINDOW_MS).is_recent(now));
        assert!(!step_up(now - WINDOW_MS - 1).is_recent(now));
        assert!(!step_up(now + 1).is_recent(now));
    }
}
