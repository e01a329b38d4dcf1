//! Secrets at rest. `SecretBox` seals values with AES-256-GCM under the configured key (bound to
//! a context string, so a sealed value cannot be moved to another column or row); bearer
//! credentials (API keys, client secrets, tokens) are high-entropy and stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use connectors::SecretString;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::io::Write;
use std::path::Path;

use crate::config::SecretsConfig;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the key must be base64 of exactly 32 bytes (generate one with: openssl rand -base64 32)"
    )]
    BadKey,
    #[error("cannot read the secrets key file {path}: {source}")]
    ReadKeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the secrets key file {path}: {source}")]
    CreateKeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the secrets key file {0} does not exist; create it or set secrets.create_key_file = true"
    )]
    MissingKeyFile(String),
    #[error("no secrets key configured")]
    NoKey,
    #[error("the system random generator failed")]
    Random,
    #[error("a sealed value is malformed or was sealed under another key or context")]
    Unseal,
}

/// Decodes a base64 key and checks its length.
pub fn decode_key(encoded: &str) -> Result<[u8; 32], SecretsError> {
    let bytes = STANDARD
        .decode(encoded.trim())
        .map_err(|_| SecretsError::BadKey)?;
    bytes.try_into().map_err(|_| SecretsError::BadKey)
}

/// Fills a fresh buffer of `N` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| SecretsError::Random)?;
    Ok(buf)
}

/// A random URL-safe token with 256 bits of entropy.
pub fn random_token() -> Result<String, SecretsError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// Hex SHA-256 of a high-entropy bearer credential: what the database keeps instead of it.
pub fn hash_token(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Equality in time independent of where the inputs differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// The AEAD that encrypts stored secrets.
pub struct SecretBox {
    key: LessSafeKey,
    key_id: String,
    /// Derived from the key: makes pairwise subject identifiers.
    pairwise: ring::hmac::Key,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    /// Loads the key from `secrets.key`, else from `secrets.key_file`, creating the file with a
    /// fresh key (mode 0600) when `create_key_file` allows.
    pub fn load(config: &SecretsConfig) -> Result<Self, SecretsError> {
        if let Some(key) = &config.key {
            return Ok(Self::from_key(decode_key(key.expose())?));
        }
        let path = config.key_file.as_deref().ok_or(SecretsError::NoKey)?;
        if !path.exists() {
            if !config.create_key_file {
                return Err(SecretsError::MissingKeyFile(path.display().to_string()));
            }
            create_key_file(path)?;
            tracing::warn!(path = %path.display(), "created a new secrets key file; back it up apart from the database");
        }
        let text = std::fs::read_to_string(path).map_err(|source| SecretsError::ReadKeyFile {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self::from_key(decode_key(&text)?))
    }

    pub fn from_key(key: [u8; 32]) -> Self {
        let key_id = hex::encode(&ring::digest::digest(&ring::digest::SHA256, &key).as_ref()[..4]);
        // AES_256_GCM takes exactly 32 bytes, which the type guarantees.
        let unbound = UnboundKey::new(&AES_256_GCM, &key).unwrap_or_else(|_| unreachable!());
        // A key of its own for pairwise subjects, so no value made with it is ever an input
        // or output of the AEAD.
        let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let derived = ring::hmac::sign(&master, b"hub pairwise subject identifiers v1");
        Self {
            key: LessSafeKey::new(unbound),
            key_id,
            pairwise: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// A pairwise subject identifier (OIDC Core §8.1): the same for one `local` id within one
    /// `sector`, unrelated across sectors, and not reversible without the key.
    pub fn pairwise(&self, sector: &str, local: &str) -> String {
        let mut input = Vec::with_capacity(sector.len() + local.len() + 1);
        input.extend_from_slice(sector.as_bytes());
        input.push(0);
        input.extend_from_slice(local.as_bytes());
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.pairwise, &input).as_ref())
    }

    /// Seals `plaintext` for `context` as `v1.<key id>.<base64 nonce||ciphertext||tag>`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SecretsError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretsError::Unseal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!(
            "v1.{}.{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a value sealed by [`SecretBox::seal`] with the same key and context.
    pub fn open(&self, context: &str, sealed: &str) -> Result<SecretString, SecretsError> {
        let bytes = self.open_bytes(context, sealed)?;
        String::from_utf8(bytes)
            .map(SecretString::new)
            .map_err(|_| SecretsError::Unseal)
    }

    pub fn open_bytes(&self, context: &str, sealed: &str) -> Result<Vec<u8>, SecretsError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretsError::Unseal);
        };
        if key_id != self.key_id {
            return Err(SecretsError::Unseal);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SecretsError::Unseal)?;
        if raw.len() < NONCE_LEN {
            return Err(SecretsError::Unseal);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Unseal)?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| SecretsError::Unseal)?;
        Ok(plain.to_vec())
    }
}

fn create_key_file(path: &Path) -> Result<(), SecretsError> {
    let err = |source| SecretsError::CreateKeyFile {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    let key = STANDARD.encode(random_bytes::<32>()?);
    writeln!(file, "{key}").map_err(err)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_is_bound_to_key_and_context() {
        let a = SecretBox::from_key([7u8; 32]);
        let b = SecretBox::from_key([8u8; 32]);
        let sealed = a.seal("app:1", b"client-secret").unwrap();
        assert!(!sealed.contains("client-secret"));
        assert_eq!(a.open("app:1", &sealed).unwrap().expose(), "client-secret");
        assert!(a.open("app:2", &sealed).is_err());
        assert!(b.open("app:1", &sealed).is_err());
        assert!(a.open("app:1", "v1.garbage").is_err());
        assert!(a.open("app:1", "").is_err());
        // two seals of the same value differ (fresh nonce)
        assert_ne!(sealed, a.seal("app:1", b"client-secret").unwrap());
    }

    #[test]
    fn key_file_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/hub.key");
        let config = SecretsConfig {
            key: None,
            key_file: Some(path.clone()),
            create_key_file: true,
        };
        let first = SecretBox::load(&config).unwrap();
        let second = SecretBox::load(&config).unwrap();
        let sealed = first.seal("c", b"x").unwrap();
        assert_eq!(second.open("c", &sealed).unwrap().expose(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        let strict = SecretsConfig {
            key: None,
            key_file: Some(dir.path().join("absent.key")),
            create_key_file: false,
        };
        assert!(matches!(
            SecretBox::load(&strict),
            Err(SecretsError::MissingKeyFile(_))
        ));
    }

    #[test]
    fn pairwise_subjects_are_stable_per_sector_and_unrelated_across() {
        let a = SecretBox::from_key([7u8; 32]);
        let b = SecretBox::from_key([8u8; 32]);
        assert_eq!(a.pairwise("org:1", "u"), a.pairwise("org:1", "u"));
        assert_ne!(a.pairwise("org:1", "u"), a.pairwise("org:2", "u"));
        assert_ne!(a.pairwise("org:1", "u"), b.pairwise("org:1", "u"));
        // The separator keeps (sector, id) pairs apart.
        assert_ne!(a.pairwise("org:1", "2u"), a.pairwise("org:12", "u"));
        assert_eq!(a.pairwise("s", "u").len(), 43);
    }

    #[test]
    fn debug_never_shows_key() {
        let b = SecretBox::from_key([9u8; 32]);
        let text = format!("{b:?}");
        assert!(text.contains("key_id"));
        assert!(!text.contains("9, 9"));
    }
}
