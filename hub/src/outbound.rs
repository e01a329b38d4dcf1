//! The one HTTP client for calls to tenant-supplied URLs (back-channel logout now; SCIM targets,
//! webhooks, metadata later): timeouts, no redirects, and an address policy that refuses
//! loopback, private and link-local destinations unless `outbound.allow_loopback` is set, both
//! for IP literals and for names that resolve to such addresses.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;

struct PolicyResolver {
    allow_internal: bool,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_internal;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow || !crate::orgs::validate::is_internal_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses the hub may not call").into(),
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub fn client(config: &Config) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver {
            allow_internal: config.outbound.allow_loopback,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("hub/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Whether a URL's host is an IP literal the policy refuses (names are checked on resolution).
pub fn refused_literal(config: &Config, url: &str) -> bool {
    if config.outbound.allow_loopback {
        return false;
    }
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => crate::orgs::validate::is_internal_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => crate::orgs::validate::is_internal_ip(ip.into()),
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        None => true,
    }
}
