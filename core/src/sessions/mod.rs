//! Sessions and tokens ending: one session (the person's or their admin's request), every
//! session and token of a person (the deprovisioning engine builds on it), and the back-channel
//! logout token (OIDC Back-Channel Logout 1.0) the outbox POSTs to each application a session
//! reached.

pub mod model;

use serde_json::{Value, json};

use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ids::{AppId, OrgId, UserId};
use crate::orgs::model::Application;
use crate::state::AppState;
use crate::storage::{self, StoreError, Tx};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Who must be told that a session ended.
#[derive(Debug, Clone)]
pub struct LogoutNotice {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub session_id: String,
    pub apps: Vec<AppId>,
}

/// Ends one session and revokes its tokens inside `tx`; returns whom to notify.
pub async fn end_session(
    tx: &Tx,
    now: i64,
    org: OrgId,
    user: UserId,
    session_id: &str,
    reason: &str,
) -> Result<Option<LogoutNotice>, StoreError> {
    if !storage::oidc::end_session(tx.conn(), org, session_id, now, reason).await? {
        return Ok(None);
    }
    storage::oidc::revoke_session_tokens(tx.conn(), org, session_id, now).await?;
    let apps = storage::oidc::session_apps(tx.conn(), org, session_id).await?;
    Ok(Some(LogoutNotice {
        org_id: org,
        user_id: user,
        session_id: session_id.to_string(),
        apps,
    }))
}

/// Ends one live session of a person on their own or their admin's request: its tokens are
/// revoked, its applications' back-channel logouts queued and the end audited (by `actor`,
/// with `details` and the reason), in one transaction; then the delivery worker is woken.
/// False if the session had ended already (nothing is written).
pub async fn end_and_notify(
    state: &AppState,
    (org, user): (OrgId, UserId),
    session_id: &str,
    reason: &str,
    actor: &Actor,
    mut details: Value,
) -> Result<bool, StoreError> {
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let Some(notice) = end_session(&tx, now, org, user, session_id, reason).await? else {
        return Ok(false);
    };
    crate::deprovision::queue_logouts(&tx, state, std::slice::from_ref(&notice)).await?;
    details["reason"] = json!(reason);
    let event = AuditEvent::new(
        actor,
        AuditAction::SessionEnded,
        format!("session:{session_id}"),
    )
    .org(org)
    .details(details);
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok(true)
}

/// Ends every session of a person and revokes all their tokens (offline ones too) inside `tx`.
pub async fn end_user_access(
    tx: &Tx,
    state: &AppState,
    org: OrgId,
    user: UserId,
    reason: &str,
) -> Result<Vec<LogoutNotice>, StoreError> {
    let now = state.clock.now_ms();
    let mut notices = Vec::new();
    for sid in storage::oidc::live_sessions_of(tx.conn(), org, user, now).await? {
        if let Some(n) = end_session(tx, now, org, user, &sid, reason).await? {
            notices.push(n);
        }
    }
    let until = now + (state.config.oidc.access_token_ttl_secs as i64) * 1000;
    storage::oidc::revoke_user_tokens(tx.conn(), org, user, now, until).await?;
    Ok(notices)
}

/// The `sid` `app` is given for the hub's session `session`: the same in its ID tokens, access
/// tokens and logout tokens, unrelated to what any other application is given, so that two
/// applications cannot join their records on it.
pub fn app_sid(state: &AppState, app: crate::ids::AppId, session: &str) -> String {
    state.secrets.pairwise(&format!("sid:{app}"), session)
}

/// The logout token (Back-Channel Logout 1.0 §2.4), signed like the client's ID tokens. `jti` is
/// the delivery's id, the same on every retry, so the application can drop duplicates; without
/// `sid` it logs the person out of every session at the application.
pub async fn logout_token(
    state: &AppState,
    app: &Application,
    jti: &str,
    sub: &str,
    sid: Option<&str>,
) -> Result<String, crate::signing::SigningError> {
    let now = state.clock.now_ms() / 1000;
    let mut claims = json!({
        "iss": state.config.server.public_url,
        "aud": app.client_id,
        "iat": now,
        "exp": now + 120,
        "jti": jti,
        "sub": sub,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    if let Some(sid) = sid {
        claims["sid"] = json!(sid);
    }
    state
        .keys
        .signer(app.id_token_alg)
        .await?
        .sign_jwt("logout+jwt", &claims)
}
