//! The normalized upstream identity every login flow yields, and the opaque per-flow state.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One identity as vouched for by an upstream IdP, whatever the protocol (Ory Kratos style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamIdentity {
    /// The upstream issuer (OIDC `iss`, SAML IdP entity id, the directory's URL).
    pub issuer: String,
    /// Stable subject at the upstream (OIDC `sub`, SAML persistent NameID, LDAP objectGUID/entryUUID).
    pub subject: String,
    /// Email as asserted by the upstream, if any.
    pub email: Option<String>,
    /// Whether the upstream says it verified the email.
    pub email_verified: bool,
    /// Preferred user name, if any.
    pub username: Option<String>,
    /// Display name, if any.
    pub name: Option<String>,
    /// Given name, if any.
    pub given_name: Option<String>,
    /// Family name, if any.
    pub family_name: Option<String>,
    /// Group names asserted by the upstream.
    pub groups: Vec<String>,
    /// The raw claims or attributes, for claim mapping and the audit trail.
    pub raw_claims: BTreeMap<String, serde_json::Value>,
}

/// Why an [`UpstreamIdentity`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No subject, or an absurdly long one.
    #[error("the identity has no usable subject")]
    BadSubject,
    /// The email is not of the form `local@domain`.
    #[error("the asserted email is malformed")]
    BadEmail,
}

impl UpstreamIdentity {
    /// Checks the invariants the hub relies on before linking the identity to a user.
    pub fn validate(&self) -> Result<(), IdentityError> {
        if self.subject.trim().is_empty() || self.subject.len() > 255 {
            return Err(IdentityError::BadSubject);
        }
        if let Some(email) = &self.email
            && crate::email::Email::parse(email).is_err()
        {
            return Err(IdentityError::BadEmail);
        }
        Ok(())
    }

    /// The lower-cased (punycode) domain of the asserted email, if any.
    pub fn email_domain(&self) -> Option<String> {
        self.email
            .as_deref()
            .and_then(|e| crate::email::Email::parse(e).ok())
            .map(|e| e.domain().to_string())
    }
}

/// State a connector keeps between starting a login and its callback. Opaque to the hub, which
/// stores it bound to the browser and hands it back unchanged (Dex `ConnectorData`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectorState(Vec<u8>);

impl ConnectorState {
    /// Wraps bytes produced by a connector.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    /// The bytes, for the connector that produced them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ConnectorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectorState({} bytes)", self.0.len())
    }
}

/// Query or form parameters of a redirect callback, as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams(pub BTreeMap<String, String>);

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(subject: &str, email: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            issuer: "https://idp.example.com".into(),
            subject: subject.into(),
            email: email.map(Into::into),
            email_verified: true,
            username: None,
            name: None,
            given_name: None,
            family_name: None,
            groups: vec![],
            raw_claims: BTreeMap::new(),
        }
    }

    #[test]
    fn validate_rejects_empty_subject_and_bad_email() {
        assert_eq!(
            identity("", None).validate(),
            Err(IdentityError::BadSubject)
        );
        assert_eq!(
            identity("s", Some("nodomain")).validate(),
            Err(IdentityError::BadEmail)
        );
        assert_eq!(
            identity("s", Some("a@localhost")).validate(),
            Err(IdentityError::BadEmail)
        );
        assert_eq!(identity("s", Some("a@Example.COM")).validate(), Ok(()));
        assert_eq!(
            identity("s", Some("a@Example.COM"))
                .email_domain()
                .as_deref(),
            Some("example.com")
        );
    }
}
