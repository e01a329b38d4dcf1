//! SCIM errors (RFC 7644 §3.12): `application/scim+json` bodies with `status` as a string and
//! a `scimType` where the RFC defines one. Authentication failures are one uniform 401.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StoreError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// `Retry-After` seconds (429 only).
    pub retry_after_secs: Option<u64>,
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: format!("{what} not found"),
            retry_after_secs: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: "a valid SCIM bearer token is required".into(),
            retry_after_secs: None,
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    pub fn precondition_failed() -> Self {
        Self {
            status: StatusCode::PRECONDITION_FAILED,
            scim_type: None,
            detail: "the resource changed: its version does not match If-Match".into(),
            retry_after_secs: None,
        }
    }

    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
            retry_after_secs: None,
        }
    }

    /// RFC 7644 §3.5.2: a PATCH path that is not one (an unknown schema URN included).
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }

    /// RFC 7644 §3.5.2: a PATCH path whose value filter matches nothing.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request("noTarget", detail)
    }

    /// RFC 7644 §3.12: a change the attribute's mutability or state does not allow.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request("mutability", detail)
    }

    /// RFC 7644 §3.12: an endpoint or feature the hub does not offer (`/Me`, `/Bulk`).
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::status(StatusCode::NOT_IMPLEMENTED, detail)
    }

    /// 429 with `Retry-After`: too many failed token authentications from this address.
    pub fn throttled(retry_after_secs: u64) -> Self {
        Self::status(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed authentications from this address; retry after \
                 {retry_after_secs} s"
            ),
        )
        .retry_after(retry_after_secs)
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn internal() -> Self {
        Self::status(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::conflict("conflicts with an existing resource"),
            e => {
                tracing::error!(error = %e, "scim: storage error");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = self.retry_after_secs {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hub-scim\""),
            );
        }
        r
    }
}
