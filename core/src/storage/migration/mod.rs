//! Schema migrations (sea-orm-migration). Run at every start and by `hub migrate`; each
//! migration is applied once, recorded in `seaql_migrations`. The DDL is portable SQL that
//! SQLite and PostgreSQL read alike (TEXT ids, BIGINT millisecond timestamps).

use sea_orm_migration::prelude::*;

mod m0001_foundation;
mod m0002_oidc;
mod m0003_federation;
mod m0004_saml;
mod m0005_directories;
mod m0006_engine;
mod m0007_spaces;
mod m0008_scim_names;
mod m0009_oauth_hardening;
mod m0010_outbound_hardening;
mod m0012_console_notices;
mod m0013_connection_approval;
mod m0014_consent;
mod m0015_operator_bound;
mod m0016_operator_scope;
mod m0017_audit_tree;
mod m0018_witnesses;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_oidc::Migration),
            Box::new(m0003_federation::Migration),
            Box::new(m0004_saml::Migration),
            Box::new(m0005_directories::Migration),
            Box::new(m0006_engine::Migration),
            Box::new(m0007_spaces::Migration),
            Box::new(m0008_scim_names::Migration),
            Box::new(m0009_oauth_hardening::Migration),
            Box::new(m0010_outbound_hardening::Migration),
            Box::new(m0012_console_notices::Migration),
            Box::new(m0013_connection_approval::Migration),
            Box::new(m0014_consent::Migration),
            Box::new(m0015_operator_bound::Migration),
            Box::new(m0016_operator_scope::Migration),
            Box::new(m0017_audit_tree::Migration),
            Box::new(m0018_witnesses::Migration),
        ]
    }
}

/// Runs portable SQL statements in order.
async fn run_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}
