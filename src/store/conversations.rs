//! Conversations as the engine sees them: their stored state, and the turn commit that applies one
//! event in one transaction — new state, appointment changes, replies (outbox rows), timers, and the
//! event marked done — or nothing at all.
//!
//! An event is applied once: the turn marks it done in its own transaction, and only while this
//! worker's claim on it holds (`attempts` is the claim's fencing token), so a turn committed is never
//! run again and a turn not committed left nothing behind. The conversation row also records the
//! latest event applied (`last_event_id`) and counts its turns.
//!
//! Both dialects live side by side below (`pg`, `lite`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::appointments::{BookingError, NewHold};
use super::outbox::NewOutbound;
use super::timers::NewTimer;
use super::{Store, StoreError};

/// A conversation's stored engine state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConversation {
    /// The engine's state (JSON), `None` before the first turn.
    pub state: Option<Value>,
    /// The latest inbox event applied.
    pub last_event_id: i64,
}

/// A change to the customer's appointments, applied in the turn's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingOp {
    /// Hold a time; the turn fails with `SlotTaken` if it overlaps a live appointment.
    Hold(NewHold),
    /// Give back the conversation's held or payment-pending time.
    ReleaseHold,
    /// The conversation's hold becomes a confirmed booking; `HoldLost` if it ran out.
    Confirm,
    /// The conversation's hold waits for its deposit; `HoldLost` if it ran out.
    RequestDeposit,
    /// Cancel a booking (nothing if it is no longer live).
    Cancel(i64),
    /// Record a cancelled booking's deposit as given back.
    Refund(i64),
    /// Move a booking; `SlotTaken` if the new time overlaps another live appointment.
    Reschedule(i64, NewHold),
}

/// A timer set by a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnTimer {
    pub timer: NewTimer,
    /// The timer is about the appointment confirmed in this turn: its id goes into the payload's
    /// `appointment` field and replaces `{appointment}` in the key.
    pub of_confirmed: bool,
}

/// Everything one turn changes.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCommit {
    /// The inbox event applied, and the attempt number of this worker's claim on it.
    pub event_id: i64,
    pub attempt: i32,
    pub business_id: String,
    pub conversation_key: String,
    /// The flow's name.
    pub flow: String,
    pub state: Value,
    pub language: Option<String>,
    pub human: bool,
    pub booking: Vec<BookingOp>,
    pub outbox: Vec<NewOutbound>,
    pub timers: Vec<TurnTimer>,
    /// Keys of unfired timers to drop.
    pub cancel_timers: Vec<String>,
}

/// Why a turn was not committed (nothing of it was written).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The time to hold or move to was taken by someone else.
    #[error("the slot is taken")]
    SlotTaken,
    /// The hold to confirm ran out.
    #[error("the hold ran out")]
    HoldLost,
    /// This worker's claim on the event was lost (another worker took it over).
    #[error("the claim on the event was lost")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BookingError> for TurnError {
    fn from(err: BookingError) -> Self {
        match err {
            BookingError::SlotTaken => TurnError::SlotTaken,
            BookingError::Store(e) => TurnError::Store(e),
            other => TurnError::Store(StoreError::Corrupt(other.to_string())),
        }
    }
}

impl From<sqlx::Error> for TurnError {
    fn from(err: sqlx::Error) -> Self {
        TurnError::from(BookingError::from(err))
    }
}

/// What a committed turn produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Committed {
    /// The appointment confirmed in this turn, if any.
    pub confirmed: Option<i64>,
}

impl Store {
    /// The engine's stored state of a conversation.
    pub async fn conversation_state(
        &self,
        conversation_key: &str,
    ) -> Result<Option<StoredConversation>, StoreError> {
        match self {
            Store::Postgres(s) => pg::load(s.pool(), conversation_key).await,
            Store::Sqlite(s) => lite::load(s.pool(), conversation_key).await,
        }
    }

    /// The stored states of several conversations at once (those without a row are absent).
    pub async fn conversation_states(
        &self,
        conversation_keys: &[String],
    ) -> Result<std::collections::HashMap<String, StoredConversation>, StoreError> {
        if conversation_keys.is_empty() {
            return Ok(Default::default());
        }
        match self {
            Store::Postgres(s) => pg::load_many(s.pool(), conversation_keys).await,
            Store::Sqlite(s) => {
                // SQLite reads are local: one by one costs no round trip.
                let mut found = std::collections::HashMap::new();
                for key in conversation_keys {
                    if let Some(state) = lite::load(s.pool(), key).await? {
                        found.insert(key.clone(), state);
                    }
                }
                Ok(found)
            }
        }
    }

    /// Applies one turn in one transaction.
    pub async fn commit_turn(
        &self,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<Committed, TurnError> {
        match self {
            Store::Postgres(s) => pg::commit(s.pool(), turn, now).await,
            Store::Sqlite(s) => lite::commit(s.writer(), turn, now).await,
        }
    }
}

/// The timer to store, with the confirmed appointment's id filled in.
fn resolve_timer(t: &TurnTimer, confirmed: Option<i64>) -> Option<NewTimer> {
    if !t.of_confirmed {
        return Some(t.timer.clone());
    }
    let id = confirmed?;
    let mut timer = t.timer.clone();
    timer.key = timer.key.replace("{appointment}", &id.to_string());
    if let Some(payload) = timer.payload.as_object_mut() {
        payload.insert("appointment".into(), Value::from(id));
    }
    Some(timer)
}

mod pg {
    use super::*;
    use crate::booking::appointment::AppointmentStatus;
    use crate::store::{appointments, outbox, timers};
    use sqlx::PgPool;

    pub(super) async fn load(
        pool: &PgPool,
        key: &str,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let row: Option<(Option<Value>, i64)> = sqlx::query_as(
            "SELECT state, last_event_id FROM conversations WHERE conversation_key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await?;
        Ok(row.map(|(state, last_event_id)| StoredConversation {
            state,
            last_event_id,
        }))
    }

    pub(super) async fn load_many(
        pool: &PgPool,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, StoredConversation>, StoreError> {
        let rows: Vec<(String, Option<Value>, i64)> = sqlx::query_as(
            "SELECT conversation_key, state, last_event_id FROM conversations \
             WHERE conversation_key = ANY($1)",
        )
        .bind(keys)
        .fetch_all(pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, state, last_event_id)| {
                (
                    key,
                    StoredConversation {
                        state,
                        last_event_id,
                    },
                )
            })
            .collect())
    }

    pub(super) async fn commit(
        pool: &PgPool,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<Committed, TurnError> {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        // The event marked done (while this worker's claim holds) and the conversation saved, in one
        // statement: nothing is saved when the claim was lost.
        let saved = sqlx::query(
            "WITH done AS ( \
                 UPDATE inbox_events SET status = 'done', processed_at = $8, last_error = NULL \
                 WHERE id = $7 AND attempts = $9 AND status = 'processing' RETURNING id) \
             INSERT INTO conversations (conversation_key, business_id, flow, state, language, human, \
                 last_event_id, turns, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, id, 1, $8, $8 FROM done \
             ON CONFLICT (conversation_key) DO UPDATE SET flow = EXCLUDED.flow, state = EXCLUDED.state, \
                 language = EXCLUDED.language, human = EXCLUDED.human, \
                 last_event_id = GREATEST(conversations.last_event_id, EXCLUDED.last_event_id), \
                 turns = conversations.turns + 1, updated_at = EXCLUDED.updated_at",
        )
        .bind(&turn.conversation_key)
        .bind(&turn.business_id)
        .bind(&turn.flow)
        .bind(&turn.state)
        .bind(&turn.language)
        .bind(turn.human)
        .bind(turn.event_id)
        .bind(now)
        .bind(turn.attempt)
        .execute(&mut *tx)
        .await?;
        if saved.rows_affected() == 0 {
            return Err(TurnError::Stale);
        }
        let mut committed = Committed::default();
        for op in &turn.booking {
            match op {
                BookingOp::Hold(hold) => {
                    appointments::pg::hold_in(&mut tx, hold, now).await?;
                }
                BookingOp::ReleaseHold => {
                    sqlx::query(
                        "UPDATE appointments SET status = 'cancelled', hold_expires_at = NULL, \
                             updated_at = $2 \
                         WHERE conversation_key = $1 AND status IN ('held', 'pending_payment')",
                    )
                    .bind(&turn.conversation_key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                BookingOp::Confirm | BookingOp::RequestDeposit => {
                    let to = match op {
                        BookingOp::Confirm => AppointmentStatus::Confirmed,
                        _ => AppointmentStatus::PendingPayment,
                    };
                    let id: Option<(i64,)> = sqlx::query_as(
                        "UPDATE appointments SET status = $2, updated_at = $3, \
                             hold_expires_at = CASE WHEN $2 = 'pending_payment' THEN hold_expires_at END \
                         WHERE id = (SELECT id FROM appointments WHERE conversation_key = $1 \
                               AND ((status = 'held' AND hold_expires_at > $3) \
                                    OR (status = 'pending_payment' AND $2 = 'confirmed')) \
                             ORDER BY id DESC LIMIT 1) \
                         RETURNING id",
                    )
                    .bind(&turn.conversation_key)
                    .bind(to.as_str())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((id,)) = id else {
                        return Err(TurnError::HoldLost);
                    };
                    if to == AppointmentStatus::Confirmed {
                        committed.confirmed = Some(id);
                    }
                }
                BookingOp::Cancel(id) => {
                    appointments::pg::transition(&mut *tx, *id, AppointmentStatus::Cancelled, now)
                        .await?;
                }
                BookingOp::Refund(id) => {
                    appointments::pg::transition(&mut *tx, *id, AppointmentStatus::Refunded, now)
                        .await?;
                }
                BookingOp::Reschedule(id, to) => {
                    appointments::pg::reschedule_in(&mut tx, *id, to, now).await?;
                }
            }
        }
        if !turn.outbox.is_empty() {
            outbox::pg::enqueue_in(&mut tx, &turn.outbox).await?;
        }
        for key in &turn.cancel_timers {
            timers::pg::cancel(&mut *tx, key).await?;
        }
        for timer in &turn.timers {
            if let Some(timer) = resolve_timer(timer, committed.confirmed) {
                timers::pg::schedule(&mut *tx, &timer, now).await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(committed)
    }
}

mod lite {
    use super::*;
    use crate::booking::appointment::AppointmentStatus;
    use crate::store::{appointments, outbox, timers};
    use sqlx::SqlitePool;

    pub(super) async fn load(
        pool: &SqlitePool,
        key: &str,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let row: Option<(Option<String>, i64)> = sqlx::query_as(
            "SELECT state, last_event_id FROM conversations WHERE conversation_key = ?",
        )
        .bind(key)
        .fetch_optional(pool)
        .await?;
        row.map(|(state, last_event_id)| {
            let state = state
                .map(|s| serde_json::from_str(&s))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("conversation state: {e}")))?;
            Ok(StoredConversation {
                state,
                last_event_id,
            })
        })
        .transpose()
    }

    pub(super) async fn commit(
        pool: &SqlitePool,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<Committed, TurnError> {
        let ms = now.timestamp_millis();
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO conversations (conversation_key, business_id, flow, state, language, human, \
                 last_event_id, turns, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8) \
             ON CONFLICT (conversation_key) DO UPDATE SET flow = excluded.flow, state = excluded.state, \
                 language = excluded.language, human = excluded.human, \
                 last_event_id = max(conversations.last_event_id, excluded.last_event_id), \
                 turns = conversations.turns + 1, updated_at = excluded.updated_at",
        )
        .bind(&turn.conversation_key)
        .bind(&turn.business_id)
        .bind(&turn.flow)
        .bind(turn.state.to_string())
        .bind(&turn.language)
        .bind(turn.human)
        .bind(turn.event_id)
        .bind(ms)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE inbox_events SET status = 'done', processed_at = ?3, last_error = NULL \
             WHERE id = ?1 AND attempts = ?2 AND status = 'processing'",
        )
        .bind(turn.event_id)
        .bind(turn.attempt)
        .bind(ms)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(TurnError::Stale);
        }
        let mut committed = Committed::default();
        for op in &turn.booking {
            match op {
                BookingOp::Hold(hold) => {
                    appointments::lite::hold_in(&mut tx, hold, now).await?;
                }
                BookingOp::ReleaseHold => {
                    sqlx::query(
                        "UPDATE appointments SET status = 'cancelled', hold_expires_at = NULL, \
                             updated_at = ?2 \
                         WHERE conversation_key = ?1 AND status IN ('held', 'pending_payment')",
                    )
                    .bind(&turn.conversation_key)
                    .bind(ms)
                    .execute(&mut *tx)
                    .await?;
                }
                BookingOp::Confirm | BookingOp::RequestDeposit => {
                    let to = match op {
                        BookingOp::Confirm => AppointmentStatus::Confirmed,
                        _ => AppointmentStatus::PendingPayment,
                    };
                    let id: Option<(i64,)> = sqlx::query_as(
                        "UPDATE appointments SET status = ?2, updated_at = ?3, \
                             hold_expires_at = CASE WHEN ?2 = 'pending_payment' THEN hold_expires_at END \
                         WHERE id = (SELECT id FROM appointments WHERE conversation_key = ?1 \
                               AND ((status = 'held' AND hold_expires_at > ?3) \
                                    OR (status = 'pending_payment' AND ?2 = 'confirmed')) \
                             ORDER BY id DESC LIMIT 1) \
                         RETURNING id",
                    )
                    .bind(&turn.conversation_key)
                    .bind(to.as_str())
                    .bind(ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((id,)) = id else {
                        return Err(TurnError::HoldLost);
                    };
                    if to == AppointmentStatus::Confirmed {
                        committed.confirmed = Some(id);
                    }
                }
                BookingOp::Cancel(id) => {
                    appointments::lite::transition(
                        &mut *tx,
                        *id,
                        AppointmentStatus::Cancelled,
                        now,
                    )
                    .await?;
                }
                BookingOp::Refund(id) => {
                    appointments::lite::transition(&mut *tx, *id, AppointmentStatus::Refunded, now)
                        .await?;
                }
                BookingOp::Reschedule(id, to) => {
                    appointments::lite::reschedule_in(&mut tx, *id, to, now).await?;
                }
            }
        }
        if !turn.outbox.is_empty() {
            outbox::lite::enqueue_in(&mut tx, &turn.outbox).await?;
        }
        for key in &turn.cancel_timers {
            timers::lite::cancel(&mut *tx, key).await?;
        }
        for timer in &turn.timers {
            if let Some(timer) = resolve_timer(timer, committed.confirmed) {
                timers::lite::schedule(&mut *tx, &timer, now).await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(committed)
    }
}
