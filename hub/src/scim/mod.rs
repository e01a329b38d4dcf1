//! The SCIM 2.0 service provider (RFC 7643/7644) each organization's Okta or Entra ID pushes
//! its directory to, at `/scim/v2/{org}` with a bearer token of one of the organization's
//! directories. Another organization's token gets 404, a missing or unknown one a uniform 401;
//! every answer, errors included, is `application/scim+json`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::audit::Actor;
use crate::directories::{Directory, DirectoryStatus};
use crate::orgs::model::{OrgStatus, Organization};
use crate::secrets::hash_token;
use crate::state::AppState;
use crate::storage;

pub mod error;
pub mod filter;
mod groups;
pub mod patch;
mod schema;
mod users;

use error::CONTENT_TYPE;
pub use error::ScimError;

/// The largest SCIM request body: a group PATCH adding 10,000 members is about 0.5 MiB, more
/// than the admin API's limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{org}/ServiceProviderConfig",
            get(schema::service_provider_config),
        )
        .route("/scim/v2/{org}/ResourceTypes", get(schema::resource_types))
        .route("/scim/v2/{org}/Schemas", get(schema::schemas))
        .route("/scim/v2/{org}/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/{org}/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(
            "/scim/v2/{org}/Groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/scim/v2/{org}/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The organization and directory a SCIM request acts for, from its bearer token.
pub struct ScimCtx {
    pub org: Organization,
    pub directory: Directory,
    /// `{public_url}/scim/v2/{org}`, for `meta.location`.
    pub base: String,
    /// When the request reached the hub: a leaver's signal time.
    pub received_at: i64,
}

impl ScimCtx {
    pub fn actor(&self) -> Actor {
        Actor::Directory {
            org_id: self.org.id,
            directory_id: self.directory.id,
            name: self.directory.name.clone(),
        }
    }
}

impl<S> FromRequestParts<S> for ScimCtx
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ScimError> {
        let app = AppState::from_ref(state);
        let received_at = app.clock.now_ms();
        let token =
            crate::http::extract::bearer(&parts.headers).ok_or_else(ScimError::unauthorized)?;
        let token = storage::directories::find_token(app.store.conn(), &hash_token(token))
            .await?
            .ok_or_else(ScimError::unauthorized)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ScimError::not_found("organization"))?;
        let slug = params
            .iter()
            .find(|(k, _)| *k == "org")
            .map(|(_, v)| v.to_string())
            .ok_or_else(|| ScimError::not_found("organization"))?;
        let org = storage::organizations::get(app.store.conn(), token.org_id)
            .await?
            .filter(|o| o.slug == slug || o.id.to_string() == slug)
            // Another organization's token: as if the organization did not exist.
            .ok_or_else(|| ScimError::not_found("organization"))?;
        if org.status != OrgStatus::Active {
            return Err(ScimError::status(
                StatusCode::FORBIDDEN,
                "the organization is suspended",
            ));
        }
        let directory = storage::directories::get(app.store.conn(), org.id, token.directory_id)
            .await?
            .filter(|d| d.status == DirectoryStatus::Active)
            .ok_or_else(ScimError::unauthorized)?;
        // When the token was last used, to the minute (one write a minute at most).
        let now = app.clock.now_ms();
        if token.last_used_at.is_none_or(|t| now - t > 60_000)
            && let Err(e) = storage::directories::touch_token(app.store.conn(), token.id, now).await
        {
            tracing::warn!(error = %e, "could not record a SCIM token's use");
        }
        let base = format!(
            "{}/scim/v2/{}",
            app.config.server.public_url.trim_end_matches('/'),
            org.slug
        );
        Ok(Self {
            org,
            directory,
            base,
            received_at,
        })
    }
}

/// Reads a JSON body, with errors in SCIM's format.
pub fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ScimError> {
    let body = body.map_err(|e| ScimError::status(e.status(), e.body_text()))?;
    serde_json::from_slice(&body)
        .map_err(|e| ScimError::bad_request("invalidSyntax", format!("the body is not valid: {e}")))
}

/// A SCIM answer: the JSON, its content type, and its version as the ETag.
pub fn respond(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(v) = body["meta"]["version"]
        .as_str()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A ListResponse of one page.
pub fn list_response(total: u64, start: u64, resources: Vec<Value>) -> Value {
    serde_json::json!({
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A string attribute: trimmed, at most `max` bytes, no control characters; empty is absent.
pub fn text_attr(v: Option<&Value>, field: &str, max: usize) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.len() > max || s.chars().any(char::is_control) {
                return Err(ScimError::invalid_value(format!(
                    "{field} must be text of at most {max} bytes"
                )));
            }
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Some(_) => Err(ScimError::invalid_value(format!(
            "{field} must be a string"
        ))),
    }
}

/// `W/"7"` for version 7.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Refuses a write whose `If-Match` names another version.
pub fn check_if_match(headers: &HeaderMap, version: i64) -> Result<(), ScimError> {
    let Some(want) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let current = etag(version);
    let ok = want
        .split(',')
        .map(str::trim)
        .any(|w| w == "*" || w == current || w.trim_start_matches("W/") == &current[2..]);
    if ok {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}
