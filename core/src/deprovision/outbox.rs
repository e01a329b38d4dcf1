//! The delivery worker: each replica claims due deliveries from the outbox (a claim expires, so
//! a replica killed mid-delivery loses nothing: another, or the same one restarted, claims the
//! row again), attempts them concurrently with a per-application cap (one unreachable
//! application cannot take every slot), and records the outcome: delivered, retried later with
//! capped exponential backoff and jitter, or dead-lettered after the last attempt. Every outcome
//! is audited; a leaver whose last delivery finished is marked complete.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Semaphore, watch};

use super::deliver::{self, Sent};
use super::model::{Delivery, DeliveryStatus};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ids::AppId;
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// How long a delivery claimed beyond its application's cap waits before it is claimed again.
const DEFER_MS: i64 = 100;

/// The wait before retry `attempt` (1-based): base · 2^(attempt-1), capped, then "equal jitter"
/// (a uniformly random point in its upper half) so retries of many deliveries spread out.
pub fn backoff_ms(base_ms: u64, max_secs: u64, attempt: u32, jitter: f64) -> i64 {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
    let capped = exp.min(max_secs.saturating_mul(1000)).max(1) as f64;
    (capped / 2.0 + capped / 2.0 * jitter.clamp(0.0, 1.0)) as i64
}

fn jitter() -> f64 {
    crate::secrets::random_bytes::<4>()
        .map(|b| u32::from_le_bytes(b) as f64 / u32::MAX as f64)
        .unwrap_or(0.5)
}

/// An attempt's result on its way to the recorder (`None`: a claim given back, not attempted).
type Outcome = (Delivery, Option<Result<Sent, String>>);

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let cfg = state.config.outbox.clone();
    let slots = Arc::new(Semaphore::new(cfg.concurrency));
    // Outcomes are recorded in batches, one transaction (and one turn at the audit chain's
    // head) for all the attempts that finished meanwhile.
    let (record_tx, record_rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let recorder = tokio::spawn(record(state.clone(), record_rx));
    let in_flight: Arc<Mutex<HashMap<AppId, usize>>> = Arc::default();
    let mut gauge_at = 0i64;
    loop {
        let mut claimed_full = false;
        let free = slots.available_permits();
        if free > 0 {
            match claim(&state, free).await {
                Ok(batch) => {
                    claimed_full = batch.len() == free;
                    for d in batch {
                        dispatch(&state, d, &slots, &in_flight, &record_tx).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "outbox: cannot claim deliveries; retrying"),
            }
        }
        let now = state.clock.now_ms();
        if now - gauge_at > 5000 {
            gauge_at = now;
            if let Ok(n) = storage::outbox::pending_total(state.store.conn()).await {
                state.metrics.outbox_pending.set(n as i64);
            }
        }
        if claimed_full && slots.available_permits() > 0 {
            continue;
        }
        tokio::select! {
            _ = state.outbox.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(cfg.poll_ms)) => {}
            _ = stop.changed() => {
                drop(record_tx);
                let _ = recorder.await;
                return;
            }
        }
    }
}

/// Writes outcomes as they come, each batch in one transaction.
async fn record(state: AppState, mut rx: tokio::sync::mpsc::UnboundedReceiver<Outcome>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 200 {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        if let Err(e) = finish(&state, &batch).await {
            // The claims expire and the deliveries are attempted again: at least once.
            tracing::warn!(error = %e, deliveries = batch.len(), "outbox: cannot record attempts");
        }
        state.outbox.notify_one();
    }
}

async fn claim(state: &AppState, n: usize) -> Result<Vec<Delivery>, StoreError> {
    let now = state.clock.now_ms();
    let until = now + (state.config.outbox.claim_secs * 1000) as i64;
    let tx = state.store.begin().await?;
    let rows = storage::outbox::claim_due(tx.conn(), &state.instance, now, until, n as u64).await?;
    tx.commit().await?;
    Ok(rows)
}

async fn dispatch(
    state: &AppState,
    mut d: Delivery,
    slots: &Arc<Semaphore>,
    in_flight: &Arc<Mutex<HashMap<AppId, usize>>>,
    record: &tokio::sync::mpsc::UnboundedSender<Outcome>,
) {
    let cap = state.config.outbox.per_app_concurrency;
    let admitted = {
        let mut m = in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(d.app_id).or_default();
        if *n < cap {
            *n += 1;
            true
        } else {
            false
        }
    };
    let permit = match (admitted, slots.clone().try_acquire_owned()) {
        (true, Ok(p)) => p,
        (admitted, _) => {
            if admitted {
                release_slot(in_flight, d.app_id);
            }
            // Over this application's cap: give the claim back, to be claimed again shortly.
            d.next_attempt_at = state.clock.now_ms() + DEFER_MS;
            d.updated_at = state.clock.now_ms();
            let _ = record.send((d, None));
            return;
        }
    };
    let state = state.clone();
    let in_flight = in_flight.clone();
    let record = record.clone();
    let app = d.app_id;
    tokio::spawn(async move {
        let outcome = attempt(&state, d).await;
        release_slot(&in_flight, app);
        drop(permit);
        let _ = record.send(outcome);
    });
}

fn release_slot(in_flight: &Arc<Mutex<HashMap<AppId, usize>>>, app: AppId) {
    let mut m = in_flight.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = m.get_mut(&app) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            m.remove(&app);
        }
    }
}

async fn attempt(state: &AppState, mut d: Delivery) -> Outcome {
    let outcome = deliver::send(state, &d).await;
    let now = state.clock.now_ms();
    let cfg = &state.config.outbox;
    d.attempts += 1;
    d.updated_at = now;
    let kind = d.kind().as_str();
    match &outcome {
        Ok(Sent::Delivered(summary)) => {
            d.status = DeliveryStatus::Delivered;
            d.delivered_at = Some(now);
            d.last_error = None;
            tracing::info!(delivery = %d.id, kind, app = %d.app_id, attempts = d.attempts, %summary, "delivered");
        }
        Ok(Sent::Skipped(why)) => {
            d.status = DeliveryStatus::Skipped;
            d.delivered_at = Some(now);
            d.last_error = Some(why.clone());
            tracing::info!(delivery = %d.id, kind, app = %d.app_id, reason = %why, "delivery skipped");
        }
        Err(e) if d.attempts >= i64::from(cfg.max_attempts) => {
            d.status = DeliveryStatus::Dead;
            d.last_error = Some(e.clone());
            tracing::warn!(delivery = %d.id, kind, app = %d.app_id, attempts = d.attempts, error = %e, "delivery dead-lettered after its last attempt");
        }
        Err(e) => {
            let wait = backoff_ms(
                cfg.backoff_base_ms,
                cfg.backoff_max_secs,
                d.attempts as u32,
                jitter(),
            );
            d.next_attempt_at = now + wait;
            d.last_error = Some(e.clone());
            tracing::info!(delivery = %d.id, kind, app = %d.app_id, attempts = d.attempts, retry_in_ms = wait, error = %e, "delivery failed; will retry");
        }
    }
    state
        .metrics
        .outbox_delivery(kind, d.status.as_str(), d.status == DeliveryStatus::Pending);
    (d, Some(outcome))
}

/// Records a batch of attempts under this replica's claims, with their audit events and the
/// leavers they complete, in one transaction.
async fn finish(state: &AppState, batch: &[Outcome]) -> Result<(), StoreError> {
    let tx = state.store.begin().await?;
    let mut leavers = std::collections::BTreeSet::new();
    let mut events = 0u64;
    for (d, outcome) in batch {
        if !storage::outbox::finish_attempt(tx.conn(), d, &state.instance).await? {
            // Another replica claimed it after our claim expired; its attempt counts.
            continue;
        }
        let Some(outcome) = outcome else { continue };
        let action = match d.status {
            DeliveryStatus::Delivered | DeliveryStatus::Skipped => AuditAction::DeliveryDelivered,
            DeliveryStatus::Dead => AuditAction::DeliveryDead,
            DeliveryStatus::Pending => continue,
        };
        let summary = match outcome {
            Ok(Sent::Delivered(s)) => s.clone(),
            Ok(Sent::Skipped(s)) => format!("skipped: {s}"),
            Err(e) => e.clone(),
        };
        let event = AuditEvent::new(
            &Actor::System {
                component: "outbox".into(),
            },
            action,
            format!("delivery:{}", d.id),
        )
        .org(d.org_id)
        .details(
            json!({"kind": d.kind(), "application": d.app_id, "user": d.user_id,
            "leaver": d.leaver_id, "status": d.status, "attempts": d.attempts,
            "result": summary}),
        );
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        events += 1;
        if let Some(l) = d.leaver_id {
            leavers.insert((d.org_id, l));
        }
    }
    let mut completed = Vec::new();
    for (org, leaver) in leavers {
        if storage::outbox::unfinished_of_leaver(tx.conn(), org, leaver).await? > 0 {
            continue;
        }
        let Some(l) = storage::leavers::get(tx.conn(), org, leaver).await? else {
            continue;
        };
        if l.completed_at.is_some() {
            continue;
        }
        let now = state.clock.now_ms();
        storage::leavers::complete(tx.conn(), org, leaver, now).await?;
        let event = AuditEvent::new(
            &Actor::System {
                component: "outbox".into(),
            },
            AuditAction::DeprovisioningCompleted,
            format!("user:{}", l.user_id),
        )
        .org(org)
        .details(
            json!({"leaver": leaver, "source": l.source, "deliveries": l.deliveries,
            "revocation_ms": l.revoked_at - l.signal_at, "completion_ms": now - l.signal_at}),
        );
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
        events += 1;
        completed.push((l.source, now - l.signal_at));
    }
    tx.commit().await?;
    state.metrics.audit_events.inc_by(events);
    for (source, ms) in completed {
        state
            .metrics
            .deprovision_completed(source.as_str(), ms.max(0) as f64 / 1000.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_the_upper_half() {
        assert_eq!(backoff_ms(1000, 3600, 1, 1.0), 1000);
        assert_eq!(backoff_ms(1000, 3600, 1, 0.0), 500);
        assert_eq!(backoff_ms(1000, 3600, 3, 1.0), 4000);
        assert_eq!(backoff_ms(1000, 10, 30, 1.0), 10_000);
        assert_eq!(backoff_ms(1000, 10, 64, 0.0), 5000);
        assert!(backoff_ms(u64::MAX, u64::MAX, u32::MAX, 0.5) > 0);
    }
}
