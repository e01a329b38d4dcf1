//! SCIM names: a userName comparison key (look-alikes are one name; unique per organization),
//! `name.formatted` apart from the display name, every email of a person with its type and
//! primary flag, and people without an email (the sign-in email stays unique when present).
//!
//! The key is computed in Rust (`users::names::username_key`), so existing rows are filled in
//! here before the unique index is built. Rows whose keys already collide (written before the
//! key existed) keep their names; every one after the first (by creation) gets a key of its own
//! prefixed with `dup:` and its id, so the migration cannot fail on old data and new look-alikes
//! are still refused.

use std::collections::HashSet;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, Value};

use crate::users::names::username_key;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADD: &[&str] = &[
    "ALTER TABLE users ADD COLUMN username_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE users ADD COLUMN name_formatted TEXT",
    "ALTER TABLE users ADD COLUMN emails TEXT NOT NULL DEFAULT '[]'",
];

const INDEX: &[&str] = &[
    "CREATE UNIQUE INDEX ux_users_org_username_key ON users (org_id, username_key)",
    // A person may have no email: the empty string is not a value uniqueness applies to.
    "DROP INDEX ux_users_org_email",
    "CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, email) WHERE email <> ''",
];

const DOWN: &[&str] = &[
    "DROP INDEX ux_users_org_email",
    "CREATE UNIQUE INDEX ux_users_org_email ON users (org_id, email)",
    "DROP INDEX ux_users_org_username_key",
    "ALTER TABLE users DROP COLUMN emails",
    "ALTER TABLE users DROP COLUMN name_formatted",
    "ALTER TABLE users DROP COLUMN username_key",
];

/// Fills `username_key` for every existing user, 500 rows per statement.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, org_id, username FROM users ORDER BY created_at, id",
        ))
        .await?;
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut keys: Vec<(String, String)> = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let org: String = row.try_get("", "org_id")?;
        let name: String = row.try_get("", "username")?;
        let mut key = username_key(&name);
        if !seen.insert((org.clone(), key.clone())) {
            key = format!("dup:{id}:{key}");
        }
        keys.push((id, key));
    }
    let ph = |i: usize| match backend {
        sea_orm_migration::sea_orm::DatabaseBackend::Postgres => format!("${i}"),
        _ => "?".to_string(),
    };
    for chunk in keys.chunks(500) {
        let mut sql = String::from("UPDATE users SET username_key = CASE id");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (id, key) in chunk {
            sql.push_str(&format!(
                " WHEN {} THEN {}",
                ph(values.len() + 1),
                ph(values.len() + 2)
            ));
            values.push(id.clone().into());
            values.push(key.clone().into());
        }
        sql.push_str(" END WHERE id IN (");
        for (i, (id, _)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&ph(values.len() + 1));
            values.push(id.clone().into());
        }
        sql.push(')');
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend: on SQLite the statements otherwise go to pooled
    /// connections, and one that has not seen the index dropped refuses to create it again.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, ADD).await?;
        backfill(manager).await?;
        super::run_all(manager, INDEX).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, DOWN).await
    }
}
