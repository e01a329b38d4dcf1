//! The operator is bound (issue 17): a connection links existing people by email only once the
//! organization's own admin approved it. Connections made before this migration were made under
//! the old rules and keep linking (their approval time is their creation).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE connections ADD COLUMN links_approved_at BIGINT",
    "UPDATE connections SET links_approved_at = created_at",
];

const DOWN: &[&str] = &["ALTER TABLE connections DROP COLUMN links_approved_at"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, DOWN).await
    }
}
