//! People of an organization. The directory (SCIM push, LDAP pull) will be their source of
//! truth; until an organization wires one, its admins manage users through the admin API. An
//! organization can only hold users whose email is in a domain it has verified.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::deprovision::{LeaverSource, Signal};
use crate::error::{FieldError, ServiceError};
use crate::ids::{OrgId, RequestId, UserId};
use crate::orgs::model::RequestKind;
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage;

pub mod lifecycle;
pub mod model;
pub mod names;

pub use model::{Email, User, UserStatus};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Must be in one of the organization's verified domains.
    pub email: String,
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Defaults to the email address.
    pub username: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub groups: Option<Vec<String>>,
    /// `active` or `suspended` (deprovisioning is the directory's and the engine's job).
    pub status: Option<UserStatus>,
    /// Why the status changes; recorded with it.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub groups: Vec<String>,
    pub status: UserStatus,
    pub status_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            name: u.name,
            given_name: u.given_name,
            family_name: u.family_name,
            groups: u.groups,
            status: u.status,
            status_reason: u.status_reason,
            created_at: crate::clock::ms_to_rfc3339(u.created_at),
            updated_at: crate::clock::ms_to_rfc3339(u.updated_at),
        }
    }
}

fn target(id: UserId) -> String {
    format!("user:{id}")
}

fn groups(values: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if values.len() > 200 {
        errors.push(FieldError::new("groups", "at most 200 groups"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for g in values {
        match validate::name("groups", g) {
            Ok(g) if !out.contains(&g) => out.push(g),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    out
}

fn optional_name(field: &str, v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    v.and_then(|v| validate::name(field, v).map_err(|e| errors.push(e)).ok())
}

/// `local@domain`, lower-cased domain; the domain must be verified by `org`.
async fn org_email(state: &AppState, org: OrgId, email: &str) -> Result<String, ServiceError> {
    let bad = |m: &str| ServiceError::invalid("email", m);
    let email = connectors::email::Email::parse(email.trim_matches(' '))
        .map_err(|e| bad(&e.to_string()))?;
    if !storage::domains::is_verified(state.store.conn(), org, email.domain()).await? {
        return Err(bad(
            "the domain is not verified by this organization; verify it first",
        ));
    }
    Ok(email.to_string())
}

pub async fn get(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<User, ServiceError> {
    let id: UserId = id.parse().map_err(|_| ServiceError::NotFound("user"))?;
    storage::users::get(state.store.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))
}

/// Creates a person by hand. The operator's, in an organization with an admin of its own,
/// waits for that admin's approval (`orgs::operator`; `approved` when applying it).
pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateUser,
    approved: Option<RequestId>,
) -> Result<User, ServiceError> {
    ctx.require_admin()?;
    let email = org_email(state, ctx.org.id, &input.email).await?;
    let mut errors = Vec::new();
    let name = validate::name("name", &input.name)
        .map_err(|e| errors.push(e))
        .ok();
    let given_name = optional_name("given_name", input.given_name.as_deref(), &mut errors);
    let family_name = optional_name("family_name", input.family_name.as_deref(), &mut errors);
    let username = match input.username.as_deref() {
        Some(u) => validate::name("username", u)
            .map_err(|e| errors.push(e))
            .ok(),
        None => Some(email.clone()),
    };
    let groups = groups(&input.groups, &mut errors);
    let (Some(name), Some(username), true) = (name, username, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    // A username that is an email address names someone at that domain: it must be one of
    // the organization's verified domains, as the email's must (the same rule SCIM applies).
    if username.contains('@') && username != email {
        let bad = |m: String| ServiceError::invalid("username", m);
        let address = connectors::email::Email::parse(&username)
            .map_err(|e| bad(format!("{username:?} is not an email address: {e}")))?;
        let domain = address.domain();
        if !storage::domains::is_verified(state.store.conn(), ctx.org.id, domain).await? {
            return Err(bad(format!(
                "{domain} is not a verified domain of this organization"
            )));
        }
    }
    let gate = crate::orgs::operator::gate_unless_approved(
        state,
        ctx,
        approved,
        RequestKind::UserCreate,
        json!({"email": email, "name": name, "given_name": given_name,
            "family_name": family_name, "username": username, "groups": groups}),
    )
    .await?;
    let now = state.clock.now_ms();
    let user = User {
        id: UserId::new(),
        org_id: ctx.org.id,
        external_id: None,
        username,
        email,
        email_verified: true,
        name,
        given_name,
        family_name,
        name_formatted: None,
        emails: Vec::new(),
        groups,
        status: UserStatus::Active,
        status_reason: None,
        created_at: now,
        updated_at: now,
        directory_id: None,
        version: 1,
        attributes: Default::default(),
    };
    let tx = state.store.begin().await?;
    if storage::users::find_by_email(tx.conn(), ctx.org.id, &user.email)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "a user with email {} already exists",
            user.email
        )));
    }
    storage::users::insert(tx.conn(), &user).await?;
    let event = AuditEvent::new(&ctx.actor(), AuditAction::UserCreated, target(user.id))
        .org(ctx.org.id)
        .details(
            json!({"email": user.email, "username": user.username, "source": "admin_api",
            "how": gate.details()}),
        );
    state.commit_audited(tx, event).await?;
    Ok(user)
}

/// Changes a person by hand. The operator's change (all but a suspension, which only closes
/// doors), in an organization with an admin of its own, waits for that admin's approval.
pub async fn update(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    input: UpdateUser,
    approved: Option<RequestId>,
) -> Result<User, ServiceError> {
    ctx.require_admin()?;
    let received_at = state.clock.now_ms();
    let id: UserId = id.parse().map_err(|_| ServiceError::NotFound("user"))?;
    let mut errors = Vec::new();
    let name = input
        .name
        .as_deref()
        .and_then(|n| validate::name("name", n).map_err(|e| errors.push(e)).ok());
    let new_groups = input.groups.as_deref().map(|g| groups(g, &mut errors));
    let reason = optional_name("reason", input.reason.as_deref(), &mut errors);
    if input.status == Some(UserStatus::Deprovisioned) {
        errors.push(FieldError::new(
            "status",
            "use active or suspended; leavers are deprovisioned by the directory",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let suspension_only = input.name.is_none()
        && input.groups.is_none()
        && input.status == Some(UserStatus::Suspended);
    let gate = if suspension_only {
        crate::orgs::operator::Gate::Own
    } else {
        if storage::users::get(state.store.conn(), ctx.org.id, id)
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound("user"));
        }
        crate::orgs::operator::gate_unless_approved(
            state,
            ctx,
            approved,
            RequestKind::UserUpdate,
            json!({"user": id, "change": input}),
        )
        .await?
    };
    let tx = state.store.begin().await?;
    let current = storage::users::get_for_update(tx.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut user = current.clone();
    if let Some(n) = name {
        user.name = n;
    }
    if let Some(g) = new_groups {
        user.groups = g;
    }
    let now = state.clock.now_ms();
    if let Some(s) = input.status {
        lifecycle::set_status(&mut user, s, reason, now);
    }
    if user == current {
        return Ok(user);
    }
    user.updated_at = now;
    user.version = current.version + 1;
    storage::users::update_profile(tx.conn(), &user).await?;
    // A suspended user is a leaver: every door closes with the suspension.
    let signal = Signal {
        source: LeaverSource::Admin,
        reason: user
            .status_reason
            .clone()
            .unwrap_or_else(|| "suspended by an admin".into()),
        received_at,
    };
    let change = lifecycle::transition(&tx, state, Some(current.status), &user, &signal).await?;
    let mut details = json!({"name": user.name, "groups": user.groups, "status": user.status,
        "reason": user.status_reason, "how": gate.details()});
    merge(&mut details, change.details());
    let event = AuditEvent::new(&ctx.actor(), change.action, target(user.id))
        .org(ctx.org.id)
        .details(details);
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok(user)
}

/// An admin deprovisions a user (offboarding by hand): every door closes at once. A directory
/// that still lists the person active brings them back at its next sync: it is the source of
/// truth, so remove or disable them there too.
pub async fn deprovision_by_admin(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    input: DeprovisionUser,
) -> Result<(User, crate::deprovision::Ended), ServiceError> {
    ctx.require_admin()?;
    let received_at = state.clock.now_ms();
    let id: UserId = id.parse().map_err(|_| ServiceError::NotFound("user"))?;
    let reason =
        validate::name("reason", &input.reason).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let tx = state.store.begin().await?;
    let mut user = storage::users::get_for_update(tx.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    if user.status == UserStatus::Deprovisioned {
        return Err(ServiceError::Conflict(
            "the user is already deprovisioned".into(),
        ));
    }
    let signal = Signal {
        source: LeaverSource::Admin,
        reason: reason.clone(),
        received_at,
    };
    let ended = deprovision(&tx, state, &mut user, &signal)
        .await?
        .unwrap_or_default();
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::UserDeprovisioned,
        target(user.id),
    )
    .org(ctx.org.id)
    .details(json!({"source": "admin", "reason": reason,
            "directory": user.directory_id, "access_ended": ended.details()}));
    state.commit_audited(tx, event).await?;
    crate::deprovision::wake(state);
    Ok((user, ended))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprovisionUser {
    /// Why, in plain words (kept in the audit log and the leaver record).
    pub reason: String,
}

/// Deprovisions `user` inside `tx`: the status and its reason, a new version; if they were
/// active, the engine ends every door (a suspended user's access ended with the suspension).
pub async fn deprovision(
    tx: &crate::storage::Tx,
    state: &AppState,
    user: &mut User,
    signal: &Signal,
) -> Result<Option<crate::deprovision::Ended>, crate::storage::StoreError> {
    let was = user.status;
    let now = state.clock.now_ms();
    lifecycle::set_status(
        user,
        UserStatus::Deprovisioned,
        Some(signal.reason.clone()),
        now,
    );
    storage::users::update_all(tx.conn(), user).await?;
    Ok(lifecycle::transition(tx, state, Some(was), user, signal)
        .await?
        .ended)
}

/// Adds `more`'s fields to the JSON object `into`.
fn merge(into: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), more) {
        a.extend(b);
    }
}
