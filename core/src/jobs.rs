//! Background work shared by replicas through leases: a job (a directory's sync, its syncrepl
//! watch) runs on the replica holding its lease, which renews it every third of `jobs.lease_secs`.
//! A replica that dies stops renewing, so another takes the job over within one lease period;
//! a replica that loses its lease (a long pause, a network split) is told, and stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;
use crate::storage::{self, StoreError};

/// A held lease. Dropping it stops the renewals and gives it up.
pub struct Lease {
    name: String,
    state: AppState,
    lost: watch::Receiver<bool>,
    renewer: tokio::task::JoinHandle<()>,
    released: bool,
}

/// The lease named `name` for this replica, if nobody else holds it.
pub async fn try_acquire(state: &AppState, name: &str) -> Result<Option<Lease>, StoreError> {
    let ttl = (state.config.jobs.lease_secs * 1000) as i64;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let got = storage::leases::acquire(tx.conn(), name, &state.instance, now, now + ttl).await?;
    tx.commit().await?;
    if !got {
        return Ok(None);
    }
    let (lost_tx, lost) = watch::channel(false);
    let renewer = tokio::spawn(renew(state.clone(), name.to_string(), lost_tx));
    Ok(Some(Lease {
        name: name.to_string(),
        state: state.clone(),
        lost,
        renewer,
        released: false,
    }))
}

/// Waits for the lease named `name`, trying every `every` for at most `patience`.
pub async fn acquire_within(
    state: &AppState,
    name: &str,
    every: Duration,
    patience: Duration,
) -> Result<Option<Lease>, StoreError> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(l) = try_acquire(state, name).await? {
            return Ok(Some(l));
        }
        if tokio::time::Instant::now() + every > deadline {
            return Ok(None);
        }
        tokio::time::sleep(every).await;
    }
}

/// Who holds the lease named `name` now, and since when.
pub async fn holder(state: &AppState, name: &str) -> Result<Option<(String, i64)>, StoreError> {
    storage::leases::holder(state.store.conn(), name, state.clock.now_ms()).await
}

async fn renew(state: AppState, name: String, lost: watch::Sender<bool>) {
    let ttl = (state.config.jobs.lease_secs * 1000) as i64;
    let every = Duration::from_millis((ttl / 3).max(500) as u64);
    let mut last_ok = state.clock.now_ms();
    loop {
        tokio::time::sleep(every).await;
        let now = state.clock.now_ms();
        let renewed = async {
            let tx = state.store.begin().await?;
            let ok = storage::leases::renew(tx.conn(), &name, &state.instance, now + ttl).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(ok)
        }
        .await;
        match renewed {
            Ok(true) => last_ok = now,
            Ok(false) => {
                tracing::warn!(lease = %name, "lease lost to another replica; stopping the job");
                let _ = lost.send(true);
                return;
            }
            Err(e) if now - last_ok > ttl => {
                tracing::warn!(lease = %name, error = %e, "lease could not be renewed in time; stopping the job");
                let _ = lost.send(true);
                return;
            }
            Err(e) => tracing::warn!(lease = %name, error = %e, "lease renewal failed; retrying"),
        }
    }
}

impl Lease {
    /// Whether the lease was lost (the job must stop: another replica may run it now).
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves when the lease is lost.
    pub async fn lost(&self) {
        let mut rx = self.lost.clone();
        let _ = rx.wait_for(|l| *l).await;
    }

    /// Gives the lease up now.
    pub async fn release(mut self) {
        self.renewer.abort();
        self.released = true;
        if let Ok(tx) = self.state.store.begin().await
            && storage::leases::release(tx.conn(), &self.name, &self.state.instance)
                .await
                .is_ok()
        {
            let _ = tx.commit().await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        if !self.released
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (state, name) = (self.state.clone(), std::mem::take(&mut self.name));
            rt.spawn(async move {
                if let Ok(tx) = state.store.begin().await
                    && storage::leases::release(tx.conn(), &name, &state.instance)
                        .await
                        .is_ok()
                {
                    let _ = tx.commit().await;
                }
            });
        }
    }
}

/// This replica's name in leases and claims: host, process and a random part.
pub fn instance_id() -> Arc<str> {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "hub".into());
    let rand = uuid::Uuid::new_v4().simple().to_string();
    Arc::from(format!("{host}-{}-{}", std::process::id(), &rand[..8]))
}
