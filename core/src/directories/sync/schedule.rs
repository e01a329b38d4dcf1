//! The sync scheduler, on every replica: each tick it lists the LDAP directories, starts the
//! full and incremental syncs that are due (a directory's sync lease keeps two replicas from
//! running the same one), and keeps one syncrepl watch per `syncrepl` directory alive on
//! whichever replica holds its watch lease. A replica that dies loses its leases when they
//! expire; another replica's next tick takes the work over, from the stored cursor.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Mode, Trigger, connector_config};
use crate::directories::{Directory, SyncMode};
use crate::error::ServiceError;
use crate::ids::DirectoryId;
use crate::jobs::{self, Lease};
use crate::orgs::model::Organization;
use crate::state::AppState;
use crate::storage::{self, StoreError};

fn watch_lease(dir: &Directory) -> String {
    format!("directory-watch:{}", dir.id)
}

#[derive(Default)]
struct Scheduler {
    /// Syncs this replica started, by directory.
    syncs: HashMap<DirectoryId, JoinHandle<()>>,
    /// Watches this replica runs, with the directory version they started from.
    watches: HashMap<DirectoryId, (i64, JoinHandle<()>)>,
    /// When this replica last started a sync, or a watch, of a directory (so a failing
    /// directory is retried at its interval, not every tick).
    last_try: HashMap<(DirectoryId, &'static str), i64>,
}

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let tick = Duration::from_secs(state.config.jobs.scheduler_tick_secs);
    let mut s = Scheduler::default();
    loop {
        if let Err(e) = s.tick(&state).await {
            tracing::warn!(error = %e, "sync scheduler: cannot read the directories; retrying");
        }
        if let Err(e) = rotate_keys_if_due(&state).await {
            tracing::warn!(error = %e, "key rotation failed; retrying at the next tick");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => {
                for (_, (_, h)) in s.watches.drain() {
                    h.abort();
                }
                for (_, h) in s.syncs.drain() {
                    h.abort();
                }
                return;
            }
        }
    }
}

impl Scheduler {
    async fn tick(&mut self, state: &AppState) -> Result<(), StoreError> {
        let dirs = storage::directories::scheduled_ldap(state.store.conn()).await?;
        let now = state.clock.now_ms();
        self.syncs.retain(|_, h| !h.is_finished());
        self.watches.retain(|id, (version, h)| {
            let current = dirs.iter().find(|d| d.id == *id);
            let keep = !h.is_finished()
                && current.is_some_and(|d| {
                    d.updated_at == *version
                        && d.ldap
                            .as_ref()
                            .is_some_and(|s| s.schedule.enabled && s.mode == SyncMode::Syncrepl)
                });
            if !keep {
                h.abort();
            }
            keep
        });
        for d in dirs {
            let Some(settings) = d.ldap.clone() else {
                continue;
            };
            if !settings.schedule.enabled {
                continue;
            }
            let full_ms = (settings.schedule.full_interval_secs * 1000) as i64;
            let inc_ms = (settings.schedule.incremental_interval_secs * 1000) as i64;
            let tried = |s: &Self, what| s.last_try.get(&(d.id, what)).copied();
            let full_due = d.last_full_at.is_none_or(|t| now - t >= full_ms)
                && tried(self, "sync").is_none_or(|t| now - t >= inc_ms.min(full_ms));
            let inc_due = settings.mode == SyncMode::Incremental
                && d.cursor.is_some()
                && d.last_incremental_at.is_none_or(|t| now - t >= inc_ms)
                && tried(self, "sync").is_none_or(|t| now - t >= inc_ms);
            if (full_due || inc_due) && !self.syncs.contains_key(&d.id) {
                let Some(org) = storage::organizations::get(state.store.conn(), d.org_id).await?
                else {
                    continue;
                };
                self.last_try.insert((d.id, "sync"), now);
                let mode = if full_due {
                    Mode::Full
                } else {
                    Mode::Incremental
                };
                let (state, dir) = (state.clone(), d.clone());
                self.syncs.insert(
                    d.id,
                    tokio::spawn(async move {
                        match super::run(&state, &org, &dir, mode, Trigger::Schedule, |_| {}).await
                        {
                            Ok(_) => {}
                            // Another replica runs it.
                            Err(ServiceError::Conflict(_)) => {}
                            Err(e) => {
                                tracing::warn!(org = %org.slug, directory = %dir.name, error = %e, "scheduled sync failed")
                            }
                        }
                    }),
                );
            }
            let watch_due = settings.mode == SyncMode::Syncrepl
                && d.cursor.is_some()
                && !self.watches.contains_key(&d.id)
                && tried(self, "watch").is_none_or(|t| now - t >= inc_ms);
            if watch_due && let Some(lease) = jobs::try_acquire(state, &watch_lease(&d)).await? {
                let Some(org) = storage::organizations::get(state.store.conn(), d.org_id).await?
                else {
                    continue;
                };
                self.last_try.insert((d.id, "watch"), now);
                let version = d.updated_at;
                let handle = tokio::spawn(watch_directory(state.clone(), org, d.clone(), lease));
                self.watches.insert(d.id, (version, handle));
            }
        }
        Ok(())
    }
}

/// Rotates the token signing keys when the newest is older than `oidc.key_rotation_days`, on
/// the one replica that takes the rotation lease.
async fn rotate_keys_if_due(state: &AppState) -> Result<(), crate::signing::SigningError> {
    let days = state.config.oidc.key_rotation_days;
    if days == 0 {
        return Ok(());
    }
    let due = |created: i64| state.clock.now_ms() - created >= (days * 86_400_000) as i64;
    let purpose = crate::keys::purpose(crate::jose::Alg::ES256);
    let newest = |c| async move {
        let g = storage::signing_keys::latest_generation(c, purpose).await?;
        storage::signing_keys::by_generation(c, purpose, g).await
    };
    match newest(state.store.conn()).await? {
        Some(k) if due(k.created_at) => {}
        _ => return Ok(()),
    }
    let Some(lease) = jobs::try_acquire(state, "signing-key-rotation").await? else {
        return Ok(());
    };
    // Under the lease, read again: another replica may have just rotated.
    let result = match newest(state.store.conn()).await? {
        Some(k) if due(k.created_at) => {
            let publish = std::time::Duration::from_secs(state.config.oidc.key_publish_secs);
            let keys = state.keys.rotate(publish).await?;
            for k in &keys {
                tracing::info!(kid = %k.kid, alg = %k.alg, generation = k.generation, "signing key rotated on schedule");
            }
            Ok(())
        }
        _ => Ok(()),
    };
    lease.release().await;
    result
}

/// Holds a persistent syncrepl search on `dir` and applies what it hears, until the
/// connection ends, the lease is lost or the task is aborted.
async fn watch_directory(state: AppState, org: Organization, dir: Directory, lease: Lease) {
    let (Ok(config), Some(cursor)) = (connector_config(&state, &dir), dir.cursor.clone()) else {
        lease.release().await;
        return;
    };
    tracing::info!(org = %org.slug, directory = %dir.name, "syncrepl watch started");
    let (tx, mut rx) = mpsc::channel(4);
    let mut search =
        tokio::spawn(async move { connectors::ldap::watch(&config, &cursor, tx).await });
    let ended = loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(connectors::ldap::WatchEvent::Changes(changes)) => {
                    let heard = state.clock.now_ms();
                    if let Err(e) = super::apply_watched(&state, &org, &dir, changes, heard).await {
                        tracing::warn!(org = %org.slug, directory = %dir.name, error = %e, "syncrepl batch not applied; the watch restarts from the stored cursor");
                        break "a batch could not be applied".to_string();
                    }
                }
                Some(connectors::ldap::WatchEvent::RefreshRequired) => {
                    break "the directory needs a full sync first".to_string();
                }
                None => break match (&mut search).await {
                    Ok(Ok(())) => "the search ended".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => format!("the watch stopped: {e}"),
                },
            },
            _ = lease.lost() => break "the watch lease was lost".to_string(),
        }
    };
    search.abort();
    tracing::info!(org = %org.slug, directory = %dir.name, reason = %ended, "syncrepl watch ended; it restarts at the directory's incremental interval");
    lease.release().await;
}
