//! PostgreSQL backend: production, and any number of instances sharing one database.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{
    AuditRecord, EventKind, InboxEvent, InboxStatus, NewInboxEvent, Provider, StoreError,
    StoreOptions, StoredAudit,
};

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

/// Columns of an inbox event as selected by every query below.
const INBOX_COLUMNS: &str = "id, provider, provider_event_id, business_id, conversation_key, kind, \
     payload::text AS payload, received_at, status, attempts, last_error, next_attempt_at";

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    provider: String,
    provider_event_id: String,
    business_id: String,
    conversation_key: String,
    kind: String,
    payload: String,
    received_at: DateTime<Utc>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
}

impl TryFrom<InboxRow> for InboxEvent {
    type Error = StoreError;

    fn try_from(row: InboxRow) -> Result<Self, StoreError> {
        Ok(InboxEvent {
            id: row.id,
            provider: super::named(Provider::parse, "provider", &row.provider)?,
            provider_event_id: row.provider_event_id,
            business_id: row.business_id,
            conversation_key: row.conversation_key,
            kind: super::named(EventKind::parse, "event kind", &row.kind)?,
            payload: serde_json::from_str(&row.payload)
                .map_err(|e| StoreError::Corrupt(format!("payload of event {}: {e}", row.id)))?,
            received_at: row.received_at,
            status: super::named(InboxStatus::parse, "inbox status", &row.status)?,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at,
        })
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

fn events(rows: Vec<InboxRow>) -> Result<Vec<InboxEvent>, StoreError> {
    rows.into_iter().map(InboxEvent::try_from).collect()
}

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

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool whose commits do not wait for the disk (see the field): only for claims, the
    /// customer's last-message time and the audit.
    pub fn lazy(&self) -> &PgPool {
        &self.lazy
    }

    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let applied: Vec<(i64,)> = if exists {
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        Ok(super::pending(&MIGRATOR, &applied))
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn record_inbound(
        &self,
        batch: &[NewInboxEvent],
    ) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // One statement for the whole batch: arrays in, the ids that were new out. A conflicting row
        // (stored earlier, or by a concurrent batch) is skipped and not returned.
        let mut providers = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut businesses = Vec::with_capacity(batch.len());
        let mut keys = Vec::with_capacity(batch.len());
        let mut kinds = Vec::with_capacity(batch.len());
        let mut payloads = Vec::with_capacity(batch.len());
        let mut received = Vec::with_capacity(batch.len());
        for e in batch {
            providers.push(e.provider.as_str());
            ids.push(e.provider_event_id.as_str());
            businesses.push(e.business_id.as_str());
            keys.push(e.conversation_key.as_str());
            kinds.push(e.kind.as_str());
            payloads.push(e.payload.as_str());
            received.push(e.received_at);
        }
        let inserted: Vec<(String, String)> = sqlx::query_as(
            "INSERT INTO inbox_events \
               (provider, provider_event_id, business_id, conversation_key, kind, payload, \
                received_at, next_attempt_at) \
             SELECT p, e, b, c, k, pl::jsonb, r, r \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::timestamptz[]) AS t(p, e, b, c, k, pl, r) \
             ON CONFLICT (provider, provider_event_id) DO NOTHING \
             RETURNING provider, provider_event_id",
        )
        .bind(&providers)
        .bind(&ids)
        .bind(&businesses)
        .bind(&keys)
        .bind(&kinds)
        .bind(&payloads)
        .bind(&received)
        .fetch_all(&self.pool)
        .await?;
        let new: HashSet<(String, String)> = inserted.into_iter().collect();
        Ok(batch
            .iter()
            .map(|e| new.contains(&(e.provider.as_str().to_owned(), e.provider_event_id.clone())))
            .collect())
    }

    pub(super) async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        // Only the oldest open event of a conversation is a candidate (`due_heads`), and SKIP
        // LOCKED keeps two workers from taking the same one: one conversation runs in order, many
        // in parallel. The heads found are locked and checked again.
        let sql = format!(
            "UPDATE inbox_events SET status = 'processing', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN ( \
                 SELECT e.id FROM inbox_events e \
                 WHERE e.id IN ({heads}) \
                   AND e.status IN ('pending', 'processing', 'failed') AND e.next_attempt_at <= $1 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING {INBOX_COLUMNS}",
            heads = due_heads("inbox_events", "conversation_key"),
        );
        let mut rows: Vec<InboxRow> = sqlx::query_as(&sql)
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&self.lazy)
            .await?;
        rows.sort_by_key(|r| r.id);
        events(rows)
    }

    pub(super) async fn complete_inbox(
        &self,
        claims: &[(i64, i32)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (ids, attempts): (Vec<i64>, Vec<i32>) = claims.iter().copied().unzip();
        let done = sqlx::query(
            "UPDATE inbox_events SET status = 'done', processed_at = $3, last_error = NULL \
             FROM UNNEST($1::bigint[], $2::int[]) AS c(id, attempt) \
             WHERE inbox_events.id = c.id AND inbox_events.attempts = c.attempt \
               AND inbox_events.status = 'processing'",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn fail_inbox(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let (status, next) = match retry_at {
            Some(at) => ("failed", Some(at)),
            None => ("dead", None),
        };
        let done = sqlx::query(
            "UPDATE inbox_events SET status = $3, last_error = $4, \
                 next_attempt_at = COALESCE($5, next_attempt_at) \
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        )
        .bind(id)
        .bind(attempt)
        .bind(status)
        .bind(error)
        .bind(next)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn dead_inbox(&self, limit: u32) -> Result<Vec<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE queue = 'dead' ORDER BY id DESC LIMIT $1"
        );
        let rows: Vec<InboxRow> = sqlx::query_as(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        events(rows)
    }

    pub(super) async fn replay_inbox(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE inbox_events SET status = 'pending', attempts = 0, next_attempt_at = $2, \
                 processed_at = NULL \
             WHERE id = $1 AND status = 'dead'",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn find_inbox_event(
        &self,
        provider: Provider,
        provider_event_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE provider = $1 AND provider_event_id = $2"
        );
        let row: Option<InboxRow> = sqlx::query_as(&sql)
            .bind(provider.as_str())
            .bind(provider_event_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(InboxEvent::try_from).transpose()
    }

    pub(super) async fn conversation_events(
        &self,
        key: &str,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE conversation_key = $1 ORDER BY id"
        );
        let rows: Vec<InboxRow> = sqlx::query_as(&sql).bind(key).fetch_all(&self.pool).await?;
        events(rows)
    }

    pub(super) async fn count_inbox(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM inbox_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub(super) async fn record_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut providers = Vec::with_capacity(records.len());
        let mut outcomes = Vec::with_capacity(records.len());
        let mut codes = Vec::with_capacity(records.len());
        let mut sizes = Vec::with_capacity(records.len());
        let mut addrs = Vec::with_capacity(records.len());
        let mut latencies = Vec::with_capacity(records.len());
        let mut request_ids = Vec::with_capacity(records.len());
        let mut new = Vec::with_capacity(records.len());
        let mut dups = Vec::with_capacity(records.len());
        let mut received = Vec::with_capacity(records.len());
        for r in records {
            providers.push(r.provider.as_str());
            outcomes.push(r.outcome);
            codes.push(i32::from(r.status_code));
            sizes.push(i64::try_from(r.body_bytes).unwrap_or(i64::MAX));
            addrs.push(r.remote_addr.clone());
            latencies.push(i64::try_from(r.latency.as_micros()).unwrap_or(i64::MAX));
            request_ids.push(r.request_id.clone());
            new.push(i32::try_from(r.events_new).unwrap_or(i32::MAX));
            dups.push(i32::try_from(r.events_duplicate).unwrap_or(i32::MAX));
            received.push(r.received_at);
        }
        sqlx::query(
            "INSERT INTO webhook_audit (provider, outcome, status_code, body_bytes, remote_addr, \
                 latency_us, request_id, events_new, events_duplicate, received_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], \
                 $6::bigint[], $7::text[], $8::int[], $9::int[], $10::timestamptz[])",
        )
        .bind(&providers)
        .bind(&outcomes)
        .bind(&codes)
        .bind(&sizes)
        .bind(&addrs)
        .bind(&latencies)
        .bind(&request_ids)
        .bind(&new)
        .bind(&dups)
        .bind(&received)
        .execute(&self.lazy)
        .await?;
        Ok(())
    }

    pub(super) async fn recent_audit(&self, limit: u32) -> Result<Vec<StoredAudit>, StoreError> {
        let rows: Vec<StoredAudit> = sqlx::query_as(
            "SELECT provider, outcome, status_code, body_bytes, remote_addr, events_new, \
                     events_duplicate, received_at \
                 FROM webhook_audit ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    pub(super) async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_audit WHERE received_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
