//! The hub's core: everything below its HTTP surfaces, in the layers of `hub/tests/architecture.rs`
//! (leaves and every `model`, storage, shared state, the domain, and the edge's extractors that
//! build the domain's access context from a request). The `hub` crate adds the surfaces and the
//! app and re-exports these modules under the same paths.

pub mod access;
pub mod audit;
pub mod clients;
pub mod clock;
pub mod config;
pub mod deprovision;
pub mod directories;
pub mod dns;
pub mod error;
pub mod federation;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod jose;
pub mod keys;
pub mod metrics;
pub mod orgs;
pub mod outbound;
pub mod reauth;
pub mod secrets;
pub mod sessions;
pub mod signing;
pub mod spaces;
pub mod state;
pub mod storage;
pub mod throttle;
pub mod users;
