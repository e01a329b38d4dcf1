//! Anonymous failures (a forged callback, a junk SAML post, a state nobody issued) are counted,
//! not logged one event each: anyone can send them, so one audit event per request would let
//! anyone fill an organization's audit view and the log. Each is counted in a metric at once and
//! tallied here; every window, one summarising event per organization and target records how
//! many arrived and why. Failures where an IdP vouched for an identity are not anonymous: they
//! are audited one by one, where they happen.
//!
//! Memory is bounded: at most [`MAX_KEYS`] targets and [`MAX_REASONS`] reasons each are tallied
//! per window; the rest are counted under one overflow entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::json;

use super::{Actor, AuditAction, AuditEvent};
use crate::ids::OrgId;

/// Targets tallied in one window (beyond: one overflow target).
pub const MAX_KEYS: usize = 10_000;
/// Distinct reasons kept per target (beyond: "other").
pub const MAX_REASONS: usize = 20;
/// The longest reason kept.
const MAX_REASON_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    org: Option<OrgId>,
    target: String,
    surface: &'static str,
}

#[derive(Debug, Default)]
struct Tally {
    first_ms: i64,
    last_ms: i64,
    total: u64,
    reasons: BTreeMap<String, u64>,
}

/// This replica's tallies of the current window.
#[derive(Debug, Default)]
pub struct FailureWindow(Mutex<HashMap<Key, Tally>>);

impl FailureWindow {
    /// Tallies one anonymous failure at `surface` (for example `oidc_callback`) against `target`
    /// (a connection) of `org`.
    pub fn record(
        &self,
        now_ms: i64,
        org: Option<OrgId>,
        target: &str,
        surface: &'static str,
        reason: &str,
    ) {
        let Ok(mut map) = self.0.lock() else {
            return;
        };
        let mut key = Key {
            org,
            target: target.chars().take(100).collect(),
            surface,
        };
        if !map.contains_key(&key) && map.len() >= MAX_KEYS {
            key = Key {
                org: None,
                target: "overflow".into(),
                surface,
            };
        }
        let tally = map.entry(key).or_default();
        if tally.total == 0 {
            tally.first_ms = now_ms;
        }
        tally.last_ms = now_ms;
        tally.total += 1;
        let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
        let slot = if tally.reasons.contains_key(&reason) || tally.reasons.len() < MAX_REASONS {
            reason
        } else {
            "other".to_string()
        };
        *tally.reasons.entry(slot).or_default() += 1;
    }

    /// The window's summary events (one per organization, target and surface); the tallies
    /// start again.
    pub fn drain(&self) -> Vec<AuditEvent> {
        let Ok(mut map) = self.0.lock() else {
            return Vec::new();
        };
        let actor = Actor::System {
            component: "federation".into(),
        };
        map.drain()
            .map(|(key, tally)| {
                let mut event =
                    AuditEvent::new(&actor, AuditAction::LoginFailuresSummarized, key.target)
                        .details(json!({
                            "surface": key.surface,
                            "count": tally.total,
                            "first_at": crate::clock::ms_to_rfc3339(tally.first_ms),
                            "last_at": crate::clock::ms_to_rfc3339(tally.last_ms),
                            "reasons": tally.reasons,
                        }));
                if let Some(org) = key.org {
                    event = event.org(org);
                }
                event
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn many_failures_make_one_bounded_summary_per_target() {
        let w = FailureWindow::default();
        for i in 0..10_000 {
            w.record(
                i,
                None,
                "connection:x",
                "saml_acs",
                &format!("junk {}", i % 50),
            );
        }
        w.record(
            5,
            None,
            "connection:y",
            "oidc_callback",
            &"r".repeat(10_000),
        );
        let events = w.drain();
        assert_eq!(events.len(), 2);
        let x = events.iter().find(|e| e.target == "connection:x").unwrap();
        assert_eq!(x.details["count"], 10_000);
        let reasons = x.details["reasons"].as_object().unwrap();
        assert_eq!(reasons.len(), MAX_REASONS + 1);
        assert_eq!(
            reasons.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
            10_000
        );
        assert!(w.drain().is_empty(), "the window starts again");
    }

    #[test]
    fn targets_beyond_the_bound_share_one_overflow_entry() {
        let w = FailureWindow::default();
        for i in 0..(MAX_KEYS + 100) {
            w.record(0, None, &format!("connection:{i}"), "saml_acs", "junk");
        }
        let events = w.drain();
        assert_eq!(events.len(), MAX_KEYS + 1);
        let overflow = events.iter().find(|e| e.target == "overflow").unwrap();
        assert_eq!(overflow.details["count"], 100);
    }
}
