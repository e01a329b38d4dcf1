//! Upstream identity connectors for the hub.
//!
//! This crate knows nothing of HTTP frameworks, storage or the hub itself: connectors take plain
//! data (callback parameters, a posted SAML response) and yield one normalized [`UpstreamIdentity`].
//! The hub chooses an implementation through the closed [`ConnectorConfig`] enum. For now it holds
//! the capability traits and the shared types; the OIDC, SAML and LDAP implementations arrive with
//! the federation and directory issues.
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

pub use connector::{
    Connector, ConnectorConfig, ConnectorId, DirectorySource, Login, LogoutConnector,
    PasswordConnector, RedirectConnector, RefreshConnector, SamlConnector,
};
pub use error::ConnectorError;
pub use identity::{CallbackParams, ConnectorState, IdentityError, Scopes, UpstreamIdentity};
pub use secret::SecretString;
