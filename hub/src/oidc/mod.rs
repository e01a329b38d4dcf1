//! The hub as OpenID Connect provider for the shared applications: discovery, JWKS,
//! authorization code + PKCE, token (code, refresh, client credentials), userinfo, introspection,
//! revocation, RP-initiated and back-channel logout, the consent page and account chooser, and
//! the browser session.

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod evidence;
pub mod interaction;
pub mod introspect;
pub mod logout;
pub mod request;
pub mod token;
pub mod tokens;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::get_configuration),
        )
        .route("/oauth2/jwks", get(discovery::get_jwks))
        .route(
            "/oauth2/authorize",
            get(authorize::get_authorize).post(authorize::post_authorize),
        )
        .route("/oauth2/token", post(token::post_token))
        .route(
            "/oauth2/userinfo",
            get(introspect::userinfo_endpoint).post(introspect::userinfo_endpoint),
        )
        .route("/oauth2/introspect", post(introspect::post_introspect))
        .route("/oauth2/revoke", post(introspect::post_revoke))
        .route("/api/v1/evidence", post(evidence::post_evidence))
        .route(interaction::PATH, post(interaction::post_interaction))
        .route(
            "/oauth2/logout",
            get(logout::get_logout).post(logout::post_logout),
        )
}
