//! Token introspection (RFC 7662), revocation (RFC 7009) and UserInfo (OIDC Core §5.3). An
//! access token is a JWT, but it is only *active* while its server-side record is unrevoked, its
//! session has not ended and its person is still active: that is what makes revocation and
//! deprovisioning take effect before the token's `exp`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::client_auth;
use super::error::{OAuthError, required};
use super::request::{BearerToken, OAuthForm, SourceIp};
use super::tokens::user_claims;
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::ids::{OrgId, UserId};
use crate::jose;
use crate::secrets::hash_token;
use crate::sessions::model::{RevocationKind, join_scope, split_scope};
use crate::state::AppState;
use crate::storage;
use crate::users::UserStatus;

/// An access token that verified and is still active.
pub struct ActiveToken {
    pub claims: Value,
    pub jti: String,
    pub org_id: OrgId,
    pub client_id: String,
    pub user_id: Option<UserId>,
    pub scope: Vec<String>,
    pub exp: i64,
}

/// Verifies an access token: our key and algorithm, our issuer, unexpired; then that it is
/// still active: not on the revocation list (by token, grant or user), its session not ended,
/// its person and organization still active.
pub async fn active_access_token(
    state: &AppState,
    token: &str,
) -> Result<Option<ActiveToken>, OAuthError> {
    let Ok(header) = jose::peek_header(token) else {
        return Ok(None);
    };
    if header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
        return Ok(None);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = if kid.is_empty() || kid.len() > 64 {
        None
    } else {
        state.keys.public_key(kid).await?
    };
    let Some(key) = key else { return Ok(None) };
    let Ok(v) = jose::verify(token, |k| (k == key.kid).then(|| key.clone())) else {
        return Ok(None);
    };
    let c = &v.claims;
    let now = state.clock.now_ms();
    let (Some(jti), Some(client_id), Some(exp), Some(iat), Some(org)) = (
        c["jti"].as_str(),
        c["client_id"].as_str(),
        c["exp"].as_i64(),
        c["iat"].as_i64(),
        c["org"]["id"]
            .as_str()
            .and_then(|o| o.parse::<OrgId>().ok()),
    ) else {
        return Ok(None);
    };
    if c["iss"].as_str() != Some(&state.config.server.public_url) || exp * 1000 <= now {
        return Ok(None);
    }
    // The application it was issued to still exists; the person its `sub` names there.
    let Some(app) = state.clients.find(&state.store, client_id).await? else {
        return Ok(None);
    };
    let store = state.store.conn();
    let user_id = match c["sub"].as_str() {
        Some(s) if s == client_id => None,
        Some(s) => match crate::spaces::release::resolve(store, &app, s).await? {
            Some((o, u)) if o == org => Some(u),
            _ => return Ok(None),
        },
        None => return Ok(None),
    };
    let grant = c["gid"].as_str();
    let user_key = user_id.map(|u| u.to_string());
    let ids: Vec<&str> = [Some(jti), grant, user_key.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let issued = super::tokens::issued_ms(jti, iat);
    for (id, revoked_at) in storage::oidc::revocations(store, org, &ids).await? {
        // A user revocation covers the tokens issued up to it; the others cover all.
        if user_key.as_deref() != Some(id.as_str()) || issued <= revoked_at {
            return Ok(None);
        }
    }
    // The session it was issued in is still live (the `sid` is this application's name for it).
    if let Some(sid) = c["sid"].as_str() {
        let Some(user) = user_id else {
            return Ok(None);
        };
        let live = storage::oidc::live_sessions_of(store, org, user, now).await?;
        if !live
            .iter()
            .any(|s| crate::sessions::app_sid(state, app.id, s) == sid)
        {
            return Ok(None);
        }
    }
    if let Some(user) = user_id
        && !storage::users::get(store, org, user)
            .await?
            .is_some_and(|u| u.status == UserStatus::Active)
    {
        return Ok(None);
    }
    if !storage::organizations::get(store, org)
        .await?
        .is_some_and(|o| o.status == crate::orgs::model::OrgStatus::Active)
    {
        return Ok(None);
    }
    // The application's organization (another one when the person came through a space) is
    // not suspended.
    if app.org_id != org
        && !storage::organizations::get(store, app.org_id)
            .await?
            .is_some_and(|o| o.status == crate::orgs::model::OrgStatus::Active)
    {
        return Ok(None);
    }
    Ok(Some(ActiveToken {
        jti: jti.to_string(),
        org_id: org,
        client_id: client_id.to_string(),
        user_id,
        scope: split_scope(c["scope"].as_str().unwrap_or_default()),
        exp,
        claims: v.claims,
    }))
}

fn inactive() -> Response {
    axum::Json(json!({"active": false})).into_response()
}

pub async fn post_introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    OAuthForm(form): OAuthForm,
) -> Result<Response, OAuthError> {
    let caller =
        client_auth::authenticate(&state, &headers, &form, source, "/oauth2/introspect").await?;
    // RFC 7662 §2.1: the caller must authenticate; a public client has nothing to show, so it
    // could only probe tokens it does not hold.
    if caller.client_type == crate::orgs::model::ClientType::Public {
        state.metrics.client_auth_failure("public_client");
        return Err(OAuthError::invalid_client(
            "public clients may not use token introspection",
            false,
        ));
    }
    let token = required(&form, "token", 16 * 1024)?;
    // Tenant isolation: a client learns only about tokens issued to its own organization's
    // applications (a person of another organization reaches them through a space).
    if let Some(t) = active_access_token(&state, token).await? {
        let issued_to = if t.client_id == caller.client_id {
            Some(caller.org_id)
        } else {
            storage::applications::find_by_client_id(state.store.conn(), &t.client_id)
                .await?
                .map(|a| a.org_id)
        };
        if issued_to != Some(caller.org_id) {
            return Ok(inactive());
        }
        let mut body = t.claims;
        body["active"] = json!(true);
        body["token_type"] = json!("Bearer");
        return Ok(axum::Json(body).into_response());
    }
    let now = state.clock.now_ms();
    if let Some(r) = storage::oidc::get_refresh(state.store.conn(), &hash_token(token)).await?
        && r.revoked_at.is_none()
        && r.used_at.is_none()
        && r.expires_at > now
    {
        // The token's application, if it is one of the caller's organization.
        let app = storage::applications::get(state.store.conn(), caller.org_id, r.app_id).await?;
        let user = storage::users::get(state.store.conn(), r.org_id, r.user_id).await?;
        if let (Some(app), Some(user)) = (app, user)
            && user.status == UserStatus::Active
        {
            let sub = crate::spaces::release::subject(&state, &app, user.org_id, user.id);
            return Ok(axum::Json(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": app.client_id,
                "sub": sub,
                "scope": join_scope(&r.scope),
                "exp": r.expires_at / 1000,
                "iat": r.created_at / 1000,
                "iss": state.config.server.public_url,
            }))
            .into_response());
        }
    }
    Ok(inactive())
}

/// RFC 7009: always 200 for a well-formed request, whether or not the token was known.
pub async fn post_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    OAuthForm(form): OAuthForm,
) -> Result<Response, OAuthError> {
    // A public client authenticates by its id alone; it may revoke only its own tokens.
    let caller =
        client_auth::authenticate(&state, &headers, &form, source, "/oauth2/revoke").await?;
    let token = required(&form, "token", 16 * 1024)?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let mut revoked = 0;
    let mut grant = None;
    if let Some(r) = storage::oidc::get_refresh(tx.conn(), &hash_token(token)).await?
        && r.app_id == caller.id
    {
        // Revoking a refresh token revokes its grant: the access tokens too (RFC 7009 §2.1).
        let until = now + (state.config.oidc.access_token_ttl_secs as i64) * 1000;
        revoked = storage::oidc::revoke_grant(tx.conn(), r.org_id, &r.grant_id, now, until).await?;
        grant = Some(format!("grant:{}", r.grant_id));
    } else if let Some(t) = active_access_token(&state, token).await?
        && t.client_id == caller.client_id
    {
        storage::oidc::add_revocation(
            tx.conn(),
            t.org_id,
            RevocationKind::Token,
            &t.jti,
            now,
            t.exp * 1000,
        )
        .await?;
        revoked = 1;
        grant = Some(format!("access_token:{}", t.jti));
    }
    if revoked > 0 {
        let event = AuditEvent::new(
            &Actor::System {
                component: "oidc".into(),
            },
            AuditAction::TokensRevoked,
            grant.unwrap_or_default(),
        )
        .org(caller.org_id)
        .details(json!({"client_id": caller.client_id, "by": "client", "refresh_tokens_revoked": revoked}));
        state.commit_audited(tx, event).await?;
    }
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}

async fn userinfo(state: &AppState, token: Option<String>) -> Result<Response, OAuthError> {
    let token = token
        .ok_or_else(|| OAuthError::invalid_token("send the access token as a bearer token"))?;
    let t = active_access_token(state, &token).await?.ok_or_else(|| {
        OAuthError::invalid_token("the access token is invalid, expired or revoked")
    })?;
    let Some(user_id) = t.user_id else {
        return Err(OAuthError::invalid_token("the token is not about a person"));
    };
    if !t.scope.iter().any(|s| s == "openid") {
        return Err(OAuthError {
            status: StatusCode::FORBIDDEN,
            error: "insufficient_scope",
            description: "openid scope required".into(),
            www_authenticate: Some("Bearer realm=\"hub\", error=\"insufficient_scope\""),
            retry_after: None,
        });
    }
    let c = state.store.conn();
    let (Some(user), Some(org)) = (
        storage::users::get(c, t.org_id, user_id).await?,
        storage::organizations::get(c, t.org_id).await?,
    ) else {
        return Err(OAuthError::invalid_token("the person no longer exists"));
    };
    let Some(app) = storage::applications::find_by_client_id(c, &t.client_id).await? else {
        return Err(OAuthError::invalid_token(
            "the application no longer exists",
        ));
    };
    let sub = crate::spaces::release::subject(state, &app, user.org_id, user.id);
    let access = crate::spaces::may_use(c, &app, &user).await?;
    let mut claims = user_claims(&user, &org, &t.scope, &sub, &access.release);
    if !access.spaces.is_empty() {
        claims.insert("spaces".into(), json!(access.spaces));
    }
    Ok(axum::Json(Value::Object(claims)).into_response())
}

/// OIDC Core §5.3.1: GET or POST, the token as RFC 6750 allows.
pub async fn userinfo_endpoint(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<Response, OAuthError> {
    userinfo(&state, token).await
}
