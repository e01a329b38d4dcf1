//! Users, and the OIDC provider's state: browser sessions, pending authorization requests,
//! codes, refresh tokens, revocations, which applications a session reached, client assertion
//! ids.
//! Every row that belongs to an organization carries `org_id`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        external_id TEXT,
        username TEXT NOT NULL,
        email TEXT NOT NULL,
        email_verified BOOLEAN NOT NULL,
        name TEXT NOT NULL,
        given_name TEXT,
        family_name TEXT,
        groups TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, email)",
    "CREATE UNIQUE INDEX ux_users_org_username ON users (org_id, username)",
    "ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic'",
    "ALTER TABLE applications ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'ES256'",
    "ALTER TABLE applications ADD COLUMN jwks TEXT",
    "ALTER TABLE applications ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE applications ADD COLUMN allow_client_credentials BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE TABLE oidc_sessions (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        auth_time BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        ended_at BIGINT,
        end_reason TEXT)",
    "CREATE UNIQUE INDEX ux_oidc_sessions_token ON oidc_sessions (token_hash)",
    "CREATE INDEX ix_oidc_sessions_user ON oidc_sessions (org_id, user_id)",
    "CREATE TABLE oidc_session_apps (
        session_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        first_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, app_id))",
    "CREATE TABLE oidc_auth_requests (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        browser_hash TEXT NOT NULL,
        params TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "CREATE TABLE oidc_codes (
        code_hash TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        grant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        scope TEXT NOT NULL,
        nonce TEXT,
        code_challenge TEXT,
        auth_time BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT)",
    "CREATE TABLE oidc_refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        grant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        session_id TEXT,
        scope TEXT NOT NULL,
        auth_time BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        revoked_at BIGINT)",
    "CREATE INDEX ix_oidc_refresh_grant ON oidc_refresh_tokens (grant_id)",
    // Access tokens are JWTs and are not stored: what is revoked before it expires is listed
    // here, by token id (`jti`), by grant, or by user (every token issued before `revoked_at`).
    "CREATE TABLE oidc_revocations (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        revoked_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "CREATE TABLE oidc_client_assertions (
        jti TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL)",
];

const DOWN: &[&str] = &[
    "DROP TABLE oidc_client_assertions",
    "DROP TABLE oidc_revocations",
    "DROP TABLE oidc_refresh_tokens",
    "DROP TABLE oidc_codes",
    "DROP TABLE oidc_auth_requests",
    "DROP TABLE oidc_session_apps",
    "DROP TABLE oidc_sessions",
    "ALTER TABLE applications DROP COLUMN allow_client_credentials",
    "ALTER TABLE applications DROP COLUMN post_logout_redirect_uris",
    "ALTER TABLE applications DROP COLUMN jwks",
    "ALTER TABLE applications DROP COLUMN id_token_signed_response_alg",
    "ALTER TABLE applications DROP COLUMN token_endpoint_auth_method",
    "DROP TABLE users",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, DOWN).await
    }
}
