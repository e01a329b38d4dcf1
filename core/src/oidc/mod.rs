//! The OpenID provider's types that storage and the domain share (pending authorization requests,
//! sessions, grants); the provider itself is `hub::oidc`.

pub mod model;
