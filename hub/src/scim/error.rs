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
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
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
        }
    }

    pub fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: "a valid SCIM bearer token is required".into(),
        }
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    pub fn precondition_failed() -> Self {
        Self {
            status: StatusCode::PRECONDITION_FAILED,
            scim_type: None,
            detail: "the resource changed: its version does not match If-Match".into(),
        }
    }

    pub fn status(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
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
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hub-scim\""),
            );
        }
        r
    }
}
