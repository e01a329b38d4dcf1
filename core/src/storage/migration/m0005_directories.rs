//! Directories, each organization's source of truth for who belongs: SCIM (pushed by Okta or
//! Entra ID, authenticated by bearer tokens stored as hashes) for now. Users remember the
//! directory that manages them, a version for SCIM ETags and the SCIM attributes the hub does not
//! model (enterprise extension, phone numbers...). Groups and their members come from the
//! directory too. LDAP directories keep their bind password sealed, and each sync run is recorded
//! (counts, errors, deprovisions held for an admin to confirm).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE directories (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        settings TEXT NOT NULL,
        secret_sealed TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE TABLE directory_syncs (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        directory_id TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        counts TEXT NOT NULL,
        held TEXT NOT NULL,
        error TEXT)",
    "CREATE INDEX ix_directory_syncs_dir ON directory_syncs (org_id, directory_id, started_at)",
    "CREATE UNIQUE INDEX ux_directories_org_name ON directories (org_id, name)",
    "CREATE TABLE scim_tokens (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        directory_id TEXT NOT NULL,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT)",
    "CREATE UNIQUE INDEX ux_scim_tokens_hash ON scim_tokens (token_hash)",
    "ALTER TABLE users ADD COLUMN directory_id TEXT",
    "ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'",
    "CREATE INDEX ix_users_org_external ON users (org_id, external_id)",
    "CREATE TABLE groups (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        directory_id TEXT,
        display_name TEXT NOT NULL,
        external_id TEXT,
        version BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX ix_groups_org_name ON groups (org_id, display_name)",
    "CREATE TABLE group_members (
        org_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (group_id, user_id))",
    "CREATE INDEX ix_group_members_user ON group_members (org_id, user_id)",
];

const DOWN: &[&str] = &[
    "DROP TABLE group_members",
    "DROP TABLE groups",
    "DROP INDEX ix_users_org_external",
    "ALTER TABLE users DROP COLUMN attributes",
    "ALTER TABLE users DROP COLUMN version",
    "ALTER TABLE users DROP COLUMN directory_id",
    "DROP TABLE scim_tokens",
    "DROP TABLE directory_syncs",
    "DROP TABLE directories",
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
