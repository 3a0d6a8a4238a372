//! Deposits (table `payments`): one row per appointment that asked for one, with its Checkout
//! Session, the PaymentIntent that paid it and what Stripe said of it since.
//!
//! The row is found by the appointment, by the session or by the PaymentIntent, which is how a
//! Stripe event is led to its conversation ([`Store::stripe_route`]). Its status, refund and
//! dispute fields are written by the turns of that conversation (one at a time, in its lane) with
//! what `booking::payment` decided; the session's id, link and expiry by the dispatcher the moment
//! Stripe created it, so that it is never created twice.

use chrono::{DateTime, Utc};

use super::turn::TurnError;
use super::{NewInboxEvent, Store, StoreError, Time, Tx, named};
use crate::booking::appointment::AppointmentStatus;
use crate::booking::payment::{Payment, PaymentStatus, RefundStatus};
use crate::stripe::wire::Subject;

/// A deposit to ask for, stored when its hold starts waiting for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub appointment_id: i64,
    pub business_id: String,
    pub conversation_key: String,
    pub amount_minor: i64,
    /// ISO 4217, as the catalog writes it.
    pub currency: String,
}

/// A stored deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub appointment_id: i64,
    pub business_id: String,
    pub conversation_key: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub session_id: Option<String>,
    pub session_url: Option<String>,
    pub session_expires_at: Option<DateTime<Utc>>,
    pub payment_intent: Option<String>,
    /// Refunded so far, as Stripe reports it.
    pub amount_refunded: i64,
    /// What the bot asked Stripe to refund (0: nothing).
    pub refund_requested: i64,
    pub refund_status: Option<RefundStatus>,
    pub refund_id: Option<String>,
    pub refund_attempts: i32,
    pub disputed: bool,
    pub last_error: Option<String>,
}

impl StoredPayment {
    /// The deposit as `booking::payment::decide` sees it.
    pub fn decision_state(&self) -> Payment {
        let amount = |v: i64| u64::try_from(v).unwrap_or(0);
        Payment {
            status: self.status,
            amount: amount(self.amount_minor),
            refunded: amount(self.amount_refunded),
            refund_requested: amount(self.refund_requested),
            refund: self.refund_status,
            refund_attempts: u32::try_from(self.refund_attempts).unwrap_or(0),
            disputed: self.disputed,
        }
    }
}

/// What a turn changes of a deposit, as `booking::payment::decide` decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentChange {
    pub appointment_id: i64,
    /// The deposit's next state.
    pub payment: Payment,
    /// The PaymentIntent, once Stripe's news names it (kept once known).
    pub payment_intent: Option<String>,
    /// Why the last attempt or call failed, for operators (kept until another failure).
    pub last_error: Option<String>,
    /// The appointment's move: the status it was read in, and the one decided.
    pub appointment: Option<(AppointmentStatus, AppointmentStatus)>,
}

/// How a claimed Stripe call ended, recorded with the call's settling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Stripe answered; what it created is recorded on the deposit.
    Made(CallAnswer),
    /// Given up: `failed` (a refusal no retry changes), or `dead` after the retry budget.
    Failed { error: String, dead: bool },
}

/// What Stripe answered to one of the bot's calls, recorded with the call's settling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAnswer {
    /// A Checkout Session was created: its id, link and expiry (the appointment's hold is extended
    /// to it).
    Session {
        id: String,
        url: Option<String>,
        expires_at: DateTime<Utc>,
    },
    /// A refund was made: its id.
    Refund { id: String },
    /// Nothing to record beside the news.
    Nothing,
}

/// Where a Stripe event belongs: the appointment and its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRoute {
    pub appointment_id: i64,
    pub business_id: String,
    pub conversation_key: String,
}

/// What leads from a Stripe event to a deposit: its session or PaymentIntent, else the appointment
/// its metadata names (only while the deposit's own session or PaymentIntent is not known yet, so
/// that an id another integration on the same account happens to use is not taken for ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKey<'a> {
    Session {
        session: &'a str,
        appointment: Option<i64>,
    },
    Intent {
        payment_intent: Option<&'a str>,
        appointment: Option<i64>,
    },
}

const COLUMNS: &str = "appointment_id, business_id, conversation_key, amount_minor, currency, status, \
     session_id, session_url, session_expires_at, payment_intent, amount_refunded, refund_requested, \
     refund_status, refund_id, refund_attempts, disputed, last_error";

#[derive(sqlx::FromRow)]
struct Row {
    appointment_id: i64,
    business_id: String,
    conversation_key: String,
    amount_minor: i64,
    currency: String,
    status: String,
    session_id: Option<String>,
    session_url: Option<String>,
    session_expires_at: Option<Time>,
    payment_intent: Option<String>,
    amount_refunded: i64,
    refund_requested: i64,
    refund_status: Option<String>,
    refund_id: Option<String>,
    refund_attempts: i32,
    disputed: bool,
    last_error: Option<String>,
}

impl TryFrom<Row> for StoredPayment {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(StoredPayment {
            appointment_id: r.appointment_id,
            business_id: r.business_id,
            conversation_key: r.conversation_key,
            amount_minor: r.amount_minor,
            currency: r.currency,
            status: named(PaymentStatus::parse, "payment status", &r.status)?,
            session_id: r.session_id,
            session_url: r.session_url,
            session_expires_at: r.session_expires_at.map(|t| t.0),
            payment_intent: r.payment_intent,
            amount_refunded: r.amount_refunded,
            refund_requested: r.refund_requested,
            refund_status: r
                .refund_status
                .map(|s| named(RefundStatus::parse, "refund status", &s))
                .transpose()?,
            refund_id: r.refund_id,
            refund_attempts: r.refund_attempts,
            disputed: r.disputed,
            last_error: r.last_error,
        })
    }
}

fn payment(row: Option<Row>) -> Result<Option<StoredPayment>, StoreError> {
    row.map(StoredPayment::try_from).transpose()
}

impl Store {
    /// The deposit of an appointment.
    pub async fn payment(&self, appointment_id: i64) -> Result<Option<StoredPayment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE appointment_id = $1");
        payment(on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(appointment_id)
            .fetch_optional(s.read())
            .await?))
    }

    /// The deposits of the appointments starting in `[from, to)` (the day view's), in one read.
    pub async fn payments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredPayment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments WHERE appointment_id IN \
                 (SELECT id FROM appointments WHERE starts_at >= $1 AND starts_at < $2) \
             ORDER BY appointment_id"
        );
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(Time(from))
            .bind(Time(to))
            .fetch_all(s.read())
            .await?);
        rows.into_iter().map(StoredPayment::try_from).collect()
    }

    /// The deposits whose outcome is not known yet and whose session Stripe created, oldest first:
    /// what reconciliation asks Stripe about.
    pub async fn unsettled_payments(&self) -> Result<Vec<StoredPayment>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payments \
             WHERE status IN ('requested', 'open', 'processing') AND session_id IS NOT NULL \
             ORDER BY appointment_id"
        );
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .fetch_all(s.read())
            .await?);
        rows.into_iter().map(StoredPayment::try_from).collect()
    }

    /// Stores a deposit to ask for (nothing if the appointment has one already).
    pub async fn insert_payment(
        &self,
        new: &NewPayment,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.insert_payment(new, now).await?;
        tx.commit().await
    }

    /// The appointment and conversation a Stripe event is about, if the deposit is ours.
    pub async fn stripe_route(
        &self,
        key: PaymentKey<'_>,
    ) -> Result<Option<PaymentRoute>, StoreError> {
        let (by_id, id, appointment) = match key {
            PaymentKey::Session {
                session,
                appointment,
            } => ("session_id", Some(session), appointment),
            PaymentKey::Intent {
                payment_intent,
                appointment,
            } => ("payment_intent", payment_intent, appointment),
        };
        if let Some(id) = id {
            let sql = format!(
                "SELECT appointment_id, business_id, conversation_key FROM payments WHERE {by_id} = $1"
            );
            let found: Option<(i64, String, String)> = on!(Store, self, |s| sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(s.read())
                .await?);
            if let Some(found) = found {
                return Ok(Some(route(found)));
            }
        }
        let Some(appointment) = appointment else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT appointment_id, business_id, conversation_key FROM payments \
             WHERE appointment_id = $1 AND {by_id} IS NULL"
        );
        let found: Option<(i64, String, String)> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(appointment)
            .fetch_optional(s.read())
            .await?);
        Ok(found.map(route))
    }
}

impl<'a> From<&'a Subject> for PaymentKey<'a> {
    fn from(subject: &'a Subject) -> Self {
        match subject {
            Subject::Session {
                session,
                appointment,
            } => PaymentKey::Session {
                session,
                appointment: *appointment,
            },
            Subject::Payment {
                payment_intent,
                appointment,
            } => PaymentKey::Intent {
                payment_intent: payment_intent.as_deref(),
                appointment: *appointment,
            },
        }
    }
}

fn route((appointment_id, business_id, conversation_key): (i64, String, String)) -> PaymentRoute {
    PaymentRoute {
        appointment_id,
        business_id,
        conversation_key,
    }
}

impl Store {
    /// Settles a claimed Stripe call of the outbox: the row sent (or given up), what Stripe
    /// created recorded on the deposit, and the news of it put in the conversation's lane, in one
    /// transaction, so that a session or refund is known before anything can act on it and is
    /// never created twice. `false` (and nothing written) when the claim was lost.
    pub async fn settle_payment_call(
        &self,
        claim: (i64, i32),
        appointment_id: i64,
        outcome: &CallOutcome,
        news: Option<&NewInboxEvent>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let answer = match outcome {
            CallOutcome::Made(answer) => {
                if !tx.call_sent(claim, now).await? {
                    return Ok(false);
                }
                answer
            }
            CallOutcome::Failed { error, dead } => {
                if !tx.call_failed(claim, error, *dead, now).await? {
                    return Ok(false);
                }
                &CallAnswer::Nothing
            }
        };
        match answer {
            CallAnswer::Session {
                id,
                url,
                expires_at,
            } => {
                on!(Tx, &mut tx, |t| {
                    sqlx::query(
                    "UPDATE payments SET session_id = $2, session_url = $3, session_expires_at = $4, \
                         updated_at = $5 WHERE appointment_id = $1",
                )
                .bind(appointment_id)
                .bind(id)
                .bind(url)
                .bind(Time(*expires_at))
                .bind(Time(now))
                .execute(&mut **t)
                .await?
                .rows_affected()
                });
                // The hold lasts as long as its link can be paid.
                on!(Tx, &mut tx, |t| sqlx::query(
                    "UPDATE appointments SET hold_expires_at = $2, updated_at = $3 \
                     WHERE id = $1 AND status = 'pending_payment'",
                )
                .bind(appointment_id)
                .bind(Time(*expires_at))
                .bind(Time(now))
                .execute(&mut **t)
                .await?
                .rows_affected());
            }
            CallAnswer::Refund { id } => {
                on!(Tx, &mut tx, |t| sqlx::query(
                    "UPDATE payments SET refund_id = $2, updated_at = $3 WHERE appointment_id = $1",
                )
                .bind(appointment_id)
                .bind(id)
                .bind(Time(now))
                .execute(&mut **t)
                .await?
                .rows_affected());
            }
            CallAnswer::Nothing => {}
        }
        if let Some(news) = news {
            tx.insert_event(news).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

impl Tx<'_> {
    /// Applies what a turn decided of a deposit: its next state, and its appointment's move
    /// (`HoldLost` when the appointment is no longer as it was read; `SlotTaken` when a late
    /// payment would confirm a time someone else has taken meanwhile).
    pub(super) async fn apply_payment(
        &mut self,
        change: &PaymentChange,
        now: DateTime<Utc>,
    ) -> Result<(), TurnError> {
        let p = &change.payment;
        let minor = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        on!(Tx, self, |tx| {
            sqlx::query(
            "UPDATE payments SET status = $2, amount_refunded = $3, refund_requested = $4, \
                 refund_status = $5, refund_attempts = $6, disputed = $7, \
                 payment_intent = COALESCE(payment_intent, $8), last_error = COALESCE($9, last_error), \
                 updated_at = $10 \
             WHERE appointment_id = $1",
        )
        .bind(change.appointment_id)
        .bind(p.status.as_str())
        .bind(minor(p.refunded))
        .bind(minor(p.refund_requested))
        .bind(p.refund.map(RefundStatus::as_str))
        .bind(i32::try_from(p.refund_attempts).unwrap_or(i32::MAX))
        .bind(p.disputed)
        .bind(&change.payment_intent)
        .bind(&change.last_error)
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected()
        });
        if let Some((from, to)) = change.appointment {
            self.payment_move(change.appointment_id, from, to, now)
                .await?;
        }
        Ok(())
    }

    /// Stores a deposit to ask for inside this transaction; `false` if the appointment had one.
    pub(super) async fn insert_payment(
        &mut self,
        new: &NewPayment,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on!(Tx, self, |tx| {
            sqlx::query(
            "INSERT INTO payments (appointment_id, business_id, conversation_key, amount_minor, \
                 currency, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (appointment_id) DO NOTHING",
        )
        .bind(new.appointment_id)
        .bind(&new.business_id)
        .bind(&new.conversation_key)
        .bind(new.amount_minor)
        .bind(&new.currency)
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected()
        });
        Ok(done == 1)
    }
}
