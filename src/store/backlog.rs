//! What waits in the queues, for the metrics and the alerts: how many inbox events are not handled
//! yet, and since when the oldest inbox event and outbound message have waited. Read-only, and cheap
//! on a large history: Postgres finds open rows through its indexes on the generated `queue` column.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, Time};

/// The queues' backlog at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Inbox events pending, being handled or waiting for a retry.
    pub inbox_open: i64,
    /// When the oldest of them was received.
    pub inbox_oldest: Option<DateTime<Utc>>,
    /// When the oldest outbound message not yet handed to its provider was written (messages waiting
    /// for the customer's 24-hour window are not counted: they wait on purpose).
    pub outbox_oldest: Option<DateTime<Utc>>,
}

impl Store {
    /// The queues' backlog now.
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        // The oldest open row is the one with the lowest id: ids grow with arrival.
        let (inbox_open, outbox_open) = match self {
            Store::Postgres(_) => ("queue = 'open'", "queue = 'open'"),
            Store::Sqlite(_) => (
                "status IN ('pending', 'processing', 'failed')",
                "status IN ('pending', 'sending')",
            ),
        };
        let count = format!("SELECT count(*) FROM inbox_events WHERE {inbox_open}");
        let inbox_oldest =
            format!("SELECT received_at FROM inbox_events WHERE {inbox_open} ORDER BY id LIMIT 1");
        let outbox_oldest =
            format!("SELECT created_at FROM outbox WHERE {outbox_open} ORDER BY id LIMIT 1");
        let (open, inbox, outbox) = on!(Store, self, |s| {
            let (open,): (i64,) = sqlx::query_as(&count).fetch_one(s.read()).await?;
            let inbox: Option<(Time,)> = sqlx::query_as(&inbox_oldest)
                .fetch_optional(s.read())
                .await?;
            let outbox: Option<(Time,)> = sqlx::query_as(&outbox_oldest)
                .fetch_optional(s.read())
                .await?;
            (open, inbox, outbox)
        });
        Ok(Backlog {
            inbox_open: open,
            inbox_oldest: inbox.map(|(t,)| t.0),
            outbox_oldest: outbox.map(|(t,)| t.0),
        })
    }
}
