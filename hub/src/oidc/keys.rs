//! Token signing keys: ES256 by default, RS256 for clients that need it. A rotated key is
//! published in the JWKS `oidc.key_publish_secs` before it signs; a retired key stays published
//! until every token it signed has expired. Replicas cache what they read for
//! `oidc.key_cache_secs`, and re-read at once when they meet an unknown `kid`.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

use crate::clock::Clock;
use crate::jose::{Alg, PublicKey};
use crate::secrets::SecretBox;
use crate::signing::{Signer, SigningError, StoredKey};
use crate::storage::{self, Store};

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
}

pub struct KeyRing {
    store: Store,
    secrets: Arc<SecretBox>,
    clock: Arc<dyn Clock>,
    cache_for: Duration,
    retention_ms: i64,
    loaded: RwLock<Loaded>,
}

impl KeyRing {
    /// `retention` is how long a retired key stays published: the longest token lifetime.
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
            loaded: RwLock::new(Loaded::default()),
        }
    }

    /// Reads every published key once: each is opened (decrypted) once, and the signer of an
    /// algorithm is the newest generation already usable.
    async fn reload(&self) -> Result<(), SigningError> {
        let now = self.clock.now_ms();
        let mut fresh = Loaded {
            at: Some(Instant::now()),
            ..Default::default()
        };
        for alg in [Alg::ES256, Alg::RS256] {
            let c = self.store.conn();
            // Newest generation first.
            for stored in
                storage::signing_keys::published(c, purpose(alg), now, self.retention_ms).await?
            {
                let signer = Arc::new(Signer::open(&stored, &self.secrets)?);
                fresh
                    .public
                    .insert(stored.kid.clone(), (signer.verifying_key(), signer.jwk()));
                if stored.not_before <= now && !fresh.signers.contains_key(&alg) {
                    fresh.signers.insert(alg, signer);
                }
            }
        }
        *self.loaded.write().await = fresh;
        Ok(())
    }

    async fn fresh(&self) -> Result<(), SigningError> {
        let stale = self
            .loaded
            .read()
            .await
            .at
            .is_none_or(|t| t.elapsed() > self.cache_for);
        if stale {
            self.reload().await?;
        }
        Ok(())
    }

    /// The key that signs with `alg` now, creating the first one if there is none.
    pub async fn signer(&self, alg: Alg) -> Result<Arc<Signer>, SigningError> {
        self.fresh().await?;
        if let Some(s) = self.loaded.read().await.signers.get(&alg) {
            return Ok(s.clone());
        }
        Signer::load_or_create(
            &self.store,
            &self.secrets,
            self.clock.as_ref(),
            purpose(alg),
            alg,
        )
        .await?;
        self.reload().await?;
        self.loaded
            .read()
            .await
            .signers
            .get(&alg)
            .cloned()
            .ok_or_else(|| SigningError::BadKey(purpose(alg).to_string()))
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

    /// The JWKS document (RFC 7517 §5).
    pub async fn jwks(&self) -> Result<Value, SigningError> {
        self.signer(Alg::ES256).await?;
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
        for alg in [Alg::ES256, Alg::RS256] {
            let c = self.store.conn();
            let latest = storage::signing_keys::latest_generation(c, purpose(alg)).await?;
            if latest == 0 && alg == Alg::RS256 {
                continue; // not in use yet: it will be created on first need
            }
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
