//! Grants between organizations: the owner proposes one naming another organization's people,
//! that organization's own admin accepts or declines it, either side withdraws it; the access
//! review lists who can reach which space through which grant.

use std::collections::BTreeMap;

use serde_json::json;

use super::model::{
    Admitted, Consent, DEFAULT_VALID_DAYS, Decision, Grant, GrantStatus, ProposeGrant, Settled,
    Side, Space, Subject,
};
use super::{admit, get, grant_target, named_people, settle};
use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::ServiceError;
use crate::ids::{GrantId, OrgId};
use crate::orgs::model::{OrgStatus, Organization};
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage;
use crate::users::{User, UserStatus};

pub async fn grants(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
) -> Result<Vec<Grant>, ServiceError> {
    let space = get(state, ctx, name).await?;
    Ok(storage::spaces::grants_of_space(state.store.conn(), ctx.org.id, space.id).await?)
}

/// The owner proposes admitting people of an organization; it stays pending until that
/// organization's admin accepts. A grant to the owner's own people is in force at once.
pub async fn propose(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
    input: ProposeGrant,
) -> Result<Grant, ServiceError> {
    ctx.require_admin()?;
    let subject = match (input.group, input.user) {
        (None, None) => Subject::Organization,
        (Some(g), None) => {
            Subject::Group(validate::name("group", &g).map_err(|e| ServiceError::Invalid(vec![e]))?)
        }
        (None, Some(u)) => {
            let u = connectors::email::Email::parse(u.trim_matches(' ')).map_err(|e| {
                ServiceError::invalid("user", format!("give the person's email address ({e})"))
            })?;
            Subject::User(u.to_string().to_ascii_lowercase())
        }
        (Some(_), Some(_)) => {
            return Err(ServiceError::invalid(
                "group",
                "name a group or a person, not both",
            ));
        }
    };
    let requested = match input.release {
        Some(r) => {
            validate::release("release", r, false).map_err(|e| ServiceError::Invalid(vec![e]))?
        }
        None => crate::orgs::model::Release::default(),
    };
    let valid_days = valid_days(input.valid_days)?;
    let partner = crate::orgs::organizations::resolve(state.store.conn(), &input.organization)
        .await?
        .filter(|o| o.status == OrgStatus::Active)
        .ok_or_else(|| {
            ServiceError::invalid("organization", "no active organization by that slug or id")
        })?;
    let tx = state.store.begin().await?;
    let space = storage::spaces::get(tx.conn(), ctx.org.id, name)
        .await?
        .ok_or(ServiceError::NotFound("space"))?;
    let existing = storage::spaces::grants_of_space(tx.conn(), ctx.org.id, space.id).await?;
    if existing
        .iter()
        .any(|g| g.status.is_open() && g.partner_org_id == partner.id && g.subject == subject)
    {
        return Err(ServiceError::Conflict(
            "the same people of that organization are already invited to this space".into(),
        ));
    }
    let now = state.clock.now_ms();
    let own = partner.id == ctx.org.id;
    let mut grant = Grant {
        id: GrantId::new(),
        space_id: space.id,
        org_id: ctx.org.id,
        partner_org_id: partner.id,
        subject,
        status: if own {
            GrantStatus::Accepted
        } else {
            GrantStatus::Pending
        },
        proposed_at: now,
        decided_at: own.then_some(now),
        withdrawn_at: None,
        withdrawn_by: None,
        consent: Consent::default(),
        requested,
        valid_days: Some(valid_days),
        expires_at: None,
        reviews: Vec::new(),
    };
    if own {
        // The owner's own people need no second consent: the request is the consent.
        grant.consent = grant.consent_now(&space);
        grant.expires_at = Some(grant.expiry_after(now));
    }
    storage::spaces::insert_grant(tx.conn(), &grant).await?;
    let queued = if own {
        admit(&tx, state, &space, &grant, None).await?
    } else {
        0
    };
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::SpaceGrantProposed,
        grant_target(grant.id),
    )
    .org(ctx.org.id)
    .org(partner.id)
    .details(grant_details(&space, &grant, &partner));
    state.commit_audited(tx, event).await?;
    if queued > 0 {
        crate::deprovision::wake(state);
    }
    Ok(grant)
}

/// How long an acceptance holds: [`DEFAULT_VALID_DAYS`] unless the owner says otherwise
/// (1 to 1095).
fn valid_days(days: Option<i64>) -> Result<i64, ServiceError> {
    match days {
        None => Ok(DEFAULT_VALID_DAYS),
        Some(d) if (1..=1095).contains(&d) => Ok(d),
        Some(_) => Err(ServiceError::invalid("valid_days", "give 1 to 1095 days")),
    }
}

pub(super) fn grant_details(space: &Space, g: &Grant, partner: &Organization) -> serde_json::Value {
    json!({"space": space.id, "space_slug": space.slug, "partner": partner.slug,
        "subject": {"kind": g.subject.kind(), "value": g.subject.value()},
        "status": g.status, "requested": g.requested, "consented": g.consent.release,
        "applications": g.consent.apps, "expires_at": g.expires_at})
}

/// The partner's invitations: every grant naming its people, with the space and its owner.
pub async fn invitations(
    state: &AppState,
    org: OrgId,
) -> Result<Vec<(Grant, Option<Space>, Option<Organization>)>, ServiceError> {
    let c = state.store.conn();
    let mut out = Vec::new();
    for g in storage::spaces::invitations(c, org).await? {
        let space = storage::spaces::by_ids(c, g.org_id, &[g.space_id])
            .await?
            .into_iter()
            .next();
        let owner = storage::organizations::get(c, g.org_id).await?;
        out.push((g, space, owner));
    }
    Ok(out)
}

/// One side decides on a grant: the partner accepts or declines a pending one (its own admin
/// only: consent is not the operator's to give), either side withdraws a pending or accepted
/// one. Withdrawing access in force ends it at the space's applications.
pub async fn decide(
    state: &AppState,
    ctx: &OrgCtx,
    side: Side,
    id: &str,
    decision: Decision,
) -> Result<(Grant, Settled), ServiceError> {
    if side == Side::Partner && decision != Decision::Withdraw {
        ctx.require_own_admin(
            "only the organization's own admin can accept or decline access to its people",
        )?;
    } else {
        ctx.require_admin()?;
    }
    if side == Side::Owner && decision != Decision::Withdraw {
        return Err(ServiceError::Forbidden(
            "only the invited organization can accept or decline",
        ));
    }
    let tx = state.store.begin().await?;
    let grant = side_grant(&tx, ctx, side, id).await?;
    let from = grant.status;
    let now = state.clock.now_ms();
    let mut next = grant.clone();
    let space = storage::spaces::by_ids(tx.conn(), grant.org_id, &[grant.space_id])
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NotFound("space"))?;
    let widened = grant.widened(&space);
    let action = match (decision, from) {
        // Consent is to exactly what the owner asks now, for the space's applications now.
        (Decision::Accept, GrantStatus::Pending) => {
            next.status = GrantStatus::Accepted;
            next.decided_at = Some(now);
            next.consent = grant.consent_now(&space);
            next.expires_at = Some(grant.expiry_after(now));
            AuditAction::SpaceGrantAccepted
        }
        (Decision::Accept, GrantStatus::Accepted) if widened.is_some() => {
            next.consent = grant.consent_now(&space);
            AuditAction::SpaceGrantAccepted
        }
        (Decision::Decline, GrantStatus::Pending) => {
            next.status = GrantStatus::Declined;
            next.decided_at = Some(now);
            AuditAction::SpaceGrantDeclined
        }
        (Decision::Withdraw, GrantStatus::Pending | GrantStatus::Accepted) => {
            next.status = GrantStatus::Withdrawn;
            next.withdrawn_at = Some(now);
            next.withdrawn_by = Some(ctx.org.id);
            AuditAction::SpaceGrantWithdrawn
        }
        (_, s) => {
            return Err(ServiceError::Conflict(format!(
                "the grant is {}; that cannot be done to it now",
                s.as_str()
            )));
        }
    };
    if !storage::spaces::set_status(tx.conn(), &next, from).await? {
        return Err(ServiceError::Conflict(
            "the grant changed meanwhile; read it again".into(),
        ));
    }
    let settled = if from == GrantStatus::Accepted && next.status == GrantStatus::Accepted {
        // A wider consent: the space's SCIM group gains the people at the applications added.
        let added: Vec<_> = (next.consent.apps.iter())
            .filter(|a| !grant.consent.apps.contains(a))
            .copied()
            .collect();
        Settled {
            people: 0,
            deliveries: admit(&tx, state, &space, &next, Some(&added)).await?,
        }
    } else if from == GrantStatus::Accepted {
        let named = named_people(tx.conn(), grant.partner_org_id, &grant.subject).await?;
        settle(
            &tx,
            state,
            &space,
            &space.apps,
            grant.partner_org_id,
            &named,
            &format!("grant:{}", grant.id),
        )
        .await?
    } else if next.status == GrantStatus::Accepted {
        Settled {
            people: 0,
            deliveries: admit(&tx, state, &space, &next, None).await?,
        }
    } else {
        Settled::default()
    };
    let c = tx.conn();
    let partner = storage::organizations::get(c, grant.partner_org_id)
        .await?
        .ok_or(ServiceError::NotFound("organization"))?;
    let mut details = grant_details(&space, &next, &partner);
    details["by"] = json!(match side {
        Side::Owner => "owner",
        Side::Partner => "partner",
    });
    if let Some(w) = &widened
        && from == GrantStatus::Accepted
        && next.status == GrantStatus::Accepted
    {
        details["widened"] = json!(w);
    }
    commit_grant_change(state, tx, &ctx.actor(), action, &grant, details, settled).await?;
    Ok((next, settled))
}

/// Commits a change to `grant` with its audit event, which both organizations see (`details`
/// gain what ending or extending access queued), and wakes the delivery worker if it queued
/// anything.
pub(super) async fn commit_grant_change(
    state: &AppState,
    tx: crate::storage::Tx,
    actor: &crate::audit::Actor,
    action: AuditAction,
    grant: &Grant,
    mut details: serde_json::Value,
    settled: Settled,
) -> Result<(), ServiceError> {
    details["people_lost_access"] = json!(settled.people);
    details["deliveries_queued"] = json!(settled.deliveries);
    let event = AuditEvent::new(actor, action, grant_target(grant.id))
        .org(grant.org_id)
        .org(grant.partner_org_id)
        .details(details);
    state.commit_audited(tx, event).await?;
    if settled.deliveries > 0 {
        crate::deprovision::wake(state);
    }
    Ok(())
}

/// The grant `id` as `side` of it (`ctx`'s organization) sees it.
pub(super) async fn side_grant(
    tx: &crate::storage::Tx,
    ctx: &OrgCtx,
    side: Side,
    id: &str,
) -> Result<Grant, ServiceError> {
    let id: GrantId = id.parse().map_err(|_| ServiceError::NotFound("grant"))?;
    match side {
        Side::Owner => storage::spaces::owner_grant(tx.conn(), ctx.org.id, id).await?,
        Side::Partner => storage::spaces::partner_grant(tx.conn(), ctx.org.id, id).await?,
    }
    .ok_or(ServiceError::NotFound("grant"))
}

/// Who can reach which space, as `ctx`'s organization may see it: for the spaces it owns,
/// everyone admitted (its partners consented to that); for the spaces of others, its own
/// people admitted there.
pub async fn access_review(state: &AppState, org: OrgId) -> Result<Vec<Admitted>, ServiceError> {
    let c = state.store.conn();
    let mut grants: Vec<Grant> = Vec::new();
    for s in storage::spaces::list(c, org).await? {
        grants.extend(
            storage::spaces::grants_of_space(c, org, s.id)
                .await?
                .into_iter()
                .filter(|g| g.status == GrantStatus::Accepted),
        );
    }
    grants.extend(
        storage::spaces::accepted_of_partner(c, org)
            .await?
            .into_iter()
            .filter(|g| g.org_id != org),
    );
    let mut orgs: BTreeMap<OrgId, String> = BTreeMap::new();
    let mut people: BTreeMap<OrgId, Vec<User>> = BTreeMap::new();
    let mut out = Vec::new();
    for g in grants {
        for o in [g.org_id, g.partner_org_id] {
            if let std::collections::btree_map::Entry::Vacant(e) = orgs.entry(o) {
                let slug = storage::organizations::get(c, o)
                    .await?
                    .map(|o| o.slug)
                    .unwrap_or_default();
                e.insert(slug);
            }
        }
        if let std::collections::btree_map::Entry::Vacant(e) = people.entry(g.partner_org_id) {
            let users = storage::users::list(c, g.partner_org_id).await?;
            e.insert(
                users
                    .into_iter()
                    .filter(|u| u.status == UserStatus::Active)
                    .collect(),
            );
        }
        let Some(space) = storage::spaces::by_ids(c, g.org_id, &[g.space_id])
            .await?
            .into_iter()
            .next()
        else {
            continue;
        };
        // The owner sees its partners' people as its applications do: by the `sub` they get
        // and with the email only if the grant released it. The person's own organization
        // sees its own people.
        let own_people = g.partner_org_id == org;
        let email_released = g.released().has("email");
        for u in people
            .get(&g.partner_org_id)
            .into_iter()
            .flatten()
            .filter(|u| g.subject.admits(u))
        {
            let subject = (g.org_id == org && !own_people)
                .then(|| super::release::partner_subject(state, g.org_id, u.id));
            out.push(Admitted {
                space_id: space.id.to_string(),
                space_slug: space.slug.clone(),
                owner: orgs.get(&g.org_id).cloned().unwrap_or_default(),
                organization: orgs.get(&g.partner_org_id).cloned().unwrap_or_default(),
                grant_id: g.id.to_string(),
                user_id: own_people.then(|| u.id.to_string()),
                subject,
                email: (own_people || email_released).then(|| u.email.clone()),
            });
        }
    }
    Ok(out)
}
