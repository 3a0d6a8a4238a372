//! What the salon's pages and the operator API read and change: listings across the tables
//! (customers' messages, conversations, the webhook log, dead letters; a day's appointments are
//! `appointments.rs`'s), the counts of the stats page, and the operators' own changes (replay,
//! retry, discard).
//!
//! Each listing has an index for each of its filters (migrations 0016 and 0017); the filters are
//! bound, never spliced. A customer's message, whatever its channel, is an inbox event with a
//! sender (`message_from`: a phone's digits without `+`, or `user:<id>`) and, for words, their text
//! folded to lower case (`message_text`), both written by ingress (`event::Said`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreError, Time};

/// Filters of the messages listing; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    /// The sender's digits (E.164 without `+`).
    pub from_digits: Option<String>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the text.
    pub text: Option<String>,
    pub limit: u32,
    pub offset: u64,
}

/// A customer's message as the listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedMessage {
    pub id: i64,
    pub conversation_key: String,
    pub received_at: DateTime<Utc>,
    pub status: String,
    /// The stored payload (`metadata`, `contact`, `message`).
    pub payload: Value,
}

/// One page of a listing and the number of rows matching its filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
}

/// A conversation as the conversations page lists it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ListedConversation {
    pub conversation_key: String,
    pub business_id: String,
    pub language: Option<String>,
    pub human: bool,
    pub state: Option<Json<Value>>,
    last_inbound: Option<Time>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
    pub turns: i64,
}

impl ListedConversation {
    /// When the customer last wrote (the start of WhatsApp's 24-hour window).
    pub fn last_inbound_at(&self) -> Option<DateTime<Utc>> {
        self.last_inbound.map(|t| t.0)
    }
}

impl From<Time> for DateTime<Utc> {
    fn from(t: Time) -> Self {
        t.0
    }
}

/// Filters of the webhook log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub provider: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: u32,
    pub offset: u64,
}

/// One webhook request of the log.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LoggedWebhook {
    pub id: i64,
    pub provider: String,
    pub outcome: String,
    pub status_code: i32,
    pub body_bytes: i64,
    pub remote_addr: Option<String>,
    pub latency_us: i64,
    pub events_new: i32,
    pub events_duplicate: i32,
    #[sqlx(try_from = "Time")]
    pub received_at: DateTime<Utc>,
}

/// A provider's webhook requests since a time, and how many were refused.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProviderCount {
    pub provider: String,
    pub total: i64,
    pub errors: i64,
}

/// The numbers of the stats page and `/api/stats`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    pub messages: i64,
    pub customers: i64,
    /// Senders' digits and their message counts, most first.
    pub top_senders: Vec<(String, i64)>,
    pub first_message_at: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub outbound: i64,
    pub conversations: i64,
    pub bookings_by_status: Vec<(String, i64)>,
    /// `(provider, outcome, count)`.
    pub webhooks: Vec<(String, String, i64)>,
    /// Messages per day (UTC date, count), oldest first, over the days asked for.
    pub messages_per_day: Vec<(chrono::NaiveDate, i64)>,
    pub deposits_paid_minor: i64,
    pub deposits_refunded_minor: i64,
    /// The median time from a customer's message to the turn that answered it (its replies are
    /// written in the same commit), over the last 1,000 handled messages; `None` before any.
    pub median_answer_ms: Option<i64>,
}

/// A dead outbox row, as the dead-letters page shows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeadOutbound {
    pub id: i64,
    pub provider: String,
    pub conversation_key: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

/// Deposits taken (paid) and refunded, in minor units.
const DEPOSITS: &str = "SELECT CAST(sum(CASE WHEN status = 'paid' THEN amount_minor ELSE 0 END) AS BIGINT), \
     CAST(sum(amount_refunded) AS BIGINT) FROM payments";

/// A LIKE pattern matching any text that contains `text`, its `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A value to bind, in the order the placeholders were numbered.
enum Bind {
    Text(String),
    Time(Time),
}

/// Numbers placeholders as conditions are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    fn add(&mut self, condition: impl FnOnce(usize) -> String, value: Bind) {
        self.binds.push(value);
        self.sql.push(condition(self.binds.len()));
    }

    fn and(&self, first: &str) -> String {
        let mut all = vec![first.to_owned()];
        all.extend(self.sql.iter().cloned());
        all.join(" AND ")
    }

    fn next(&self) -> usize {
        self.binds.len() + 1
    }
}

macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Time(time) => query.bind(*time),
            };
        }
        query
    }};
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    conversation_key: String,
    received_at: Time,
    status: String,
    payload: Json<Value>,
}

impl From<MessageRow> for ListedMessage {
    fn from(r: MessageRow) -> Self {
        Self {
            id: r.id,
            conversation_key: r.conversation_key,
            received_at: r.received_at.0,
            status: r.status,
            payload: r.payload.0,
        }
    }
}

impl Store {
    /// Customers' messages matching `filter`, in time order (then id), and how many match.
    pub async fn list_messages(
        &self,
        filter: &MessageFilter,
    ) -> Result<Page<ListedMessage>, StoreError> {
        let mut c = Conditions::default();
        if let Some(digits) = &filter.from_digits {
            c.add(
                |n| format!("message_from = ${n}"),
                Bind::Text(digits.clone()),
            );
        }
        if let Some(since) = filter.since {
            c.add(|n| format!("received_at >= ${n}"), Bind::Time(Time(since)));
        }
        if let Some(text) = &filter.text {
            // The stored text is folded to lower case; on Postgres an index holds the texts, so
            // that LIKE reads it rather than the table.
            c.add(
                |n| format!("message_text LIKE ${n} ESCAPE '\\'"),
                Bind::Text(contains_pattern(&text.to_lowercase())),
            );
        }
        let filters = c.and("message_from IS NOT NULL");
        let (limit, offset) = (c.next(), c.next() + 1);
        let list = format!(
            "SELECT id, conversation_key, received_at, status, payload FROM inbox_events \
             WHERE {filters} ORDER BY received_at, id LIMIT ${limit} OFFSET ${offset}"
        );
        let count = format!("SELECT count(*) FROM inbox_events WHERE {filters}");
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        let (rows, (total,)): (Vec<MessageRow>, (i64,)) = on!(Store, self, |s| {
            let rows = bind_all!(sqlx::query_as(&list), &c.binds)
                .bind(i64::from(filter.limit))
                .bind(offset)
                .fetch_all(s.read())
                .await?;
            let total = bind_all!(sqlx::query_as(&count), &c.binds)
                .fetch_one(s.read())
                .await?;
            (rows, total)
        });
        Ok(Page {
            rows: rows.into_iter().map(ListedMessage::from).collect(),
            total,
        })
    }

    /// Conversations, the most recently active first.
    pub async fn list_conversations(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Page<ListedConversation>, StoreError> {
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let (rows, (total,)) = on!(Store, self, |s| {
            let rows = sqlx::query_as(
                "SELECT conversation_key, business_id, language, human, state, last_inbound_at AS last_inbound, \
                     updated_at, turns \
                 FROM conversations ORDER BY updated_at DESC, conversation_key LIMIT $1 OFFSET $2",
            )
            .bind(i64::from(limit))
            .bind(offset)
            .fetch_all(s.read())
            .await?;
            let total: (i64,) = sqlx::query_as("SELECT count(*) FROM conversations")
                .fetch_one(s.read())
                .await?;
            (rows, total)
        });
        Ok(Page { rows, total })
    }

    /// One conversation, as listed.
    pub async fn listed_conversation(
        &self,
        conversation_key: &str,
    ) -> Result<Option<ListedConversation>, StoreError> {
        Ok(on!(Store, self, |s| {
            sqlx::query_as(
            "SELECT conversation_key, business_id, language, human, state, last_inbound_at AS last_inbound, \
                 updated_at, turns \
             FROM conversations WHERE conversation_key = $1",
        )
        .bind(conversation_key)
        .fetch_optional(s.read())
        .await?
        }))
    }

    /// The newest message of a sender (as stored beside it: a phone's digits, or `user:<id>`), for
    /// the conversations list and the day view's names.
    pub async fn last_message_of(&self, sender: &str) -> Result<Option<ListedMessage>, StoreError> {
        let row: Option<MessageRow> = on!(Store, self, |s| sqlx::query_as(
            "SELECT id, conversation_key, received_at, status, payload FROM inbox_events \
             WHERE message_from = $1 ORDER BY received_at DESC, id DESC LIMIT 1"
        )
        .bind(sender)
        .fetch_optional(s.read())
        .await?);
        Ok(row.map(ListedMessage::from))
    }

    /// The webhook log, newest first.
    pub async fn list_webhooks(
        &self,
        filter: &AuditFilter,
    ) -> Result<Page<LoggedWebhook>, StoreError> {
        let mut c = Conditions::default();
        if let Some(provider) = &filter.provider {
            c.add(|n| format!("provider = ${n}"), Bind::Text(provider.clone()));
        }
        if let Some(outcome) = &filter.outcome {
            c.add(|n| format!("outcome = ${n}"), Bind::Text(outcome.clone()));
        }
        if let Some(since) = filter.since {
            c.add(|n| format!("received_at >= ${n}"), Bind::Time(Time(since)));
        }
        let filters = c.and("1 = 1");
        let (limit, offset) = (c.next(), c.next() + 1);
        let list = format!(
            "SELECT id, provider, outcome, status_code, body_bytes, remote_addr, latency_us, \
                 events_new, events_duplicate, received_at \
             FROM webhook_audit WHERE {filters} ORDER BY received_at DESC, id DESC \
             LIMIT ${limit} OFFSET ${offset}"
        );
        let count = format!("SELECT count(*) FROM webhook_audit WHERE {filters}");
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        let (rows, (total,)) = on!(Store, self, |s| {
            let rows = bind_all!(sqlx::query_as(&list), &c.binds)
                .bind(i64::from(filter.limit))
                .bind(offset)
                .fetch_all(s.read())
                .await?;
            let total: (i64,) = bind_all!(sqlx::query_as(&count), &c.binds)
                .fetch_one(s.read())
                .await?;
            (rows, total)
        });
        Ok(Page { rows, total })
    }

    /// Per provider, the webhook requests since `since` and how many were refused (anything but
    /// accepted, duplicate or ignored).
    pub async fn webhook_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<ProviderCount>, StoreError> {
        Ok(on!(Store, self, |s| sqlx::query_as(
            "SELECT provider, count(*) AS total, \
                 sum(CASE WHEN outcome IN ('accepted', 'duplicate', 'ignored') THEN 0 ELSE 1 END) \
                     AS errors \
             FROM webhook_audit WHERE received_at >= $1 GROUP BY provider ORDER BY provider",
        )
        .bind(Time(since))
        .fetch_all(s.read())
        .await?))
    }

    /// The numbers of the stats page; messages per day over the `days` days up to `now`.
    pub async fn totals(&self, now: DateTime<Utc>, days: u32) -> Result<Totals, StoreError> {
        let summary = "SELECT count(*), count(DISTINCT message_from), min(received_at), max(received_at) \
             FROM inbox_events WHERE message_from IS NOT NULL";
        let top = "SELECT message_from AS sender, count(*) AS n FROM inbox_events \
             WHERE message_from IS NOT NULL \
             GROUP BY message_from ORDER BY n DESC, sender LIMIT 5";
        let since = now - chrono::Duration::days(i64::from(days));
        let summary: (i64, i64, Option<Time>, Option<Time>) =
            on!(Store, self, |s| sqlx::query_as(summary)
                .fetch_one(s.read())
                .await?);
        let top: Vec<(String, i64)> = on!(Store, self, |s| sqlx::query_as(top)
            .fetch_all(s.read())
            .await?);
        let outbound: (i64,) = on!(Store, self, |s| sqlx::query_as(
            "SELECT count(*) FROM outbox WHERE provider = 'whatsapp'"
        )
        .fetch_one(s.read())
        .await?);
        let conversations: (i64,) = on!(Store, self, |s| sqlx::query_as(
            "SELECT count(*) FROM conversations"
        )
        .fetch_one(s.read())
        .await?);
        let bookings: Vec<(String, i64)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT status, count(*) FROM appointments GROUP BY status ORDER BY status",
        )
        .fetch_all(s.read())
        .await?);
        let webhooks: Vec<(String, String, i64)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT provider, outcome, count(*) FROM webhook_audit \
             GROUP BY provider, outcome ORDER BY provider, outcome",
        )
        .fetch_all(s.read())
        .await?);
        // Counted per UTC day by the database: the rows themselves never leave it.
        let utc_day = match self {
            Store::Postgres(_) => "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            Store::Sqlite(_) => "date(received_at / 1000, 'unixepoch')",
        };
        let recent = format!(
            "SELECT {utc_day} AS day, count(*) FROM inbox_events \
             WHERE message_from IS NOT NULL AND received_at >= $1 GROUP BY 1"
        );
        let recent: Vec<(String, i64)> = on!(Store, self, |s| sqlx::query_as(&recent)
            .bind(Time(since))
            .fetch_all(s.read())
            .await?);
        let money: (Option<i64>, Option<i64>) = on!(Store, self, |s| sqlx::query_as(DEPOSITS)
            .fetch_one(s.read())
            .await?);
        let answered: Vec<(Time, Option<Time>)> = on!(Store, self, |s| sqlx::query_as(
            "SELECT received_at, processed_at FROM inbox_events \
             WHERE message_from IS NOT NULL ORDER BY received_at DESC, id DESC LIMIT 1000",
        )
        .fetch_all(s.read())
        .await?);
        let mut waits: Vec<i64> = answered
            .into_iter()
            .filter_map(|(at, done)| Some((done?.0 - at.0).num_milliseconds()))
            .filter(|ms| *ms >= 0)
            .collect();
        waits.sort_unstable();
        let median_answer_ms = waits.get(waits.len() / 2).copied();
        let first_day = since.date_naive();
        let mut per_day: Vec<(chrono::NaiveDate, i64)> = (1..=days)
            .map(|d| (first_day + chrono::Duration::days(i64::from(d)), 0))
            .collect();
        for (day, n) in recent {
            let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok();
            if let Some(slot) = per_day.iter_mut().find(|(d, _)| Some(*d) == day) {
                slot.1 = n;
            }
        }
        Ok(Totals {
            messages: summary.0,
            customers: summary.1,
            top_senders: top,
            first_message_at: summary.2.map(|t| t.0),
            last_message_at: summary.3.map(|t| t.0),
            outbound: outbound.0,
            conversations: conversations.0,
            bookings_by_status: bookings,
            webhooks,
            messages_per_day: per_day,
            deposits_paid_minor: money.0.unwrap_or(0),
            deposits_refunded_minor: money.1.unwrap_or(0),
            median_answer_ms,
        })
    }

    /// Outbox rows that gave up after their retry budget, newest first.
    pub async fn dead_outbox(&self, limit: u32) -> Result<Vec<DeadOutbound>, StoreError> {
        Ok(on!(Store, self, |s| sqlx::query_as(
            "SELECT id, provider, conversation_key, kind, attempts, last_error, created_at \
             FROM outbox WHERE status = 'dead' ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(s.read())
        .await?))
    }

    /// Sends a dead outbox row again, with a fresh retry budget; `false` if it was not dead.
    pub async fn retry_outbox(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = on!(Store, self, |s| sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2 \
             WHERE id = $1 AND status = 'dead'",
        )
        .bind(id)
        .bind(Time(now))
        .execute(s.write())
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Gives a dead outbox row up for good (`failed`, its error kept after the note); `false` if it
    /// was not dead.
    pub async fn discard_outbox(&self, id: i64) -> Result<bool, StoreError> {
        let done = on!(Store, self, |s| sqlx::query(
            "UPDATE outbox SET status = 'failed', \
                 last_error = 'discarded by an operator: ' || COALESCE(last_error, '') \
             WHERE id = $1 AND status = 'dead'",
        )
        .bind(id)
        .execute(s.write())
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Settles a dead inbox event without handling it (`done`, its error kept after the note), so
    /// that it stays the dedup authority of its provider id; `false` if it was not dead.
    pub async fn discard_inbox(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = on!(Store, self, |s| sqlx::query(
            "UPDATE inbox_events SET status = 'done', processed_at = $2, \
                 last_error = 'discarded by an operator: ' || COALESCE(last_error, '') \
             WHERE id = $1 AND status = 'dead'",
        )
        .bind(id)
        .bind(Time(now))
        .execute(s.write())
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Puts any settled event (handled, failed or dead) back in its lane with a fresh retry budget;
    /// `false` if there is no such event or it is waiting or being handled already. A turn applies
    /// an event to its conversation once, so a handled message replayed is settled again without
    /// answering twice.
    pub async fn replay_event(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.put_back_inbox(id, now, "('done', 'failed', 'dead')")
            .await
    }
}
