//! SAML 2.0 service provider: the hub signs in people of an organization whose identity provider
//! speaks SAML. Built on `samael` (libxmlsec1 for XML signatures), with the checks samael leaves
//! to its caller:
//!
//! - **Signatures required.** IdP metadata without a signing certificate is refused (samael would
//!   then accept unsigned responses), and only SHA-2 RSA/ECDSA signatures and digests are
//!   accepted (samael's default also takes SHA-1).
//! - **A strict pre-screen** of every response before libxml2 sees it ([`prescreen_response`]):
//!   no DTD, one assertion as a direct child of the response, unique IDs, each signature over its
//!   own parent by `#ID` with only the enveloped and exclusive-c14n transforms, no comments or
//!   processing instructions. Signature-wrapping shapes are refused here; samael additionally
//!   keeps only the signed content.
//! - **Audience required**: the assertion must name this SP (samael checks it only if present).
//! - **128-bit random request IDs** (samael makes `id-{u32}`).
//! - The assertion ID and its expiry are handed back so the hub can refuse a replay.
//!
//! Parsing and verifying are CPU work in C libraries: call [`SamlSp::validate`] from a blocking
//! thread.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING, KeyDescriptor};
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;
use samael::traits::ToXml;

use async_trait::async_trait;

use crate::error::ConnectorError;
use crate::identity::UpstreamIdentity;
use crate::{ConnectorId, SamlConnector};

mod prescreen;

pub use prescreen::prescreen_response;

const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// NameID formats.
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// The email-address NameID format.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

/// The largest SAML response (decoded) the hub reads.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The largest IdP metadata document the hub reads.
pub const MAX_METADATA_BYTES: usize = 512 * 1024;
const MAX_NODES: u32 = 20_000;

/// The signature algorithms accepted from an IdP: SHA-2 only.
const ALLOWED_ALGORITHMS: [AllowedSignatureAlgorithm; 5] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
];

fn rejected(reason: impl Into<String>) -> ConnectorError {
    ConnectorError::Rejected(reason.into())
}

fn invalid(reason: impl Into<String>) -> ConnectorError {
    ConnectorError::InvalidConfig(reason.into())
}

/// Which SAML attribute carries each attribute of a hub user; matched against an attribute's
/// `Name` or its `FriendlyName`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeNames {
    /// The email address (falls back to an email-format NameID).
    pub email: String,
    /// The display name.
    pub name: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
    /// The user name.
    pub username: String,
    /// Group names (multi-valued).
    pub groups: String,
}

/// One SAML connection as the service provider sees it.
#[derive(Debug, Clone)]
pub struct SamlConfig {
    /// The hub's entity ID for this connection (also the audience the IdP must name).
    pub sp_entity_id: String,
    /// The hub's assertion consumer service URL for this connection (the only recipient).
    pub acs_url: String,
    /// The IdP's metadata document.
    pub idp_metadata_xml: String,
    /// Attribute names.
    pub attributes: AttributeNames,
    /// Whether the IdP's email attribute counts as verified.
    pub email_verified: bool,
    /// The NameID format to ask for.
    pub name_id_format: String,
}

/// The SP's signing key and self-signed certificate (published in the SP metadata).
pub struct SpCredentials {
    /// PKCS#8 DER private key.
    pub key_pkcs8_der: Vec<u8>,
    /// DER certificate.
    pub cert_der: Vec<u8>,
}

/// Generates an RSA-2048 signing key and a self-signed SHA-256 certificate valid ten years.
pub fn generate_sp_credentials(common_name: &str) -> Result<SpCredentials, ConnectorError> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let build = || -> Result<SpCredentials, openssl::error::ErrorStack> {
        let rsa = openssl::rsa::Rsa::generate(2048)?;
        let key = PKey::from_rsa(rsa)?;
        let mut name = X509NameBuilder::new()?;
        let cn: String = common_name.chars().take(64).collect();
        name.append_entry_by_text("CN", &cn)?;
        let name = name.build();
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let mut serial = BigNum::new()?;
        serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
        let serial = serial.to_asn1_integer()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (from, until) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
        b.set_not_before(&from)?;
        b.set_not_after(&until)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(SpCredentials {
            key_pkcs8_der: key.private_key_to_pkcs8()?,
            cert_der: b.build().to_der()?,
        })
    };
    build().map_err(|e| invalid(format!("could not generate the SP key: {e}")))
}

/// The SP metadata document an IdP administrator imports.
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    cert_der: &[u8],
    name_id_format: &str,
) -> Result<String, ConnectorError> {
    let sp = ServiceProvider {
        entity_id: Some(entity_id.to_string()),
        acs_url: Some(acs_url.to_string()),
        slo_url: Some(acs_url.to_string()),
        certificate: Some(cert_der.to_vec().into()),
        metadata_valid_duration: Some(chrono::Duration::days(3650)),
        ..ServiceProvider::default()
    };
    let mut md = sp
        .metadata()
        .map_err(|e| invalid(format!("SP metadata: {e}")))?;
    for d in md.sp_sso_descriptors.iter_mut().flatten() {
        // The hub signs its AuthnRequests, has no single logout, and takes no encrypted
        // assertions: publish one signing key and nothing else.
        d.authn_requests_signed = Some(true);
        d.single_logout_services = None;
        d.name_id_formats = Some(vec![name_id_format.to_string()]);
        if let Some(keys) = d.key_descriptors.as_mut() {
            keys.retain(|k: &KeyDescriptor| k.encryption_methods.is_none());
        }
    }
    md.to_string()
        .map_err(|e| invalid(format!("SP metadata: {e:?}")))
}

/// A signing certificate from IdP metadata, described for the "test connection" report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate's subject.
    pub subject: String,
    /// When it expires.
    pub not_after: String,
    /// Whether it has expired already.
    pub expired: bool,
}

/// What the hub needs from an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The IdP's entity ID (the issuer of its responses).
    pub entity_id: String,
    /// The single sign-on URL for the HTTP-Redirect binding.
    pub sso_url: String,
    /// The signing certificates.
    pub certificates: Vec<CertInfo>,
}

/// Parses strictly (no DTD, bounded size) and requires what sign-in needs: one IdP entity, an
/// HTTP-Redirect single sign-on endpoint and at least one signing certificate.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, ConnectorError> {
    let (md, _) = idp_entity(xml)?;
    let certs = signing_certs(&md)?;
    let mut certificates = Vec::new();
    for der in &certs {
        let x = openssl::x509::X509::from_der(der)
            .map_err(|_| invalid("a signing certificate in the metadata is not valid X.509"))?;
        let subject = x
            .subject_name()
            .entries()
            .filter_map(|e| e.data().to_string().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let now = openssl::asn1::Asn1Time::days_from_now(0)
            .map_err(|e| invalid(format!("clock: {e}")))?;
        certificates.push(CertInfo {
            subject,
            not_after: x.not_after().to_string(),
            expired: x.not_after() < now,
        });
    }
    let sso_url = sso_redirect_url(&md)?;
    Ok(IdpMetadata {
        entity_id: md.entity_id.clone().unwrap_or_default(),
        sso_url,
        certificates,
    })
}

fn idp_entity(xml: &str) -> Result<(EntityDescriptor, ()), ConnectorError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(invalid("the IdP metadata is larger than 512 KiB"));
    }
    let doc = strict_parse(xml).map_err(|e| invalid(format!("the IdP metadata {e}")))?;
    let root = doc.root_element();
    if !is(root, METADATA_NS, "EntityDescriptor") {
        return Err(invalid(
            "the IdP metadata must be one md:EntityDescriptor (not an aggregate)",
        ));
    }
    let md: EntityDescriptor = xml
        .parse()
        .map_err(|e| invalid(format!("the IdP metadata could not be read: {e}")))?;
    match md.entity_id.as_deref() {
        Some(id) if !id.trim().is_empty() && id.len() <= 1024 => {}
        _ => return Err(invalid("the IdP metadata has no entityID")),
    }
    if md.idp_sso_descriptors.as_ref().is_none_or(|d| d.is_empty()) {
        return Err(invalid(
            "the metadata describes no identity provider (no IDPSSODescriptor)",
        ));
    }
    Ok((md, ()))
}

fn signing_certs(md: &EntityDescriptor) -> Result<Vec<Vec<u8>>, ConnectorError> {
    let sp = ServiceProvider {
        idp_metadata: md.clone(),
        ..ServiceProvider::default()
    };
    let certs = sp
        .idp_signing_certs()
        .map_err(|_| invalid("a signing certificate in the IdP metadata is not valid base64"))?
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(invalid(
            "the IdP metadata has no signing certificate; the hub accepts only signed responses",
        ));
    }
    Ok(certs.iter().map(|c| c.der_data().to_vec()).collect())
}

fn sso_redirect_url(md: &EntityDescriptor) -> Result<String, ConnectorError> {
    md.idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
        .ok_or_else(|| {
            invalid("the IdP metadata has no single sign-on endpoint for the HTTP-Redirect binding")
        })
}

/// What a response must answer: the hub's own request, or nothing (IdP-initiated).
#[derive(Debug, Clone, Copy)]
pub enum Expected<'a> {
    /// An answer to the AuthnRequest with this ID.
    InResponseTo(&'a str),
    /// An unsolicited (IdP-initiated) response; only where the connection allows it.
    Unsolicited,
}

/// A verified SAML sign-in.
#[derive(Debug, Clone)]
pub struct SamlLogin {
    /// The normalized identity.
    pub identity: UpstreamIdentity,
    /// The assertion's ID, to refuse a replay.
    pub assertion_id: String,
    /// Until when the assertion could be accepted (the replay record must live as long).
    pub valid_until: DateTime<Utc>,
    /// When the IdP says it authenticated the person (the latest `AuthnStatement`'s
    /// `AuthnInstant`), if it says.
    pub authn_instant: Option<DateTime<Utc>>,
}

/// A SAML connection ready to sign people in.
#[derive(Clone)]
pub struct SamlSp {
    id: ConnectorId,
    config: SamlConfig,
    sp: ServiceProvider,
    key: PKey<Private>,
    sso_url: String,
    idp_entity_id: String,
}

impl std::fmt::Debug for SamlSp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlSp")
            .field("sp_entity_id", &self.config.sp_entity_id)
            .field("idp_entity_id", &self.idp_entity_id)
            .finish_non_exhaustive()
    }
}

impl SamlSp {
    /// The connection this service provider serves.
    pub fn id(&self) -> &ConnectorId {
        &self.id
    }

    /// Builds the SP from its configuration and its PKCS#8 signing key.
    pub fn new(
        id: ConnectorId,
        config: SamlConfig,
        key_pkcs8_der: &[u8],
    ) -> Result<Self, ConnectorError> {
        let (md, _) = idp_entity(&config.idp_metadata_xml)?;
        signing_certs(&md)?;
        let sso_url = sso_redirect_url(&md)?;
        let key = PKey::private_key_from_pkcs8(key_pkcs8_der)
            .map_err(|_| invalid("the SP signing key is unreadable"))?;
        let idp_entity_id = md.entity_id.clone().unwrap_or_default();
        let sp = ServiceProvider {
            entity_id: Some(config.sp_entity_id.clone()),
            acs_url: Some(config.acs_url.clone()),
            metadata_url: None,
            slo_url: None,
            idp_metadata: md,
            authn_name_id_format: Some(config.name_id_format.clone()),
            allow_idp_initiated: false,
            max_issue_delay: chrono::Duration::seconds(180),
            max_clock_skew: chrono::Duration::seconds(60),
            allowed_signature_algorithms: Some(ALLOWED_ALGORITHMS.to_vec()),
            ..ServiceProvider::default()
        };
        Ok(Self {
            id,
            config,
            sp,
            key,
            sso_url,
            idp_entity_id,
        })
    }

    /// The IdP's entity ID.
    pub fn idp_entity_id(&self) -> &str {
        &self.idp_entity_id
    }

    /// A signed HTTP-Redirect AuthnRequest carrying `relay_state`; returns the URL to send the
    /// browser to and the request ID to expect back in `InResponseTo`. With `force_authn` the
    /// IdP is asked to authenticate the person again rather than use its session (SAML Core
    /// §3.4.1 `ForceAuthn`).
    pub fn authn_request(
        &self,
        relay_state: &str,
        force_authn: bool,
    ) -> Result<(String, String), ConnectorError> {
        let request = self.request(force_authn)?;
        let url = request
            .signed_redirect(relay_state, &self.key)
            .map_err(|e| invalid(format!("AuthnRequest: {e}")))?
            .ok_or_else(|| invalid("AuthnRequest has no destination"))?;
        Ok((url.to_string(), request.id))
    }

    /// The AuthnRequest itself, with a fresh 128-bit random ID.
    fn request(&self, force_authn: bool) -> Result<samael::schema::AuthnRequest, ConnectorError> {
        let mut request = self
            .sp
            .make_authentication_request(&self.sso_url)
            .map_err(|e| invalid(format!("AuthnRequest: {e}")))?;
        if force_authn {
            request.force_authn = Some(true);
        }
        let mut raw = [0u8; 16];
        openssl::rand::rand_bytes(&mut raw).map_err(|e| invalid(format!("random: {e}")))?;
        // An xs:ID must not start with a digit.
        request.id = format!(
            "_{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        Ok(request)
    }

    /// Verifies a posted `SAMLResponse` (base64) and yields the identity. Blocking.
    pub fn validate(
        &self,
        saml_response_b64: &str,
        expected: Expected<'_>,
        now: DateTime<Utc>,
    ) -> Result<SamlLogin, ConnectorError> {
        if saml_response_b64.len() > MAX_RESPONSE_BYTES * 4 / 3 + 8 {
            return Err(rejected("the SAML response is too large"));
        }
        let compact: String = saml_response_b64
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| rejected("the SAML response is not base64"))?;
        let xml =
            std::str::from_utf8(&bytes).map_err(|_| rejected("the SAML response is not UTF-8"))?;
        prescreen_response(xml)?;
        let mut sp = self.sp.clone();
        let ids;
        let possible: Option<&[&str]> = match expected {
            Expected::InResponseTo(id) => {
                ids = [id];
                Some(&ids)
            }
            Expected::Unsolicited => {
                sp.allow_idp_initiated = true;
                None
            }
        };
        // samael's errors are not Send: keep only their words.
        let assertion = sp
            .parse_xml_response(xml, possible)
            .map_err(|e| rejected(describe(&e)))?;
        self.check_assertion(&assertion, expected, now)
    }

    fn check_assertion(
        &self,
        a: &Assertion,
        expected: Expected<'_>,
        now: DateTime<Utc>,
    ) -> Result<SamlLogin, ConnectorError> {
        let conditions = a
            .conditions
            .as_ref()
            .ok_or_else(|| rejected("the assertion has no Conditions"))?;
        let audiences = conditions.audience_restrictions.iter().flatten();
        if !audiences
            .flat_map(|r| r.audience.iter())
            .any(|aud| aud == &self.config.sp_entity_id)
        {
            return Err(rejected(format!(
                "the assertion is not for this service provider (audience is not {})",
                self.config.sp_entity_id
            )));
        }
        let subject = a
            .subject
            .as_ref()
            .ok_or_else(|| rejected("the assertion has no Subject"))?;
        let confirmations: Vec<_> = subject
            .subject_confirmations
            .iter()
            .flatten()
            .filter_map(|c| c.subject_confirmation_data.as_ref())
            .collect();
        if let Expected::Unsolicited = expected
            && confirmations.iter().any(|d| d.in_response_to.is_some())
        {
            return Err(rejected(
                "an answer to some other request arrived without its sign-in state",
            ));
        }
        let name_id = subject
            .name_id
            .as_ref()
            .ok_or_else(|| rejected("the assertion has no NameID"))?;
        let subject_value = name_id.value.trim().to_string();
        if name_id.format.as_deref() == Some(NAMEID_TRANSIENT) {
            return Err(rejected(
                "the IdP sent a transient NameID, which changes at every sign-in; configure a \
                 persistent or email NameID",
            ));
        }
        let valid_until = confirmations
            .iter()
            .filter_map(|d| d.not_on_or_after)
            .chain(conditions.not_on_or_after)
            .max()
            .unwrap_or(now + chrono::Duration::minutes(10));
        if a.id.is_empty() || a.id.len() > 256 {
            return Err(rejected("the assertion has no usable ID"));
        }

        let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for statement in a.attribute_statements.iter().flatten() {
            for attr in &statement.attributes {
                let values: Vec<String> = attr
                    .values
                    .iter()
                    .filter_map(|v| v.value.clone())
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .take(500)
                    .collect();
                for key in [attr.name.as_deref(), attr.friendly_name.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    attrs
                        .entry(key.to_string())
                        .or_default()
                        .extend(values.iter().cloned());
                }
            }
        }
        let first = |name: &str| attrs.get(name).and_then(|v| v.first()).cloned();
        let names = &self.config.attributes;
        let email = first(&names.email).or_else(|| {
            (name_id.format.as_deref() == Some(NAMEID_EMAIL)).then(|| subject_value.clone())
        });
        let raw_claims = attrs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        let identity = UpstreamIdentity {
            issuer: self.idp_entity_id.clone(),
            subject: subject_value,
            email,
            email_verified: self.config.email_verified,
            username: first(&names.username),
            name: first(&names.name),
            given_name: first(&names.given_name),
            family_name: first(&names.family_name),
            groups: attrs.get(&names.groups).cloned().unwrap_or_default(),
            raw_claims,
        };
        identity.validate()?;
        let authn_instant = a
            .authn_statements
            .iter()
            .flatten()
            .filter_map(|s| s.authn_instant)
            .max();
        Ok(SamlLogin {
            identity,
            assertion_id: a.id.clone(),
            valid_until,
            authn_instant,
        })
    }
}

#[async_trait]
impl SamlConnector for SamlSp {
    fn login_url(&self, relay_state: &str) -> Result<(String, String), ConnectorError> {
        self.authn_request(relay_state, false)
    }

    async fn handle_post(
        &self,
        saml_response: &str,
        in_response_to: Option<&str>,
    ) -> Result<SamlLogin, ConnectorError> {
        let sp = self.clone();
        let response = saml_response.to_string();
        let expected_id = in_response_to.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let expected = match &expected_id {
                Some(id) => Expected::InResponseTo(id),
                None => Expected::Unsolicited,
            };
            sp.validate(&response, expected, Utc::now())
        })
        .await
        .map_err(|_| rejected("the SAML response could not be processed"))?
    }
}

/// Plain words for samael's errors (which keep the detail in their `Display`).
fn describe(e: &samael::service_provider::Error) -> String {
    use samael::service_provider::Error as E;
    match e {
        E::FailedToValidateSignature => {
            "the signature does not verify with the IdP's certificate (tampered, or signed by \
             another key)"
                .into()
        }
        E::AssertionConditionAudienceRestrictionFailed { requirement } => {
            format!(
                "the assertion is not for this service provider (audience is not {requirement})"
            )
        }
        E::DestinationValidationError {
            response_destination,
            ..
        } => {
            format!("the response is addressed to {response_destination:?}, not to this connection")
        }
        E::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => format!("the assertion's recipient is {assertion_recipient:?}, not this connection"),
        E::ResponseInResponseToInvalid { .. } | E::AssertionInResponseToInvalid { .. } => {
            "the response does not answer the request the hub sent (InResponseTo)".into()
        }
        E::AssertionExpired { .. }
        | E::ResponseExpired { .. }
        | E::AssertionConditionExpired { .. }
        | E::AssertionSubjectConfirmationExpired { .. } => {
            format!("the response has expired: {e}")
        }
        other => other.to_string(),
    }
}

fn strict_parse(xml: &str) -> Result<roxmltree::Document<'_>, String> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(xml, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => "contains a DTD, which is not allowed".to_string(),
        other => format!("is not well-formed XML ({other})"),
    })
}

fn is(n: roxmltree::Node<'_, '_>, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().namespace() == Some(ns) && n.tag_name().name() == name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_without_a_signing_certificate_is_refused() {
        let md = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/md"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
        let err = parse_idp_metadata(md)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            err.as_ref()
                .is_err_and(|e| e.contains("no signing certificate")),
            "{err:?}"
        );
    }

    #[test]
    fn request_ids_are_128_bit_random_and_signed() -> Result<(), ConnectorError> {
        let creds = generate_sp_credentials("sp")?;
        let cert = STANDARD.encode(&creds.cert_der);
        let md = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/md"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        let info = parse_idp_metadata(&md)?;
        assert_eq!(info.sso_url, "https://idp.example/sso");
        assert_eq!(info.certificates.len(), 1);
        let sp = SamlSp::new(
            ConnectorId("c".into()),
            SamlConfig {
                sp_entity_id: "https://hub.example/saml/x/metadata".into(),
                acs_url: "https://hub.example/saml/x/acs".into(),
                idp_metadata_xml: md,
                attributes: AttributeNames {
                    email: "mail".into(),
                    name: "displayName".into(),
                    given_name: "givenName".into(),
                    family_name: "sn".into(),
                    username: "uid".into(),
                    groups: "isMemberOf".into(),
                },
                email_verified: true,
                name_id_format: NAMEID_PERSISTENT.into(),
            },
            &creds.key_pkcs8_der,
        )?;
        let (url, id) = sp.authn_request("relay", false)?;
        let (url2, id2) = sp.authn_request("relay", true)?;
        assert_eq!(id.len(), 33);
        assert_ne!(id, id2);
        assert_ne!(url, url2);
        assert!(
            url.contains("SigAlg=")
                && url.contains("Signature=")
                && url.contains("RelayState=relay")
        );
        use samael::traits::ToXml;
        let xml = |force| -> Result<String, ConnectorError> {
            let r = sp.request(force)?;
            r.to_string().map_err(|e| invalid(e.to_string()))
        };
        assert!(xml(true)?.contains("ForceAuthn=\"true\""), "{}", xml(true)?);
        assert!(!xml(false)?.contains("ForceAuthn=\"true\""));
        let spmd = sp_metadata(
            "https://hub.example/saml/x/metadata",
            "https://hub.example/saml/x/acs",
            &creds.cert_der,
            NAMEID_PERSISTENT,
        )?;
        assert!(spmd.contains("AuthnRequestsSigned=\"true\""), "{spmd}");
        Ok(())
    }
}
