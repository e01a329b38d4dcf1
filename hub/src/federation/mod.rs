//! Upstream federation: each organization signs its people in with its own identity provider.
//! Connections are managed through the admin API (`connections`); the browser flow lives in
//! `login`; `oidc` builds the connector for an OIDC connection.

pub mod connections;
pub mod login;
pub mod model;
pub mod oidc;
