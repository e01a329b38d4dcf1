//! The operator is bound (issue 17): an operator's change to an organization that has its own
//! admin waits for that admin's approval (`operator_requests`), unless a break-glass window the
//! operator opened with a reason is in force (`break_glass`, told to the organization, reviewed
//! afterwards); API keys can expire (break-glass keys end with their window).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE api_keys ADD COLUMN expires_at BIGINT",
    "CREATE TABLE operator_requests (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        decided_at BIGINT,
        decided_by TEXT
    )",
    "CREATE INDEX operator_requests_org ON operator_requests (org_id, status)",
    "CREATE TABLE break_glass (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        opened_by TEXT NOT NULL,
        opened_at BIGINT NOT NULL,
        ends_at BIGINT NOT NULL,
        reviewed_at BIGINT,
        reviewed_by TEXT,
        review_note TEXT
    )",
    "CREATE INDEX break_glass_org ON break_glass (org_id, ends_at)",
];

const DOWN: &[&str] = &[
    "DROP TABLE break_glass",
    "DROP TABLE operator_requests",
    "ALTER TABLE api_keys DROP COLUMN expires_at",
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
