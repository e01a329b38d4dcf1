//! Creating, listing and changing organizations.

use serde::Deserialize;
use serde_json::json;

use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::http::extract::Principal;
use crate::ids::OrgId;
use crate::orgs::model::{OrgStatus, Organization};
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// URL-safe identifier, unique in the hub (e.g. `acme`).
    pub slug: String,
    /// Display name, unique in the hub.
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    pub name: Option<String>,
    /// Only the operator may suspend or reactivate an organization.
    pub status: Option<OrgStatus>,
}

pub fn target(id: OrgId) -> String {
    format!("organization:{id}")
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    input: CreateOrg,
) -> Result<Organization, ServiceError> {
    let mut errors = Vec::new();
    let slug = validate::slug("slug", &input.slug)
        .map_err(|e| errors.push(e))
        .ok();
    let name = validate::name("name", &input.name)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(ServiceError::Invalid(errors));
    };
    let now = state.clock.now_ms();
    let org = Organization {
        id: OrgId::new(),
        slug,
        name,
        status: OrgStatus::Active,
        created_at: now,
        updated_at: now,
    };
    let tx = state.store.begin().await?;
    if storage::organizations::find_by_slug(tx.conn(), &org.slug)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "an organization with slug {:?} already exists",
            org.slug
        )));
    }
    if storage::organizations::find_by_name(tx.conn(), &org.name)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "an organization named {:?} already exists",
            org.name
        )));
    }
    storage::organizations::insert(tx.conn(), &org).await?;
    let event = AuditEvent::new(actor, AuditAction::OrganizationCreated, target(org.id))
        .org(org.id)
        .details(json!({"slug": org.slug, "name": org.name}));
    state.commit_audited(tx, event).await?;
    Ok(org)
}

/// The organizations the caller may see: all for the operator, its own for an org key.
pub async fn list(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<Organization>, ServiceError> {
    let c = state.store.conn();
    match principal.key.org_id {
        None if principal.is_operator() => Ok(storage::organizations::list_all(c).await?),
        None => Ok(Vec::new()),
        Some(own) => Ok(storage::organizations::get(c, own)
            .await?
            .into_iter()
            .collect()),
    }
}

pub async fn update(
    state: &AppState,
    principal: &Principal,
    org: &Organization,
    input: UpdateOrg,
) -> Result<Organization, ServiceError> {
    if input.status.is_some() {
        principal.require_operator()?;
    }
    let name = input
        .name
        .as_deref()
        .map(|n| validate::name("name", n))
        .transpose()
        .map_err(|e| ServiceError::Invalid(vec![e]))?;
    let tx = state.store.begin().await?;
    // Changes apply to the row as it is now, not as the request's extractor read it.
    let current = storage::organizations::get_for_update(tx.conn(), org.id)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    let mut updated = current.clone();
    if let Some(name) = name {
        updated.name = name;
    }
    if let Some(status) = input.status {
        updated.status = status;
    }
    if updated == current {
        return Ok(updated);
    }
    updated.updated_at = state.clock.now_ms();
    if updated.name != current.name
        && storage::organizations::find_by_name(tx.conn(), &updated.name)
            .await?
            .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "an organization named {:?} already exists",
            updated.name
        )));
    }
    storage::organizations::update_profile(tx.conn(), &updated).await?;
    let mut changes = serde_json::Map::new();
    if updated.name != current.name {
        changes.insert(
            "name".into(),
            json!({"from": current.name, "to": updated.name}),
        );
    }
    if updated.status != current.status {
        changes.insert(
            "status".into(),
            json!({"from": current.status, "to": updated.status}),
        );
    }
    let event = AuditEvent::new(
        &principal.actor(),
        AuditAction::OrganizationUpdated,
        target(org.id),
    )
    .org(org.id)
    .details(changes.into());
    state.commit_audited(tx, event).await?;
    Ok(updated)
}
