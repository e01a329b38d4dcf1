//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE (RFC 7636), refresh tokens
//! rotated on every use with reuse detection (RFC 9700 §4.14.2), and client credentials. A code
//! redeemed twice revokes everything it issued (RFC 6749 §4.1.2); a rotated-out refresh token
//! presented again revokes its whole family. Both are audited.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;

use super::client_auth;
use super::error::{OAuthError, required};
use super::request::{OAuthForm, SourceIp};
use super::tokens::{self, Subject};
use crate::audit::{Actor, AuditAction, AuditEvent};
use crate::orgs::model::{Application, ClientType};
use crate::secrets::hash_token;
use crate::sessions::model::split_scope;
use crate::state::AppState;
use crate::storage::{self, oidc::Redeemed, oidc::SubjectContext};

pub async fn post_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: SourceIp,
    OAuthForm(form): OAuthForm,
) -> Result<Response, OAuthError> {
    let app = client_auth::authenticate(&state, &headers, &form, source, "/oauth2/token").await?;
    let grant_type = form.get("grant_type").map(String::as_str);
    // Load the signing keys before any write transaction (a first load creates them, which
    // writes and audits, and SQLite has one writer at a time), and before a code is used up:
    // a key still being published answers temporarily_unavailable.
    state.keys.signer(crate::jose::Alg::ES256).await?;
    if grant_type != Some("client_credentials") {
        state.keys.signer(app.id_token_alg).await?;
    }
    let body = match grant_type {
        Some("authorization_code") => code_grant(&state, &app, &form, source).await?,
        Some("refresh_token") => refresh_grant(&state, &app, &form, source).await?,
        Some("client_credentials") => client_credentials(&state, &app, &form).await?,
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "grant_type is not supported",
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
    };
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge; the verifier is 43-128 unreserved chars.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    well_formed && crate::secrets::ct_eq(computed.as_bytes(), challenge.as_bytes())
}

/// A code or refresh token the hub never issued: a guess. Counted against the client from that
/// address like a failed authentication, so a burst of guesses is throttled (429) while the
/// client's other callers and the refusals of real tokens (revoked, expired) are not.
fn guessed(state: &AppState, app: &Application, source: SourceIp, what: &str) -> OAuthError {
    state.metrics.client_auth_failure("unknown_grant");
    // A public client is anyone's to name, and without an address every caller shares the
    // client's key: then only the address counts, so nobody locks a client out for all.
    let client = (app.client_type == crate::orgs::model::ClientType::Confidential
        && source.0.is_some())
    .then_some(app.client_id.as_str());
    state
        .throttle
        .record_failure(client, source.0, state.clock.now_ms());
    OAuthError::invalid_grant(format!("the {what} is unknown"))
}

async fn code_grant(
    state: &AppState,
    app: &Application,
    form: &HashMap<String, String>,
    source: SourceIp,
) -> Result<serde_json::Value, OAuthError> {
    let code = required(form, "code", 200)?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let stored = match storage::oidc::redeem_code(tx.conn(), &hash_token(code), app.id, now).await?
    {
        Redeemed::Unknown => return Err(guessed(state, app, source, "code")),
        Redeemed::OtherClient => {
            tracing::warn!(client_id = %app.client_id, "a code issued to another client was presented");
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        Redeemed::Before(stored) => {
            // RFC 6749 §4.1.2: a replayed code revokes the tokens it issued.
            let (org, user, grant) = (stored.org_id, stored.user_id, stored.grant_id);
            revoke_family(state, tx, app, org, user, &grant, AuditAction::CodeReplayed).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; its tokens are revoked",
            ));
        }
        Redeemed::Now(stored) => stored,
    };
    // From here the code is consumed whatever happens: failures commit that too.
    let refused = |tx: crate::storage::Tx, e: OAuthError| async move {
        tx.commit().await?;
        Err::<serde_json::Value, OAuthError>(e)
    };
    if stored.expires_at <= now {
        return refused(tx, OAuthError::invalid_grant("the code has expired")).await;
    }
    if form.get("redirect_uri") != Some(&stored.redirect_uri) {
        return refused(
            tx,
            OAuthError::invalid_grant("redirect_uri does not match the authorization request"),
        )
        .await;
    }
    let pkce = match (&stored.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_ok(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err("code_verifier does not match the code_challenge"),
        (Some(_), None) => Err("code_verifier is missing"),
        (None, Some(_)) => Err("no code_challenge was sent with the authorization request"),
        (None, None) if app.require_pkce || app.client_type == ClientType::Public => {
            Err("PKCE is required for this client")
        }
        (None, None) => Ok(()),
    };
    if let Err(why) = pkce {
        return refused(tx, OAuthError::invalid_grant(why)).await;
    }
    let ctx = storage::oidc::subject_context(
        tx.conn(),
        stored.org_id,
        stored.user_id,
        Some(&stored.session_id),
    )
    .await?;
    let Some(ctx) = ctx.filter(active) else {
        return refused(
            tx,
            OAuthError::invalid_grant("the person's account is no longer active"),
        )
        .await;
    };
    if !ctx
        .session
        .is_some_and(|(ended, expires)| ended.is_none() && expires > now)
    {
        return refused(tx, OAuthError::invalid_grant("the session has ended")).await;
    }
    let offline = stored.scope.iter().any(|s| s == "offline_access");
    let access = crate::spaces::may_use(tx.conn(), app, &ctx.user).await?;
    if !access.admitted {
        return refused(
            tx,
            OAuthError::invalid_grant("the person no longer has access to this application"),
        )
        .await;
    }
    let sub = crate::spaces::release::remember(tx.conn(), state, app, &ctx.user).await?;
    let subject = Subject {
        user: &ctx.user,
        sub: &sub,
        release: &access.release,
        org: &ctx.org,
        spaces: &access.spaces,
        session_id: Some(&stored.session_id),
        auth_time: stored.auth_time,
        nonce: stored.nonce.as_deref(),
    };
    let issued = tokens::issue(
        state,
        &tx,
        app,
        Some(&subject),
        Some(&stored.grant_id),
        &stored.scope,
        Some(offline),
    )
    .await?;
    tx.commit().await?;
    Ok(issued.to_json())
}

/// Revokes everything a grant issued, audits why, and commits.
async fn revoke_family(
    state: &AppState,
    tx: crate::storage::Tx,
    app: &Application,
    org: crate::ids::OrgId,
    user: crate::ids::UserId,
    grant: &str,
    why: AuditAction,
) -> Result<(), OAuthError> {
    let now = state.clock.now_ms();
    let until = now + (state.config.oidc.access_token_ttl_secs as i64) * 1000;
    let revoked = storage::oidc::revoke_grant(tx.conn(), org, grant, now, until).await?;
    let event = AuditEvent::new(
        &Actor::System {
            component: "oidc".into(),
        },
        why,
        format!("grant:{grant}"),
    )
    .org(org)
    .org(app.org_id)
    .details(
        json!({"client_id": app.client_id, "user_id": user, "refresh_tokens_revoked": revoked}),
    );
    state.commit_audited(tx, event).await?;
    Ok(())
}

/// The person and their organization are both active.
fn active(ctx: &SubjectContext) -> bool {
    ctx.user.status == crate::users::UserStatus::Active
        && ctx.org.status == crate::orgs::model::OrgStatus::Active
}

async fn refresh_grant(
    state: &AppState,
    app: &Application,
    form: &HashMap<String, String>,
    source: SourceIp,
) -> Result<serde_json::Value, OAuthError> {
    let token = required(form, "refresh_token", 200)?;
    let now = state.clock.now_ms();
    let tx = state.store.begin().await?;
    let Some(stored) = storage::oidc::lock_refresh(tx.conn(), &hash_token(token)).await? else {
        return Err(guessed(state, app, source, "refresh token"));
    };
    if stored.app_id != app.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if stored.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token is revoked"));
    }
    if stored.used_at.is_some() {
        // RFC 9700 §4.14.2: a rotated-out token came back: assume theft, revoke the family.
        let (org, user, grant) = (stored.org_id, stored.user_id, stored.grant_id);
        revoke_family(
            state,
            tx,
            app,
            org,
            user,
            &grant,
            AuditAction::RefreshTokenReused,
        )
        .await?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was already used; its family is revoked",
        ));
    }
    if stored.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let scope = match form.get("scope") {
        Some(s) => {
            let asked = split_scope(s);
            if asked.iter().any(|x| !stored.scope.contains(x)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "a refresh cannot widen the granted scope",
                ));
            }
            asked
        }
        None => stored.scope.clone(),
    };
    let ctx = storage::oidc::subject_context(
        tx.conn(),
        stored.org_id,
        stored.user_id,
        stored.session_id.as_deref(),
    )
    .await?;
    let Some(ctx) = ctx.filter(active) else {
        return Err(OAuthError::invalid_grant(
            "the person's account is no longer active",
        ));
    };
    if stored.session_id.is_some()
        && !ctx
            .session
            .is_some_and(|(ended, expires)| ended.is_none() && expires > now)
    {
        return Err(OAuthError::invalid_grant("the session has ended"));
    }
    let (user, org) = (&ctx.user, &ctx.org);
    // Access through a space ends with the space's grant or the person's group membership.
    let access = crate::spaces::may_use(tx.conn(), app, user).await?;
    if !access.admitted {
        return Err(OAuthError::invalid_grant(
            "the person no longer has access to this application",
        ));
    }
    storage::oidc::mark_refresh_used(tx.conn(), &stored.token_hash, now).await?;
    let sub = crate::spaces::release::remember(tx.conn(), state, app, user).await?;
    let subject = Subject {
        user,
        sub: &sub,
        release: &access.release,
        org,
        spaces: &access.spaces,
        session_id: stored.session_id.as_deref(),
        auth_time: stored.auth_time,
        nonce: None,
    };
    let offline = stored.session_id.is_none();
    let issued = tokens::issue(
        state,
        &tx,
        app,
        Some(&subject),
        Some(&stored.grant_id),
        &scope,
        Some(offline),
    )
    .await?;
    tx.commit().await?;
    Ok(issued.to_json())
}

async fn client_credentials(
    state: &AppState,
    app: &Application,
    form: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    if !app.allow_client_credentials {
        return Err(OAuthError::new(
            "unauthorized_client",
            "this client may not use client_credentials",
        ));
    }
    let scope = split_scope(form.get("scope").map(String::as_str).unwrap_or_default());
    if scope.iter().any(|s| {
        s.len() > 100
            || !s
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) || scope.len() > 20
    {
        return Err(OAuthError::new("invalid_scope", "malformed scope"));
    }
    if scope
        .iter()
        .any(|s| super::tokens::SCOPES.contains(&s.as_str()))
    {
        return Err(OAuthError::new(
            "invalid_scope",
            "user scopes need a person: use the authorization code flow",
        ));
    }
    let tx = state.store.begin().await?;
    let issued = tokens::issue(state, &tx, app, None, None, &scope, None).await?;
    tx.commit().await?;
    Ok(issued.to_json())
}

#[cfg(test)]
mod tests {
    use super::pkce_ok;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_ok("short", challenge));
    }
}
