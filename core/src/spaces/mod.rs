//! Spaces: shared workspaces owned by one organization, with access across organizations by
//! mutual consent. The owner proposes a grant naming another organization's people (all of
//! them, one of its groups, or one person); nobody is admitted until that organization's own
//! admin accepts (the operator cannot consent for it); either side can withdraw. Applications
//! of the owner serve a space: a person of another organization may sign in to one only while
//! a space it serves admits them, and an application can require a space of its owner's people
//! too. Memberships are the `spaces` claim of tokens and userinfo.
//!
//! Withdrawing access (a grant withdrawn, a space deleted or no longer served by an
//! application) ends it the way a leaver's ends, for that application only: the person's
//! tokens there are revoked in the same transaction, and the application is told through the
//! outbox (back-channel logout, outbound SCIM deactivation, a signed webhook).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::ids::{AppId, GrantId, OrgId, SpaceId};
use crate::orgs::model::Application;
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, Conn, StoreError, Tx};
use crate::users::{User, UserStatus};

pub mod evidence;
pub mod model;

pub mod grants;
pub mod release;
pub mod review;

pub use grants::{access_review, decide, grants, invitations, propose};
pub use model::{
    Access, Admitted, CreateSpace, Decision, Grant, GrantStatus, ProposeGrant, Recertify, Settled,
    Side, Space, Subject, UpdateGrant, UpdateSpace, Widening,
};
pub use review::{campaign, recertify, update_grant};

const MAX_DESCRIPTION: usize = 2000;
const MAX_APPS: usize = 50;

// ---- who may use an application

/// The accepted grants that admit `user` at `app`: of the spaces it serves, consented for it.
async fn admitting_grants(
    c: &impl Conn,
    app: &Application,
    user: &User,
) -> Result<Vec<Grant>, StoreError> {
    let served = storage::spaces::spaces_of_app(c, app.org_id, app.id).await?;
    if served.is_empty() {
        return Ok(Vec::new());
    }
    Ok(
        storage::spaces::accepted_for(c, app.org_id, user.org_id, &served)
            .await?
            .into_iter()
            .filter(|g| g.admits_at(app.id) && g.subject.admits(user))
            .collect(),
    )
}

/// The spaces of `grants` (of `app`'s owner).
async fn spaces_of(
    c: &impl Conn,
    app: &Application,
    grants: &[Grant],
) -> Result<Vec<Space>, StoreError> {
    let mut ids: Vec<SpaceId> = grants.iter().map(|g| g.space_id).collect();
    ids.sort();
    ids.dedup();
    storage::spaces::by_ids(c, app.org_id, &ids).await
}

/// The spaces served by `app` that admit `user`.
pub async fn admitting(
    c: &impl Conn,
    app: &Application,
    user: &User,
) -> Result<Vec<Space>, StoreError> {
    spaces_of(c, app, &admitting_grants(c, app, user).await?).await
}

/// Whether `user` may sign in to `app`, the slugs of the spaces that admit them there, and
/// what `app` may learn about them: one read of the grants for all three.
pub async fn may_use(c: &impl Conn, app: &Application, user: &User) -> Result<Access, StoreError> {
    let grants = admitting_grants(c, app, user).await?;
    let spaces = spaces_of(c, app, &grants).await?;
    Ok(Access {
        admitted: admitted(app, user, &spaces),
        spaces: spaces.into_iter().map(|s| s.slug).collect(),
        release: release::released(app, user, &grants),
    })
}

/// Whether `user` may use `app`, given the spaces of `app` that admit them: always the
/// owner's own people unless the application requires a space, others only through one.
fn admitted(app: &Application, user: &User, spaces: &[Space]) -> bool {
    (user.org_id == app.org_id && !app.spaces_required) || !spaces.is_empty()
}

/// Whether some space served by `app` admits people of `partner` (home-realm discovery sends
/// them to their own IdP only then).
pub async fn partner_admitted(
    c: &impl Conn,
    app: &Application,
    partner: OrgId,
) -> Result<bool, StoreError> {
    let served = storage::spaces::spaces_of_app(c, app.org_id, app.id).await?;
    Ok(
        storage::spaces::accepted_for(c, app.org_id, partner, &served)
            .await?
            .iter()
            .any(|g| g.admits_at(app.id)),
    )
}

/// Whether some space served by `app` admits people of another organization: then the
/// sign-in page asks for the work email first, to send each person to their own IdP.
pub async fn admits_partners(c: &impl Conn, app: &Application) -> Result<bool, StoreError> {
    for space in storage::spaces::spaces_of_app(c, app.org_id, app.id).await? {
        if storage::spaces::grants_of_space(c, app.org_id, space)
            .await?
            .iter()
            .any(|g| {
                g.status == GrantStatus::Accepted
                    && g.partner_org_id != app.org_id
                    && g.admits_at(app.id)
            })
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The applications of other organizations that `user` may reach through spaces: they are
/// told when the person leaves or returns, like the person's own organization's.
pub async fn reachable_apps(c: &impl Conn, user: &User) -> Result<Vec<Application>, StoreError> {
    let grants: Vec<Grant> = storage::spaces::accepted_of_partner(c, user.org_id)
        .await?
        .into_iter()
        .filter(|g| g.org_id != user.org_id && g.subject.admits(user))
        .collect();
    let mut by_owner: BTreeMap<OrgId, Vec<&Grant>> = BTreeMap::new();
    for g in &grants {
        by_owner.entry(g.org_id).or_default().push(g);
    }
    let mut apps: BTreeSet<AppId> = BTreeSet::new();
    for (owner, grants) in by_owner {
        let ids: Vec<SpaceId> = grants.iter().map(|g| g.space_id).collect();
        for s in storage::spaces::by_ids(c, owner, &ids).await? {
            // The space's applications the partner consented for.
            for g in grants.iter().filter(|g| g.space_id == s.id) {
                apps.extend(s.apps.iter().filter(|a| g.admits_at(**a)));
            }
        }
    }
    let apps: Vec<AppId> = apps.into_iter().collect();
    storage::applications::by_ids_any(c, &apps).await
}

// ---- withdrawing access

/// The active people of `partner` that `subject` names.
async fn named_people(
    c: &impl Conn,
    partner: OrgId,
    subject: &Subject,
) -> Result<Vec<User>, StoreError> {
    let people = match subject {
        Subject::User(email) => storage::users::find_by_email(c, partner, email)
            .await?
            .into_iter()
            .collect(),
        _ => storage::users::list(c, partner).await?,
    };
    Ok(people
        .into_iter()
        .filter(|u| u.status == UserStatus::Active && subject.admits(u))
        .collect())
}

/// After a change inside `tx` that may have taken access away (a grant withdrawn, a space
/// deleted, applications no longer serving it), for the people of `partner` who reached
/// `apps` or whom the ended grants `named`: where they may no longer use an application, their
/// tokens there are revoked and the application is told (logout, SCIM deactivation, webhook);
/// where they are no longer in `space`, its SCIM group there loses them. `why` names the
/// change in the idempotency keys and webhooks.
pub async fn settle(
    tx: &Tx,
    state: &AppState,
    space: &Space,
    apps: &[AppId],
    partner: OrgId,
    named: &[User],
    why: &str,
) -> Result<Settled, StoreError> {
    let now = state.clock.now_ms();
    let apps = storage::applications::by_ids_any(tx.conn(), apps).await?;
    let app_ids: Vec<AppId> = apps.iter().map(|a| a.id).collect();
    let reached = storage::oidc::users_at_apps(tx.conn(), partner, &app_ids, now).await?;
    let mut people: BTreeMap<crate::ids::UserId, (User, bool, bool)> = BTreeMap::new();
    for u in storage::users::by_ids(tx.conn(), partner, &reached).await? {
        people.insert(u.id, (u, true, false));
    }
    for u in named {
        people
            .entry(u.id)
            .or_insert_with(|| (u.clone(), false, false))
            .2 = true;
    }
    let ttl = (state.config.oidc.access_token_ttl_secs as i64) * 1000;
    let mut rows = Vec::new();
    let mut lost_people = 0;
    for (user, reached, named) in people.values() {
        let mut lost_any = false;
        for app in &apps {
            if !*named && !*reached {
                continue;
            }
            let spaces = admitting(tx.conn(), app, user).await?;
            if *named && app.scim_target.is_some() && !spaces.iter().any(|s| s.id == space.id) {
                rows.push(membership(state, app, user, space, None, why, now));
            }
            if !*reached || admitted(app, user, &spaces) {
                continue;
            }
            lost_any = true;
            storage::oidc::revoke_user_at_app(tx.conn(), partner, user.id, app.id, now, ttl)
                .await?;
            rows.extend(notifications(state, app, user, why, now));
        }
        lost_people += usize::from(lost_any);
    }
    storage::outbox::insert_many(tx.conn(), &rows).await?;
    Ok(Settled {
        people: lost_people,
        deliveries: rows.len(),
    })
}

/// The space's SCIM group at its applications gains the people a grant now admits: at every
/// application it was consented for, or only at `apps` (those a wider consent added).
async fn admit(
    tx: &Tx,
    state: &AppState,
    space: &Space,
    grant: &Grant,
    apps: Option<&[AppId]>,
) -> Result<usize, StoreError> {
    let apps: Vec<Application> = storage::applications::by_ids_any(tx.conn(), &space.apps)
        .await?
        .into_iter()
        .filter(|a| a.scim_target.is_some() && grant.admits_at(a.id))
        .filter(|a| apps.is_none_or(|only| only.contains(&a.id)))
        .collect();
    if apps.is_empty() {
        return Ok(0);
    }
    let now = state.clock.now_ms();
    // Each acceptance is its own event: a grant accepted again (wider) queues anew.
    let why = format!("grant:{}:{now}", grant.id);
    let released = grant.released();
    let mut rows = Vec::new();
    for user in named_people(tx.conn(), grant.partner_org_id, &grant.subject).await? {
        for app in &apps {
            rows.push(membership(
                state,
                app,
                &user,
                space,
                Some(&released),
                &why,
                now,
            ));
        }
    }
    storage::outbox::insert_many(tx.conn(), &rows).await?;
    Ok(rows.len())
}

/// One delivery to `app` about `user`, outside any leaver.
fn row(
    app: &Application,
    user: &User,
    key: String,
    payload: crate::deprovision::Payload,
    now: i64,
) -> crate::deprovision::Delivery {
    let to = crate::deprovision::To {
        org: user.org_id,
        app: app.id,
        user: user.id,
        leaver: None,
    };
    crate::deprovision::delivery(to, key, payload, now)
}

/// The outbound SCIM change of `space`'s group (named by its slug) at `app` for `user`: added
/// (`Some` of what the grant released, for making the person there if the application does
/// not know them yet) or removed (`None`).
fn membership(
    state: &AppState,
    app: &Application,
    user: &User,
    space: &Space,
    added: Option<&crate::orgs::model::Release>,
    why: &str,
    now: i64,
) -> crate::deprovision::Delivery {
    use crate::deprovision::{Payload, ScimAction, ScimChange};
    let (action, verb) = if added.is_some() {
        (ScimAction::GroupAdd, "add")
    } else {
        (ScimAction::GroupRemove, "remove")
    };
    row(
        app,
        user,
        format!("scimgroup:{why}:{}:{}:{verb}", app.id, user.id),
        Payload::Scim(ScimChange {
            action,
            group: Some(space.slug.clone()),
            user: crate::deprovision::person(state, app, user, added),
        }),
        now,
    )
}

/// What `app` is told when `user` may no longer use it.
fn notifications(
    state: &AppState,
    app: &Application,
    user: &User,
    why: &str,
    now: i64,
) -> Vec<crate::deprovision::Delivery> {
    use crate::deprovision::{
        LogoutPayload, Payload, ScimChange, WebhookEvent, WithdrawnEvent, leave_action,
    };
    let person = crate::deprovision::person(state, app, user, None);
    let mut out = Vec::new();
    if app.backchannel_logout_uri.is_some() {
        out.push(row(
            app,
            user,
            format!("bcl:{why}:{}:{}", app.id, user.id),
            Payload::BackchannelLogout(LogoutPayload {
                sub: person.sub.clone(),
                sid: None,
            }),
            now,
        ));
    }
    if let Some(t) = &app.scim_target {
        out.push(row(
            app,
            user,
            format!("scim:{why}:{}:{}", app.id, user.id),
            Payload::Scim(ScimChange {
                action: leave_action(t.on_leave),
                group: None,
                user: person.clone(),
            }),
            now,
        ));
    }
    if app.webhook.is_some() {
        out.push(row(
            app,
            user,
            format!("webhook:{why}:{}:{}", app.id, user.id),
            Payload::Webhook(WebhookEvent::SpaceAccessWithdrawn(WithdrawnEvent {
                user: person,
                organization: user.org_id,
            })),
            now,
        ));
    }
    out
}

// ---- the admin API's operations

fn space_target(id: SpaceId) -> String {
    format!("space:{id}")
}

fn grant_target(id: GrantId) -> String {
    format!("space_grant:{id}")
}

/// A slug made from a display name: `Project X (2027)` -> `project-x-2027`.
fn slugify(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

fn description(value: Option<String>, errors: &mut Vec<FieldError>) -> String {
    let d = value.unwrap_or_default().trim().to_string();
    if d.chars().count() > MAX_DESCRIPTION || d.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION} characters, no control characters"),
        ));
    }
    d
}

/// The owner's applications named by `ids`; pushes what is wrong.
async fn owned_apps(
    c: &impl Conn,
    org: OrgId,
    ids: &[String],
    errors: &mut Vec<FieldError>,
) -> Result<Vec<AppId>, StoreError> {
    if ids.len() > MAX_APPS {
        errors.push(FieldError::new(
            "applications",
            format!("at most {MAX_APPS} applications"),
        ));
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for id in ids {
        let app = match id.parse::<AppId>() {
            Ok(a) => storage::applications::get(c, org, a).await?,
            Err(_) => None,
        };
        match app {
            Some(a) if !out.contains(&a.id) => out.push(a.id),
            Some(_) => {}
            None => errors.push(FieldError::new(
                "applications",
                format!("{id:?} is not an application of this organization"),
            )),
        }
    }
    out.sort();
    Ok(out)
}

pub async fn list(state: &AppState, ctx: &OrgCtx) -> Result<Vec<Space>, ServiceError> {
    Ok(storage::spaces::list(state.store.conn(), ctx.org.id).await?)
}

pub async fn get(state: &AppState, ctx: &OrgCtx, name: &str) -> Result<Space, ServiceError> {
    storage::spaces::get(state.store.conn(), ctx.org.id, name)
        .await?
        .ok_or(ServiceError::NotFound("space"))
}

pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateSpace,
) -> Result<Space, ServiceError> {
    ctx.require_admin()?;
    let mut errors = Vec::new();
    let name = validate::name("name", &input.name).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    });
    let slug = input.slug.clone().unwrap_or_else(|| slugify(&name));
    let slug = validate::slug("slug", &slug).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    });
    let description = description(input.description, &mut errors);
    let tx = state.store.begin().await?;
    let apps = owned_apps(tx.conn(), ctx.org.id, &input.applications, &mut errors).await?;
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    if storage::spaces::get(tx.conn(), ctx.org.id, &slug)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "a space with slug {slug:?} already exists in this organization"
        )));
    }
    let now = state.clock.now_ms();
    let space = Space {
        id: SpaceId::new(),
        org_id: ctx.org.id,
        slug,
        name,
        description,
        apps,
        created_at: now,
        updated_at: now,
    };
    storage::spaces::insert(tx.conn(), &space).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::SpaceCreated,
        space_target(space.id),
    )
    .org(ctx.org.id)
    .details(json!({"slug": space.slug, "name": space.name, "applications": space.apps}));
    state.commit_audited(tx, event).await?;
    Ok(space)
}

/// The partners with accepted grants among `grants`, with the people those grants name.
async fn partners(
    c: &impl Conn,
    grants: &[Grant],
) -> Result<BTreeMap<OrgId, Vec<User>>, StoreError> {
    let mut out: BTreeMap<OrgId, Vec<User>> = BTreeMap::new();
    for g in grants.iter().filter(|g| g.status == GrantStatus::Accepted) {
        let people = named_people(c, g.partner_org_id, &g.subject).await?;
        let entry = out.entry(g.partner_org_id).or_default();
        for p in people {
            if !entry.iter().any(|u| u.id == p.id) {
                entry.push(p);
            }
        }
    }
    Ok(out)
}

pub async fn update(
    state: &AppState,
    ctx: &OrgCtx,
    name: &str,
    input: UpdateSpace,
) -> Result<(Space, Settled), ServiceError> {
    ctx.require_admin()?;
    let tx = state.store.begin().await?;
    let current = storage::spaces::get(tx.conn(), ctx.org.id, name)
        .await?
        .ok_or(ServiceError::NotFound("space"))?;
    let mut errors = Vec::new();
    let mut space = current.clone();
    if let Some(n) = &input.name {
        match validate::name("name", n) {
            Ok(n) => space.name = n,
            Err(e) => errors.push(e),
        }
    }
    if input.description.is_some() {
        space.description = description(input.description, &mut errors);
    }
    if let Some(apps) = &input.applications {
        space.apps = owned_apps(tx.conn(), ctx.org.id, apps, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    space.updated_at = state.clock.now_ms();
    storage::spaces::update(tx.conn(), &space).await?;
    let removed: Vec<AppId> = current
        .apps
        .iter()
        .filter(|a| !space.apps.contains(a))
        .copied()
        .collect();
    let added: Vec<AppId> = space
        .apps
        .iter()
        .filter(|a| !current.apps.contains(a))
        .copied()
        .collect();
    let mut settled = Settled::default();
    let mut event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::SpaceUpdated,
        space_target(space.id),
    )
    .org(ctx.org.id);
    // An application added admits no partner's people until that partner accepts again: each
    // partner in force sees the change waiting for it.
    let mut awaiting = Vec::new();
    if !added.is_empty() {
        for g in storage::spaces::grants_of_space(tx.conn(), ctx.org.id, space.id).await? {
            if g.status == GrantStatus::Accepted && g.partner_org_id != ctx.org.id {
                event = event.org(g.partner_org_id);
                awaiting.push(g.id);
            }
        }
    }
    if !removed.is_empty() {
        let grants = storage::spaces::grants_of_space(tx.conn(), ctx.org.id, space.id).await?;
        for (partner, named) in partners(tx.conn(), &grants).await? {
            let why = format!("space:{}", space.id);
            let s = settle(&tx, state, &space, &removed, partner, &named, &why).await?;
            settled.people += s.people;
            settled.deliveries += s.deliveries;
            event = event.org(partner);
        }
    }
    let event = event.details(json!({"slug": space.slug, "name": space.name,
        "applications": space.apps, "applications_removed": removed,
        "applications_added": added, "grants_awaiting_consent": awaiting,
        "people_lost_access": settled.people, "deliveries_queued": settled.deliveries}));
    state.commit_audited(tx, event).await?;
    if settled.deliveries > 0 {
        crate::deprovision::wake(state);
    }
    Ok((space, settled))
}

/// Deletes a space: every grant ends, and its partners' people lose access through it.
pub async fn delete(state: &AppState, ctx: &OrgCtx, name: &str) -> Result<Settled, ServiceError> {
    ctx.require_admin()?;
    let tx = state.store.begin().await?;
    let space = storage::spaces::get(tx.conn(), ctx.org.id, name)
        .await?
        .ok_or(ServiceError::NotFound("space"))?;
    let grants = storage::spaces::grants_of_space(tx.conn(), ctx.org.id, space.id).await?;
    let named = partners(tx.conn(), &grants).await?;
    storage::spaces::delete(tx.conn(), ctx.org.id, space.id).await?;
    let mut settled = Settled::default();
    let mut event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::SpaceDeleted,
        space_target(space.id),
    )
    .org(ctx.org.id);
    for g in &grants {
        event = event.org(g.partner_org_id);
    }
    for (partner, named) in named {
        let why = format!("space:{}", space.id);
        let s = settle(&tx, state, &space, &space.apps, partner, &named, &why).await?;
        settled.people += s.people;
        settled.deliveries += s.deliveries;
    }
    let event = event.details(json!({"slug": space.slug, "grants_ended": grants.iter()
        .filter(|g| g.status.is_open()).count(),
        "people_lost_access": settled.people, "deliveries_queued": settled.deliveries}));
    state.commit_audited(tx, event).await?;
    if settled.deliveries > 0 {
        crate::deprovision::wake(state);
    }
    Ok(settled)
}
