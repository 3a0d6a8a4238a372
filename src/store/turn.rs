//! The turn commit: one event applied in one transaction — the conversation's new state, its
//! appointment changes, its replies (outbox rows), its timers, and the event marked done — or nothing
//! at all.
//!
//! An event is applied once: the turn marks it done in its own transaction, and only while this
//! worker's claim on it holds (`attempts` is the claim's fencing token), so a turn committed is never
//! run again and a turn not committed left nothing behind. [`apply_turn`] is written once, over the
//! transaction primitives each table's file gives [`Tx`] (save the turn, hold, transition, enqueue,
//! schedule). Postgres also commits the turns that cannot be refused by the database in one batch
//! statement (`pg::commit_plain`), with one WAL flush for all of them.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::appointments::{BookingError, NewHold};
use super::outbox::NewOutbound;
use super::payments::{NewPayment, PaymentChange};
use super::timers::NewTimer;
use super::{Provider, Store, StoreError, Tx};
use crate::booking::appointment::AppointmentStatus;

/// A change to the customer's appointments, applied in the turn's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum BookingOp {
    /// Hold a time; the turn fails with `SlotTaken` if it overlaps a live appointment.
    Hold(NewHold),
    /// Give back the conversation's held or payment-pending time.
    ReleaseHold,
    /// The conversation's hold becomes a confirmed booking; `HoldLost` if it ran out.
    Confirm,
    /// The conversation's hold waits for its deposit, which is recorded (`payments`); `HoldLost`
    /// if the hold ran out or is not the one the deposit is for.
    RequestDeposit(NewPayment),
    /// Cancel a booking (nothing if it is no longer live).
    Cancel(i64),
    /// A deposit's news applied: its next state and its appointment's move
    /// (`booking::payment::decide`). `SlotTaken` when a late payment's time was taken meanwhile.
    Payment(PaymentChange),
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
    Together(Arc<StoreError>),
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
    /// Applies one turn in one transaction.
    pub async fn commit_turn(
        &self,
        turn: &TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<Committed, TurnError> {
        let mut tx = self.begin().await?;
        let committed = apply_turn(&mut tx, turn, now).await?;
        tx.commit().await?;
        Ok(committed)
    }

    /// Applies several turns, each of a different conversation; one result per turn, in order.
    ///
    /// On Postgres the turns that touch no appointment (beyond giving back the conversation's own
    /// hold, which cannot conflict) are committed together in one statement, with one WAL flush for
    /// all of them; each is still applied only under its worker's claim (`Stale` otherwise). Turns
    /// that hold, confirm, cancel or move a time may be refused by the database, so each of those
    /// commits in its own transaction, as [`Store::commit_turn`] does. On SQLite all of them commit
    /// in one transaction (one sync to disk), each inside its own savepoint: a turn refused or stale
    /// is rolled back alone, the others are kept.
    pub async fn commit_turns(
        &self,
        turns: &[TurnCommit],
        now: DateTime<Utc>,
    ) -> Vec<Result<Committed, TurnError>> {
        match self {
            Store::Postgres(s) => {
                let (plain, booking): (Vec<&TurnCommit>, Vec<&TurnCommit>) =
                    turns.iter().partition(|t| t.is_plain());
                let (applied, alone) = tokio::join!(
                    pg::commit_plain(s.write(), &plain, now),
                    futures_util::future::join_all(
                        booking.iter().map(|turn| self.commit_turn(turn, now))
                    ),
                );
                let mut alone = alone.into_iter();
                let applied = applied.map_err(Arc::new);
                turns
                    .iter()
                    .map(|turn| match (turn.is_plain(), &applied) {
                        (true, Ok(done)) if done.contains(&turn.event_id) => {
                            Ok(Committed::default())
                        }
                        (true, Ok(_)) => Err(TurnError::Stale),
                        (true, Err(err)) => Err(TurnError::Together(err.clone())),
                        (false, _) => alone.next().unwrap_or(Err(TurnError::Stale)),
                    })
                    .collect()
            }
            Store::Sqlite(_) => match self.begin().await {
                Ok(mut tx) => match apply_each(&mut tx, turns, now).await {
                    Ok(results) => match tx.commit().await {
                        Ok(()) => results,
                        Err(err) => together(turns, err),
                    },
                    Err(err) => together(turns, err),
                },
                Err(err) => together(turns, err),
            },
        }
    }
}

/// The same failure for every turn of a batch that shares one commit.
fn together(turns: &[TurnCommit], err: StoreError) -> Vec<Result<Committed, TurnError>> {
    let err = Arc::new(err);
    turns
        .iter()
        .map(|_| Err(TurnError::Together(err.clone())))
        .collect()
}

/// Applies each turn inside its own savepoint of `tx`. `Err` only when the transaction itself failed.
async fn apply_each(
    tx: &mut Tx<'_>,
    turns: &[TurnCommit],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Committed, TurnError>>, StoreError> {
    let mut results = Vec::with_capacity(turns.len());
    for turn in turns {
        let mut savepoint = tx.savepoint().await?;
        match apply_turn(&mut savepoint, turn, now).await {
            Ok(committed) => {
                savepoint.commit().await?;
                results.push(Ok(committed));
            }
            Err(refused) => {
                savepoint.rollback().await?;
                results.push(Err(refused));
            }
        }
    }
    Ok(results)
}

/// Applies one turn inside `tx`; on an error the caller rolls `tx` back.
async fn apply_turn(
    tx: &mut Tx<'_>,
    turn: &TurnCommit,
    now: DateTime<Utc>,
) -> Result<Committed, TurnError> {
    if !tx.save_turn(turn, now).await? {
        return Err(TurnError::Stale);
    }
    let mut committed = Committed::default();
    for op in &turn.booking {
        match op {
            BookingOp::Hold(hold) => {
                tx.hold(hold, now).await?;
            }
            BookingOp::ReleaseHold => tx.release_hold(&turn.conversation_key, now).await?,
            BookingOp::Confirm => {
                let id = tx.settle_hold(&turn.conversation_key, AppointmentStatus::Confirmed, now);
                committed.confirmed = Some(id.await?.ok_or(TurnError::HoldLost)?);
            }
            BookingOp::RequestDeposit(deposit) => {
                let to = AppointmentStatus::PendingPayment;
                let id = tx.settle_hold(&turn.conversation_key, to, now).await?;
                if id != Some(deposit.appointment_id) {
                    return Err(TurnError::HoldLost);
                }
                tx.insert_payment(deposit, now).await?;
            }
            BookingOp::Cancel(id) => {
                tx.transition(*id, AppointmentStatus::Cancelled, now)
                    .await?;
            }
            BookingOp::Payment(change) => tx.apply_payment(change, now).await?,
            BookingOp::Reschedule(id, to) => {
                tx.reschedule(*id, to, now).await?;
            }
        }
    }
    tx.enqueue(&turn.outbox).await?;
    for key in turn.timers_to_cancel() {
        tx.cancel_timer(key).await?;
    }
    for timer in &turn.timers {
        if let Some(timer) = resolve_timer(timer, committed.confirmed) {
            tx.schedule_timer(&timer, now).await?;
        }
    }
    Ok(committed)
}

impl TurnCommit {
    /// Changes no appointment but perhaps gives back the conversation's own hold, and writes only
    /// WhatsApp messages: nothing the database can refuse, nothing the batch statement does not
    /// write.
    fn is_plain(&self) -> bool {
        self.booking.iter().all(|op| *op == BookingOp::ReleaseHold)
            && self.outbox.iter().all(|m| m.provider == Provider::WhatsApp)
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

impl<'c> Tx<'c> {
    /// A savepoint inside this transaction, itself a [`Tx`]: committing it keeps its changes in
    /// the outer transaction, dropping or rolling it back undoes only them.
    async fn savepoint(&mut self) -> Result<Tx<'_>, StoreError> {
        Ok(match self {
            Tx::Postgres(tx) => Tx::Postgres(sqlx::Acquire::begin(&mut **tx).await?),
            Tx::Sqlite(tx) => Tx::Sqlite(sqlx::Acquire::begin(&mut **tx).await?),
        })
    }

    async fn rollback(self) -> Result<(), StoreError> {
        on!(Tx, self, |tx| tx.rollback().await?);
        Ok(())
    }
}

mod pg {
    use super::*;
    use sqlx::PgPool;

    /// Commits turns that touch no appointment (but perhaps give back their own hold) in one
    /// statement: each turn's event is marked done under its claim, and only the turns whose event
    /// was marked save their conversation, replies and timers. Returns the events applied. The
    /// turns must be of different conversations.
    pub(super) async fn commit_plain(
        pool: &PgPool,
        turns: &[&TurnCommit],
        now: DateTime<Utc>,
    ) -> Result<HashSet<i64>, StoreError> {
        if turns.is_empty() {
            return Ok(HashSet::new());
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
}
