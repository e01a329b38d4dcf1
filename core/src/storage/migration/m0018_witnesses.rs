//! Witnesses of the audit log (issue 18): the keys each organization trusts to cosign the log's
//! checkpoints, and the cosignatures they posted (signature lines appended to a checkpoint).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE audit_witnesses (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL,
        name TEXT NOT NULL,
        vkey TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX audit_witnesses_org ON audit_witnesses (org_id)",
    "CREATE TABLE audit_tree_cosignatures (
        size BIGINT NOT NULL,
        witness_id TEXT NOT NULL,
        line TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (size, witness_id)
    )",
];

const DOWN: &[&str] = &[
    "DROP TABLE audit_tree_cosignatures",
    "DROP TABLE audit_witnesses",
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
