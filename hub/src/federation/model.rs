//! Connections to each organization's identity provider, and links from upstream identities to
//! hub users.

use serde::{Deserialize, Serialize};

use crate::ids::{ConnectionId, OrgId, UserId};
use crate::orgs::model::string_enum;

string_enum!(
    /// The protocol a connection speaks.
    ConnectionKind { Oidc => "oidc", Saml => "saml" }
);
string_enum!(
    /// Only active connections sign people in.
    ConnectionStatus { Active => "active", Disabled => "disabled" }
);

/// Which upstream claim carries each attribute of a hub user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    pub email: String,
    pub email_verified: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub username: String,
    pub groups: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            username: "preferred_username".into(),
            groups: "groups".into(),
        }
    }
}

/// An OpenID Connect upstream: the hub is its relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer; discovery is read from `{issuer}/.well-known/openid-configuration` and its
    /// `issuer` must equal this exactly.
    pub issuer: String,
    pub client_id: String,
    /// Scopes to ask for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: ClaimMapping,
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: ConnectionId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: ConnectionKind,
    pub status: ConnectionStatus,
    pub oidc: Option<OidcSettings>,
    /// The sealed client secret (OIDC), never shown again.
    pub secret_sealed: Option<String>,
    /// Whether a first sign-in creates the user (the organization has no directory yet).
    pub jit_provisioning: bool,
    /// Whether an email is trusted for a first link only when the upstream says it is verified.
    pub require_email_verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An upstream identity `(connection, issuer, subject)` linked to a hub user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub connection_id: ConnectionId,
    pub issuer: String,
    pub subject: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub created_at: i64,
    pub last_login_at: i64,
}

/// An upstream login in flight, bound to the browser that started it.
#[derive(Debug, Clone)]
pub struct UpstreamLogin {
    pub state_hash: String,
    pub org_id: OrgId,
    pub connection_id: ConnectionId,
    pub auth_request_id: String,
    pub browser_hash: String,
    /// The connector's own state (nonce, PKCE verifier), sealed.
    pub connector_state: String,
    pub created_at: i64,
    pub expires_at: i64,
}
