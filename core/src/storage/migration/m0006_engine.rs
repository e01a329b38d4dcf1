//! The deprovisioning engine and background work: leases (so one replica at a time runs a job,
//! and a dead replica's job is taken over when its lease expires), the durable outbox of
//! downstream notifications (written in the transaction of the change that caused them), leavers
//! with their time-to-deprovision, each LDAP directory's change cursor and sync schedule state,
//! sync runs' mode, trigger and progress, and applications' outbound SCIM target and webhook.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "ALTER TABLE directories ADD COLUMN sync_cursor TEXT",
    "ALTER TABLE directories ADD COLUMN last_full_at BIGINT",
    "ALTER TABLE directories ADD COLUMN last_incremental_at BIGINT",
    "ALTER TABLE directory_syncs ADD COLUMN mode TEXT NOT NULL DEFAULT 'full'",
    "ALTER TABLE directory_syncs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'admin'",
    "ALTER TABLE directory_syncs ADD COLUMN progress BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE applications ADD COLUMN scim_target TEXT",
    "ALTER TABLE applications ADD COLUMN webhook TEXT",
    "CREATE TABLE leavers (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        user_id TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT NOT NULL,
        signal_at BIGINT NOT NULL,
        revoked_at BIGINT NOT NULL,
        deliveries BIGINT NOT NULL,
        completed_at BIGINT)",
    "CREATE INDEX ix_leavers_org ON leavers (org_id, signal_at)",
    "CREATE INDEX ix_leavers_user ON leavers (org_id, user_id)",
    "CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        leaver_id TEXT,
        kind TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        claimed_by TEXT,
        claimed_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        delivered_at BIGINT)",
    "CREATE UNIQUE INDEX ux_outbox_key ON outbox (idempotency_key)",
    "CREATE INDEX ix_outbox_due ON outbox (status, next_attempt_at)",
    "CREATE INDEX ix_outbox_org ON outbox (org_id, status, created_at)",
    "CREATE INDEX ix_outbox_leaver ON outbox (leaver_id)",
    // What a directory last said of a user (a hash of its entry) and the user's version then:
    // a full sync skips users whose entry and row are both unchanged, reading no whole rows.
    "ALTER TABLE users ADD COLUMN source_hash TEXT",
    "ALTER TABLE users ADD COLUMN source_version BIGINT",
    "ALTER TABLE groups ADD COLUMN source_hash TEXT",
    // A group's members in order: without it SQLite scans the organization's memberships by user.
    "CREATE INDEX ix_group_members_group ON group_members (org_id, group_id, user_id)",
];

const DOWN: &[&str] = &[
    "DROP INDEX ix_group_members_group",
    "ALTER TABLE groups DROP COLUMN source_hash",
    "ALTER TABLE users DROP COLUMN source_version",
    "ALTER TABLE users DROP COLUMN source_hash",
    "DROP TABLE outbox",
    "DROP TABLE leavers",
    "ALTER TABLE applications DROP COLUMN webhook",
    "ALTER TABLE applications DROP COLUMN scim_target",
    "ALTER TABLE directory_syncs DROP COLUMN progress",
    "ALTER TABLE directory_syncs DROP COLUMN triggered_by",
    "ALTER TABLE directory_syncs DROP COLUMN mode",
    "ALTER TABLE directories DROP COLUMN last_incremental_at",
    "ALTER TABLE directories DROP COLUMN last_full_at",
    "ALTER TABLE directories DROP COLUMN sync_cursor",
    "DROP TABLE leases",
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
