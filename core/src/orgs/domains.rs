//! Domains an organization claims. A domain is verified by a DNS TXT record holding the
//! challenge, or by the operator's attestation; only one organization can hold it verified.
//! Later, an organization's IdP may vouch only for emails in its verified domains.

use serde::Deserialize;
use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::DomainId;
use crate::orgs::model::{DomainStatus, OrgDomain, VerificationMethod};
use crate::orgs::validate;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::storage::{self, Tx};

/// The DNS name that must carry the TXT record, and the value prefix.
pub const CHALLENGE_LABEL: &str = "_hub-challenge";
pub const CHALLENGE_PREFIX: &str = "hub-domain-verification=";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomain {
    pub domain: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestDomain {
    /// Why the operator vouches for the domain (contract, ticket...). Recorded in the audit log.
    pub reason: String,
}

pub fn record_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

pub fn record_value(d: &OrgDomain) -> String {
    format!("{CHALLENGE_PREFIX}{}", d.challenge)
}

fn target(d: &OrgDomain) -> String {
    format!("domain:{}", d.domain)
}

/// Finds a domain of the context's organization by its (normalized) name.
pub async fn get(state: &AppState, ctx: &OrgCtx, name: &str) -> Result<OrgDomain, ServiceError> {
    let name = validate::domain("domain", name).map_err(|_| ServiceError::NotFound("domain"))?;
    storage::domains::get(state.store.conn(), ctx.org.id, &name)
        .await?
        .ok_or(ServiceError::NotFound("domain"))
}

/// The claim as it is now, locked for the rest of `tx`.
async fn lock(tx: &Tx, ctx: &OrgCtx, name: &str) -> Result<OrgDomain, ServiceError> {
    let name = validate::domain("domain", name).map_err(|_| ServiceError::NotFound("domain"))?;
    storage::domains::get_for_update(tx.conn(), ctx.org.id, &name)
        .await?
        .ok_or(ServiceError::NotFound("domain"))
}

pub async fn add(
    state: &AppState,
    ctx: &OrgCtx,
    input: AddDomain,
) -> Result<OrgDomain, ServiceError> {
    ctx.require_admin()?;
    let domain =
        validate::domain("domain", &input.domain).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let d = OrgDomain {
        id: DomainId::new(),
        org_id: ctx.org.id,
        domain,
        status: DomainStatus::Pending,
        method: None,
        challenge: random_token()?,
        verified_at: None,
        created_at: state.clock.now_ms(),
    };
    let tx = state.store.begin().await?;
    if storage::domains::get(tx.conn(), ctx.org.id, &d.domain)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "{} is already claimed by this organization",
            d.domain
        )));
    }
    storage::domains::insert(tx.conn(), ctx.org.id, &d).await?;
    let event = AuditEvent::new(&ctx.actor(), AuditAction::DomainAdded, target(&d))
        .org(ctx.org.id)
        .details(json!({"domain": d.domain}));
    state.commit_audited(tx, event).await?;
    Ok(d)
}

/// Checks the TXT record and marks the domain verified if it holds the challenge.
pub async fn verify_dns(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
) -> Result<OrgDomain, ServiceError> {
    ctx.require_admin()?;
    let d = get(state, ctx, name).await?;
    if d.status == DomainStatus::Verified {
        return Ok(d);
    }
    let record = record_name(&d.domain);
    let expected = record_value(&d);
    let found = state.dns.txt(&record).await?;
    if !found.iter().any(|v| v.trim() == expected) {
        return Err(ServiceError::Unprocessable(format!(
            "no TXT record at {record} holds {expected:?} yet ({} TXT value(s) found); \
             publish it and retry (DNS changes can take a while to propagate)",
            found.len()
        )));
    }
    mark_verified(
        state,
        ctx,
        d,
        VerificationMethod::Dns,
        json!({"record": record}),
    )
    .await
}

/// The operator vouches for the domain without DNS proof (recorded with the reason): at once
/// while the organization has no admin of its own or in a break-glass window, else once the
/// organization's admin approves (`approved` is that request).
pub async fn attest(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
    input: AttestDomain,
    approved: Option<crate::ids::RequestId>,
) -> Result<OrgDomain, ServiceError> {
    if approved.is_none() {
        ctx.principal.require_operator()?;
    }
    let reason =
        validate::name("reason", &input.reason).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let d = get(state, ctx, name).await?;
    if d.status == DomainStatus::Verified {
        return Ok(d);
    }
    let gate = super::operator::gate_unless_approved(
        state,
        ctx,
        approved,
        crate::orgs::model::RequestKind::DomainAttest,
        json!({"domain": d.domain, "reason": reason}),
    )
    .await?;
    mark_verified(
        state,
        ctx,
        d,
        VerificationMethod::Attestation,
        json!({"reason": reason, "how": gate.details()}),
    )
    .await
}

async fn mark_verified(
    state: &AppState,
    ctx: &OrgCtx,
    checked: OrgDomain,
    method: VerificationMethod,
    details: serde_json::Value,
) -> Result<OrgDomain, ServiceError> {
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let mut d = lock(&tx, ctx, &checked.domain).await?;
    if d.status == DomainStatus::Verified {
        return Ok(d);
    }
    if d.challenge != checked.challenge {
        return Err(ServiceError::Conflict(
            "the claim changed while it was being checked; verify again".into(),
        ));
    }
    ensure_unowned(&tx, &d).await?;
    storage::domains::mark_verified(tx.conn(), ctx.org.id, d.id, method, now).await?;
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("domain".into(), json!(d.domain));
        map.insert("method".into(), json!(method));
    }
    let event = AuditEvent::new(&ctx.actor(), AuditAction::DomainVerified, target(&d))
        .org(ctx.org.id)
        .details(details);
    state.commit_audited(tx, event).await?;
    d.status = DomainStatus::Verified;
    d.method = Some(method);
    d.verified_at = Some(now);
    Ok(d)
}

async fn ensure_unowned(tx: &Tx, d: &OrgDomain) -> Result<(), ServiceError> {
    match storage::domains::verified_owner(tx.conn(), &d.domain).await? {
        Some(owner) if owner != d.org_id => Err(ServiceError::Conflict(format!(
            "{} is verified by another organization; ask the hub operator if this is wrong",
            d.domain
        ))),
        _ => Ok(()),
    }
}

/// Removes a domain claim; the operator's removal of a verified domain (which would let it be
/// verified elsewhere) waits for the organization's approval like any operator change.
pub async fn remove(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
    approved: Option<crate::ids::RequestId>,
) -> Result<(), ServiceError> {
    ctx.require_admin()?;
    let current = get(state, ctx, name).await?;
    let gate = if approved.is_some() || current.status == DomainStatus::Verified {
        super::operator::gate_unless_approved(
            state,
            ctx,
            approved,
            crate::orgs::model::RequestKind::DomainRemove,
            json!({"domain": current.domain}),
        )
        .await?
    } else {
        super::operator::Gate::Own
    };
    let tx = state.store.begin().await?;
    let d = lock(&tx, ctx, name).await?;
    if !storage::domains::delete(tx.conn(), ctx.org.id, d.id).await? {
        return Err(ServiceError::NotFound("domain"));
    }
    let event = AuditEvent::new(&ctx.actor(), AuditAction::DomainRemoved, target(&d))
        .org(ctx.org.id)
        .details(json!({"domain": d.domain, "was": d.status, "how": gate.details()}));
    state.commit_audited(tx, event).await?;
    Ok(())
}
