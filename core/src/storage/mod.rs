//! Storage: the only module that imports `sea_orm`. `Store` owns the pool; `Tx` is a write
//! transaction. Repository functions take a connection, then the organization, and filter on it;
//! they return domain types, never entities.
//!
//! SQLite allows one writer at a time, and a deferred transaction that read before writing fails
//! with SQLITE_BUSY instead of waiting. So SQLite write transactions begin IMMEDIATE (taking the
//! write lock up front, waiting on other processes such as the CLI through the busy timeout) and
//! are queued in-process first; PostgreSQL serializes what it must with row locks.

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::{DatabaseConfig, DatabaseKind};

mod entities;
mod migration;
pub mod repo;

pub use repo::*;

/// A connection a repository function can run on: the pool or a transaction.
pub trait Conn: ConnectionTrait {}
impl<T: ConnectionTrait> Conn for T {}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[source] DbErr),
    /// A unique constraint refused the write (a concurrent duplicate that pre-checks missed).
    #[error("a row with the same unique value already exists")]
    Conflict(#[source] DbErr),
    /// A stored value does not parse (edited by hand, or from a newer version).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
    #[error("cannot open database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: DbErr,
    },
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict(err),
            _ => StoreError::Db(err),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    kind: DatabaseKind,
    write_lock: Option<Arc<Mutex<()>>>,
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
///
/// Audit events appended in it are chained at once (the chain head is locked at the first
/// append) but written at commit, in a few multi-row inserts: a sync that records thousands of
/// changes costs a handful of statements, not four per event.
pub struct Tx {
    inner: DatabaseTransaction,
    _guard: Option<OwnedMutexGuard<()>>,
    audit: std::sync::Mutex<Option<PendingAudit>>,
}

/// The chain head as this transaction extended it, and the records still to write.
struct PendingAudit {
    seq: i64,
    hash: String,
    records: Vec<crate::audit::model::AuditRecord>,
}

impl Store {
    /// Connects (creating the SQLite file and its directory if needed) without migrating.
    pub async fn connect(config: &DatabaseConfig) -> StoreResult<Self> {
        let url = config.url.expose();
        let kind = if url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else {
            DatabaseKind::Postgres
        };
        let url = match kind {
            DatabaseKind::Sqlite => {
                // A failure here surfaces as a clear connect error just below.
                let _ = private_sqlite_files(std::path::Path::new(sqlite_file(url)));
                sqlite_url(url)
            }
            DatabaseKind::Postgres => url.to_string(),
        };
        let mut options = ConnectOptions::new(url.clone());
        if kind == DatabaseKind::Sqlite {
            // WAL with synchronous=NORMAL: a commit survives a crash of the process (the
            // embedded hub's failure mode), and writes do not wait for an fsync each.
            options.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // 32 MiB of page cache per connection (the default is 2 MiB): a sync
                    // of 100,000 users otherwise rereads its indexes from the file.
                    .pragma("cache_size", "-32768")
            });
        }
        options
            .max_connections(config.max_connections)
            .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
            .acquire_timeout(Duration::from_secs(config.connect_timeout_secs))
            .sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        Ok(Self {
            db,
            kind,
            write_lock: (kind == DatabaseKind::Sqlite).then(|| Arc::new(Mutex::new(()))),
        })
    }

    /// Connects to `url` with a small pool (tools and benchmarks).
    pub async fn connect_url(url: &str) -> StoreResult<Self> {
        Self::connect(&DatabaseConfig {
            url: connectors::SecretString::new(url),
            max_connections: 2,
            connect_timeout_secs: 10,
        })
        .await
    }

    /// Runs one SQL statement outside any repository (benchmark baselines, admin tasks).
    pub async fn execute(&self, sql: &str) -> StoreResult<()> {
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Applies pending migrations; returns how many ran. On PostgreSQL the migration runs in one
    /// transaction under an advisory lock, so replicas starting together migrate once.
    pub async fn migrate(&self) -> StoreResult<usize> {
        match self.kind {
            DatabaseKind::Sqlite => {
                let _guard = self.begin_lock().await;
                let pending = migration::Migrator::get_pending_migrations(&self.db)
                    .await?
                    .len();
                migration::Migrator::up(&self.db, None).await?;
                Ok(pending)
            }
            DatabaseKind::Postgres => {
                let txn = self.db.begin().await?;
                txn.execute_unprepared("SELECT pg_advisory_xact_lock(7243001)")
                    .await?;
                let pending = migration::Migrator::get_pending_migrations(&txn)
                    .await?
                    .len();
                migration::Migrator::up(&txn, None).await?;
                txn.commit().await?;
                Ok(pending)
            }
        }
    }

    async fn begin_lock(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// The pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a write transaction (BEGIN IMMEDIATE, serialized in-process, on SQLite).
    pub async fn begin(&self) -> StoreResult<Tx> {
        let guard = self.begin_lock().await;
        let inner = match self.kind {
            DatabaseKind::Sqlite => {
                self.db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await?
            }
            DatabaseKind::Postgres => self.db.begin().await?,
        };
        Ok(Tx {
            inner,
            _guard: guard,
            audit: std::sync::Mutex::new(None),
        })
    }

    /// `SELECT 1`: is the database reachable?
    pub async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await.map_err(StoreError::from)
    }

    pub async fn close(self) -> StoreResult<()> {
        self.db.close().await.map_err(StoreError::from)
    }
}

impl Tx {
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.inner
    }

    /// Runs one SQL statement in the transaction (benchmark baselines).
    pub async fn execute(&self, sql: &str) -> StoreResult<()> {
        self.inner.execute_unprepared(sql).await?;
        Ok(())
    }

    /// The chain head this transaction holds: locked in the database at the first append,
    /// then as extended by the events appended since.
    pub async fn audit_head(&self) -> StoreResult<(i64, String)> {
        if let Some(p) = self.pending().as_ref() {
            return Ok((p.seq, p.hash.clone()));
        }
        let (seq, hash) = repo::audit::lock_head(&self.inner).await?;
        Ok((seq, hash))
    }

    /// Queues a chained record to write at commit; it becomes the head.
    pub fn push_audit(&self, record: crate::audit::model::AuditRecord) {
        let mut pending = self.pending();
        let p = pending.get_or_insert_with(|| PendingAudit {
            seq: 0,
            hash: String::new(),
            records: Vec::new(),
        });
        p.seq = record.seq;
        p.hash = record.hash.clone();
        p.records.push(record);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Option<PendingAudit>> {
        // Never held across an await, so never poisoned by a panic elsewhere; recover anyway.
        self.audit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the queued audit records and the new chain head, then commits.
    pub async fn commit(self) -> StoreResult<()> {
        let pending = self.pending().take();
        if let Some(p) = pending {
            repo::audit::insert_many(&self.inner, &p.records).await?;
            repo::audit::set_head(&self.inner, p.seq, &p.hash).await?;
        }
        self.inner.commit().await.map_err(StoreError::from)
    }
}

/// The file path of a SQLite URL.
/// The file a `sqlite:` URL names (`:memory:` for an in-memory database).
pub fn sqlite_file(url: &str) -> &str {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    path.split_once('?').map_or(path, |(file, _)| file)
}

/// The SQLite database holds sealed secrets, token hashes and everyone's identities: its file is
/// created readable by the hub's user only (0600, in a 0700 directory when the hub makes it),
/// and an existing file, WAL or shared-memory file readable by others is narrowed to 0600.
/// SQLite creates the WAL and shared-memory files with the database file's permissions.
fn private_sqlite_files(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        files.push(p.into());
    }
    for file in files.iter().filter(|f| f.exists()) {
        let mode = std::fs::metadata(file)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(file = %file.display(), mode = format!("{:o}", mode & 0o777),
                "database file readable by others; narrowing it to 0600");
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// `sqlite://path` -> `sqlite://path?mode=rwc`, so the file is created on first start.
fn sqlite_url(url: &str) -> String {
    let file = sqlite_file(url);
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if query.contains("mode=") || file == ":memory:" {
        url.to_string()
    } else if query.is_empty() {
        format!("sqlite://{file}?mode=rwc")
    } else {
        format!("sqlite://{file}?{query}&mode=rwc")
    }
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode_and_passwords_are_hidden() {
        assert_eq!(
            sqlite_url("sqlite://x/hub.db"),
            "sqlite://x/hub.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite://hub.db?mode=ro"),
            "sqlite://hub.db?mode=ro"
        );
        assert_eq!(sqlite_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
    }
}
