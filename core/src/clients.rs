//! A short-lived in-process cache of registered clients by `client_id`, for the endpoints that
//! look a client up on every request (token, authorize, introspection, revocation, logout).
//!
//! Changes made through this process clear it at once. Another replica sees a change after at
//! most `oidc.client_cache_secs` (0 turns the cache off): the same bounded staleness Keycloak's
//! client cache has between its invalidation messages. A deleted client's codes and refresh
//! tokens are deleted with it, so a stale entry can redeem nothing; it can at most authenticate
//! a client-credentials grant on another replica until the entry expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::orgs::model::Application;
use crate::storage::{self, Store, StoreResult};

/// Entries kept at most; past it the cache is emptied (client ids are attacker-chosen input,
/// but only registered ones are stored).
const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Application)>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The registered client with this id, from the cache while it is fresh.
    pub async fn find(&self, store: &Store, client_id: &str) -> StoreResult<Option<Application>> {
        if self.ttl.is_zero() {
            return storage::applications::find_by_client_id(store.conn(), client_id).await;
        }
        if let Ok(entries) = self.entries.lock()
            && let Some((at, app)) = entries.get(client_id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(app.clone()));
        }
        let found = storage::applications::find_by_client_id(store.conn(), client_id).await?;
        if let (Some(app), Ok(mut entries)) = (&found, self.entries.lock()) {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(client_id.to_string(), (Instant::now(), app.clone()));
        }
        Ok(found)
    }

    /// Forgets every entry: called after any change to an application.
    pub fn invalidate(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
