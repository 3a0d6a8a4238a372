//! The outbox: every effect the bot has a provider carry out (a WhatsApp message, a Stripe call),
//! stored before it is made, then settled by the dispatcher and, for messages, by Meta's delivery
//! statuses. `provider` says whose sender takes a row; `recipient` is its lane: a customer's phone
//! (or user id) for WhatsApp messages, `<provider>:<conversation key>` for another provider's calls
//! about that customer, so that those go in order among themselves, beside the customer's messages
//! and never behind one that waits for the 24-hour window or a retry.
//!
//! Rows are written in the same transaction as the state change that caused them, with a stable
//! idempotency key, so a crash can neither lose a reply nor write it twice. The dispatcher claims, per
//! recipient, only the oldest open row, so one customer's messages leave in the order they were
//! written while other customers' messages go in parallel; a row waiting for a retry holds back only
//! its own recipient.
//!
//! Postgres enqueues, records sends and applies statuses in batch statements (`mod pg`), SQLite row by
//! row on its single writer (`mod lite`); the claims differ as the inbox's do; the rest is shared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Provider, Store, StoreError, Time, Tx, named};

/// Where an outbound message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundStatus {
    /// Waiting to be sent (first time, or a retry at `next_attempt_at`).
    Pending,
    /// Claimed by a dispatcher whose lease ends at `next_attempt_at`.
    Sending,
    /// Outside the customer's 24-hour window: sent once the customer writes again.
    Waiting,
    /// Accepted by Meta (`wamid` known); then Meta's statuses move it on.
    Sent,
    Delivered,
    Read,
    /// Will not be delivered (undeliverable, rejected, or Meta reported failure); `last_error` says why.
    Failed,
    /// Gave up after the retry budget.
    Dead,
}

impl OutboundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundStatus::Pending => "pending",
            OutboundStatus::Sending => "sending",
            OutboundStatus::Waiting => "waiting",
            OutboundStatus::Sent => "sent",
            OutboundStatus::Delivered => "delivered",
            OutboundStatus::Read => "read",
            OutboundStatus::Failed => "failed",
            OutboundStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => OutboundStatus::Pending,
            "sending" => OutboundStatus::Sending,
            "waiting" => OutboundStatus::Waiting,
            "sent" => OutboundStatus::Sent,
            "delivered" => OutboundStatus::Delivered,
            "read" => OutboundStatus::Read,
            "failed" => OutboundStatus::Failed,
            "dead" => OutboundStatus::Dead,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown outbox status '{other}'"
                )));
            }
        })
    }
}

/// A delivery status Meta reported for one of our messages.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryStatus {
    pub wamid: String,
    pub status: OutboundStatus,
    pub error: Option<String>,
    pub code: Option<i64>,
}

/// A customer's message, as far as the 24-hour window is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerMessage {
    pub conversation_key: String,
    pub business_id: String,
    /// When the customer wrote (Meta's timestamp).
    pub at: DateTime<Utc>,
}

/// A message (or another provider's call) to store for sending.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbound {
    /// Stable for the same message: writing it twice stores it once. Stripe receives it as the
    /// call's `Idempotency-Key`.
    pub idempotency_key: String,
    /// Whose sender carries it out.
    pub provider: Provider,
    pub business_id: String,
    pub conversation_key: String,
    /// The lane: E.164 phone or business-scoped user id for WhatsApp, else
    /// [`provider_lane`]`(provider, conversation_key)`.
    pub recipient: String,
    /// `text`, `template`, `buttons`, ..., `stripe.session`, ... (metrics label).
    pub kind: String,
    /// WhatsApp: the Cloud API `/messages` request body; others: the call, as their sender reads it.
    pub payload: Value,
    /// When it was written; also the earliest it is sent.
    pub created_at: DateTime<Utc>,
}

/// The outbox lane of `provider`'s calls about one conversation.
pub fn provider_lane(provider: Provider, conversation_key: &str) -> String {
    format!("{}:{conversation_key}", provider.as_str())
}

/// A stored outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub id: i64,
    pub idempotency_key: String,
    pub provider: Provider,
    pub business_id: String,
    pub conversation_key: String,
    pub recipient: String,
    pub kind: String,
    pub payload: Value,
    pub status: OutboundStatus,
    /// Claims so far; also the fencing token of the current claim.
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub error_code: Option<i64>,
    pub wamid: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the customer last wrote in this conversation (the start of WhatsApp's 24-hour window).
    pub last_inbound_at: Option<DateTime<Utc>>,
}

/// How a claimed message that Meta did not accept is settled (accepted ones: `outbox_sent`).
#[derive(Debug, Clone, PartialEq)]
pub enum Settle<'a> {
    /// Try again at `at` (the attempt counts).
    Retry {
        error: &'a str,
        code: Option<i64>,
        at: DateTime<Utc>,
    },
    /// Put back untouched, to be sent at `at` (sending is paused; the attempt does not count).
    Release { at: DateTime<Utc> },
    /// Give up: `dead` after the retry budget, else `failed`.
    Fail {
        error: &'a str,
        code: Option<i64>,
        dead: bool,
    },
}

impl Store {
    /// Stores messages for sending; returns how many were new (a repeated idempotency key is skipped).
    pub async fn enqueue_outbox(&self, messages: &[NewOutbound]) -> Result<u64, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin().await?;
        let new = tx.enqueue(messages).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Claims up to `limit` due messages, at most one per recipient (its oldest open one), leased until
    /// `lease_until`. On Postgres the claim commits without waiting for the disk: settling the message
    /// is durable and flushes it; a claim lost in a database crash only puts the message back in line
    /// (sent again if Meta had already taken it, as after a crash of the bot itself).
    pub async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Outbound>, StoreError> {
        let sql = match self {
            Store::Postgres(_) => pg::claim(),
            Store::Sqlite(_) => lite::claim(),
        };
        let rows: Vec<Row> = self.claim(&sql, now, lease_until, limit).await?;
        rows.into_iter().map(Outbound::try_from).collect()
    }

    /// Settles a claimed message. `false` when the claim was lost (another dispatcher took it over).
    pub async fn settle_outbox(
        &self,
        id: i64,
        attempt: i32,
        settle: Settle<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const FENCE: &str = "WHERE id = $1 AND attempts = $2 AND status = 'sending'";
        // Every variant binds the same five values; each statement uses those it needs.
        let (sql, status, error, code, at) = match settle {
            Settle::Retry { error, code, at } => (
                "UPDATE outbox SET status = $3, last_error = $4, error_code = $5, \
                     next_attempt_at = $6",
                "pending",
                Some(error),
                code,
                at,
            ),
            // The attempt does not count, and the last error stays.
            Settle::Release { at } => (
                "UPDATE outbox SET status = $3, attempts = attempts - 1, \
                     last_error = COALESCE($4, last_error), error_code = COALESCE($5, error_code), \
                     next_attempt_at = $6",
                "pending",
                None,
                None,
                at,
            ),
            Settle::Fail { error, code, dead } => (
                "UPDATE outbox SET status = $3, last_error = $4, error_code = $5, status_at = $6",
                if dead { "dead" } else { "failed" },
                Some(error),
                code,
                now,
            ),
        };
        let sql = format!("{sql} {FENCE}");
        let done = on!(Store, self, |s| sqlx::query(&sql)
            .bind(id)
            .bind(attempt)
            .bind(status)
            .bind(error)
            .bind(code)
            .bind(Time(at))
            .execute(s.write())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Records several claimed messages as accepted by Meta, each given as `(id, attempt, wamid)`, in one
    /// statement; returns how many were settled (a lost claim is skipped).
    ///
    /// A `wamid` that another message already has (Meta should never answer one twice, but a proxy
    /// or a sandbox may) cannot be stored: then the messages are recorded one by one, each in its own
    /// statement, and the one whose `wamid` is taken is settled as sent without it, with the reason in
    /// `last_error` (its delivery statuses cannot reach it). It was accepted, so it must not go again;
    /// and the others are settled as usual. The conflicts are logged once, with the ids.
    pub async fn outbox_sent(
        &self,
        sent: &[(i64, i32, String)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if sent.is_empty() {
            return Ok(0);
        }
        let together = match self {
            Store::Postgres(s) => pg::sent(s.write(), sent, now).await,
            Store::Sqlite(_) => self.sent_in_one_transaction(sent, now).await,
        };
        match together {
            Err(StoreError::Database(err)) if is_unique_violation(&err) => {
                self.sent_one_by_one(sent, now).await
            }
            other => other,
        }
    }

    async fn sent_in_one_transaction(
        &self,
        sent: &[(i64, i32, String)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut settled = 0;
        for (id, attempt, wamid) in sent {
            settled += tx.sent(*id, *attempt, Ok(wamid), now).await?;
        }
        tx.commit().await?;
        Ok(settled)
    }

    async fn sent_one_by_one(
        &self,
        sent: &[(i64, i32, String)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut settled = 0;
        let mut taken = Vec::new();
        for (id, attempt, wamid) in sent {
            let mut tx = self.begin().await?;
            let done = match tx.sent(*id, *attempt, Ok(wamid), now).await {
                Err(StoreError::Database(err)) if is_unique_violation(&err) => {
                    // The failed statement spoiled that transaction on Postgres: a new one.
                    drop(tx);
                    tx = self.begin().await?;
                    taken.push((*id, wamid.as_str()));
                    let reason = format!(
                        "Meta answered wamid {wamid}, which another message already has: \
                         sent, but its delivery statuses cannot be told apart"
                    );
                    tx.sent(*id, *attempt, Err(&reason), now).await?
                }
                other => other?,
            };
            tx.commit().await?;
            settled += done;
        }
        if !taken.is_empty() {
            tracing::error!(
                messages = ?taken,
                "Meta answered message ids that other messages already have: these messages are \
                 recorded as sent without them"
            );
        }
        Ok(settled)
    }

    /// Records that the customer wrote at `at` (the 24-hour window opens again), and releases the
    /// messages that were waiting for it. Returns how many were released.
    pub async fn record_customer_message(
        &self,
        conversation_key: &str,
        business_id: &str,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let message = CustomerMessage {
            conversation_key: conversation_key.to_owned(),
            business_id: business_id.to_owned(),
            at,
        };
        self.record_customer_messages(&[message], now).await
    }

    /// The same for a batch of messages, in one transaction: the inbox worker records every message
    /// of a claimed batch at once, so that a busy salon costs one commit per batch, not per message.
    pub async fn record_customer_messages(
        &self,
        messages: &[CustomerMessage],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // One row per conversation, with its latest message.
        let mut latest: BTreeMap<&str, (&str, DateTime<Utc>)> = BTreeMap::new();
        for m in messages {
            let entry = latest
                .entry(m.conversation_key.as_str())
                .or_insert((m.business_id.as_str(), m.at));
            entry.1 = entry.1.max(m.at);
        }
        if latest.is_empty() {
            return Ok(0);
        }
        let rows: Vec<(&str, &str, DateTime<Utc>)> =
            latest.into_iter().map(|(k, (b, at))| (k, b, at)).collect();
        match self {
            Store::Postgres(s) => pg::customer_messages(s.lazy(), &rows, now).await,
            Store::Sqlite(s) => lite::customer_messages(s.lazy(), &rows, now).await,
        }
    }

    /// Parks a claimed message until the customer writes again (outside the 24-hour window), and stores
    /// the re-engagement template to send instead, if one is configured, in the same transaction.
    pub async fn park_outbox(
        &self,
        id: i64,
        attempt: i32,
        reason: &str,
        template: Option<&NewOutbound>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.park(Target::Claim(id, attempt), reason, template, now)
            .await
    }

    /// Parks an already sent message that Meta later reported undelivered for the 24-hour window
    /// (a `failed` status with 131047), with the template to send instead. `false` if no such message.
    pub async fn park_sent_outbox(
        &self,
        wamid: &str,
        reason: &str,
        template: Option<&NewOutbound>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.park(Target::Wamid(wamid), reason, template, now).await
    }

    /// Parks the message `target` names, then stores `template` if it parked one.
    async fn park(
        &self,
        target: Target<'_>,
        reason: &str,
        template: Option<&NewOutbound>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let parked = on!(Tx, &mut tx, |tx| {
            let query = match target {
                Target::Claim(id, attempt) => sqlx::query(
                    "UPDATE outbox SET status = 'waiting', last_error = $1, error_code = 131047, \
                         status_at = $2 \
                     WHERE id = $3 AND attempts = $4 AND status = 'sending'",
                )
                .bind(reason)
                .bind(Time(now))
                .bind(id)
                .bind(attempt),
                Target::Wamid(wamid) => sqlx::query(
                    "UPDATE outbox SET status = 'waiting', last_error = $1, error_code = 131047, \
                         status_at = $2 \
                     WHERE wamid = $3 AND status IN ('sent', 'delivered', 'failed')",
                )
                .bind(reason)
                .bind(Time(now))
                .bind(wamid),
            };
            query.execute(&mut **tx).await?.rows_affected()
        });
        if let (1, Some(t)) = (parked, template) {
            tx.enqueue(std::slice::from_ref(t)).await?;
        }
        tx.commit().await?;
        Ok(parked == 1)
    }

    /// One outbound message by its `wamid`.
    pub async fn outbox_by_wamid(&self, wamid: &str) -> Result<Option<Outbound>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE wamid = $1");
        let row: Option<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(wamid)
            .fetch_optional(s.read())
            .await?);
        row.map(Outbound::try_from).transpose()
    }

    /// Applies a delivery status from Meta (`sent`, `delivered`, `read`, `failed`) to the message with
    /// this `wamid`. Statuses only move forward (sent < delivered < failed < read), since Meta's
    /// webhooks can arrive out of order. `None` when no message has that `wamid`.
    pub async fn apply_delivery_status(
        &self,
        wamid: &str,
        status: OutboundStatus,
        error: Option<&str>,
        code: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let one = DeliveryStatus {
            wamid: wamid.to_owned(),
            status,
            error: error.map(str::to_owned),
            code,
        };
        let mut applied = self.apply_delivery_statuses(&[one], at).await?;
        Ok(applied.pop().flatten())
    }

    /// The same for a batch of statuses (of different messages), in one transaction; one answer per
    /// status, in order.
    pub async fn apply_delivery_statuses(
        &self,
        statuses: &[DeliveryStatus],
        at: DateTime<Utc>,
    ) -> Result<Vec<Option<bool>>, StoreError> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Store::Postgres(s) => pg::deliveries(s.write(), statuses, at).await,
            Store::Sqlite(s) => lite::deliveries(s.write(), statuses, at).await,
        }
    }

    /// Messages to one recipient, oldest first.
    pub async fn outbox_for_recipient(&self, recipient: &str) -> Result<Vec<Outbound>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE recipient = $1 ORDER BY id");
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(recipient)
            .fetch_all(s.read())
            .await?);
        rows.into_iter().map(Outbound::try_from).collect()
    }

    /// The newest messages, of one conversation or of all, newest first: what the bot sent or would send.
    pub async fn recent_outbox(
        &self,
        conversation_key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Outbound>, StoreError> {
        let filter = match conversation_key {
            Some(_) => "WHERE conversation_key = $2",
            None => "",
        };
        let sql = format!("SELECT {COLUMNS} FROM outbox {filter} ORDER BY id DESC LIMIT $1");
        let rows: Vec<Row> = on!(Store, self, |s| {
            let query = sqlx::query_as(&sql).bind(i64::from(limit));
            match conversation_key {
                Some(key) => query.bind(key),
                None => query,
            }
            .fetch_all(s.read())
            .await?
        });
        rows.into_iter().map(Outbound::try_from).collect()
    }

    /// Retention of the outbox: of the `window` messages after `after_id` (oldest first), removes
    /// those written before `before` that are settled (sent, delivered, read, failed, dead). Messages
    /// still to send, or waiting for the customer's window, stay. One short transaction per round.
    pub async fn prune_outbox(
        &self,
        after_id: i64,
        window: u32,
        before: DateTime<Utc>,
    ) -> Result<super::inbox::Pruned, StoreError> {
        let mut tx = self.begin().await?;
        let Some(last) = tx
            .window_end("outbox", "created_at", after_id, window, before)
            .await?
        else {
            return Ok(super::inbox::Pruned {
                removed: 0,
                next: None,
            });
        };
        let removed = tx
            .prune_step(
                "DELETE FROM outbox WHERE id > $1 AND id <= $2 AND created_at < $3 \
                 AND status IN ('sent', 'delivered', 'read', 'failed', 'dead')",
                after_id,
                last.id,
                before,
            )
            .await?;
        tx.commit().await?;
        Ok(super::inbox::Pruned {
            removed,
            next: last.more.then_some(last.id),
        })
    }

    /// Messages not yet handed to Meta (pending or being sent).
    pub async fn count_outbox_pending(&self) -> Result<i64, StoreError> {
        // Postgres counts them by its generated, indexed `queue` column; SQLite by `status`.
        let open = match self {
            Store::Postgres(_) => "queue = 'open'",
            Store::Sqlite(_) => "status IN ('pending', 'sending')",
        };
        let sql = format!("SELECT count(*) FROM outbox WHERE {open}");
        let (n,): (i64,) = on!(Store, self, |s| sqlx::query_as(&sql)
            .fetch_one(s.read())
            .await?);
        Ok(n)
    }
}

impl Tx<'_> {
    /// Stores messages for sending inside this transaction; returns how many were new.
    pub(super) async fn enqueue(&mut self, messages: &[NewOutbound]) -> Result<u64, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        match self {
            Tx::Postgres(tx) => pg::enqueue(tx, messages).await,
            Tx::Sqlite(tx) => lite::enqueue(tx, messages).await,
        }
    }

    /// Records a claimed call of another provider than WhatsApp as made (it has no `wamid`, and
    /// no delivery statuses follow); `false` when the claim was lost.
    pub(super) async fn call_sent(
        &mut self,
        (id, attempt): (i64, i32),
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on!(Tx, self, |tx| {
            sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $3, status_at = $3, last_error = NULL, \
                 error_code = NULL \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected()
        });
        Ok(done == 1)
    }

    /// Records a claimed call given up: `dead` after the retry budget, else `failed`; `false` when
    /// the claim was lost.
    pub(super) async fn call_failed(
        &mut self,
        (id, attempt): (i64, i32),
        error: &str,
        dead: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on!(Tx, self, |tx| sqlx::query(
            "UPDATE outbox SET status = $3, last_error = $4, status_at = $5 \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(if dead { "dead" } else { "failed" })
        .bind(error)
        .bind(Time(now))
        .execute(&mut **tx)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Records one claimed message as accepted by Meta, with its `wamid`, or without one and the
    /// reason why; 1 if its claim held, else 0.
    async fn sent(
        &mut self,
        id: i64,
        attempt: i32,
        wamid: Result<&str, &str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (wamid, note) = match wamid {
            Ok(wamid) => (Some(wamid), None),
            Err(reason) => (None, Some(reason)),
        };
        Ok(on!(Tx, self, |tx| sqlx::query(
            "UPDATE outbox SET status = 'sent', wamid = $3, sent_at = $4, status_at = $4, \
                 last_error = $5, error_code = NULL \
             WHERE id = $1 AND attempts = $2 AND status = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(wamid)
        .bind(Time(now))
        .bind(note)
        .execute(&mut **tx)
        .await?
        .rows_affected()))
    }
}

/// The database refused a value that must be unique (a `wamid` another message has).
fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Which message to park: a claimed one, or a sent one by its `wamid`.
#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    Claim(i64, i32),
    Wamid(&'a str),
}

/// Rank of a status for delivery updates: a status only replaces a lower one.
fn rank(col: &str) -> String {
    format!(
        "CASE {col} WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'failed' THEN 3 \
         WHEN 'read' THEN 4 ELSE 0 END"
    )
}

const COLUMNS: &str = "id, idempotency_key, provider, business_id, conversation_key, recipient, kind, payload, \
     status, attempts, next_attempt_at, last_error, error_code, wamid, created_at, \
     (SELECT c.last_inbound_at FROM conversations c \
      WHERE c.conversation_key = outbox.conversation_key) AS last_inbound_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    idempotency_key: String,
    provider: String,
    business_id: String,
    conversation_key: String,
    recipient: String,
    kind: String,
    payload: Json<Value>,
    status: String,
    attempts: i32,
    next_attempt_at: Time,
    last_error: Option<String>,
    error_code: Option<i64>,
    wamid: Option<String>,
    created_at: Time,
    last_inbound_at: Option<Time>,
}

impl super::Claimed for Row {
    fn id(&self) -> i64 {
        self.id
    }
}

impl TryFrom<Row> for Outbound {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(Outbound {
            id: r.id,
            idempotency_key: r.idempotency_key,
            provider: named(Provider::parse, "provider", &r.provider)?,
            business_id: r.business_id,
            conversation_key: r.conversation_key,
            recipient: r.recipient,
            kind: r.kind,
            payload: r.payload.0,
            status: OutboundStatus::parse(&r.status)?,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.0,
            last_error: r.last_error,
            error_code: r.error_code,
            wamid: r.wamid,
            created_at: r.created_at.0,
            last_inbound_at: r.last_inbound_at.map(|t| t.0),
        })
    }
}

mod pg {
    use super::*;
    use sqlx::PgPool;

    pub(super) async fn enqueue(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        messages: &[NewOutbound],
    ) -> Result<u64, StoreError> {
        let mut keys = Vec::new();
        let mut providers = Vec::new();
        let mut businesses = Vec::new();
        let mut conversations = Vec::new();
        let mut recipients = Vec::new();
        let mut kinds = Vec::new();
        let mut payloads = Vec::new();
        let mut created = Vec::new();
        for m in messages {
            keys.push(m.idempotency_key.as_str());
            providers.push(m.provider.as_str());
            businesses.push(m.business_id.as_str());
            conversations.push(m.conversation_key.as_str());
            recipients.push(m.recipient.as_str());
            kinds.push(m.kind.as_str());
            payloads.push(m.payload.to_string());
            created.push(m.created_at);
        }
        let done = sqlx::query(
            "INSERT INTO outbox (idempotency_key, business_id, conversation_key, recipient, kind, \
                 payload, next_attempt_at, created_at, provider) \
             SELECT k, b, c, r, t, p::jsonb, at, at, pr \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::timestamptz[], $8::text[]) AS m(k, b, c, r, t, p, at, pr) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&keys)
        .bind(&businesses)
        .bind(&conversations)
        .bind(&recipients)
        .bind(&kinds)
        .bind(&payloads)
        .bind(&created)
        .bind(&providers)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Each recipient's oldest open message (`due_heads`), locked and checked again, skipping those
    /// another dispatcher holds.
    pub(super) fn claim() -> String {
        format!(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN ( \
                 SELECT o.id FROM outbox o \
                 WHERE o.id IN ({heads}) \
                   AND o.status IN ('pending', 'sending') AND o.next_attempt_at <= $1 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}",
            heads = crate::store::postgres::due_heads("outbox", "recipient"),
        )
    }

    pub(super) async fn sent(
        pool: &PgPool,
        sent: &[(i64, i32, String)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let ids: Vec<i64> = sent.iter().map(|s| s.0).collect();
        let attempts: Vec<i32> = sent.iter().map(|s| s.1).collect();
        let wamids: Vec<&str> = sent.iter().map(|s| s.2.as_str()).collect();
        let done = sqlx::query(
            "UPDATE outbox SET status = 'sent', wamid = s.wamid, sent_at = $4, status_at = $4, \
                 last_error = NULL, error_code = NULL \
             FROM UNNEST($1::bigint[], $2::int[], $3::text[]) AS s(id, attempt, wamid) \
             WHERE outbox.id = s.id AND outbox.attempts = s.attempt AND outbox.status = 'sending'",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(&wamids)
        .bind(now)
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn deliveries(
        pool: &PgPool,
        statuses: &[DeliveryStatus],
        at: DateTime<Utc>,
    ) -> Result<Vec<Option<bool>>, StoreError> {
        let wamids: Vec<&str> = statuses.iter().map(|d| d.wamid.as_str()).collect();
        let names: Vec<&str> = statuses.iter().map(|d| d.status.as_str()).collect();
        let errors: Vec<Option<&str>> = statuses.iter().map(|d| d.error.as_deref()).collect();
        let codes: Vec<Option<i64>> = statuses.iter().map(|d| d.code).collect();
        let sql = format!(
            "WITH input AS ( \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) \
                     WITH ORDINALITY AS i(wamid, status, error, code, n)), \
             updated AS ( \
                 UPDATE outbox SET status = i.status, status_at = $5, \
                     last_error = COALESCE(i.error, outbox.last_error), \
                     error_code = COALESCE(i.code, outbox.error_code) \
                 FROM input i WHERE outbox.wamid = i.wamid AND {} < {} \
                 RETURNING outbox.wamid) \
             SELECT EXISTS (SELECT 1 FROM outbox o WHERE o.wamid = i.wamid), \
                    EXISTS (SELECT 1 FROM updated u WHERE u.wamid = i.wamid) \
             FROM input i ORDER BY i.n",
            rank("outbox.status"),
            rank("i.status")
        );
        let rows: Vec<(bool, bool)> = sqlx::query_as(&sql)
            .bind(&wamids)
            .bind(&names)
            .bind(&errors)
            .bind(&codes)
            .bind(at)
            .fetch_all(pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(found, updated)| found.then_some(updated))
            .collect())
    }

    pub(super) async fn customer_messages(
        pool: &PgPool,
        rows: &[(&str, &str, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let keys: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let businesses: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.2).collect();
        // One statement (and so one round trip, committed on its own without waiting for the disk:
        // the turn or the settling of the event that follows is a durable commit, which flushes this
        // one too; if neither happens, the event is handled again and records it again): the
        // conversations' last message recorded, and their messages waiting for it released.
        let released = sqlx::query(
            "WITH seen AS ( \
                 INSERT INTO conversations (conversation_key, business_id, last_inbound_at, created_at, updated_at) \
                 SELECT k, b, a, $4, $4 FROM UNNEST($1::text[], $2::text[], $3::timestamptz[]) AS t(k, b, a) \
                 ON CONFLICT (conversation_key) DO UPDATE SET \
                     last_inbound_at = GREATEST(conversations.last_inbound_at, EXCLUDED.last_inbound_at), \
                     updated_at = EXCLUDED.updated_at) \
             UPDATE outbox SET status = 'pending', next_attempt_at = $4 \
             WHERE conversation_key = ANY($1) AND queue = 'waiting'",
        )
        .bind(&keys)
        .bind(&businesses)
        .bind(&times)
        .bind(now)
        .execute(pool)
        .await?;
        Ok(released.rows_affected())
    }
}

mod lite {
    use super::*;
    use sqlx::SqlitePool;

    pub(super) async fn enqueue(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        messages: &[NewOutbound],
    ) -> Result<u64, StoreError> {
        let mut new = 0;
        for m in messages {
            let done = sqlx::query(
                "INSERT INTO outbox (idempotency_key, business_id, conversation_key, recipient, kind, \
                     payload, next_attempt_at, created_at, provider) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&m.idempotency_key)
            .bind(&m.business_id)
            .bind(&m.conversation_key)
            .bind(&m.recipient)
            .bind(&m.kind)
            .bind(Json(&m.payload))
            .bind(Time(m.created_at))
            .bind(m.provider.as_str())
            .execute(&mut **tx)
            .await?;
            new += done.rows_affected();
        }
        Ok(new)
    }

    /// Candidates: due open rows that are the oldest open row of their recipient.
    pub(super) fn claim() -> String {
        format!(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN ( \
                 SELECT e.id FROM outbox e \
                 WHERE e.status IN ('pending', 'sending') AND e.next_attempt_at <= $1 \
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.recipient = e.recipient \
                                   AND o.status IN ('pending', 'sending') AND o.id < e.id) \
                 ORDER BY e.id LIMIT $3) \
             RETURNING {COLUMNS}"
        )
    }

    pub(super) async fn deliveries(
        pool: &SqlitePool,
        statuses: &[DeliveryStatus],
        at: DateTime<Utc>,
    ) -> Result<Vec<Option<bool>>, StoreError> {
        let sql = format!(
            "UPDATE outbox SET status = $2, status_at = $5, last_error = COALESCE($3, last_error), \
                 error_code = COALESCE($4, error_code) \
             WHERE wamid = $1 AND {} < {}",
            rank("status"),
            rank("$2")
        );
        let mut tx = pool.begin().await?;
        let mut applied = Vec::with_capacity(statuses.len());
        for d in statuses {
            let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM outbox WHERE wamid = $1")
                .bind(&d.wamid)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                applied.push(None);
                continue;
            }
            let done = sqlx::query(&sql)
                .bind(&d.wamid)
                .bind(d.status.as_str())
                .bind(&d.error)
                .bind(d.code)
                .bind(Time(at))
                .execute(&mut *tx)
                .await?;
            applied.push(Some(done.rows_affected() == 1));
        }
        tx.commit().await?;
        Ok(applied)
    }

    pub(super) async fn customer_messages(
        pool: &SqlitePool,
        rows: &[(&str, &str, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = pool.begin().await?;
        let mut released = 0;
        for (key, business_id, at) in rows {
            sqlx::query(
                "INSERT INTO conversations (conversation_key, business_id, last_inbound_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (conversation_key) DO UPDATE SET \
                     last_inbound_at = MAX(COALESCE(conversations.last_inbound_at, 0), excluded.last_inbound_at), \
                     updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(business_id)
            .bind(Time(*at))
            .bind(Time(now))
            .execute(&mut *tx)
            .await?;
            released += sqlx::query(
                "UPDATE outbox SET status = 'pending', next_attempt_at = $2 \
                 WHERE conversation_key = $1 AND status = 'waiting'",
            )
            .bind(key)
            .bind(Time(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(released)
    }
}
