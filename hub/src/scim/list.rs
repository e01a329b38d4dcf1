//! List requests: `GET /Users` and `/Groups` with query parameters (RFC 7644 §3.4.2) and
//! `POST /Users/.search` and `/Groups/.search` with a SearchRequest body (§3.4.3), read into
//! one [`ListParams`]: paging, the parsed filter and the projection. Sorting is not offered
//! (ServiceProviderConfig says so); `sortBy` and `sortOrder` are ignored, as RFC 7644 §3.4.2.3
//! lets a provider without sorting do.

use serde_json::Value;

use super::filter::{self, get_ci};
use super::projection::Projection;
use super::{ScimError, parse_body};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;

/// The most resources one page returns.
pub const MAX_COUNT: u64 = 1000;
const DEFAULT_COUNT: u64 = 100;
const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

pub struct ListParams {
    /// 1-based.
    pub start: u64,
    pub count: u64,
    pub filter: Option<filter::Filter>,
    pub projection: Projection,
}

fn number(name: &str, v: Option<&Value>, default: u64) -> Result<u64, ScimError> {
    let bad = || ScimError::invalid_value(format!("{name} must be an integer"));
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_i64().map(|n| n.max(0) as u64).ok_or_else(bad),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|n| n.max(0) as u64)
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn parse_filter(f: Option<&str>) -> Result<Option<filter::Filter>, ScimError> {
    match f.filter(|f| !f.trim().is_empty()) {
        Some(f) => Ok(Some(
            filter::parse(f).map_err(|e| ScimError::bad_request("invalidFilter", e))?,
        )),
        None => Ok(None),
    }
}

impl ListParams {
    /// From a GET's query string.
    pub fn from_query(query: &Option<String>) -> Result<Self, ScimError> {
        let q: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let param = |name: &str| {
            q.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| Value::String(v.clone()))
        };
        let start = number("startIndex", param("startIndex").as_ref(), 1)?.max(1);
        let count = number("count", param("count").as_ref(), DEFAULT_COUNT)?.min(MAX_COUNT);
        let filter = parse_filter(param("filter").as_ref().and_then(Value::as_str))?;
        Ok(Self {
            start,
            count,
            filter,
            projection: Projection::from_query(query),
        })
    }

    /// From a `.search` body (RFC 7644 §3.4.3).
    pub fn from_search(
        headers: &HeaderMap,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Self, ScimError> {
        let doc: Value = parse_body(headers, body)?;
        if !doc.is_object() {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "a SearchRequest must be a JSON object",
            ));
        }
        if let Some(schemas) = get_ci(&doc, "schemas") {
            let ok = schemas
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)));
            if !ok {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    format!("a SearchRequest's schemas must be [{SEARCH_SCHEMA:?}]"),
                ));
            }
        }
        let names = |k: &str| -> Result<Vec<String>, ScimError> {
            match get_ci(&doc, k) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(s)) => Ok(vec![s.clone()]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            ScimError::invalid_value(format!("{k} must list attribute names"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{k} must list attribute names"
                ))),
            }
        };
        let filter = match get_ci(&doc, "filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => parse_filter(Some(f))?,
            Some(_) => {
                return Err(ScimError::bad_request(
                    "invalidFilter",
                    "filter must be a string",
                ));
            }
        };
        let attributes = names("attributes")?;
        let excluded = names("excludedAttributes")?;
        Ok(Self {
            start: number("startIndex", get_ci(&doc, "startIndex"), 1)?.max(1),
            count: number("count", get_ci(&doc, "count"), DEFAULT_COUNT)?.min(MAX_COUNT),
            filter,
            projection: Projection::new(
                attributes.iter().map(String::as_str),
                excluded.iter().map(String::as_str),
            ),
        })
    }
}
