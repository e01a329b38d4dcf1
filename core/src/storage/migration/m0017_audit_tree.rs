//! The audit log as a transparency log (issue 18): the events, in sequence order, are the leaves
//! of a Merkle tree (RFC 9162 hashing) whose hashes are stored in the tlog layout
//! (`audit_tree_hashes`, indexed as Go's `sumdb/tlog` stores them); `audit_tree` holds the size
//! sequenced so far; `audit_tree_checkpoints` keeps every signed checkpoint (C2SP signed-note);
//! `audit_log_keys` the log's Ed25519 keys (the private half sealed).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE audit_tree_hashes (
        idx BIGINT PRIMARY KEY,
        hash TEXT NOT NULL
    )",
    "CREATE TABLE audit_tree (
        id INTEGER PRIMARY KEY,
        size BIGINT NOT NULL,
        root TEXT NOT NULL
    )",
    "INSERT INTO audit_tree (id, size, root) VALUES (1, 0, '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=')",
    "CREATE TABLE audit_tree_checkpoints (
        size BIGINT PRIMARY KEY,
        root TEXT NOT NULL,
        note TEXT NOT NULL,
        key_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL
    )",
    "CREATE TABLE audit_log_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        seed_sealed TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
];

const DOWN: &[&str] = &[
    "DROP TABLE audit_log_keys",
    "DROP TABLE audit_tree_checkpoints",
    "DROP TABLE audit_tree",
    "DROP TABLE audit_tree_hashes",
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
