//! Roles from the directory: each organization maps its own directory groups (the `groups` of
//! its people, as its directory or IdP gives them) to the hub's roles. `org_admin` runs the
//! organization in the console; `compliance_officer` reads its provisioning state and audit
//! trail. The operator role is separate: it is never granted by a group.

use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, Conn, StoreError};
use crate::users::{User, UserStatus};

const MAX_GROUPS: usize = 50;

pub use crate::orgs::model::{HubRole, RoleGroups};

/// The roles `user` holds in their organization (none unless active).
pub async fn roles_of(c: &impl Conn, user: &User) -> Result<Vec<HubRole>, StoreError> {
    if user.status != UserStatus::Active {
        return Ok(Vec::new());
    }
    let groups = storage::roles::get(c, user.org_id).await?;
    let has = |names: &[String]| names.iter().any(|g| user.groups.contains(g));
    let mut out = Vec::new();
    if has(&groups.org_admin) {
        out.push(HubRole::OrgAdmin);
    }
    if has(&groups.compliance_officer) {
        out.push(HubRole::ComplianceOfficer);
    }
    Ok(out)
}

fn clean(field: &str, names: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if names.len() > MAX_GROUPS {
        errors.push(FieldError::new(
            field,
            format!("at most {MAX_GROUPS} groups"),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for n in names {
        match validate::name(field, n) {
            Ok(n) if !out.contains(&n) => out.push(n),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    out.sort();
    out
}

pub async fn get(state: &AppState, ctx: &OrgCtx) -> Result<RoleGroups, ServiceError> {
    Ok(storage::roles::get(state.store.conn(), ctx.org.id).await?)
}

/// Replaces the organization's mapping (audited with the old and new groups).
/// The operator's change waits for the organization's admin (see `orgs::operator`);
/// `approved` is the request that admin approved.
pub async fn set(
    state: &AppState,
    ctx: &OrgCtx,
    input: RoleGroups,
    approved: Option<crate::ids::RequestId>,
) -> Result<RoleGroups, ServiceError> {
    ctx.require_admin()?;
    let mut errors = Vec::new();
    let groups = RoleGroups {
        org_admin: clean("org_admin", &input.org_admin, &mut errors),
        compliance_officer: clean("compliance_officer", &input.compliance_officer, &mut errors),
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let gate = super::operator::gate_unless_approved(
        state,
        ctx,
        approved,
        crate::orgs::model::RequestKind::Roles,
        serde_json::to_value(&groups).unwrap_or_default(),
    )
    .await?;
    let tx = state.store.begin().await?;
    let before = storage::roles::get(tx.conn(), ctx.org.id).await?;
    storage::roles::set(tx.conn(), ctx.org.id, &groups).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::RolesUpdated,
        format!("organization:{}", ctx.org.id),
    )
    .org(ctx.org.id)
    .details(json!({"before": before, "after": groups, "how": gate.details()}));
    state.commit_audited(tx, event).await?;
    Ok(groups)
}
