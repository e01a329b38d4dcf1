//! Throwaway databases, one per test: a SQLite file in a temporary directory (removed with it when
//! the [`TestDb`] is dropped) or, with `HUB_TEST_DATABASE=postgres`, a new PostgreSQL database on
//! the server at `HUB_TEST_POSTGRES_URL` (127.0.0.1:5432 by default), dropped by
//! [`TestDb::drop_db`] (which `TestHub::stop` calls).

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Where the suite keeps its databases: `sqlite` (default) or `postgres`.
pub fn backend() -> String {
    std::env::var("HUB_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

/// Base URL of the PostgreSQL server (no database name).
pub fn postgres_base() -> String {
    std::env::var("HUB_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A throwaway database.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A database of the suite's backend.
    pub async fn new() -> Self {
        match backend().as_str() {
            "postgres" => Self::postgres().await,
            "sqlite" => Self::sqlite(),
            other => panic!("HUB_TEST_DATABASE must be sqlite or postgres, not {other:?}"),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("hub.db").display());
        Self {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL database named `hubtest_<run>_<random>`; `.ci/run` drops leftovers.
    pub async fn postgres() -> Self {
        let run = std::env::var("HUB_TEST_RUN_ID").unwrap_or_else(|_| "local".into());
        let name = format!(
            "hubtest_{}_{}",
            run.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>(),
            uuid::Uuid::new_v4().simple()
        );
        let admin = Database::connect(format!("{}/postgres", postgres_base()))
            .await
            .expect(
                "PostgreSQL at HUB_TEST_POSTGRES_URL (default 127.0.0.1:5432) must be reachable",
            );
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.ok();
        Self {
            url: format!("{}/{name}", postgres_base()),
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }

    /// Drops a PostgreSQL database (SQLite files go with their temp dir).
    pub async fn drop_db(&self) {
        if let Some(name) = &self.pg_name
            && let Ok(admin) = Database::connect(format!("{}/postgres", postgres_base())).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            admin.close().await.ok();
        }
    }
}
