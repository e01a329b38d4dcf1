//! `ServiceError` (what a service call can fail with) and `ApiError` (RFC 9457 problem JSON, the
//! admin API's error format). The mapping is one exhaustive `match`; internal errors are logged
//! and answered with a generic body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::dns::DnsError;
use crate::storage::StoreError;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The resource does not exist, or exists in an organization the caller cannot see.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid request: {}", fields(.0))]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request was understood but its precondition in the world does not hold.
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Dns(#[from] DnsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    /// The operator's change was recorded as a request the organization's admin must approve.
    #[error("waiting for the organization's approval: request {0}")]
    AwaitingApproval(String),
    /// Something the hub itself failed at (logged; the client sees a plain 500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// `field: message; ...`, for the error's text (the command line shows it).
fn fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

/// A problem+json response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` is the stable machine-readable kind.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub code: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the hub's log has the details",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", detail)
            }
            ServiceError::Invalid(errors) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid",
                detail: errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                errors,
            },
            ServiceError::Forbidden(detail) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
            }
            ServiceError::AwaitingApproval(id) => ApiError::new(
                StatusCode::ACCEPTED,
                "awaiting_approval",
                format!(
                    "recorded as request {id}: the organization's own admin must approve it \
                     (GET /api/v1/orgs/{{org}}/operator-requests); or open a break-glass window"
                ),
            ),
            ServiceError::Unprocessable(detail) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "failed_precondition",
                detail,
            ),
            ServiceError::Dns(e) => {
                tracing::warn!(error = %e, "DNS lookup failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "dns_unavailable",
                    format!("DNS lookup failed: {e}; try again later"),
                )
            }
            ServiceError::Store(StoreError::Conflict(e)) => {
                tracing::info!(error = %e, "unique constraint refused a write");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "conflicts with an existing resource",
                )
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "storage error");
                ApiError::internal()
            }
            ServiceError::Secrets(e) => {
                tracing::error!(error = %e, "secrets error");
                ApiError::internal()
            }
            ServiceError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ServiceError::Store(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: "about:blank",
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hub-admin\""),
            );
        }
        response
    }
}
