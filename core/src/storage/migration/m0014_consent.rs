//! Consent itemised (issue 17): a space grant names the claims (and groups) the owner asks
//! for, what the partner's admin consented to, the applications it consented for, an expiry
//! and the recertification reviews; an application has a claim policy for its own people and
//! a subject type; pairwise subjects are remembered to find the person a token names.
//!
//! Grants accepted before this migration were consented for the applications their space had
//! then (copied into `space_grant_apps`) and release no claims until asked and accepted again;
//! applications release the standard claims and no groups unless their admin says otherwise.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE applications ADD COLUMN subject_type TEXT NOT NULL DEFAULT 'public'",
    r#"ALTER TABLE applications ADD COLUMN release TEXT NOT NULL DEFAULT '{"claims":["email","family_name","given_name","name","preferred_username"],"groups":[]}'"#,
    r#"ALTER TABLE space_grants ADD COLUMN requested TEXT NOT NULL DEFAULT '{"claims":[],"groups":[]}'"#,
    "ALTER TABLE space_grants ADD COLUMN consented TEXT",
    "ALTER TABLE space_grants ADD COLUMN valid_days BIGINT",
    "ALTER TABLE space_grants ADD COLUMN expires_at BIGINT",
    "ALTER TABLE space_grants ADD COLUMN reviews TEXT NOT NULL DEFAULT '[]'",
    "CREATE TABLE space_grant_apps (
        grant_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        PRIMARY KEY (grant_id, app_id)
    )",
    "INSERT INTO space_grant_apps (grant_id, app_id, org_id)
        SELECT g.id, a.app_id, g.org_id FROM space_grants g
        JOIN space_apps a ON a.space_id = g.space_id AND a.org_id = g.org_id
        WHERE g.status = 'accepted'",
    "CREATE INDEX space_grants_expiry ON space_grants (status, expires_at)",
    "CREATE TABLE pairwise_subjects (
        sector TEXT NOT NULL,
        subject TEXT NOT NULL,
        org_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (sector, subject)
    )",
];

const DOWN: &[&str] = &[
    "DROP TABLE pairwise_subjects",
    "DROP INDEX space_grants_expiry",
    "DROP TABLE space_grant_apps",
    "ALTER TABLE space_grants DROP COLUMN reviews",
    "ALTER TABLE space_grants DROP COLUMN expires_at",
    "ALTER TABLE space_grants DROP COLUMN valid_days",
    "ALTER TABLE space_grants DROP COLUMN consented",
    "ALTER TABLE space_grants DROP COLUMN requested",
    "ALTER TABLE applications DROP COLUMN release",
    "ALTER TABLE applications DROP COLUMN subject_type",
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
