//! Upstream federation: each organization's identity provider connections, the links from an
//! upstream identity to a hub user, and upstream logins in flight (bound to the browser).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE connections (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        settings TEXT NOT NULL,
        secret_sealed TEXT,
        jit_provisioning BOOLEAN NOT NULL,
        require_email_verified BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_connections_org_name ON connections (org_id, name)",
    "CREATE TABLE identity_links (
        connection_id TEXT NOT NULL,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_login_at BIGINT NOT NULL,
        PRIMARY KEY (connection_id, issuer, subject))",
    "CREATE INDEX ix_identity_links_user ON identity_links (org_id, user_id)",
    "CREATE TABLE upstream_logins (
        state_hash TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        auth_request_id TEXT NOT NULL,
        browser_hash TEXT NOT NULL,
        connector_state TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
];

const DOWN: &[&str] = &[
    "DROP TABLE upstream_logins",
    "DROP TABLE identity_links",
    "DROP TABLE connections",
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
