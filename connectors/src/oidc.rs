//! OpenID Connect relying party (`openidconnect`): discovery with an exact issuer check, code
//! flow with PKCE S256 and a nonce, the RFC 9207 `iss` callback parameter, ID tokens limited to
//! RS256/ES256 (never `none` or HMAC), exact issuer and audience, and a bounded clock skew.
//!
//! The `state` is the hub's: it generates it, binds it to the browser, and finds the login by it
//! before calling [`OidcConnector::handle_callback`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::ConnectorId;
use crate::error::ConnectorError;
use crate::identity::{CallbackParams, ConnectorState, UpstreamIdentity};
use crate::secret::SecretString;

/// ID token signature algorithms accepted from an upstream, whatever its metadata advertises.
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 4] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// Clock skew tolerated on `exp` and `iat`.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Largest body read from an upstream (discovery, keys, token response).
const MAX_BODY: usize = 1 << 20;

/// Claims outside the standard set the hub reads: everything, for claim mapping.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims(serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for ExtraClaims {}

/// The RFC 9207 flag, which `openidconnect` does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMeta {
    /// Whether the provider sends `iss` with the authorization response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// PKCE methods the provider supports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}
impl AdditionalProviderMetadata for ExtraMeta {}

/// A provider's discovery document (with its keys).
pub type ProviderMeta = ProviderMetadata<
    ExtraMeta,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
type IdFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type TokenResp = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResp,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The HTTP client the connector talks to the upstream with: the hub's outbound client (no
/// redirects, timeouts, address policy enforced on the connected address) and the policy, which
/// every request's URL is checked against first (IP literals, `localhost`, plain http). Bodies
/// are capped.
#[derive(Clone)]
pub struct OidcHttp {
    /// A client built by [`crate::net::http_client`].
    pub client: reqwest::Client,
    /// The policy that client enforces.
    pub policy: std::sync::Arc<crate::net::AddressPolicy>,
}

/// An upstream HTTP failure.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Transport or protocol failure.
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    /// The body is larger than the connector accepts.
    #[error("the response body exceeds {0} bytes")]
    TooLarge(usize),
    /// The address policy refused the destination, or nothing answered there.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
}

async fn send(http: &OidcHttp, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    let req = reqwest::Request::try_from(req)?;
    http.policy.check_url(req.url())?;
    let mut resp = http
        .client
        .execute(req)
        .await
        .map_err(|e| crate::net::classify_http_error(&e))?;
    let mut out = HttpResponse::new(Vec::new());
    *out.status_mut() = resp.status();
    *out.version_mut() = resp.version();
    *out.headers_mut() = std::mem::take(resp.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| crate::net::classify_http_error(&e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError::TooLarge(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    *out.body_mut() = body;
    Ok(out)
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;
    fn call(&'c self, req: HttpRequest) -> Self::Future {
        Box::pin(send(self, req))
    }
}

/// Reads `{issuer}/.well-known/openid-configuration` and the keys it names. The document's
/// `issuer` must equal `issuer` exactly.
pub async fn discover(http: &OidcHttp, issuer: &str) -> Result<ProviderMeta, ConnectorError> {
    let url = IssuerUrl::new(issuer.to_owned())
        .map_err(|e| ConnectorError::InvalidConfig(format!("issuer is not a URL: {e}")))?;
    let meta = ProviderMeta::discover_async(url, http)
        .await
        .map_err(|e| ConnectorError::Upstream(describe(&e)))?;
    check_endpoints(&http.policy, &meta)?;
    Ok(meta)
}

/// Every endpoint a discovery document names must be callable under the address policy (https,
/// not internal), whether the hub calls it or sends a browser there: a document cannot point
/// the hub's requests, or its client secret, anywhere else.
fn check_endpoints(
    policy: &crate::net::AddressPolicy,
    meta: &ProviderMeta,
) -> Result<(), ConnectorError> {
    let mut named: Vec<(&str, &url::Url)> = vec![
        (
            "authorization_endpoint",
            meta.authorization_endpoint().url(),
        ),
        ("jwks_uri", meta.jwks_uri().url()),
    ];
    if let Some(t) = meta.token_endpoint() {
        named.push(("token_endpoint", t.url()));
    }
    if let Some(u) = meta.userinfo_endpoint() {
        named.push(("userinfo_endpoint", u.url()));
    }
    if let Some(r) = meta.registration_endpoint() {
        named.push(("registration_endpoint", r.url()));
    }
    for (name, url) in named {
        policy.check_url(url).map_err(|e| {
            ConnectorError::Rejected(format!("the discovery document's {name} {url}: {e}"))
        })?;
    }
    Ok(())
}

/// An error and its sources on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Which upstream claim carries each attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// Email claim.
    pub email: String,
    /// Email-verified claim (boolean, or the strings "true"/"false").
    pub email_verified: String,
    /// Display name claim.
    pub name: String,
    /// Given name claim.
    pub given_name: String,
    /// Family name claim.
    pub family_name: String,
    /// Username claim.
    pub username: String,
    /// Groups claim (a list of strings, or one string).
    pub groups: String,
}

/// An OIDC connection, ready to sign people in: settings plus the provider's metadata.
pub struct OidcConnector {
    id: ConnectorId,
    http: OidcHttp,
    meta: ProviderMeta,
    client_id: String,
    client_secret: SecretString,
    scopes: Vec<String>,
    claims: ClaimNames,
}

/// What the connector keeps between the redirect and the callback.
#[derive(Serialize, Deserialize)]
struct FlowState {
    nonce: String,
    pkce_verifier: String,
    /// For a sign-in that must be a fresh authentication: when it started (Unix seconds). The
    /// ID token's `auth_time`, if any, must not be older (OIDC Core §3.1.2.1 `max_age`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fresh_since: Option<i64>,
}

/// Whether a sign-in may use the person's session at the provider or must authenticate them
/// again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The provider may answer from its own session (single sign-on).
    Any,
    /// The provider must authenticate the person again (`prompt=login`, `max_age=0`); an
    /// `auth_time` older than the start of this sign-in is refused.
    Fresh,
}

impl OidcConnector {
    /// A connector over metadata already discovered (see [`discover`]).
    pub fn new(
        id: ConnectorId,
        http: OidcHttp,
        meta: ProviderMeta,
        client_id: String,
        client_secret: SecretString,
        scopes: Vec<String>,
        claims: ClaimNames,
    ) -> Self {
        Self {
            id,
            http,
            meta,
            client_id,
            client_secret,
            scopes,
            claims,
        }
    }

    /// The connection this connector serves.
    pub fn id(&self) -> &ConnectorId {
        &self.id
    }

    /// The provider's issuer.
    pub fn issuer(&self) -> &str {
        self.meta.issuer().as_str()
    }

    fn client(&self, callback_url: &str) -> Result<OidcClient, ConnectorError> {
        let redirect = RedirectUrl::new(callback_url.to_owned())
            .map_err(|e| ConnectorError::InvalidConfig(format!("callback URL: {e}")))?;
        Ok(OidcClient::from_provider_metadata(
            self.meta.clone(),
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// Builds the authorization URL carrying the hub's `state`; with [`Freshness::Fresh`] it
    /// asks the provider to authenticate the person again (OIDC Core §3.1.2.1 `prompt=login`
    /// and `max_age=0`).
    pub fn authorization_url(
        &self,
        callback_url: &str,
        state: &str,
        login_hint: Option<&str>,
        freshness: Freshness,
    ) -> Result<(String, ConnectorState), ConnectorError> {
        let client = self.client(callback_url)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let csrf = state.to_owned();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(csrf),
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for s in &self.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let fresh_since = match freshness {
            Freshness::Any => None,
            Freshness::Fresh => {
                request = request
                    .add_prompt(CoreAuthPrompt::Login)
                    .set_max_age(Duration::ZERO);
                Some(Utc::now().timestamp())
            }
        };
        let (url, _, nonce) = request.url();
        let flow = FlowState {
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            fresh_since,
        };
        let bytes = serde_json::to_vec(&flow)
            .map_err(|e| ConnectorError::InvalidConfig(format!("flow state: {e}")))?;
        Ok((url.to_string(), ConnectorState::new(bytes)))
    }

    /// RFC 9207: an `iss` in the callback must be this provider's; a provider that says it
    /// sends one must send it.
    fn check_callback_iss(&self, iss: Option<&String>) -> Result<(), ConnectorError> {
        let required = self
            .meta
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true);
        match iss {
            Some(i) if i == self.meta.issuer().as_str() => Ok(()),
            Some(i) => Err(ConnectorError::Rejected(format!(
                "the callback's iss {i:?} is not this provider's issuer (mix-up)"
            ))),
            None if required => Err(ConnectorError::Rejected(
                "the callback has no iss although the provider sends one".into(),
            )),
            None => Ok(()),
        }
    }

    fn identity(&self, claims: serde_json::Value) -> Result<UpstreamIdentity, ConnectorError> {
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let subject = text("sub").ok_or_else(|| ConnectorError::Rejected("no sub".into()))?;
        let issuer = text("iss").ok_or_else(|| ConnectorError::Rejected("no iss".into()))?;
        let email_verified = match claims.get(&self.claims.email_verified) {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        let groups = match claims.get(&self.claims.groups) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let raw_claims = match &claims {
            serde_json::Value::Object(m) => m.clone().into_iter().collect(),
            _ => Default::default(),
        };
        let identity = UpstreamIdentity {
            issuer,
            subject,
            email: text(&self.claims.email),
            email_verified,
            username: text(&self.claims.username),
            name: text(&self.claims.name),
            given_name: text(&self.claims.given_name),
            family_name: text(&self.claims.family_name),
            groups,
            raw_claims,
        };
        identity.validate()?;
        Ok(identity)
    }

    /// Exchanges the code and validates the ID token (signature, algorithm, issuer, audience,
    /// expiry with [`CLOCK_SKEW`], nonce, and for a fresh sign-in an `auth_time` not before it
    /// started); merges in UserInfo claims when the provider has it.
    pub async fn complete(
        &self,
        callback_url: &str,
        flow: &ConnectorState,
        params: &CallbackParams,
    ) -> Result<UpstreamIdentity, ConnectorError> {
        self.check_callback_iss(params.0.get("iss"))?;
        if let Some(error) = params.0.get("error") {
            let description = params
                .0
                .get("error_description")
                .cloned()
                .unwrap_or_default();
            return Err(ConnectorError::Upstream(format!(
                "the provider answered {error}: {description}"
            )));
        }
        let code = params
            .0
            .get("code")
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or_else(|| ConnectorError::Rejected("the callback has no code".into()))?;
        let flow: FlowState = serde_json::from_slice(flow.as_bytes())
            .map_err(|_| ConnectorError::Rejected("unreadable flow state".into()))?;
        let client = self.client(callback_url)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .map_err(|e| ConnectorError::InvalidConfig(describe(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| ConnectorError::Upstream(format!("token exchange: {}", describe(&e))))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| ConnectorError::Rejected("the token response has no ID token".into()))?;
        let skew = chrono::Duration::from_std(CLOCK_SKEW).unwrap_or_default();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_time_fn(move || Utc::now() - skew)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > Utc::now() + skew {
                    Err("the ID token was issued in the future".into())
                } else {
                    Ok(())
                }
            })
            .set_auth_time_verifier_fn(move |at| fresh_enough(flow.fresh_since, at));
        let claims = id_token
            .claims(&verifier, &Nonce::new(flow.nonce))
            .map_err(|e| ConnectorError::Rejected(format!("ID token: {}", describe(&e))))?;
        let value = serde_json::to_value(claims)
            .map_err(|e| ConnectorError::Rejected(format!("ID token claims: {e}")))?;
        self.identity(value)
    }
}

/// A fresh sign-in's `auth_time`, when the provider gives one, must not be older than the
/// moment the sign-in started (less [`CLOCK_SKEW`]): a provider that answered from an older
/// session did not authenticate the person again. Whether an absent `auth_time` is enough is
/// the caller's decision (the claim is in the identity's raw claims when present).
fn fresh_enough(fresh_since: Option<i64>, at: Option<chrono::DateTime<Utc>>) -> Result<(), String> {
    let (Some(since), Some(at)) = (fresh_since, at) else {
        return Ok(());
    };
    let skew = i64::try_from(CLOCK_SKEW.as_secs()).unwrap_or(60);
    if at.timestamp() < since - skew {
        return Err(format!(
            "the provider was asked to authenticate the person again (prompt=login, max_age=0) \
             but its auth_time {} is {} s before the sign-in started",
            at.to_rfc3339(),
            since - at.timestamp()
        ));
    }
    if at.timestamp() > Utc::now().timestamp() + skew {
        return Err("the ID token's auth_time is in the future".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_sign_in_refuses_an_auth_time_from_before_it_started() {
        let start = Utc::now().timestamp();
        let at = |secs: i64| chrono::DateTime::from_timestamp(secs, 0);
        assert!(fresh_enough(Some(start), at(start + 1)).is_ok());
        assert!(
            fresh_enough(Some(start), at(start - 30)).is_ok(),
            "within the skew"
        );
        let old = fresh_enough(Some(start), at(start - 3600));
        assert!(old.is_err_and(|e| e.contains("before the sign-in started")));
        assert!(
            fresh_enough(Some(start), at(start + 3600)).is_err(),
            "from the future"
        );
        // Absent: the hub decides; not asked for a fresh sign-in: any.
        assert!(fresh_enough(Some(start), None).is_ok());
        assert!(fresh_enough(None, at(start - 86_400)).is_ok());
    }
}
