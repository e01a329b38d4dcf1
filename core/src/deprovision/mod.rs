//! The deprovisioning engine: one entry point for every leaver signal (a SCIM deactivation or
//! delete, a user removed or disabled in LDAP/AD, an admin's action, the organization
//! suspended). Inside the caller's transaction, next to the status change and its audit event,
//! it ends the person's hub sessions, revokes their refresh tokens and (through the revocation
//! list) their access tokens, records the leaver, and queues one outbox delivery per downstream
//! notification: back-channel logout to each application the person used, outbound SCIM and a
//! signed webhook to each application that has them. A rehire queues the reverse (SCIM
//! `active=true`, a `user.reactivated` webhook). The outbox worker delivers after commit.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use crate::ids::{AppId, DeliveryId, LeaverId, OrgId, UserId};
use crate::orgs::model::{Application, Release, ScimOnLeave};
use crate::sessions::LogoutNotice;
use crate::state::AppState;
use crate::storage::{self, StoreError, Tx};
use crate::users::{User, UserStatus};

pub mod deliver;
pub mod model;
pub mod outbox;
pub mod report;

pub use model::{
    Delivery, DeliveryKind, DeliveryStatus, Leaver, LeaverEvent, LeaverSource, LogoutPayload,
    Payload, Person, ReturnEvent, ScimAction, ScimChange, WebhookEvent, WithdrawnEvent,
};

/// Why a person's access ends, and when the hub heard of it.
#[derive(Debug, Clone)]
pub struct Signal {
    pub source: LeaverSource,
    /// In plain words, for the audit log and the compliance view.
    pub reason: String,
    /// When the signal reached the hub (the request arrived, the directory read ended).
    pub received_at: i64,
}

/// What ending a person's access did, for the audit event of the change.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Ended {
    pub leaver: Option<LeaverId>,
    pub sessions_ended: usize,
    pub deliveries: usize,
}

impl Ended {
    /// The audit details of the access ended.
    pub fn details(&self) -> serde_json::Value {
        json!({"leaver": self.leaver, "sessions_ended": self.sessions_ended,
            "deliveries_queued": self.deliveries})
    }
}

/// Whom a delivery is for: the application, and the person it is about.
pub struct To {
    pub org: OrgId,
    pub app: AppId,
    pub user: UserId,
    pub leaver: Option<LeaverId>,
}

/// A pending delivery, due now.
pub fn delivery(to: To, key: String, payload: Payload, now: i64) -> Delivery {
    Delivery {
        id: DeliveryId::new(),
        org_id: to.org,
        app_id: to.app,
        user_id: to.user,
        leaver_id: to.leaver,
        idempotency_key: key,
        payload,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        claimed_by: None,
        claimed_until: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    }
}

/// Back-channel logout deliveries: one per (application with a logout URI, ended session), and
/// one with `sub` only for an application the person holds tokens at without a live session.
#[allow(clippy::too_many_arguments)]
fn logout_deliveries(
    state: &AppState,
    apps: &BTreeMap<AppId, Application>,
    user_org: OrgId,
    user: UserId,
    leaver: Option<LeaverId>,
    notices: &[LogoutNotice],
    token_apps: &[AppId],
    now: i64,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut told: BTreeSet<AppId> = BTreeSet::new();
    for n in notices {
        for app_id in &n.apps {
            let Some(app) = apps
                .get(app_id)
                .filter(|a| a.backchannel_logout_uri.is_some())
            else {
                continue;
            };
            if !told.insert(app.id) && leaver.is_none() {
                continue;
            }
            out.push(delivery(
                To {
                    org: n.org_id,
                    app: app.id,
                    user,
                    leaver,
                },
                format!("bcl:{}:{}", app.id, n.session_id),
                Payload::BackchannelLogout(LogoutPayload {
                    sub: crate::spaces::release::subject(state, app, user_org, user),
                    sid: Some(crate::sessions::app_sid(state, app.id, &n.session_id)),
                }),
                now,
            ));
        }
    }
    if let Some(leaver) = leaver {
        for app_id in token_apps {
            let Some(app) = apps
                .get(app_id)
                .filter(|a| a.backchannel_logout_uri.is_some())
            else {
                continue;
            };
            if told.insert(app.id) {
                out.push(delivery(
                    To {
                        org: app.org_id,
                        app: app.id,
                        user,
                        leaver: Some(leaver),
                    },
                    format!("bcl:{leaver}:{}", app.id),
                    Payload::BackchannelLogout(LogoutPayload {
                        sub: crate::spaces::release::subject(state, app, user_org, user),
                        sid: None,
                    }),
                    now,
                ));
            }
        }
    }
    // Two notices never name one session, but keys must be unique: keep the first of each.
    let mut keys = BTreeSet::new();
    out.retain(|d| keys.insert(d.idempotency_key.clone()));
    out
}

/// What `app`'s SCIM service and webhook are told about `user`: its `sub` for the person and
/// what is released to it (the application's policy for its own organization's people; for
/// another organization's, `granted`, what a space grant released, else nothing).
pub fn person(
    state: &AppState,
    app: &Application,
    user: &User,
    granted: Option<&Release>,
) -> Person {
    let empty = Release::default();
    let release = if user.org_id == app.org_id {
        &app.release
    } else {
        granted.unwrap_or(&empty)
    };
    let email = release.has("email") && !user.email.is_empty();
    Person {
        sub: crate::spaces::release::subject(state, app, user.org_id, user.id),
        user_name: release
            .has("preferred_username")
            .then(|| user.username.clone()),
        email: email.then(|| user.email.clone()),
        name: release.has("name").then(|| user.name.clone()),
    }
}

/// The SCIM action that tells an application a person left, as the application chose.
pub fn leave_action(on_leave: ScimOnLeave) -> ScimAction {
    match on_leave {
        ScimOnLeave::Deactivate => ScimAction::Deactivate,
        ScimOnLeave::Delete => ScimAction::Delete,
    }
}

/// The applications a person of `org` may be known to: their organization's own, those of
/// other organizations that a space admits them to (`user`), and any named in `used` (the
/// person's sessions and tokens reached them).
async fn reach_apps(
    tx: &Tx,
    org: OrgId,
    user: Option<&User>,
    used: &[AppId],
) -> Result<BTreeMap<AppId, Application>, StoreError> {
    let mut apps: BTreeMap<AppId, Application> = storage::applications::list(tx.conn(), org)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    if let Some(user) = user {
        for a in crate::spaces::reachable_apps(tx.conn(), user).await? {
            apps.insert(a.id, a);
        }
    }
    let missing: Vec<AppId> = used
        .iter()
        .filter(|a| !apps.contains_key(a))
        .copied()
        .collect();
    for a in storage::applications::by_ids_any(tx.conn(), &missing).await? {
        apps.insert(a.id, a);
    }
    Ok(apps)
}

/// The applications named by sessions' notices and held tokens.
fn used_apps(notices: &[LogoutNotice], token_apps: &[AppId]) -> Vec<AppId> {
    let mut used: Vec<AppId> = notices
        .iter()
        .flat_map(|n| n.apps.iter().copied())
        .chain(token_apps.iter().copied())
        .collect();
    used.sort();
    used.dedup();
    used
}

/// Ends every door of `user` inside `tx`, after the caller wrote their new status (suspended or
/// deprovisioned): sessions, refresh and access tokens, and one delivery per downstream
/// notification. Records the leaver and its time to local revocation.
pub async fn leaver(
    tx: &Tx,
    state: &AppState,
    user: &User,
    signal: &Signal,
) -> Result<Ended, StoreError> {
    let org = user.org_id;
    let now = state.clock.now_ms();
    let token_apps = storage::oidc::live_token_apps(tx.conn(), org, user.id, now).await?;
    let notices = crate::sessions::end_user_access(tx, state, org, user.id, &signal.reason).await?;
    let apps = reach_apps(tx, org, Some(user), &used_apps(&notices, &token_apps)).await?;
    let id = LeaverId::new();
    let mut rows = logout_deliveries(
        state,
        &apps,
        org,
        user.id,
        Some(id),
        &notices,
        &token_apps,
        now,
    );
    for app in apps.values() {
        // Another organization's application learns who and that access ended, never the
        // leaver's id, signal or reason.
        let own = app.org_id == org;
        let who = person(state, app, user, None);
        let left = LeaverEvent {
            user: who.clone(),
            organization: org,
            leaver: own.then_some(id),
            source: own.then_some(signal.source),
            reason: own.then(|| signal.reason.clone()),
            status: user.status,
            signal_at: own.then_some(signal.received_at),
        };
        let event = match user.status {
            UserStatus::Deprovisioned => WebhookEvent::UserDeprovisioned(left),
            _ => WebhookEvent::UserSuspended(left),
        };
        let to = || To {
            org,
            app: app.id,
            user: user.id,
            leaver: Some(id),
        };
        if let Some(t) = &app.scim_target {
            rows.push(delivery(
                to(),
                format!("scim:{id}:{}", app.id),
                Payload::Scim(ScimChange {
                    action: leave_action(t.on_leave),
                    group: None,
                    user: who,
                }),
                now,
            ));
        }
        if app.webhook.is_some() {
            rows.push(delivery(
                to(),
                format!("webhook:{id}:{}", app.id),
                Payload::Webhook(event),
                now,
            ));
        }
    }
    let revoked_at = state.clock.now_ms();
    storage::leavers::insert(
        tx.conn(),
        &Leaver {
            id,
            org_id: org,
            user_id: user.id,
            source: signal.source,
            reason: signal.reason.clone(),
            outcome: user.status,
            signal_at: signal.received_at,
            revoked_at,
            deliveries: rows.len() as i64,
            completed_at: rows.is_empty().then_some(revoked_at),
        },
    )
    .await?;
    storage::outbox::insert_many(tx.conn(), &rows).await?;
    state.metrics.deprovision_revoked(
        signal.source.as_str(),
        (revoked_at - signal.received_at).max(0) as f64 / 1000.0,
    );
    Ok(Ended {
        leaver: Some(id),
        sessions_ended: notices.len(),
        deliveries: rows.len(),
    })
}

/// A rehired or reactivated user: applications with outbound SCIM get `active=true` (when they
/// deactivate leavers), and webhooks a `user.reactivated` event. Returns the deliveries queued.
pub async fn returning(tx: &Tx, state: &AppState, user: &User) -> Result<usize, StoreError> {
    let org = user.org_id;
    let now = state.clock.now_ms();
    let apps = reach_apps(tx, org, Some(user), &[]).await?;
    let mark = uuid::Uuid::now_v7();
    let mut rows = Vec::new();
    for app in apps.values() {
        let to = || To {
            org,
            app: app.id,
            user: user.id,
            leaver: None,
        };
        if let Some(t) = &app.scim_target
            && t.on_leave == ScimOnLeave::Deactivate
        {
            rows.push(delivery(
                to(),
                format!("scim:{mark}:{}", app.id),
                Payload::Scim(ScimChange {
                    action: ScimAction::Reactivate,
                    group: None,
                    user: person(state, app, user, None),
                }),
                now,
            ));
        }
        if app.webhook.is_some() {
            rows.push(delivery(
                to(),
                format!("webhook:{mark}:{}", app.id),
                Payload::Webhook(WebhookEvent::UserReactivated(ReturnEvent {
                    user: person(state, app, user, None),
                    organization: org,
                    status: user.status,
                })),
                now,
            ));
        }
    }
    storage::outbox::insert_many(tx.conn(), &rows).await?;
    Ok(rows.len())
}

/// Queues back-channel logout for sessions ended outside the engine (RP-initiated logout).
pub async fn queue_logouts(
    tx: &Tx,
    state: &AppState,
    notices: &[LogoutNotice],
) -> Result<usize, StoreError> {
    let mut rows = Vec::new();
    let now = state.clock.now_ms();
    for n in notices {
        let apps = reach_apps(tx, n.org_id, None, &n.apps).await?;
        rows.extend(logout_deliveries(
            state,
            &apps,
            n.org_id,
            n.user_id,
            None,
            std::slice::from_ref(n),
            &[],
            now,
        ));
    }
    storage::outbox::insert_many(tx.conn(), &rows).await?;
    Ok(rows.len())
}

/// Tells this replica's delivery worker that deliveries were committed.
pub fn wake(state: &AppState) {
    state.outbox.notify_one();
}
