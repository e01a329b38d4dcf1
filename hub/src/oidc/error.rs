//! `OAuthError`: RFC 6749 §5.2 error responses (JSON, `Cache-Control: no-store`). A failed
//! client authentication challenges only the scheme the client tried (`Basic` after HTTP Basic;
//! none after credentials in the body, which clients such as openid-client would otherwise take
//! for a resource server's challenge); a bad bearer token or a malformed request at UserInfo
//! gets RFC 6750 §3's challenge. A
//! throttled client gets 429 with `invalid_client` and `Retry-After`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ServiceError;
use crate::signing::SigningError;
use crate::storage::StoreError;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub www_authenticate: Option<&'static str>,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }

    /// 401 invalid_client; RFC 6749 §5.2: the client tried HTTP Basic, so the challenge names
    /// Basic; otherwise no challenge (the client did not use the Authorization header).
    pub fn invalid_client(d: impl Into<String>, basic: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: d.into(),
            www_authenticate: basic.then_some("Basic realm=\"hub\", charset=\"UTF-8\""),
            retry_after: None,
        }
    }

    /// 429 invalid_client with `Retry-After`: too many failed client authentications.
    pub fn throttled(retry_after: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "invalid_client",
            description: format!(
                "too many failed client authentications; try again in {retry_after} s"
            ),
            www_authenticate: None,
            retry_after: Some(retry_after),
        }
    }

    /// 503 temporarily_unavailable with `Retry-After`.
    pub fn temporarily_unavailable(d: impl Into<String>, retry_after: u64) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: d.into(),
            www_authenticate: None,
            retry_after: Some(retry_after),
        }
    }

    /// 401 for a bad bearer token at a protected resource (RFC 6750 §3.1).
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description: d.into(),
            www_authenticate: Some("Bearer realm=\"hub\", error=\"invalid_token\""),
            retry_after: None,
        }
    }

    /// 400 for a malformed request at a protected resource (RFC 6750 §3.1), with the Bearer
    /// challenge naming the error.
    pub fn bearer_invalid_request(d: impl Into<String>) -> Self {
        Self {
            www_authenticate: Some("Bearer realm=\"hub\", error=\"invalid_request\""),
            ..Self::invalid_request(d)
        }
    }

    pub fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "internal error; the hub's log has the details".into(),
            www_authenticate: None,
            retry_after: None,
        }
    }
}

/// A required, non-empty form parameter of at most `max_len` bytes (else invalid_request).
pub fn required<'a>(
    form: &'a std::collections::HashMap<String, String>,
    name: &str,
    max_len: usize,
) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty() && v.len() <= max_len)
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing or malformed")))
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage error in an OAuth endpoint");
        Self::server_error()
    }
}

impl From<SigningError> for OAuthError {
    fn from(e: SigningError) -> Self {
        if let SigningError::NotYetUsable {
            retry_after_secs, ..
        } = e
        {
            tracing::warn!(error = %e, "a signing key is not usable yet");
            return Self::temporarily_unavailable(
                "the signing key for this client is published but not usable yet",
                retry_after_secs,
            );
        }
        tracing::error!(error = %e, "signing error in an OAuth endpoint");
        Self::server_error()
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "service error in an OAuth endpoint");
                Self::server_error()
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut r = (self.status, axum::Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(v) = self.www_authenticate {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}
