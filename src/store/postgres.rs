//! PostgreSQL backend: production, and any number of instances sharing one database. Its pools, its
//! migrations, how it encodes [`Time`], and the lane-head walk its claims share.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{
    PgArgumentBuffer, PgConnectOptions, PgPool, PgPoolOptions, PgTypeInfo, PgValueRef,
};
use sqlx::{Decode, Encode, Postgres, Type};

use super::{RawJson, StoreError, StoreOptions, Time};

#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Connections that commit without waiting for the disk (`synchronous_commit = off`), for
    /// writes that may be lost in a database crash without harm: claims (leases) and the customer's
    /// last-message time, each of which a durable commit of the same worker settles afterwards
    /// (Postgres flushes the log in order, so that commit flushes them too), and the webhook audit.
    /// A claim lost in a crash only means the row is claimed again; nothing acknowledged is lost.
    lazy: PgPool,
}

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    pub fn connect(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url).map_err(StoreError::Database)?;
        Ok(Self::with_options(connect, options))
    }

    pub fn with_options(connect: PgConnectOptions, options: &StoreOptions) -> Self {
        // No ping before each use: it doubled the round trips of every statement. A connection that
        // broke (a database restart) fails its next statement and is dropped by the pool; every
        // caller already treats a failed statement as retryable (503 to the provider, the event or
        // message tried again).
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(connect.clone());
        let lazy = PgPoolOptions::new()
            .max_connections(options.max_connections.div_ceil(4).max(2))
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(connect.options([("synchronous_commit", "off")]));
        Self { pool, lazy }
    }

    /// The pool of durable connections.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool whose commits do not wait for the disk (see the field): only for claims, the
    /// customer's last-message time and the audit.
    pub fn lazy(&self) -> &PgPool {
        &self.lazy
    }

    /// For reads.
    pub(super) fn read(&self) -> &PgPool {
        &self.pool
    }

    /// For durable writes.
    pub(super) fn write(&self) -> &PgPool {
        &self.pool
    }

    pub(super) fn migrator(&self) -> &'static Migrator {
        &MIGRATOR
    }

    /// Whether an extension the migrations create is installed, and if not, whether it can be.
    pub async fn extension(&self, name: &str) -> Result<(bool, bool), StoreError> {
        let (installed, available): (bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = $1), \
                    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok((installed, available))
    }

    /// Whether the database was ever migrated.
    pub(super) async fn has_migrations_table(&self) -> Result<bool, StoreError> {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        Ok(exists)
    }
}

impl Type<Postgres> for Time {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Time {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Time {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Time(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Postgres> for RawJson<'_> {
    fn type_info() -> PgTypeInfo {
        <sqlx::types::Json<()> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for RawJson<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // JSONB's binary format: a version byte, then the text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

/// SQL for the ids of up to `$3` due heads of a queue table's lanes (a conversation's events, a
/// recipient's messages): rows that are the oldest open row of their lane and due by `$1`.
///
/// `walk` steps through the open rows in id order, one probe of the table's open-rows index each, and
/// carries the lanes it has met: since it starts at the oldest open row and skips none, a row whose
/// lane it has not met yet is that lane's oldest open row, its head. The walk stops as soon as `$3`
/// due heads are found. So a claim reads about as many rows as it takes, plus those leased to others
/// and those queued behind a head, whatever the backlog behind them and the history. There is no
/// per-row probe of a lane index: the planner, seeing few open rows, answered such a probe by scanning
/// the open rows in id order with a filter on the lane, so each probe read the queue up to that row
/// and a claim grew with the square of the backlog. Grouping the open rows by lane instead costs the
/// whole backlog every claim.
pub(super) fn due_heads(table: &str, lane: &str) -> String {
    format!(
        "WITH RECURSIVE walk (id, next_attempt_at, head, seen) AS ( \
             (SELECT id, next_attempt_at, true, ARRAY[{lane}] FROM {table} \
              WHERE queue = 'open' ORDER BY id LIMIT 1) \
             UNION ALL \
             (SELECT n.id, n.next_attempt_at, NOT (n.{lane} = ANY (w.seen)), \
                     CASE WHEN n.{lane} = ANY (w.seen) THEN w.seen ELSE w.seen || n.{lane} END \
              FROM walk w \
              CROSS JOIN LATERAL ( \
                  SELECT id, {lane}, next_attempt_at FROM {table} \
                  WHERE queue = 'open' AND id > w.id ORDER BY id LIMIT 1) n)) \
         SELECT id FROM walk WHERE head AND next_attempt_at <= $1 \
         LIMIT $3"
    )
}
