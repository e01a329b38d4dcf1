//! What a request to the provider carries, read strictly: the form body of the token,
//! introspection and revocation endpoints (`application/x-www-form-urlencoded`, each parameter
//! at most once: RFC 6749 §3.1 and §3.2, else `invalid_request` as OAuth JSON), the bearer
//! token of a UserInfo request (RFC 6750 §2, else `invalid_request` with the Bearer challenge),
//! and the address a request comes from (for throttles and caps), behind a known number of
//! proxies.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
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

/// Why a body is not a usable form.
enum FormError {
    NotForm,
    Unreadable,
    Repeated(String),
}

/// Reads a form body strictly. `empty_ok`: a request without a body (no content type, no
/// bytes) reads as an empty form.
async fn read_form<S: Send + Sync>(
    req: Request,
    state: &S,
    empty_ok: bool,
) -> Result<HashMap<String, String>, FormError> {
    let form = is_form(req.headers());
    if !form && (!empty_ok || req.headers().contains_key(header::CONTENT_TYPE)) {
        return Err(FormError::NotForm);
    }
    let body = Bytes::from_request(req, state)
        .await
        .map_err(|_| FormError::Unreadable)?;
    if !form {
        return if body.is_empty() {
            Ok(HashMap::new())
        } else {
            Err(FormError::NotForm)
        };
    }
    single_valued(url::form_urlencoded::parse(&body)).map_err(FormError::Repeated)
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        read_form(req, state, false)
            .await
            .map(OAuthForm)
            .map_err(|e| {
                OAuthError::invalid_request(match e {
                    FormError::NotForm => "send the parameters as an \
                                           application/x-www-form-urlencoded body (RFC 6749 §3.2)"
                        .to_string(),
                    FormError::Unreadable => "the request body could not be read".to_string(),
                    FormError::Repeated(name) => {
                        format!("{name} is sent more than once (RFC 6749 §3.2)")
                    }
                })
            })
    }
}

/// The access token of a request to a protected resource (UserInfo), sent by one of RFC 6750's
/// methods: the `Authorization: Bearer` header (§2.1) or, in a POST, the `access_token` of an
/// `application/x-www-form-urlencoded` body (§2.2). A body that is not such a form, a repeated
/// parameter or a token sent both ways is `invalid_request` (§3.1) with the Bearer challenge
/// naming it. `None`: the request carries no token.
pub struct BearerToken(pub Option<String>);

/// The token of an `Authorization: Bearer` header (the scheme is case-insensitive: RFC 9110
/// §11.1).
fn header_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

impl<S: Send + Sync> FromRequest<S> for BearerToken {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let in_header = header_token(req.headers());
        if req.method() == Method::GET || req.method() == Method::HEAD {
            return Ok(BearerToken(in_header));
        }
        let form = read_form(req, state, true).await.map_err(|e| {
            OAuthError::bearer_invalid_request(match e {
                FormError::NotForm => "send the access token in the Authorization header, or \
                                       as access_token in an application/x-www-form-urlencoded \
                                       body (RFC 6750 §2)"
                    .to_string(),
                FormError::Unreadable => "the request body could not be read".to_string(),
                FormError::Repeated(name) => {
                    format!("{name} is sent more than once (RFC 6750 §3.1)")
                }
            })
        })?;
        match (in_header, form.get("access_token")) {
            (Some(_), Some(_)) => Err(OAuthError::bearer_invalid_request(
                "send the access token once: in the Authorization header or in the body, not \
                 both (RFC 6750 §3.1)",
            )),
            (in_header, in_body) => Ok(BearerToken(in_header.or_else(|| in_body.cloned()))),
        }
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
    fn the_bearer_scheme_is_case_insensitive_and_other_schemes_carry_no_token() {
        let token = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            header_token(&h)
        };
        assert_eq!(token("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token("BEARER  abc ").as_deref(), Some("abc"));
        assert_eq!(token("Basic YTpi"), None);
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Bearer"), None);
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
