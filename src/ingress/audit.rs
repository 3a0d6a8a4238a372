//! The audit trail of webhook requests: who called, what we answered, how long it took.
//!
//! Records are written off the request path by one background task, in batches, so auditing never slows
//! or fails a webhook. After a write that did not fill a batch the task lets records gather for a
//! moment (`GATHER`), so a busy ingress costs about ten audit statements a second, not one for every
//! few requests. If the queue is full (the database is far behind) a record is dropped and counted
//! (`salonbot_audit_dropped_total`) rather than holding requests back. Records older than
//! `AUDIT_RETENTION_DAYS` are pruned hourly.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::store::{AuditRecord, Store};
use crate::telemetry::Metrics;

const QUEUE: usize = 16_384;
const MAX_BATCH: usize = 1_000;
/// Pause after a write that did not fill a batch, to let the next one gather.
const GATHER: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct AuditSink {
    records: mpsc::Sender<AuditRecord>,
    metrics: Metrics,
}

impl AuditSink {
    /// Starts the writer; it ends, after writing what is queued, when every sink is dropped.
    pub fn spawn(store: Store, metrics: Metrics) -> (Self, JoinHandle<()>) {
        let (records, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write(store, rx));
        (Self { records, metrics }, task)
    }

    pub fn record(&self, record: AuditRecord) {
        if self.records.try_send(record).is_err() {
            self.metrics.audit_dropped();
        }
    }
}

async fn write(store: Store, mut rx: mpsc::Receiver<AuditRecord>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Err(err) = store.record_audit(&batch).await {
            tracing::warn!(error = %err, records = batch.len(), "audit records not stored");
        }
        let full = batch.len() == MAX_BATCH;
        batch.clear();
        // Not while shutting down (every sink gone): what is queued is written at once.
        if !full && !rx.is_closed() {
            tokio::time::sleep(GATHER).await;
        }
    }
}

/// Deletes expired audit records now and every hour after.
pub fn spawn_pruner(store: Store, retention_days: u32) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
            match store.prune_audit(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "pruned audit records"),
                Err(err) => tracing::warn!(error = %err, "audit pruning failed"),
            }
        }
    })
}
