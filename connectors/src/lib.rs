//! Upstream identity connectors for the hub.
//!
//! This crate knows nothing of HTTP frameworks, storage or the hub itself: connectors take plain
//! data (callback parameters, a posted SAML response, an LDAP server's answers) and yield one
//! normalized [`UpstreamIdentity`] (or directory entries). `oidc` is the relying party, `saml`
//! the service provider, `ldap` the directory reads, `net` the address policy every outbound
//! connection goes through, `email` the one reading of an email address.
#![warn(missing_docs)]

mod connector;
pub mod email;
mod error;
mod identity;
pub mod ldap;
pub mod net;
pub mod oidc;
pub mod saml;
mod secret;

pub use connector::{ConnectorId, SamlConnector};
pub use error::ConnectorError;
pub use identity::{CallbackParams, ConnectorState, IdentityError, UpstreamIdentity};
pub use secret::SecretString;
