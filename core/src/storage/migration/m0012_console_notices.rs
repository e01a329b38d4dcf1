//! Re-authentication and security notices (issue 15): when a session's person last signed in
//! afresh at their IdP (recorded by the hub, never by the browser), the one console change a
//! session may have waiting for that sign-in (sealed), and each organization's security
//! notices (a copy of the audit events that change who can sign in or who belongs) with each
//! person's read mark.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE session_step_ups (
        session_id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        upstream_auth_ms BIGINT,
        method TEXT NOT NULL)",
    "CREATE TABLE console_pending_changes (
        session_id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        path TEXT NOT NULL,
        form_sealed TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL)",
    "CREATE TABLE security_notices (
        org_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        actor_user_id TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        PRIMARY KEY (org_id, seq))",
    "CREATE TABLE security_notice_reads (
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        read_seq BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (org_id, user_id))",
];

const DOWN: &[&str] = &[
    "DROP TABLE security_notice_reads",
    "DROP TABLE security_notices",
    "DROP TABLE console_pending_changes",
    "DROP TABLE session_step_ups",
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
