//! Domain types of organizations and what they own: verified domains, applications, API keys.

use crate::ids::{ApiKeyId, AppId, DomainId, OrgId};

macro_rules! string_enum_impl {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok(Self::$variant),)+ _ => Err(()) }
            }
        }
    };
}

pub(crate) use string_enum_impl as string_enum;

string_enum!(
    /// Whether an organization's people and keys may act.
    OrgStatus { Active => "active", Suspended => "suspended" }
);
string_enum!(
    /// A claimed domain is pending until proven by DNS or attested by the operator.
    DomainStatus { Pending => "pending", Verified => "verified" }
);
string_enum!(
    /// How a domain was verified.
    VerificationMethod { Dns => "dns", Attestation => "attestation" }
);
string_enum!(
    /// OAuth client type (RFC 6749 §2.1).
    ClientType { Confidential => "confidential", Public => "public" }
);
string_enum!(
    /// How a client authenticates at the token endpoint (OIDC Core §9).
    TokenAuthMethod {
        ClientSecretBasic => "client_secret_basic",
        ClientSecretPost => "client_secret_post",
        PrivateKeyJwt => "private_key_jwt",
        None => "none",
    }
);
string_enum!(
    /// What an admin API key may do. `operator` keys belong to no organization.
    Role { Operator => "operator", Admin => "admin", Read => "read" }
);

string_enum!(
    /// Which `sub` an application sees (OIDC Core §8). `public`: the hub's id, for the owner's
    /// own people (people of other organizations always get a pairwise one, per owner);
    /// `pairwise`: a pairwise one for everyone, per application.
    SubjectType { Public => "public", Pairwise => "pairwise" }
);

// The enum comes from `string_enum!`, which derives no `Default`.
#[allow(clippy::derivable_impls)]
impl Default for SubjectType {
    fn default() -> Self {
        Self::Public
    }
}

/// The claims that may be released about a person, besides `sub`, `org` and `spaces`; each
/// also needs its scope (`email`, `profile`, `groups`).
pub const RELEASABLE_CLAIMS: &[&str] = &[
    "email",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "groups",
];

/// What an application may learn about a person: claim names of [`RELEASABLE_CLAIMS`] and,
/// for `groups`, which of the person's groups (display names; `*` for all, an organization's
/// own applications only). An application's policy for its own organization's people, or what
/// a space grant released of a partner's people.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Release {
    #[serde(default)]
    pub claims: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Release {
    /// An application's policy unless its admin set one: the standard profile and email claims,
    /// no groups (they are the organization's directory, not the application's business).
    pub fn own_default() -> Self {
        Self {
            claims: [
                "email",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
            ]
            .map(String::from)
            .to_vec(),
            groups: Vec::new(),
        }
    }

    pub fn has(&self, claim: &str) -> bool {
        self.claims.iter().any(|c| c == claim)
    }

    /// Whether the `groups` claim may list `group`.
    pub fn releases_group(&self, group: &str) -> bool {
        self.has("groups") && self.groups.iter().any(|g| g == "*" || g == group)
    }

    /// Everything either releases.
    pub fn union(&mut self, other: &Release) {
        self.claims.extend(other.claims.iter().cloned());
        self.groups.extend(other.groups.iter().cloned());
        self.normalize();
    }

    /// What both release.
    pub fn intersect(&self, other: &Release) -> Release {
        let mut r = Release {
            claims: self
                .claims
                .iter()
                .filter(|c| other.has(c))
                .cloned()
                .collect(),
            groups: self
                .groups
                .iter()
                .filter(|g| other.groups.contains(g))
                .cloned()
                .collect(),
        };
        r.normalize();
        r
    }

    /// Whether `self` releases everything `other` does.
    pub fn covers(&self, other: &Release) -> bool {
        other.claims.iter().all(|c| self.has(c))
            && other.groups.iter().all(|g| self.groups.contains(g))
    }

    /// Sorted, without duplicates.
    pub fn normalize(&mut self) {
        self.claims.sort();
        self.claims.dedup();
        self.groups.sort();
        self.groups.dedup();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub status: OrgStatus,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgDomain {
    pub id: DomainId,
    pub org_id: OrgId,
    pub domain: String,
    pub status: DomainStatus,
    pub method: Option<VerificationMethod>,
    /// The value the TXT record must hold; not secret (it is published in DNS).
    pub challenge: String,
    pub verified_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: AppId,
    pub org_id: OrgId,
    pub client_id: String,
    pub name: String,
    pub client_type: ClientType,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub token_endpoint_auth_method: TokenAuthMethod,
    pub id_token_alg: crate::jose::Alg,
    /// The client's public keys (a JWKS document) for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    pub post_logout_redirect_uris: Vec<String>,
    /// May use the client credentials grant (service applications).
    pub allow_client_credentials: bool,
    /// Only people admitted to one of the application's spaces may sign in (the owner's own
    /// people too). People of other organizations always need a space.
    pub spaces_required: bool,
    /// Authorization requests must carry a PKCE `code_challenge` (S256). On by default; public
    /// clients always need it whatever this says (OAuth 2.1).
    pub require_pkce: bool,
    /// Where the hub tells the application about leavers over SCIM 2.0 (outbound).
    pub scim_target: Option<ScimTarget>,
    /// Where the hub posts signed webhook events about leavers.
    pub webhook: Option<Webhook>,
    /// The `sub` the application sees for the owner's own people.
    pub subject_type: SubjectType,
    /// What the application learns about the owner's own people (partners' people: what their
    /// space grants released).
    pub release: Release,
}

/// An application's SCIM 2.0 service: the hub deactivates (or deletes) leavers there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimTarget {
    /// The SCIM base URL (`.../Users` is appended).
    pub url: String,
    /// The bearer token, sealed with the secrets key.
    pub token_sealed: String,
    /// What a leaver becomes there.
    pub on_leave: ScimOnLeave,
}

/// What outbound SCIM does with a leaver.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ScimOnLeave {
    /// `PATCH active=false` (and `active=true` on a rehire).
    #[default]
    Deactivate,
    /// `DELETE /Users/{id}`.
    Delete,
}

/// An application's webhook endpoint; events are signed with its secret (Standard Webhooks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// The signing secret (`whsec_...`), sealed with the secrets key.
    pub secret_sealed: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    /// `None` for operator keys.
    pub org_id: Option<OrgId>,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, to recognise it in lists; not enough to use it.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// When it stops working by itself (a key made under break-glass ends with its window).
    pub expires_at: Option<i64>,
    /// An operator key's scope: the only organizations it may see or act on (`None`: all).
    pub orgs: Option<Vec<OrgId>>,
}

/// An operator key to make (`hub operator create-key`).
#[derive(Debug, Clone, Default)]
pub struct NewOperatorKey {
    /// To recognise the key by.
    pub name: String,
    /// Who holds it, by email: the audit log names them with every action.
    pub person: Option<String>,
    /// When it ends by itself.
    pub expires_at: Option<i64>,
    /// It reads, and changes nothing.
    pub read_only: bool,
    /// The organizations (slugs or ids) it is limited to; empty: every organization.
    pub orgs: Vec<String>,
}

string_enum!(
    /// What the operator asked to change in an organization that has an admin of its own.
    RequestKind {
        ApiKey => "api_key.create",
        Roles => "roles.set",
        DomainAttest => "domain.attest",
        DomainRemove => "domain.remove",
        UserCreate => "user.create",
        UserUpdate => "user.update",
        DirectoryCreate => "directory.create",
        DirectoryUpdate => "directory.update",
        ScimToken => "scim_token.create"
    }
);
string_enum!(
    /// Where an operator's request stands.
    RequestStatus { Pending => "pending", Approved => "approved", Rejected => "rejected" }
);

/// A change the operator asked for, waiting for (or decided by) the organization's admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRequest {
    pub id: crate::ids::RequestId,
    pub org_id: OrgId,
    pub kind: RequestKind,
    /// The change as the operator sent it (no secret: keys are made on approval).
    pub payload: serde_json::Value,
    /// The operator's audit actor.
    pub requested_by: serde_json::Value,
    pub status: RequestStatus,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<serde_json::Value>,
}

/// A window in which the operator acts in an organization without its admin's approval: opened
/// with a reason, told to the organization at once, closed by itself, reviewed afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub id: crate::ids::RequestId,
    pub org_id: OrgId,
    pub reason: String,
    pub opened_by: serde_json::Value,
    pub opened_at: i64,
    pub ends_at: i64,
    pub reviewed_at: Option<i64>,
    pub reviewed_by: Option<serde_json::Value>,
    pub review_note: Option<String>,
}

/// The operator opens a break-glass window.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBreakGlass {
    /// Why: shown to the organization's admins at once and kept in its audit log.
    pub reason: String,
    /// How long the window stays open (1 to 24 hours, default 1).
    pub hours: Option<i64>,
}

/// The organization's admin reviews a break-glass window afterwards.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBreakGlass {
    pub note: Option<String>,
}

/// A role a person holds in their own organization, through a group.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HubRole {
    OrgAdmin,
    ComplianceOfficer,
}

impl HubRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgAdmin => "org_admin",
            Self::ComplianceOfficer => "compliance_officer",
        }
    }
}

impl std::str::FromStr for HubRole {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "org_admin" => Ok(Self::OrgAdmin),
            "compliance_officer" => Ok(Self::ComplianceOfficer),
            _ => Err(()),
        }
    }
}

/// The groups that hold each role (display names, compared exactly).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct RoleGroups {
    #[serde(default)]
    pub org_admin: Vec<String>,
    #[serde(default)]
    pub compliance_officer: Vec<String>,
}
