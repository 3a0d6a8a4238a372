//! The inbox consumer: claims stored events and hands them to a handler, one conversation in order,
//! many conversations in parallel, across any number of instances (the claim rule lives in
//! `Store::claim_inbox`).
//!
//! A handler that fails is retried with exponential backoff and, after `max_attempts`, the event is
//! marked `dead` with its error: kept for operators, and no longer holding back the conversation's later
//! events. [`InboxHandler`] is the product's handler: it routes each claimed event by its kind, in one
//! place ([`InboxHandler::handle_batch`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::{Notify, watch};

use crate::conversation::Masked;
use crate::event::{EventKind, InboxEvent, is_unrouted_lane};
use crate::store::{DeliveryStatus, OutboundStatus, Provider, Store, StoreError};
use crate::telemetry::Metrics;
use crate::whatsapp::webhook::StatusEvent;
use crate::worker::error::WorkerError;
use crate::worker::payments;
use crate::worker::retry::RetryPolicy;
use crate::worker::turn::{TurnOutcome, TurnRunner};
use crate::worker::window::{OUTSIDE_WINDOW, Window};

/// What became of an event a handler took care of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Handled: the worker marks the event done.
    Done,
    /// Handled, and already marked done by the handler in its own transaction (a conversation turn).
    Settled,
}

/// One event's outcome: an `Err` is retried later.
pub type Outcome = Result<Handled, WorkerError>;

/// What the worker does with one event.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, event: &InboxEvent) -> impl Future<Output = Outcome> + Send;

    /// Handles a claimed batch (each event of a different conversation); one outcome per event, in
    /// order. By default each event on its own, concurrently; a handler may do shared work once.
    fn handle_batch(&self, events: &[InboxEvent]) -> impl Future<Output = Vec<Outcome>> + Send {
        futures_util::future::join_all(events.iter().map(|e| self.handle(e)))
    }
}

/// How long a delivery status may wait for its message's `wamid` to be stored (Meta can report a
/// status before the dispatcher has settled the message Meta just accepted). A status that still
/// matches nothing after that was for a message sent by other means (the WhatsApp Business app on
/// the same number): it is let go and counted.
pub const STATUS_WAIT: Duration = Duration::from_secs(30);

/// The product's handler: a customer's message reopens the 24-hour window and runs a conversation
/// turn, a timer or a deposit's news runs a turn, delivery statuses update the outbox, other events
/// are logged.
pub struct InboxHandler {
    store: Store,
    window: Window,
    turns: Arc<TurnRunner>,
    metrics: Metrics,
    status_wait: Duration,
}

impl InboxHandler {
    pub fn new(store: Store, window: Window, turns: Arc<TurnRunner>, metrics: Metrics) -> Self {
        Self {
            store,
            window,
            turns,
            metrics,
            status_wait: STATUS_WAIT,
        }
    }

    /// Lets statuses of unknown messages go after `wait` instead of [`STATUS_WAIT`].
    pub fn with_status_wait(mut self, wait: Duration) -> Self {
        self.status_wait = wait;
        self
    }

    /// What a status event asks for: nothing, an update of its message, or the 24-hour window
    /// fallback (a `failed` status with 131047 when a re-engagement template is configured).
    fn plan_status(&self, event: &InboxEvent) -> Result<StatusPlan, WorkerError> {
        let StatusEvent { status, .. } = StatusEvent::deserialize(&event.payload)
            .map_err(|e| WorkerError::Handler(format!("status payload: {e}")))?;
        let new = match status.status.as_str() {
            "sent" => OutboundStatus::Sent,
            "delivered" => OutboundStatus::Delivered,
            "read" => OutboundStatus::Read,
            "failed" => OutboundStatus::Failed,
            other => {
                tracing::debug!(status = other, "delivery status not tracked");
                return Ok(StatusPlan::Ignore);
            }
        };
        let first_error = status.errors.as_ref().and_then(|e| e.first());
        let code = first_error.map(|e| e.code);
        if new == OutboundStatus::Failed && code == Some(OUTSIDE_WINDOW) && self.window.reengages()
        {
            return Ok(StatusPlan::OutsideWindow(status.id));
        }
        let error = first_error.map(|e| {
            let title = e
                .title
                .as_deref()
                .or(e.message.as_deref())
                .unwrap_or_default();
            format!("meta error {}: {title}", e.code)
        });
        Ok(StatusPlan::Apply(DeliveryStatus {
            wamid: status.id,
            status: new,
            error,
            code,
        }))
    }

    /// Handles a batch's delivery statuses: the plain ones applied together in one transaction, the
    /// others one by one. One outcome per status.
    async fn statuses(&self, events: &[&InboxEvent]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let mut plain = Vec::new();
        for (i, event) in events.iter().enumerate() {
            match self.plan_status(event) {
                Ok(StatusPlan::Apply(status)) => plain.push((i, status)),
                Ok(StatusPlan::Ignore) => outcomes[i] = Some(Ok(Handled::Done)),
                Ok(StatusPlan::OutsideWindow(wamid)) => {
                    let parked = self.window.park_sent(&wamid).await;
                    outcomes[i] = Some(parked.map(|()| Handled::Done).map_err(WorkerError::from));
                }
                Err(err) => outcomes[i] = Some(Err(err)),
            }
        }
        if !plain.is_empty() {
            let batch: Vec<DeliveryStatus> = plain.iter().map(|(_, s)| s.clone()).collect();
            match self.store.apply_delivery_statuses(&batch, Utc::now()).await {
                Err(err) => {
                    let err = WorkerError::from(err);
                    for (i, _) in &plain {
                        outcomes[*i] = Some(Err(err.clone()));
                    }
                }
                Ok(applied) => {
                    for ((i, status), applied) in plain.iter().zip(applied) {
                        outcomes[*i] = Some(self.status_applied(events[*i], status, applied));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Ok(Handled::Done)))
            .collect()
    }

    /// The outcome of a status once applied: `applied` is `None` when no message has its `wamid`.
    fn status_applied(
        &self,
        event: &InboxEvent,
        status: &DeliveryStatus,
        applied: Option<bool>,
    ) -> Outcome {
        if applied.is_some() {
            return Ok(Handled::Done);
        }
        let waited = (Utc::now() - event.received_at)
            .to_std()
            .unwrap_or_default();
        if waited < self.status_wait {
            return Err(WorkerError::UnknownMessage(status.wamid.clone()));
        }
        tracing::info!(
            id = event.id,
            wamid = %status.wamid,
            status = status.status.as_str(),
            "delivery status of a message the bot did not send: let go"
        );
        self.metrics.status_unmatched();
        Ok(Handled::Done)
    }
}

impl InboxHandler {
    /// Settles a Chatwoot event ingress found nothing to do with, keeping the reason.
    async fn chatwoot_ignored(&self, event: &InboxEvent) -> Outcome {
        let reason = match crate::chatwoot::wire::EventIn::deserialize(&event.payload) {
            Ok(parsed) => match parsed.meaning(
                // Mirror mode writes to an API inbox; channel mode is any other channel.
                match parsed.fields().channel.as_deref() {
                    Some("Channel::Api") | None => crate::chatwoot::wire::Reading::Mirror,
                    Some(_) => crate::chatwoot::wire::Reading::Channel,
                },
            ) {
                crate::chatwoot::wire::Meaning::Ignore(why) => format!("{}: {why}", parsed.event),
                _ => format!("{}: no customer conversation to lead it to", parsed.event),
            },
            Err(err) => format!("unreadable: {err}"),
        };
        tracing::debug!(id = event.id, %reason, "chatwoot event ignored");
        self.store
            .ignore_inbox(event.id, event.attempts, &reason, Utc::now())
            .await?;
        Ok(Handled::Settled)
    }
}

/// What to do with one delivery status.
enum StatusPlan {
    Ignore,
    Apply(DeliveryStatus),
    OutsideWindow(String),
}

impl EventHandler for InboxHandler {
    async fn handle(&self, event: &InboxEvent) -> Outcome {
        self.handle_batch(std::slice::from_ref(event))
            .await
            .pop()
            .unwrap_or(Ok(Handled::Done))
    }

    /// Routes a batch by kind. Customers' messages are recorded together, in one transaction (the
    /// 24-hour window), then go with the timers and deposits' news through the conversation
    /// engine, their turns committed together; a Stripe event not yet in its conversation's lane
    /// is led there ([`payments::route`]); delivery statuses are applied together; other events
    /// are logged.
    async fn handle_batch(&self, events: &[InboxEvent]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let of_kind = |kind: EventKind| -> Vec<usize> {
            (0..events.len())
                .filter(|i| events[*i].kind == kind)
                .collect()
        };
        let messages = of_kind(EventKind::Message);
        if !messages.is_empty() {
            let batch: Vec<&InboxEvent> = messages.iter().map(|i| &events[*i]).collect();
            if let Err(err) = self.window.customers_wrote(&batch).await {
                let err = WorkerError::from(err);
                for i in &messages {
                    outcomes[*i] = Some(Err(err.clone()));
                }
            }
        }
        let statuses = of_kind(EventKind::Status);
        if !statuses.is_empty() {
            let batch: Vec<&InboxEvent> = statuses.iter().map(|i| &events[*i]).collect();
            for (i, outcome) in statuses.iter().zip(self.statuses(&batch).await) {
                outcomes[*i] = Some(outcome);
            }
        }
        // Stripe's events not yet in their conversation's lane are led there (or kept, or ignored).
        for (i, event) in events.iter().enumerate() {
            if event.kind == EventKind::Payment
                && is_unrouted_lane(event.provider, &event.conversation_key)
            {
                outcomes[i] = Some(payments::route(&self.store, event).await);
            }
        }
        // Chatwoot's events the bot does not act on: marked ignored with the reason.
        for (i, event) in events.iter().enumerate() {
            if event.provider == Provider::Chatwoot && event.kind == EventKind::Other {
                outcomes[i] = Some(self.chatwoot_ignored(event).await);
            }
        }
        // The turns: messages whose window was recorded, timers, deposits' news and the staff's
        // doings in their conversation's lane.
        let turns: Vec<usize> = (0..events.len())
            .filter(|i| outcomes[*i].is_none())
            .filter(|i| {
                matches!(
                    events[*i].kind,
                    EventKind::Message | EventKind::Timer | EventKind::Payment | EventKind::Staff
                )
            })
            .collect();
        if !turns.is_empty() {
            let batch: Vec<&InboxEvent> = turns.iter().map(|i| &events[*i]).collect();
            for (i, outcome) in turns.iter().zip(self.turns.handle_batch(&batch).await) {
                outcomes[*i] = Some(outcome.map(|turn| match turn {
                    TurnOutcome::Committed => Handled::Settled,
                    TurnOutcome::Skipped => Handled::Done,
                }));
            }
        }
        events
            .iter()
            .zip(outcomes)
            .map(|(event, outcome)| {
                outcome.unwrap_or_else(|| {
                    tracing::debug!(
                        id = event.id,
                        provider = event.provider.as_str(),
                        kind = event.kind.as_str(),
                        conversation = %Masked(&event.conversation_key),
                        "inbox event handled"
                    );
                    Ok(Handled::Done)
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Events claimed at once (each of a different conversation).
    pub batch: u32,
    /// How long a claim holds before another worker may take the event over.
    pub lease: Duration,
    /// Longest sleep when idle; a commit wakes the worker sooner.
    pub poll: Duration,
    /// Attempts before an event is dead.
    pub max_attempts: i32,
    /// Shortest time from one claim to the next while batches come back part-full: events arriving
    /// meanwhile gather into the next batch instead of each costing a claim and a commit of its own.
    /// A full batch is followed at once.
    pub gather: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            batch: 128,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            max_attempts: 8,
            gather: Duration::from_millis(20),
        }
    }
}

pub struct InboxWorker<H> {
    store: Store,
    handler: Arc<H>,
    wake: Arc<Notify>,
    options: WorkerOptions,
    /// Counts the events that give up (dead letters).
    metrics: Metrics,
}

/// When a failed event is tried again: 1 s, 2 s, 4 s ... capped at 5 minutes.
pub const RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(1),
    max: Duration::from_secs(300),
    jitter: 0.0,
};

impl<H: EventHandler> InboxWorker<H> {
    pub fn new(store: Store, handler: H, wake: Arc<Notify>, options: WorkerOptions) -> Self {
        Self::shared(store, Arc::new(handler), wake, options)
    }

    /// A worker sharing its handler with others: several workers of one process claim batches side
    /// by side (as instances do), so one slow batch does not hold the next one back.
    pub fn shared(
        store: Store,
        handler: Arc<H>,
        wake: Arc<Notify>,
        options: WorkerOptions,
    ) -> Self {
        Self {
            store,
            handler,
            wake,
            options,
            metrics: Metrics::new(),
        }
    }

    /// Counts dead letters in `metrics` (the app's), rather than in a recorder of its own.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Claims and handles one batch; returns how many events it claimed. The events handled well are
    /// settled together in one statement; each failure is recorded on its own.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let events = self
            .store
            .claim_inbox(Utc::now(), self.options.lease, self.options.batch)
            .await?;
        let outcomes = self.handler.handle_batch(&events).await;
        let mut done = Vec::with_capacity(events.len());
        for (event, outcome) in events.iter().zip(outcomes) {
            match outcome {
                Ok(Handled::Done) => done.push((event.id, event.attempts)),
                Ok(Handled::Settled) => {}
                Err(error) => self.record_failure(event, &error.to_string()).await,
            }
        }
        if done.is_empty() {
            return Ok(events.len());
        }
        let settled = self.store.complete_inbox(&done, Utc::now()).await?;
        if settled < done.len() as u64 {
            tracing::warn!(
                lost = done.len() as u64 - settled,
                "inbox claims were lost before their events were settled"
            );
        }
        Ok(events.len())
    }

    async fn record_failure(&self, event: &InboxEvent, error: &str) {
        let retry_at = (event.attempts < self.options.max_attempts)
            .then(|| RETRY.next(event.attempts, Utc::now()));
        tracing::warn!(id = event.id, attempt = event.attempts, error = %error, dead = retry_at.is_none(), "inbox event failed");
        match self
            .store
            .fail_inbox(event.id, event.attempts, error, retry_at)
            .await
        {
            Ok(true) if retry_at.is_none() => self.metrics.dead_letter("inbox"),
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                id = event.id,
                "inbox claim was lost before the failure was recorded"
            ),
            Err(err) => {
                tracing::error!(id = event.id, error = %err, "inbox failure could not be recorded")
            }
        }
    }

    /// Runs until `shutdown` turns true, finishing the batch in hand.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let started = tokio::time::Instant::now();
            let idle = match self.run_once().await {
                Ok(0) => true,
                Ok(n) => {
                    let options = &self.options;
                    super::gather(n, options.batch, started, options.gather, &mut shutdown).await;
                    false
                }
                Err(err) => {
                    tracing::warn!(error = %err, "inbox claim failed");
                    true
                }
            };
            if idle {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.options.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}
