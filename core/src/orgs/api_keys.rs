//! Admin API keys: operator keys (made on the command line) and per-organization keys (made
//! through the API). A key is `hub_<random>`; only its SHA-256 is stored.

use serde::Deserialize;
use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::clock::Clock;
use crate::error::ServiceError;
use crate::ids::{ApiKeyId, OrgId};
use crate::orgs::model::{ApiKey, NewOperatorKey, Role};
use crate::orgs::validate;
use crate::secrets::{hash_token, random_token};
use crate::state::AppState;
use crate::storage::{self, Store};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: String,
    /// `admin` (read and write) or `read` (read-only, e.g. for compliance tooling).
    pub role: Role,
}

fn target(id: ApiKeyId) -> String {
    format!("api_key:{id}")
}

fn new_secret() -> Result<(String, String), ServiceError> {
    let secret = format!("hub_{}", random_token()?);
    let prefix = secret.chars().take(10).collect();
    Ok((secret, prefix))
}

/// Creates an operator key (no organization). Called by `hub operator create-key`. `person`
/// (an email address) names who holds it: the audit log then says who acted, not only which
/// key; `expires_at` ends it by itself; `read_only` makes it a reader; `orgs` limits it to
/// those organizations (it sees no other, and cannot create organizations or read the whole
/// log).
pub async fn create_operator_key(
    store: &Store,
    clock: &dyn Clock,
    actor: &Actor,
    spec: &NewOperatorKey,
) -> Result<(ApiKey, String), ServiceError> {
    let mut name =
        validate::name("name", &spec.name).map_err(|e| ServiceError::Invalid(vec![e]))?;
    if let Some(p) = &spec.person {
        let email = connectors::email::Email::parse(p)
            .map_err(|e| ServiceError::invalid("person", format!("give an email address ({e})")))?;
        name = format!("{name} <{}>", email.to_string().to_ascii_lowercase());
    }
    let now = clock.now_ms();
    if spec.expires_at.is_some_and(|e| e <= now) {
        return Err(ServiceError::invalid(
            "expires",
            "give a time in the future",
        ));
    }
    let mut orgs = Vec::new();
    for o in &spec.orgs {
        let found = match o.parse::<OrgId>() {
            Ok(id) => storage::organizations::get(store.conn(), id).await?,
            Err(_) => storage::organizations::find_by_slug(store.conn(), o).await?,
        };
        let org = found.ok_or_else(|| {
            ServiceError::invalid("org", format!("no organization {o:?} on this hub"))
        })?;
        if !orgs.contains(&org.id) {
            orgs.push(org.id);
        }
    }
    let (secret, prefix) = new_secret()?;
    let key = ApiKey {
        id: ApiKeyId::new(),
        org_id: None,
        name,
        role: if spec.read_only {
            Role::Read
        } else {
            Role::Operator
        },
        prefix,
        created_at: now,
        revoked_at: None,
        expires_at: spec.expires_at,
        orgs: (!orgs.is_empty()).then_some(orgs),
    };
    let tx = store.begin().await?;
    storage::api_keys::insert(tx.conn(), &key, &hash_token(&secret)).await?;
    let event = AuditEvent::new(actor, AuditAction::ApiKeyCreated, target(key.id)).details(
        json!({"name": key.name, "role": key.role, "prefix": key.prefix,
            "expires_at": key.expires_at, "orgs": key.orgs}),
    );
    crate::audit::append(&tx, clock, event).await?;
    tx.commit().await?;
    Ok((key, secret))
}

/// Revokes an operator key (command line). Returns false if no active operator key has that id.
pub async fn revoke_operator_key(
    store: &Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<bool, ServiceError> {
    let tx = store.begin().await?;
    if storage::api_keys::revoke_operator(tx.conn(), id, clock.now_ms()).await? == 0 {
        return Ok(false);
    }
    let event = AuditEvent::new(actor, AuditAction::ApiKeyRevoked, target(id))
        .details(json!({"role": Role::Operator}));
    crate::audit::append(&tx, clock, event).await?;
    tx.commit().await?;
    Ok(true)
}

/// Makes an organization key. The operator's waits for the organization's admin (see
/// `orgs::operator`), who gets the secret when approving (`approved`); one made in a
/// break-glass window expires with it.
pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateKey,
    approved: Option<crate::ids::RequestId>,
) -> Result<(ApiKey, String), ServiceError> {
    ctx.require_admin()?;
    let name = validate::name("name", &input.name).map_err(|e| ServiceError::Invalid(vec![e]))?;
    if input.role == Role::Operator {
        return Err(ServiceError::invalid(
            "role",
            "organization keys are admin or read; operator keys are made with `hub operator create-key`",
        ));
    }
    let gate = super::operator::gate_unless_approved(
        state,
        ctx,
        approved,
        crate::orgs::model::RequestKind::ApiKey,
        json!({"name": name, "role": input.role}),
    )
    .await?;
    let (secret, prefix) = new_secret()?;
    let key = ApiKey {
        id: ApiKeyId::new(),
        org_id: Some(ctx.org.id),
        name,
        role: input.role,
        prefix,
        created_at: state.clock.now_ms(),
        revoked_at: None,
        expires_at: gate.expires_at(),
        orgs: None,
    };
    let tx = state.store.begin().await?;
    if storage::api_keys::find_active_by_name(tx.conn(), ctx.org.id, &key.name)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "an active key named {:?} already exists in this organization",
            key.name
        )));
    }
    storage::api_keys::insert(tx.conn(), &key, &hash_token(&secret)).await?;
    let event = AuditEvent::new(&ctx.actor(), AuditAction::ApiKeyCreated, target(key.id))
        .org(ctx.org.id)
        .details(
            json!({"name": key.name, "role": key.role, "prefix": key.prefix,
            "expires_at": key.expires_at, "how": gate.details()}),
        );
    state.commit_audited(tx, event).await?;
    Ok((key, secret))
}

pub async fn get(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<ApiKey, ServiceError> {
    let id: ApiKeyId = id.parse().map_err(|_| ServiceError::NotFound("API key"))?;
    storage::api_keys::get(state.store.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("API key"))
}

pub async fn revoke(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<ApiKey, ServiceError> {
    ctx.require_admin()?;
    let mut key = get(state, ctx, id).await?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    // Already revoked (perhaps concurrently): nothing changes, nothing to audit.
    if !storage::api_keys::revoke(tx.conn(), ctx.org.id, key.id, now).await? {
        return get(state, ctx, id).await;
    }
    let event = AuditEvent::new(&ctx.actor(), AuditAction::ApiKeyRevoked, target(key.id))
        .org(ctx.org.id)
        .details(json!({"name": key.name, "prefix": key.prefix}));
    state.commit_audited(tx, event).await?;
    key.revoked_at = Some(now);
    Ok(key)
}
