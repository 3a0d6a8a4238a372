//! Timers: hold expiry, reminders, idle resets.
//!
//! A due timer fires by becoming an inbox event of its conversation (provider `timer`, id
//! `{timer_key}@{due millis}`) in the same transaction that marks it fired. So a timer survives
//! restarts, fires once however many instances race for it (row locks on Postgres, the single writer
//! on SQLite, and the inbox's unique key behind both), and is handled in order with the conversation's
//! messages by the same worker lane.
//!
//! Both dialects live side by side below (`pg`, `lite`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Store, StoreError};

/// A timer to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTimer {
    /// Stable per purpose, for example `reminder:42`: scheduling the same key again moves the timer
    /// (unless it already fired).
    pub key: String,
    pub business_id: String,
    pub conversation_key: String,
    /// What it is for: `hold_expiry`, `reminder`, `idle`, ...
    pub kind: String,
    pub payload: Value,
    pub due_at: DateTime<Utc>,
}

impl Store {
    /// Schedules a timer, or moves the unfired timer with the same key.
    pub async fn schedule_timer(
        &self,
        timer: &NewTimer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Postgres(s) => pg::schedule(s.pool(), timer, now).await,
            Store::Sqlite(s) => lite::schedule(s.writer(), timer, now).await,
        }
    }

    /// Cancels an unfired timer; `false` if there was none.
    pub async fn cancel_timer(&self, key: &str) -> Result<bool, StoreError> {
        match self {
            Store::Postgres(s) => pg::cancel(s.pool(), key).await,
            Store::Sqlite(s) => lite::cancel(s.writer(), key).await,
        }
    }

    /// Fires up to `limit` due timers into the inbox; returns how many fired.
    pub async fn fire_due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        match self {
            Store::Postgres(s) => pg::fire(s.pool(), now, limit).await,
            Store::Sqlite(s) => lite::fire(s.writer(), now, limit).await,
        }
    }

    /// When the unfired timer with this key is due, if there is one.
    pub async fn timer_due(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Store::Postgres(s) => pg::due(s.pool(), key).await,
            Store::Sqlite(s) => lite::due(s.pool(), key).await,
        }
    }
}

/// A due timer as read by `fire` (`T` is the backend's time type).
#[derive(sqlx::FromRow)]
struct DueRow<T> {
    id: i64,
    timer_key: String,
    business_id: String,
    conversation_key: String,
    kind: String,
    payload: String,
    due_at: T,
}

/// The inbox payload of a fired timer.
fn event_payload(kind: &str, key: &str, payload: &str, due_ms: i64) -> String {
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    serde_json::json!({ "timer": kind, "key": key, "due_at_ms": due_ms, "data": payload })
        .to_string()
}

pub(super) mod pg {
    use super::*;
    use sqlx::PgPool;

    pub(in crate::store) async fn schedule(
        pool: impl sqlx::PgExecutor<'_>,
        t: &NewTimer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO timers (timer_key, business_id, conversation_key, kind, payload, due_at, created_at) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) \
             ON CONFLICT (timer_key) DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload \
             WHERE timers.fired_at IS NULL",
        )
        .bind(&t.key)
        .bind(&t.business_id)
        .bind(&t.conversation_key)
        .bind(&t.kind)
        .bind(t.payload.to_string())
        .bind(t.due_at)
        .bind(now)
        .execute(pool)
        .await?;
        Ok(())
    }

    pub(in crate::store) async fn cancel(
        pool: impl sqlx::PgExecutor<'_>,
        key: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM timers WHERE timer_key = $1 AND fired_at IS NULL")
            .bind(key)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn fire(
        pool: &PgPool,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = pool.begin().await?;
        let due: Vec<DueRow<DateTime<Utc>>> = sqlx::query_as(
            "SELECT id, timer_key, business_id, conversation_key, kind, payload::text AS payload, due_at FROM timers \
             WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .persistent(false)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        for DueRow {
            id,
            timer_key: key,
            business_id: business,
            conversation_key: conversation,
            kind,
            payload,
            due_at,
        } in &due
        {
            let due_ms = due_at.timestamp_millis();
            sqlx::query(
                "INSERT INTO inbox_events (provider, provider_event_id, business_id, conversation_key, kind, \
                     payload, received_at, next_attempt_at) \
                 VALUES ('timer', $1, $2, $3, 'timer', $4::jsonb, $5, $5) \
                 ON CONFLICT (provider, provider_event_id) DO NOTHING",
            )
            .bind(format!("{key}@{due_ms}"))
            .bind(business)
            .bind(conversation)
            .bind(event_payload(kind, key, payload, due_ms))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE timers SET fired_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(due.len() as u64)
    }

    pub(super) async fn due(pool: &PgPool, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(DateTime<Utc>,)> =
            sqlx::query_as("SELECT due_at FROM timers WHERE timer_key = $1 AND fired_at IS NULL")
                .bind(key)
                .fetch_optional(pool)
                .await?;
        Ok(row.map(|(d,)| d))
    }
}

pub(super) mod lite {
    use super::*;
    use crate::store::sqlite::time;
    use sqlx::SqlitePool;

    pub(in crate::store) async fn schedule(
        pool: impl sqlx::SqliteExecutor<'_>,
        t: &NewTimer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO timers (timer_key, business_id, conversation_key, kind, payload, due_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (timer_key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload \
             WHERE timers.fired_at IS NULL",
        )
        .bind(&t.key)
        .bind(&t.business_id)
        .bind(&t.conversation_key)
        .bind(&t.kind)
        .bind(t.payload.to_string())
        .bind(t.due_at.timestamp_millis())
        .bind(now.timestamp_millis())
        .execute(pool)
        .await?;
        Ok(())
    }

    pub(in crate::store) async fn cancel(
        pool: impl sqlx::SqliteExecutor<'_>,
        key: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM timers WHERE timer_key = ? AND fired_at IS NULL")
            .bind(key)
            .execute(pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn fire(
        pool: &SqlitePool,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let now_ms = now.timestamp_millis();
        let mut tx = pool.begin().await?;
        let due: Vec<DueRow<i64>> = sqlx::query_as(
            "SELECT id, timer_key, business_id, conversation_key, kind, payload, due_at FROM timers \
             WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at, id LIMIT ?",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        for DueRow {
            id,
            timer_key: key,
            business_id: business,
            conversation_key: conversation,
            kind,
            payload,
            due_at: due_ms,
        } in &due
        {
            sqlx::query(
                "INSERT INTO inbox_events (provider, provider_event_id, business_id, conversation_key, kind, \
                     payload, received_at, next_attempt_at) \
                 VALUES ('timer', ?1, ?2, ?3, 'timer', ?4, ?5, ?5) \
                 ON CONFLICT (provider, provider_event_id) DO NOTHING",
            )
            .bind(format!("{key}@{due_ms}"))
            .bind(business)
            .bind(conversation)
            .bind(event_payload(kind, key, payload, *due_ms))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE timers SET fired_at = ? WHERE id = ?")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(due.len() as u64)
    }

    pub(super) async fn due(
        pool: &SqlitePool,
        key: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT due_at FROM timers WHERE timer_key = ? AND fired_at IS NULL")
                .bind(key)
                .fetch_optional(pool)
                .await?;
        row.map(|(d,)| time(d)).transpose()
    }
}
