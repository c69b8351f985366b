//! Persistence, access control and the audit trail.
//!
//! Design: one SQL implementation over sqlx's `Any` driver, two real
//! backends (an embedded SQLite file, the default, and PostgreSQL). Queries
//! are written once in the dialect both accept (`$1` parameters, BIGINT
//! microsecond timestamps, TEXT codes, recursive CTEs); what differs lives in
//! the per-backend migrations. The same test suite runs against both.
//!
//! Every public method that reads or changes registry data takes the caller's
//! [`Principal`] and enforces role and scope here, in the store, so no
//! handler can forget to: a unit operator's query simply cannot return
//! another unit's rows.

mod access;
mod alerts;
mod attribute;
mod audit;
mod batch;
mod board;
mod delivery;
mod filter;
mod idempotency;
mod notices;
mod registry;
mod sessions;
mod users;

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use access::{Perm, Principal, Role, Visibility};
pub use alerts::{Alert, AlertHits, AlertQuery, MAX_SAMPLES, Override};
pub use attribute::{Affected, AssetView, Attribution, Attributor, UnitRef};
pub use audit::{AuditEntry, ChainReport};
pub use board::{Board, RegionRisk, UnitRisk};
pub use delivery::{Attempt, Channel, InboxItem, NewChannel, OutboxQuery, OutboxRecord, Outgoing, Retry, TemplateEntry};
pub use idempotency::{Claim, check_key};
pub use notices::{
    AnswerRecord, Attachment, FromAlerts, LogEntry, MAX_ATTACHMENT, Move, Moved, NewAnswer, NewNotice, Notice, NoticeDetail, NoticeQuery,
    Raised, Report, ReportCase, Sweep, safe_name,
};
pub use registry::{ClaimChange, ClaimRecord, ImportOutcome, ImportSummary, OverlapReport, UnitDetail, UnitSummary};
pub use sessions::{
    LANGUAGES, LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS, NewSession, PASSWORD_MAX, SESSION_IDLE, SESSION_LIFETIME, Session, SessionInfo,
    check_password, new_totp_secret, random_token, totp_code,
};
pub use users::{NewUser, TokenInfo, UserInfo};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed to apply.
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    /// The caller's role or scope does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The named thing does not exist (or is not visible to the caller).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with stored data (a duplicate name, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input is invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The caller changed something that changed since they read it.
    #[error("stale: {0}")]
    Stale(String),
    /// An upload is over its limit.
    #[error("too large: {0}")]
    TooLarge(String),
    /// An upload is of a kind not taken.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The database URL names no supported backend.
    #[error("unsupported database URL (expected sqlite:// or postgres://): {0}")]
    BadUrl(String),
    /// Stored data failed to decode: a bug or manual tampering.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Too many attempts (sign-in); retry after the given seconds.
    #[error("{message}")]
    Limited { message: String, retry_after: u32 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Embedded migrations, applied in order, one transaction each.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql"), include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_alerts.sql"), include_str!("../migrations/postgres/0002_alerts.sql")),
    (3, include_str!("../migrations/sqlite/0003_alert_samples.sql"), include_str!("../migrations/postgres/0003_alert_samples.sql")),
    (4, include_str!("../migrations/sqlite/0004_notices.sql"), include_str!("../migrations/postgres/0004_notices.sql")),
    (5, include_str!("../migrations/sqlite/0005_audit_chain.sql"), include_str!("../migrations/postgres/0005_audit_chain.sql")),
    (6, include_str!("../migrations/sqlite/0006_delivery.sql"), include_str!("../migrations/postgres/0006_delivery.sql")),
    (7, include_str!("../migrations/sqlite/0007_attachments.sql"), include_str!("../migrations/postgres/0007_attachments.sql")),
    (8, include_str!("../migrations/sqlite/0008_reports.sql"), include_str!("../migrations/postgres/0008_reports.sql")),
    (9, include_str!("../migrations/sqlite/0009_request_keys.sql"), include_str!("../migrations/postgres/0009_request_keys.sql")),
    (10, include_str!("../migrations/sqlite/0010_console.sql"), include_str!("../migrations/postgres/0010_console.sql")),
];

/// The calendar and message templates in force, read before a transaction.
pub(crate) struct Rules {
    pub calendar: std::sync::Arc<shouwang_workflow::Calendar>,
    pub outbound: std::sync::Arc<delivery::Outbound>,
}

/// The store. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where write transactions run. On SQLite one connection: the file
    /// takes one writer at a time anyway, and writers queued here wait
    /// their turn in order, where writers racing for the lock would each
    /// sleep in SQLite's busy handler (1, 2, 5, 10… ms). On PostgreSQL
    /// the same pool as reads.
    writer: AnyPool,
    backend: Backend,
    /// The business calendar, read once and dropped when the admin edits it
    /// (deadlines are computed on every issue, answer and return).
    calendar: std::sync::Arc<arc_swap::ArcSwapOption<shouwang_workflow::Calendar>>,
    /// The message templates, likewise dropped on an edit.
    outbound: std::sync::Arc<arc_swap::ArcSwapOption<delivery::Outbound>>,
    /// Rung when a transaction commits new outbox messages, so the sender
    /// does not wait for its next poll.
    sender_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Notice moves waiting to be written together.
    mover: std::sync::Arc<notices::Mover>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Store {
    /// Resolves when messages may be waiting in the outbox: after a commit
    /// that wrote some, or a retry. The sender still polls, for backoffs.
    pub async fn outbox_signal(&self) {
        self.sender_wake.notified().await
    }

    pub(crate) fn wake_sender(&self) {
        self.sender_wake.notify_one();
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails with SQLITE_BUSY_SNAPSHOT ("database is locked") when another
    /// connection committed in between, and no busy_timeout helps; with the
    /// outbox dispatcher writing alongside the API, that happened at once.
    pub(crate) async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// What a notice move needs besides the row: the calendar its clocks
    /// count on and the templates its messages are written from.
    pub(crate) async fn rules(&self) -> Result<Rules> {
        Ok(Rules { calendar: self.calendar().await?, outbound: self.outbound().await? })
    }

    /// Opens (creating if needed) the SQLite file `dir/shouwang.sqlite`.
    pub async fn open_sqlite_dir(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid(format!("cannot create data directory {}: {e}", dir.display())))?;
        Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("shouwang.sqlite").display()), 8).await
    }

    /// Connects to `sqlite://…` or `postgres://…` and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            // Do not echo the URL: it may carry a password.
            return Err(StoreError::BadUrl(url.split(':').next().unwrap_or_default().to_string()));
        };
        let opts = AnyConnectOptions::from_str(url)?;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                // A connection to a local file does not go stale: no ping
                // (a round trip to the connection's thread) before each use.
                let options = || AnyPoolOptions::new().test_before_acquire(false);
                let pool = options().max_connections(max_connections).after_connect(sqlite_setup).connect_with(opts.clone()).await?;
                let writer = options().max_connections(1).after_connect(sqlite_setup);
                (pool, writer.connect_with(opts).await?)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new().max_connections(max_connections).connect_with(opts).await?;
                (pool.clone(), pool)
            }
        };
        let store = Store {
            pool,
            writer,
            backend,
            calendar: Default::default(),
            outbound: Default::default(),
            sender_wake: Default::default(),
            mover: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for tests and tools that must prove what the store refuses
    /// (the append-only triggers); application code goes through methods.
    #[doc(hidden)]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending embedded migrations; safe to call again.
    pub async fn migrate(&self) -> Result<()> {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&self.pool)
            .await?;
        for &(version, sqlite, postgres) in MIGRATIONS {
            let mut tx = self.write().await?;
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            let sql = if self.backend == Backend::Sqlite { sqlite } else { postgres };
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|source| StoreError::Migration { version, source })?;
            if version == 5 {
                audit::chain_existing(&mut tx).await?;
                let restore = if self.backend == Backend::Sqlite { audit::RESTORE_TRIGGER_SQLITE } else { audit::RESTORE_TRIGGER_POSTGRES };
                sqlx::raw_sql(restore).execute(&mut *tx).await.map_err(|source| StoreError::Migration { version, source })?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_micros())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "applied migration");
        }
        self.seed_calendar().await
    }

    /// Bumped in every transaction that changes what attribution sees.
    pub async fn registry_version(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = 'registry_version'").fetch_one(&self.pool).await?)
    }

    /// A cheap liveness probe of the database.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Every SQLite connection's settings.
fn sqlite_setup<'c>(
    conn: &'c mut sqlx::AnyConnection,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = std::result::Result<(), sqlx::Error>> + Send + 'c>> {
    Box::pin(async move {
        // WAL lets the server read while an import writes; busy_timeout
        // makes a writer in another process wait, not fail.
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
        conn.execute("PRAGMA busy_timeout = 10000").await?;
        // Reads map the file instead of copying pages through read(2) into
        // each connection's small page cache.
        conn.execute("PRAGMA mmap_size = 1073741824").await?;
        Ok(())
    })
}

/// Lower-case hex of `bytes` (digests, tokens).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `s` cut to at most `max` bytes, at a character boundary: for values
/// taken from the client (an address, a user agent) before they are kept.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

pub(crate) fn ts(micros: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
