//! The hub's side of SAML connections: the per-connection service provider (entity ID,
//! assertion consumer service URL, its signing key) and the checks of "test connection". The
//! browser flow (metadata, AuthnRequest, ACS) is `crate::login::saml`.
//!
//! Each connection is its own SP (`{public_url}/saml/{id}/metadata` is its entity ID and the
//! audience its IdP must name), so a response meant for one organization cannot be spent at
//! another.

use axum::http::header;
use connectors::ConnectorId;
use connectors::saml::{AttributeNames, SamlConfig, SamlSp};

use super::connections::Check;
use super::model::{Connection, SamlSettings, StoredSaml};
use crate::ids::ConnectionId;
use crate::state::AppState;

/// The sealing context of each connection's SP signing key (`:{connection id}` appended).
pub const KEY_CONTEXT: &str = "connection.sp_key";
fn base(state: &AppState) -> &str {
    state.config.server.public_url.trim_end_matches('/')
}

/// The SP entity ID of a connection (also where its metadata is served).
pub fn sp_entity_id(state: &AppState, id: ConnectionId) -> String {
    format!("{}/saml/{id}/metadata", base(state))
}

/// The assertion consumer service URL of a connection.
pub fn acs_url(state: &AppState, id: ConnectionId) -> String {
    format!("{}/saml/{id}/acs", base(state))
}

/// Reads IdP metadata from `url` through the outbound client (address policy, no redirects,
/// bounded size).
pub async fn fetch_metadata(state: &AppState, url: &str) -> Result<String, String> {
    crate::outbound::check(&state.net, url).map_err(|e| e.to_string())?;
    let unreadable = |e: reqwest::Error| {
        format!(
            "could not read {url}: {}",
            crate::outbound::describe_http_error(&e)
        )
    };
    let mut response = state
        .http
        .get(url)
        .header(
            header::ACCEPT,
            "application/samlmetadata+xml, application/xml",
        )
        .send()
        .await
        .map_err(unreadable)?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unreadable)? {
        body.extend_from_slice(&chunk);
        if body.len() > connectors::saml::MAX_METADATA_BYTES {
            return Err(format!("{url} is larger than 512 KiB"));
        }
    }
    String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8 text"))
}

fn attribute_names(s: &SamlSettings) -> AttributeNames {
    let a = &s.attributes;
    AttributeNames {
        email: a.email.clone(),
        name: a.name.clone(),
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        username: a.username.clone(),
        groups: a.groups.clone(),
    }
}

/// The service provider for a SAML connection, its signing key opened.
pub fn connector(state: &AppState, conn: &Connection) -> Result<SamlSp, String> {
    let saml = conn.saml.as_ref().ok_or("not a SAML connection")?;
    let sealed = conn
        .secret_sealed
        .as_ref()
        .ok_or("the connection has no SP key")?;
    let key = state
        .secrets
        .open_bytes(&format!("{KEY_CONTEXT}:{}", conn.id), sealed)
        .map_err(|e| e.to_string())?;
    let config = SamlConfig {
        sp_entity_id: sp_entity_id(state, conn.id),
        acs_url: acs_url(state, conn.id),
        idp_metadata_xml: saml.settings.metadata_xml.clone().unwrap_or_default(),
        attributes: attribute_names(&saml.settings),
        email_verified: true,
        name_id_format: saml.settings.name_id_format.uri().to_string(),
    };
    SamlSp::new(ConnectorId(conn.id.to_string()), config, &key).map_err(|e| e.to_string())
}

fn check(check: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        check,
        ok,
        detail: detail.into(),
    }
}

/// Reads the IdP metadata (afresh from its URL, if it has one) and says what is wrong, if
/// anything.
pub async fn probe(state: &AppState, conn: &Connection, saml: &StoredSaml) -> Vec<Check> {
    let mut out = Vec::new();
    let xml = match (&saml.settings.metadata_url, &saml.settings.metadata_xml) {
        (Some(url), _) => match fetch_metadata(state, url).await {
            Ok(x) => {
                out.push(check(
                    "metadata",
                    true,
                    format!("read the IdP metadata at {url}"),
                ));
                x
            }
            Err(e) => {
                out.push(check("metadata", false, e));
                return out;
            }
        },
        (None, Some(x)) => x.clone(),
        (None, None) => {
            out.push(check("metadata", false, "no IdP metadata is stored"));
            return out;
        }
    };
    match connectors::saml::parse_idp_metadata(&xml) {
        Ok(md) => {
            out.push(check(
                "idp",
                true,
                format!(
                    "the IdP is {} and signs people in at {}",
                    md.entity_id, md.sso_url
                ),
            ));
            for c in &md.certificates {
                out.push(check(
                    "signing_certificate",
                    !c.expired,
                    if c.expired {
                        format!("the certificate {} expired on {}", c.subject, c.not_after)
                    } else {
                        format!(
                            "the certificate {} is valid until {}",
                            c.subject, c.not_after
                        )
                    },
                ));
            }
            if saml.settings.metadata_url.is_some()
                && saml.settings.metadata_xml.as_deref() != Some(xml.as_str())
            {
                out.push(check(
                    "metadata_current",
                    false,
                    "the IdP's metadata changed since the hub stored it; update the connection \
                     to take the new metadata",
                ));
            }
        }
        Err(e) => out.push(check("idp", false, e.to_string())),
    }
    if let Err(e) = connector(state, conn) {
        out.push(check("sp_key", false, e));
    } else {
        out.push(check(
            "service_provider",
            true,
            format!(
                "give the IdP the hub's metadata at {}",
                sp_entity_id(state, conn.id)
            ),
        ));
    }
    out
}
