//! Upstream OIDC providers' discovered metadata (and keys), by issuer, reused for a few minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use connectors::oidc::ProviderMeta;

/// How long discovered metadata (and keys) are reused.
const META_TTL: Duration = Duration::from_secs(300);

/// Discovered provider metadata by issuer.
#[derive(Default)]
pub struct MetaCache(Mutex<HashMap<String, (Instant, ProviderMeta)>>);

impl MetaCache {
    pub fn get(&self, issuer: &str) -> Option<ProviderMeta> {
        let map = self.0.lock().ok()?;
        map.get(issuer)
            .filter(|(at, _)| at.elapsed() < META_TTL)
            .map(|(_, m)| m.clone())
    }

    pub fn put(&self, issuer: &str, meta: &ProviderMeta) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() > 1000 {
                map.clear();
            }
            map.insert(issuer.to_string(), (Instant::now(), meta.clone()));
        }
    }

    /// Forgets an issuer's metadata (its keys may have rotated).
    pub fn forget(&self, issuer: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(issuer);
        }
    }
}
