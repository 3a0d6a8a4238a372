//! Timers: hold expiry, reminders, idle resets.
//!
//! A due timer fires by becoming an inbox event of its conversation (provider `timer`, id
//! `{timer_key}@{due millis}`, payload a [`TimerFired`]) in the same transaction that marks it fired.
//! So a timer survives restarts, fires once however many instances race for it (row locks on
//! Postgres, the single writer on SQLite, and the inbox's unique key behind both), and is handled in
//! order with the conversation's messages by the same worker lane.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{EventKind, NewInboxEvent, Provider, Store, StoreError, Time, Tx};
use crate::event::TimerFired;

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

/// A due timer as `fire` reads it.
#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    timer_key: String,
    business_id: String,
    conversation_key: String,
    kind: String,
    payload: Json<Value>,
    due_at: Time,
}

impl DueRow {
    /// The inbox event this timer fires as.
    fn event(&self, now: DateTime<Utc>) -> Result<NewInboxEvent, StoreError> {
        let due_ms = self.due_at.0.timestamp_millis();
        let fired = TimerFired {
            timer: self.kind.clone(),
            key: self.timer_key.clone(),
            due_at_ms: due_ms,
            data: self.payload.0.clone(),
        };
        let payload = serde_json::to_string(&fired)
            .map_err(|e| StoreError::Corrupt(format!("timer {}: {e}", self.id)))?;
        Ok(NewInboxEvent {
            said: None,
            provider: Provider::Timer,
            provider_event_id: format!("{}@{due_ms}", self.timer_key),
            business_id: self.business_id.clone(),
            conversation_key: self.conversation_key.clone(),
            kind: EventKind::Timer,
            payload,
            received_at: now,
        })
    }
}

impl Store {
    /// Schedules a timer, or moves the unfired timer with the same key.
    pub async fn schedule_timer(
        &self,
        timer: &NewTimer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.schedule_timer(timer, now).await?;
        tx.commit().await
    }

    /// Cancels an unfired timer; `false` if there was none.
    pub async fn cancel_timer(&self, key: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let cancelled = tx.cancel_timer(key).await?;
        tx.commit().await?;
        Ok(cancelled)
    }

    /// Fires up to `limit` due timers into the inbox; returns how many fired.
    pub async fn fire_due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        // Postgres locks the timers it fires, skipping those another instance is firing; SQLite's
        // single writer does not need to.
        let lock = match self {
            Store::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Store::Sqlite(_) => "",
        };
        let sql = format!(
            "SELECT id, timer_key, business_id, conversation_key, kind, payload, due_at FROM timers \
             WHERE fired_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2 {lock}"
        );
        let mut tx = self.begin().await?;
        let due: Vec<DueRow> = on!(Tx, &mut tx, |tx| sqlx::query_as(&sql)
            .persistent(false)
            .bind(Time(now))
            .bind(i64::from(limit))
            .fetch_all(&mut **tx)
            .await?);
        for timer in &due {
            tx.insert_event(&timer.event(now)?).await?;
            on!(Tx, &mut tx, |tx| sqlx::query(
                "UPDATE timers SET fired_at = $2 WHERE id = $1"
            )
            .bind(timer.id)
            .bind(Time(now))
            .execute(&mut **tx)
            .await?
            .rows_affected());
        }
        tx.commit().await?;
        Ok(due.len() as u64)
    }

    /// When the unfired timer with this key is due, if there is one.
    pub async fn timer_due(&self, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row: Option<(Time,)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT due_at FROM timers WHERE timer_key = $1 AND fired_at IS NULL"
        )
        .bind(key)
        .fetch_optional(s.read())
        .await?);
        Ok(row.map(|(due,)| due.0))
    }
}

impl Tx<'_> {
    /// Schedules a timer, or moves the unfired timer with the same key, inside this transaction.
    pub(super) async fn schedule_timer(
        &mut self,
        t: &NewTimer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(Tx, self, |tx| {
            sqlx::query(
            "INSERT INTO timers (timer_key, business_id, conversation_key, kind, payload, due_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (timer_key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload \
             WHERE timers.fired_at IS NULL",
        )
        .bind(&t.key)
        .bind(&t.business_id)
        .bind(&t.conversation_key)
        .bind(&t.kind)
        .bind(Json(&t.payload))
        .bind(Time(t.due_at))
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected()
        });
        Ok(())
    }

    /// Cancels an unfired timer inside this transaction; `false` if there was none.
    pub(super) async fn cancel_timer(&mut self, key: &str) -> Result<bool, StoreError> {
        let done = on!(Tx, self, |tx| sqlx::query(
            "DELETE FROM timers WHERE timer_key = $1 AND fired_at IS NULL"
        )
        .bind(key)
        .execute(&mut **tx)
        .await?
        .rows_affected());
        Ok(done == 1)
    }
}
