//! Consent over time. The owner may narrow what a grant asks at once, but a wider request (more
//! claims, more groups, and, through the space, more applications) waits for the partner's
//! admin to accept again. A grant holds for its validity period; within the review window
//! before it ends both admins are asked to recertify it: when both keep it, it holds for
//! another period; when either ends it, or the expiry comes first, the people it admitted lose
//! access through the same path as a withdrawal (tokens revoked, applications told).

use serde_json::json;

use super::grants::{commit_grant_change, grant_details};
use super::model::{Grant, GrantStatus, Recertify, Review, Settled, Side, Space, UpdateGrant};
use super::{get, grant_target, named_people, settle};
use crate::access::OrgCtx;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::GrantId;
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, Tx};

async fn space_of(tx: &Tx, g: &Grant) -> Result<Space, ServiceError> {
    storage::spaces::by_ids(tx.conn(), g.org_id, &[g.space_id])
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NotFound("space"))
}

/// Ends access in force through `g` (now no longer accepted) at the space's applications.
async fn end_access(tx: &Tx, state: &AppState, g: &Grant) -> Result<Settled, ServiceError> {
    let space = space_of(tx, g).await?;
    let named = named_people(tx.conn(), g.partner_org_id, &g.subject).await?;
    Ok(settle(
        tx,
        state,
        &space,
        &space.apps,
        g.partner_org_id,
        &named,
        &format!("grant:{}", g.id),
    )
    .await?)
}

/// The owner changes what a grant asks. Narrower holds at once (applications learn less from
/// their next token on); wider waits for the partner's admin.
pub async fn update_grant(
    state: &AppState,
    ctx: &OrgCtx,
    space: &str,
    id: &str,
    input: UpdateGrant,
) -> Result<Grant, ServiceError> {
    ctx.require_admin()?;
    let space = get(state, ctx, space).await?;
    let id: GrantId = id.parse().map_err(|_| ServiceError::NotFound("grant"))?;
    let tx = state.store.begin().await?;
    let grant = storage::spaces::owner_grant(tx.conn(), ctx.org.id, id)
        .await?
        .filter(|g| g.space_id == space.id)
        .ok_or(ServiceError::NotFound("grant"))?;
    if !grant.status.is_open() {
        return Err(ServiceError::Conflict(format!(
            "the grant is {}; propose a new one",
            grant.status.as_str()
        )));
    }
    let mut next = grant.clone();
    if let Some(r) = input.release {
        next.requested =
            validate::release("release", r, false).map_err(|e| ServiceError::Invalid(vec![e]))?;
    }
    if next == grant {
        return Ok(grant);
    }
    if !storage::spaces::set_status(tx.conn(), &next, grant.status).await? {
        return Err(ServiceError::Conflict(
            "the grant changed meanwhile; read it again".into(),
        ));
    }
    let partner = storage::organizations::get(tx.conn(), grant.partner_org_id)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    let mut details = grant_details(&space, &next, &partner);
    details["before"] = json!(grant.requested);
    details["awaiting_consent"] = json!(next.widened(&space));
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::SpaceGrantChanged,
        grant_target(grant.id),
    )
    .org(grant.org_id)
    .org(grant.partner_org_id)
    .details(details);
    state.commit_audited(tx, event).await?;
    Ok(next)
}

/// One side's recertification of an accepted grant in its review window: `keep` (the grant
/// holds for another validity period once both sides kept it in this window) or `end` (access
/// ends now). Each decision is recorded with who made it.
pub async fn recertify(
    state: &AppState,
    ctx: &OrgCtx,
    side: Side,
    id: &str,
    input: Recertify,
) -> Result<(Grant, Settled), ServiceError> {
    match side {
        Side::Owner => ctx.require_admin()?,
        Side::Partner => ctx.require_own_admin(
            "only the organization's own admin can recertify access to its people",
        )?,
    }
    let keep = match input.decision.as_str() {
        "keep" => true,
        "end" => false,
        _ => return Err(ServiceError::invalid("decision", "give keep or end")),
    };
    let tx = state.store.begin().await?;
    let grant = super::grants::side_grant(&tx, ctx, side, id).await?;
    let now = state.clock.now_ms();
    if grant.status != GrantStatus::Accepted {
        return Err(ServiceError::Conflict(format!(
            "the grant is {}; only access in force is recertified",
            grant.status.as_str()
        )));
    }
    if keep && !grant.in_review(now) {
        return Err(ServiceError::Conflict(
            "the grant is not due for recertification yet".into(),
        ));
    }
    let side_name = match side {
        Side::Owner => "owner",
        Side::Partner => "partner",
    };
    let mut next = grant.clone();
    next.reviews.push(Review {
        side: side_name.into(),
        decision: input.decision.clone(),
        by: serde_json::to_string(&ctx.actor()).unwrap_or_default(),
        at: now,
    });
    // Keep only the recent history: the decisions of the last few windows.
    let excess = next.reviews.len().saturating_sub(20);
    next.reviews.drain(..excess);
    let window_start =
        grant.expires_at.unwrap_or(now) - super::model::review_window_ms(grant.valid_days);
    let kept_by = |s: &str| {
        next.reviews
            .iter()
            .any(|r| r.side == s && r.decision == "keep" && r.at >= window_start)
    };
    let renewed = keep && kept_by("owner") && kept_by("partner");
    if !keep {
        next.status = GrantStatus::Withdrawn;
        next.withdrawn_at = Some(now);
        next.withdrawn_by = Some(ctx.org.id);
    } else if renewed {
        next.expires_at = Some(grant.expiry_after(now));
    }
    if !storage::spaces::set_status(tx.conn(), &next, grant.status).await? {
        return Err(ServiceError::Conflict(
            "the grant changed meanwhile; read it again".into(),
        ));
    }
    let settled = if keep {
        Settled::default()
    } else {
        end_access(&tx, state, &next).await?
    };
    let space = space_of(&tx, &grant).await?;
    let partner = storage::organizations::get(tx.conn(), grant.partner_org_id)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    let mut details = grant_details(&space, &next, &partner);
    details["by"] = json!(side_name);
    details["decision"] = json!(input.decision);
    details["renewed"] = json!(renewed);
    commit_grant_change(
        state,
        tx,
        &ctx.actor(),
        AuditAction::SpaceGrantReviewed,
        &grant,
        details,
        settled,
    )
    .await?;
    Ok((next, settled))
}

/// Ends the grants whose expiry has come, each in its own transaction; returns how many.
pub async fn expire_due(state: &AppState) -> Result<usize, ServiceError> {
    let now = state.clock.now_ms();
    let due = storage::spaces::expired(state.store.conn(), now, 100).await?;
    let mut ended = 0;
    for grant in due {
        let tx = state.store.begin().await?;
        let mut next = grant.clone();
        next.status = GrantStatus::Expired;
        next.withdrawn_at = Some(now);
        if !storage::spaces::set_status(tx.conn(), &next, GrantStatus::Accepted).await? {
            continue;
        }
        let settled = end_access(&tx, state, &next).await?;
        let space = space_of(&tx, &grant).await?;
        let partner = storage::organizations::get(tx.conn(), grant.partner_org_id)
            .await?
            .ok_or(ServiceError::NotFound("organization"))?;
        let details = grant_details(&space, &next, &partner);
        let expiry = Actor::System {
            component: "grant expiry".into(),
        };
        let expired = AuditAction::SpaceGrantExpired;
        commit_grant_change(state, tx, &expiry, expired, &grant, details, settled).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Ends expired grants every `jobs.scheduler_tick_secs` until `stop`.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = std::time::Duration::from_secs(state.config.jobs.scheduler_tick_secs.max(1));
    loop {
        match expire_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(grants = n, "expired space grants ended"),
            Err(e) => tracing::warn!(error = %e, "could not end expired space grants"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The recertification campaign of an organization: every accepted grant it is a side of, by
/// expiry (the soonest first), with whether it is in its review window now.
pub async fn campaign(state: &AppState, ctx: &OrgCtx) -> Result<Vec<Grant>, ServiceError> {
    let c = state.store.conn();
    let mut out: Vec<Grant> = Vec::new();
    for s in storage::spaces::list(c, ctx.org.id).await? {
        out.extend(
            storage::spaces::grants_of_space(c, ctx.org.id, s.id)
                .await?
                .into_iter()
                .filter(|g| g.status == GrantStatus::Accepted && g.partner_org_id != ctx.org.id),
        );
    }
    out.extend(
        storage::spaces::accepted_of_partner(c, ctx.org.id)
            .await?
            .into_iter()
            .filter(|g| g.org_id != ctx.org.id),
    );
    out.sort_by_key(|g| g.expires_at.unwrap_or(i64::MAX));
    Ok(out)
}
