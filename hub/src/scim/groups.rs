//! `/Groups`: the organization's groups as its directory pushes them. Members are users of the
//! same organization (an unknown id is refused, another organization's included); each
//! member's `groups` claim follows their memberships.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::filter;
use super::list::ListParams;
use super::patch::{self, PatchRequest};
use super::projection::Projection;
use super::schema::{GROUP, GROUPS};
use super::{ScimCtx, ScimError, check_if_match, etag, parse_body, respond};
use crate::audit::{AuditAction, AuditEvent};
use crate::clock::ms_to_rfc3339;
use crate::directories::Group;
use crate::ids::{GroupId, UserId};
use crate::state::AppState;
use crate::storage;

/// The most members one group may have.
pub const MAX_MEMBERS: usize = 100_000;

fn to_scim(g: &Group, members: Option<&[(UserId, String)]>, base: &str) -> Value {
    let mut doc = json!({
        "schemas": [GROUP],
        "id": g.id.to_string(),
        "displayName": g.display_name,
        "meta": {
            "resourceType": "Group",
            "created": ms_to_rfc3339(g.created_at),
            "lastModified": ms_to_rfc3339(g.updated_at),
            "location": format!("{base}/Groups/{}", g.id),
            "version": etag(g.version),
        },
    });
    if let Some(e) = &g.external_id {
        doc["externalId"] = json!(e);
    }
    if let Some(m) = members {
        doc["members"] = m
            .iter()
            .map(|(id, name)| {
                json!({"value": id.to_string(), "display": name, "type": "User",
                       "$ref": format!("{base}/Users/{id}")})
            })
            .collect();
    }
    doc
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

/// Display name, external id and member ids from a SCIM document.
fn fields(doc: &Value) -> Result<(String, Option<String>, Vec<UserId>), ScimError> {
    if !doc.is_object() {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "a Group must be a JSON object",
        ));
    }
    let text = |k: &str, max: usize| super::text_attr(filter::get_ci(doc, k), k, max);
    let name = text("displayName", 255)?.ok_or_else(|| invalid("displayName is required"))?;
    let external = text("externalId", 255)?;
    let members = match filter::get_ci(doc, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_MEMBERS {
                return Err(invalid(format!(
                    "a group has at most {MAX_MEMBERS} members"
                )));
            }
            let mut out = BTreeSet::new();
            for m in items {
                let v = filter::get_ci(m, "value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("each member needs a value (a user id)"))?;
                let id: UserId = v
                    .parse()
                    .map_err(|_| invalid(format!("{v:?} is not a user of this organization")))?;
                out.insert(id);
            }
            out.into_iter().collect()
        }
        Some(_) => return Err(invalid("members must be an array")),
    };
    Ok((name, external, members))
}

fn parse_id(id: &str) -> Result<GroupId, ScimError> {
    id.parse().map_err(|_| ScimError::not_found("Group"))
}

/// Creates or changes a group from the document `build` makes out of the current one (and its
/// members), inside one audited transaction.
async fn save(
    state: &AppState,
    ctx: &ScimCtx,
    target: Option<GroupId>,
    headers: &HeaderMap,
    build: impl FnOnce(Option<(&Group, &[(UserId, String)])>) -> Result<Value, ScimError>,
) -> Result<(Group, bool), ScimError> {
    let org = ctx.org.id;
    let tx = state.store.begin().await?;
    let current = match target {
        Some(id) => {
            let g = storage::groups::get_for_update(tx.conn(), org, id)
                .await?
                .ok_or_else(|| ScimError::not_found("Group"))?;
            check_if_match(headers, g.version)?;
            let m = storage::groups::members(tx.conn(), org, id).await?;
            Some((g, m))
        }
        None => None,
    };
    let doc = build(current.as_ref().map(|(g, m)| (g, m.as_slice())))?;
    let (name, external, wanted) = fields(&doc)?;
    let known = storage::groups::existing_users(tx.conn(), org, &wanted).await?;
    if known.len() != wanted.len() {
        let known: BTreeSet<_> = known.into_iter().collect();
        let missing = wanted.iter().find(|u| !known.contains(u));
        return Err(invalid(format!(
            "{} is not a user of this organization",
            missing.map(ToString::to_string).unwrap_or_default()
        )));
    }
    let now = state.clock.now_ms();
    let created = current.is_none();
    let (mut group, before) = match current {
        Some((g, m)) => {
            let ids: BTreeSet<UserId> = m.into_iter().map(|(u, _)| u).collect();
            (g, ids)
        }
        None => (
            Group {
                id: GroupId::new(),
                org_id: org,
                directory_id: Some(ctx.directory.id),
                display_name: String::new(),
                external_id: None,
                version: 0,
                created_at: now,
                updated_at: now,
            },
            BTreeSet::new(),
        ),
    };
    let after: BTreeSet<UserId> = wanted.into_iter().collect();
    let added: Vec<UserId> = after.difference(&before).copied().collect();
    let removed: Vec<UserId> = before.difference(&after).copied().collect();
    let renamed = group.display_name != name;
    if !created
        && !renamed
        && group.external_id == external
        && added.is_empty()
        && removed.is_empty()
    {
        return Ok((group, false));
    }
    group.display_name = name;
    group.external_id = external;
    group.directory_id = Some(ctx.directory.id);
    group.version += 1;
    group.updated_at = now;
    if created {
        storage::groups::insert(tx.conn(), &group).await?;
    } else {
        storage::groups::update(tx.conn(), &group).await?;
    }
    storage::groups::add_members(tx.conn(), org, group.id, &added).await?;
    storage::groups::remove_members(tx.conn(), org, group.id, &removed).await?;
    let affected: Vec<UserId> = if renamed {
        after.union(&before).copied().collect()
    } else {
        added.iter().chain(&removed).copied().collect()
    };
    storage::groups::refresh_user_groups(tx.conn(), org, &affected).await?;
    let sample = |v: &[UserId]| {
        v.iter()
            .take(50)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let event = AuditEvent::new(
        &ctx.actor(),
        if created {
            AuditAction::GroupCreated
        } else {
            AuditAction::GroupUpdated
        },
        format!("group:{}", group.id),
    )
    .org(org)
    .details(json!({
        "source": "scim",
        "directory": ctx.directory.name,
        "displayName": group.display_name,
        "externalId": group.external_id,
        "members": after.len(),
        "added": added.len(),
        "removed": removed.len(),
        "added_sample": sample(&added),
        "removed_sample": sample(&removed),
    }));
    state.commit_audited(tx, event).await?;
    Ok((group, created))
}

/// A group answer shaped by `p`; the members are read only when the answer holds them.
async fn answer(
    state: &AppState,
    ctx: &ScimCtx,
    g: &Group,
    status: StatusCode,
    p: &Projection,
) -> Result<Response, ScimError> {
    let members = if p.includes(&GROUPS, "members") {
        Some(storage::groups::members(state.store.conn(), ctx.org.id, g.id).await?)
    } else {
        None
    };
    Ok(respond(
        status,
        &p.apply(&GROUPS, to_scim(g, members.as_deref(), &ctx.base)),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    ctx: ScimCtx,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let doc: Value = parse_body(&headers, body)?;
    let (g, _) = save(&state, &ctx, None, &headers, |_| Ok(doc)).await?;
    let p = Projection::from_query(&query);
    let mut r = answer(&state, &ctx, &g, StatusCode::CREATED, &p).await?;
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/Groups/{}", ctx.base, g.id)) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(r)
}

pub async fn get(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let g = storage::groups::get(state.store.conn(), ctx.org.id, parse_id(&id)?)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    answer(
        &state,
        &ctx,
        &g,
        StatusCode::OK,
        &Projection::from_query(&query),
    )
    .await
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
    let (g, _) = save(&state, &ctx, Some(id), &headers, |_| Ok(doc)).await?;
    answer(
        &state,
        &ctx,
        &g,
        StatusCode::OK,
        &Projection::from_query(&query),
    )
    .await
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
    let (g, _) = save(&state, &ctx, Some(id), &headers, move |current| {
        let (g, m) = current.ok_or_else(|| ScimError::not_found("Group"))?;
        let mut doc = to_scim(g, Some(m), &base);
        patch::apply(&mut doc, req, &GROUPS)?;
        Ok(doc)
    })
    .await?;
    // Entra ID asks for 204 after a group PATCH; a client that names attributes gets them.
    if query.as_deref().is_some_and(|q| !q.is_empty()) {
        return answer(
            &state,
            &ctx,
            &g,
            StatusCode::OK,
            &Projection::from_query(&query),
        )
        .await;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(g.version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

pub async fn delete(
    State(state): State<AppState>,
    ctx: ScimCtx,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let id = parse_id(&id)?;
    let org = ctx.org.id;
    let tx = state.store.begin().await?;
    let g = storage::groups::get_for_update(tx.conn(), org, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))?;
    check_if_match(&headers, g.version)?;
    let members: Vec<UserId> = storage::groups::members(tx.conn(), org, id)
        .await?
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    storage::groups::delete(tx.conn(), org, id).await?;
    storage::groups::refresh_user_groups(tx.conn(), org, &members).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::GroupDeleted,
        format!("group:{id}"),
    )
    .org(org)
    .details(json!({"source": "scim", "directory": ctx.directory.name,
            "displayName": g.display_name, "members": members.len()}));
    state.commit_audited(tx, event).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn page(state: &AppState, ctx: &ScimCtx, p: ListParams) -> Result<Response, ScimError> {
    let query = p
        .filter
        .as_ref()
        .map(super::query::groups)
        .transpose()
        .map_err(|e| ScimError::bad_request("invalidFilter", e))?;
    let (total, groups) = storage::groups::page(
        state.store.conn(),
        ctx.org.id,
        query.as_ref(),
        p.start - 1,
        p.count,
    )
    .await?;
    let with_members = p.projection.includes(&GROUPS, "members");
    let mut resources = Vec::with_capacity(groups.len());
    for g in &groups {
        let members = if with_members {
            Some(storage::groups::members(state.store.conn(), ctx.org.id, g.id).await?)
        } else {
            None
        };
        resources.push(
            p.projection
                .apply(&GROUPS, to_scim(g, members.as_deref(), &ctx.base)),
        );
    }
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

/// `POST /Groups/.search` (RFC 7644 §3.4.3).
pub async fn search(
    State(state): State<AppState>,
    ctx: ScimCtx,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    page(&state, &ctx, ListParams::from_search(&headers, body)?).await
}
