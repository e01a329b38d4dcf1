//! Operator keys can be limited in scope (issue 17): `orgs` names the organizations a key may
//! act on (a JSON array of ids; none: every organization), and an operator key may be
//! read-only (role `read` without an organization).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["ALTER TABLE api_keys ADD COLUMN orgs TEXT"];

const DOWN: &[&str] = &["ALTER TABLE api_keys DROP COLUMN orgs"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, DOWN).await
    }
}
