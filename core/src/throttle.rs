//! The client authentication throttle: failed attempts are counted per (client id, address)
//! and per address in a fixed window of `oidc.client_auth_window_secs` (the hub's clock), and a
//! key that reached its limit is refused until its window ends, before any secret is looked at.
//! The window is bounded, so the real client gets in again once an attacker stops; keying by
//! address means an attacker elsewhere cannot lock a client out. Unknown client ids count only
//! against the address, so attacker-chosen names never become keys. Counts are per replica,
//! kept in a bounded cache (`moka`) that forgets idle keys.

use moka::sync::Cache;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::{OidcConfig, ServerConfig};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A registered client id, from one address (or from anywhere, if the address is unknown).
    Client(String, Option<IpAddr>),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    failures: u32,
}

pub struct ClientAuthThrottle {
    failures: Cache<Key, Window>,
    window_ms: i64,
    per_client: u32,
    per_address: u32,
}

/// Keys tracked at most (a flood of addresses evicts the least used ones).
const MAX_KEYS: u64 = 100_000;

impl ClientAuthThrottle {
    pub fn new(cfg: &OidcConfig) -> Self {
        Self::with_limits(
            cfg.client_auth_window_secs,
            cfg.client_auth_max_failures,
            cfg.client_auth_max_failures_per_ip,
        )
    }

    /// The throttle of failed bearer tokens (SCIM): no client to key by, only the address.
    pub fn bearer(cfg: &ServerConfig) -> Self {
        Self::with_limits(
            cfg.bearer_auth_window_secs,
            cfg.bearer_auth_max_failures_per_ip,
            cfg.bearer_auth_max_failures_per_ip,
        )
    }

    /// The throttle of home-realm lookups, by address: every lookup counts.
    pub fn realm(cfg: &ServerConfig) -> Self {
        Self::with_limits(
            cfg.realm_lookup_window_secs,
            cfg.realm_lookups_per_ip,
            cfg.realm_lookups_per_ip,
        )
    }

    fn with_limits(window_secs: u64, per_client: u32, per_address: u32) -> Self {
        let window = Duration::from_secs(window_secs.max(1));
        Self {
            failures: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_live(window)
                .build(),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            per_client: per_client.max(1),
            per_address: per_address.max(1),
        }
    }

    fn keys(client_id: Option<&str>, ip: Option<IpAddr>) -> Vec<(Key, bool)> {
        let mut keys = Vec::with_capacity(2);
        if let Some(id) = client_id {
            keys.push((Key::Client(id.to_string(), ip), true));
        }
        if let Some(ip) = ip {
            keys.push((Key::Address(ip), false));
        }
        keys
    }

    /// `Err(seconds)` while `client_id` (a registered one, or `None`) from `ip` is locked out.
    pub fn check(
        &self,
        client_id: Option<&str>,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<(), u64> {
        let mut wait = 0;
        for (key, is_client) in Self::keys(client_id, ip) {
            let limit = if is_client {
                self.per_client
            } else {
                self.per_address
            };
            if let Some(w) = self.failures.get(&key) {
                let ends = w.start_ms.saturating_add(self.window_ms);
                if now_ms < ends && w.failures >= limit {
                    wait = wait.max(u64::try_from((ends - now_ms + 999) / 1000).unwrap_or(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Counts one failed attempt of `client_id` (a registered one, or `None`) from `ip`.
    pub fn record_failure(&self, client_id: Option<&str>, ip: Option<IpAddr>, now_ms: i64) {
        let window_ms = self.window_ms;
        for (key, _) in Self::keys(client_id, ip) {
            self.failures.entry(key).and_upsert_with(|current| {
                match current.map(|e| e.into_value()) {
                    Some(w) if now_ms < w.start_ms.saturating_add(window_ms) => Window {
                        start_ms: w.start_ms,
                        failures: w.failures.saturating_add(1),
                    },
                    _ => Window {
                        start_ms: now_ms,
                        failures: 1,
                    },
                }
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn throttle() -> ClientAuthThrottle {
        let mut cfg = crate::config::Config::load(None).unwrap();
        cfg.oidc.client_auth_max_failures = 3;
        cfg.oidc.client_auth_max_failures_per_ip = 5;
        cfg.oidc.client_auth_window_secs = 60;
        ClientAuthThrottle::new(&cfg.oidc)
    }

    #[test]
    fn a_client_is_locked_after_its_failures_for_the_rest_of_the_window_only() {
        let t = throttle();
        let ip: Option<IpAddr> = "192.0.2.1".parse().ok();
        let other: Option<IpAddr> = "192.0.2.2".parse().ok();
        for i in 0..3 {
            assert_eq!(t.check(Some("c"), ip, 1_000 + i), Ok(()));
            t.record_failure(Some("c"), ip, 1_000 + i);
        }
        assert_eq!(t.check(Some("c"), ip, 2_000), Err(59));
        assert_eq!(t.check(Some("c"), other, 2_000), Ok(()), "another address");
        assert_eq!(t.check(Some("d"), ip, 2_000), Ok(()), "another client");
        assert_eq!(t.check(Some("c"), ip, 61_000), Ok(()), "the window ended");
        // Two more failures from that address (any client) lock the address.
        t.record_failure(None, ip, 3_000);
        t.record_failure(Some("d"), ip, 3_000);
        assert_eq!(t.check(Some("d"), ip, 3_000), Err(58));
        assert_eq!(t.check(None, ip, 3_000), Err(58));
    }
}
