//! OAuth hardening: PKCE required per application (on by default, for existing applications
//! too: OAuth 2.1), and pending authorization requests counted per client and per source (a
//! hash of the address, never the address) so their number stays bounded, with an index to
//! purge the expired ones.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE applications ADD COLUMN require_pkce BOOLEAN NOT NULL DEFAULT TRUE",
    "ALTER TABLE oidc_auth_requests ADD COLUMN source_hash TEXT",
    "CREATE INDEX ix_oidc_auth_requests_app ON oidc_auth_requests (app_id, expires_at)",
    "CREATE INDEX ix_oidc_auth_requests_source ON oidc_auth_requests (source_hash, expires_at)",
    "CREATE INDEX ix_oidc_auth_requests_expiry ON oidc_auth_requests (expires_at)",
];

const DOWN: &[&str] = &[
    "DROP INDEX ix_oidc_auth_requests_expiry",
    "DROP INDEX ix_oidc_auth_requests_source",
    "DROP INDEX ix_oidc_auth_requests_app",
    "ALTER TABLE oidc_auth_requests DROP COLUMN source_hash",
    "ALTER TABLE applications DROP COLUMN require_pkce",
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
