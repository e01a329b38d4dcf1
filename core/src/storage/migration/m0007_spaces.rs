//! Spaces: shared workspaces owned by one organization, the applications that serve them, and
//! the grants that admit people of an organization (all of it, one of its groups, or one
//! person) once that organization's admin has accepted. Applications may require a space.
//! Organizations map their directory groups to hub roles.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE spaces (
        id TEXT PRIMARY KEY,
        org_id TEXT NOT NULL REFERENCES organizations (id),
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX ux_spaces_org_slug ON spaces (org_id, slug)",
    "CREATE TABLE space_apps (
        space_id TEXT NOT NULL,
        app_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        PRIMARY KEY (space_id, app_id))",
    "CREATE INDEX ix_space_apps_app ON space_apps (org_id, app_id)",
    "CREATE TABLE space_grants (
        id TEXT PRIMARY KEY,
        space_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        partner_org_id TEXT NOT NULL REFERENCES organizations (id),
        subject_kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        status TEXT NOT NULL,
        proposed_at BIGINT NOT NULL,
        decided_at BIGINT,
        withdrawn_at BIGINT,
        withdrawn_by TEXT)",
    "CREATE INDEX ix_space_grants_space ON space_grants (org_id, space_id)",
    "CREATE INDEX ix_space_grants_partner ON space_grants (partner_org_id, status)",
    // Each organization maps its own directory groups to the hub's roles (org_admin,
    // compliance_officer): the people in those groups hold the role in the console.
    "CREATE TABLE org_role_groups (
        org_id TEXT NOT NULL REFERENCES organizations (id),
        role TEXT NOT NULL,
        group_name TEXT NOT NULL,
        PRIMARY KEY (org_id, role, group_name))",
    "ALTER TABLE applications ADD COLUMN spaces_required BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX ix_oidc_refresh_user_app ON oidc_refresh_tokens (org_id, user_id, app_id)",
    "CREATE INDEX ix_oidc_session_apps_app ON oidc_session_apps (org_id, app_id)",
];

const DOWN: &[&str] = &[
    "DROP INDEX ix_oidc_session_apps_app",
    "DROP INDEX ix_oidc_refresh_user_app",
    "ALTER TABLE applications DROP COLUMN spaces_required",
    "DROP TABLE org_role_groups",
    "DROP TABLE space_grants",
    "DROP TABLE space_apps",
    "DROP TABLE spaces",
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
