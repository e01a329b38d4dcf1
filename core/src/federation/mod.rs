//! Upstream federation: each organization signs its people in with its own identity provider.
//! Connections are managed through the admin API (`connections`); the browser flow lives in
//! `login`; `oidc` and `saml` build the connector for each kind of connection.

pub mod cache;
pub mod connections;
pub mod linking;
pub mod model;
pub mod oidc;
pub mod saml;
