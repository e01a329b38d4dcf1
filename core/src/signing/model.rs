//! A signing key as stored: its public half, its private half sealed.

/// A key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub purpose: String,
    pub alg: String,
    pub generation: i64,
    /// Base64url of the public key bytes (P-256 point, or DER RSAPublicKey).
    pub public_key: String,
    pub private_key_sealed: String,
    pub created_at: i64,
    /// Not used for signing before this time (it is published first).
    pub not_before: i64,
    /// No longer used for signing after this time.
    pub retired_at: Option<i64>,
}
