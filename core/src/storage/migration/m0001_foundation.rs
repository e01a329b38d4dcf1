//! Organizations, domains, applications, API keys, the audit log and signing keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_organizations_slug ON organizations (slug)",
    "CREATE UNIQUE INDEX ux_organizations_name ON organizations (name)",
    "CREATE TABLE org_domains (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        domain TEXT NOT NULL,
        status TEXT NOT NULL,
        method TEXT,
        challenge TEXT NOT NULL,
        verified_at BIGINT,
        created_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_org_domains_org_domain ON org_domains (org_id, domain)",
    // A domain can be claimed by several organizations but verified by one only.
    "CREATE UNIQUE INDEX ux_org_domains_verified ON org_domains (domain) WHERE status = 'verified'",
    "CREATE TABLE applications (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        client_id TEXT NOT NULL,
        name TEXT NOT NULL,
        client_type TEXT NOT NULL,
        secret_hash TEXT,
        redirect_uris TEXT NOT NULL,
        backchannel_logout_uri TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_applications_client_id ON applications (client_id)",
    "CREATE UNIQUE INDEX ux_applications_org_name ON applications (org_id, name)",
    "CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        org_id TEXT REFERENCES organizations (id),
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        prefix TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT)",
    "CREATE UNIQUE INDEX ux_api_keys_hash ON api_keys (key_hash)",
    "CREATE INDEX ix_api_keys_org ON api_keys (org_id)",
    "CREATE UNIQUE INDEX ux_api_keys_active_name ON api_keys (org_id, name) \
     WHERE revoked_at IS NULL AND org_id IS NOT NULL",
    "CREATE TABLE audit_events (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        orgs TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)",
    "CREATE TABLE audit_event_orgs (
        seq BIGINT NOT NULL,
        org_id TEXT NOT NULL,
        PRIMARY KEY (seq, org_id))",
    "CREATE INDEX ix_audit_event_orgs_org ON audit_event_orgs (org_id, seq)",
    // One row: the chain head. Appends lock it (FOR UPDATE on PostgreSQL) to serialize the chain.
    "CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY,
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL)",
    "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000')",
    "CREATE TABLE audit_checkpoints (
        seq BIGINT PRIMARY KEY,
        hash TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL)",
    // Keys of a purpose form generations; the newest whose not_before has passed signs, older
    // ones stay published until retired_at plus the longest token lifetime.
    "CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        alg TEXT NOT NULL,
        generation BIGINT NOT NULL,
        public_key TEXT NOT NULL,
        private_key_sealed TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        not_before BIGINT NOT NULL,
        retired_at BIGINT)",
    "CREATE UNIQUE INDEX ux_signing_keys_generation ON signing_keys (purpose, generation)",
];

const DOWN: &[&str] = &[
    "DROP TABLE signing_keys",
    "DROP TABLE audit_checkpoints",
    "DROP TABLE audit_head",
    "DROP TABLE audit_event_orgs",
    "DROP TABLE audit_events",
    "DROP TABLE api_keys",
    "DROP TABLE applications",
    "DROP TABLE org_domains",
    "DROP TABLE organizations",
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
