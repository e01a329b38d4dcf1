//! The address policy every outbound connection to a tenant-supplied destination goes through
//! (OIDC discovery and every endpoint it names, SAML metadata, LDAP servers, SCIM targets,
//! webhooks, logout URIs).
//!
//! The policy is enforced on the address actually connected, not on the name asked for:
//! - a URL whose host is an IP literal (or a `localhost` name) is checked before any connection;
//! - a name is resolved by the policy and only permitted addresses are tried, so a name that
//!   resolves inside the network is never connected to;
//! - after the connection is made (TCP, and TLS when asked), its peer address is checked again
//!   before a byte of the request is written, so no path (redirect, proxy, resolver bypass,
//!   DNS rebinding) reaches a refused address with a request.
//!
//! Refused: loopback, private, shared (CGNAT), link-local, unspecified, multicast, reserved and
//! documentation ranges, and the IPv6 forms that carry such an IPv4 address (mapped, compatible,
//! NAT64, 6to4, Teredo). An operator opens exceptions with an allow list (`10.20.0.0/16`,
//! `127.0.0.1:3890`) or, for development, allows every internal address.
//!
//! Errors never tell an open port from a closed one: a refused, reset or timed-out connection
//! is the same [`NetError::Unreachable`].

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use ipnet::IpNet;
use tokio::net::TcpStream;

/// Why an outbound connection was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The destination is an address the policy refuses (or a name that resolves only to such).
    #[error("{0} is not an address the hub may connect to (internal, loopback or reserved)")]
    Refused(String),
    /// The name does not resolve.
    #[error("the name {0} does not resolve")]
    Unresolved(String),
    /// No connection could be made: refused, reset, filtered or timed out alike.
    #[error("could not connect to {0}")]
    Unreachable(String),
    /// The URL cannot be called at all (no host, an unsupported scheme, plain http elsewhere
    /// than an explicitly allowed address).
    #[error("{0}")]
    BadUrl(String),
}

/// One exception to the policy: a network, optionally one port of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    net: IpNet,
    port: Option<u16>,
}

impl std::str::FromStr for Allowed {
    type Err = String;

    /// `10.0.0.0/8`, `10.1.2.3`, `10.1.2.3:389`, `[fd00::/64]:443`, `[::1]:8080`, `fd00::/64`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not an address, a network or either with a port \
                 (e.g. 10.0.0.0/8, 10.1.2.3:389, [fd00::/64]:443)"
            )
        };
        let (addr, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(bad)?
                        .parse()
                        .map_err(|_| bad())?,
                ),
            };
            (inside, port)
        } else if s.matches(':').count() == 1 {
            let (a, p) = s.split_once(':').ok_or_else(bad)?;
            (a, Some(p.parse().map_err(|_| bad())?))
        } else {
            (s, None)
        };
        let net = match addr.parse::<IpNet>() {
            Ok(n) => n.trunc(),
            Err(_) => IpNet::from(addr.parse::<IpAddr>().map_err(|_| bad())?),
        };
        Ok(Self { net, port })
    }
}

/// How names are turned into addresses (the system resolver by default; the hub may use its
/// configured nameservers).
#[async_trait::async_trait]
pub trait Lookup: Send + Sync {
    /// The addresses of `host`, each with `port`.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo`).
pub struct SystemLookup;

#[async_trait::async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// Which destinations outbound connections may reach.
#[derive(Clone)]
pub struct AddressPolicy {
    allow_internal: bool,
    allowed: Vec<Allowed>,
    lookup: Arc<dyn Lookup>,
}

impl std::fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressPolicy")
            .field("allow_internal", &self.allow_internal)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl AddressPolicy {
    /// The policy: internal addresses refused unless `allow_internal` (development) or listed
    /// in `allowed`; names resolved by the system.
    pub fn new(allow_internal: bool, allowed: Vec<Allowed>) -> Self {
        Self {
            allow_internal,
            allowed,
            lookup: Arc::new(SystemLookup),
        }
    }

    /// The same policy, resolving names with `lookup`.
    pub fn with_lookup(self, lookup: Arc<dyn Lookup>) -> Self {
        Self { lookup, ..self }
    }

    /// Whether a connection to `addr` is permitted.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.allow_internal
            || !is_internal(ip)
            || self
                .allowed
                .iter()
                .any(|a| a.net.contains(&ip) && a.port.is_none_or(|p| p == addr.port()))
    }

    /// Whether `ip` (any port) is explicitly allowed although internal.
    fn explicitly_allowed(&self, ip: IpAddr, port: u16) -> bool {
        let ip = canonical(ip);
        self.allow_internal
            || self
                .allowed
                .iter()
                .any(|a| a.net.contains(&ip) && a.port.is_none_or(|p| p == port))
    }

    /// Checks a URL before any connection: a known scheme, a host, an IP literal or a
    /// `localhost` name the policy permits, and plain `http` (or `ldap` without StartTLS, which
    /// callers check themselves) only towards an address the operator allowed explicitly.
    /// Names are checked again on resolution and on connection.
    pub fn check_url(&self, url: &url::Url) -> Result<(), NetError> {
        let scheme = url.scheme();
        let port = url.port_or_known_default().unwrap_or(match scheme {
            "ldap" => 389,
            "ldaps" => 636,
            _ => 0,
        });
        if !matches!(scheme, "https" | "http" | "ldap" | "ldaps") {
            return Err(NetError::BadUrl(format!(
                "the scheme {scheme:?} is not one the hub calls"
            )));
        }
        let shown = || url.host_str().unwrap_or_default().to_string();
        let literal = match url.host() {
            None => return Err(NetError::BadUrl("the URL has no host".into())),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => {
                if is_localhost_name(d) {
                    Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    // Non-special schemes (ldap) keep numeric hosts as names: parse the forms
                    // inet_aton accepts (2130706433, 127.1, 0x7f.0.0.1) as the resolver would.
                    parse_inet_aton(d).map(IpAddr::V4)
                }
            }
        };
        if let Some(ip) = literal
            && !self.permits(SocketAddr::new(ip, port))
        {
            return Err(NetError::Refused(shown()));
        }
        if scheme == "http" && !literal.is_some_and(|ip| self.explicitly_allowed(ip, port)) {
            return Err(NetError::BadUrl(format!(
                "{url} is plain http; the hub sends requests only over https (http only to an \
                 address the operator allowed in outbound.allow)"
            )));
        }
        Ok(())
    }

    /// Resolves `host` and returns the addresses the policy permits, in the resolver's order.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if is_localhost_name(host) {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            return if self.permits(addr) {
                Ok(vec![addr])
            } else {
                Err(NetError::Refused(host.to_string()))
            };
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, port);
            return if self.permits(addr) {
                Ok(vec![addr])
            } else {
                Err(NetError::Refused(host.to_string()))
            };
        }
        if let Some(v4) = parse_inet_aton(host) {
            let addr = SocketAddr::new(IpAddr::V4(v4), port);
            return if self.permits(addr) {
                Ok(vec![addr])
            } else {
                Err(NetError::Refused(host.to_string()))
            };
        }
        let found = self
            .lookup
            .lookup(host, port)
            .await
            .map_err(|_| NetError::Unresolved(host.to_string()))?;
        if found.is_empty() {
            return Err(NetError::Unresolved(host.to_string()));
        }
        let permitted: Vec<SocketAddr> = found.into_iter().filter(|a| self.permits(*a)).collect();
        if permitted.is_empty() {
            return Err(NetError::Refused(host.to_string()));
        }
        Ok(permitted)
    }

    /// A TCP connection to `host:port` through the policy: resolved, each permitted address
    /// tried in turn within `timeout`, and the connected peer checked once more.
    pub async fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<TcpStream, NetError> {
        let unreachable = || NetError::Unreachable(format!("{host}:{port}"));
        let addrs = self.resolve(host, port).await?;
        let attempt = async {
            for addr in addrs {
                if let Ok(stream) = TcpStream::connect(addr).await {
                    return Some(stream);
                }
            }
            None
        };
        let stream = tokio::time::timeout(timeout, attempt)
            .await
            .ok()
            .flatten()
            .ok_or_else(unreachable)?;
        match stream.peer_addr() {
            Ok(peer) if self.permits(peer) => Ok(stream),
            Ok(_) => Err(NetError::Refused(host.to_string())),
            Err(_) => Err(unreachable()),
        }
    }
}

fn is_localhost_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

/// The IPv4 forms `inet_aton` accepts that URL parsing leaves as names in non-special schemes:
/// one to four parts, each decimal, octal (leading 0) or hexadecimal (0x), the last filling the
/// remaining bytes.
fn parse_inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.trim_end_matches('.').split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let n = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        nums.push(n);
    }
    let (last, init) = nums.split_last()?;
    if init.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - init.len() as u32);
    if *last >= 1u64 << rest_bits {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in init.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    v |= last;
    Some(Ipv4Addr::from(u32::try_from(v).ok()?))
}

/// The IPv4 address an IPv6 address stands for (mapped `::ffff:a.b.c.d`, compatible
/// `::a.b.c.d`), or the address itself.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Whether `ip` is somewhere the hub must not be made to call: anything but a public unicast
/// address (IPv6 forms embedding an IPv4 address are judged by that address too).
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_unspecified()
        || a == 0 // 0.0.0.0/8, "this network"
        || v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || v4.is_multicast()
        || a >= 240 // reserved and broadcast
}

fn is_internal_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded = |hi: u16, lo: u16| {
        is_internal_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        ))
    };
    v6.is_unspecified()
        || v6.is_loopback()
        || v6.is_multicast()
        // IPv4-compatible (::a.b.c.d, deprecated) and the rest of ::/96
        || (s[0..6] == [0, 0, 0, 0, 0, 0])
        // NAT64 well-known prefix: judged by the IPv4 address it carries
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] && embedded(s[6], s[7]))
        // local-use NAT64 (RFC 8215)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        // 6to4: judged by the IPv4 address it carries
        || (s[0] == 0x2002 && embedded(s[1], s[2]))
        // Teredo, ORCHID, documentation, discard-only
        || (s[0] == 0x2001 && s[1] == 0)
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x10)
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0..4] == [0x100, 0, 0, 0])
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
}

/// A `reqwest` DNS resolver that returns only the addresses the policy permits.
struct PolicyResolver(Arc<AddressPolicy>);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addrs = policy.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A connector layer that checks the peer of every new connection before it is used.
#[derive(Clone)]
struct CheckPeerLayer(Arc<AddressPolicy>);

impl<S> tower::Layer<S> for CheckPeerLayer {
    type Service = CheckPeer<S>;
    fn layer(&self, inner: S) -> CheckPeer<S> {
        CheckPeer {
            inner,
            policy: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct CheckPeer<S> {
    inner: S,
    policy: Arc<AddressPolicy>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, R, C> tower::Service<R> for CheckPeer<S>
where
    S: tower::Service<R, Response = C, Error = BoxError>,
    S::Future: Send + 'static,
    C: Connection + Send + 'static,
{
    type Response = C;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let policy = self.policy.clone();
        Box::pin(async move {
            // Whatever failed before the peer is known is one kind of failure: no connection.
            let conn = connecting.await.map_err(|_| {
                Box::new(NetError::Unreachable("the destination".into())) as BoxError
            })?;
            let mut extras = http::Extensions::new();
            conn.connected().get_extras(&mut extras);
            match extras.get::<HttpInfo>().map(HttpInfo::remote_addr) {
                Some(peer) if policy.permits(peer) => Ok(conn),
                Some(peer) => Err(Box::new(NetError::Refused(peer.ip().to_string())) as BoxError),
                None => Err(Box::new(NetError::Refused("an unknown peer".into())) as BoxError),
            }
        })
    }
}

/// The HTTP client for tenant-supplied URLs: resolution and connections through `policy`, no
/// proxies, no redirects, the given timeouts.
pub fn http_client(
    policy: Arc<AddressPolicy>,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(PolicyResolver(policy.clone())))
        .connector_layer(CheckPeerLayer(policy))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .user_agent(user_agent)
        .build()
}

/// What a `reqwest` failure may tell: a policy refusal as such; anything else (refused, reset,
/// timed out, closed early, not HTTP) is the same [`NetError::Unreachable`] of the destination.
pub fn classify_http_error(e: &reqwest::Error) -> NetError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(NetError::Refused(what)) = s.downcast_ref::<NetError>() {
            return NetError::Refused(what.clone());
        }
        src = s.source();
    }
    NetError::Unreachable(
        e.url()
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or_default(),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_else(|| "the destination".into()),
    )
}

/// [`classify_http_error`] as one line.
pub fn describe_http_error(e: &reqwest::Error) -> String {
    classify_http_error(e).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn strict() -> AddressPolicy {
        AddressPolicy::new(false, Vec::new())
    }

    #[test]
    fn internal_addresses_in_every_form() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001::1",
            "2001:db8::1",
            "fd00::5",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_with_internal_literals_are_refused_before_connecting() {
        let p = strict();
        for u in [
            "https://169.254.169.254/latest",
            "https://[::1]/x",
            "https://[::127.0.0.1]/x",
            "https://[::ffff:169.254.169.254]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://10.0.0.5/jwks",
            "https://localhost/x",
            "https://localhost./x",
            "https://a.localhost/x",
            "https://2130706433/x",
            "https://127.1/x",
            "https://0x7f.0.0.1/x",
            "ldap://localhost",
            "ldap://[::1]",
            "ldap://2130706433",
            "ldap://127.1",
            "ldap://0x7f.0.0.1",
            "ldap://017700000001",
            "ldap://[::ffff:169.254.169.254]",
            "ldaps://[fd00::5]",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(
                matches!(p.check_url(&url), Err(NetError::Refused(_))),
                "{u}: {:?}",
                p.check_url(&url)
            );
        }
        assert!(
            p.check_url(&url::Url::parse("https://idp.example.com/x").unwrap())
                .is_ok()
        );
        assert!(matches!(
            p.check_url(&url::Url::parse("http://idp.example.com/x").unwrap()),
            Err(NetError::BadUrl(_))
        ));
        assert!(matches!(
            p.check_url(&url::Url::parse("file:///etc/passwd").unwrap()),
            Err(NetError::BadUrl(_))
        ));
    }

    #[test]
    fn the_allow_list_opens_exactly_what_it_names() {
        let p = AddressPolicy::new(
            false,
            vec![
                "127.0.0.1:3890".parse().unwrap(),
                "10.20.0.0/16".parse().unwrap(),
            ],
        );
        let ok = |s: &str| p.permits(s.parse().unwrap());
        assert!(ok("127.0.0.1:3890"));
        assert!(ok("[::ffff:127.0.0.1]:3890"));
        assert!(!ok("127.0.0.1:3891"));
        assert!(ok("10.20.3.4:443"));
        assert!(!ok("10.21.0.1:443"));
        assert!(!ok("[::1]:3890"));
        assert!(ok("93.184.216.34:443"));
        let http = url::Url::parse("http://127.0.0.1:3890/x").unwrap();
        assert!(p.check_url(&http).is_ok());
        let other = url::Url::parse("http://127.0.0.1:9/x").unwrap();
        assert!(matches!(p.check_url(&other), Err(NetError::Refused(_))));
        for bad in ["", "10.0.0.0/33", "host.example.com", "[::1", "1.2.3.4:x"] {
            assert!(bad.parse::<Allowed>().is_err(), "{bad}");
        }
        assert_eq!(
            "[fd00::/64]:443".parse::<Allowed>().unwrap().port,
            Some(443)
        );
    }

    #[test]
    fn inet_aton_forms() {
        for (s, ip) in [
            ("2130706433", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("10.1.65535", "10.1.255.255"),
        ] {
            assert_eq!(parse_inet_aton(s), Some(ip.parse().unwrap()), "{s}");
        }
        for s in [
            "example.com",
            "1.2.3.4.5",
            "256.1.1.1",
            "",
            "1.2.3.256",
            "08.1.1.1",
        ] {
            assert_eq!(parse_inet_aton(s), None, "{s}");
        }
    }

    #[tokio::test]
    async fn names_resolving_inside_are_refused_and_closed_ports_look_unreachable() {
        let p = strict();
        assert!(matches!(
            p.connect_tcp("localhost", 9, Duration::from_secs(1)).await,
            Err(NetError::Refused(_))
        ));
        let open = AddressPolicy::new(true, Vec::new());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let e = open
            .connect_tcp("127.0.0.1", port, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(e, NetError::Unreachable(format!("127.0.0.1:{port}")));
    }
}
