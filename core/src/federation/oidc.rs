//! The hub's side of OIDC connections: building the connector for a connection (discovery is
//! cached per issuer for a few minutes) and the checks of "test connection".

use connectors::ConnectorId;
use connectors::oidc::{ClaimNames, OidcConnector, OidcHttp, ProviderMeta};

use super::connections::{Check, SECRET_CONTEXT};
use super::model::{Connection, OidcSettings};
use crate::state::AppState;

pub use super::cache::MetaCache;

/// Why a connection cannot be used right now.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("the connection is not an OIDC connection")]
    NotOidc,
    #[error("the connection has no client secret")]
    NoSecret,
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Connector(#[from] connectors::ConnectorError),
}

/// The outbound client and policy, as the connector takes them.
fn http(state: &AppState) -> OidcHttp {
    OidcHttp {
        client: state.http.clone(),
        policy: state.net.clone(),
    }
}

async fn metadata(
    state: &AppState,
    issuer: &str,
) -> Result<ProviderMeta, connectors::ConnectorError> {
    if let Some(m) = state.upstream_meta.get(issuer) {
        return Ok(m);
    }
    let meta = connectors::oidc::discover(&http(state), issuer).await?;
    state.upstream_meta.put(issuer, &meta);
    Ok(meta)
}

pub fn claim_names(s: &OidcSettings) -> ClaimNames {
    let c = &s.claims;
    ClaimNames {
        email: c.email.clone(),
        email_verified: c.email_verified.clone(),
        name: c.name.clone(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        username: c.username.clone(),
        groups: c.groups.clone(),
    }
}

/// The connector for an OIDC connection, its secret opened and its provider discovered.
pub async fn connector(
    state: &AppState,
    conn: &Connection,
) -> Result<OidcConnector, ConnectionError> {
    let settings = conn.oidc.as_ref().ok_or(ConnectionError::NotOidc)?;
    let sealed = conn
        .secret_sealed
        .as_ref()
        .ok_or(ConnectionError::NoSecret)?;
    let secret = state
        .secrets
        .open(&format!("{SECRET_CONTEXT}:{}", conn.id), sealed)?;
    let meta = metadata(state, &settings.issuer).await?;
    Ok(OidcConnector::new(
        ConnectorId(conn.id.to_string()),
        http(state),
        meta,
        settings.client_id.clone(),
        secret,
        settings.scopes.clone(),
        claim_names(settings),
    ))
}

fn check(check: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        check,
        ok,
        detail: detail.into(),
    }
}

/// Reads the provider's discovery document and keys afresh and says what is wrong, if anything.
pub async fn probe(state: &AppState, s: &OidcSettings) -> Vec<Check> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        s.issuer.trim_end_matches('/')
    );
    let meta = match connectors::oidc::discover(&http(state), &s.issuer).await {
        Ok(m) => m,
        Err(e) => {
            return vec![check(
                "discovery",
                false,
                format!(
                    "could not read a valid discovery document at {url} whose issuer is exactly \
                     {:?}: {e}",
                    s.issuer
                ),
            )];
        }
    };
    state.upstream_meta.put(&s.issuer, &meta);
    let mut out = vec![check(
        "discovery",
        true,
        format!("read {url}; its issuer matches"),
    )];
    let keys = meta.jwks().keys().len();
    out.push(check(
        "signing_keys",
        keys > 0,
        if keys > 0 {
            format!("the provider publishes {keys} key(s)")
        } else {
            "the provider publishes no keys: ID tokens could not be checked".into()
        },
    ));
    let algs: Vec<String> = meta
        .id_token_signing_alg_values_supported()
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let usable = algs
        .iter()
        .any(|a| ["RS256", "PS256", "ES256", "ES384"].contains(&a.as_str()));
    out.push(check(
        "id_token_algorithms",
        usable,
        if usable {
            format!("the provider signs ID tokens with {}", algs.join(", "))
        } else {
            format!(
                "the provider signs ID tokens only with {}; the hub accepts RS256, PS256, ES256 \
                 and ES384",
                algs.join(", ")
            )
        },
    ));
    let pkce = meta
        .additional_metadata()
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|m| m.iter().any(|x| x == "S256"));
    out.push(check(
        "pkce",
        pkce,
        if pkce {
            "the provider supports PKCE with S256".to_string()
        } else {
            "the provider does not advertise PKCE S256 (code_challenge_methods_supported); \
             sign-in may still work if it ignores it"
                .to_string()
        },
    ));
    out.push(check(
        "token_endpoint",
        meta.token_endpoint().is_some(),
        match meta.token_endpoint() {
            Some(t) => format!("token endpoint {}", t.as_str()),
            None => "the provider has no token endpoint".into(),
        },
    ));
    out
}
