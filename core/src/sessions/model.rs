//! Sessions and the OpenID provider's state (pending requests, codes, tokens), as domain types.
//! Tokens and codes are random 256-bit values kept only as SHA-256 hashes; a *grant* ties
//! together everything one authorization issued, so that a replayed code or a reused refresh
//! token can revoke all of it.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, OrgId, UserId};

/// A browser session at the hub (cookie `hub_session`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

impl Session {
    pub fn is_live(&self, now: i64) -> bool {
        self.ended_at.is_none() && self.expires_at > now
    }
}

/// The validated parameters of an authorization request, kept while the person signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `domain_hint`: the person's email domain, when the application knows it.
    #[serde(default)]
    pub domain_hint: Option<String>,
    /// The hub session a consent page or account chooser was shown for; its answer counts
    /// only from that session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// A pending authorization request, bound to the browser that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub id: String,
    pub org_id: OrgId,
    pub target: AuthTarget,
    pub browser_hash: String,
    pub params: AuthParams,
    pub created_at: i64,
    pub expires_at: i64,
    /// A hash of the address that started it (`request::SourceIp`), for the per-address cap.
    pub source: Option<String>,
}

/// What a pending sign-in is for: a registered application of the organization, or the hub's
/// own console (which is no application and has no client id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthTarget {
    App(AppId),
    Console,
}

impl AuthTarget {
    /// The application, if the sign-in is for one.
    pub fn app(self) -> Option<AppId> {
        match self {
            Self::App(a) => Some(a),
            Self::Console => None,
        }
    }

    /// As stored: the application's id, or `console`.
    pub fn as_stored(self) -> String {
        match self {
            Self::App(a) => a.to_string(),
            Self::Console => "console".into(),
        }
    }

    /// From the stored text (`console`, or before it the nil id, is the console).
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "console" | "00000000-0000-0000-0000-000000000000" => Some(Self::Console),
            other => other.parse().ok().map(Self::App),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code_hash: String,
    pub org_id: OrgId,
    pub app_id: AppId,
    pub grant_id: String,
    pub user_id: UserId,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub org_id: OrgId,
    pub app_id: AppId,
    pub grant_id: String,
    pub user_id: UserId,
    /// `None` for offline access: the token outlives the browser session.
    pub session_id: Option<String>,
    pub scope: Vec<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What can be revoked before it expires, in the revocation list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationKind {
    /// One access token, by `jti`.
    Token,
    /// Every token of an authorization grant (a code and what it led to).
    Grant,
    /// Every token of a user issued before the revocation.
    User,
}

impl RevocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Grant => "grant",
            Self::User => "user",
        }
    }
}

pub fn join_scope(scope: &[String]) -> String {
    scope.join(" ")
}

pub fn split_scope(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_string).collect()
}
