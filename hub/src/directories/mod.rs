//! Directories: each organization's source of truth for who belongs. A `scim` directory is
//! pushed to by the organization's Okta or Entra ID through the hub's SCIM 2.0 service
//! (`crate::scim`), authenticated by bearer tokens the admin API issues (shown once, stored as
//! hashes, revocable).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::http::extract::OrgCtx;
use crate::ids::{DirectoryId, OrgId, ScimTokenId};
use crate::orgs::model::string_enum;
use crate::orgs::validate;
use crate::secrets::{hash_token, random_token};
use crate::state::AppState;
use crate::storage;

string_enum!(
    /// How the directory reaches the hub.
    DirectoryKind { Scim => "scim" }
);
string_enum!(
    /// Only an active directory's tokens are accepted.
    DirectoryStatus { Active => "active", Disabled => "disabled" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub id: DirectoryId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: DirectoryKind,
    pub status: DirectoryStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A group as the directory pushes it; its members are users of the same organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: crate::ids::GroupId,
    pub org_id: OrgId,
    pub directory_id: Option<DirectoryId>,
    pub display_name: String,
    pub external_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A SCIM bearer token (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub org_id: OrgId,
    pub directory_id: DirectoryId,
    pub name: String,
    pub token_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDirectory {
    pub name: String,
    pub kind: DirectoryKind,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateDirectory,
) -> Result<Directory, ServiceError> {
    ctx.require_admin()?;
    let name = validate::name("name", &input.name).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let now = state.clock.now_ms();
    let dir = Directory {
        id: DirectoryId::new(),
        org_id: ctx.org.id,
        name,
        kind: input.kind,
        status: DirectoryStatus::Active,
        created_at: now,
        updated_at: now,
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
        .details(json!({"name": dir.name, "kind": dir.kind}));
    state.commit_audited(tx, event).await?;
    Ok(dir)
}

/// Issues a SCIM bearer token for the directory; returns it once, with its record.
pub async fn create_token(
    state: &AppState,
    ctx: &OrgCtx,
    directory: &str,
    input: CreateScimToken,
) -> Result<(ScimToken, String), ServiceError> {
    ctx.require_admin()?;
    let name = validate::name("name", &input.name).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let dir = get(state, ctx, directory).await?;
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
    .details(json!({"name": token.name, "directory": dir.name}));
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

/// Checks a name for a directory-supplied field; used by SCIM too.
pub fn field_error(field: &str, message: &str) -> FieldError {
    FieldError::new(field, message)
}

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
