//! What a request to the provider carries, read strictly: the form body of the token,
//! introspection, revocation and userinfo endpoints (`application/x-www-form-urlencoded`, each
//! parameter at most once: RFC 6749 §3.1 and §3.2, else `invalid_request` as OAuth JSON), and
//! the address a request comes from (for throttles and caps), behind a known number of proxies.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::error::OAuthError;
use crate::state::AppState;

/// The pairs of a query or form, refusing a parameter sent twice (RFC 6749 §3.1: "Request and
/// response parameters MUST NOT be included more than once"). Parameters sent without a value
/// count as omitted (§3.1). `Err` names the repeated parameter (cut to 40 characters).
pub fn single_valued<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in pairs {
        let (k, v) = (k.as_ref(), v.as_ref());
        if v.is_empty() {
            continue;
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(k.chars().take(40).collect());
        }
    }
    Ok(out)
}

/// The form body of an OAuth endpoint. Anything else (another content type, an unreadable or
/// oversized body, a repeated parameter) is an `invalid_request` in OAuth's JSON format.
pub struct OAuthForm(pub HashMap<String, String>);

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        if !is_form(req.headers()) {
            return Err(OAuthError::invalid_request(
                "send the parameters as an application/x-www-form-urlencoded body (RFC 6749 §3.2)",
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        single_valued(url::form_urlencoded::parse(&body))
            .map(OAuthForm)
            .map_err(|name| {
                OAuthError::invalid_request(format!(
                    "{name} is sent more than once (RFC 6749 §3.2)"
                ))
            })
    }
}

/// The address a request comes from: the TCP peer, or with `oidc.trusted_proxy_hops` = n the
/// n-th `X-Forwarded-For` entry from the right (what the outermost trusted proxy saw). IPv6
/// addresses stand for their /64, the least a single client usually holds. `None` when unknown
/// (the server was started without peer addresses): per-address limits then do not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceIp(pub Option<IpAddr>);

impl SourceIp {
    /// A stable key for storage (hashed: addresses are not kept in the database).
    pub fn storage_key(&self) -> Option<String> {
        self.0
            .map(|ip| crate::secrets::hash_token(&format!("ip:{ip}")))
    }
}

pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, hops: u8) -> Option<IpAddr> {
    let ip = if hops == 0 {
        peer
    } else {
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        entries
            .len()
            .checked_sub(usize::from(hops))
            .and_then(|i| entries.get(i))
            .and_then(|e| e.parse::<IpAddr>().ok())
            .or(peer)
    };
    ip.map(bucket)
}

fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl FromRequestParts<AppState> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(SourceIp(client_ip(
            peer,
            &parts.headers,
            state.config.oidc.trusted_proxy_hops,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_omitted() {
        let ok = single_valued([("a", "1"), ("b", ""), ("b", "2")]).unwrap();
        assert_eq!(ok.get("b").map(String::as_str), Some("2"));
        assert_eq!(single_valued([("a", "1"), ("a", "1")]), Err("a".into()));
    }

    #[test]
    fn the_client_address_comes_from_the_trusted_hop_only() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 198.51.100.7".parse().unwrap());
        assert_eq!(client_ip(Some(peer), &h, 0), Some(peer));
        assert_eq!(client_ip(Some(peer), &h, 1), "198.51.100.7".parse().ok());
        assert_eq!(client_ip(Some(peer), &h, 2), "1.2.3.4".parse().ok());
        assert_eq!(client_ip(Some(peer), &h, 3), Some(peer), "too few entries");
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(
            client_ip(Some(v6), &HeaderMap::new(), 0),
            "2001:db8:1:2::".parse().ok()
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(mapped), &HeaderMap::new(), 0),
            "192.0.2.1".parse().ok()
        );
    }
}
