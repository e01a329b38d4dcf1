//! Creating, listing and changing organizations.

use serde::Deserialize;
use serde_json::json;

use crate::access::Principal;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::OrgId;
use crate::orgs::model::{OrgStatus, Organization};
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, StoreError, Tx};

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
    name_is_free(&tx, &org).await?;
    storage::organizations::insert(tx.conn(), &org).await?;
    let event = AuditEvent::new(actor, AuditAction::OrganizationCreated, target(org.id))
        .org(org.id)
        .details(json!({"slug": org.slug, "name": org.name}));
    state.commit_audited(tx, event).await?;
    Ok(org)
}

/// An organization cannot take another's display name, nor one that reads the same: the same
/// letters in another case, with other spacing or punctuation, or with look-alike characters
/// of another script (`Acme Corp`, `ACME  corp.`, `Аcme Corp` with a Cyrillic А). Partners see
/// each other by this name in invitations and grants.
async fn name_is_free(tx: &Tx, org: &Organization) -> Result<(), ServiceError> {
    let key = validate::display_name_key(&org.name);
    let taken = storage::organizations::list_all(tx.conn())
        .await?
        .into_iter()
        .find(|o| o.id != org.id && validate::display_name_key(&o.name) == key);
    match taken {
        Some(other) if other.name == org.name => Err(ServiceError::Conflict(format!(
            "an organization named {:?} already exists",
            org.name
        ))),
        Some(other) => Err(ServiceError::Conflict(format!(
            "the name {:?} reads like another organization's ({:?}); choose another",
            org.name, other.name
        ))),
        None => Ok(()),
    }
}

/// An organization by id or slug.
pub async fn resolve(
    c: &impl storage::Conn,
    name: &str,
) -> Result<Option<Organization>, StoreError> {
    Ok(match name.parse::<OrgId>() {
        Ok(id) => storage::organizations::get(c, id).await?,
        // Only a well-formed slug is worth a query (and a NUL byte never reaches PostgreSQL).
        Err(_) if validate::slug("org", name).is_ok() => {
            storage::organizations::find_by_slug(c, name).await?
        }
        Err(_) => None,
    })
}

/// The organizations the caller may see: all for the operator, its own for an org key.
pub async fn list(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<Organization>, ServiceError> {
    let c = state.store.conn();
    match principal.org_id() {
        None if principal.is_operator() => Ok(storage::organizations::list_all(c)
            .await?
            .into_iter()
            .filter(|o| principal.can_see(o.id))
            .collect()),
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
    if updated.name != current.name {
        name_is_free(&tx, &updated).await?;
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
    let people = match (current.status, updated.status) {
        (OrgStatus::Active, OrgStatus::Suspended) => {
            suspend_people(&tx, state, principal, &updated).await?
        }
        (OrgStatus::Suspended, OrgStatus::Active) => {
            restore_people(&tx, state, principal, &updated).await?
        }
        _ => 0,
    };
    if people > 0 {
        changes.insert("people".into(), json!(people));
    }
    let event = AuditEvent::new(
        &principal.actor(),
        AuditAction::OrganizationUpdated,
        target(org.id),
    )
    .org(org.id)
    .details(changes.into());
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok(updated)
}

/// Why a person is suspended with their organization (and restored with it).
pub const ORG_SUSPENDED: &str = "the organization is suspended";

/// An organization suspended: each of its active people is a leaver (every door closes) and
/// suspended with that reason, so reactivating the organization restores exactly them.
async fn suspend_people(
    tx: &crate::storage::Tx,
    state: &AppState,
    principal: &Principal,
    org: &Organization,
) -> Result<usize, ServiceError> {
    use crate::users::{UserStatus, lifecycle};
    let received_at = state.clock.now_ms();
    let mut n = 0;
    for mut u in storage::users::list(tx.conn(), org.id).await? {
        if u.status != UserStatus::Active {
            continue;
        }
        lifecycle::set_status(
            &mut u,
            UserStatus::Suspended,
            Some(ORG_SUSPENDED.into()),
            received_at,
        );
        storage::users::update_all(tx.conn(), &u).await?;
        let signal = crate::deprovision::Signal {
            source: crate::deprovision::LeaverSource::Organization,
            reason: ORG_SUSPENDED.into(),
            received_at,
        };
        let change =
            lifecycle::transition(tx, state, Some(UserStatus::Active), &u, &signal).await?;
        let event = AuditEvent::new(&principal.actor(), change.action, format!("user:{}", u.id))
            .org(org.id)
            .details(json!({"source": "organization", "reason": ORG_SUSPENDED,
                "access_ended": change.ended.as_ref().map(|e| e.details())}));
        crate::audit::append(tx, state.clock.as_ref(), event).await?;
        n += 1;
    }
    Ok(n)
}

/// An organization reactivated: the people its suspension suspended are active again.
async fn restore_people(
    tx: &crate::storage::Tx,
    state: &AppState,
    principal: &Principal,
    org: &Organization,
) -> Result<usize, ServiceError> {
    use crate::users::{UserStatus, lifecycle};
    let now = state.clock.now_ms();
    let mut n = 0;
    for mut u in storage::users::list(tx.conn(), org.id).await? {
        if u.status != UserStatus::Suspended || u.status_reason.as_deref() != Some(ORG_SUSPENDED) {
            continue;
        }
        lifecycle::set_status(&mut u, UserStatus::Active, None, now);
        storage::users::update_all(tx.conn(), &u).await?;
        let signal = crate::deprovision::Signal {
            source: crate::deprovision::LeaverSource::Organization,
            reason: "the organization is active again".into(),
            received_at: now,
        };
        let change =
            lifecycle::transition(tx, state, Some(UserStatus::Suspended), &u, &signal).await?;
        let event = AuditEvent::new(&principal.actor(), change.action, format!("user:{}", u.id))
            .org(org.id)
            .details(json!({"source": "organization", "deliveries_queued": change.returned}));
        crate::audit::append(tx, state.clock.as_ref(), event).await?;
        n += 1;
    }
    Ok(n)
}
