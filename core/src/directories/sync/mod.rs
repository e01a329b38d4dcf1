//! Syncing an LDAP or Active Directory: a full read of every user and group (which finds
//! deletions), an incremental read of what changed since the directory's cursor, or a batch of
//! changes a syncrepl watch heard. One sync of a directory runs at a time across replicas (its
//! lease); each run is recorded with its progress while it runs, its counts and its error, and
//! audited. A failed read changes nobody.

use serde::Serialize;
use serde_json::json;

use super::{Directory, DirectoryKind, PASSWORD_CONTEXT};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::deprovision::{LeaverSource, Signal};
use crate::error::ServiceError;
use crate::jobs::{self, Lease};
use crate::orgs::model::Organization;
use crate::state::AppState;
use crate::storage::{self, directories::SyncRow};
use crate::users::UserStatus;

mod reconcile;
pub mod schedule;

use reconcile::Removals;

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
    /// Where the time went: reading the directory, applying users, applying groups.
    pub read_ms: u64,
    pub users_ms: u64,
    pub groups_ms: u64,
}

/// Which read a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every user and group; deletions found by absence.
    Full,
    /// What changed since the directory's cursor (a full read if it has none yet).
    Incremental,
}

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Admin,
    Cli,
    Schedule,
    Watch,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Cli => "cli",
            Self::Schedule => "schedule",
            Self::Watch => "watch",
        }
    }
}

/// The lease that makes one sync of a directory run at a time.
pub fn lease_name(dir: &Directory) -> String {
    format!("directory-sync:{}", dir.id)
}

fn actor(dir: &Directory) -> Actor {
    Actor::Directory {
        org_id: dir.org_id,
        directory_id: dir.id,
        name: dir.name.clone(),
    }
}

fn connector_config(
    state: &AppState,
    dir: &Directory,
) -> Result<connectors::ldap::LdapConfig, ServiceError> {
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
    Ok(settings.connector_config(password.expose().to_string(), state.net.clone()))
}

/// Runs a sync of `dir` now (refused if one is running); `progress` hears the entries read so
/// far, which the run's record also shows while it runs.
pub async fn run(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    mode: Mode,
    trigger: Trigger,
    progress: impl FnMut(usize) + Send + 'static,
) -> Result<SyncRow, ServiceError> {
    let config = connector_config(state, dir)?;
    if org.status != crate::orgs::model::OrgStatus::Active {
        return Err(ServiceError::Conflict(
            "the organization is suspended; its directories are not synced".into(),
        ));
    }
    let Some(lease) = jobs::try_acquire(state, &lease_name(dir)).await? else {
        let since = jobs::holder(state, &lease_name(dir))
            .await?
            .map(|(_, at)| format!(" (since {})", crate::clock::ms_to_rfc3339(at)))
            .unwrap_or_default();
        return Err(ServiceError::Conflict(format!(
            "a sync of this directory is running{since}; wait for it to finish"
        )));
    };
    let result = run_locked(state, org, dir, config, mode, trigger, progress, &lease).await;
    lease.release().await;
    result
}

/// A read's outcome, before reconciliation.
enum Read {
    Full(connectors::ldap::ReadResult),
    Changes(connectors::ldap::Changes),
}

#[allow(clippy::too_many_arguments)]
async fn run_locked(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    config: connectors::ldap::LdapConfig,
    mode: Mode,
    trigger: Trigger,
    mut progress: impl FnMut(usize) + Send + 'static,
    lease: &Lease,
) -> Result<SyncRow, ServiceError> {
    // Reread under the lease: the cursor may have moved since the caller read the directory.
    let dir = storage::directories::get(state.store.conn(), org.id, dir.id)
        .await?
        .ok_or(ServiceError::NotFound("directory"))?;
    let now = state.clock.now_ms();
    {
        let tx = state.store.begin().await?;
        storage::directories::abandon_running(tx.conn(), org.id, dir.id, now).await?;
        tx.commit().await?;
    }
    let cursor = dir.cursor.clone().filter(|_| mode == Mode::Incremental);
    let mut row = SyncRow {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id,
        directory_id: dir.id,
        status: "running".into(),
        started_at: now,
        finished_at: None,
        counts: json!({}),
        held: Vec::new(),
        error: None,
        mode: if cursor.is_some() {
            "incremental"
        } else {
            "full"
        }
        .into(),
        triggered_by: trigger.as_str().into(),
        progress: 0,
    };
    storage::directories::insert_sync(state.store.conn(), &row).await?;
    tracing::info!(org = %org.slug, directory = %dir.name, mode = %row.mode, trigger = %row.triggered_by, "directory sync started");
    // Progress goes to the caller at once and to the run's record at most once a second.
    let (seen_tx, seen_rx) = tokio::sync::watch::channel(0usize);
    let recorder = tokio::spawn(record_progress(
        state.clone(),
        org.id,
        row.id.clone(),
        seen_rx,
    ));
    // The read runs in its own task: a directory's malformed answer that trips a panic in a
    // parser fails this run instead of the process.
    let read_started = std::time::Instant::now();
    let read = tokio::spawn(async move {
        let report = |n: usize| {
            progress(n);
            let _ = seen_tx.send(n);
        };
        match cursor {
            Some(c) => match connectors::ldap::read_changes(&config, &c, report).await {
                Ok(Some(changes)) => Ok(Read::Changes(changes)),
                Ok(None) => Ok(Read::Full(
                    connectors::ldap::read_users(&config, |_| {}).await?,
                )),
                Err(e) => Err(e),
            },
            None => connectors::ldap::read_users(&config, report)
                .await
                .map(Read::Full),
        }
    });
    let read = tokio::select! {
        r = read => r,
        _ = lease.lost() => {
            recorder.abort();
            return Err(ServiceError::Conflict("the sync lost its lease to another replica".into()));
        }
    };
    recorder.abort();
    let signal_at = state.clock.now_ms();
    let mut counts = Counts {
        read_ms: read_started.elapsed().as_millis() as u64,
        ..Default::default()
    };
    let mut cursor_out = None;
    let outcome = match read {
        Err(join) => Err(format!(
            "the directory sent an answer the hub could not read ({join})"
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(read)) => {
            if let Read::Full(_) = read {
                row.mode = "full".into();
            }
            let applied = apply(state, org, &dir, read, signal_at, &mut counts).await;
            match applied {
                Ok((held, cursor)) => {
                    cursor_out = cursor;
                    Ok(held)
                }
                Err(e) => {
                    tracing::error!(error = %e, "directory sync: storage error");
                    Err(format!("the hub could not store the changes: {e}"))
                }
            }
        }
    };
    finish(state, org, &dir, &mut row, counts, outcome, cursor_out).await?;
    Ok(row)
}

/// Reconciles a read; returns the held removals and the cursor to continue from.
async fn apply(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    read: Read,
    signal_at: i64,
    counts: &mut Counts,
) -> Result<(Vec<crate::ids::UserId>, Option<String>), storage::StoreError> {
    let threshold = dir
        .ldap
        .as_ref()
        .map_or(10, |s| s.deprovision_threshold_percent);
    let actor = actor(dir);
    match read {
        Read::Full(r) => {
            counts.read = r.entries.len();
            counts.skipped = r.skipped.len();
            let t = std::time::Instant::now();
            let claims = reconcile::claims(&r.groups);
            let held = reconcile::users(
                state,
                org,
                dir,
                &actor,
                r.entries,
                Removals::Unlisted,
                dir_reads_groups(dir).then_some(&claims),
                threshold,
                signal_at,
                counts,
            )
            .await?;
            counts.users_ms = t.elapsed().as_millis() as u64;
            let t = std::time::Instant::now();
            reconcile::groups(state, org, dir, &actor, r.groups, counts).await?;
            counts.groups_ms = t.elapsed().as_millis() as u64;
            Ok((held, r.cursor))
        }
        Read::Changes(c) => {
            counts.read = c.entries.len();
            counts.skipped = c.skipped.len();
            let removals = match (c.present, c.deleted.is_empty()) {
                (Some(present), _) => Removals::NotPresent(present),
                (None, false) => Removals::Ids(c.deleted),
                (None, true) => Removals::None,
            };
            let t = std::time::Instant::now();
            let claims = c.groups.as_deref().map(reconcile::claims);
            let held = reconcile::users(
                state,
                org,
                dir,
                &actor,
                c.entries,
                removals,
                claims.as_ref(),
                threshold,
                signal_at,
                counts,
            )
            .await?;
            counts.users_ms = t.elapsed().as_millis() as u64;
            if let Some(groups) = c.groups {
                let t = std::time::Instant::now();
                reconcile::groups(state, org, dir, &actor, groups, counts).await?;
                counts.groups_ms = t.elapsed().as_millis() as u64;
            }
            Ok((held, Some(c.cursor)))
        }
    }
}

/// Whether the directory's groups are read (and so decide its users' groups claims).
fn dir_reads_groups(dir: &Directory) -> bool {
    dir.ldap
        .as_ref()
        .is_some_and(|s| s.group_filter.as_deref() != Some(""))
}

/// Records the run's end, the directory's new cursor and the audit event, in one transaction.
async fn finish(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    row: &mut SyncRow,
    counts: Counts,
    outcome: Result<Vec<crate::ids::UserId>, String>,
    cursor: Option<String>,
) -> Result<(), ServiceError> {
    let now = state.clock.now_ms();
    row.finished_at = Some(now);
    row.progress = counts.read as i64;
    row.counts = serde_json::to_value(&counts).unwrap_or_default();
    let ok = outcome.is_ok();
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
    storage::directories::update_sync(tx.conn(), row).await?;
    if ok {
        let full = row.mode == "full";
        storage::directories::set_sync_state(
            tx.conn(),
            org.id,
            dir.id,
            cursor.as_deref().or(dir.cursor.as_deref()),
            full.then_some(now),
            Some(now),
        )
        .await?;
    }
    let action = if row.status == "held" {
        AuditAction::DirectorySyncHeld
    } else {
        AuditAction::DirectorySynced
    };
    let event = AuditEvent::new(&actor(dir), action, format!("directory:{}", dir.id))
        .org(org.id)
        .details(json!({
            "sync": row.id, "status": row.status, "mode": row.mode,
            "triggered_by": row.triggered_by, "counts": row.counts, "error": row.error,
            "held_users": row.held.iter().take(100).map(ToString::to_string).collect::<Vec<_>>(),
        }));
    state.commit_audited(tx, event).await?;
    state.metrics.directory_sync(&row.mode, &row.status);
    tracing::info!(org = %org.slug, directory = %dir.name, status = %row.status, mode = %row.mode,
        counts = %row.counts, error = ?row.error, "directory sync finished");
    Ok(())
}

async fn record_progress(
    state: AppState,
    org: crate::ids::OrgId,
    sync_id: String,
    mut seen: tokio::sync::watch::Receiver<usize>,
) {
    let mut written = 0usize;
    while seen.changed().await.is_ok() {
        let n = *seen.borrow_and_update();
        if n != written {
            written = n;
            if let Err(e) =
                storage::directories::set_progress(state.store.conn(), org, &sync_id, n as i64)
                    .await
            {
                tracing::debug!(error = %e, "could not record sync progress");
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Applies a batch a syncrepl watch heard, under the directory's sync lease (waiting for a
/// running sync to finish first). An empty batch only moves the cursor.
pub async fn apply_watched(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    changes: connectors::ldap::Changes,
    heard_at: i64,
) -> Result<Option<SyncRow>, ServiceError> {
    let lease = jobs::acquire_within(
        state,
        &lease_name(dir),
        std::time::Duration::from_millis(200),
        std::time::Duration::from_secs(state.config.jobs.lease_secs * 4),
    )
    .await?
    .ok_or_else(|| ServiceError::Conflict("the directory's sync lease stayed taken".into()))?;
    let result = async {
        if changes.is_empty() {
            let tx = state.store.begin().await?;
            storage::directories::set_sync_state(
                tx.conn(),
                org.id,
                dir.id,
                Some(&changes.cursor),
                None,
                None,
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let mut row = SyncRow {
            id: uuid::Uuid::now_v7().to_string(),
            org_id: org.id,
            directory_id: dir.id,
            status: "running".into(),
            started_at: heard_at,
            finished_at: None,
            counts: json!({}),
            held: Vec::new(),
            error: None,
            mode: "syncrepl".into(),
            triggered_by: Trigger::Watch.as_str().into(),
            progress: changes.entries.len() as i64,
        };
        storage::directories::insert_sync(state.store.conn(), &row).await?;
        let mut counts = Counts::default();
        let outcome = apply(
            state,
            org,
            dir,
            Read::Changes(changes),
            heard_at,
            &mut counts,
        )
        .await;
        let (outcome, cursor) = match outcome {
            Ok((held, cursor)) => (Ok(held), cursor),
            Err(e) => (
                Err(format!("the hub could not store the changes: {e}")),
                None,
            ),
        };
        finish(state, org, dir, &mut row, counts, outcome, cursor).await?;
        Ok(Some(row))
    }
    .await;
    lease.release().await;
    result
}

/// Deprovisions the users a held run would have removed, on an admin's word.
pub async fn confirm(
    state: &AppState,
    org: &Organization,
    dir: &Directory,
    sync_id: &str,
    actor: &Actor,
) -> Result<SyncRow, ServiceError> {
    let received_at = state.clock.now_ms();
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
    let mut done = 0usize;
    for id in &row.held {
        let Some(mut u) = storage::users::get_for_update(tx.conn(), org.id, *id).await? else {
            continue;
        };
        if u.status == UserStatus::Deprovisioned || u.directory_id != Some(dir.id) {
            continue;
        }
        let signal = Signal {
            source: LeaverSource::Ldap,
            reason: format!("no longer in the directory {} (confirmed)", dir.name),
            received_at,
        };
        let ended = crate::users::deprovision(&tx, state, &mut u, &signal).await?;
        let event = AuditEvent::new(
            actor,
            AuditAction::UserDeprovisioned,
            format!("user:{}", u.id),
        )
        .org(org.id)
        .details(
            json!({"source": "ldap", "directory": dir.name, "confirmed_sync": row.id,
            "reason": u.status_reason, "access_ended": ended.map(|e| e.details())}),
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
    crate::deprovision::wake(state);
    Ok(row)
}
