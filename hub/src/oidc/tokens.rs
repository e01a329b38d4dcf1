//! Minting tokens: ID tokens (OIDC Core §2), access tokens as JWTs (RFC 9068) with a server-side
//! record so they can be revoked, and opaque rotating refresh tokens. Scopes map to claims
//! (OIDC Core §5.4), within what is released to the application (its claim policy for its own
//! organization's people, the space grants' release for others); `org` (id and slug) is always
//! present. `sub` is the person's subject at the application: public or pairwise.

use serde_json::{Map, Value, json};

use crate::jose::Alg;
use crate::orgs::model::{Application, Organization, Release};
use crate::secrets::{hash_token, random_token};
use crate::sessions::model::{RefreshToken, join_scope};
use crate::state::AppState;
use crate::storage::{self, Tx};
use crate::users::User;

use super::error::OAuthError;

pub const SCOPES: &[&str] = &["openid", "email", "profile", "groups", "offline_access"];

/// The person a token is about, as the token endpoint knows them.
pub struct Subject<'a> {
    pub user: &'a User,
    /// The person's `sub` at the application.
    pub sub: &'a str,
    /// What the application may learn about the person.
    pub release: &'a Release,
    pub org: &'a Organization,
    /// The application's spaces that admit the person (the `spaces` claim).
    pub spaces: &'a [String],
    pub session_id: Option<&'a str>,
    pub auth_time: i64,
    pub nonce: Option<&'a str>,
}

/// What the token endpoint returns.
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: String,
}

impl Issued {
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(t) = &self.id_token {
            body["id_token"] = json!(t);
        }
        if let Some(t) = &self.refresh_token {
            body["refresh_token"] = json!(t);
        }
        body
    }
}

/// The claims about `user` that both the granted scopes ask for and `release` allows (ID token
/// and userinfo), with `sub` the person's subject at the application.
pub fn user_claims(
    user: &User,
    org: &Organization,
    scope: &[String],
    sub: &str,
    release: &Release,
) -> Map<String, Value> {
    let has = |s: &str| scope.iter().any(|x| x == s);
    let mut c = Map::new();
    c.insert("sub".into(), json!(sub));
    c.insert(
        "org".into(),
        json!({"id": org.id.to_string(), "slug": org.slug, "name": org.name}),
    );
    if has("email") && release.has("email") && !user.email.is_empty() {
        c.insert("email".into(), json!(user.email));
        c.insert("email_verified".into(), json!(user.email_verified));
    }
    if has("profile") {
        let mut any = false;
        let mut put = |name: &str, v: Option<&String>| {
            if let Some(v) = v.filter(|_| release.has(name)) {
                c.insert(name.into(), json!(v));
                any = true;
            }
        };
        put("name", Some(&user.name));
        put("preferred_username", Some(&user.username));
        put("given_name", user.given_name.as_ref());
        put("family_name", user.family_name.as_ref());
        if any {
            c.insert("updated_at".into(), json!(user.updated_at / 1000));
        }
    }
    if has("groups") && release.has("groups") {
        c.insert(
            "groups".into(),
            json!(crate::spaces::release::groups(user, release)),
        );
    }
    c
}

fn issuer(state: &AppState) -> &str {
    &state.config.server.public_url
}

/// Issues an access token (and, for a person, an ID token if `openid` was granted and a
/// refresh token if `refresh` is set) inside `tx`.
#[allow(clippy::too_many_arguments)]
pub async fn issue(
    state: &AppState,
    tx: &Tx,
    app: &Application,
    subject: Option<&Subject<'_>>,
    grant_id: Option<&str>,
    scope: &[String],
    refresh: Option<bool>,
) -> Result<Issued, OAuthError> {
    let now = state.clock.now_ms();
    let now_s = now / 1000;
    let cfg = &state.config.oidc;
    let signer = state.keys.signer(Alg::ES256).await?;
    // Access tokens are not stored: they are checked against the revocation list. The jti is
    // a UUIDv7 of the issuing moment (the hub's clock, to the millisecond), so a revocation
    // of the user tells tokens issued before it from tokens issued after it in the same second.
    let jti = jti_at(now);
    let access_exp = now + (cfg.access_token_ttl_secs as i64) * 1000;
    let mut claims = json!({
        "iss": issuer(state),
        "aud": app.client_id,
        "client_id": app.client_id,
        "iat": now_s,
        "exp": access_exp / 1000,
        "jti": jti,
        "scope": join_scope(scope),
    });
    if let Some(g) = grant_id {
        // The grant, so that revoking it (a replayed code, a revoked refresh token) reaches
        // this token through the revocation list.
        claims["gid"] = json!(g);
    }
    claims["org"] = json!({"id": app.org_id.to_string()});
    let sub = match subject {
        Some(s) => {
            claims["org"] = json!({"id": s.org.id.to_string(), "slug": s.org.slug});
            if let Some(sid) = s.session_id {
                claims["sid"] = json!(crate::sessions::app_sid(state, app.id, sid));
            }
            claims["auth_time"] = json!(s.auth_time / 1000);
            if !s.spaces.is_empty() {
                claims["spaces"] = json!(s.spaces);
            }
            s.sub.to_string()
        }
        None => app.client_id.clone(),
    };
    claims["sub"] = json!(sub);
    let access_token = signer.sign_jwt("at+jwt", &claims)?;
    let mut id_token = None;
    let mut refresh_token = None;
    if let Some(s) = subject {
        if scope.iter().any(|x| x == "openid") {
            let mut c = user_claims(s.user, s.org, scope, s.sub, s.release);
            if !s.spaces.is_empty() {
                c.insert("spaces".into(), json!(s.spaces));
            }
            c.insert("iss".into(), json!(issuer(state)));
            c.insert("aud".into(), json!(app.client_id));
            c.insert("azp".into(), json!(app.client_id));
            c.insert("iat".into(), json!(now_s));
            c.insert("exp".into(), json!(now_s + cfg.id_token_ttl_secs as i64));
            c.insert("auth_time".into(), json!(s.auth_time / 1000));
            if let Some(sid) = s.session_id {
                c.insert(
                    "sid".into(),
                    json!(crate::sessions::app_sid(state, app.id, sid)),
                );
            }
            if let Some(n) = s.nonce {
                c.insert("nonce".into(), json!(n));
            }
            let id_signer = if app.id_token_alg == Alg::ES256 {
                signer.clone()
            } else {
                state.keys.signer(app.id_token_alg).await?
            };
            id_token = Some(id_signer.sign_jwt("JWT", &Value::Object(c))?);
        }
        if let (Some(offline), Some(grant)) = (refresh, grant_id) {
            let token = random_token().map_err(|_| OAuthError::server_error())?;
            storage::oidc::insert_refresh(
                tx.conn(),
                &RefreshToken {
                    token_hash: hash_token(&token),
                    org_id: s.user.org_id,
                    app_id: app.id,
                    grant_id: grant.to_string(),
                    user_id: s.user.id,
                    session_id: if offline {
                        None
                    } else {
                        s.session_id.map(str::to_string)
                    },
                    scope: scope.to_vec(),
                    auth_time: s.auth_time,
                    created_at: now,
                    expires_at: now + (cfg.refresh_token_ttl_secs as i64) * 1000,
                    used_at: None,
                    revoked_at: None,
                },
            )
            .await?;
            refresh_token = Some(token);
        }
    }
    Ok(Issued {
        access_token,
        expires_in: cfg.access_token_ttl_secs,
        id_token,
        refresh_token,
        scope: join_scope(scope),
    })
}

/// A UUIDv7 carrying the moment `at_ms`: access tokens' `jti`.
pub fn jti_at(at_ms: i64) -> String {
    let at = at_ms.max(0) as u64;
    let ts =
        uuid::Timestamp::from_unix(uuid::NoContext, at / 1000, ((at % 1000) * 1_000_000) as u32);
    uuid::Uuid::new_v7(ts).to_string()
}

/// When an access token was issued, to the millisecond: its UUIDv7 `jti`, else `iat`.
pub fn issued_ms(jti: &str, iat: i64) -> i64 {
    uuid::Uuid::parse_str(jti)
        .ok()
        .filter(|u| u.get_version_num() == 7)
        .and_then(|u| u.get_timestamp())
        .map(|t| {
            let (s, n) = t.to_unix();
            (s as i64) * 1000 + i64::from(n / 1_000_000)
        })
        .filter(|ms| ms / 1000 == iat)
        .unwrap_or(iat * 1000)
}
