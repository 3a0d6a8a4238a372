//! The webhook audit trail: one record per webhook request (never its body), written in batches off
//! the request path and pruned after `AUDIT_RETENTION_DAYS`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Provider, Store, StoreError, Time};

/// One webhook request, as the audit trail keeps it (never its body).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub provider: Provider,
    pub outcome: &'static str,
    pub status_code: u16,
    pub body_bytes: u64,
    pub remote_addr: Option<String>,
    pub latency: Duration,
    pub request_id: Option<String>,
    pub events_new: u32,
    pub events_duplicate: u32,
    pub received_at: DateTime<Utc>,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAudit {
    pub provider: String,
    pub outcome: String,
    pub status_code: i32,
    pub body_bytes: i64,
    pub remote_addr: Option<String>,
    pub events_new: i32,
    pub events_duplicate: i32,
    pub received_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    provider: String,
    outcome: String,
    status_code: i32,
    body_bytes: i64,
    remote_addr: Option<String>,
    events_new: i32,
    events_duplicate: i32,
    received_at: Time,
}

/// A record's numbers in the columns' types (saturating: a record is never refused for its size).
struct Numbers {
    status_code: i32,
    body_bytes: i64,
    latency_us: i64,
    events_new: i32,
    events_duplicate: i32,
}

impl AuditRecord {
    fn numbers(&self) -> Numbers {
        Numbers {
            status_code: i32::from(self.status_code),
            body_bytes: i64::try_from(self.body_bytes).unwrap_or(i64::MAX),
            latency_us: i64::try_from(self.latency.as_micros()).unwrap_or(i64::MAX),
            events_new: i32::try_from(self.events_new).unwrap_or(i32::MAX),
            events_duplicate: i32::try_from(self.events_duplicate).unwrap_or(i32::MAX),
        }
    }
}

impl Store {
    /// Stores audit records. On Postgres they commit without waiting for the disk: a record lost in
    /// a database crash loses nothing a provider was promised.
    pub async fn record_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            Store::Postgres(s) => pg::record(s.lazy(), records).await,
            Store::Sqlite(s) => lite::record(s.lazy(), records).await,
        }
    }

    /// The newest audit records, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<StoredAudit>, StoreError> {
        let rows: Vec<Row> = on!(Store, self, |s| sqlx::query_as(
            "SELECT provider, outcome, status_code, body_bytes, remote_addr, events_new, \
                 events_duplicate, received_at \
             FROM webhook_audit ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(s.read())
        .await?);
        Ok(rows
            .into_iter()
            .map(|r| StoredAudit {
                provider: r.provider,
                outcome: r.outcome,
                status_code: r.status_code,
                body_bytes: r.body_bytes,
                remote_addr: r.remote_addr,
                events_new: r.events_new,
                events_duplicate: r.events_duplicate,
                received_at: r.received_at.0,
            })
            .collect())
    }

    /// Deletes audit records received before `before`; returns how many.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on!(Store, self, |s| sqlx::query(
            "DELETE FROM webhook_audit WHERE received_at < $1"
        )
        .bind(Time(before))
        .execute(s.write())
        .await?
        .rows_affected()))
    }
}

mod pg {
    use super::*;
    use sqlx::PgPool;

    /// All records in one statement, column by column.
    pub(super) async fn record(pool: &PgPool, records: &[AuditRecord]) -> Result<(), StoreError> {
        let mut providers = Vec::with_capacity(records.len());
        let mut outcomes = Vec::with_capacity(records.len());
        let mut codes = Vec::with_capacity(records.len());
        let mut sizes = Vec::with_capacity(records.len());
        let mut addrs = Vec::with_capacity(records.len());
        let mut latencies = Vec::with_capacity(records.len());
        let mut request_ids = Vec::with_capacity(records.len());
        let mut new = Vec::with_capacity(records.len());
        let mut dups = Vec::with_capacity(records.len());
        let mut received = Vec::with_capacity(records.len());
        for r in records {
            let n = r.numbers();
            providers.push(r.provider.as_str());
            outcomes.push(r.outcome);
            codes.push(n.status_code);
            sizes.push(n.body_bytes);
            addrs.push(r.remote_addr.as_deref());
            latencies.push(n.latency_us);
            request_ids.push(r.request_id.as_deref());
            new.push(n.events_new);
            dups.push(n.events_duplicate);
            received.push(r.received_at);
        }
        sqlx::query(
            "INSERT INTO webhook_audit (provider, outcome, status_code, body_bytes, remote_addr, \
                 latency_us, request_id, events_new, events_duplicate, received_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], \
                 $6::bigint[], $7::text[], $8::int[], $9::int[], $10::timestamptz[])",
        )
        .bind(&providers)
        .bind(&outcomes)
        .bind(&codes)
        .bind(&sizes)
        .bind(&addrs)
        .bind(&latencies)
        .bind(&request_ids)
        .bind(&new)
        .bind(&dups)
        .bind(&received)
        .execute(pool)
        .await?;
        Ok(())
    }
}

mod lite {
    use super::*;
    use sqlx::SqlitePool;

    /// One insert per record, in one transaction of the single writer.
    pub(super) async fn record(
        pool: &SqlitePool,
        records: &[AuditRecord],
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await?;
        for r in records {
            let n = r.numbers();
            sqlx::query(
                "INSERT INTO webhook_audit (provider, outcome, status_code, body_bytes, remote_addr, \
                     latency_us, request_id, events_new, events_duplicate, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(r.provider.as_str())
            .bind(r.outcome)
            .bind(n.status_code)
            .bind(n.body_bytes)
            .bind(&r.remote_addr)
            .bind(n.latency_us)
            .bind(&r.request_id)
            .bind(n.events_new)
            .bind(n.events_duplicate)
            .bind(Time(r.received_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
