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
use axum::routing::{MethodRouter, any, get, post};
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
mod list;
pub mod patch;
mod projection;
mod query;
mod schema;
mod user_doc;
mod users;

use error::CONTENT_TYPE;
pub use error::ScimError;

/// The largest SCIM request body: a group PATCH adding 10,000 members is about 0.5 MiB, more
/// than the admin API's limit.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A route's methods; any other method is a SCIM 405 naming the allowed ones.
fn methods(router: MethodRouter<AppState>, allow: &'static str) -> MethodRouter<AppState> {
    router.fallback(move || async move {
        let mut r = ScimError::status(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this endpoint accepts {allow}"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        r
    })
}

/// Every path under `/scim/v2` answers in SCIM's format (RFC 7644 §3.12): the endpoints, a 404
/// for unknown paths, a 405 for wrong methods, 501 for `/Me`, `/Bulk` and a root `/.search`;
/// any other failure (an extractor's rejection, a body limit) is turned into a SCIM error.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/{org}/ServiceProviderConfig",
            methods(get(schema::service_provider_config), "GET"),
        )
        .route(
            "/scim/v2/{org}/ResourceTypes",
            methods(get(schema::resource_types), "GET"),
        )
        .route(
            "/scim/v2/{org}/ResourceTypes/{id}",
            methods(get(schema::resource_type), "GET"),
        )
        .route(
            "/scim/v2/{org}/Schemas",
            methods(get(schema::schemas), "GET"),
        )
        .route(
            "/scim/v2/{org}/Schemas/{uri}",
            methods(get(schema::get_schema), "GET"),
        )
        .route(
            "/scim/v2/{org}/Users",
            methods(get(users::list).post(users::create), "GET, POST"),
        )
        .route(
            "/scim/v2/{org}/Users/.search",
            methods(post(users::search), "POST"),
        )
        .route(
            "/scim/v2/{org}/Users/{id}",
            methods(
                get(users::get)
                    .put(users::replace)
                    .patch(users::patch)
                    .delete(users::delete),
                "GET, PUT, PATCH, DELETE",
            ),
        )
        .route(
            "/scim/v2/{org}/Groups",
            methods(get(groups::list).post(groups::create), "GET, POST"),
        )
        .route(
            "/scim/v2/{org}/Groups/.search",
            methods(post(groups::search), "POST"),
        )
        .route(
            "/scim/v2/{org}/Groups/{id}",
            methods(
                get(groups::get)
                    .put(groups::replace)
                    .patch(groups::patch)
                    .delete(groups::delete),
                "GET, PUT, PATCH, DELETE",
            ),
        )
        .route("/scim/v2/{org}/Me", any(not_implemented))
        .route("/scim/v2/{org}/Me/{*rest}", any(not_implemented))
        .route("/scim/v2/{org}/Bulk", any(not_implemented))
        .route("/scim/v2/{org}/.search", any(not_implemented))
        .route("/scim/v2/{org}/{*rest}", any(unknown))
        .route("/scim/v2/{org}/", any(unknown))
        .route("/scim/v2/{org}", any(unknown))
        .route("/scim/v2", any(no_such_path))
        .route("/scim/v2/", any(no_such_path))
        .layer(axum::middleware::map_response(scim_errors))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// `/Me` (RFC 7644 §3.11: the token is a directory's, not a person's), `/Bulk` (§3.7;
/// ServiceProviderConfig says `bulk.supported: false`) and a search across every resource
/// type at the root (§3.4.3; `/Users/.search` and `/Groups/.search` are served).
async fn not_implemented(_ctx: ScimCtx, uri: axum::http::Uri) -> ScimError {
    let what = uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    ScimError::not_implemented(match what.as_str() {
        "Bulk" => "bulk operations are not supported (see ServiceProviderConfig)".to_string(),
        ".search" => {
            "search at the root is not supported; use /Users/.search or /Groups/.search".to_string()
        }
        _ => "/Me is not supported: a SCIM token belongs to a directory, not a person".to_string(),
    })
}

/// An unknown path under an organization's base URL, after the token is checked.
async fn unknown(_ctx: ScimCtx) -> ScimError {
    no_such_path().await
}

async fn no_such_path() -> ScimError {
    ScimError::not_found("SCIM endpoint")
}

/// Turns any failure answered outside the handlers' own errors (an extractor's plain-text
/// rejection, a limit) into a SCIM error with the same status.
async fn scim_errors(r: Response) -> Response {
    let status = r.status();
    let is_scim = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(CONTENT_TYPE.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_scim {
        return r;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is larger than {MAX_BODY_BYTES} bytes")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "the body must be application/scim+json".into(),
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not accept that method".into(),
        StatusCode::NOT_FOUND => "not found".into(),
        s if s.is_client_error() => "the request is malformed".into(),
        _ => "internal error".into(),
    };
    let allow = r.headers().get(header::ALLOW).cloned();
    let mut out = ScimError::status(status, detail).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
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
        // Guessing tokens stops at the address's limit: nothing it sends is looked at until its
        // window ends; a failure is counted, never logged one event each.
        let source = crate::oidc::request::SourceIp::from_request_parts(parts, &app)
            .await
            .unwrap_or_else(|never| match never {});
        if let Err(wait) = app.bearer_throttle.check(None, source.0, received_at) {
            app.metrics.anonymous_failure("scim_auth_throttled");
            return Err(ScimError::throttled(wait));
        }
        let failed = || {
            app.bearer_throttle
                .record_failure(None, source.0, received_at);
            app.metrics.anonymous_failure("scim_auth");
            ScimError::unauthorized()
        };
        let token = crate::http::extract::bearer(&parts.headers).ok_or_else(failed)?;
        let token = storage::directories::find_token(app.store.conn(), &hash_token(token))
            .await?
            .ok_or_else(failed)?;
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

/// Reads a JSON body, with errors in SCIM's format: `application/scim+json` or
/// `application/json` (RFC 7644 §3.1), or no content type; anything else is a 415.
pub fn parse_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ScimError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != CONTENT_TYPE && essence != "application/json" {
            return Err(ScimError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be application/scim+json (or application/json)",
            ));
        }
    }
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

/// A string attribute: no control characters or line breaks (not even at the ends), trimmed,
/// at most `max` bytes; empty is absent.
pub fn text_attr(v: Option<&Value>, field: &str, max: usize) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().any(crate::users::names::is_control) {
                return Err(ScimError::invalid_value(format!(
                    "{field} must not contain control characters or line breaks"
                )));
            }
            let s = s.trim();
            if s.len() > max {
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
