//! Who is acting, as the domain's services take it: the caller (an admin API key, or a person
//! signed in to the console), the power it holds, its organization, and the audit actor it is
//! recorded as. Built by the edge's extractors from an API key and by the console from a
//! session; no caller is made up (a person is never passed off as a key).

use crate::audit::model::Actor;
use crate::error::ServiceError;
use crate::ids::{OrgId, UserId};
use crate::orgs::model::{ApiKey, Organization, Role};

/// Who is behind a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An admin API key: the operator's (no organization) or an organization's.
    Key(ApiKey),
    /// A person of `own_org`, signed in to the console.
    Person {
        user: UserId,
        /// When the person last signed in afresh at their IdP, for a change that needed it
        /// (the audit actor records it).
        reauthenticated_at: Option<i64>,
    },
}

/// The authenticated caller, its power and (for all but the operator) its organization,
/// already loaded to check that it is active.
#[derive(Debug, Clone)]
pub struct Principal {
    pub caller: Caller,
    pub role: Role,
    pub own_org: Option<Organization>,
}

impl Principal {
    /// An admin API key of `own_org` (`None` for the operator's).
    pub fn key(key: ApiKey, own_org: Option<Organization>) -> Self {
        Self {
            role: key.role,
            caller: Caller::Key(key),
            own_org,
        }
    }

    /// A person signed in to the console, acting in their own organization with the power of
    /// `role` (`Admin` for an org admin).
    pub fn person(org: Organization, user: UserId, role: Role) -> Self {
        Self {
            caller: Caller::Person {
                user,
                reauthenticated_at: None,
            },
            role,
            own_org: Some(org),
        }
    }

    /// Records that the person signed in afresh at `at` (for the audit actor).
    pub fn reauthenticated(&mut self, at: i64) {
        if let Caller::Person {
            reauthenticated_at, ..
        } = &mut self.caller
        {
            *reauthenticated_at = Some(at);
        }
    }

    /// The organization the caller belongs to; `None` for the operator.
    pub fn org_id(&self) -> Option<OrgId> {
        self.own_org.as_ref().map(|o| o.id)
    }

    /// An operator key: of the hub, not of an organization (it may be read-only, and limited to
    /// some organizations).
    pub fn is_operator(&self) -> bool {
        matches!(&self.caller, Caller::Key(k) if k.org_id.is_none())
    }

    /// An operator key limited to no organization: it sees every one, the whole log, and may
    /// create organizations.
    pub fn sees_all(&self) -> bool {
        matches!(&self.caller, Caller::Key(k) if k.org_id.is_none() && k.orgs.is_none())
    }

    /// The organizations an operator key is limited to (`None`: all, or not an operator key).
    pub fn operator_scope(&self) -> Option<&[OrgId]> {
        match &self.caller {
            Caller::Key(k) if k.org_id.is_none() => k.orgs.as_deref(),
            _ => None,
        }
    }

    pub fn actor(&self) -> Actor {
        match (&self.caller, &self.own_org) {
            (
                Caller::Person {
                    user,
                    reauthenticated_at,
                },
                Some(org),
            ) => Actor::User {
                org_id: org.id,
                user_id: *user,
                reauthenticated_at: *reauthenticated_at,
            },
            (Caller::Key(k), _) => match k.org_id {
                Some(org_id) => Actor::OrgKey {
                    org_id,
                    key_id: k.id,
                    key_name: k.name.clone(),
                },
                None => Actor::Operator {
                    key_id: k.id,
                    key_name: k.name.clone(),
                },
            },
            // A person always has an organization (`person` takes one).
            (Caller::Person { user, .. }, None) => Actor::System {
                component: format!("person {user} without an organization"),
            },
        }
    }

    /// The operator, with a key that may change things (not a read-only one).
    pub fn require_operator(&self) -> Result<(), ServiceError> {
        if !self.is_operator() {
            return Err(ServiceError::Forbidden("only the hub operator may do this"));
        }
        if self.role != Role::Operator {
            return Err(ServiceError::Forbidden(
                "this operator key is read-only; use one made without --read-only",
            ));
        }
        Ok(())
    }

    /// The operator with a key limited to no organization (creating organizations).
    pub fn require_whole_hub(&self) -> Result<(), ServiceError> {
        self.require_operator()?;
        if !self.sees_all() {
            return Err(ServiceError::Forbidden(
                "this operator key is limited to some organizations",
            ));
        }
        Ok(())
    }

    /// May this caller see `org` at all? Operators see every organization (or those their key
    /// is limited to); others their own.
    pub fn can_see(&self, org: OrgId) -> bool {
        if self.org_id() == Some(org) {
            return true;
        }
        self.is_operator() && self.operator_scope().is_none_or(|s| s.contains(&org))
    }
}

/// The caller acting in one organization (named by the request, visible to the caller).
#[derive(Debug, Clone)]
pub struct OrgCtx {
    pub org: Organization,
    pub principal: Principal,
}

impl OrgCtx {
    pub fn actor(&self) -> Actor {
        self.principal.actor()
    }

    /// The organization's own admin, not the operator: what consents for the organization.
    /// `why` says what the operator may not do.
    pub fn require_own_admin(&self, why: &'static str) -> Result<(), ServiceError> {
        self.require_admin()?;
        if self.principal.is_operator() {
            return Err(ServiceError::Forbidden(why));
        }
        Ok(())
    }

    /// Writes need the operator, an organization `admin` key or an org admin.
    pub fn require_admin(&self) -> Result<(), ServiceError> {
        match self.principal.role {
            Role::Operator | Role::Admin => Ok(()),
            Role::Read => Err(ServiceError::Forbidden(
                "this key is read-only; use an admin key",
            )),
        }
    }
}
