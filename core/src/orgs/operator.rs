//! The operator is bound. Once an organization has an admin of its own (an admin API key in
//! force, or a person its role mapping makes org admin), an operator's change that could give
//! anyone access to its people (an API key, the role mapping, a domain attested or removed, a
//! person created or changed, a directory created or changed, a SCIM token) does not happen: it is recorded as a request, told to the organization's admins at once,
//! and made only when one of them approves it (a key is made then, and shown to that admin,
//! never to the operator). The one way around is a break-glass window: the operator opens it
//! with a reason, the organization is told at once, changes made in it apply directly (keys
//! made in it expire with it), it closes by itself, and the organization's admin reviews it
//! afterwards. Before an organization has an admin of its own, the operator sets it up.

use serde_json::{Value, json};

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::RequestId;
use crate::orgs::model::{
    BreakGlass, OpenBreakGlass, OperatorRequest, RequestKind, RequestStatus, ReviewBreakGlass,
};
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, Conn, StoreError};

/// How a change to an organization may go ahead.
#[derive(Debug, Clone)]
pub enum Gate {
    /// Made by the organization itself.
    Own,
    /// The operator, in an organization without an admin of its own yet.
    Bootstrap,
    /// The operator, inside an open break-glass window.
    BreakGlass(BreakGlass),
    /// The operator's request, approved by the organization's admin (who applies it).
    Approved(RequestId),
}

impl Gate {
    /// What the change's audit event records about how it went ahead.
    pub fn details(&self) -> Value {
        match self {
            Self::Own => Value::Null,
            Self::Bootstrap => json!({"operator": "bootstrap"}),
            Self::BreakGlass(b) => json!({"break_glass": b.id, "reason": b.reason}),
            Self::Approved(id) => json!({"operator_request": id}),
        }
    }

    /// When what the change gives out stops by itself (a key made under break-glass).
    pub fn expires_at(&self) -> Option<i64> {
        match self {
            Self::BreakGlass(b) => Some(b.ends_at),
            _ => None,
        }
    }
}

/// Whether the organization has had an admin of its own: an admin key (even one revoked or
/// expired since), or a person (whatever their status now) in a group its role mapping makes
/// org admin. Sticky on purpose: an operator who suspended those people or revoked those keys
/// must not find the organization back in bootstrap, where its gates are open.
pub async fn has_own_admin(
    c: &impl Conn,
    org: crate::ids::OrgId,
    _now: i64,
) -> Result<bool, StoreError> {
    if storage::api_keys::had_admin(c, org).await? {
        return Ok(true);
    }
    let roles = storage::roles::get(c, org).await?;
    if roles.org_admin.is_empty() {
        return Ok(false);
    }
    Ok(storage::users::list(c, org)
        .await?
        .iter()
        .any(|u| u.groups.iter().any(|g| roles.org_admin.contains(g))))
}

/// How `ctx`'s change goes ahead without a request, if it can: the organization's own, the
/// operator's before the organization has an admin, or inside a break-glass window.
async fn direct(state: &AppState, ctx: &OrgCtx) -> Result<Option<Gate>, ServiceError> {
    if !ctx.principal.is_operator() {
        return Ok(Some(Gate::Own));
    }
    let c = state.store.conn();
    let now = state.clock.now_ms();
    if let Some(b) = storage::operator::open_break_glass(c, ctx.org.id, now).await? {
        return Ok(Some(Gate::BreakGlass(b)));
    }
    if !has_own_admin(c, ctx.org.id, now).await? {
        return Ok(Some(Gate::Bootstrap));
    }
    Ok(None)
}

/// Lets `ctx`'s change go ahead where it needs no request, else refuses it with `why`: for a
/// change that carries a secret (an LDAP bind password), which a request must never keep.
pub async fn gate_direct(
    state: &AppState,
    ctx: &OrgCtx,
    why: &'static str,
) -> Result<Gate, ServiceError> {
    direct(state, ctx)
        .await?
        .ok_or(ServiceError::Forbidden(why))
}

/// Lets `ctx`'s change of `kind` go ahead, or records it as the operator's request and
/// answers [`ServiceError::AwaitingApproval`]. `payload` is the change as asked (no secrets).
pub async fn gate(
    state: &AppState,
    ctx: &OrgCtx,
    kind: RequestKind,
    payload: Value,
) -> Result<Gate, ServiceError> {
    if let Some(gate) = direct(state, ctx).await? {
        return Ok(gate);
    }
    let now = state.clock.now_ms();
    let request = OperatorRequest {
        id: RequestId::new(),
        org_id: ctx.org.id,
        kind,
        payload,
        requested_by: serde_json::to_value(ctx.actor()).unwrap_or_default(),
        status: RequestStatus::Pending,
        created_at: now,
        decided_at: None,
        decided_by: None,
    };
    let tx = state.store.begin().await?;
    storage::operator::insert_request(tx.conn(), &request).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::OperatorRequested,
        target(request.id),
    )
    .org(ctx.org.id)
    .details(json!({"kind": kind.as_str(), "change": request.payload}));
    state.commit_audited(tx, event).await?;
    Err(ServiceError::AwaitingApproval(request.id.to_string()))
}

/// The gate of a change applied for `approved` (the request an organization's admin approved),
/// else [`gate`]: what lets a service run both as the operator's call and as the approval's.
pub async fn gate_unless_approved(
    state: &AppState,
    ctx: &OrgCtx,
    approved: Option<RequestId>,
    kind: RequestKind,
    payload: Value,
) -> Result<Gate, ServiceError> {
    match approved {
        Some(id) => Ok(Gate::Approved(id)),
        None => gate(state, ctx, kind, payload).await,
    }
}

fn target(id: RequestId) -> String {
    format!("operator_request:{id}")
}

const OWN_ADMIN: &str =
    "only the organization's own admin can approve or review the operator's changes";

pub async fn requests(
    state: &AppState,
    ctx: &OrgCtx,
) -> Result<Vec<OperatorRequest>, ServiceError> {
    Ok(storage::operator::requests(state.store.conn(), ctx.org.id).await?)
}

/// The organization's admin decides on a pending request. Approving records the decision, then
/// returns the request for the caller to apply in the admin's name (see [`Gate::Approved`]).
pub async fn decide(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    approve: bool,
) -> Result<OperatorRequest, ServiceError> {
    ctx.require_own_admin(OWN_ADMIN)?;
    let id: RequestId = id.parse().map_err(|_| ServiceError::NotFound("request"))?;
    let tx = state.store.begin().await?;
    let mut r = storage::operator::request(tx.conn(), ctx.org.id, id)
        .await?
        .ok_or(ServiceError::NotFound("request"))?;
    if r.status != RequestStatus::Pending {
        return Err(ServiceError::Conflict(format!(
            "the request was {} already",
            r.status.as_str()
        )));
    }
    r.status = if approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Rejected
    };
    r.decided_at = Some(state.clock.now_ms());
    r.decided_by = Some(serde_json::to_value(ctx.actor()).unwrap_or_default());
    if !storage::operator::decide(tx.conn(), &r).await? {
        return Err(ServiceError::Conflict(
            "the request was decided meanwhile".into(),
        ));
    }
    let action = if approve {
        AuditAction::OperatorRequestApproved
    } else {
        AuditAction::OperatorRequestRejected
    };
    let event = AuditEvent::new(&ctx.actor(), action, target(r.id))
        .org(ctx.org.id)
        .details(json!({"kind": r.kind.as_str(), "change": r.payload,
            "requested_by": r.requested_by}));
    state.commit_audited(tx, event).await?;
    Ok(r)
}

/// The operator opens a break-glass window in the organization.
pub async fn open_break_glass(
    state: &AppState,
    ctx: &OrgCtx,
    input: OpenBreakGlass,
) -> Result<BreakGlass, ServiceError> {
    ctx.principal.require_operator()?;
    let reason =
        validate::name("reason", &input.reason).map_err(|e| ServiceError::Invalid(vec![e]))?;
    let hours = input.hours.unwrap_or(1);
    if !(1..=24).contains(&hours) {
        return Err(ServiceError::invalid("hours", "give 1 to 24 hours"));
    }
    let now = state.clock.now_ms();
    let b = BreakGlass {
        id: RequestId::new(),
        org_id: ctx.org.id,
        reason,
        opened_by: serde_json::to_value(ctx.actor()).unwrap_or_default(),
        opened_at: now,
        ends_at: now + hours * 3_600_000,
        reviewed_at: None,
        reviewed_by: None,
        review_note: None,
    };
    let tx = state.store.begin().await?;
    storage::operator::insert_break_glass(tx.conn(), &b).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::BreakGlassOpened,
        format!("break_glass:{}", b.id),
    )
    .org(ctx.org.id)
    .details(json!({"reason": b.reason, "hours": hours, "ends_at": b.ends_at}));
    state.commit_audited(tx, event).await?;
    tracing::warn!(org = %ctx.org.slug, reason = %b.reason, hours, "break-glass window opened");
    Ok(b)
}

pub async fn break_glasses(
    state: &AppState,
    ctx: &OrgCtx,
) -> Result<Vec<BreakGlass>, ServiceError> {
    Ok(storage::operator::break_glasses(state.store.conn(), ctx.org.id).await?)
}

/// The organization's admin reviews a break-glass window (once).
pub async fn review_break_glass(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    input: ReviewBreakGlass,
) -> Result<BreakGlass, ServiceError> {
    ctx.require_own_admin(OWN_ADMIN)?;
    let id: RequestId = id
        .parse()
        .map_err(|_| ServiceError::NotFound("break-glass window"))?;
    let note = input
        .note
        .map(|n| validate::name("note", &n))
        .transpose()
        .map_err(|e| ServiceError::Invalid(vec![e]))?;
    let tx = state.store.begin().await?;
    let mut b = storage::operator::break_glasses(tx.conn(), ctx.org.id)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or(ServiceError::NotFound("break-glass window"))?;
    b.reviewed_at = Some(state.clock.now_ms());
    b.reviewed_by = Some(serde_json::to_value(ctx.actor()).unwrap_or_default());
    b.review_note = note;
    if !storage::operator::review_break_glass(tx.conn(), &b).await? {
        return Err(ServiceError::Conflict("reviewed already".into()));
    }
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::BreakGlassReviewed,
        format!("break_glass:{}", b.id),
    )
    .org(ctx.org.id)
    .details(json!({"note": b.review_note, "reason": b.reason}));
    state.commit_audited(tx, event).await?;
    Ok(b)
}

/// Applies an approved request in the name of the admin who approved it; what it made (a key's
/// secret is shown to that admin, once). If the change cannot be made (it no longer fits: a
/// conflict, a domain no longer verified), the request goes back to pending, so that it can be
/// rejected or approved again once fixed, and the admin gets the reason.
pub async fn apply(
    state: &AppState,
    ctx: &OrgCtx,
    r: &OperatorRequest,
) -> Result<Value, ServiceError> {
    match make(state, ctx, r).await {
        Ok(v) => Ok(v),
        Err(e) => {
            let tx = state.store.begin().await?;
            storage::operator::reopen(tx.conn(), r).await?;
            tx.commit().await?;
            Err(e)
        }
    }
}

async fn make(state: &AppState, ctx: &OrgCtx, r: &OperatorRequest) -> Result<Value, ServiceError> {
    let bad = || ServiceError::Internal(format!("operator request {} is malformed", r.id));
    let text = |k: &str| r.payload[k].as_str().map(str::to_string).ok_or_else(bad);
    Ok(match r.kind {
        RequestKind::ApiKey => {
            let input: super::api_keys::CreateKey =
                serde_json::from_value(r.payload.clone()).map_err(|_| bad())?;
            let (key, secret) = super::api_keys::create(state, ctx, input, Some(r.id)).await?;
            json!({"key": {"id": key.id, "name": key.name, "role": key.role,
                "prefix": key.prefix}, "secret": secret})
        }
        RequestKind::Roles => {
            let input = serde_json::from_value(r.payload.clone()).map_err(|_| bad())?;
            json!({"roles": super::roles::set(state, ctx, input, Some(r.id)).await?})
        }
        RequestKind::DomainAttest => {
            let input = super::domains::AttestDomain {
                reason: text("reason")?,
            };
            let d = super::domains::attest(state, ctx, &text("domain")?, input, Some(r.id)).await?;
            json!({"domain": d.domain, "status": d.status})
        }
        RequestKind::DomainRemove => {
            super::domains::remove(state, ctx, &text("domain")?, Some(r.id)).await?;
            json!({"removed": text("domain")?})
        }
        RequestKind::UserCreate => {
            let input = serde_json::from_value(r.payload.clone()).map_err(|_| bad())?;
            let u = crate::users::create(state, ctx, input, Some(r.id)).await?;
            json!({"user": {"id": u.id, "email": u.email}})
        }
        RequestKind::UserUpdate => {
            let input = serde_json::from_value(r.payload["change"].clone()).map_err(|_| bad())?;
            let u = crate::users::update(state, ctx, &text("user")?, input, Some(r.id)).await?;
            json!({"user": {"id": u.id, "email": u.email, "status": u.status}})
        }
        RequestKind::DirectoryCreate => {
            let input = serde_json::from_value(r.payload.clone()).map_err(|_| bad())?;
            let d = crate::directories::create(state, ctx, input, Some(r.id)).await?;
            json!({"directory": {"id": d.id, "name": d.name}})
        }
        RequestKind::DirectoryUpdate => {
            let input = serde_json::from_value(r.payload["change"].clone()).map_err(|_| bad())?;
            let id = text("directory")?;
            let d = crate::directories::update(state, ctx, &id, input, Some(r.id)).await?;
            json!({"directory": {"id": d.id, "name": d.name}})
        }
        RequestKind::ScimToken => {
            let input = serde_json::from_value(r.payload["change"].clone()).map_err(|_| bad())?;
            let id = text("directory")?;
            let (t, secret) =
                crate::directories::create_token(state, ctx, &id, input, Some(r.id)).await?;
            json!({"token": {"id": t.id, "name": t.name, "directory": t.directory_id},
                "secret": secret})
        }
    })
}
