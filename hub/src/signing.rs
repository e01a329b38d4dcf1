//! The hub's own signing key (ECDSA P-256, ES256), generated on first start and stored with its
//! private half sealed by `SecretBox`. It signs audit checkpoints; the OIDC issue adds token keys
//! and rotation on the same table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

use serde_json::json;

use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::secrets::{SecretBox, SecretsError};
use crate::storage::{self, Store, StoreError};

pub const AUDIT_PURPOSE: &str = "audit";
const ALG: &str = "ES256";

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub purpose: String,
    pub alg: String,
    /// Base64url of the uncompressed P-256 point.
    pub public_key: String,
    pub private_key_sealed: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the stored signing key {kid}: {source}")]
    Seal {
        kid: String,
        #[source]
        source: SecretsError,
    },
    #[error("stored signing key {0} is malformed or does not match its public key")]
    BadKey(String),
    #[error("signing failed")]
    Sign,
}

/// An in-memory signing key.
pub struct Signer {
    kid: String,
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Loads the active key for `purpose`, creating it if none exists. The creation is audited
    /// with the public key, so verification can tell the hub's keys from keys slipped into the
    /// table. Two replicas starting at once race on a unique index; the loser reads the winner's.
    pub async fn load_or_create(
        store: &Store,
        secrets: &SecretBox,
        clock: &dyn Clock,
        purpose: &str,
    ) -> Result<Self, SigningError> {
        if let Some(stored) = storage::signing_keys::active(store.conn(), purpose).await? {
            return Self::open(&stored, secrets);
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| SigningError::Sign)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| SigningError::Sign)?;
        let public = pair.public_key().as_ref();
        let kid = key_id(public);
        let sealed = secrets
            .seal(&seal_context(&kid), pkcs8.as_ref())
            .map_err(|source| SigningError::Seal {
                kid: kid.clone(),
                source,
            })?;
        let stored = StoredKey {
            kid: kid.clone(),
            purpose: purpose.to_string(),
            alg: ALG.to_string(),
            public_key: URL_SAFE_NO_PAD.encode(public),
            private_key_sealed: sealed,
            created_at: clock.now_ms(),
            retired_at: None,
        };
        let tx = store.begin().await?;
        match storage::signing_keys::insert(tx.conn(), &stored).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                let winner = storage::signing_keys::active(store.conn(), purpose)
                    .await?
                    .ok_or_else(|| SigningError::BadKey(purpose.to_string()))?;
                return Self::open(&winner, secrets);
            }
            Err(e) => return Err(e.into()),
        }
        let event = AuditEvent::new(
            &Actor::System {
                component: "signing".into(),
            },
            AuditAction::SigningKeyCreated,
            format!("signing_key:{kid}"),
        )
        .details(json!({
            "kid": kid,
            "purpose": purpose,
            "alg": ALG,
            "public_key": stored.public_key,
        }));
        crate::audit::append(&tx, clock, event).await?;
        tx.commit().await?;
        tracing::info!(kid = %kid, purpose, "generated a new signing key");
        Ok(Self { kid, pair, rng })
    }

    /// Opens a stored key and checks that its private half matches the stored public key.
    pub fn open(stored: &StoredKey, secrets: &SecretBox) -> Result<Self, SigningError> {
        let pkcs8 = secrets
            .open_bytes(&seal_context(&stored.kid), &stored.private_key_sealed)
            .map_err(|source| SigningError::Seal {
                kid: stored.kid.clone(),
                source,
            })?;
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(|_| SigningError::BadKey(stored.kid.clone()))?;
        if URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()) != stored.public_key
            || key_id(pair.public_key().as_ref()) != stored.kid
        {
            return Err(SigningError::BadKey(stored.kid.clone()));
        }
        Ok(Self {
            kid: stored.kid.clone(),
            pair,
            rng,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref())
    }

    /// Signs `message`; returns the base64url fixed-size (r||s) signature.
    pub fn sign(&self, message: &[u8]) -> Result<String, SigningError> {
        let sig = self
            .pair
            .sign(&self.rng, message)
            .map_err(|_| SigningError::Sign)?;
        Ok(URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// Verifies a signature made by [`Signer::sign`] against a stored public key.
pub fn verify(public_key_b64: &str, message: &[u8], signature_b64: &str) -> bool {
    let (Ok(public), Ok(sig)) = (
        URL_SAFE_NO_PAD.decode(public_key_b64),
        URL_SAFE_NO_PAD.decode(signature_b64),
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
        .verify(message, &sig)
        .is_ok()
}

fn key_id(public: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public);
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12])
}

fn seal_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}
