//! What an application learns about a person. Its `sub`: the hub's id of the person for its
//! own organization's people (unless the application asks for pairwise subjects), and a
//! pairwise one otherwise (OIDC Core §8.1), per owner organization for people of another
//! organization, so unrelated companies cannot join their records on it. Its claims: for its
//! own organization's people, the application's claim policy; for another organization's, the
//! union of what the accepted grants admitting them there released, and nothing else of their
//! directory.

use super::model::Grant;
use crate::ids::{OrgId, UserId};
use crate::orgs::model::{Application, Release, SubjectType};
use crate::state::AppState;
use crate::storage::{self, Conn, StoreError};
use crate::users::User;

/// The sector of pairwise subjects `app` sees for people of `user_org`, if pairwise.
pub fn sector(app: &Application, user_org: OrgId) -> Option<String> {
    if app.subject_type == SubjectType::Pairwise {
        Some(format!("app:{}", app.id))
    } else if user_org != app.org_id {
        Some(owner_sector(app.org_id))
    } else {
        None
    }
}

/// The sector of the subjects an owner's (public-subject) applications see for other
/// organizations' people.
fn owner_sector(owner: OrgId) -> String {
    format!("org:{owner}")
}

/// The `sub` the (public-subject) applications of `owner` see for another organization's
/// person `user`.
pub fn partner_subject(state: &AppState, owner: OrgId, user: UserId) -> String {
    state
        .secrets
        .pairwise(&owner_sector(owner), &user.to_string())
}

/// The `sub` `app` sees for the person `user` of `user_org`. The hub's id of a person never
/// changes (a rehire keeps it), so neither does a pairwise subject.
pub fn subject(state: &AppState, app: &Application, user_org: OrgId, user: UserId) -> String {
    match sector(app, user_org) {
        Some(s) => state.secrets.pairwise(&s, &user.to_string()),
        None => user.to_string(),
    }
}

/// The `sub` `app` sees for `user`, remembered so that a token naming it finds the person.
pub async fn remember(
    c: &impl Conn,
    state: &AppState,
    app: &Application,
    user: &User,
) -> Result<String, StoreError> {
    let sub = subject(state, app, user.org_id, user.id);
    if let Some(s) = sector(app, user.org_id) {
        storage::subjects::remember(c, &s, &sub, user.org_id, user.id, state.clock.now_ms())
            .await?;
    }
    Ok(sub)
}

/// The person a `sub` that `app` was given names: the organization and the hub's id.
pub async fn resolve(
    c: &impl Conn,
    app: &Application,
    sub: &str,
) -> Result<Option<(OrgId, UserId)>, StoreError> {
    if app.subject_type == SubjectType::Public
        && let Ok(user) = sub.parse::<UserId>()
    {
        // A public subject is only ever one of the owner's own people.
        return Ok(Some((app.org_id, user)));
    }
    let candidate = match app.subject_type {
        SubjectType::Pairwise => format!("app:{}", app.id),
        SubjectType::Public => owner_sector(app.org_id),
    };
    Ok(storage::subjects::find(c, &candidate, sub)
        .await?
        .filter(|(org, _)| sector(app, *org).as_deref() == Some(candidate.as_str())))
}

/// What `app` may learn about `user`, given the grants that admit them there (each claim also
/// needs its scope): its own policy for its organization's people, else what those grants
/// released, together.
pub fn released(app: &Application, user: &User, grants: &[Grant]) -> Release {
    if user.org_id == app.org_id {
        return app.release.clone();
    }
    let mut out = Release::default();
    for g in grants {
        out.union(&g.released());
    }
    out
}

/// The groups of `user` that `release` lets an application see.
pub fn groups(user: &User, release: &Release) -> Vec<String> {
    user.groups
        .iter()
        .filter(|g| release.releases_group(g))
        .cloned()
        .collect()
}
