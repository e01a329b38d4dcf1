//! Spaces and the grants that admit another organization's people to them.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, GrantId, OrgId, SpaceId};
use crate::orgs::model::Release;

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
    /// Ended by either side (before or after acceptance), or not recertified.
    Withdrawn,
    /// Reached its expiry without both sides recertifying it.
    Expired,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
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
            "expired" => Self::Expired,
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
    /// What the owner asks to learn about the people admitted.
    pub requested: Release,
    /// What the partner's admin consented to, and for which of the space's applications.
    pub consent: Consent,
    /// How long an acceptance or a recertification holds.
    pub valid_days: Option<i64>,
    /// When access ends unless both sides recertify it first.
    pub expires_at: Option<i64>,
    /// Recertification decisions, oldest first.
    pub reviews: Vec<Review>,
}

impl Grant {
    /// What applications learn about the people admitted: what was asked and consented to
    /// (narrowing a request takes effect at once, widening waits for the partner).
    pub fn released(&self) -> Release {
        self.requested.intersect(&self.consent.release)
    }

    /// Whether the partner consented to `app` (an application added to the space later
    /// admits nobody until the partner accepts again).
    pub fn admits_at(&self, app: AppId) -> bool {
        self.consent.apps.contains(&app)
    }

    /// What an accepted grant asks beyond the partner's consent: claims and groups not
    /// consented to, applications of the space not consented for.
    pub fn widened(&self, space: &Space) -> Option<Widening> {
        if self.status != GrantStatus::Accepted {
            return None;
        }
        let claims: Vec<String> = (self.requested.claims.iter())
            .filter(|c| !self.consent.release.has(c))
            .cloned()
            .collect();
        let groups: Vec<String> = (self.requested.groups.iter())
            .filter(|g| !self.consent.release.groups.contains(g))
            .cloned()
            .collect();
        let applications: Vec<AppId> = (space.apps.iter())
            .filter(|a| !self.consent.apps.contains(a))
            .copied()
            .collect();
        (!claims.is_empty() || !groups.is_empty() || !applications.is_empty()).then_some(Widening {
            claims,
            groups,
            applications,
        })
    }

    /// Consent to exactly what the owner asks now, for the space's applications now.
    pub fn consent_now(&self, space: &Space) -> Consent {
        Consent {
            release: self.requested.clone(),
            apps: space.apps.clone(),
        }
    }

    /// When an acceptance or a renewal at `now` ends.
    pub fn expiry_after(&self, now: i64) -> i64 {
        now + self.valid_days.unwrap_or(DEFAULT_VALID_DAYS) * DAY_MS
    }

    /// Whether recertification is open: within the review window before expiry.
    pub fn in_review(&self, now: i64) -> bool {
        self.status == GrantStatus::Accepted
            && self
                .expires_at
                .is_some_and(|e| now >= e - review_window_ms(self.valid_days))
    }
}

const DAY_MS: i64 = 86_400_000;

/// How long a grant holds unless its owner says otherwise.
pub const DEFAULT_VALID_DAYS: i64 = 365;

/// How long before expiry both sides are asked to recertify: 30 days, or a quarter of a
/// shorter validity.
pub fn review_window_ms(valid_days: Option<i64>) -> i64 {
    valid_days
        .unwrap_or(DEFAULT_VALID_DAYS)
        .div_euclid(4)
        .clamp(1, 30)
        * DAY_MS
}

/// What a partner consented to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consent {
    pub release: Release,
    pub apps: Vec<AppId>,
}

/// What an owner's change asks of a partner beyond its consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Widening {
    pub claims: Vec<String>,
    pub groups: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub applications: Vec<AppId>,
}

/// One side's recertification decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// `owner` or `partner`.
    pub side: String,
    /// `keep` or `end`.
    pub decision: String,
    /// Who decided, as the audit log names them.
    pub by: String,
    pub at: i64,
}

/// A side's recertification of a grant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recertify {
    /// `keep` (access goes on for another validity period once both sides kept it) or `end`
    /// (access ends now, like a withdrawal).
    pub decision: String,
}

/// The owner changes what a grant asks.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGrant {
    /// Narrower takes effect at once; wider waits for the partner's admin to accept again.
    pub release: Option<Release>,
}

/// What an application may do with a person, as sign-in and the token endpoint ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The person may sign in to it.
    pub admitted: bool,
    /// The slugs of its spaces that admit them (the `spaces` claim).
    pub spaces: Vec<String>,
    /// What it may learn about them (each claim also needs its scope).
    pub release: Release,
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
    /// The claims (and, for `groups`, which of the partner's groups) the owner asks to learn
    /// about the people admitted; shown to the partner's admin, who accepts exactly this.
    /// Default: nothing beyond `sub`, `org` and `spaces`.
    pub release: Option<Release>,
    /// How long an acceptance holds before both sides must recertify it (default 365 days,
    /// 1 to 1095).
    pub valid_days: Option<i64>,
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
    /// The hub's id of the person: in the person's own organization's review only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The `sub` the owner's applications see for the person: in the owner's review only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// In the owner's review only if the grant released `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}
