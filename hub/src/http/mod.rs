//! The HTTP surface: `app(state)` merges each area's router and adds the shared layers (body
//! limit, timeout, tracing with the Authorization header redacted, metrics, security headers).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::routing::get;
use std::time::Duration;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub use hub_core::http::extract;
mod health;
pub mod metrics;
pub mod server;

pub fn app(state: AppState) -> Router {
    let server = &state.config.server;
    Router::new()
        .route("/healthz", get(health::get_healthz))
        .route("/readyz", get(health::get_readyz))
        .route("/metrics", get(metrics::get_metrics))
        // Only the admin API reads an organization's data through `OrgCtx`.
        .merge(crate::admin::router().layer(middleware::from_fn_with_state(
            state.clone(),
            record_operator_reads,
        )))
        .merge(crate::oidc::router())
        .merge(crate::login::router())
        .merge(crate::console::router())
        .merge(crate::scim::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(server.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(server.request_timeout_secs),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method; see /api/v1/openapi.json",
    )
}

/// Records the operator's read of an organization's data (left by the `OrgCtx` extractor) once
/// the handler answered with a success; if it cannot be recorded, the data is not served.
async fn record_operator_reads(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let slot = extract::OperatorReads::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    match slot.take() {
        Some(read) if response.status().is_success() => match read.record(&state).await {
            Ok(()) => response,
            Err(e) => ApiError::from(e).into_response(),
        },
        _ => response,
    }
}
