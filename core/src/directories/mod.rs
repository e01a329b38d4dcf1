//! Directories: each organization's source of truth for who belongs. A `scim` directory is
//! pushed to by the organization's Okta or Entra ID through the hub's SCIM 2.0 service
//! (`crate::scim`), authenticated by bearer tokens the admin API issues (shown once, stored as
//! hashes, revocable).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::ids::{DirectoryId, RequestId, ScimTokenId};
use crate::orgs::model::RequestKind;
use crate::orgs::{operator, validate};
use crate::secrets::{hash_token, random_token};
use crate::state::AppState;
use crate::storage;

pub mod model;

pub use model::{
    Directory, DirectoryKind, DirectoryStatus, Group, LdapAttributeNames, LdapSettings, Schedule,
    ScimToken, SyncMode,
};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDirectory {
    pub name: String,
    pub kind: DirectoryKind,
    /// Required for `ldap` directories.
    pub ldap: Option<LdapSettings>,
    /// The LDAP bind password; stored sealed and never shown again.
    pub bind_password: Option<String>,
}

const SECRET_BY_OWN_ADMIN: &str = "a bind password is a secret the operator's requests never \
     keep: the organization's own admin sets it (or the operator, in a break-glass window)";

/// The sealing context of LDAP bind passwords (`:{directory id}` appended).
pub const PASSWORD_CONTEXT: &str = "directory.bind_password";

fn check_ldap(
    s: &LdapSettings,
    policy: &crate::outbound::AddressPolicy,
    errors: &mut Vec<FieldError>,
) {
    let shape = "must be ldap://host[:port] or ldaps://host[:port], without a path, query or \
                 credentials";
    match url::Url::parse(&s.url) {
        Ok(u)
            if matches!(u.scheme(), "ldap" | "ldaps")
                && u.username().is_empty()
                && u.password().is_none()
                && matches!(u.path(), "" | "/")
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            match policy.check_url(&u) {
                Ok(()) => {}
                Err(crate::outbound::NetError::Refused(_)) => errors.push(FieldError::new(
                    "ldap.url",
                    "must not point at loopback, private, link-local or other internal \
                     addresses (the operator can allow some in outbound.allow)",
                )),
                Err(_) => errors.push(FieldError::new("ldap.url", shape)),
            }
        }
        _ => errors.push(FieldError::new("ldap.url", shape)),
    }
    for (field, v) in [("ldap.bind_dn", &s.bind_dn), ("ldap.base_dn", &s.base_dn)] {
        if v.trim().is_empty() || v.len() > 1000 || v.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                "must be a DN of 1 to 1000 characters",
            ));
        }
    }
    if let Some(f) = &s.user_filter
        && (!f.starts_with('(') || !f.ends_with(')') || f.len() > 2000)
    {
        errors.push(FieldError::new(
            "ldap.user_filter",
            "must be an LDAP filter in parentheses, at most 2000 characters",
        ));
    }
    if let Some(f) = &s.group_filter
        && !f.is_empty()
        && (!f.starts_with('(') || !f.ends_with(')') || f.len() > 2000)
    {
        errors.push(FieldError::new(
            "ldap.group_filter",
            "must be an LDAP filter in parentheses (or empty), at most 2000 characters",
        ));
    }
    if s.deprovision_threshold_percent > 100 {
        errors.push(FieldError::new(
            "ldap.deprovision_threshold_percent",
            "must be 0 to 100",
        ));
    }
    if s.mode == SyncMode::Syncrepl
        && (s.active_directory || !matches!(s.attributes.id.as_str(), "" | "entryUUID"))
    {
        errors.push(FieldError::new(
            "ldap.mode",
            "syncrepl needs an OpenLDAP or 389-ds directory with entryUUID ids; Active Directory uses incremental (uSNChanged)",
        ));
    }
    if s.schedule.full_interval_secs < 5 || s.schedule.full_interval_secs > 30 * 86_400 {
        errors.push(FieldError::new(
            "ldap.schedule.full_interval_secs",
            "must be 5 seconds to 30 days",
        ));
    }
    if s.schedule.incremental_interval_secs < 1 || s.schedule.incremental_interval_secs > 86_400 {
        errors.push(FieldError::new(
            "ldap.schedule.incremental_interval_secs",
            "must be 1 second to 1 day",
        ));
    }
    for (field, v) in [
        ("ldap.disabled_attribute", s.disabled_attribute.as_deref()),
        ("ldap.attributes.id", Some(s.attributes.id.as_str())),
        (
            "ldap.attributes.username",
            Some(s.attributes.username.as_str()),
        ),
        ("ldap.attributes.email", Some(s.attributes.email.as_str())),
        ("ldap.attributes.name", Some(s.attributes.name.as_str())),
        (
            "ldap.attributes.given_name",
            Some(s.attributes.given_name.as_str()),
        ),
        (
            "ldap.attributes.family_name",
            Some(s.attributes.family_name.as_str()),
        ),
    ] {
        if let Some(v) = v
            && (v.len() > 100
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ';'))
        {
            errors.push(FieldError::new(field, "must be an LDAP attribute name"));
        }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDirectory {
    pub name: Option<String>,
    /// `disabled` stops syncs and refuses the directory's SCIM tokens.
    pub status: Option<DirectoryStatus>,
    /// The whole LDAP settings (an ldap directory only).
    pub ldap: Option<LdapSettings>,
    /// A new bind password (stored sealed, never shown).
    pub bind_password: Option<String>,
}

/// The settings that decide what a read returns: a change makes the cursor meaningless.
fn read_spec(s: &LdapSettings) -> LdapSettings {
    LdapSettings {
        schedule: Schedule::default(),
        deprovision_threshold_percent: 0,
        ..s.clone()
    }
}

/// Changes a directory. The operator's change, in an organization with an admin of its own,
/// waits for that admin's approval (`approved` when applying it); one that carries a bind
/// password needs that admin, or a break-glass window (a request never keeps a secret).
pub async fn update(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    input: UpdateDirectory,
    approved: Option<RequestId>,
) -> Result<Directory, ServiceError> {
    ctx.require_admin()?;
    let gate = if input.bind_password.is_some() {
        operator::gate_direct(state, ctx, SECRET_BY_OWN_ADMIN).await?
    } else {
        let current = get(state, ctx, id).await?;
        // Checked before a request is recorded: approved, it could never be made.
        if let (Some(new), Some(old)) = (&input.ldap, &current.ldap)
            && password_exposure_changed(old, new)
        {
            return Err(ServiceError::invalid(
                "bind_password",
                "the server, or how the password is protected on the way, changed: give the \
                 bind password again (the stored one is never sent to a new destination)",
            ));
        }
        operator::gate_unless_approved(
            state,
            ctx,
            approved,
            RequestKind::DirectoryUpdate,
            json!({"directory": id, "change": input}),
        )
        .await?
    };
    let tx = state.store.begin().await?;
    let current = storage::directories::get(tx.conn(), ctx.org.id, parse_id(id)?)
        .await?
        .ok_or(ServiceError::NotFound("directory"))?;
    let mut d = current.clone();
    let mut errors = Vec::new();
    if let Some(n) = &input.name {
        match validate::name("name", n) {
            Ok(n) => d.name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(s) = input.status {
        d.status = s;
    }
    match (&input.ldap, d.kind) {
        (Some(s), DirectoryKind::Ldap) => {
            check_ldap(s, &state.net, &mut errors);
            d.ldap = Some(s.clone());
        }
        (Some(_), DirectoryKind::Scim) => errors.push(FieldError::new(
            "ldap",
            "ldap settings are only for an ldap directory",
        )),
        (None, _) => {}
    }
    match (&input.bind_password, d.kind) {
        (Some(p), DirectoryKind::Ldap) if !p.is_empty() && p.len() <= 1000 => {
            d.secret_sealed = Some(
                state
                    .secrets
                    .seal(&format!("{PASSWORD_CONTEXT}:{}", d.id), p.as_bytes())?,
            );
        }
        (Some(_), DirectoryKind::Ldap) => errors.push(FieldError::new(
            "bind_password",
            "must be 1 to 1000 characters",
        )),
        (Some(_), DirectoryKind::Scim) => errors.push(FieldError::new(
            "bind_password",
            "a bind password is only for an ldap directory",
        )),
        (None, _) => {}
    }
    if input.bind_password.is_none()
        && let (Some(new), Some(old)) = (&d.ldap, &current.ldap)
        && password_exposure_changed(old, new)
    {
        errors.push(FieldError::new(
            "bind_password",
            "the server, or how the password is protected on the way (StartTLS, certificate \
             checks), changed: give the bind password again (the stored one is never sent to a \
             new destination)",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    if d == current {
        return Ok(d);
    }
    if d.name != current.name
        && storage::directories::list(tx.conn(), ctx.org.id)
            .await?
            .iter()
            .any(|x| x.name == d.name && x.id != d.id)
    {
        return Err(ServiceError::Conflict(format!(
            "a directory named {:?} already exists in this organization",
            d.name
        )));
    }
    if d.ldap.as_ref().map(read_spec) != current.ldap.as_ref().map(read_spec) {
        d.cursor = None;
    }
    d.updated_at = state.clock.now_ms();
    storage::directories::update_settings(tx.conn(), &d).await?;
    let event = AuditEvent::new(&ctx.actor(), AuditAction::DirectoryUpdated, target(d.id))
        .org(ctx.org.id)
        .details(json!({"name": d.name, "status": d.status, "ldap": d.ldap,
            "bind_password_changed": input.bind_password.is_some(), "how": gate.details(),
            "cursor_reset": d.cursor.is_none() && current.cursor.is_some()}));
    state.commit_audited(tx, event).await?;
    Ok(d)
}

/// Whether the stored bind password would go somewhere new, or less protected: another URL,
/// StartTLS switched off, or certificate checks switched off.
fn password_exposure_changed(old: &LdapSettings, new: &LdapSettings) -> bool {
    new.url != old.url
        || (old.start_tls && !new.start_tls)
        || (!old.tls_insecure && new.tls_insecure)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for, e.g. "Entra ID provisioning".
    pub name: String,
}

/// The prefix of SCIM tokens, so leaked ones are recognizable (secret scanning).
pub const TOKEN_PREFIX: &str = "hubscim_";

fn target(id: DirectoryId) -> String {
    format!("directory:{id}")
}

fn parse_id(id: &str) -> Result<DirectoryId, ServiceError> {
    id.parse().map_err(|_| ServiceError::NotFound("directory"))
}

pub async fn get(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<Directory, ServiceError> {
    storage::directories::get(state.store.conn(), ctx.org.id, parse_id(id)?)
        .await?
        .ok_or(ServiceError::NotFound("directory"))
}

/// Creates a directory. The operator's, in an organization with an admin of its own, waits for
/// that admin's approval (`approved` when applying it); an LDAP one, which carries a bind
/// password, needs that admin or a break-glass window.
pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateDirectory,
    approved: Option<RequestId>,
) -> Result<Directory, ServiceError> {
    ctx.require_admin()?;
    let mut errors = Vec::new();
    let name = validate::name("name", &input.name)
        .map_err(|e| errors.push(e))
        .ok();
    match (input.kind, &input.ldap, &input.bind_password) {
        (DirectoryKind::Ldap, Some(s), Some(p)) => {
            check_ldap(s, &state.net, &mut errors);
            if p.is_empty() || p.len() > 1000 {
                errors.push(FieldError::new(
                    "bind_password",
                    "must be 1 to 1000 characters",
                ));
            }
        }
        (DirectoryKind::Ldap, _, _) => errors.push(FieldError::new(
            "ldap",
            "an ldap directory needs ldap settings and a bind_password",
        )),
        (DirectoryKind::Scim, None, None) => {}
        (DirectoryKind::Scim, _, _) => errors.push(FieldError::new(
            "ldap",
            "ldap settings and bind_password are only for an ldap directory",
        )),
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let gate = if input.bind_password.is_some() {
        operator::gate_direct(state, ctx, SECRET_BY_OWN_ADMIN).await?
    } else {
        operator::gate_unless_approved(
            state,
            ctx,
            approved,
            RequestKind::DirectoryCreate,
            json!({"name": name, "kind": input.kind}),
        )
        .await?
    };
    let now = state.clock.now_ms();
    let id = DirectoryId::new();
    let secret_sealed = input
        .bind_password
        .as_deref()
        .map(|p| {
            state
                .secrets
                .seal(&format!("{PASSWORD_CONTEXT}:{id}"), p.as_bytes())
        })
        .transpose()?;
    let dir = Directory {
        id,
        org_id: ctx.org.id,
        name,
        kind: input.kind,
        status: DirectoryStatus::Active,
        ldap: input.ldap,
        secret_sealed,
        created_at: now,
        updated_at: now,
        cursor: None,
        last_full_at: None,
        last_incremental_at: None,
    };
    let tx = state.store.begin().await?;
    if storage::directories::list(tx.conn(), ctx.org.id)
        .await?
        .iter()
        .any(|d| d.name == dir.name)
    {
        return Err(ServiceError::Conflict(format!(
            "a directory named {:?} already exists in this organization",
            dir.name
        )));
    }
    storage::directories::insert(tx.conn(), &dir).await?;
    let event = AuditEvent::new(&ctx.actor(), AuditAction::DirectoryCreated, target(dir.id))
        .org(ctx.org.id)
        .details(json!({"name": dir.name, "kind": dir.kind, "ldap": dir.ldap,
            "how": gate.details()}));
    state.commit_audited(tx, event).await?;
    Ok(dir)
}

/// Issues a SCIM bearer token for the directory; returns it once, with its record.
pub async fn create_token(
    state: &AppState,
    ctx: &OrgCtx,
    directory: &str,
    input: CreateScimToken,
    approved: Option<RequestId>,
) -> Result<(ScimToken, String), ServiceError> {
    ctx.require_admin()?;
    let name = validate::name("name", &input.name).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let dir = get(state, ctx, directory).await?;
    let gate = operator::gate_unless_approved(
        state,
        ctx,
        approved,
        RequestKind::ScimToken,
        json!({"directory": dir.id, "change": {"name": name}}),
    )
    .await?;
    let secret = format!("{TOKEN_PREFIX}{}", random_token()?);
    let token = ScimToken {
        id: ScimTokenId::new(),
        org_id: ctx.org.id,
        directory_id: dir.id,
        name,
        token_hash: hash_token(&secret),
        created_at: state.clock.now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    let tx = state.store.begin().await?;
    storage::directories::insert_token(tx.conn(), &token).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ScimTokenCreated,
        format!("scim_token:{}", token.id),
    )
    .org(ctx.org.id)
    .details(json!({"name": token.name, "directory": dir.name, "how": gate.details()}));
    state.commit_audited(tx, event).await?;
    Ok((token, secret))
}

pub async fn revoke_token(
    state: &AppState,
    ctx: &OrgCtx,
    directory: &str,
    token: &str,
) -> Result<(), ServiceError> {
    ctx.require_admin()?;
    let dir = get(state, ctx, directory).await?;
    let id: ScimTokenId = token.parse().map_err(|_| ServiceError::NotFound("token"))?;
    let tx = state.store.begin().await?;
    let now = state.clock.now_ms();
    if !storage::directories::revoke_token(tx.conn(), ctx.org.id, dir.id, id, now).await? {
        return Err(ServiceError::NotFound("token"));
    }
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ScimTokenRevoked,
        format!("scim_token:{id}"),
    )
    .org(ctx.org.id)
    .details(json!({"directory": dir.name}));
    state.commit_audited(tx, event).await?;
    Ok(())
}

pub mod sync;

/// What the admin API shows of a token: never the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&ScimToken> for TokenView {
    fn from(t: &ScimToken) -> Self {
        use crate::clock::ms_to_rfc3339;
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            created_at: ms_to_rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(ms_to_rfc3339),
            revoked_at: t.revoked_at.map(ms_to_rfc3339),
        }
    }
}
