//! Which connection signs a person in (home-realm discovery by the email's verified domain),
//! and which hub user an upstream identity stands for under the organization's rules: linked
//! already, linked now by a verified email in a verified domain, or created just in time where
//! allowed. Refusals carry the audit trail's words and the page's.

use connectors::UpstreamIdentity;
use serde_json::json;

use super::model::{Connection, ConnectionStatus, IdentityLink, Refusal};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ids::{OrgId, UserId};
use crate::orgs::model::Organization;
use crate::state::AppState;
use crate::storage::{self, StoreError};
use crate::users::{User, UserStatus};

/// What home-realm discovery decided for a sign-in.
pub enum Route {
    /// Go to this connection's IdP.
    Connection(Box<Connection>),
    /// Ask the person for their work email (several connections, no hint).
    AskEmail,
    /// The organization has no active connection.
    NoConnection,
    /// The email's domain is not one of the organization's verified domains.
    ForeignDomain(String),
}

/// The organization's active connections that can sign people in.
async fn usable(state: &AppState, org: OrgId) -> Result<Vec<Connection>, StoreError> {
    Ok(storage::connections::list(state.store.conn(), org)
        .await?
        .into_iter()
        .filter(|c| c.status == ConnectionStatus::Active)
        .collect())
}

/// Routes a sign-in for an application bound to `org`: by the email's verified domain when
/// one is known (`login_hint` or the form), otherwise straight to the only connection.
pub async fn route(state: &AppState, org: OrgId, email: Option<&str>) -> Result<Route, StoreError> {
    let conns = usable(state, org).await?;
    let Some(first) = conns.first().cloned() else {
        return Ok(Route::NoConnection);
    };
    match email.and_then(connectors::email::domain_of) {
        Some(domain) => {
            let verified = storage::domains::is_verified(state.store.conn(), org, &domain).await?;
            if !verified {
                return Ok(Route::ForeignDomain(domain));
            }
            // The connection that names the domain, else one that serves every domain.
            let chosen = conns
                .iter()
                .find(|c| c.domains.contains(&domain))
                .or_else(|| conns.iter().find(|c| c.domains.is_empty()));
            match chosen {
                Some(c) => Ok(Route::Connection(Box::new(c.clone()))),
                None => Ok(Route::NoConnection),
            }
        }
        None if conns.len() == 1 => Ok(Route::Connection(Box::new(first))),
        None => Ok(Route::AskEmail),
    }
}

/// Finds or links (or, by policy, creates) the hub user this identity stands for, under the
/// organization's rules. `Ok(Err(_))` is a refusal.
pub async fn resolve(
    state: &AppState,
    org: &Organization,
    conn: &Connection,
    identity: &UpstreamIdentity,
) -> Result<Result<User, Refusal>, crate::storage::StoreError> {
    let now = state.clock.now_ms();
    let who = &org.name;
    // An IdP vouches only for its own organization's verified domains, linked or not.
    let email = identity
        .email
        .as_deref()
        .map(|e| e.trim().to_ascii_lowercase());
    if let Some(domain) = identity.email_domain() {
        if !conn.domains.is_empty() && !conn.domains.contains(&domain) {
            return Ok(Err(Refusal::new(
                format!(
                    "the IdP asserted the email domain {domain}, which is not one of this \
                     connection's domains ({})",
                    conn.domains.join(", ")
                ),
                format!("{who}'s sign-in service vouched for an address it does not serve."),
            )));
        }
        let verified = storage::domains::is_verified(state.store.conn(), org.id, &domain).await?;
        if !verified {
            return Ok(Err(Refusal::new(
                format!(
                    "the IdP asserted the email domain {domain}, which is not a verified domain \
                     of {}",
                    org.slug
                ),
                format!("{who}'s sign-in service vouched for an address outside {who}'s domains."),
            )));
        }
    }
    // With a directory, the directory decides who belongs: only users it manages, and active
    // there, sign in; nobody is created just in time.
    let directory = storage::directories::list(state.store.conn(), org.id)
        .await?
        .into_iter()
        .find(|d| d.status == crate::directories::DirectoryStatus::Active);
    let outside_directory =
        |user: &User| {
            directory.as_ref().filter(|_| user.directory_id.is_none()).map(|d| {
            Refusal::new(
                format!(
                    "the user is not in the organization's directory ({}), its source of truth",
                    d.name
                ),
                format!("Your {who} account is not in {who}'s directory."),
            )
        })
        };
    let tx = state.store.begin().await?;
    let link = storage::connections::find_link(
        tx.conn(),
        org.id,
        conn.id,
        &identity.issuer,
        &identity.subject,
    )
    .await?;
    let inactive = || {
        Refusal::new(
            "the user is not active",
            format!("Your {who} account is not active on the hub."),
        )
    };
    if let Some(link) = link {
        let Some(user) = storage::users::get(tx.conn(), org.id, link.user_id).await? else {
            return Ok(Err(inactive()));
        };
        if user.status != UserStatus::Active {
            return Ok(Err(inactive()));
        }
        if let Some(refusal) = outside_directory(&user) {
            return Ok(Err(refusal));
        }
        storage::connections::touch_link(tx.conn(), &link, now).await?;
        tx.commit().await?;
        return Ok(Ok(user));
    }
    // First sign-in through this connection: link by email, within the organization only.
    let Some(email) = email else {
        return Ok(Err(Refusal::new(
            "the IdP asserted no email, and the identity is not linked yet",
            format!("{who}'s sign-in service did not say who you are by email."),
        )));
    };
    if conn.require_email_verified && !identity.email_verified {
        return Ok(Err(Refusal::new(
            "the IdP did not say the email is verified (required for a first link)",
            format!("{who}'s sign-in service has not verified your email address."),
        )));
    }
    let link = |user_id: UserId| IdentityLink {
        connection_id: conn.id,
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        org_id: org.id,
        user_id,
        created_at: now,
        last_login_at: now,
    };
    // A first sign-in links an existing person, or makes a new one, only through a connection
    // the organization's own admin approved: the operator cannot make an IdP that becomes
    // anyone (a new person could carry any group, the admins' included).
    if conn.links_approved_at.is_none() {
        return Ok(Err(Refusal::new(
            "the connection was made or last changed by the hub operator, and the \
             organization's admin has not approved it to link or create accounts",
            format!(
                "{who} has not yet approved this sign-in service for your account. Ask {who}'s \
                 IT administrators."
            ),
        )));
    }
    let (user, created) = match storage::users::find_by_email(tx.conn(), org.id, &email).await? {
        Some(user) => {
            if user.status != UserStatus::Active {
                return Ok(Err(inactive()));
            }
            if let Some(refusal) = outside_directory(&user) {
                return Ok(Err(refusal));
            }
            // One identity per user per connection: a second subject claiming the same email
            // does not take over the account.
            let existing = storage::connections::links_of_user(tx.conn(), org.id, user.id).await?;
            if existing.iter().any(|l| l.connection_id == conn.id) {
                return Ok(Err(Refusal::new(
                    "the email belongs to a user already linked to another subject of this connection",
                    format!("Your {who} account is linked to a different sign-in."),
                )));
            }
            (user, false)
        }
        None if directory.is_some() => {
            return Ok(Err(Refusal::new(
                format!(
                    "no user with the email {email} is in the organization's directory; \
                     just-in-time creation does not apply when a directory is the source of truth"
                ),
                format!("{who}'s directory does not list you."),
            )));
        }
        None if conn.jit_provisioning => {
            let user = jit_user(org.id, &email, identity, now);
            storage::users::insert(tx.conn(), &user).await?;
            (user, true)
        }
        None => {
            return Ok(Err(Refusal::new(
                format!("no user with the email {email} exists and just-in-time creation is off"),
                format!("{who} has not given you access to the hub yet."),
            )));
        }
    };
    let actor = Actor::User {
        org_id: org.id,
        user_id: user.id,
        reauthenticated_at: None,
    };
    if created {
        let event = AuditEvent::new(
            &actor,
            AuditAction::UserCreated,
            format!("user:{}", user.id),
        )
        .org(org.id)
        .details(json!({"email": user.email, "source": "jit", "connection": conn.name}));
        crate::audit::append(&tx, state.clock.as_ref(), event).await?;
    }
    storage::connections::insert_link(tx.conn(), &link(user.id)).await?;
    let event = AuditEvent::new(
        &actor,
        AuditAction::IdentityLinked,
        format!("user:{}", user.id),
    )
    .org(org.id)
    .details(json!({
        "connection": conn.name,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "by": "verified email",
    }));
    state.commit_audited(tx, event).await?;
    Ok(Ok(user))
}

fn jit_user(org: OrgId, email: &str, identity: &UpstreamIdentity, now: i64) -> User {
    let clip = |s: &str| s.chars().take(200).collect::<String>();
    User {
        id: UserId::new(),
        org_id: org,
        external_id: None,
        username: email.to_string(),
        email: email.to_string(),
        email_verified: identity.email_verified,
        name: identity
            .name
            .as_deref()
            .map(clip)
            .unwrap_or_else(|| email.to_string()),
        given_name: identity.given_name.as_deref().map(clip),
        family_name: identity.family_name.as_deref().map(clip),
        name_formatted: None,
        emails: Vec::new(),
        groups: identity.groups.iter().take(100).map(|g| clip(g)).collect(),
        status: UserStatus::Active,
        status_reason: None,
        created_at: now,
        updated_at: now,
        directory_id: None,
        version: 1,
        attributes: Default::default(),
    }
}
