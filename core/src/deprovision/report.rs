//! Time-to-deprovision for compliance: per organization, how long leavers took from the signal
//! to local revocation and to the last delivery (p50/p99/max), and what is still outstanding.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::OrgId;
use crate::state::AppState;
use crate::storage::{self, StoreError};

use super::model::DeliveryStatus;

/// A latency distribution in milliseconds (`None` without samples).
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl Percentiles {
    pub fn of(mut samples: Vec<i64>) -> Self {
        samples.sort_unstable();
        let pick = |q: f64| {
            (!samples.is_empty()).then(|| {
                let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
                samples[i.min(samples.len() - 1)]
            })
        };
        Self {
            count: samples.len(),
            p50_ms: pick(0.5),
            p99_ms: pick(0.99),
            max_ms: samples.last().copied(),
        }
    }
}

/// The organization's deprovisioning since a moment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub since: String,
    pub leavers: usize,
    /// Leavers by signal: scim, ldap, admin, organization.
    pub by_source: BTreeMap<String, usize>,
    /// From the signal to sessions and tokens ended.
    pub revocation: Percentiles,
    /// From the signal to the last delivery done (completed leavers only).
    pub completion: Percentiles,
    /// Leavers with deliveries still pending or dead.
    pub incomplete_leavers: usize,
    pub outstanding_deliveries: u64,
    pub dead_deliveries: u64,
}

pub async fn summary(state: &AppState, org: OrgId, since: i64) -> Result<Summary, StoreError> {
    let c = state.store.conn();
    let leavers = storage::leavers::since(c, org, since).await?;
    let mut by_source = BTreeMap::new();
    for l in &leavers {
        *by_source.entry(l.source.as_str().to_string()).or_insert(0) += 1;
    }
    Ok(Summary {
        since: crate::clock::ms_to_rfc3339(since),
        leavers: leavers.len(),
        by_source,
        revocation: Percentiles::of(
            leavers
                .iter()
                .map(|l| (l.revoked_at - l.signal_at).max(0))
                .collect(),
        ),
        completion: Percentiles::of(
            leavers
                .iter()
                .filter_map(|l| l.completed_at.map(|c| (c - l.signal_at).max(0)))
                .collect(),
        ),
        incomplete_leavers: leavers.iter().filter(|l| l.completed_at.is_none()).count(),
        outstanding_deliveries: storage::outbox::count(c, org, DeliveryStatus::Pending).await?,
        dead_deliveries: storage::outbox::count(c, org, DeliveryStatus::Dead).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_nearest_ranks() {
        let p = Percentiles::of((1..=100).rev().collect());
        assert_eq!(
            (p.p50_ms, p.p99_ms, p.max_ms),
            (Some(51), Some(99), Some(100))
        );
        let p = Percentiles::of(vec![]);
        assert_eq!((p.count, p.p50_ms), (0, None));
    }
}
