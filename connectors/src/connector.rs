//! Capability traits: a connector says what it can do through the type system (Dex's design,
//! minus `*http.Request`). There is no empty interface and no runtime "unsupported" default.

use crate::error::ConnectorError;
use crate::identity::{CallbackParams, ConnectorState, Scopes, UpstreamIdentity};
use crate::secret::SecretString;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Identifier of a configured connection, unique within the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnectorId(pub String);

/// Which kind of upstream a connection is; each variant carries its own typed configuration.
/// The OIDC, SAML and LDAP configurations are filled in by the issues that implement them; until
/// then the raw settings may hold secrets, so `Debug` shows only the kind.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "lowercase")]
pub enum ConnectorConfig {
    /// OpenID Connect relying party.
    Oidc(serde_json::Map<String, serde_json::Value>),
    /// SAML 2.0 service provider.
    Saml(serde_json::Map<String, serde_json::Value>),
    /// LDAP / Active Directory.
    Ldap(serde_json::Map<String, serde_json::Value>),
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Oidc(_) => "Oidc",
            Self::Saml(_) => "Saml",
            Self::Ldap(_) => "Ldap",
        };
        write!(f, "ConnectorConfig::{kind}(..)")
    }
}

/// A configured upstream connection.
pub trait Connector: Send + Sync {
    /// The connection's identifier.
    fn id(&self) -> &ConnectorId;
    /// How a person signs in through this connection.
    fn login(&self) -> Login<'_>;
    /// Refresh support, if the upstream offers it.
    fn refresh(&self) -> Option<&dyn RefreshConnector> {
        None
    }
    /// Directory reads (LDAP sync), if the connection is also a directory.
    fn directory(&self) -> Option<&dyn DirectorySource> {
        None
    }
    /// Upstream logout, if supported.
    fn logout(&self) -> Option<&dyn LogoutConnector> {
        None
    }
}

/// The login shape of a connection; matched exhaustively by the hub.
pub enum Login<'a> {
    /// Browser redirect to the IdP and back (OIDC).
    Redirect(&'a dyn RedirectConnector),
    /// SAML HTTP-Redirect request, HTTP-POST response.
    SamlPost(&'a dyn SamlConnector),
    /// Username and password checked by the hub against the upstream (LDAP bind).
    Password(&'a dyn PasswordConnector),
}

/// Redirect-based login (OIDC authorization code).
#[async_trait]
pub trait RedirectConnector: Send + Sync {
    /// Builds the upstream authorization URL carrying the hub's `state`, and the connector's
    /// own state to keep until the callback.
    async fn login_url(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        state: &str,
    ) -> Result<(String, ConnectorState), ConnectorError>;
    /// Completes the login from the callback parameters.
    async fn handle_callback(
        &self,
        scopes: &Scopes,
        callback_url: &str,
        state: &ConnectorState,
        params: &CallbackParams,
    ) -> Result<UpstreamIdentity, ConnectorError>;
}

/// SAML login: HTTP-Redirect AuthnRequest, HTTP-POST response.
#[async_trait]
pub trait SamlConnector: Send + Sync {
    /// Builds the signed AuthnRequest redirect URL carrying `relay_state`, and the request ID
    /// to expect back in `InResponseTo`.
    fn login_url(&self, relay_state: &str) -> Result<(String, String), ConnectorError>;
    /// Verifies a posted `SAMLResponse` (base64): an answer to `in_response_to`, or, with
    /// `None`, an unsolicited response.
    async fn handle_post(
        &self,
        saml_response: &str,
        in_response_to: Option<&str>,
    ) -> Result<crate::saml::SamlLogin, ConnectorError>;
}

/// Password login against the upstream.
#[async_trait]
pub trait PasswordConnector: Send + Sync {
    /// Checks the credentials; `Ok(None)` means wrong credentials.
    async fn login(
        &self,
        scopes: &Scopes,
        username: &str,
        password: &SecretString,
    ) -> Result<Option<UpstreamIdentity>, ConnectorError>;
}

/// Refreshing an identity from the upstream.
#[async_trait]
pub trait RefreshConnector: Send + Sync {
    /// Re-reads the identity; an error means the upstream no longer vouches for it.
    async fn refresh(
        &self,
        scopes: &Scopes,
        identity: &UpstreamIdentity,
    ) -> Result<UpstreamIdentity, ConnectorError>;
}

/// Reading a directory (users and groups) for sync.
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// Reads every user the directory holds.
    async fn read_users(&self) -> Result<Vec<UpstreamIdentity>, ConnectorError>;
}

/// Ending the upstream session.
#[async_trait]
pub trait LogoutConnector: Send + Sync {
    /// Where to send the browser to end the upstream session, if anywhere.
    async fn logout_url(
        &self,
        identity: &UpstreamIdentity,
    ) -> Result<Option<String>, ConnectorError>;
}
