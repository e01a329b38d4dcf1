//! `ConnectorError`: what can go wrong talking to an upstream IdP or directory.

use crate::identity::IdentityError;

/// An error from a connector. Keeps its source; the hub maps it to a page or an API error.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connector's configuration is incomplete or contradictory (checked before any I/O).
    #[error("invalid connector configuration: {0}")]
    InvalidConfig(String),
    /// The upstream could not be reached or answered with an error.
    #[error("upstream unavailable: {0}")]
    Upstream(String),
    /// The upstream's answer failed a protocol or security check (signature, issuer, nonce...).
    #[error("upstream response rejected: {0}")]
    Rejected(String),
    /// The upstream identity is incomplete or malformed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}
