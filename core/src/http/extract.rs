//! Extractors that authenticate and authorize before a handler runs, and a JSON extractor whose
//! rejections are problem JSON. An organization-scoped key asking for another organization's
//! resources gets 404, exactly as if they did not exist.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex};

pub use crate::access::{OrgCtx, Principal};
use crate::error::{ApiError, ServiceError};
use crate::ids::OrgId;
use crate::orgs::model::OrgStatus;
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::storage;

/// `Json<T>` with problem-JSON rejections: 400 malformed, 422 wrong shape or unknown field,
/// 413 too large, 415 wrong content type.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            format!(
                "the JSON body does not fit this endpoint: {}",
                e.body_text()
            ),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than this hub accepts (server.max_body_bytes)",
            )
        }
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

/// The bearer token of a request's `Authorization` header (at most 256 bytes).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

impl<S> FromRequestParts<S> for Principal
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let state = AppState::from_ref(state);
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("send an admin API key as Authorization: Bearer <key>")
        })?;
        let key = storage::api_keys::find_active_by_hash(
            state.store.conn(),
            &hash_token(token),
            state.clock.now_ms(),
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("the API key is unknown, revoked or expired"))?;
        let own_org = match key.org_id {
            Some(org_id) => match storage::organizations::get(state.store.conn(), org_id).await? {
                Some(org) if org.status == OrgStatus::Active => Some(org),
                _ => {
                    return Err(ServiceError::Forbidden(
                        "this key's organization is suspended; ask the hub operator",
                    )
                    .into());
                }
            },
            None => None,
        };
        Ok(Self::key(key, own_org))
    }
}

/// The organization named by the `{org}` path segment (slug or id), visible to the caller.
impl<S> FromRequestParts<S> for OrgCtx
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let app = AppState::from_ref(state);
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("organization"))?;
        let name = params
            .iter()
            .find(|(k, _)| *k == "org")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| ApiError::not_found("organization"))?;
        // An organization key names its own organization: no second query.
        let own = principal
            .own_org
            .as_ref()
            .filter(|o| o.slug == name || o.id.to_string() == name)
            .cloned();
        let org = match own {
            Some(org) => Some(org),
            None => crate::orgs::organizations::resolve(app.store.conn(), &name).await?,
        };
        let Some(org) = org.filter(|o| principal.can_see(o.id)) else {
            return Err(ApiError::not_found("organization"));
        };
        if principal.is_operator() && parts.method.is_safe() {
            // The organization sees the operator's reads of its data in its audit view: once
            // the response is a success (a refused request changes nothing), or at once where
            // no one would record it afterwards.
            let read = OperatorRead {
                principal: principal.clone(),
                org: org.id,
                route: route(parts),
            };
            match parts.extensions.get::<OperatorReads>() {
                Some(slot) => slot.put(read),
                None => read.record(&app).await?,
            }
        }
        Ok(Self { org, principal })
    }
}

/// An operator's read of an organization's data, to record in its audit view.
#[derive(Debug, Clone)]
pub struct OperatorRead {
    pub principal: Principal,
    pub org: OrgId,
    /// `GET /api/v1/orgs/{org}/users`.
    pub route: String,
}

impl OperatorRead {
    pub async fn record(&self, state: &AppState) -> Result<(), storage::StoreError> {
        crate::audit::operator::record_read(state, &self.principal, &[self.org], &self.route).await
    }
}

/// Where the extractor leaves an operator's read for the app to record once the handler
/// answered with a success (`hub::http` puts one in every request).
#[derive(Debug, Clone, Default)]
pub struct OperatorReads(Arc<Mutex<Option<OperatorRead>>>);

impl OperatorReads {
    fn put(&self, read: OperatorRead) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(read);
        }
    }

    pub fn take(&self) -> Option<OperatorRead> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// The request's method and route template (`GET /api/v1/orgs/{org}/users`), or its path
/// when no route matched.
pub fn route(parts: &Parts) -> String {
    let path = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| parts.uri.path().to_string(), |m| m.as_str().to_string());
    format!("{} {path}", parts.method)
}

/// `Query<T>` with problem-JSON rejections (400 naming the bad parameter).
pub struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}
