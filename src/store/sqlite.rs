//! SQLite backend: the embedded default, one file, no server to run.
//!
//! WAL journal with `synchronous = FULL`, so a commit is on disk before the webhook is acknowledged,
//! exactly as on Postgres. SQLite has one writer at a time: every write goes through one dedicated
//! connection, and the ingress batches its writes anyway.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    AuditRecord, EventKind, InboxEvent, InboxStatus, NewInboxEvent, Provider, StoreError,
    StoreOptions, StoredAudit,
};

#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Readers (WAL lets them run beside the writer).
    pool: SqlitePool,
    /// The one connection that writes. SQLite allows one writer at a time; queueing writers here, in
    /// order, beats letting them collide on the file lock, whose busy handler sleeps for up to 100 ms.
    writer: SqlitePool,
}

const INBOX_COLUMNS: &str = "id, provider, provider_event_id, business_id, conversation_key, kind, \
     payload, received_at, status, attempts, last_error, next_attempt_at";

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    provider: String,
    provider_event_id: String,
    business_id: String,
    conversation_key: String,
    kind: String,
    payload: String,
    received_at: i64,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: i64,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    provider: String,
    outcome: String,
    status_code: i32,
    body_bytes: i64,
    remote_addr: Option<String>,
    events_new: i32,
    events_duplicate: i32,
    received_at: i64,
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored SQLite time (Unix milliseconds) back to a `DateTime`.
pub(super) fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("time {ms} out of range")))
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
            received_at: time(row.received_at)?,
            status: super::named(InboxStatus::parse, "inbox status", &row.status)?,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: time(row.next_attempt_at)?,
        })
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

fn events(rows: Vec<InboxRow>) -> Result<Vec<InboxEvent>, StoreError> {
    rows.into_iter().map(InboxEvent::try_from).collect()
}

impl SqliteStore {
    /// Opens (creating it and its folder when missing) the database file.
    pub async fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 4))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        Ok(Self { pool, writer })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The single writing connection.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    pub(super) async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
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
        let mut tx = self.writer.begin().await?;
        let mut new = Vec::with_capacity(batch.len());
        for e in batch {
            let done = sqlx::query(
                "INSERT INTO inbox_events (provider, provider_event_id, business_id, conversation_key, \
                     kind, payload, received_at, next_attempt_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (provider, provider_event_id) DO NOTHING",
            )
            .bind(e.provider.as_str())
            .bind(&e.provider_event_id)
            .bind(&e.business_id)
            .bind(&e.conversation_key)
            .bind(e.kind.as_str())
            .bind(&e.payload)
            .bind(millis(e.received_at))
            .bind(millis(e.received_at))
            .execute(&mut *tx)
            .await?;
            new.push(done.rows_affected() == 1);
        }
        tx.commit().await?;
        Ok(new)
    }

    pub(super) async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        // One statement, so SQLite's single writer makes it atomic; see the Postgres twin for the rule.
        let sql = format!(
            "UPDATE inbox_events SET status = 'processing', attempts = attempts + 1, next_attempt_at = ?2 \
             WHERE id IN ( \
                 SELECT e.id FROM inbox_events e \
                 WHERE e.status IN ('pending', 'processing', 'failed') AND e.next_attempt_at <= ?1 \
                   AND NOT EXISTS ( \
                       SELECT 1 FROM inbox_events o \
                       WHERE o.conversation_key = e.conversation_key \
                         AND o.status IN ('pending', 'processing', 'failed') AND o.id < e.id) \
                 ORDER BY e.id LIMIT ?3) \
             RETURNING {INBOX_COLUMNS}"
        );
        let mut rows: Vec<InboxRow> = sqlx::query_as(&sql)
            .bind(millis(now))
            .bind(millis(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await?;
        rows.sort_by_key(|r| r.id);
        events(rows)
    }

    pub(super) async fn complete_inbox(
        &self,
        claims: &[(i64, i32)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let mut settled = 0;
        for (id, attempt) in claims {
            let done = sqlx::query(
                "UPDATE inbox_events SET status = 'done', processed_at = ?, last_error = NULL \
                 WHERE id = ? AND attempts = ? AND status = 'processing'",
            )
            .bind(millis(now))
            .bind(id)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
            settled += done.rows_affected();
        }
        tx.commit().await?;
        Ok(settled)
    }

    pub(super) async fn fail_inbox(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let status = if retry_at.is_some() { "failed" } else { "dead" };
        let done = sqlx::query(
            "UPDATE inbox_events SET status = ?, last_error = ?, \
                 next_attempt_at = COALESCE(?, next_attempt_at) \
             WHERE id = ? AND attempts = ? AND status = 'processing'",
        )
        .bind(status)
        .bind(error)
        .bind(retry_at.map(millis))
        .bind(id)
        .bind(attempt)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn dead_inbox(&self, limit: u32) -> Result<Vec<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE status = 'dead' ORDER BY id DESC LIMIT ?"
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
            "UPDATE inbox_events SET status = 'pending', attempts = 0, next_attempt_at = ?, \
                 processed_at = NULL \
             WHERE id = ? AND status = 'dead'",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn find_inbox_event(
        &self,
        provider: Provider,
        provider_event_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE provider = ? AND provider_event_id = ?"
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
            "SELECT {INBOX_COLUMNS} FROM inbox_events WHERE conversation_key = ? ORDER BY id"
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
        let mut tx = self.writer.begin().await?;
        for r in records {
            sqlx::query(
                "INSERT INTO webhook_audit (provider, outcome, status_code, body_bytes, remote_addr, \
                     latency_us, request_id, events_new, events_duplicate, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(r.provider.as_str())
            .bind(r.outcome)
            .bind(i32::from(r.status_code))
            .bind(i64::try_from(r.body_bytes).unwrap_or(i64::MAX))
            .bind(&r.remote_addr)
            .bind(i64::try_from(r.latency.as_micros()).unwrap_or(i64::MAX))
            .bind(&r.request_id)
            .bind(i64::from(r.events_new))
            .bind(i64::from(r.events_duplicate))
            .bind(millis(r.received_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn recent_audit(&self, limit: u32) -> Result<Vec<StoredAudit>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT provider, outcome, status_code, body_bytes, remote_addr, events_new, \
                 events_duplicate, received_at \
             FROM webhook_audit ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredAudit {
                    provider: r.provider,
                    outcome: r.outcome,
                    status_code: r.status_code,
                    body_bytes: r.body_bytes,
                    remote_addr: r.remote_addr,
                    events_new: r.events_new,
                    events_duplicate: r.events_duplicate,
                    received_at: time(r.received_at)?,
                })
            })
            .collect()
    }

    pub(super) async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_audit WHERE received_at < ?")
            .bind(millis(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
