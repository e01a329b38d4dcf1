//! Organizations and what they own: services that validate, write, and audit in one transaction.

pub mod api_keys;
pub mod applications;
pub mod domains;
pub mod model;
pub mod operator;
pub mod organizations;
pub mod roles;
pub mod validate;
