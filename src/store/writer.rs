//! Group commit for the ingress: many webhooks, one transaction, one fsync.
//!
//! Each webhook hands its events to a writer task and waits on a oneshot channel. A writer takes every
//! request already queued (up to `max_batch` events), stores them with one `record_inbound` call, and only
//! after the commit answers each waiter. Under load the queue fills while the previous commit is on its
//! way to disk, so batches grow with concurrency and throughput with them, while every answer still means
//! "committed". At low load a request is written alone, with no added delay. One writer task by default
//! on both backends: on Postgres, three writers side by side only cut the same requests into three
//! times as many smaller commits (measured in docs/benchmarks.md), each one a statement and a commit
//! to pay for, while a commit held by the disk holds every writer alike.
//!
//! A failed commit answers every waiter of its batch with an error (the webhook answers 503 and the
//! provider retries): nothing is half-acknowledged. When the database rejects a batch for its content
//! rather than being unreachable, each request of it is retried alone, so one bad request fails only
//! itself.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use super::{NewInboxEvent, Store, StoreError};

/// Why a batch was not stored. Cloneable, so that every waiter of a batch gets it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("inbox writer stopped")]
    Stopped,
}

struct Job {
    events: Vec<NewInboxEvent>,
    reply: oneshot::Sender<Result<Vec<bool>, CommitError>>,
}

/// Tuning of the writer tasks.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Largest number of events in one transaction.
    pub max_batch: usize,
    /// Writer tasks committing concurrently.
    pub writers: usize,
    /// Requests that may wait for a writer before new ones are refused (503).
    pub queue: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_batch: 500,
            writers: 1,
            queue: 8192,
        }
    }
}

/// Handle to the writer tasks; clone it freely.
#[derive(Clone)]
pub struct InboxWriter {
    jobs: mpsc::Sender<Job>,
}

impl InboxWriter {
    /// Starts the writer tasks. `committed` is notified after each commit that stored a new event, to
    /// wake the inbox worker.
    pub fn spawn(store: Store, options: WriterOptions, committed: Arc<Notify>) -> Self {
        let (jobs, rx) = mpsc::channel(options.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..options.writers.max(1) {
            tokio::spawn(run(
                store.clone(),
                rx.clone(),
                options.max_batch.max(1),
                committed.clone(),
            ));
        }
        Self { jobs }
    }

    /// Stores the events of one request; per event, `true` if it is new. Returns only after the commit.
    pub async fn submit(&self, events: Vec<NewInboxEvent>) -> Result<Vec<bool>, CommitError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { events, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    CommitError::Unavailable("inbox writer queue is full".into())
                }
                mpsc::error::TrySendError::Closed(_) => CommitError::Stopped,
            })?;
        answer.await.unwrap_or(Err(CommitError::Stopped))
    }
}

async fn run(
    store: Store,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    committed: Arc<Notify>,
) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut size = first.events.len();
            let mut batch = vec![first];
            while size < max_batch {
                match rx.try_recv() {
                    Ok(job) => {
                        size += job.events.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        commit(&store, batch, &committed).await;
    }
}

async fn commit(store: &Store, batch: Vec<Job>, committed: &Notify) {
    // The same event may arrive in several requests of one batch (Meta retrying while the first delivery
    // is still being written): only its first occurrence goes to the database, the others are
    // duplicates, so exactly one waiter is told "new".
    let mut unique: Vec<NewInboxEvent> = Vec::new();
    let mut first_seen: HashMap<(&'static str, String), usize> = HashMap::new();
    let mut slots: Vec<Vec<Option<usize>>> = Vec::with_capacity(batch.len());
    for job in &batch {
        let mut job_slots = Vec::with_capacity(job.events.len());
        for event in &job.events {
            let key = (event.provider.as_str(), event.provider_event_id.clone());
            match first_seen.entry(key) {
                Entry::Occupied(_) => job_slots.push(None),
                Entry::Vacant(slot) => {
                    slot.insert(unique.len());
                    job_slots.push(Some(unique.len()));
                    unique.push(event.clone());
                }
            }
        }
        slots.push(job_slots);
    }

    match store.record_inbound(&unique).await {
        Ok(new) => {
            if new.iter().any(|n| *n) {
                committed.notify_one();
            }
            for (job, job_slots) in batch.into_iter().zip(slots) {
                let answer = job_slots
                    .iter()
                    .map(|slot| slot.is_some_and(|i| new.get(i).copied().unwrap_or(false)))
                    .collect();
                // The waiter may have timed out and gone; its events are stored all the same.
                let _ = job.reply.send(Ok(answer));
            }
        }
        // A batch that the database rejected for its content (not for being unreachable) is retried
        // request by request, so that one bad request cannot fail the others that shared its batch.
        Err(StoreError::Database(err)) if batch.len() > 1 => {
            tracing::warn!(error = %err, requests = batch.len(), "inbox batch rejected; storing its requests one by one");
            for job in batch {
                Box::pin(commit(store, vec![job], committed)).await;
            }
        }
        Err(err) => {
            tracing::error!(error = %err, events = unique.len(), "inbox batch not stored");
            let err = CommitError::Unavailable(err.to_string());
            for job in batch {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}
