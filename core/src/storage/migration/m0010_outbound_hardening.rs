//! Outbound hardening: the id each application's SCIM service gave a person the hub told it
//! about, so the hub addresses people there by an identifier it issued and remembers, never by
//! a name a partner controls.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["CREATE TABLE outbound_scim_links (
        app_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        remote_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (app_id, user_id))"];

const DOWN: &[&str] = &["DROP TABLE outbound_scim_links"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, DOWN).await
    }
}
