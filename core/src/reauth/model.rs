//! Re-authentication's types: a session's last fresh sign-in at the person's IdP, and the one
//! change a session may keep waiting for the next.

use crate::ids::{OrgId, UserId};

/// How recent a fresh sign-in must be for a change to who can sign in or who belongs: five
/// minutes (README, "Console").
pub const WINDOW_MS: i64 = 5 * 60 * 1000;

/// How long a change waits for its re-authentication (the sign-in's own lifetime).
pub const PENDING_TTL_MS: i64 = 15 * 60 * 1000;

/// When the person of a session last signed in afresh at their IdP: the IdP was asked to
/// authenticate them again and said it did (`auth_time` or `AuthnInstant` no older than that
/// sign-in). Written by the hub when the sign-in completes; nothing a browser sends sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    pub session_id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    /// When the hub received the fresh sign-in (the hub's clock).
    pub at_ms: i64,
    /// When the IdP says it authenticated the person, if it said (its clock).
    pub upstream_auth_ms: Option<i64>,
    /// `oidc`, `saml` or `dev_login`.
    pub method: String,
}

impl StepUp {
    /// Recent enough at `now_ms` for a sensitive change.
    pub fn is_recent(&self, now_ms: i64) -> bool {
        self.at_ms <= now_ms && now_ms - self.at_ms <= WINDOW_MS
    }
}

/// A console change refused for want of a recent sign-in, kept (its form sealed, bound to
/// the session) so that the person can make it once they have signed in again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChange {
    pub session_id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    /// The console path the form was posted to.
    pub path: String,
    pub form_sealed: String,
    pub created_at: i64,
    pub expires_at: i64,
}
