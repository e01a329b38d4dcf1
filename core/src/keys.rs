//! Token signing keys: ES256 by default, RS256 for clients that need it. Every advertised
//! algorithm has its key from the first key load on, published in the JWKS before anything is
//! signed with it: on a fresh hub the first keys sign at once (no token, so no cached JWKS,
//! exists yet); a key added to a hub already in use, like a rotated one, is published
//! `oidc.key_publish_secs` before it signs. A retired key stays published until every token it
//! signed has expired. Replicas cache what they read for `oidc.key_cache_secs`, and re-read at
//! once when they meet an unknown `kid`. First keys are made race-free across replicas: all in
//! one transaction under the unique `(purpose, generation)`, one load at a time per replica, and
//! a view is cached only once every advertised algorithm has its key.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

use crate::clock::Clock;
use crate::jose::{Alg, PublicKey};
use crate::secrets::SecretBox;
use crate::signing::{Signer, SigningError, StoredKey, store_new};
use crate::storage::{self, Store, StoreError};

/// The algorithms discovery advertises for ID tokens; each has a key from the first load on.
pub const ALGS: [Alg; 2] = [Alg::ES256, Alg::RS256];

pub fn purpose(alg: Alg) -> &'static str {
    match alg {
        Alg::ES256 => "oidc-es256",
        Alg::RS256 => "oidc-rs256",
    }
}

#[derive(Default)]
struct Loaded {
    at: Option<Instant>,
    signers: HashMap<Alg, Arc<Signer>>,
    public: HashMap<String, (PublicKey, Value)>,
    /// When the first key of an algorithm with no usable key yet starts signing.
    first_use: HashMap<Alg, i64>,
}

pub struct KeyRing {
    store: Store,
    secrets: Arc<SecretBox>,
    clock: Arc<dyn Clock>,
    cache_for: Duration,
    retention_ms: i64,
    publish_ms: i64,
    loaded: RwLock<Loaded>,
    /// Held while (re)loading: one load at a time per replica, so concurrent requests neither
    /// create keys side by side nor publish a view taken before the keys existed.
    reloading: Mutex<()>,
}

impl KeyRing {
    /// `retention` is how long a retired key stays published: the longest token lifetime;
    /// `publish` how long a key added to a hub in use is published before it signs.
    pub fn new(
        store: Store,
        secrets: Arc<SecretBox>,
        clock: Arc<dyn Clock>,
        cache_for: Duration,
        retention: Duration,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            cache_for,
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
            publish_ms: 0,
            loaded: RwLock::new(Loaded::default()),
            reloading: Mutex::new(()),
        }
    }

    /// How long a key added to a hub already in use is published before it signs.
    pub fn with_publish_delay(mut self, publish: Duration) -> Self {
        self.publish_ms = i64::try_from(publish.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Creates generation 1 of every advertised algorithm that has no key yet. On a fresh hub
    /// (no OIDC key at all) they sign at once; otherwise tokens, and JWKS caches, exist already
    /// and a new key signs only after the publish delay. The missing keys are stored in one
    /// transaction, so other replicas see a fresh hub's keys all at once or not at all (never
    /// some of them, which would make them take the hub for one in use); a replica that loses
    /// the race on the unique `(purpose, generation)` keeps the winner's keys.
    async fn ensure_all(&self) -> Result<(), SigningError> {
        let c = self.store.conn();
        let mut missing = Vec::new();
        for alg in ALGS {
            if storage::signing_keys::latest_generation(c, purpose(alg)).await? == 0 {
                missing.push(alg);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let from = if missing.len() == ALGS.len() {
            now
        } else {
            now.saturating_add(self.publish_ms)
        };
        let (secrets, clock) = (self.secrets.clone(), self.clock.clone());
        let keys = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .map(|alg| {
                    Signer::generate(&secrets, clock.as_ref(), purpose(alg), alg, 1, from)
                        .map(|(_, stored)| stored)
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|_| SigningError::Generate)??;
        match store_new(&self.store, self.clock.as_ref(), &keys).await {
            Ok(()) | Err(SigningError::Store(StoreError::Conflict(_))) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads every published key once (each opened, i.e. decrypted, once) and makes it the
    /// cached view; the signer of an algorithm is its newest generation already usable. An
    /// algorithm without any key gets one first. Callers hold `reloading`.
    async fn reload_locked(&self) -> Result<(), SigningError> {
        let (mut view, missing) = self.read().await?;
        if missing {
            self.ensure_all().await?;
            (view, _) = self.read().await?;
        }
        *self.loaded.write().await = view;
        Ok(())
    }

    async fn reload(&self) -> Result<(), SigningError> {
        let _one = self.reloading.lock().await;
        self.reload_locked().await
    }

    /// What is stored, and whether some advertised algorithm has no published key.
    async fn read(&self) -> Result<(Loaded, bool), SigningError> {
        let now = self.clock.now_ms();
        let mut fresh = Loaded {
            at: Some(Instant::now()),
            ..Default::default()
        };
        let mut missing = false;
        let mut first_use = HashMap::new();
        for alg in ALGS {
            let c = self.store.conn();
            // Newest generation first.
            let published =
                storage::signing_keys::published(c, purpose(alg), now, self.retention_ms).await?;
            missing |= published.is_empty();
            for stored in published {
                let signer = Arc::new(Signer::open(&stored, &self.secrets)?);
                fresh
                    .public
                    .insert(stored.kid.clone(), (signer.verifying_key(), signer.jwk()));
                if stored.not_before <= now && !fresh.signers.contains_key(&alg) {
                    fresh.signers.insert(alg, signer);
                } else if stored.not_before > now {
                    let at: &mut i64 = first_use.entry(alg).or_insert(stored.not_before);
                    *at = (*at).min(stored.not_before);
                }
            }
        }
        fresh.first_use = first_use;
        Ok((fresh, missing))
    }

    async fn stale(&self) -> bool {
        self.loaded
            .read()
            .await
            .at
            .is_none_or(|t| t.elapsed() > self.cache_for)
    }

    async fn fresh(&self) -> Result<(), SigningError> {
        if self.stale().await {
            let _one = self.reloading.lock().await;
            // Another request may have reloaded while this one waited.
            if self.stale().await {
                self.reload_locked().await?;
            }
        }
        Ok(())
    }

    /// The key that signs with `alg` now. `NotYetUsable` while the only key of `alg` is
    /// still being published.
    pub async fn signer(&self, alg: Alg) -> Result<Arc<Signer>, SigningError> {
        self.fresh().await?;
        if let Some(s) = self.loaded.read().await.signers.get(&alg) {
            return Ok(s.clone());
        }
        // Not usable in the cached view: its publication may have ended since.
        self.reload().await?;
        let loaded = self.loaded.read().await;
        if let Some(s) = loaded.signers.get(&alg) {
            return Ok(s.clone());
        }
        match loaded.first_use.get(&alg) {
            Some(at) => Err(SigningError::NotYetUsable {
                purpose: purpose(alg).to_string(),
                retry_after_secs: u64::try_from((at - self.clock.now_ms() + 999) / 1000)
                    .unwrap_or(1)
                    .max(1),
            }),
            None => Err(SigningError::BadKey(purpose(alg).to_string())),
        }
    }

    /// A published key by `kid`, re-reading the database once if it is not known yet.
    pub async fn public_key(&self, kid: &str) -> Result<Option<PublicKey>, SigningError> {
        self.fresh().await?;
        if let Some((k, _)) = self.loaded.read().await.public.get(kid) {
            return Ok(Some(k.clone()));
        }
        // Unknown kids are attacker-chosen: re-read at most once per second.
        let recently = self
            .loaded
            .read()
            .await
            .at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if !recently {
            self.reload().await?;
        }
        Ok(self
            .loaded
            .read()
            .await
            .public
            .get(kid)
            .map(|(k, _)| k.clone()))
    }

    /// The JWKS document (RFC 7517 §5): every key published, usable yet or not.
    pub async fn jwks(&self) -> Result<Value, SigningError> {
        self.fresh().await?;
        let loaded = self.loaded.read().await;
        let mut keys: Vec<&Value> = loaded.public.values().map(|(_, jwk)| jwk).collect();
        keys.sort_by_key(|k| k["kid"].as_str().unwrap_or_default().to_string());
        Ok(json!({ "keys": keys }))
    }

    /// Creates the next generation of every algorithm in use, published now and signing from
    /// `now + publish_after`; the previous generation retires then. Returns the new keys.
    pub async fn rotate(&self, publish_after: Duration) -> Result<Vec<StoredKey>, SigningError> {
        let now = self.clock.now_ms();
        let from = now + i64::try_from(publish_after.as_millis()).unwrap_or(0);
        let mut created = Vec::new();
        self.fresh().await?;
        for alg in ALGS {
            let c = self.store.conn();
            let latest = storage::signing_keys::latest_generation(c, purpose(alg)).await?;
            let (_, stored) = Signer::create(
                &self.store,
                &self.secrets,
                self.clock.as_ref(),
                purpose(alg),
                alg,
                latest + 1,
                from,
            )
            .await?;
            storage::signing_keys::retire_before(c, purpose(alg), latest + 1, from)
                .await
                .map_err(SigningError::from)?;
            created.push(stored);
        }
        self.reload().await?;
        Ok(created)
    }
}
