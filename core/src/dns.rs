//! DNS: TXT lookups for domain verification (`TxtResolver` is the seam), and the address
//! lookups of the outbound policy when nameservers are configured. The hub uses hickory with the
//! configured nameservers (or the system's); tests point it at a real dnsmasq on loopback.

use async_trait::async_trait;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use std::time::Duration;

use crate::config::DnsConfig;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("resolver unavailable: {0}")]
    Setup(String),
    #[error("lookup of {name} failed: {message}")]
    Lookup { name: String, message: String },
}

#[async_trait]
pub trait TxtResolver: Send + Sync {
    /// The TXT strings at `name` (each record's character-strings joined); empty if none exist.
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError>;
}

pub struct HickoryTxt {
    resolver: TokioResolver,
}

impl HickoryTxt {
    pub fn new(config: &DnsConfig) -> Result<Self, DnsError> {
        let setup = |e: hickory_resolver::net::NetError| DnsError::Setup(e.to_string());
        let mut builder = if config.nameservers.is_empty() {
            Resolver::builder_tokio().map_err(setup)?
        } else {
            let servers = config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let options = builder.options_mut();
        options.timeout = Duration::from_secs(config.timeout_secs);
        options.attempts = 2;
        // Verification must see the record as it is now, not as it was cached.
        options.cache_size = 0;
        Ok(Self {
            resolver: builder.build().map_err(setup)?,
        })
    }
}

/// Address lookups through the configured nameservers, for the outbound address policy (which
/// checks every address returned).
#[async_trait]
impl connectors::net::Lookup for HickoryTxt {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        let found = self
            .resolver
            .lookup_ip(fqdn.as_str())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(found
            .iter()
            .map(|ip| std::net::SocketAddr::new(ip, port))
            .collect())
    }
}

#[async_trait]
impl TxtResolver for HickoryTxt {
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(DnsError::Lookup {
                name: name.to_string(),
                message: e.to_string(),
            }),
        }
    }
}
