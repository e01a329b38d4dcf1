//! `/Users`: the organization's people as its directory pushes them. A user the directory
//! deactivates (`active: false`, also Entra's string `"False"`) is suspended and loses its
//! sessions and tokens at once; a deleted one is deprovisioned (kept, hidden from SCIM, its
//! `sub` reserved); the same userName or email pushed again later is a rehire of the same user.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::filter;
use super::patch::{self, PatchRequest};
use super::schema::{ENTERPRISE, USER};
use super::{ScimCtx, ScimError, check_if_match, etag, parse_body, respond};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::ms_to_rfc3339;
use crate::deprovision::{LeaverSource, Signal};
use crate::ids::UserId;
use crate::state::AppState;
use crate::storage;
use crate::users::{User, UserStatus};

/// The most resources one page returns.
pub const MAX_COUNT: u64 = 1000;
const DEFAULT_COUNT: u64 = 100;
/// The largest block of unmodelled attributes kept per user.
const MAX_EXTRA_BYTES: usize = 16 * 1024;
/// Keys the hub models (or refuses to keep: `password`, read-only `groups`).
const MODELLED: [&str; 10] = [
    "schemas",
    "id",
    "meta",
    "externalid",
    "username",
    "name",
    "displayname",
    "emails",
    "active",
    "password",
];

/// The SCIM representation of a user.
pub fn to_scim(u: &User, base: &str) -> Value {
    let mut doc = Map::new();
    // Unmodelled attributes first, so modelled ones always win.
    for (k, v) in &u.attributes {
        doc.insert(k.clone(), v.clone());
    }
    let mut schemas = vec![json!(USER)];
    if u.attributes
        .keys()
        .any(|k| k.eq_ignore_ascii_case(ENTERPRISE))
    {
        schemas.push(json!(ENTERPRISE));
    }
    let mut name = Map::new();
    name.insert("formatted".into(), json!(u.name));
    if let Some(g) = &u.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &u.family_name {
        name.insert("familyName".into(), json!(f));
    }
    doc.insert("schemas".into(), json!(schemas));
    doc.insert("id".into(), json!(u.id.to_string()));
    if let Some(e) = &u.external_id {
        doc.insert("externalId".into(), json!(e));
    }
    doc.insert("userName".into(), json!(u.username));
    doc.insert("name".into(), Value::Object(name));
    doc.insert("displayName".into(), json!(u.name));
    doc.insert(
        "emails".into(),
        json!([{"value": u.email, "type": "work", "primary": true}]),
    );
    doc.insert("active".into(), json!(u.status == UserStatus::Active));
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": ms_to_rfc3339(u.created_at),
            "lastModified": ms_to_rfc3339(u.updated_at),
            "location": format!("{base}/Users/{}", u.id),
            "version": etag(u.version),
        }),
    );
    Value::Object(doc)
}

/// What a SCIM document says about a user, checked.
struct Fields {
    user_name: String,
    external_id: Option<String>,
    email: String,
    name: String,
    given_name: Option<String>,
    family_name: Option<String>,
    active: bool,
    extras: Map<String, Value>,
}

use super::text_attr as text;

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

/// `true`/`false`, or the strings Entra ID sends ("True", "False").
fn boolean(v: Option<&Value>, field: &str) -> Result<Option<bool>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("{field} must be a boolean"))),
    }
}

fn fields(doc: &Value) -> Result<Fields, ScimError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "a User must be a JSON object"))?;
    let get = |k: &str| filter::get_ci(doc, k);
    let user_name =
        text(get("userName"), "userName", 255)?.ok_or_else(|| invalid("userName is required"))?;
    let external_id = text(get("externalId"), "externalId", 255)?;
    let name_obj = get("name");
    if name_obj.is_some_and(|n| !n.is_object() && !n.is_null()) {
        return Err(invalid("name must be an object"));
    }
    let sub = |k: &str| name_obj.and_then(|n| filter::get_ci(n, k));
    let given_name = text(sub("givenName"), "name.givenName", 200)?;
    let family_name = text(sub("familyName"), "name.familyName", 200)?;
    let formatted = text(sub("formatted"), "name.formatted", 200)?;
    let display = text(get("displayName"), "displayName", 200)?;
    let email = match get("emails") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.len() > 20 {
                return Err(invalid("at most 20 emails"));
            }
            let pick = items
                .iter()
                .find(|e| {
                    boolean(filter::get_ci(e, "primary"), "primary")
                        .ok()
                        .flatten()
                        == Some(true)
                })
                .or_else(|| {
                    items.iter().find(|e| {
                        filter::get_ci(e, "type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                    })
                })
                .or(items.first());
            match pick {
                Some(e) => text(filter::get_ci(e, "value"), "emails.value", 320)?,
                None => None,
            }
        }
        Some(_) => return Err(invalid("emails must be an array")),
    }
    .or_else(|| user_name.contains('@').then(|| user_name.clone()))
    .ok_or_else(|| invalid("the user needs an email (emails, or an email as userName)"))?
    .to_ascii_lowercase();
    let active = boolean(get("active"), "active")?.unwrap_or(true);
    let name = display
        .or(formatted)
        .or_else(|| match (&given_name, &family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(g), None) => Some(g.clone()),
            (None, Some(f)) => Some(f.clone()),
            (None, None) => None,
        })
        .unwrap_or_else(|| user_name.clone());
    let extras: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !MODELLED.contains(&k.as_str()) && k != "groups"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if serde_json::to_vec(&extras).map_or(0, |b| b.len()) > MAX_EXTRA_BYTES {
        return Err(invalid("the user's other attributes exceed 16 KiB"));
    }
    Ok(Fields {
        user_name,
        external_id,
        email,
        name,
        given_name,
        family_name,
        active,
        extras,
    })
}

fn parse_id(id: &str) -> Result<UserId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found("User"))
}

/// Creates or changes a user from the document `build` makes out of the current one (inside
/// the transaction, the row locked), under the organization's rules; audited with the change.
async fn save(
    state: &AppState,
    ctx: &ScimCtx,
    target: Option<UserId>,
    headers: &HeaderMap,
    build: impl FnOnce(Option<&User>) -> Result<Value, ScimError>,
) -> Result<(User, bool), ScimError> {
    let org = ctx.org.id;
    let tx = state.store.begin().await?;
    let current = match target {
        Some(id) => {
            let u = storage::users::get_for_update(tx.conn(), org, id)
                .await?
                .filter(|u| u.status != UserStatus::Deprovisioned)
                .ok_or_else(|| ScimError::not_found("User"))?;
            check_if_match(headers, u.version)?;
            Some(u)
        }
        None => None,
    };
    let doc = build(current.as_ref())?;
    let f = fields(&doc)?;
    let domain = f.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !storage::domains::is_verified(tx.conn(), org, domain).await? {
        return Err(invalid(format!(
            "{domain} is not a verified domain of this organization; verify it before \
             provisioning its people"
        )));
    }
    // userName and email are unique in the organization. A deprovisioned holder of either is
    // the same person coming back (rehire): they keep their id and so their `sub`.
    let mut base = current.clone();
    for other in [
        storage::scim::user_by_username(tx.conn(), org, &f.user_name).await?,
        storage::users::find_by_email(tx.conn(), org, &f.email).await?,
    ]
    .into_iter()
    .flatten()
    {
        if base.as_ref().is_some_and(|b| b.id == other.id) {
            continue;
        }
        if base.is_none() && other.status == UserStatus::Deprovisioned {
            base = Some(other);
            continue;
        }
        if base.is_none() && other.directory_id.is_none() {
            // A user the admins created before the directory was wired: the directory takes
            // it over rather than failing the push.
            base = Some(other);
            continue;
        }
        return Err(ScimError::conflict(format!(
            "another user already has the userName {} or the email {}",
            f.user_name, f.email
        )));
    }
    let now = state.clock.now_ms();
    let created = base.is_none();
    let before = base.clone();
    let mut user = base.unwrap_or_else(|| User {
        id: UserId::new(),
        org_id: org,
        external_id: None,
        username: String::new(),
        email: String::new(),
        email_verified: true,
        name: String::new(),
        given_name: None,
        family_name: None,
        groups: Vec::new(),
        status: UserStatus::Active,
        status_reason: None,
        created_at: now,
        updated_at: now,
        directory_id: None,
        version: 0,
        attributes: Map::new(),
    });
    user.username = f.user_name;
    user.external_id = f.external_id;
    user.email = f.email;
    user.email_verified = true;
    user.name = f.name;
    user.given_name = f.given_name;
    user.family_name = f.family_name;
    user.attributes = f.extras;
    user.directory_id = Some(ctx.directory.id);
    let (status, reason) = if f.active {
        (UserStatus::Active, None)
    } else {
        (
            UserStatus::Suspended,
            Some(format!(
                "deactivated in the directory {}",
                ctx.directory.name
            )),
        )
    };
    if user.status != status || created {
        user.status = status;
        user.status_reason = reason;
    }
    if before.as_ref() == Some(&user) {
        return Ok((user, false));
    }
    user.version += 1;
    user.updated_at = now;
    let was = before.as_ref().map(|b| b.status);
    let action = match (was, user.status) {
        (None, _) => AuditAction::UserCreated,
        (Some(UserStatus::Deprovisioned), _) => AuditAction::UserReactivated,
        (Some(UserStatus::Active), UserStatus::Suspended) => AuditAction::UserSuspended,
        (Some(UserStatus::Suspended), UserStatus::Active) => AuditAction::UserReactivated,
        _ => AuditAction::UserUpdated,
    };
    if created {
        storage::users::insert(tx.conn(), &user).await?;
    } else {
        storage::users::update_all(tx.conn(), &user).await?;
    }
    let ended = if user.status != UserStatus::Active && was == Some(UserStatus::Active) {
        let signal = Signal {
            source: LeaverSource::Scim,
            reason: format!("deactivated in the directory {}", ctx.directory.name),
            received_at: ctx.received_at,
        };
        Some(crate::deprovision::leaver(&tx, state, &user, &signal).await?)
    } else {
        None
    };
    let returned = if user.status == UserStatus::Active
        && matches!(was, Some(UserStatus::Suspended | UserStatus::Deprovisioned))
    {
        crate::deprovision::returning(&tx, state, &user).await?
    } else {
        0
    };
    let event = AuditEvent::new(&ctx.actor(), action, format!("user:{}", user.id))
        .org(org)
        .details(json!({
            "source": "scim",
            "directory": ctx.directory.name,
            "userName": user.username,
            "email": user.email,
            "externalId": user.external_id,
            "status": user.status,
            "access_ended": ended.as_ref().map(|e| e.details()),
            "deliveries_queued": returned + ended.as_ref().map_or(0, |e| e.deliveries),
        }));
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok((user, created))
}

pub async fn create(
    State(state): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let doc: Value = parse_body(body)?;
    let (user, _) = save(&state, &ctx, None, &headers, |_| Ok(doc)).await?;
    let body = to_scim(&user, &ctx.base);
    let mut r = respond(StatusCode::CREATED, &body);
    if let Some(loc) = body["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(r)
}

pub async fn get(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let user = storage::users::get(state.store.conn(), ctx.org.id, parse_id(&id)?)
        .await?
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .ok_or_else(|| ScimError::not_found("User"))?;
    Ok(respond(StatusCode::OK, &to_scim(&user, &ctx.base)))
}

pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let doc: Value = parse_body(body)?;
    let (user, _) = save(&state, &ctx, Some(id), &headers, |_| Ok(doc)).await?;
    Ok(respond(StatusCode::OK, &to_scim(&user, &ctx.base)))
}

pub async fn patch(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let req: PatchRequest = parse_body(body)?;
    let base = ctx.base.clone();
    let (user, _) = save(&state, &ctx, Some(id), &headers, move |current| {
        let mut doc = to_scim(current.ok_or_else(|| ScimError::not_found("User"))?, &base);
        patch::apply(&mut doc, req)?;
        Ok(doc)
    })
    .await?;
    Ok(respond(StatusCode::OK, &to_scim(&user, &ctx.base)))
}

/// Deprovisions: the user is kept (audit, a stable `sub` for a rehire) but leaves SCIM's view,
/// and their sessions and tokens end at once.
pub async fn delete(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let org = ctx.org.id;
    let tx = state.store.begin().await?;
    let mut user = storage::users::get_for_update(tx.conn(), org, id)
        .await?
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .ok_or_else(|| ScimError::not_found("User"))?;
    check_if_match(&headers, user.version)?;
    let signal = Signal {
        source: LeaverSource::Scim,
        reason: format!("deleted in the directory {}", ctx.directory.name),
        received_at: ctx.received_at,
    };
    let ended = crate::users::deprovision(&tx, &state, &mut user, &signal).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::UserDeprovisioned,
        format!("user:{}", user.id),
    )
    .org(org)
    .details(json!({
        "source": "scim",
        "directory": ctx.directory.name,
        "userName": user.username,
        "reason": user.status_reason,
        "access_ended": ended.as_ref().map(|e| e.details()),
    }));
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(&state);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `startIndex` (1-based), `count` and `filter` of a list request.
pub fn paging(query: &Option<String>) -> Result<(u64, u64, Option<filter::Filter>), ScimError> {
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: u64| -> Result<u64, ScimError> {
        match param(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(|n| n.max(0) as u64)
                .map_err(|_| {
                    ScimError::bad_request("invalidValue", format!("{name} must be an integer"))
                }),
        }
    };
    let start = number("startIndex", 1)?.max(1);
    let count = number("count", DEFAULT_COUNT)?.min(MAX_COUNT);
    let filter = match param("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(filter::parse(f).map_err(|e| ScimError::bad_request("invalidFilter", e))?),
        None => None,
    };
    Ok((start, count, filter))
}

pub async fn list(
    State(state): State<AppState>,
    ctx: ScimCtx,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let (start, count, filter) = paging(&query)?;
    let (total, users) = storage::scim::users_page(
        state.store.conn(),
        ctx.org.id,
        filter.as_ref(),
        start - 1,
        count,
    )
    .await?
    .map_err(|e| ScimError::bad_request("invalidFilter", e))?;
    let resources: Vec<Value> = users.iter().map(|u| to_scim(u, &ctx.base)).collect();
    Ok(respond(
        StatusCode::OK,
        &super::list_response(total, start, resources),
    ))
}
