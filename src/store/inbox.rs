//! The inbox: every event a provider sent (or a timer fired), stored before it is acknowledged, then
//! claimed by a worker lane by lane and settled.
//!
//! A conversation's events are its lane: a worker claims only the oldest open event of a lane, and
//! only when no other worker holds one of it, so one conversation runs in order while many run in
//! parallel. `attempts` counts the claims and is the fencing token of the current one: an event is
//! settled only by the worker whose claim still holds.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{
    EventKind, InboxEvent, InboxStatus, NewInboxEvent, Provider, RawJson, Store, StoreError, Time,
    Tx, named,
};

/// Columns of an inbox event as every query below selects them.
const COLUMNS: &str = "id, provider, provider_event_id, business_id, conversation_key, kind, \
     payload, received_at, status, attempts, last_error, next_attempt_at";

/// Stores one event unless its `(provider, provider_event_id)` is stored already, or was and has been
/// removed by retention (`inbox_seen`).
pub(super) const INSERT: &str = "INSERT INTO inbox_events (provider, provider_event_id, business_id, \
         conversation_key, kind, payload, received_at, next_attempt_at, message_from, message_text) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $7, $8, $9 \
     WHERE NOT EXISTS (SELECT 1 FROM inbox_seen WHERE provider = $1 AND provider_event_id = $2) \
     ON CONFLICT (provider, provider_event_id) DO NOTHING";

/// Marks event `$1` done, only while the claim `$2` holds.
pub(super) const MARK_DONE: &str = "UPDATE inbox_events SET status = 'done', processed_at = $3, last_error = NULL \
     WHERE id = $1 AND attempts = $2 AND status = 'processing'";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    provider: String,
    provider_event_id: String,
    business_id: String,
    conversation_key: String,
    kind: String,
    payload: Json<Value>,
    received_at: Time,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: Time,
}

impl super::Claimed for Row {
    fn id(&self) -> i64 {
        self.id
    }
}

impl TryFrom<Row> for InboxEvent {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self, StoreError> {
        Ok(InboxEvent {
            id: row.id,
            provider: named(Provider::parse, "provider", &row.provider)?,
            provider_event_id: row.provider_event_id,
            business_id: row.business_id,
            conversation_key: row.conversation_key,
            kind: named(EventKind::parse, "event kind", &row.kind)?,
            payload: row.payload.0,
            received_at: row.received_at.0,
            status: named(InboxStatus::parse, "inbox status", &row.status)?,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at.0,
        })
    }
}

fn events(rows: Vec<Row>) -> Result<Vec<InboxEvent>, StoreError> {
    rows.into_iter().map(InboxEvent::try_from).collect()
}

impl Store {
    /// Stores a batch of events in one transaction. Returns, per event, whether it was new (`true`) or
    /// already stored (`false`). The batch must not repeat a `(provider, provider_event_id)`.
    pub async fn record_inbound(&self, events: &[NewInboxEvent]) -> Result<Vec<bool>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Store::Postgres(s) => pg::record(s.write(), events).await,
            Store::Sqlite(_) => {
                let mut tx = self.begin().await?;
                let mut new = Vec::with_capacity(events.len());
                for e in events {
                    new.push(tx.insert_event(e).await?);
                }
                tx.commit().await?;
                Ok(new)
            }
        }
    }

    /// Claims up to `limit` events for a worker: per conversation only the oldest open event, and only
    /// when no other worker holds one of that conversation (or its lease ended). Claimed events are
    /// `processing` until `now + lease`. On Postgres the claim commits without waiting for the disk:
    /// the turn or settling that follows is durable and flushes it, and a claim lost in a database
    /// crash only means the event is claimed again.
    pub async fn claim_inbox(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let lease_until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        let sql = match self {
            Store::Postgres(_) => pg::claim(),
            Store::Sqlite(_) => lite::claim(),
        };
        let rows: Vec<Row> = self.claim(&sql, now, lease_until, limit).await?;
        events(rows)
    }

    /// Marks claimed events done, each given as `(id, attempt)`; returns how many were settled. An event
    /// whose claim was lost (its lease ended and another worker took it) is left as it is.
    pub async fn complete_inbox(
        &self,
        claims: &[(i64, i32)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if claims.is_empty() {
            return Ok(0);
        }
        match self {
            Store::Postgres(s) => pg::complete(s.write(), claims, now).await,
            Store::Sqlite(_) => {
                let mut tx = self.begin().await?;
                let mut settled = 0;
                for (id, attempt) in claims {
                    settled += u64::from(tx.mark_done(*id, *attempt, now).await?);
                }
                tx.commit().await?;
                Ok(settled)
            }
        }
    }

    /// Records a failed attempt: `failed` until `retry_at`, or `dead` when `retry_at` is `None`.
    pub async fn fail_inbox(
        &self,
        id: i64,
        attempt: i32,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        let status = if retry_at.is_some() { "failed" } else { "dead" };
        let done = on!(Store, self, |s| sqlx::query(
            "UPDATE inbox_events SET status = $3, last_error = $4, \
                 next_attempt_at = COALESCE($5, next_attempt_at) \
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        )
        .bind(id)
        .bind(attempt)
        .bind(status)
        .bind(error)
        .bind(retry_at.map(Time))
        .execute(s.write())
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// Moves a claimed event into the lane it belongs to, as a new event there (`routed`, whose id
    /// is the original's with `@routed`): newest in its lane, so that it waits its turn behind what
    /// that conversation is doing instead of jumping ahead of an event being handled. The original,
    /// still the dedup authority of its provider's id, is marked done in the same transaction.
    /// `false` (and nothing written) when the claim was lost.
    pub async fn route_inbox(
        &self,
        id: i64,
        attempt: i32,
        routed: &NewInboxEvent,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if !tx.mark_done(id, attempt, now).await? {
            return Ok(false);
        }
        tx.insert_event(routed).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Puts a claimed event back in its lane until `at`, without counting a failure (it is waiting
    /// for something else to happen first); `note` says what, for operators.
    pub async fn defer_inbox(
        &self,
        id: i64,
        attempt: i32,
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, StoreError> {
        self.settle_claim(id, attempt, "pending", Some(note), at)
            .await
    }

    /// Settles a claimed event the bot does not act on: done, with the reason kept in `last_error`.
    pub async fn ignore_inbox(
        &self,
        id: i64,
        attempt: i32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let note = format!("ignored: {reason}");
        self.settle_claim(id, attempt, "done", Some(&note), now)
            .await
    }

    async fn settle_claim(
        &self,
        id: i64,
        attempt: i32,
        status: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on!(Store, self, |s| sqlx::query(
            "UPDATE inbox_events SET status = $3, last_error = $4, next_attempt_at = $5, \
                 processed_at = CASE WHEN $3 = 'done' THEN $5 ELSE processed_at END \
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        )
        .bind(id)
        .bind(attempt)
        .bind(status)
        .bind(note)
        .bind(Time(at))
        .execute(s.write())
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    /// The events that gave up (newest first), for operators.
    pub async fn dead_inbox(&self, limit: u32) -> Result<Vec<InboxEvent>, StoreError> {
        // Postgres finds them by its generated, indexed `queue` column; SQLite indexes `status`.
        let dead = match self {
            Store::Postgres(_) => "queue = 'dead'",
            Store::Sqlite(_) => "status = 'dead'",
        };
        let sql =
            format!("SELECT {COLUMNS} FROM inbox_events WHERE {dead} ORDER BY id DESC LIMIT $1");
        let rows = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(i64::from(limit))
            .fetch_all(s.read())
            .await?);
        events(rows)
    }

    /// Puts a dead event back in its conversation's lane, with a fresh retry budget; `false` if it was
    /// not dead. It is handled against the conversation as it is now.
    pub async fn replay_inbox(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.put_back_inbox(id, now, "('dead')").await
    }

    /// Puts event `id` back in its lane with a fresh retry budget when its status is one of
    /// `statuses` (an SQL list of literals); `false` otherwise.
    pub(super) async fn put_back_inbox(
        &self,
        id: i64,
        now: DateTime<Utc>,
        statuses: &'static str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE inbox_events SET status = 'pending', attempts = 0, next_attempt_at = $2, \
                 processed_at = NULL \
             WHERE id = $1 AND status IN {statuses}"
        );
        let done = on!(Store, self, |s| sqlx::query(&sql)
            .bind(id)
            .bind(Time(now))
            .execute(s.write())
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// One event by its id.
    pub async fn inbox_event(&self, id: i64) -> Result<Option<InboxEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM inbox_events WHERE id = $1");
        let row: Option<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(s.read())
            .await?);
        row.map(InboxEvent::try_from).transpose()
    }

    pub async fn find_inbox_event(
        &self,
        provider: Provider,
        provider_event_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM inbox_events WHERE provider = $1 AND provider_event_id = $2"
        );
        let row: Option<Row> = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(provider.as_str())
            .bind(provider_event_id)
            .fetch_optional(s.read())
            .await?);
        row.map(InboxEvent::try_from).transpose()
    }

    /// All events of one conversation, oldest first.
    pub async fn conversation_events(
        &self,
        conversation_key: &str,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM inbox_events WHERE conversation_key = $1 ORDER BY id");
        let rows = on!(Store, self, |s| sqlx::query_as(&sql)
            .bind(conversation_key)
            .fetch_all(s.read())
            .await?);
        events(rows)
    }

    /// Number of stored inbox events.
    pub async fn count_inbox(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on!(Store, self, |s| sqlx::query_as(
            "SELECT count(*) FROM inbox_events"
        )
        .fetch_one(s.read())
        .await?);
        Ok(n)
    }
}

/// What one round of retention did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Rows removed.
    pub removed: u64,
    /// Where the next round starts (the last id looked at), or `None` when this round reached rows
    /// newer than the cut-off or the end of the table.
    pub next: Option<i64>,
}

impl Store {
    /// Retention of the inbox: of the `window` events after `after_id` (oldest first), removes those
    /// handled (`done`) before `before`, keeping their provider ids in `inbox_seen` so that a
    /// redelivery is still a duplicate. Open, failed and dead events stay. One short transaction per
    /// round, so the hot path is never held up for long.
    pub async fn prune_inbox(
        &self,
        after_id: i64,
        window: u32,
        before: DateTime<Utc>,
    ) -> Result<Pruned, StoreError> {
        let mut tx = self.begin().await?;
        let Some(last) = tx
            .window_end("inbox_events", "received_at", after_id, window, before)
            .await?
        else {
            return Ok(Pruned {
                removed: 0,
                next: None,
            });
        };
        let done = "id > $1 AND id <= $2 AND status = 'done' AND processed_at < $3";
        let statements = [
            format!(
                "INSERT INTO inbox_seen (provider, provider_event_id) \
                 SELECT provider, provider_event_id FROM inbox_events WHERE {done} \
                 ON CONFLICT DO NOTHING"
            ),
            format!(
                "DELETE FROM model_readings WHERE inbox_event_id IN (SELECT id FROM inbox_events WHERE {done})"
            ),
            format!("DELETE FROM inbox_events WHERE {done}"),
        ];
        let mut removed = 0;
        for sql in &statements {
            removed = tx.prune_step(sql, after_id, last.id, before).await?;
        }
        tx.commit().await?;
        Ok(Pruned {
            removed,
            next: last.more.then_some(last.id),
        })
    }
}

/// The end of a retention round's window.
pub(super) struct WindowEnd {
    /// The last id of the window.
    pub(super) id: i64,
    /// Whether rows after it may be old enough too.
    pub(super) more: bool,
}

impl Tx<'_> {
    /// The window of a retention round: up to `window` rows of `table` after `after_id`; `None` when
    /// there are none or even the first is newer than `before` (ids grow with time, so the rest are
    /// newer too).
    pub(super) async fn window_end(
        &mut self,
        table: &str,
        time: &str,
        after_id: i64,
        window: u32,
        before: DateTime<Utc>,
    ) -> Result<Option<WindowEnd>, StoreError> {
        let sql = format!(
            "SELECT max(id), min({time}), count(*) FROM \
             (SELECT id, {time} FROM {table} WHERE id > $1 ORDER BY id LIMIT $2) w"
        );
        let (last, first_time, rows): (Option<i64>, Option<Time>, i64) = on!(Tx, self, |tx| {
            sqlx::query_as(&sql)
                .bind(after_id)
                .bind(i64::from(window))
                .fetch_one(&mut **tx)
                .await?
        });
        Ok(match (last, first_time) {
            (Some(id), Some(first)) if first.0 < before => Some(WindowEnd {
                id,
                more: rows == i64::from(window),
            }),
            _ => None,
        })
    }

    /// One statement of a retention round over ids `($1, $2]` and the cut-off `$3`; rows affected.
    pub(super) async fn prune_step(
        &mut self,
        sql: &str,
        after_id: i64,
        last_id: i64,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on!(Tx, self, |tx| sqlx::query(sql)
            .bind(after_id)
            .bind(last_id)
            .bind(Time(before))
            .execute(&mut **tx)
            .await?
            .rows_affected()))
    }
}

impl Tx<'_> {
    /// Stores one event; `false` if it was stored already.
    pub(super) async fn insert_event(&mut self, e: &NewInboxEvent) -> Result<bool, StoreError> {
        let payload = RawJson(&e.payload);
        let done = on!(Tx, self, |tx| sqlx::query(INSERT)
            .bind(e.provider.as_str())
            .bind(&e.provider_event_id)
            .bind(&e.business_id)
            .bind(&e.conversation_key)
            .bind(e.kind.as_str())
            .bind(payload)
            .bind(Time(e.received_at))
            .bind(e.said.as_ref().map(|said| &said.from_digits))
            .bind(e.said.as_ref().and_then(|said| said.folded_text.as_ref()))
            .execute(&mut **tx)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Marks a claimed event done; `false` when the claim was lost.
    pub(super) async fn mark_done(
        &mut self,
        id: i64,
        attempt: i32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on!(Tx, self, |tx| sqlx::query(MARK_DONE)
            .bind(id)
            .bind(attempt)
            .bind(Time(now))
            .execute(&mut **tx)
            .await?
            .rows_affected());
        Ok(done == 1)
    }
}

mod pg {
    use std::collections::HashSet;

    use super::*;
    use sqlx::PgPool;

    pub(super) async fn record(
        pool: &PgPool,
        batch: &[NewInboxEvent],
    ) -> Result<Vec<bool>, StoreError> {
        // One statement for the whole batch: arrays in, the ids that were new out. A conflicting row
        // (stored earlier, or by a concurrent batch) is skipped and not returned.
        let mut providers = Vec::with_capacity(batch.len());
        let mut ids = Vec::with_capacity(batch.len());
        let mut businesses = Vec::with_capacity(batch.len());
        let mut keys = Vec::with_capacity(batch.len());
        let mut kinds = Vec::with_capacity(batch.len());
        let mut payloads = Vec::with_capacity(batch.len());
        let mut received = Vec::with_capacity(batch.len());
        let mut froms = Vec::with_capacity(batch.len());
        let mut texts = Vec::with_capacity(batch.len());
        for e in batch {
            providers.push(e.provider.as_str());
            ids.push(e.provider_event_id.as_str());
            businesses.push(e.business_id.as_str());
            keys.push(e.conversation_key.as_str());
            kinds.push(e.kind.as_str());
            payloads.push(e.payload.as_str());
            received.push(e.received_at);
            froms.push(e.said.as_ref().map(|said| said.from_digits.as_str()));
            texts.push(e.said.as_ref().and_then(|said| said.folded_text.as_deref()));
        }
        let inserted: Vec<(String, String)> = sqlx::query_as(
            "INSERT INTO inbox_events \
               (provider, provider_event_id, business_id, conversation_key, kind, payload, \
                received_at, next_attempt_at, message_from, message_text) \
             SELECT p, e, b, c, k, pl::jsonb, r, r, mf, mt \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::timestamptz[], $8::text[], $9::text[]) AS t(p, e, b, c, k, pl, r, mf, mt) \
             WHERE NOT EXISTS (SELECT 1 FROM inbox_seen s \
                               WHERE s.provider = t.p AND s.provider_event_id = t.e) \
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
        .bind(&froms)
        .bind(&texts)
        .fetch_all(pool)
        .await?;
        let new: HashSet<(String, String)> = inserted.into_iter().collect();
        Ok(batch
            .iter()
            .map(|e| new.contains(&(e.provider.as_str().to_owned(), e.provider_event_id.clone())))
            .collect())
    }

    /// Only the oldest open event of a conversation is a candidate (`due_heads`), and SKIP LOCKED
    /// keeps two workers from taking the same one. The heads found are locked and checked again.
    pub(super) fn claim() -> String {
        format!(
            "UPDATE inbox_events SET status = 'processing', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN ( \
                 SELECT e.id FROM inbox_events e \
                 WHERE e.id IN ({heads}) \
                   AND e.status IN ('pending', 'processing', 'failed') AND e.next_attempt_at <= $1 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}",
            heads = crate::store::postgres::due_heads("inbox_events", "conversation_key"),
        )
    }

    pub(super) async fn complete(
        pool: &PgPool,
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
        .execute(pool)
        .await?;
        Ok(done.rows_affected())
    }
}

mod lite {
    use super::*;

    /// One statement, so SQLite's single writer makes it atomic; the rule is Postgres's (`pg::claim`),
    /// with the lane's oldest open row found through the lane index.
    pub(super) fn claim() -> String {
        format!(
            "UPDATE inbox_events SET status = 'processing', attempts = attempts + 1, next_attempt_at = $2 \
             WHERE id IN ( \
                 SELECT e.id FROM inbox_events e \
                 WHERE e.status IN ('pending', 'processing', 'failed') AND e.next_attempt_at <= $1 \
                   AND NOT EXISTS ( \
                       SELECT 1 FROM inbox_events o \
                       WHERE o.conversation_key = e.conversation_key \
                         AND o.status IN ('pending', 'processing', 'failed') AND o.id < e.id) \
                 ORDER BY e.id LIMIT $3) \
             RETURNING {COLUMNS}"
        )
    }
}
