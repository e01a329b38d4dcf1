//! Full sync of an LDAP or Active Directory: read every user (paged), then reconcile. A user is
//! matched by the directory's stable id (so a rename or a move keeps the same hub user), else by
//! email (taking over a user the admins created, or rehiring a deprovisioned one). Users the
//! directory disables are suspended; users it no longer lists are deprovisioned, unless the run
//! would remove more than the directory's threshold: then the removals are held for an admin
//! to confirm, which the audit log and the API say. A failed read changes nobody.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use super::{Directory, DirectoryKind, PASSWORD_CONTEXT};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::UserId;
use crate::orgs::model::Organization;
use crate::state::AppState;
use crate::storage::{self, directories::SyncRow};
use crate::users::{User, UserStatus};

/// Changes written per transaction.
const BATCH: usize = 200;

/// What one run did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub read: usize,
    pub created: usize,
    pub updated: usize,
    pub suspended: usize,
    pub reactivated: usize,
    pub deprovisioned: usize,
    pub unchanged: usize,
    /// Entries without a stable id or whose email is not in a verified domain.
    pub skipped: usize,
    /// Removals held for an admin to confirm.
    pub held: usize,
    pub groups_created: usize,
    pub groups_updated: usize,
    pub groups_deleted: usize,
}

enum Change {
    Create(User),
    Update(User, UserStatus),
}

/// Runs a full sync of `dir` now; `progress` hears the entries read so far.
pub async fn run(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    progress: impl FnMut(usize) + Send,
) -> Result<SyncRow, ServiceError> {
    let (Some(settings), DirectoryKind::Ldap) = (&dir.ldap, dir.kind) else {
        return Err(ServiceError::Unprocessable(
            "only an ldap directory is synced by the hub; a scim directory is pushed to".into(),
        ));
    };
    let sealed = dir
        .secret_sealed
        .as_deref()
        .ok_or_else(|| ServiceError::Unprocessable("the directory has no bind password".into()))?;
    let password = state
        .secrets
        .open(&format!("{PASSWORD_CONTEXT}:{}", dir.id), sealed)?;
    let mut row = SyncRow {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id,
        directory_id: dir.id,
        status: "running".into(),
        started_at: state.clock.now_ms(),
        finished_at: None,
        counts: json!({}),
        held: Vec::new(),
        error: None,
    };
    storage::directories::insert_sync(state.store.conn(), &row).await?;
    let actor = Actor::Directory {
        org_id: org.id,
        directory_id: dir.id,
        name: dir.name.clone(),
    };
    tracing::info!(org = %org.slug, directory = %dir.name, "directory sync started");
    let config = settings.connector_config(password.expose().to_string());
    let read = connectors::ldap::read_users(&config, progress).await;
    let mut counts = Counts::default();
    let outcome = match read {
        Err(e) => Err(e.to_string()),
        Ok(r) => {
            counts.read = r.entries.len();
            counts.skipped = r.skipped.len();
            let groups = r.groups;
            let done = async {
                let held = reconcile(
                    state,
                    org,
                    dir,
                    &actor,
                    r.entries,
                    settings.deprovision_threshold_percent,
                    &mut counts,
                )
                .await?;
                reconcile_groups(state, org, dir, &actor, groups, &mut counts).await?;
                Ok::<_, crate::storage::StoreError>(held)
            };
            done.await.map_err(|e| {
                tracing::error!(error = %e, "directory sync: storage error");
                format!("the hub could not store the changes: {e}")
            })
        }
    };
    row.finished_at = Some(state.clock.now_ms());
    row.counts = serde_json::to_value(&counts).unwrap_or_default();
    match outcome {
        Ok(held) => {
            row.status = if held.is_empty() { "succeeded" } else { "held" }.into();
            row.held = held;
        }
        Err(e) => {
            row.status = "failed".into();
            row.error = Some(e);
        }
    }
    let tx = state.store.begin().await?;
    storage::directories::update_sync(tx.conn(), &row).await?;
    let action = if row.status == "held" {
        AuditAction::DirectorySyncHeld
    } else {
        AuditAction::DirectorySynced
    };
    let event = AuditEvent::new(&actor, action, format!("directory:{}", dir.id))
        .org(org.id)
        .details(json!({
            "sync": row.id, "status": row.status, "counts": row.counts, "error": row.error,
            "held_users": row.held.iter().take(100).map(ToString::to_string).collect::<Vec<_>>(),
        }));
    state.commit_audited(tx, event).await?;
    tracing::info!(org = %org.slug, directory = %dir.name, status = %row.status,
        counts = %row.counts, error = ?row.error, "directory sync finished");
    Ok(row)
}

/// Applies what the directory says; returns the users whose removal is held.
async fn reconcile(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    actor: &Actor,
    entries: Vec<connectors::ldap::DirectoryEntry>,
    threshold_percent: u32,
    counts: &mut Counts,
) -> Result<Vec<UserId>, crate::storage::StoreError> {
    let users = storage::users::list(state.store.conn(), org.id).await?;
    let mut by_id: BTreeMap<String, User> = BTreeMap::new();
    let mut by_email: BTreeMap<String, User> = BTreeMap::new();
    for u in users {
        if u.directory_id == Some(dir.id)
            && let Some(x) = &u.external_id
        {
            by_id.insert(x.clone(), u.clone());
        }
        by_email.insert(u.email.clone(), u);
    }
    let verified: BTreeSet<String> = storage::domains::list(state.store.conn(), org.id)
        .await?
        .into_iter()
        .filter(|d| d.verified_at.is_some())
        .map(|d| d.domain)
        .collect();
    let now = state.clock.now_ms();
    let mut seen = BTreeSet::new();
    let mut changes = Vec::new();
    for e in entries {
        let Some(email) = e.email.clone().filter(|m| {
            m.rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && verified.contains(d))
        }) else {
            counts.skipped += 1;
            continue;
        };
        seen.insert(e.id.clone());
        let existing = by_id.get(&e.id).cloned().or_else(|| {
            by_email.get(&email).cloned().filter(|u| {
                u.directory_id.is_none()
                    || u.directory_id == Some(dir.id)
                    || u.status == UserStatus::Deprovisioned
            })
        });
        let clip = |s: &str| s.chars().take(200).collect::<String>();
        let name = e
            .name
            .clone()
            .or_else(|| match (&e.given_name, &e.family_name) {
                (Some(g), Some(f)) => Some(format!("{g} {f}")),
                _ => None,
            })
            .unwrap_or_else(|| email.clone());
        let status = if e.disabled {
            UserStatus::Suspended
        } else {
            UserStatus::Active
        };
        let mut u = existing.clone().unwrap_or_else(|| User {
            id: UserId::new(),
            org_id: org.id,
            external_id: None,
            username: String::new(),
            email: String::new(),
            email_verified: true,
            name: String::new(),
            given_name: None,
            family_name: None,
            groups: Vec::new(),
            status,
            status_reason: None,
            created_at: now,
            updated_at: now,
            directory_id: None,
            version: 0,
            attributes: Default::default(),
        });
        u.external_id = Some(e.id.clone());
        u.directory_id = Some(dir.id);
        u.username = clip(e.username.as_deref().unwrap_or(&email));
        u.email = email;
        u.email_verified = true;
        u.name = clip(&name);
        u.given_name = e.given_name.as_deref().map(clip);
        u.family_name = e.family_name.as_deref().map(clip);
        u.attributes.insert("dn".into(), json!(e.dn));
        if u.status != status {
            u.status = status;
            u.status_reason = e
                .disabled
                .then(|| format!("disabled in the directory {}", dir.name));
        }
        match existing {
            None => changes.push(Change::Create(u)),
            Some(before) if before == u => counts.unchanged += 1,
            Some(before) => changes.push(Change::Update(u, before.status)),
        }
    }
    // Users this directory manages that it no longer lists.
    let managed_active = by_id
        .values()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .count();
    let gone: Vec<User> = by_id
        .values()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .filter(|u| u.external_id.as_ref().is_some_and(|x| !seen.contains(x)))
        .cloned()
        .collect();
    let limit = (managed_active * threshold_percent as usize / 100).max(5);
    let held: Vec<UserId> = if gone.len() > limit {
        counts.held = gone.len();
        gone.iter().map(|u| u.id).collect()
    } else {
        Vec::new()
    };
    if held.is_empty() {
        for mut u in gone {
            let was = u.status;
            u.status = UserStatus::Deprovisioned;
            u.status_reason = Some(format!("no longer in the directory {}", dir.name));
            changes.push(Change::Update(u, was));
        }
    }
    for batch in changes.chunks(BATCH) {
        let tx = state.store.begin().await?;
        let mut notices = Vec::new();
        for change in batch {
            let (mut u, was) = match change {
                Change::Create(u) => (u.clone(), None),
                Change::Update(u, was) => (u.clone(), Some(*was)),
            };
            u.version += 1;
            u.updated_at = now;
            let action = match (was, u.status) {
                (None, _) => AuditAction::UserCreated,
                (Some(_), UserStatus::Deprovisioned) => AuditAction::UserDeprovisioned,
                (Some(UserStatus::Active), UserStatus::Suspended) => AuditAction::UserSuspended,
                (Some(UserStatus::Suspended | UserStatus::Deprovisioned), UserStatus::Active) => {
                    AuditAction::UserReactivated
                }
                _ => AuditAction::UserUpdated,
            };
            match action {
                AuditAction::UserCreated => counts.created += 1,
                AuditAction::UserDeprovisioned => counts.deprovisioned += 1,
                AuditAction::UserSuspended => counts.suspended += 1,
                AuditAction::UserReactivated => counts.reactivated += 1,
                _ => counts.updated += 1,
            }
            if was.is_none() {
                storage::users::insert(tx.conn(), &u).await?;
            } else {
                storage::users::update_all(tx.conn(), &u).await?;
            }
            if u.status != UserStatus::Active && was == Some(UserStatus::Active) {
                notices.extend(
                    crate::oidc::logout::end_user_access(
                        &tx,
                        state,
                        org.id,
                        u.id,
                        "left the directory",
                    )
                    .await?,
                );
            }
            let event = AuditEvent::new(actor, action, format!("user:{}", u.id))
                .org(org.id)
                .details(json!({
                    "source": "ldap", "directory": dir.name, "dn": u.attributes.get("dn"),
                    "userName": u.username, "email": u.email, "status": u.status,
                    "reason": u.status_reason,
                }));
            crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        }
        tx.commit().await?;
        crate::oidc::logout::notify(state, notices);
    }
    Ok(held)
}

/// Deprovisions the users a held run would have removed, on an admin's word.
pub async fn confirm(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    sync_id: &str,
    actor: &Actor,
) -> Result<SyncRow, ServiceError> {
    let mut row = storage::directories::get_sync(state.store.conn(), org.id, sync_id)
        .await?
        .filter(|r| r.directory_id == dir.id)
        .ok_or(ServiceError::NotFound("sync"))?;
    if row.status != "held" {
        return Err(ServiceError::Conflict(format!(
            "this sync is {}, not held",
            row.status
        )));
    }
    let tx = state.store.begin().await?;
    let mut notices = Vec::new();
    let mut done = 0usize;
    for id in &row.held {
        let Some(mut u) = storage::users::get_for_update(tx.conn(), org.id, *id).await? else {
            continue;
        };
        if u.status == UserStatus::Deprovisioned || u.directory_id != Some(dir.id) {
            continue;
        }
        let reason = format!("no longer in the directory {} (confirmed)", dir.name);
        notices.extend(
            crate::users::deprovision(&tx, state, &mut u, reason, "left the directory").await?,
        );
        let event = AuditEvent::new(
            actor,
            AuditAction::UserDeprovisioned,
            format!("user:{}", u.id),
        )
        .org(org.id)
        .details(
            json!({"source": "ldap", "directory": dir.name, "confirmed_sync": row.id,
                "reason": u.status_reason}),
        );
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        done += 1;
    }
    row.status = "succeeded".into();
    row.counts["deprovisioned"] = json!(done);
    row.counts["held"] = json!(0);
    storage::directories::update_sync(tx.conn(), &row).await?;
    let event = AuditEvent::new(
        actor,
        AuditAction::DirectorySyncConfirmed,
        format!("directory:{}", dir.id),
    )
    .org(org.id)
    .details(json!({"sync": row.id, "deprovisioned": done}));
    state.commit_audited(tx, event).await?;
    crate::oidc::logout::notify(state, notices);
    Ok(row)
}

/// Mirrors the directory's groups (nested ones flattened) and their members among the users it
/// manages; each member's `groups` claim follows.
async fn reconcile_groups(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    actor: &Actor,
    groups: Vec<connectors::ldap::DirectoryGroup>,
    counts: &mut Counts,
) -> Result<(), crate::storage::StoreError> {
    use crate::directories::Group;
    use crate::ids::GroupId;
    let by_dn: BTreeMap<String, UserId> = storage::users::list(state.store.conn(), org.id)
        .await?
        .into_iter()
        .filter(|u| u.directory_id == Some(dir.id) && u.status != UserStatus::Deprovisioned)
        .filter_map(|u| {
            u.attributes
                .get("dn")
                .and_then(|d| d.as_str())
                .map(|d| (d.to_ascii_lowercase(), u.id))
        })
        .collect();
    let mut existing: BTreeMap<String, Group> =
        storage::groups::of_directory(state.store.conn(), org.id, dir.id)
            .await?
            .into_iter()
            .filter_map(|g| g.external_id.clone().map(|x| (x, g)))
            .collect();
    let now = state.clock.now_ms();
    for g in groups {
        let want: BTreeSet<UserId> = g
            .member_dns
            .iter()
            .filter_map(|dn| by_dn.get(dn).copied())
            .collect();
        let name: String = g.name.chars().take(255).collect();
        if want.is_empty() && !existing.contains_key(&g.id) {
            // Groups with none of the directory's synced users (AD's built-in groups, say)
            // are not mirrored.
            continue;
        }
        let tx = state.store.begin().await?;
        let (mut group, have, created) = match existing.remove(&g.id) {
            Some(old) => {
                let have: BTreeSet<UserId> = storage::groups::members(tx.conn(), org.id, old.id)
                    .await?
                    .into_iter()
                    .map(|(u, _)| u)
                    .collect();
                (old, have, false)
            }
            None => (
                Group {
                    id: GroupId::new(),
                    org_id: org.id,
                    directory_id: Some(dir.id),
                    display_name: String::new(),
                    external_id: Some(g.id.clone()),
                    version: 0,
                    created_at: now,
                    updated_at: now,
                },
                BTreeSet::new(),
                true,
            ),
        };
        let renamed = group.display_name != name;
        let added: Vec<UserId> = want.difference(&have).copied().collect();
        let removed: Vec<UserId> = have.difference(&want).copied().collect();
        if !created && !renamed && added.is_empty() && removed.is_empty() {
            continue;
        }
        group.display_name = name;
        group.version += 1;
        group.updated_at = now;
        if created {
            storage::groups::insert(tx.conn(), &group).await?;
            counts.groups_created += 1;
        } else {
            storage::groups::update(tx.conn(), &group).await?;
            counts.groups_updated += 1;
        }
        storage::groups::add_members(tx.conn(), org.id, group.id, &added).await?;
        storage::groups::remove_members(tx.conn(), org.id, group.id, &removed).await?;
        let affected: Vec<UserId> = if renamed {
            want.union(&have).copied().collect()
        } else {
            added.iter().chain(&removed).copied().collect()
        };
        storage::groups::refresh_user_groups(tx.conn(), org.id, &affected).await?;
        let event = AuditEvent::new(
            actor,
            if created {
                AuditAction::GroupCreated
            } else {
                AuditAction::GroupUpdated
            },
            format!("group:{}", group.id),
        )
        .org(org.id)
        .details(json!({"source": "ldap", "directory": dir.name, "dn": g.dn,
            "displayName": group.display_name, "members": want.len(),
            "added": added.len(), "removed": removed.len()}));
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        tx.commit().await?;
    }
    // Groups the directory no longer has.
    for (_, g) in existing {
        let tx = state.store.begin().await?;
        let members: Vec<UserId> = storage::groups::members(tx.conn(), org.id, g.id)
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        storage::groups::delete(tx.conn(), org.id, g.id).await?;
        storage::groups::refresh_user_groups(tx.conn(), org.id, &members).await?;
        let event = AuditEvent::new(actor, AuditAction::GroupDeleted, format!("group:{}", g.id))
            .org(org.id)
            .details(json!({"source": "ldap", "directory": dir.name,
                "displayName": g.display_name, "members": members.len()}));
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        tx.commit().await?;
        counts.groups_deleted += 1;
    }
    Ok(())
}
