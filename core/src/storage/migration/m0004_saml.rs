//! SAML: the assertions already used, so a replayed response is refused (per connection, kept
//! until the assertion would have expired anyway). Connections name the email domains they
//! serve (home-realm discovery).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE saml_assertions (
        connection_id TEXT NOT NULL,
        assertion_id TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (connection_id, assertion_id))",
    "ALTER TABLE connections ADD COLUMN domains TEXT NOT NULL DEFAULT '[]'",
];

const DOWN: &[&str] = &[
    "ALTER TABLE connections DROP COLUMN domains",
    "DROP TABLE saml_assertions",
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
