//! The outbound side of the hub for tenant-supplied destinations: the address policy built from
//! `[outbound]` (see `connectors::net`, which enforces it on the address actually connected, for
//! HTTP and LDAP alike) and the one HTTP client that goes through it (timeouts, no proxies, no
//! redirects).

use std::sync::Arc;
use std::time::Duration;

pub use connectors::net::{AddressPolicy, NetError, describe_http_error};

use crate::config::Config;

/// The policy `[outbound]` describes (its `allow` entries were checked by `Config::validate`).
pub fn policy(config: &Config) -> AddressPolicy {
    let allowed = config
        .outbound
        .allow
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    AddressPolicy::new(config.outbound.allow_loopback, allowed)
}

/// The HTTP client for tenant-supplied URLs.
pub fn client(policy: Arc<AddressPolicy>) -> Result<reqwest::Client, reqwest::Error> {
    connectors::net::http_client(
        policy,
        Duration::from_secs(5),
        Duration::from_secs(10),
        concat!("hub/", env!("CARGO_PKG_VERSION")),
    )
}

/// Checks `url` against the policy before a request is built (literal addresses, `localhost`
/// names, plain http); names are checked again when resolved and connected.
pub fn check(policy: &AddressPolicy, url: &str) -> Result<(), NetError> {
    let parsed =
        url::Url::parse(url).map_err(|_| NetError::BadUrl(format!("{url:?} is not a URL")))?;
    policy.check_url(&parsed)
}
