//! Managing an organization's identity provider connections through the admin API, and the
//! "test connection" check that reports problems in plain words.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::model::{
    ClaimMapping, Connection, ConnectionKind, ConnectionStatus, OidcSettings, SamlSettings,
    StoredSaml,
};
use crate::access::OrgCtx;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::{FieldError, ServiceError};
use crate::ids::ConnectionId;
use crate::orgs::validate;
use crate::state::AppState;
use crate::storage::{self, Tx};

/// The sealing context of connection client secrets.
pub const SECRET_CONTEXT: &str = "connection.client_secret";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    pub name: String,
    pub kind: ConnectionKind,
    /// Required for `oidc` connections.
    pub oidc: Option<OidcSettings>,
    /// Required for `saml` connections: the IdP metadata (`metadata_url` or `metadata_xml`)
    /// and the attribute mapping. The hub makes the connection's SP signing key itself.
    pub saml: Option<SamlSettings>,
    /// The client secret the IdP issued to the hub; stored sealed and never shown again.
    pub client_secret: Option<String>,
    /// The email domains this connection serves, among the organization's (home-realm
    /// discovery routes them here, and its IdP may vouch only for them). Default: all.
    pub domains: Option<Vec<String>>,
    /// Create the user at first sign-in (default false: users must exist already).
    pub jit_provisioning: Option<bool>,
    /// Trust an email for a first link only if the IdP says it is verified (default true).
    pub require_email_verified: Option<bool>,
    pub status: Option<ConnectionStatus>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    pub name: Option<String>,
    pub oidc: Option<OidcSettings>,
    /// Replaces the SAML settings (a `metadata_url` is read again).
    pub saml: Option<SamlSettings>,
    pub domains: Option<Vec<String>>,
    pub client_secret: Option<String>,
    pub jit_provisioning: Option<bool>,
    pub require_email_verified: Option<bool>,
    pub status: Option<ConnectionStatus>,
}

/// One check of "test connection".
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestReport {
    /// True when every check passed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

fn target(id: ConnectionId) -> String {
    format!("connection:{id}")
}

fn parse_id(id: &str) -> Result<ConnectionId, ServiceError> {
    id.parse().map_err(|_| ServiceError::NotFound("connection"))
}

pub async fn get(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<Connection, ServiceError> {
    storage::connections::get(state.store.conn(), ctx.org.id, parse_id(id)?)
        .await?
        .ok_or(ServiceError::NotFound("connection"))
}

fn check_claims(c: &ClaimMapping, errors: &mut Vec<FieldError>) {
    for (field, v) in [
        ("oidc.claims.email", &c.email),
        ("oidc.claims.email_verified", &c.email_verified),
        ("oidc.claims.name", &c.name),
        ("oidc.claims.given_name", &c.given_name),
        ("oidc.claims.family_name", &c.family_name),
        ("oidc.claims.username", &c.username),
        ("oidc.claims.groups", &c.groups),
    ] {
        if v.is_empty() || v.len() > 100 || v.chars().any(|ch| ch.is_control()) {
            errors.push(FieldError::new(
                field,
                "must be a claim name of 1 to 100 characters",
            ));
        }
    }
}

/// Checks OIDC settings; returns them normalized.
fn check_oidc(
    s: OidcSettings,
    policy: &crate::outbound::AddressPolicy,
    errors: &mut Vec<FieldError>,
) -> OidcSettings {
    match validate::notify_uri("oidc.issuer", &s.issuer, policy) {
        Ok(_) if s.issuer.contains('?') || s.issuer.contains('#') => errors.push(FieldError::new(
            "oidc.issuer",
            "must have no query or fragment",
        )),
        Ok(_) => {}
        Err(e) => errors.push(e),
    }
    if s.client_id.is_empty()
        || s.client_id.len() > 255
        || s.client_id.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "oidc.client_id",
            "must be 1 to 255 characters",
        ));
    }
    if s.scopes.len() > 20
        || s.scopes.iter().any(|sc| {
            sc.is_empty()
                || sc.len() > 100
                || !sc
                    .chars()
                    .all(|ch| ch.is_ascii_graphic() && ch != '"' && ch != '\\')
        })
    {
        errors.push(FieldError::new(
            "oidc.scopes",
            "must be at most 20 scope tokens without spaces or quotes",
        ));
    }
    check_claims(&s.claims, errors);
    let mut scopes: Vec<String> = s.scopes.into_iter().filter(|sc| sc != "openid").collect();
    scopes.dedup();
    OidcSettings { scopes, ..s }
}

/// Checks and normalizes a connection's domain list (lower case, no duplicates).
fn check_domains(domains: Vec<String>, errors: &mut Vec<FieldError>) -> Vec<String> {
    if domains.len() > 100 {
        errors.push(FieldError::new("domains", "at most 100 domains"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for d in domains {
        match validate::domain("domains", &d) {
            Ok(d) if !out.contains(&d) => out.push(d),
            Ok(_) => {}
            Err(e) => {
                errors.push(e);
                return Vec::new();
            }
        }
    }
    out
}

fn check_attribute(field: &'static str, v: &str, errors: &mut Vec<FieldError>) {
    if v.is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must be an attribute name of 1 to 200 characters",
        ));
    }
}

/// Checks SAML settings: reads the metadata from its URL when one is given, and requires
/// metadata the hub can sign people in with (one IdP, a redirect endpoint, a signing
/// certificate). Returns them with `metadata_xml` filled.
async fn check_saml(
    state: &AppState,
    mut s: SamlSettings,
    errors: &mut Vec<FieldError>,
) -> Option<SamlSettings> {
    let a = &s.attributes;
    for (field, v) in [
        ("saml.attributes.email", &a.email),
        ("saml.attributes.name", &a.name),
        ("saml.attributes.given_name", &a.given_name),
        ("saml.attributes.family_name", &a.family_name),
        ("saml.attributes.username", &a.username),
        ("saml.attributes.groups", &a.groups),
    ] {
        check_attribute(field, v, errors);
    }
    let field = match (&s.metadata_url, &s.metadata_xml) {
        (Some(url), None) => {
            if let Err(e) = validate::notify_uri("saml.metadata_url", url, &state.net) {
                errors.push(e);
                return None;
            }
            match super::saml::fetch_metadata(state, url).await {
                Ok(xml) => s.metadata_xml = Some(xml),
                Err(e) => {
                    errors.push(FieldError::new("saml.metadata_url", e));
                    return None;
                }
            }
            "saml.metadata_url"
        }
        (None, Some(_)) => "saml.metadata_xml",
        _ => {
            errors.push(FieldError::new(
                "saml",
                "give exactly one of metadata_url and metadata_xml",
            ));
            return None;
        }
    };
    let xml = s.metadata_xml.as_deref().unwrap_or_default();
    if let Err(e) = connectors::saml::parse_idp_metadata(xml) {
        errors.push(FieldError::new(field, e.to_string()));
        return None;
    }
    Some(s)
}

fn check_secret(secret: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(s) = secret
        && (s.is_empty() || s.len() > 1000)
    {
        errors.push(FieldError::new(
            "client_secret",
            "must be 1 to 1000 characters",
        ));
    }
}

pub async fn create(
    state: &AppState,
    ctx: &OrgCtx,
    input: CreateConnection,
) -> Result<Connection, ServiceError> {
    ctx.require_admin()?;
    let mut errors = Vec::new();
    let name = validate::name("name", &input.name)
        .map_err(|e| errors.push(e))
        .ok();
    let domains = check_domains(input.domains.unwrap_or_default(), &mut errors);
    let oidc = match (input.kind, input.oidc) {
        (ConnectionKind::Oidc, Some(s)) => Some(check_oidc(s, &state.net, &mut errors)),
        (ConnectionKind::Oidc, None) => {
            errors.push(FieldError::new(
                "oidc",
                "is required for an oidc connection",
            ));
            None
        }
        (ConnectionKind::Saml, _) => None,
    };
    let saml = match (input.kind, input.saml) {
        (ConnectionKind::Saml, Some(s)) => check_saml(state, s, &mut errors).await,
        (ConnectionKind::Saml, None) => {
            errors.push(FieldError::new("saml", "is required for a saml connection"));
            None
        }
        (ConnectionKind::Oidc, Some(_)) => {
            errors.push(FieldError::new("saml", "is only for a saml connection"));
            None
        }
        (ConnectionKind::Oidc, None) => None,
    };
    if input.kind == ConnectionKind::Saml && input.client_secret.is_some() {
        errors.push(FieldError::new(
            "client_secret",
            "is only for an oidc connection; the hub makes a SAML connection's signing key itself",
        ));
    }
    check_secret(input.client_secret.as_deref(), &mut errors);
    if input.kind == ConnectionKind::Oidc && input.client_secret.is_none() {
        errors.push(FieldError::new(
            "client_secret",
            "is required: the hub authenticates to the IdP with client_secret_basic",
        ));
    }
    let Some(name) = name.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let id = ConnectionId::new();
    let mut secret_sealed = input
        .client_secret
        .as_deref()
        .map(|s| {
            state
                .secrets
                .seal(&format!("{SECRET_CONTEXT}:{id}"), s.as_bytes())
        })
        .transpose()?;
    let saml = match saml {
        Some(settings) => {
            let name = format!("hub SP {id}");
            let creds = tokio::task::spawn_blocking(move || {
                connectors::saml::generate_sp_credentials(&name)
            })
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
            secret_sealed = Some(state.secrets.seal(
                &format!("{}:{id}", super::saml::KEY_CONTEXT),
                &creds.key_pkcs8_der,
            )?);
            Some(StoredSaml {
                settings,
                sp_certificate: STANDARD.encode(&creds.cert_der),
            })
        }
        None => None,
    };
    let now = state.clock.now_ms();
    let conn = Connection {
        id,
        org_id: ctx.org.id,
        name,
        kind: input.kind,
        status: input.status.unwrap_or(ConnectionStatus::Active),
        domains,
        oidc,
        saml,
        secret_sealed,
        jit_provisioning: input.jit_provisioning.unwrap_or(false),
        require_email_verified: input.require_email_verified.unwrap_or(true),
        created_at: now,
        updated_at: now,
        // The organization's own admin made it: approved. The operator's waits for them,
        // unless the organization has no admin of its own yet (the operator sets it up).
        links_approved_at: (!ctx.principal.is_operator()
            || !crate::orgs::operator::has_own_admin(state.store.conn(), ctx.org.id, now).await?)
            .then_some(now),
    };
    let tx = state.store.begin().await?;
    if storage::connections::find_by_name(tx.conn(), ctx.org.id, &conn.name)
        .await?
        .is_some()
    {
        return Err(ServiceError::Conflict(format!(
            "a connection named {:?} already exists in this organization",
            conn.name
        )));
    }
    storage::connections::insert(tx.conn(), &conn).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ConnectionCreated,
        target(conn.id),
    )
    .org(ctx.org.id)
    .details(details(&conn));
    state.commit_audited(tx, event).await?;
    Ok(conn)
}

/// What the audit log records of a connection: its settings, never its secret.
fn details(c: &Connection) -> serde_json::Value {
    json!({
        "name": c.name,
        "kind": c.kind,
        "status": c.status,
        "domains": c.domains,
        "oidc": c.oidc,
        "saml": c.saml.as_ref().map(|s| json!({
            "metadata_url": s.settings.metadata_url,
            "attributes": s.settings.attributes,
            "name_id_format": s.settings.name_id_format,
            "allow_unsolicited": s.settings.allow_unsolicited,
        })),
        "jit_provisioning": c.jit_provisioning,
        "require_email_verified": c.require_email_verified,
    })
}

async fn lock(tx: &Tx, ctx: &OrgCtx, id: &str) -> Result<Connection, ServiceError> {
    storage::connections::get(tx.conn(), ctx.org.id, parse_id(id)?)
        .await?
        .ok_or(ServiceError::NotFound("connection"))
}

pub async fn update(
    state: &AppState,
    ctx: &OrgCtx,
    id: &str,
    input: UpdateConnection,
) -> Result<Connection, ServiceError> {
    ctx.require_admin()?;
    let tx = state.store.begin().await?;
    let mut conn = lock(&tx, ctx, id).await?;
    let mut errors = Vec::new();
    if let Some(name) = &input.name {
        match validate::name("name", name) {
            Ok(n) => conn.name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(s) = input.oidc {
        if conn.kind != ConnectionKind::Oidc {
            errors.push(FieldError::new("oidc", "this is not an oidc connection"));
        } else {
            // The client secret goes only to the issuer it was given for.
            if input.client_secret.is_none()
                && conn.oidc.as_ref().is_some_and(|o| o.issuer != s.issuer)
            {
                errors.push(FieldError::new(
                    "client_secret",
                    "the issuer changed: give the client secret again (the stored one is never \
                     sent to a new destination)",
                ));
            }
            conn.oidc = Some(check_oidc(s, &state.net, &mut errors));
        }
    }
    if let Some(d) = input.domains {
        conn.domains = check_domains(d, &mut errors);
    }
    if let Some(s) = input.saml {
        match conn.saml.as_mut() {
            None => errors.push(FieldError::new("saml", "this is not a saml connection")),
            Some(stored) => {
                if let Some(s) = check_saml(state, s, &mut errors).await {
                    stored.settings = s;
                }
            }
        }
    }
    check_secret(input.client_secret.as_deref(), &mut errors);
    if input.client_secret.is_some() && conn.kind == ConnectionKind::Saml {
        errors.push(FieldError::new(
            "client_secret",
            "is only for an oidc connection",
        ));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let rotated = input.client_secret.is_some();
    if let Some(s) = &input.client_secret {
        conn.secret_sealed = Some(
            state
                .secrets
                .seal(&format!("{SECRET_CONTEXT}:{}", conn.id), s.as_bytes())?,
        );
    }
    if let Some(v) = input.jit_provisioning {
        conn.jit_provisioning = v;
    }
    if let Some(v) = input.require_email_verified {
        conn.require_email_verified = v;
    }
    if let Some(v) = input.status {
        conn.status = v;
    }
    if let Some(other) =
        storage::connections::find_by_name(tx.conn(), ctx.org.id, &conn.name).await?
        && other.id != conn.id
    {
        return Err(ServiceError::Conflict(format!(
            "a connection named {:?} already exists in this organization",
            conn.name
        )));
    }
    conn.updated_at = state.clock.now_ms();
    let was_approved = conn.links_approved_at.is_some();
    if ctx.principal.is_operator()
        && crate::orgs::operator::has_own_admin(tx.conn(), ctx.org.id, conn.updated_at).await?
    {
        // A connection the operator changed is the operator's again until the organization's
        // admin approves it.
        conn.links_approved_at = None;
    }
    storage::connections::update(tx.conn(), &conn).await?;
    let mut d = details(&conn);
    d["client_secret_replaced"] = json!(rotated);
    d["approval_withdrawn"] = json!(was_approved && conn.links_approved_at.is_none());
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ConnectionUpdated,
        target(conn.id),
    )
    .org(ctx.org.id)
    .details(d);
    state.commit_audited(tx, event).await?;
    Ok(conn)
}

/// The organization's own admin approves a connection to link existing people by email (the
/// operator cannot: that is the point). Audited as `connection.approved`, a security notice.
pub async fn approve(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<Connection, ServiceError> {
    ctx.require_own_admin("only the organization's own admin can approve its connection")?;
    let tx = state.store.begin().await?;
    let mut conn = lock(&tx, ctx, id).await?;
    if conn.links_approved_at.is_some() {
        return Ok(conn);
    }
    let now = state.clock.now_ms();
    conn.links_approved_at = Some(now);
    storage::connections::update(tx.conn(), &conn).await?;
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ConnectionApproved,
        target(conn.id),
    )
    .org(ctx.org.id)
    .details(details(&conn));
    state.commit_audited(tx, event).await?;
    Ok(conn)
}

pub async fn delete(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<(), ServiceError> {
    ctx.require_admin()?;
    let tx = state.store.begin().await?;
    let conn = lock(&tx, ctx, id).await?;
    if !storage::connections::delete(tx.conn(), ctx.org.id, conn.id).await? {
        return Err(ServiceError::NotFound("connection"));
    }
    let event = AuditEvent::new(
        &ctx.actor(),
        AuditAction::ConnectionDeleted,
        target(conn.id),
    )
    .org(ctx.org.id)
    .details(json!({"name": conn.name, "kind": conn.kind}));
    state.commit_audited(tx, event).await?;
    Ok(())
}

/// Fetches the IdP's discovery document and keys and reports, check by check, what would stop
/// people from signing in. Changes nothing.
pub async fn test(state: &AppState, ctx: &OrgCtx, id: &str) -> Result<TestReport, ServiceError> {
    ctx.require_admin()?;
    let conn = get(state, ctx, id).await?;
    let mut checks = Vec::new();
    if conn.kind == ConnectionKind::Oidc {
        checks.push(Check {
            check: "client_secret",
            ok: conn.secret_sealed.is_some(),
            detail: if conn.secret_sealed.is_some() {
                "a client secret is stored (sealed)".into()
            } else {
                "no client secret is stored; set client_secret".into()
            },
        });
    }
    if conn.status != ConnectionStatus::Active {
        checks.push(Check {
            check: "status",
            ok: false,
            detail: "the connection is disabled: nobody can sign in through it".into(),
        });
    }
    if let Some(s) = &conn.oidc {
        checks.extend(super::oidc::probe(state, s).await);
    }
    if let Some(s) = &conn.saml {
        checks.extend(super::saml::probe(state, &conn, s).await);
    }
    Ok(TestReport {
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}
