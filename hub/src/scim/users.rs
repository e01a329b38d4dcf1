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

use super::filter::get_ci;
use super::list::ListParams;
use super::patch::{self, PatchRequest};
use super::projection::Projection;
use super::schema::USERS;
use super::user_doc::{fields, to_scim};
use super::{ScimCtx, ScimError, check_if_match, parse_body, respond};
use crate::audit::{AuditAction, AuditEvent};
use crate::deprovision::{LeaverSource, Signal};
use crate::ids::UserId;
use crate::state::AppState;
use crate::storage;
use crate::users::{User, UserStatus};

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
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
    // Every address the user is given, the userName included when it is one, must be in a
    // domain this organization verified: a partner cannot name another company's people.
    let mut checked: Vec<&str> = Vec::new();
    for (domain, field) in &f.domains {
        if checked.contains(&domain.as_str()) {
            continue;
        }
        if !storage::domains::is_verified(tx.conn(), org, domain).await? {
            return Err(invalid(format!(
                "{field}: {domain} is not a verified domain of this organization; verify it \
                 before provisioning its people"
            )));
        }
        checked.push(domain);
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
        return Err(ScimError::conflict(if f.email.is_empty() {
            format!(
                "another user already has the userName {:?} (or one that looks the same)",
                f.user_name
            )
        } else {
            format!(
                "another user already has the userName {:?} (or one that looks the same) or \
                 the email {}",
                f.user_name, f.email
            )
        }));
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
        name_formatted: None,
        emails: Vec::new(),
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
    user.email_verified = !f.email.is_empty();
    user.email = f.email;
    user.emails = f.emails;
    user.name = f.name;
    user.name_formatted = f.name_formatted;
    user.given_name = f.given_name;
    user.family_name = f.family_name;
    user.attributes = f.extras;
    user.directory_id = Some(ctx.directory.id);
    // `active` left out keeps the status (RFC 7643 gives it no default); a new user is active.
    let active = f.active.unwrap_or(
        target.is_none()
            || current
                .as_ref()
                .is_some_and(|c| c.status == UserStatus::Active),
    );
    let (status, reason) = if active {
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
    if created {
        storage::users::insert(tx.conn(), &user).await?;
    } else {
        storage::users::update_all(tx.conn(), &user).await?;
    }
    let signal = Signal {
        source: LeaverSource::Scim,
        reason: format!("deactivated in the directory {}", ctx.directory.name),
        received_at: ctx.received_at,
    };
    let change = crate::users::lifecycle::transition(&tx, state, was, &user, &signal).await?;
    let event = AuditEvent::new(&ctx.actor(), change.action, format!("user:{}", user.id))
        .org(org)
        .details(json!({
            "source": "scim",
            "directory": ctx.directory.name,
            "userName": user.username,
            "email": user.email,
            "externalId": user.external_id,
            "status": user.status,
            "access_ended": change.ended.as_ref().map(|e| e.details()),
            "deliveries_queued": change.details()["deliveries_queued"],
        }));
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok((user, created))
}

/// A user answer, shaped by the request's `attributes` / `excludedAttributes`.
fn answer(status: StatusCode, u: &User, ctx: &ScimCtx, p: &Projection) -> Response {
    respond(status, &p.apply(&USERS, to_scim(u, &ctx.base)))
}

pub async fn create(
    State(state): State<AppState>,
    ctx: ScimCtx,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let doc: Value = parse_body(&headers, body)?;
    let (user, _) = save(&state, &ctx, None, &headers, |_| Ok(doc)).await?;
    let mut r = answer(
        StatusCode::CREATED,
        &user,
        &ctx,
        &Projection::from_query(&query),
    );
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/Users/{}", ctx.base, user.id)) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    if let Ok(v) = HeaderValue::from_str(&super::etag(user.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

pub async fn get(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let user = storage::users::get(state.store.conn(), ctx.org.id, parse_id(&id)?)
        .await?
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .ok_or_else(|| ScimError::not_found("User"))?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &ctx,
        &Projection::from_query(&query),
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let doc: Value = parse_body(&headers, body)?;
    let (user, _) = save(&state, &ctx, Some(id), &headers, |_| Ok(doc)).await?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &ctx,
        &Projection::from_query(&query),
    ))
}

pub async fn patch(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let req: PatchRequest = parse_body(&headers, body)?;
    let base = ctx.base.clone();
    let (user, _) = save(&state, &ctx, Some(id), &headers, move |current| {
        let mut doc = to_scim(current.ok_or_else(|| ScimError::not_found("User"))?, &base);
        patch::apply(&mut doc, req, &USERS)?;
        // `active` has no default (RFC 7643 §4.1.1): removing it would leave the hub unable to
        // say whether the person may sign in, so it is refused rather than read as "active".
        if get_ci(&doc, "active").is_none_or(Value::is_null) {
            return Err(ScimError::mutability(
                "active cannot be removed; replace it with true or false",
            ));
        }
        Ok(doc)
    })
    .await?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &ctx,
        &Projection::from_query(&query),
    ))
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

async fn page(state: &AppState, ctx: &ScimCtx, p: ListParams) -> Result<Response, ScimError> {
    let query = p
        .filter
        .as_ref()
        .map(super::query::users)
        .transpose()
        .map_err(|e| ScimError::bad_request("invalidFilter", e))?;
    let (total, users) = storage::scim::users_page(
        state.store.conn(),
        ctx.org.id,
        query.as_ref(),
        p.start - 1,
        p.count,
    )
    .await?;
    let resources: Vec<Value> = users
        .iter()
        .map(|u| p.projection.apply(&USERS, to_scim(u, &ctx.base)))
        .collect();
    Ok(respond(
        StatusCode::OK,
        &super::list_response(total, p.start, resources),
    ))
}

pub async fn list(
    State(state): State<AppState>,
    ctx: ScimCtx,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    page(&state, &ctx, ListParams::from_query(&query)?).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3).
pub async fn search(
    State(state): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    page(&state, &ctx, ListParams::from_search(&headers, body)?).await
}
