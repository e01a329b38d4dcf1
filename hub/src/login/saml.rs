//! The hub's side of SAML connections: the per-connection service provider (entity ID, metadata,
//! assertion consumer service), the signed AuthnRequest that starts a sign-in, and the checks of
//! "test connection".
//!
//! Each connection is its own SP (`{public_url}/saml/{id}/metadata` is its entity ID and the
//! audience its IdP must name), so a response meant for one organization cannot be spent at
//! another. The RelayState is the hub's single-use state, stored hashed and bound to the browser
//! by a cookie scoped to `/saml`; the request ID must come back as `InResponseTo`; every
//! assertion ID is recorded until it expires, so a replay is refused.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use connectors::SamlConnector;
use serde::Deserialize;
use serde_json::json;

use super::pages::{PageError, PageResult};
use super::upstream::{refuse, switched_off};
use crate::federation::model::Refusal;
use crate::federation::model::{Connection, ConnectionStatus};
use crate::federation::saml::{acs_url, connector, sp_entity_id};
use crate::ids::ConnectionId;
use crate::orgs::model::Organization;
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::AuthRequest;
use crate::state::AppState;
use crate::storage::{self, StoreError};

/// Binds a SAML sign-in to the browser that started it. Scoped to `/saml`; `SameSite=None` over
/// https, because the IdP posts the response from its own site.
const BINDING_COOKIE: &str = "hub_saml";
const STATE_CONTEXT: &str = "upstream_login.saml";

/// `GET /saml/{connection}/metadata`: the SP metadata to import at the IdP.
pub async fn metadata(State(state): State<AppState>, Path(id): Path<String>) -> PageResult {
    let not_found = || {
        PageError::page(
            StatusCode::NOT_FOUND,
            "There is no SAML connection here.",
            "Check the address the hub's admin API gave you.",
        )
    };
    let Ok(id) = id.parse::<ConnectionId>() else {
        return Err(not_found());
    };
    let Some(conn) = storage::connections::get_by_id(state.store.conn(), id).await? else {
        return Err(not_found());
    };
    let Some(saml) = &conn.saml else {
        return Err(not_found());
    };
    let xml = STANDARD
        .decode(&saml.sp_certificate)
        .map_err(|e| e.to_string())
        .and_then(|cert| {
            connectors::saml::sp_metadata(
                &sp_entity_id(&state, conn.id),
                &acs_url(&state, conn.id),
                &cert,
                saml.settings.name_id_format.uri(),
            )
            .map_err(|e| e.to_string())
        });
    let xml = xml.map_err(|e| {
        tracing::error!(connection = %conn.id, error = %e, "could not write SP metadata");
        PageError::Internal
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

/// Sends the browser to the IdP with a signed AuthnRequest; the RelayState is the hub's state,
/// bound to this browser.
pub async fn start(
    state: &AppState,
    request: &AuthRequest,
    org: &Organization,
    conn: &Connection,
) -> PageResult {
    let sp = connector(state, conn).map_err(|e| {
        tracing::error!(connection = %conn.id, error = %e, "SAML connection unusable");
        PageError::page(
            StatusCode::BAD_GATEWAY,
            &format!("{}'s sign-in service is not set up correctly.", org.name),
            &format!("Please tell {}'s IT administrators.", org.name),
        )
    })?;
    let (Ok(relay_state), Ok(binding)) = (random_token(), random_token()) else {
        return Err(PageError::Internal);
    };
    let (url, request_id) = sp
        .authn_request(&relay_state, super::upstream::wants_fresh(request))
        .map_err(|e| {
            tracing::error!(connection = %conn.id, error = %e, "could not build the AuthnRequest");
            PageError::Internal
        })?;
    super::upstream::record(
        state,
        request,
        conn,
        &relay_state,
        hash_token(&binding),
        (STATE_CONTEXT, request_id.as_bytes()),
    )
    .await?;
    tracing::info!(org = %org.slug, connection = %conn.name, "sending the browser to the SAML IdP");
    let mut response = Redirect::to(&url).into_response();
    let cookie = if state.config.server.public_url.starts_with("https://") {
        format!(
            "{BINDING_COOKIE}={binding}; Path=/saml; HttpOnly; SameSite=None; Secure; Max-Age=600"
        )
    } else {
        format!("{BINDING_COOKIE}={binding}; Path=/saml; HttpOnly; SameSite=Lax; Max-Age=600")
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The form an IdP posts to the assertion consumer service.
#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    relay_state: Option<String>,
}

/// What a posted response answers.
enum Solicited {
    /// The hub's own request: the pending application sign-in and the AuthnRequest ID.
    Request(Box<AuthRequest>, String),
    /// Nothing: an IdP-initiated response.
    Unsolicited,
}

/// `POST /saml/{connection}/acs`: the IdP posts the signed response here.
pub async fn acs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, FormRejection>,
) -> PageResult {
    let unknown = || {
        PageError::page(
            StatusCode::NOT_FOUND,
            "There is no SAML connection here.",
            "Go back to the application and start again.",
        )
    };
    let Ok(id) = id.parse::<ConnectionId>() else {
        return Err(unknown());
    };
    let conn = match storage::connections::get_by_id(state.store.conn(), id).await? {
        Some(c) if c.saml.is_some() => c,
        _ => return Err(unknown()),
    };
    let Some(org) = storage::organizations::get(state.store.conn(), conn.org_id).await? else {
        return Err(unknown());
    };
    let refused = |reason: String| Refusal::new(reason, "This sign-in could not be completed.");
    let Ok(Form(form)) = form else {
        return Err(refuse(
            &state,
            Some(&org),
            Some(&conn),
            None,
            refused("the POST to the SAML endpoint carried no SAMLResponse".into()),
        )
        .await);
    };
    if conn.status != ConnectionStatus::Active {
        return Err(refuse(&state, Some(&org), Some(&conn), None, switched_off(&org)).await);
    }
    let solicited = match solicited(&state, &headers, &conn, form.relay_state.as_deref()).await? {
        Ok(s) => s,
        Err(reason) => {
            return Err(refuse(&state, Some(&org), Some(&conn), None, refused(reason)).await);
        }
    };
    let sp = connector(&state, &conn).map_err(|e| {
        tracing::error!(connection = %conn.id, error = %e, "SAML connection unusable");
        PageError::Internal
    })?;
    let in_response_to = match &solicited {
        Solicited::Request(_, id) => Some(id.as_str()),
        Solicited::Unsolicited => None,
    };
    let login = match sp.handle_post(&form.saml_response, in_response_to).await {
        Ok(l) => l,
        Err(e) => {
            return Err(refuse(
                &state,
                Some(&org),
                Some(&conn),
                None,
                Refusal::new(
                    e.to_string(),
                    format!(
                        "{}'s sign-in service did not confirm who you are.",
                        org.name
                    ),
                ),
            )
            .await);
        }
    };
    let now = state.clock.now_ms();
    let fresh = storage::connections::record_assertion(
        state.store.conn(),
        conn.id,
        &login.assertion_id,
        login.valid_until.timestamp_millis().max(now) + 60_000,
        now,
    )
    .await?;
    if !fresh {
        return Err(refuse(
            &state,
            Some(&org),
            Some(&conn),
            Some(&login.identity),
            refused(format!(
                "replayed assertion: {} was already used",
                login.assertion_id
            )),
        )
        .await);
    }
    let login_authn_instant = login.authn_instant;
    let identity = login.identity;
    let user = match crate::federation::linking::resolve(&state, &org, &conn, &identity).await? {
        Ok(u) => u,
        Err(refusal) => {
            return Err(refuse(&state, Some(&org), Some(&conn), Some(&identity), refusal).await);
        }
    };
    state.metrics.upstream_login("saml", "signed_in");
    let mut method = json!({"method": "saml", "connection": conn.name, "issuer": identity.issuer});
    if let Solicited::Request(request, _) = &solicited
        && super::upstream::wants_fresh(request)
    {
        super::upstream::mark_fresh(&mut method, fresh_instant(login_authn_instant));
    }
    let signed_in = match solicited {
        Solicited::Request(request, _) => {
            crate::login::sign_in(&state, &request, &user, method).await
        }
        Solicited::Unsolicited => crate::login::sign_in_to_hub(&state, &org, &user, method).await,
    };
    // The binding cookie is spent whatever the outcome.
    let mut response = signed_in.unwrap_or_else(IntoResponse::into_response);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{BINDING_COOKIE}=; Path=/saml; HttpOnly; SameSite=Lax; Max-Age=0"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// The IdP's `AuthnInstant` for a sign-in that asked for `ForceAuthn`, if it falls within the
/// sign-in's lifetime (ten minutes and the clock skew, by the same clock the connector checks
/// the assertion's validity with): an older one means the IdP answered from its session.
fn fresh_instant(instant: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    let now = chrono::Utc::now();
    let skew = chrono::Duration::seconds(60);
    instant
        .filter(|at| *at >= now - chrono::Duration::minutes(10) - skew && *at <= now + skew)
        .map(|at| at.timestamp_millis())
}

/// Finds what the response answers from its RelayState; `Ok(Err(reason))` refuses it.
async fn solicited(
    state: &AppState,
    headers: &HeaderMap,
    conn: &Connection,
    relay_state: Option<&str>,
) -> Result<Result<Solicited, String>, StoreError> {
    let allow_unsolicited = conn
        .saml
        .as_ref()
        .is_some_and(|s| s.settings.allow_unsolicited);
    let unsolicited = |why: &str| {
        if allow_unsolicited {
            Ok(Solicited::Unsolicited)
        } else {
            Err(format!(
                "{why}: an unsolicited (IdP-initiated) response, which this connection does not \
                 accept"
            ))
        }
    };
    let Some(relay_state) = relay_state.filter(|r| !r.is_empty() && r.len() <= 200) else {
        return Ok(unsolicited("no RelayState"));
    };
    let tx = state.store.begin().await?;
    let login =
        storage::connections::take_upstream_login(tx.conn(), &hash_token(relay_state)).await?;
    tx.commit().await?;
    let Some(login) = login else {
        return Ok(unsolicited(
            "a RelayState the hub did not issue or already used",
        ));
    };
    if login.connection_id != conn.id {
        return Ok(Err(
            "the response was posted to another connection than the one the sign-in started at"
                .into(),
        ));
    }
    if !super::upstream::same_browser(headers, BINDING_COOKIE, &login) {
        return Ok(Err(
            "the response arrived in a browser other than the one that started the sign-in".into(),
        ));
    }
    if login.expires_at <= state.clock.now_ms() {
        return Ok(Err("the sign-in expired before the IdP answered".into()));
    }
    let Some(request) =
        storage::oidc::get_auth_request(state.store.conn(), &login.auth_request_id).await?
    else {
        return Ok(Err(
            "the application's sign-in request expired or was used".into()
        ));
    };
    let request_id = match state
        .secrets
        .open_bytes(STATE_CONTEXT, &login.connector_state)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(id) => id,
        None => return Ok(Err("the sign-in state could not be read".into())),
    };
    Ok(Ok(Solicited::Request(Box::new(request), request_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_authn_instant_within_the_sign_in_counts_as_fresh() {
        let now = chrono::Utc::now();
        let ms = |d: chrono::Duration| Some(now + d);
        assert!(fresh_instant(ms(chrono::Duration::seconds(-5))).is_some());
        assert!(fresh_instant(ms(chrono::Duration::minutes(-30))).is_none());
        assert!(fresh_instant(ms(chrono::Duration::minutes(5))).is_none());
        assert!(fresh_instant(None).is_none());
    }
}
