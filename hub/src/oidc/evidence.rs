//! `POST /api/v1/evidence`: an application of a space appends what people did in it to the
//! audit log (`spaces::evidence`), authenticated as itself with its client secret (HTTP Basic,
//! as at the token endpoint, with the same throttle). Every party of the space can then prove
//! it with the log's inclusion proofs (`GET /api/v1/orgs/{org}/evidence`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth;
use super::error::OAuthError;
use super::request::SourceIp;
use crate::error::{ApiError, ServiceError};
use crate::orgs::model::ClientType;
use crate::spaces::evidence::{self, RecordEvidence};
use crate::state::AppState;

/// The largest body taken (the event's `data` is at most 4 KiB of it).
const MAX_BODY: usize = 8 * 1024;

pub async fn post_evidence(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    body: Bytes,
) -> Response {
    let app = match client_auth::authenticate(
        &state,
        &headers,
        &HashMap::new(),
        source,
        "/api/v1/evidence",
    )
    .await
    {
        Ok(app) if app.client_type == ClientType::Confidential => app,
        Ok(_) => {
            return OAuthError::invalid_client(
                "a public client cannot record evidence; authenticate with a client secret",
                false,
            )
            .into_response();
        }
        Err(e) => return e.into_response(),
    };
    if body.len() > MAX_BODY {
        return ApiError::from(ServiceError::invalid("data", "the body is at most 8 KiB"))
            .into_response();
    }
    let input: RecordEvidence = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return ApiError::from(ServiceError::invalid(
                "body",
                format!("not the evidence JSON: {e}"),
            ))
            .into_response();
        }
    };
    match evidence::record(&state, &app, input).await {
        Ok(r) => (
            StatusCode::CREATED,
            Json(
                json!({"id": r.id, "seq": r.seq, "at": crate::clock::ms_to_rfc3339(r.at_ms),
                "organizations": r.orgs}),
            ),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
