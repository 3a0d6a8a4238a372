//! Persistence: the only module that runs SQL.
//!
//! Two backends behind one `Store` type: PostgreSQL for production and for several instances, SQLite for
//! the embedded default. Each has its own migrations (`migrations/postgres`, `migrations/sqlite`) and
//! the same methods, named after domain operations; one contract test suite runs against both.
//! Time is always passed in (`now`), never read from the database clock, so both backends agree and
//! tests control it.

pub mod appointments;
pub mod conversations;
pub mod outbox;
mod postgres;
mod sqlite;
pub mod timers;
pub mod writer;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::DatabaseUrl;
pub use appointments::{Appointment, BookingError, BusyTime, NewHold};
pub use conversations::{
    BookingOp, Committed, StoredConversation, TurnCommit, TurnError, TurnTimer,
};
pub use outbox::{CustomerMessage, DeliveryStatus, NewOutbound, Outbound, OutboundStatus, Settle};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use timers::NewTimer;

pub use crate::event::{EventKind, InboxEvent, InboxStatus, NewInboxEvent, Provider};

/// One webhook request, as the audit trail keeps it (never its body).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub provider: Provider,
    pub outcome: &'static str,
    pub status_code: u16,
    pub body_bytes: u64,
    pub remote_addr: Option<String>,
    pub latency: Duration,
    pub request_id: Option<String>,
    pub events_new: u32,
    pub events_duplicate: u32,
    pub received_at: DateTime<Utc>,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredAudit {
    pub provider: String,
    pub outcome: String,
    pub status_code: i32,
    pub body_bytes: i64,
    pub remote_addr: Option<String>,
    pub events_new: i32,
    pub events_duplicate: i32,
    pub received_at: DateTime<Utc>,
}

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
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            acquire_timeout: Duration::from_secs(3),
            max_connections: 16,
        }
    }
}

/// The database, on either backend. Cheap to clone (the pools are shared).
#[derive(Clone, Debug)]
pub enum Store {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

/// Runs the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Postgres(s) => s.$method($($arg),*).await,
            Store::Sqlite(s) => s.$method($($arg),*).await,
        }
    };
}

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
        dispatch!(self.migrate())
    }

    /// The versions of this binary's migrations that the database has not applied, oldest first
    /// (all of them on a database that was never migrated). Reads only: for commands that must not
    /// change the schema under running servers.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        dispatch!(self.pending_migrations())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self.ping())
    }

    /// Stores a batch of events in one transaction. Returns, per event, whether it was new (`true`) or
    /// already stored (`false`). The batch must not repeat a `(provider, provider_event_id)`.
    pub async fn record_inbound(&self, events: &[NewInboxEvent]) -> Result<Vec<bool>, StoreError> {
        dispatch!(self.record_inbound(events))
    }

    /// Claims up to `limit` events for a worker: per conversation only the oldest open event, and only
    /// when no other worker holds one of that conversation (or its lease ended). Claimed events are
    /// `processing` until `now + lease`. On Postgres the claim commits without waiting for the disk:
    /// the turn or settling that follows is durable and flushes it, and a claim lost in a database
    /// crash only means the event is claimed again.
    pub async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let lease_until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        dispatch!(self.claim_inbox(now, lease_until, limit))
    }

    /// Marks claimed events done, each given as `(id, attempt)`; returns how many were settled. An event
    /// whose claim was lost (its lease ended and another worker took it) is left as it is.
    pub async fn complete_inbox(
        &self,
        claims: &[(i64, i32)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if claims.is_empty() {
            return Ok(0);
        }
        dispatch!(self.complete_inbox(claims, now))
    }

    /// Records a failed attempt: `failed` until `retry_at`, or `dead` when `retry_at` is `None`.
    pub async fn fail_inbox(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        dispatch!(self.fail_inbox(id, attempt, error, retry_at))
    }

    /// The events that gave up (newest first), for operators.
    pub async fn dead_inbox(&self, limit: u32) -> Result<Vec<InboxEvent>, StoreError> {
        dispatch!(self.dead_inbox(limit))
    }

    /// Puts a dead event back in its conversation's lane, with a fresh retry budget; `false` if it was
    /// not dead. It is handled against the conversation as it is now.
    pub async fn replay_inbox(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        dispatch!(self.replay_inbox(id, now))
    }

    pub async fn find_inbox_event(
        &self,
        provider: Provider,
        provider_event_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        dispatch!(self.find_inbox_event(provider, provider_event_id))
    }

    /// All events of one conversation, oldest first.
    pub async fn conversation_events(
        &self,
        conversation_key: &str,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        dispatch!(self.conversation_events(conversation_key))
    }

    /// Number of stored inbox events.
    pub async fn count_inbox(&self) -> Result<i64, StoreError> {
        dispatch!(self.count_inbox())
    }

    pub async fn record_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        dispatch!(self.record_audit(records))
    }

    /// The newest audit records, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<StoredAudit>, StoreError> {
        dispatch!(self.recent_audit(limit))
    }

    /// Deletes audit records received before `before`; returns how many.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        dispatch!(self.prune_audit(before))
    }
}

/// `migrator`'s versions missing from `applied`, oldest first.
fn pending(migrator: &sqlx::migrate::Migrator, applied: &[(i64,)]) -> Vec<i64> {
    migrator
        .iter()
        .map(|migration| migration.version)
        .filter(|version| !applied.iter().any(|(done,)| done == version))
        .collect()
}

/// A value stored as text, read back; `Corrupt` naming `what` when the text names nothing.
fn named<T>(parse: fn(&str) -> Option<T>, what: &str, text: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} '{text}'")))
}
