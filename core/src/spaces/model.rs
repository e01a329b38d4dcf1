//! Spaces and the grants that admit another organization's people to them.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, GrantId, OrgId, SpaceId};

/// A shared workspace owned by one organization, served by some of its applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub id: SpaceId,
    /// The owner.
    pub org_id: OrgId,
    /// Unique in the owner; the value of the `spaces` token claim.
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The owner's applications that serve the space.
    pub apps: Vec<AppId>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a grant stands. Only `accepted` admits anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Proposed by the owner, waiting for the partner's admin.
    Pending,
    Accepted,
    /// Refused by the partner.
    Declined,
    /// Ended by either side (before or after acceptance).
    Withdrawn,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Still pending or in force: a second grant for the same people would duplicate it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Accepted)
    }
}

impl std::str::FromStr for GrantStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "declined" => Self::Declined,
            "withdrawn" => Self::Withdrawn,
            _ => return Err(()),
        })
    }
}

/// Whom of the partner organization a grant admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Everyone in the partner organization.
    Organization,
    /// The members of the partner's group with this display name (its directory's groups, or
    /// the groups an admin gave a person): the `groups` claim.
    Group(String),
    /// One person, by email address (lowercase).
    User(String),
}

impl Subject {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Group(_) => "group",
            Self::User(_) => "user",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Organization => "",
            Self::Group(g) => g,
            Self::User(u) => u,
        }
    }

    pub fn from_parts(kind: &str, value: &str) -> Option<Self> {
        Some(match kind {
            "organization" => Self::Organization,
            "group" => Self::Group(value.to_string()),
            "user" => Self::User(value.to_string()),
            _ => return None,
        })
    }

    /// Whether `user` (of the partner organization) is one of the people admitted.
    pub fn admits(&self, user: &crate::users::model::User) -> bool {
        match self {
            Self::Organization => true,
            Self::Group(g) => user.groups.iter().any(|x| x == g),
            Self::User(e) => user.email.eq_ignore_ascii_case(e),
        }
    }
}

/// One organization's people admitted to a space, once that organization accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub space_id: SpaceId,
    /// The space's owner.
    pub org_id: OrgId,
    /// Whose people it admits; its admin consents.
    pub partner_org_id: OrgId,
    pub subject: Subject,
    pub status: GrantStatus,
    pub proposed_at: i64,
    pub decided_at: Option<i64>,
    pub withdrawn_at: Option<i64>,
    /// The organization that withdrew it.
    pub withdrawn_by: Option<OrgId>,
}

/// What ending access at the applications did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Settled {
    /// People who lost access to at least one application.
    pub people: usize,
    pub deliveries: usize,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSpace {
    pub name: String,
    /// Unique in the organization; the value of the `spaces` claim. Made from the name if
    /// omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// Ids of the organization's applications that serve the space.
    #[serde(default)]
    pub applications: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpace {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the list; an application taken off it stops admitting the space's partners.
    pub applications: Option<Vec<String>>,
}

/// The people of another organization (or the owner's own) a grant would admit.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeGrant {
    /// The partner organization, by slug or id.
    pub organization: String,
    /// One of the partner's groups, by display name.
    pub group: Option<String>,
    /// One person of the partner, by email address.
    pub user: Option<String>,
}

/// Which side of a grant is acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Owner,
    Partner,
}

/// What a side does to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Decline,
    Withdraw,
}

/// One row of an access review: a person who can reach a space, and through which grant.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Admitted {
    pub space_id: String,
    pub space_slug: String,
    pub owner: String,
    pub organization: String,
    pub grant_id: String,
    pub user_id: String,
    pub email: String,
}
