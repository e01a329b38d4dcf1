//! Repository functions, one file per aggregate. Each takes a connection (`Store::conn()` or
//! `Tx::conn()`), then the organization it works in, and filters on it.

pub mod api_keys;
pub mod applications;
pub mod audit;
pub mod audit_tree;
pub mod connections;
pub mod directories;
pub mod domains;
pub mod groups;
pub mod leases;
pub mod leavers;
pub mod notices;
pub mod oidc;
pub mod operator;
pub mod organizations;
pub mod outbox;
pub mod reauth;
pub mod roles;
pub mod scim;
pub mod scim_links;
pub mod signing_keys;
pub mod spaces;
pub mod subjects;
pub mod users;

use super::StoreError;
use std::str::FromStr;

/// Parses a stored value, reporting corruption by table instead of panicking.
fn parse<T: FromStr>(value: &str, table: &'static str) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Corrupt(table))
}
