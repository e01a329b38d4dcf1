//! Applying what a directory read found. A user is matched by the directory's stable id (so a
//! rename or a move keeps the same hub user), else by email (taking over a user the admins
//! created, or rehiring a deprovisioned one). Users the directory disables are suspended, users
//! it no longer lists are deprovisioned, both through the deprovisioning engine; unless a run
//! would remove more than the directory's threshold: then the removals are held for an admin.
//! Changes are written in batches, each with its audit events in the same transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::Counts;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::deprovision::{LeaverSource, Signal};
use crate::directories::Directory;
use crate::ids::UserId;
use crate::orgs::model::Organization;
use crate::state::AppState;
use crate::storage::{self, StoreError};
use crate::users::{User, UserStatus};

/// Changes written per transaction.
const BATCH: usize = 500;

/// Which users a read says are gone.
pub(super) enum Removals {
    /// A full read: every managed user it did not list.
    Unlisted,
    /// Deleted entries' stable ids (syncrepl).
    Ids(Vec<String>),
    /// Syncrepl's present phase: every managed user neither present nor changed.
    NotPresent(BTreeSet<String>),
    /// An incremental read that cannot see deletions.
    None,
}

/// A user to write, with the fingerprint of the entry it came from (empty for a removal).
enum Change {
    Create(User, String),
    Update(User, UserStatus, String),
}

/// A fingerprint of what the directory says of a user (and whether its email's domain is one
/// the organization verified): equal fingerprints mean the same user row would be written.
fn entry_hash(e: &connectors::ldap::DirectoryEntry, dir: &Directory, verified: bool) -> String {
    let doc = serde_json::json!([
        e.id,
        e.dn,
        e.username,
        e.email,
        e.name,
        e.given_name,
        e.family_name,
        e.disabled,
        verified,
        dir.name
    ]);
    let digest = ring::digest::digest(&ring::digest::SHA256, doc.to_string().as_bytes());
    hex::encode(&digest.as_ref()[..16])
}

async fn by_ids_and_emails(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    ids: Vec<String>,
    entries: &[connectors::ldap::DirectoryEntry],
) -> Result<Vec<User>, StoreError> {
    let c = state.store.conn();
    let mut users = storage::users::by_external_ids(c, org.id, dir.id, &ids).await?;
    let emails: Vec<String> = entries.iter().filter_map(|e| e.email.clone()).collect();
    let have: BTreeSet<UserId> = users.iter().map(|u| u.id).collect();
    users.extend(
        storage::users::by_emails(c, org.id, &emails)
            .await?
            .into_iter()
            .filter(|u| !have.contains(&u.id)),
    );
    Ok(users)
}

/// Applies the users of a read; returns the users whose removal is held.
///
/// A full read first drops the entries whose fingerprint matches the one stored with an
/// unchanged user (the steady state reads no whole rows for them); the rest, and the users the
/// read no longer lists, are compared field by field.
#[allow(clippy::too_many_arguments)]
pub(super) async fn users(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    actor: &Actor,
    entries: Vec<connectors::ldap::DirectoryEntry>,
    removals: Removals,
    claims: Option<&HashMap<String, Vec<String>>>,
    threshold_percent: u32,
    signal_at: i64,
    counts: &mut Counts,
) -> Result<Vec<UserId>, StoreError> {
    let c = state.store.conn();
    let verified: BTreeSet<String> = storage::domains::list(c, org.id)
        .await?
        .into_iter()
        .filter(|d| d.verified_at.is_some())
        .map(|d| d.domain)
        .collect();
    let email_ok = |m: &Option<String>| {
        m.as_deref()
            .and_then(|m| connectors::email::Email::parse(m).ok())
            .is_some_and(|e| verified.contains(e.domain()))
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut hashes: HashMap<String, String> = HashMap::new();
    let mut live_managed = None;
    let mut gone_ids: Vec<UserId> = Vec::new();
    let entries = match &removals {
        Removals::Unlisted => {
            let prints = storage::users::fingerprints(c, org.id, dir.id).await?;
            live_managed = Some(prints.iter().filter(|p| !p.deprovisioned).count());
            let by_ext: HashMap<&str, &storage::users::Fingerprint> = prints
                .iter()
                .filter_map(|p| p.external_id.as_deref().map(|x| (x, p)))
                .collect();
            let mut rest = Vec::new();
            for e in entries {
                let h = entry_hash(&e, dir, email_ok(&e.email));
                let same = by_ext.get(e.id.as_str()).is_some_and(|p| {
                    !p.deprovisioned
                        && p.source_hash.as_deref() == Some(h.as_str())
                        && p.source_version == Some(p.version)
                });
                if same {
                    seen.insert(e.id.clone());
                    counts.unchanged += 1;
                } else {
                    hashes.insert(e.id.clone(), h);
                    rest.push(e);
                }
            }
            gone_ids = prints
                .iter()
                .filter(|p| !p.deprovisioned)
                .filter(|p| {
                    p.external_id
                        .as_ref()
                        .is_some_and(|x| !seen.contains(x) && !hashes.contains_key(x))
                })
                .map(|p| p.id)
                .collect();
            rest
        }
        Removals::NotPresent(present) => {
            // syncrepl's present phase: only the users neither present nor changed are read.
            for e in &entries {
                hashes.insert(e.id.clone(), entry_hash(e, dir, email_ok(&e.email)));
            }
            let prints = storage::users::fingerprints(c, org.id, dir.id).await?;
            live_managed = Some(prints.iter().filter(|p| !p.deprovisioned).count());
            gone_ids = prints
                .iter()
                .filter(|p| !p.deprovisioned)
                .filter(|p| {
                    p.external_id
                        .as_ref()
                        .is_some_and(|x| !present.contains(x) && !hashes.contains_key(x))
                })
                .map(|p| p.id)
                .collect();
            entries
        }
        Removals::Ids(_) | Removals::None => {
            for e in &entries {
                hashes.insert(e.id.clone(), entry_hash(e, dir, email_ok(&e.email)));
            }
            entries
        }
    };
    let users = match &removals {
        Removals::Unlisted | Removals::NotPresent(_) => {
            let ids = entries.iter().map(|e| e.id.clone()).collect();
            let mut users = by_ids_and_emails(state, org, dir, ids, &entries).await?;
            let have: BTreeSet<UserId> = users.iter().map(|u| u.id).collect();
            gone_ids.retain(|id| !have.contains(id));
            users.extend(storage::users::by_ids(c, org.id, &gone_ids).await?);
            users
        }
        Removals::Ids(gone) => {
            let mut ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
            ids.extend(gone.iter().cloned());
            by_ids_and_emails(state, org, dir, ids, &entries).await?
        }
        Removals::None => {
            let ids = entries.iter().map(|e| e.id.clone()).collect();
            by_ids_and_emails(state, org, dir, ids, &entries).await?
        }
    };
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
    let now = state.clock.now_ms();
    let mut changes = Vec::new();
    // Fingerprints of users compared field by field and found unchanged: stored, so the next
    // full sync skips them.
    let mut refreshed: Vec<(UserId, String, i64)> = Vec::new();
    for e in entries {
        if !email_ok(&e.email) {
            counts.skipped += 1;
            continue;
        }
        let Some(email) = e.email.clone() else {
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
            name_formatted: None,
            emails: Vec::new(),
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
        if let Some(claims) = claims {
            // The groups the read names the user in (the group pass mirrors them): set now,
            // so a first import does not rewrite every user's claim afterwards.
            u.groups = claims
                .get(&e.dn.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default();
        }
        if u.status != status {
            u.status = status;
            u.status_reason = e
                .disabled
                .then(|| format!("disabled in the directory {}", dir.name));
        }
        let hash = hashes.get(&e.id).cloned().unwrap_or_default();
        match existing {
            None => changes.push(Change::Create(u, hash)),
            Some(before) if before == u => {
                counts.unchanged += 1;
                refreshed.push((u.id, hash, u.version));
            }
            Some(before) => changes.push(Change::Update(u, before.status, hash)),
        }
    }
    // Users this directory manages that the read says are gone.
    let live = |u: &&User| u.status != UserStatus::Deprovisioned;
    let gone: Vec<User> = match &removals {
        Removals::Unlisted => by_id
            .values()
            .filter(live)
            .filter(|u| u.external_id.as_ref().is_some_and(|x| !seen.contains(x)))
            .cloned()
            .collect(),
        Removals::NotPresent(present) => by_id
            .values()
            .filter(live)
            .filter(|u| {
                u.external_id
                    .as_ref()
                    .is_some_and(|x| !seen.contains(x) && !present.contains(x))
            })
            .cloned()
            .collect(),
        Removals::Ids(ids) => ids
            .iter()
            .filter(|x| !seen.contains(*x))
            .filter_map(|x| by_id.get(x))
            .filter(live)
            .cloned()
            .collect(),
        Removals::None => Vec::new(),
    };
    let managed = match (&removals, live_managed) {
        (_, Some(n)) => n,
        _ if gone.is_empty() => 0,
        _ => storage::users::count_managed(c, org.id, dir.id).await? as usize,
    };
    let limit = (managed * threshold_percent as usize / 100).max(5);
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
            changes.push(Change::Update(u, was, String::new()));
        }
    }
    for batch in changes.chunks(BATCH) {
        apply_batch(state, org, dir, actor, batch, signal_at, counts).await?;
    }
    if !refreshed.is_empty() {
        let tx = state.store.begin().await?;
        storage::users::set_fingerprints(tx.conn(), org.id, &refreshed).await?;
        tx.commit().await?;
    }
    Ok(held)
}

async fn apply_batch(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    actor: &Actor,
    batch: &[Change],
    signal_at: i64,
    counts: &mut Counts,
) -> Result<(), StoreError> {
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let mut created = Vec::new();
    for change in batch {
        let (mut u, was, hash) = match change {
            Change::Create(u, h) => (u.clone(), None, h),
            Change::Update(u, was, h) => (u.clone(), Some(*was), h),
        };
        u.version += 1;
        u.updated_at = now;
        let hash = (u.status != UserStatus::Deprovisioned && !hash.is_empty()).then_some(hash);
        let action = crate::users::lifecycle::action(was, u.status);
        match action {
            AuditAction::UserCreated => counts.created += 1,
            AuditAction::UserDeprovisioned => counts.deprovisioned += 1,
            AuditAction::UserSuspended => counts.suspended += 1,
            AuditAction::UserReactivated => counts.reactivated += 1,
            _ => counts.updated += 1,
        }
        if was.is_none() {
            created.push((u.clone(), hash.cloned()));
        } else {
            storage::users::update_from_directory(tx.conn(), &u, hash.map(String::as_str)).await?;
        }
        let signal = Signal {
            source: LeaverSource::Ldap,
            reason: u
                .status_reason
                .clone()
                .unwrap_or_else(|| format!("left the directory {}", dir.name)),
            received_at: signal_at,
        };
        let change = crate::users::lifecycle::transition(&tx, state, was, &u, &signal).await?;
        let ended = change.ended;
        let event = AuditEvent::new(actor, action, format!("user:{}", u.id))
            .org(org.id)
            .details(json!({
                "source": "ldap", "directory": dir.name, "dn": u.attributes.get("dn"),
                "userName": u.username, "email": u.email, "status": u.status,
                "reason": u.status_reason, "access_ended": ended.as_ref().map(|e| e.details()),
            }));
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
    }
    storage::users::insert_many(tx.conn(), &created).await?;
    tx.commit().await?;
    crate::deprovision::wake(state);
    Ok(())
}

/// Each member DN's group names (sorted), as the groups claim will hold them.
pub(super) fn claims(groups: &[connectors::ldap::DirectoryGroup]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for g in groups {
        let name: String = g.name.chars().take(255).collect();
        for dn in &g.member_dns {
            out.entry(dn.clone()).or_default().insert(name.clone());
        }
    }
    out.into_iter()
        .map(|(dn, names)| (dn, names.into_iter().collect()))
        .collect()
}

/// A fingerprint of a group as the directory describes it (name, members' DNs).
fn group_hash(g: &connectors::ldap::DirectoryGroup) -> String {
    let mut dns = g.member_dns.clone();
    dns.sort();
    let doc = serde_json::json!([g.name, dns]);
    let digest = ring::digest::digest(&ring::digest::SHA256, doc.to_string().as_bytes());
    hex::encode(&digest.as_ref()[..16])
}

/// Mirrors the directory's groups (nested ones flattened) and their members among the users it
/// manages; each member's `groups` claim follows.
pub(super) async fn groups(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    actor: &Actor,
    groups: Vec<connectors::ldap::DirectoryGroup>,
    counts: &mut Counts,
) -> Result<(), StoreError> {
    use crate::directories::Group;
    use crate::ids::GroupId;
    let mut existing: BTreeMap<String, Group> =
        storage::groups::of_directory(state.store.conn(), org.id, dir.id)
            .await?
            .into_iter()
            .filter_map(|g| g.external_id.clone().map(|x| (x, g)))
            .collect();
    // A group the directory describes as last time, while no user changed in this run, is
    // unchanged: neither its members' DNs nor the users they name moved.
    let stored = storage::groups::source_hashes(state.store.conn(), org.id, dir.id).await?;
    let users_changed = counts.created
        + counts.updated
        + counts.suspended
        + counts.reactivated
        + counts.deprovisioned
        > 0;
    let mut todo = Vec::new();
    for g in groups {
        let h = group_hash(&g);
        if !users_changed
            && existing.contains_key(&g.id)
            && stored.get(&g.id).and_then(|x| x.as_deref()) == Some(h.as_str())
        {
            existing.remove(&g.id);
            continue;
        }
        todo.push((g, h));
    }
    if todo.is_empty() && existing.is_empty() {
        return Ok(());
    }
    let by_dn: BTreeMap<String, UserId> =
        storage::users::dns_of_directory(state.store.conn(), org.id, dir.id)
            .await?
            .into_iter()
            .map(|(id, dn)| (dn.to_ascii_lowercase(), id))
            .collect();
    let now = state.clock.now_ms();
    // Every group change of the run in one transaction, the members' claims refreshed once.
    let tx = state.store.begin().await?;
    let mut affected: BTreeSet<UserId> = BTreeSet::new();
    for (g, hash) in todo {
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
            storage::groups::set_source_hash(tx.conn(), org.id, group.id, &hash).await?;
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
        storage::groups::set_source_hash(tx.conn(), org.id, group.id, &hash).await?;
        if renamed {
            affected.extend(want.union(&have).copied());
        } else {
            affected.extend(added.iter().chain(&removed).copied());
        }
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
    }
    // Groups the directory no longer has.
    for (_, g) in existing {
        let members: Vec<UserId> = storage::groups::members(tx.conn(), org.id, g.id)
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        storage::groups::delete(tx.conn(), org.id, g.id).await?;
        affected.extend(members.iter().copied());
        let event = AuditEvent::new(actor, AuditAction::GroupDeleted, format!("group:{}", g.id))
            .org(org.id)
            .details(json!({"source": "ldap", "directory": dir.name,
                "displayName": g.display_name, "members": members.len()}));
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        counts.groups_deleted += 1;
    }
    let affected: Vec<UserId> = affected.into_iter().collect();
    storage::groups::refresh_user_groups(tx.conn(), org.id, &affected).await?;
    tx.commit().await?;
    Ok(())
}
