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
    /// The statement committing this turn together with others failed (nothing of them was written).
    #[error(transparent)]
    Together(std::sync::Arc<StoreError>),
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

impl Store {
    /// Applies several turns, each of a different conversation; one result per turn, in order.
    ///
    /// On Postgres the turns that touch no appointment (beyond giving back the conversation's own
    /// hold, which cannot conflict) are committed together in one statement, with one WAL flush for
    /// all of them; each is still applied only under its worker's claim (`Stale` otherwise). Turns
    /// that hold, confirm, cancel or move a time may be refused by the database, so each of those
    /// commits in its own transaction, as [`Store::commit_turn`] does. On SQLite all of them commit
    /// in one transaction, each inside its own savepoint.
    pub async fn commit_turns(
        &self,
        turns: &[TurnCommit],
        now: DateTime<Utc>,
    ) -> Vec<Result<Committed, TurnError>> {
        let s = match self {
            Store::Postgres(s) => s,
            Store::Sqlite(s) => return lite::commit_many(s.writer(), turns, now).await,
        };
        let (plain, booking): (Vec<usize>, Vec<usize>) =
            (0..turns.len()).partition(|i| turns[*i].is_plain());
        let mut results: Vec<Option<Result<Committed, TurnError>>> =
            (0..turns.len()).map(|_| None).collect();
        let together: Vec<&TurnCommit> = plain.iter().map(|i| &turns[*i]).collect();
        let (applied, alone) = tokio::join!(
            pg::commit_plain(s.pool(), &together, now),
            futures_util::future::join_all(booking.iter().map(|i| pg::commit(
                s.pool(),
                &turns[*i],
                now
            ))),
        );
        match applied {
            Ok(done) => {
                for i in &plain {
                    results[*i] = Some(if done.contains(&turns[*i].event_id) {
                        Ok(Committed::default())
                    } else {
                        Err(TurnError::Stale)
                    });
                }
            }
            Err(err) => {
                let err = std::sync::Arc::new(err);
                for i in &plain {
                    results[*i] = Some(Err(TurnError::Together(err.clone())));
                }
            }
        }
        for (i, result) in booking.iter().zip(alone) {
            results[*i] = Some(result);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(TurnError::Stale)))
            .collect()
    }
}

impl TurnCommit {
    /// Changes no appointment but perhaps gives back the conversation's own hold: nothing the
    /// database can refuse.
    fn is_plain(&self) -> bool {
        self.booking.iter().all(|op| *op == BookingOp::ReleaseHold)
    }

    /// The timers to drop: those set again by the same turn are replaced by their new setting.
    fn timers_to_cancel(&self) -> impl Iterator<Item = &String> {
        self.cancel_timers
            .iter()
            .filter(|key| !self.timers.iter().any(|t| &t.timer.key == *key))
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

    /// Commits turns that touch no appointment (but perhaps give back their own hold) in one
    /// statement: each turn's event is marked done under its claim, and only the turns whose event
    /// was marked save their conversation, replies and timers. Returns the events applied. The
    /// turns must be of different conversations.
    pub(super) async fn commit_plain(
        pool: &PgPool,
        turns: &[&TurnCommit],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashSet<i64>, StoreError> {
        if turns.is_empty() {
            return Ok(Default::default());
        }
        let mut t = TurnColumns::default();
        let mut m = ReplyColumns::default();
        let mut dropped: (Vec<i64>, Vec<&str>) = Default::default();
        let mut set = TimerColumns::default();
        for turn in turns {
            t.event.push(turn.event_id);
            t.attempt.push(turn.attempt);
            t.key.push(turn.conversation_key.as_str());
            t.business.push(turn.business_id.as_str());
            t.flow.push(turn.flow.as_str());
            t.state.push(turn.state.to_string());
            t.language.push(turn.language.as_deref());
            t.human.push(turn.human);
            t.release
                .push(turn.booking.contains(&BookingOp::ReleaseHold));
            for reply in &turn.outbox {
                m.event.push(turn.event_id);
                m.key.push(reply.idempotency_key.as_str());
                m.business.push(reply.business_id.as_str());
                m.conversation.push(reply.conversation_key.as_str());
                m.recipient.push(reply.recipient.as_str());
                m.kind.push(reply.kind.as_str());
                m.payload.push(reply.payload.to_string());
                m.at.push(reply.created_at);
            }
            for key in turn.timers_to_cancel() {
                dropped.0.push(turn.event_id);
                dropped.1.push(key.as_str());
            }
            for timer in &turn.timers {
                // A plain turn confirms nothing: a timer about a confirmed appointment has none.
                if let Some(timer) = resolve_timer(timer, None) {
                    set.event.push(turn.event_id);
                    set.key.push(timer.key);
                    set.business.push(timer.business_id);
                    set.conversation.push(timer.conversation_key);
                    set.kind.push(timer.kind);
                    set.payload.push(timer.payload.to_string());
                    set.due.push(timer.due_at);
                }
            }
        }
        let done: Vec<(i64,)> = sqlx::query_as(
            "WITH t AS ( \
                 SELECT * FROM UNNEST($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], \
                                      $6::text[], $7::text[], $8::bool[], $9::bool[]) \
                     AS t(event_id, attempt, conversation_key, business_id, flow, state, language, \
                          human, release)), \
             done AS ( \
                 UPDATE inbox_events e SET status = 'done', processed_at = $10, last_error = NULL \
                 FROM t WHERE e.id = t.event_id AND e.attempts = t.attempt AND e.status = 'processing' \
                 RETURNING e.id), \
             saved AS ( \
                 INSERT INTO conversations (conversation_key, business_id, flow, state, language, \
                     human, last_event_id, turns, created_at, updated_at) \
                 SELECT t.conversation_key, t.business_id, t.flow, t.state::jsonb, t.language, t.human, \
                     t.event_id, 1, $10, $10 \
                 FROM t JOIN done ON done.id = t.event_id \
                 ON CONFLICT (conversation_key) DO UPDATE SET flow = EXCLUDED.flow, \
                     state = EXCLUDED.state, language = EXCLUDED.language, human = EXCLUDED.human, \
                     last_event_id = GREATEST(conversations.last_event_id, EXCLUDED.last_event_id), \
                     turns = conversations.turns + 1, updated_at = EXCLUDED.updated_at), \
             released AS ( \
                 UPDATE appointments a SET status = 'cancelled', hold_expires_at = NULL, updated_at = $10 \
                 FROM t JOIN done ON done.id = t.event_id \
                 WHERE t.release AND a.conversation_key = t.conversation_key \
                   AND a.status IN ('held', 'pending_payment')), \
             replies AS ( \
                 INSERT INTO outbox (idempotency_key, business_id, conversation_key, recipient, kind, \
                     payload, next_attempt_at, created_at) \
                 SELECT m.k, m.b, m.c, m.r, m.t, m.p::jsonb, m.at, m.at \
                 FROM UNNEST($11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[], \
                             $16::text[], $17::text[], $18::timestamptz[]) \
                     WITH ORDINALITY AS m(event_id, k, b, c, r, t, p, at, n) \
                 WHERE m.event_id IN (SELECT id FROM done) \
                 ORDER BY m.n \
                 ON CONFLICT (idempotency_key) DO NOTHING), \
             dropped AS ( \
                 DELETE FROM timers USING UNNEST($19::bigint[], $20::text[]) AS c(event_id, k) \
                 WHERE timers.timer_key = c.k AND timers.fired_at IS NULL \
                   AND c.event_id IN (SELECT id FROM done)), \
             timers_set AS ( \
                 INSERT INTO timers (timer_key, business_id, conversation_key, kind, payload, due_at, \
                     created_at) \
                 SELECT s.k, s.b, s.c, s.kind, s.p::jsonb, s.due, $10 \
                 FROM UNNEST($21::bigint[], $22::text[], $23::text[], $24::text[], $25::text[], \
                             $26::text[], $27::timestamptz[]) AS s(event_id, k, b, c, kind, p, due) \
                 WHERE s.event_id IN (SELECT id FROM done) \
                 ON CONFLICT (timer_key) DO UPDATE SET due_at = EXCLUDED.due_at, \
                     payload = EXCLUDED.payload WHERE timers.fired_at IS NULL) \
             SELECT id FROM done",
        )
        .bind(&t.event)
        .bind(&t.attempt)
        .bind(&t.key)
        .bind(&t.business)
        .bind(&t.flow)
        .bind(&t.state)
        .bind(&t.language)
        .bind(&t.human)
        .bind(&t.release)
        .bind(now)
        .bind(&m.event)
        .bind(&m.key)
        .bind(&m.business)
        .bind(&m.conversation)
        .bind(&m.recipient)
        .bind(&m.kind)
        .bind(&m.payload)
        .bind(&m.at)
        .bind(&dropped.0)
        .bind(&dropped.1)
        .bind(&set.event)
        .bind(&set.key)
        .bind(&set.business)
        .bind(&set.conversation)
        .bind(&set.kind)
        .bind(&set.payload)
        .bind(&set.due)
        .fetch_all(pool)
        .await?;
        Ok(done.into_iter().map(|(id,)| id).collect())
    }

    /// The turns of [`commit_plain`], column by column.
    #[derive(Default)]
    struct TurnColumns<'a> {
        event: Vec<i64>,
        attempt: Vec<i32>,
        key: Vec<&'a str>,
        business: Vec<&'a str>,
        flow: Vec<&'a str>,
        state: Vec<String>,
        language: Vec<Option<&'a str>>,
        human: Vec<bool>,
        release: Vec<bool>,
    }

    /// Their replies, each with the event of its turn.
    #[derive(Default)]
    struct ReplyColumns<'a> {
        event: Vec<i64>,
        key: Vec<&'a str>,
        business: Vec<&'a str>,
        conversation: Vec<&'a str>,
        recipient: Vec<&'a str>,
        kind: Vec<&'a str>,
        payload: Vec<String>,
        at: Vec<DateTime<Utc>>,
    }

    /// Their timers, each with the event of its turn.
    #[derive(Default)]
    struct TimerColumns {
        event: Vec<i64>,
        key: Vec<String>,
        business: Vec<String>,
        conversation: Vec<String>,
        kind: Vec<String>,
        payload: Vec<String>,
        due: Vec<DateTime<Utc>>,
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
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let committed = apply(&mut tx, turn, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(committed)
    }

    /// Several turns in one transaction (one sync to disk for all), each inside its own savepoint:
    /// a turn refused or stale is rolled back alone, the others are kept.
    pub(super) async fn commit_many(
        pool: &SqlitePool,
        turns: &[TurnCommit],
        now: DateTime<Utc>,
    ) -> Vec<Result<Committed, TurnError>> {
        let together = |err: sqlx::Error| {
            let err = std::sync::Arc::new(StoreError::from(err));
            turns
                .iter()
                .map(|_| Err(TurnError::Together(err.clone())))
                .collect()
        };
        let mut tx = match pool.begin().await {
            Ok(tx) => tx,
            Err(err) => return together(err),
        };
        let mut results = Vec::with_capacity(turns.len());
        for turn in turns {
            let mut savepoint = match sqlx::Acquire::begin(&mut tx).await {
                Ok(savepoint) => savepoint,
                Err(err) => return together(err),
            };
            match apply(&mut savepoint, turn, now).await {
                Ok(committed) => match savepoint.commit().await {
                    Ok(()) => results.push(Ok(committed)),
                    Err(err) => return together(err),
                },
                Err(refused) => {
                    if let Err(err) = savepoint.rollback().await {
                        return together(err);
                    }
                    results.push(Err(refused));
                }
            }
        }
        match tx.commit().await {
            Ok(()) => results,
            Err(err) => together(err),
        }
    }

    /// Applies one turn inside `tx`; on an error the caller rolls `tx` back.
    async fn apply(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<Committed, TurnError> {
        let ms = now.timestamp_millis();
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
        .execute(&mut **tx)
        .await?;
        let done = sqlx::query(
            "UPDATE inbox_events SET status = 'done', processed_at = ?3, last_error = NULL \
             WHERE id = ?1 AND attempts = ?2 AND status = 'processing'",
        )
        .bind(turn.event_id)
        .bind(turn.attempt)
        .bind(ms)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(TurnError::Stale);
        }
        let mut committed = Committed::default();
        for op in &turn.booking {
            match op {
                BookingOp::Hold(hold) => {
                    appointments::lite::hold_in(tx, hold, now).await?;
                }
                BookingOp::ReleaseHold => {
                    sqlx::query(
                        "UPDATE appointments SET status = 'cancelled', hold_expires_at = NULL, \
                             updated_at = ?2 \
                         WHERE conversation_key = ?1 AND status IN ('held', 'pending_payment')",
                    )
                    .bind(&turn.conversation_key)
                    .bind(ms)
                    .execute(&mut **tx)
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
                    .fetch_optional(&mut **tx)
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
                        &mut **tx,
                        *id,
                        AppointmentStatus::Cancelled,
                        now,
                    )
                    .await?;
                }
                BookingOp::Refund(id) => {
                    appointments::lite::transition(
                        &mut **tx,
                        *id,
                        AppointmentStatus::Refunded,
                        now,
                    )
                    .await?;
                }
                BookingOp::Reschedule(id, to) => {
                    appointments::lite::reschedule_in(tx, *id, to, now).await?;
                }
            }
        }
        if !turn.outbox.is_empty() {
            outbox::lite::enqueue_in(tx, &turn.outbox).await?;
        }
        for key in &turn.cancel_timers {
            timers::lite::cancel(&mut **tx, key).await?;
        }
        for timer in &turn.timers {
            if let Some(timer) = resolve_timer(timer, committed.confirmed) {
                timers::lite::schedule(&mut **tx, &timer, now).await?;
            }
        }
        Ok(committed)
    }
}
