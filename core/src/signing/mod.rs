//! The hub's own signing keys, stored with their private halves sealed by `SecretBox`. Keys of a
//! purpose come in generations: `audit` (ES256, signs checkpoints) and, for the OIDC provider,
//! `oidc-es256` and `oidc-rs256`. Every key's creation is an audited event carrying its public
//! key, so verification can tell the hub's keys from keys slipped into the table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use serde_json::{Value, json};

use crate::audit::model::{Actor, AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::jose::{self, Alg, JoseError, PrivateKey};
use crate::secrets::{SecretBox, SecretsError};
use crate::storage::{self, Store, StoreError};

pub const AUDIT_PURPOSE: &str = "audit";

pub mod model;

pub use model::StoredKey;

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
    #[error("key generation failed")]
    Generate,
    /// The key of `purpose` is published but signs only in `retry_after_secs` (RPs caching the
    /// JWKS must see it first).
    #[error("the {purpose} key is published and signs in {retry_after_secs} s")]
    NotYetUsable {
        purpose: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Jose(#[from] JoseError),
}

/// An in-memory signing key.
pub struct Signer {
    kid: String,
    key: PrivateKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("alg", &self.key.alg())
            .finish_non_exhaustive()
    }
}

/// A fresh PKCS#8 private key for `alg`. RSA keys are generated with the `rsa` crate (which is
/// only used for generation; all signing goes through ring).
fn generate_pkcs8(alg: Alg) -> Result<Vec<u8>, SigningError> {
    match alg {
        Alg::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|doc| doc.as_ref().to_vec())
                .map_err(|_| SigningError::Generate)
        }
        Alg::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                .map_err(|_| SigningError::Generate)?;
            key.to_pkcs8_der()
                .map(|doc| doc.as_bytes().to_vec())
                .map_err(|_| SigningError::Generate)
        }
    }
}

impl Signer {
    /// The active key for `purpose`, creating generation 1 if there is none. Two replicas
    /// starting at once race on a unique index; the loser reads the winner's key.
    pub async fn load_or_create(
        store: &Store,
        secrets: &SecretBox,
        clock: &dyn Clock,
        purpose: &str,
        alg: Alg,
    ) -> Result<Self, SigningError> {
        let now = clock.now_ms();
        if let Some(stored) = storage::signing_keys::current(store.conn(), purpose, now).await? {
            return Self::open(&stored, secrets);
        }
        match Self::create(store, secrets, clock, purpose, alg, 1, now).await {
            Ok((signer, _)) => Ok(signer),
            Err(SigningError::Store(StoreError::Conflict(_))) => {
                // Another replica created generation 1 first (its not_before may be later than
                // our `now`, so look it up by generation).
                let winner = storage::signing_keys::by_generation(store.conn(), purpose, 1)
                    .await?
                    .ok_or_else(|| SigningError::BadKey(purpose.to_string()))?;
                Self::open(&winner, secrets)
            }
            Err(e) => Err(e),
        }
    }

    /// Generates, seals, stores and audits key `generation` of `purpose`, usable from
    /// `not_before`. Fails with `Conflict` if that generation exists already.
    pub async fn create(
        store: &Store,
        secrets: &SecretBox,
        clock: &dyn Clock,
        purpose: &str,
        alg: Alg,
        generation: i64,
        not_before: i64,
    ) -> Result<(Self, StoredKey), SigningError> {
        let (signer, stored) =
            Self::generate(secrets, clock, purpose, alg, generation, not_before)?;
        store_new(store, clock, std::slice::from_ref(&stored)).await?;
        Ok((signer, stored))
    }

    /// Generates and seals key `generation` of `purpose`, usable from `not_before`, without
    /// storing it (see [`store_new`]). CPU work (an RSA key takes a while): callers in a request
    /// run it on a blocking thread.
    pub fn generate(
        secrets: &SecretBox,
        clock: &dyn Clock,
        purpose: &str,
        alg: Alg,
        generation: i64,
        not_before: i64,
    ) -> Result<(Self, StoredKey), SigningError> {
        let pkcs8 = generate_pkcs8(alg)?;
        let key = PrivateKey::from_pkcs8(alg, &pkcs8)?;
        let public = key.public_bytes();
        let kid = key_id(&public);
        let sealed = secrets
            .seal(&seal_context(&kid), &pkcs8)
            .map_err(|source| SigningError::Seal {
                kid: kid.clone(),
                source,
            })?;
        let stored = StoredKey {
            kid: kid.clone(),
            purpose: purpose.to_string(),
            alg: alg.as_str().to_string(),
            generation,
            public_key: URL_SAFE_NO_PAD.encode(&public),
            private_key_sealed: sealed,
            created_at: clock.now_ms(),
            not_before,
            retired_at: None,
        };
        Ok((Self { kid, key }, stored))
    }

    /// Opens a stored key and checks that its private half matches the stored public key.
    pub fn open(stored: &StoredKey, secrets: &SecretBox) -> Result<Self, SigningError> {
        let pkcs8 = secrets
            .open_bytes(&seal_context(&stored.kid), &stored.private_key_sealed)
            .map_err(|source| SigningError::Seal {
                kid: stored.kid.clone(),
                source,
            })?;
        let alg =
            Alg::parse(&stored.alg).ok_or_else(|| SigningError::BadKey(stored.kid.clone()))?;
        let key = PrivateKey::from_pkcs8(alg, &pkcs8)
            .map_err(|_| SigningError::BadKey(stored.kid.clone()))?;
        let public = key.public_bytes();
        if URL_SAFE_NO_PAD.encode(&public) != stored.public_key || key_id(&public) != stored.kid {
            return Err(SigningError::BadKey(stored.kid.clone()));
        }
        Ok(Self {
            kid: stored.kid.clone(),
            key,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.key.alg()
    }

    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_bytes())
    }

    /// The public half, for verifying what this key signed.
    pub fn verifying_key(&self) -> jose::PublicKey {
        jose::PublicKey {
            kid: self.kid.clone(),
            alg: self.key.alg(),
            bytes: self.key.public_bytes(),
        }
    }

    pub fn jwk(&self) -> Value {
        self.key.public_jwk(&self.kid)
    }

    /// Signs `message`; returns the base64url signature (fixed-size r||s for ES256).
    pub fn sign(&self, message: &[u8]) -> Result<String, SigningError> {
        Ok(URL_SAFE_NO_PAD.encode(self.key.sign_input(message)?))
    }

    /// Signs `claims` as a compact JWS of type `typ`.
    pub fn sign_jwt(&self, typ: &str, claims: &Value) -> Result<String, SigningError> {
        Ok(jose::sign(&self.key, &self.kid, typ, claims)?)
    }
}

/// Stores freshly generated keys in one transaction, each with its audit event: all of them or
/// none. A `(purpose, generation)` that exists already (another replica made it first) fails
/// the whole batch with `Conflict`, so no other replica ever sees part of it.
pub async fn store_new(
    store: &Store,
    clock: &dyn Clock,
    keys: &[StoredKey],
) -> Result<(), SigningError> {
    let tx = store.begin().await?;
    // Every key first, in the callers' fixed order, then the audit chain's head: two replicas
    // storing the same generations wait on the unique index, never on each other in a cycle.
    for k in keys {
        storage::signing_keys::insert(tx.conn(), k).await?;
    }
    for k in keys {
        let event = AuditEvent::new(
            &Actor::System {
                component: "signing".into(),
            },
            AuditAction::SigningKeyCreated,
            format!("signing_key:{}", k.kid),
        )
        .details(json!({
            "kid": k.kid,
            "purpose": k.purpose,
            "alg": k.alg,
            "generation": k.generation,
            "public_key": k.public_key,
        }));
        crate::audit::log::append(&tx, clock, event).await?;
    }
    tx.commit().await?;
    for k in keys {
        tracing::info!(kid = %k.kid, purpose = %k.purpose, generation = k.generation, "generated a new signing key");
    }
    Ok(())
}

/// Verifies an ES256 signature made by [`Signer::sign`] against a stored public key.
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
