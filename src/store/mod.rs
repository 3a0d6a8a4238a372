//! Persistence: the only module that runs SQL.
//!
//! Two backends behind one [`Store`]: PostgreSQL for production and for several instances, SQLite for
//! the embedded default. Every table has the same shape here: `store/<table>.rs` holds its domain
//! types and its operations (methods of [`Store`], named after what they do), with each statement
//! written once when both backends run it alike, and in that file's `mod pg` / `mod lite` where a
//! backend does it its own way (the batch statements Postgres runs with `UNNEST`, the claims, and
//! SQLite's one-row-at-a-time loops on its single writer). `postgres.rs` and `sqlite.rs` own only
//! the pools, the migrations and the encoding of values ([`Time`]), so that the same binds serve both.
//!
//! A statement shared by both backends is run with [`on!`], which expands it once per backend; an
//! operation of several statements runs in a [`Tx`], a transaction on either backend, whose
//! primitives (hold, transition, enqueue, schedule, mark done) the turn commit is written over.
//!
//! Time is always passed in (`now`), never read from the database clock, so both backends agree and
//! tests control it. Placeholders are `$N` everywhere (SQLite accepts them too).

/// Runs `$body` with `$s` bound to the backend of `$value` (a [`Store`] or a [`Tx`]): the statement
/// and its binds are written once and compiled for each backend.
macro_rules! on {
    ($kind:ident, $value:expr, |$s:ident| $body:expr) => {
        match $value {
            $kind::Postgres($s) => $body,
            $kind::Sqlite($s) => $body,
        }
    };
}

pub mod admin;
pub mod appointments;
pub mod audit;
pub mod backlog;
pub mod chatwoot;
pub mod conversations;
pub mod inbox;
pub mod model_readings;
pub mod outbox;
pub mod payments;
mod postgres;
mod sqlite;
pub mod timers;
pub mod turn;
pub mod writer;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::DatabaseUrl;
pub use appointments::{Appointment, BookingError, BusyTime, NewHold};
pub use audit::{AuditRecord, StoredAudit};
pub use backlog::Backlog;
pub use chatwoot::ChatwootRoute;
pub use conversations::StoredConversation;
pub use inbox::Pruned;
pub use outbox::{
    CustomerMessage, DeliveryStatus, NewOutbound, Outbound, OutboundStatus, Settle, provider_lane,
};
pub use payments::{
    CallAnswer, CallOutcome, NewPayment, PaymentChange, PaymentKey, PaymentRoute, StoredPayment,
};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use timers::NewTimer;
pub use turn::{BookingOp, Committed, TurnCommit, TurnError, TurnTimer};

pub use crate::event::{EventKind, InboxEvent, InboxStatus, NewInboxEvent, Provider};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (refused, timed out, pool exhausted): callers answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// An existing database was asked for and there is none (a mistyped path, or no DATABASE_URL).
    #[error("no database at {0}")]
    Missing(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err),
            other => StoreError::Database(other),
        }
    }
}

/// Connection tuning shared by both backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Longest wait for a pooled connection; kept under the webhook's store timeout.
    pub acquire_timeout: Duration,
    pub max_connections: u32,
    /// Create the SQLite file (and its folder) when it does not exist. Off for operator commands,
    /// which must never create a database they were not meant to.
    pub create: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: Duration::from_secs(3),
            max_connections: 16,
            create: true,
        }
    }
}

/// The database, on either backend. Cheap to clone (the pools are shared).
///
/// Each backend hands out three pools by what a statement needs: `read()` for reads, `write()` for
/// durable writes, `lazy()` for writes that may be lost in a database crash without harm (claims,
/// the customer's last-message time, the audit), whose commit does not wait for the disk on Postgres.
/// On SQLite the last two are its one writing connection.
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

/// A transaction on either backend, for operations of several statements (a turn, a hold, parking a
/// message, firing timers). Dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx<'c> {
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

/// An instant as both backends store it: `TIMESTAMPTZ` on Postgres, Unix milliseconds (`INTEGER`, so
/// that they compare correctly) on SQLite. Binding and reading `Time` lets one statement serve both;
/// the encodings live in `postgres.rs` and `sqlite.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Time(DateTime<Utc>);

/// JSON already serialized (an inbox event's payload), bound as `JSONB` on Postgres and as text on
/// SQLite. JSON values are bound as [`sqlx::types::Json`], which both backends encode alike.
#[derive(Debug, Clone, Copy)]
struct RawJson<'a>(&'a str);

impl Store {
    /// Opens the pool. Postgres connects lazily, so a database that is down at start-up is reported by
    /// `migrate` (and by `/health`) rather than by a hang here.
    pub async fn connect(url: &DatabaseUrl, options: &StoreOptions) -> Result<Self, StoreError> {
        match url {
            DatabaseUrl::Postgres(url) => {
                Ok(Store::Postgres(PgStore::connect(url.expose(), options)?))
            }
            DatabaseUrl::Sqlite(path) => Ok(Store::Sqlite(SqliteStore::open(path, options).await?)),
        }
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    /// Applies the backend's pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        on!(Store, self, |s| s.migrator().run(s.write()).await?);
        Ok(())
    }

    /// The versions of this binary's migrations that the database has not applied, oldest first
    /// (all of them on a database that was never migrated). Reads only: for commands that must not
    /// change the schema under running servers.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let (migrator, applied) = on!(Store, self, |s| {
            let applied: Vec<(i64,)> = if s.has_migrations_table().await? {
                sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(s.read())
                    .await?
            } else {
                Vec::new()
            };
            (s.migrator(), applied)
        });
        Ok(migrator
            .iter()
            .map(|migration| migration.version)
            .filter(|version| !applied.iter().any(|(done,)| done == version))
            .collect())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on!(Store, self, |s| sqlx::query("SELECT 1")
            .execute(s.read())
            .await?
            .rows_affected());
        Ok(())
    }

    /// Runs a claim of a queue table (`$1` now, `$2` the end of the lease, `$3` the most rows to
    /// take) on the pool that does not wait for the disk; the claimed rows in id order, so that a
    /// worker handles them oldest first.
    async fn claim<R>(
        &self,
        sql: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<R>, StoreError>
    where
        R: Claimed + Send + Unpin,
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        let mut rows: Vec<R> = on!(Store, self, |s| sqlx::query_as(sql)
            .bind(Time(now))
            .bind(Time(lease_until))
            .bind(i64::from(limit))
            .fetch_all(s.lazy())
            .await?);
        rows.sort_by_key(R::id);
        Ok(rows)
    }

    /// Starts a durable transaction.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        Ok(match self {
            Store::Postgres(s) => Tx::Postgres(s.write().begin().await?),
            Store::Sqlite(s) => Tx::Sqlite(s.write().begin().await?),
        })
    }
}

impl Tx<'_> {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on!(Tx, self, |tx| tx.commit().await?);
        Ok(())
    }
}

/// A row a claim returns.
trait Claimed {
    fn id(&self) -> i64;
}

/// A value stored as text, read back; `Corrupt` naming `what` when the text names nothing.
fn named<T>(parse: fn(&str) -> Option<T>, what: &str, text: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} '{text}'")))
}
