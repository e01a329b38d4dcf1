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

string_enum!(
    /// The NameID format the hub asks a SAML IdP for.
    SamlNameIdFormat { Persistent => "persistent", Email => "email" }
);

impl SamlNameIdFormat {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Persistent => connectors::saml::NAMEID_PERSISTENT,
            Self::Email => connectors::saml::NAMEID_EMAIL,
        }
    }
}

/// Which SAML attribute carries each attribute of a hub user, matched against the attribute's
/// `Name` or `FriendlyName`. The defaults are the SAML2 URI attribute profile names (eduPerson /
/// inetOrgPerson), as Shibboleth, SimpleSAMLphp and pysaml2 send them; Entra ID and Okta use
/// names such as `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress` or
/// `email`, set here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SamlAttributes {
    pub email: String,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    pub username: String,
    pub groups: String,
}

impl Default for SamlAttributes {
    fn default() -> Self {
        Self {
            email: "urn:oid:0.9.2342.19200300.100.1.3".into(),
            name: "urn:oid:2.16.840.1.113730.3.1.241".into(),
            given_name: "urn:oid:2.5.4.42".into(),
            family_name: "urn:oid:2.5.4.4".into(),
            username: "urn:oid:0.9.2342.19200300.100.1.1".into(),
            groups: "urn:oid:1.3.6.1.4.1.5923.1.5.1.1".into(),
        }
    }
}

/// A SAML 2.0 upstream: the hub is its service provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// Where the IdP publishes its metadata; read when the connection is created or updated
    /// with it, and by "test connection".
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// The IdP's metadata document (filled from `metadata_url` when that is given).
    #[serde(default)]
    pub metadata_xml: Option<String>,
    #[serde(default)]
    pub attributes: SamlAttributes,
    #[serde(default = "persistent")]
    pub name_id_format: SamlNameIdFormat,
    /// Accept IdP-initiated (unsolicited) responses. Off by default: they cannot be bound to
    /// a browser or a request, so only the replay cache stands between them and a stolen one.
    #[serde(default)]
    pub allow_unsolicited: bool,
}

fn persistent() -> SamlNameIdFormat {
    SamlNameIdFormat::Persistent
}

/// A SAML connection as stored: the settings and the hub's SP certificate for it (its private
/// key is the connection's sealed secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSaml {
    pub settings: SamlSettings,
    /// The SP signing certificate, base64 DER.
    pub sp_certificate: String,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: ConnectionId,
    pub org_id: OrgId,
    pub name: String,
    pub kind: ConnectionKind,
    pub status: ConnectionStatus,
    /// The email domains this connection serves (home-realm discovery routes them here, and
    /// its IdP may vouch only for them); empty: every verified domain of the organization.
    pub domains: Vec<String>,
    pub oidc: Option<OidcSettings>,
    pub saml: Option<StoredSaml>,
    /// The sealed client secret (OIDC) or SP signing key (SAML), never shown.
    pub secret_sealed: Option<String>,
    /// Whether a first sign-in creates the user (the organization has no directory yet).
    pub jit_provisioning: bool,
    /// Whether an email is trusted for a first link only when the upstream says it is verified.
    pub require_email_verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the organization's own admin approved the connection to link existing people by
    /// email (set at creation when that admin made it). `None` for a connection the hub
    /// operator made or last changed: it links nobody who exists until approved.
    pub links_approved_at: Option<i64>,
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

/// Why a sign-in was refused: the audit trail's words, and the page's.
pub struct Refusal {
    /// For the log and the audit trail.
    pub reason: String,
    /// For the person, naming no technical detail.
    pub page: String,
}

impl Refusal {
    pub fn new(reason: impl Into<String>, page: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            page: page.into(),
        }
    }
}
