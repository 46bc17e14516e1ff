//! Database connections for PostgreSQL and SQLite, migrations under a lock,
//! and write transactions that behave the same on both.
//!
//! SQLite has no row locks: a write transaction there begins IMMEDIATE (it
//! takes the write lock at BEGIN, so two writers queue on the busy timeout
//! instead of failing at their first write), and runs in WAL mode so readers
//! never wait for writers.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use secrecy::{ExposeSecret, SecretString};

/// How long a SQLite writer waits for the write lock before failing.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection to one system's database.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
}

impl Db {
    /// Connects to `postgres://…` or `sqlite://…` (the SQLite file is created
    /// when missing).
    pub async fn connect(url: &SecretString) -> Result<Db, DbErr> {
        let url = url.expose_secret();
        let mut opts = if url.starts_with("sqlite:") {
            let mut url = url.to_owned();
            if !url.contains("mode=") {
                url.push_str(if url.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(8).map_sqlx_sqlite_opts(|o| {
                o.busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .foreign_keys(true)
            });
            opts
        } else {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(32);
            opts
        };
        opts.min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        Ok(Db {
            conn: Database::connect(opts).await?,
        })
    }

    /// Wraps an existing connection.
    pub fn from_connection(conn: DatabaseConnection) -> Db {
        Db { conn }
    }

    /// The pool, for reads and for sea-orm APIs.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// PostgreSQL or SQLite.
    pub fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    /// Begins a write transaction: IMMEDIATE on SQLite, the default on PostgreSQL.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend() == DatabaseBackend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.conn.begin_with_options(options).await
    }

    /// Checks the database answers (readiness).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// Lock key of the migration advisory lock on PostgreSQL ("MAPMIGR" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x004D_4150_4D49_4752;

/// Applies all pending migrations of `M`. On PostgreSQL the run holds a
/// session advisory lock, so two processes starting at once migrate one after
/// the other and the second finds nothing to do. On SQLite the whole run is
/// one IMMEDIATE transaction (SQLite's DDL is transactional): a second
/// process waits on the write lock, then finds nothing to do.
pub async fn migrate<M: MigratorTrait>(url: &SecretString) -> Result<(), DbErr> {
    let db = Db::connect(url).await?;
    if db.backend() != DatabaseBackend::Postgres {
        let txn = db.begin_write().await?;
        let result = match M::up(&txn, None).await {
            Ok(()) => txn.commit().await,
            Err(e) => Err(e),
        };
        db.close().await?;
        return result;
    }
    // A pool of exactly one connection: the advisory lock is held by a session,
    // and every statement of the run must use that session.
    let url = url.expose_secret().to_owned();
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let conn = Database::connect(opts).await?;
    conn.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .await?;
    let result = M::up(&conn, None).await;
    let unlocked = conn
        .execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .await;
    conn.close().await?;
    result?;
    unlocked.map(|_| ())
}

/// Whether `e` is a unique-key violation: a concurrent writer took the key
/// first (both databases report it the same way through sea-orm).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
