//! What the hub calls a connector through. A connector is a concrete type per protocol
//! (`oidc::OidcConnector`, `saml::SamlSp`, the `ldap` reads), built by the hub for a connection;
//! the one capability with two sides the hub must not confuse, verifying a posted SAML
//! response, is a trait, so the browser flow depends only on it.

use crate::error::ConnectorError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Identifier of a configured connection, unique within the hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnectorId(pub String);

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
