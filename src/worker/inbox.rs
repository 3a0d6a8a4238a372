//! The inbox consumer: claims stored events and hands them to a handler, one conversation in order,
//! many conversations in parallel, across any number of instances (the claim rule lives in
//! `Store::claim_inbox`).
//!
//! A handler that fails is retried with exponential backoff and, after `max_attempts`, the event is
//! marked `dead` with its error: kept for operators, and no longer holding back the conversation's later
//! events. The conversation engine plugs in here as the handler; until then `InboxHandler` applies
//! delivery statuses to the outbox and acknowledges the rest.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use serde::Deserialize;

use chrono::DateTime;

use crate::config::Reengagement;
use crate::conversation::Masked;
use crate::store::{
    CustomerMessage, DeliveryStatus, EventKind, InboxEvent, OutboundStatus, Store, StoreError,
};
use crate::whatsapp::webhook::StatusEvent;
use crate::worker::outbox::reengagement_row;
use crate::worker::turn::{Engine, TurnOutcome};

/// What became of an event a handler took care of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Handled: the worker marks the event done.
    Done,
    /// Handled, and already marked done by the handler in its own transaction (a conversation turn).
    Settled,
}

/// One event's outcome: an `Err` is retried later.
pub type Outcome = Result<Handled, String>;

/// What the worker does with one event.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, event: &InboxEvent) -> impl Future<Output = Outcome> + Send;

    /// Handles a claimed batch (each event of a different conversation); one outcome per event, in
    /// order. By default each event on its own, concurrently; a handler may do shared work once.
    fn handle_batch(&self, events: &[InboxEvent]) -> impl Future<Output = Vec<Outcome>> + Send {
        futures_util::future::join_all(events.iter().map(|e| self.handle(e)))
    }
}

/// What the inbox does with events until the conversation engine lands: a customer's message reopens
/// the 24-hour window (and releases the messages waiting for it), delivery statuses update the outbox,
/// other events are logged and acknowledged.
pub struct InboxHandler {
    store: Store,
    reengagement: Option<Reengagement>,
    engine: Option<Arc<Engine>>,
}

impl InboxHandler {
    pub fn new(store: Store, reengagement: Option<Reengagement>) -> Self {
        Self {
            store,
            reengagement,
            engine: None,
        }
    }

    /// Runs customers' messages and timers through the conversation engine.
    pub fn with_engine(mut self, engine: Arc<Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Records the customers' messages of a batch (the 24-hour window opens again) in one transaction,
    /// releasing the messages that were waiting for them.
    async fn customer_messages(&self, events: &[&InboxEvent]) -> Result<(), String> {
        let messages: Vec<CustomerMessage> = events
            .iter()
            .map(|event| CustomerMessage {
                conversation_key: event.conversation_key.clone(),
                business_id: event.business_id.clone(),
                // Meta's time of the message opens the window; our receipt time if Meta gave none.
                at: event.payload["message"]["timestamp"]
                    .as_str()
                    .and_then(|t| t.parse::<i64>().ok())
                    .and_then(|secs| DateTime::from_timestamp(secs, 0))
                    .unwrap_or(event.received_at),
            })
            .collect();
        let released = self
            .store
            .record_customer_messages(&messages, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        if released > 0 {
            tracing::info!(released, "customers wrote: waiting messages released");
        }
        Ok(())
    }

    /// What a status event asks for: nothing, an update of its message, or the 24-hour window
    /// fallback (a `failed` status with 131047 when a re-engagement template is configured).
    fn plan_status(&self, event: &InboxEvent) -> Result<StatusPlan, String> {
        let StatusEvent { status, .. } =
            StatusEvent::deserialize(&event.payload).map_err(|e| format!("status payload: {e}"))?;
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
        if new == OutboundStatus::Failed && code == Some(131047) && self.reengagement.is_some() {
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

    /// Undelivered for the 24-hour window: the message waits for the customer, and the re-engagement
    /// template goes out instead.
    async fn outside_window(&self, wamid: &str) -> Result<(), String> {
        let Some(config) = &self.reengagement else {
            return Ok(());
        };
        let sent = self
            .store
            .outbox_by_wamid(wamid)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(sent) = sent {
            let template = reengagement_row(config, &sent, Utc::now());
            self.store
                .park_sent_outbox(
                    wamid,
                    "outside the 24-hour window (Meta 131047)",
                    Some(&template),
                    Utc::now(),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Applies a batch's plain delivery statuses in one transaction; one outcome per status.
    async fn apply_statuses(
        &self,
        statuses: &[(&InboxEvent, DeliveryStatus)],
    ) -> Vec<Result<(), String>> {
        let batch: Vec<DeliveryStatus> = statuses.iter().map(|(_, d)| d.clone()).collect();
        match self.store.apply_delivery_statuses(&batch, Utc::now()).await {
            Err(err) => statuses.iter().map(|_| Err(err.to_string())).collect(),
            Ok(applied) => statuses
                .iter()
                .zip(applied)
                .map(|((event, status), applied)| match applied {
                    Some(_) => Ok(()),
                    // Meta can report a status before the dispatcher has stored the wamid Meta just
                    // gave it: try again shortly. Statuses of messages sent by other means (the
                    // WhatsApp Business app) never match, and are let go after a while.
                    None if Utc::now() - event.received_at < chrono::Duration::minutes(2) => Err(
                        format!("no outbound message with wamid {} yet", status.wamid),
                    ),
                    None => Ok(()),
                })
                .collect(),
        }
    }

    async fn delivery_status(&self, event: &InboxEvent) -> Result<(), String> {
        match self.plan_status(event)? {
            StatusPlan::Ignore => Ok(()),
            StatusPlan::OutsideWindow(wamid) => self.outside_window(&wamid).await,
            StatusPlan::Apply(status) => self
                .apply_statuses(&[(event, status)])
                .await
                .pop()
                .unwrap_or(Ok(())),
        }
    }
}

/// What to do with one delivery status.
enum StatusPlan {
    Ignore,
    Apply(DeliveryStatus),
    OutsideWindow(String),
}

impl InboxHandler {
    /// A conversation turn for a message or timer, when the engine runs.
    async fn turn(&self, event: &InboxEvent) -> Outcome {
        let Some(engine) = &self.engine else {
            if event.kind == EventKind::Timer {
                tracing::info!(
                    id = event.id,
                    timer = event.payload["timer"].as_str().unwrap_or_default(),
                    conversation = %Masked(&event.conversation_key),
                    "timer fired"
                );
            }
            return Ok(Handled::Done);
        };
        match engine.handle(event).await? {
            TurnOutcome::Committed => Ok(Handled::Settled),
            TurnOutcome::Skipped => Ok(Handled::Done),
        }
    }
}

impl EventHandler for InboxHandler {
    /// Customers' messages are recorded together, in one transaction (the 24-hour window), then each
    /// goes through the engine; plain delivery statuses are applied together; other events one by one.
    async fn handle_batch(&self, events: &[InboxEvent]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; events.len()];
        let messages: Vec<(usize, &InboxEvent)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EventKind::Message)
            .collect();
        if !messages.is_empty() {
            let batch: Vec<&InboxEvent> = messages.iter().map(|(_, e)| *e).collect();
            if let Err(err) = self.customer_messages(&batch).await {
                for (i, _) in &messages {
                    outcomes[*i] = Some(Err(err.clone()));
                }
            }
        }
        let mut plain = Vec::new();
        for (i, event) in events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == EventKind::Status)
        {
            match self.plan_status(event) {
                Ok(StatusPlan::Apply(status)) => plain.push((i, event, status)),
                Ok(StatusPlan::Ignore) => outcomes[i] = Some(Ok(Handled::Done)),
                Ok(StatusPlan::OutsideWindow(wamid)) => {
                    outcomes[i] = Some(self.outside_window(&wamid).await.map(|()| Handled::Done))
                }
                Err(err) => outcomes[i] = Some(Err(err)),
            }
        }
        if !plain.is_empty() {
            let statuses: Vec<(&InboxEvent, DeliveryStatus)> =
                plain.iter().map(|(_, e, s)| (*e, s.clone())).collect();
            for ((i, _, _), outcome) in plain.iter().zip(self.apply_statuses(&statuses).await) {
                outcomes[*i] = Some(outcome.map(|()| Handled::Done));
            }
        }
        let rest: Vec<usize> = (0..events.len())
            .filter(|i| outcomes[*i].is_none())
            .collect();
        if let Some(engine) = &self.engine {
            // The batch's turns, planned side by side and committed together.
            let turns: Vec<usize> = rest
                .iter()
                .copied()
                .filter(|i| matches!(events[*i].kind, EventKind::Message | EventKind::Timer))
                .collect();
            if !turns.is_empty() {
                let batch: Vec<&InboxEvent> = turns.iter().map(|i| &events[*i]).collect();
                for (i, outcome) in turns.iter().zip(engine.handle_batch(&batch).await) {
                    outcomes[*i] = Some(outcome.map(|turn| match turn {
                        TurnOutcome::Committed => Handled::Settled,
                        TurnOutcome::Skipped => Handled::Done,
                    }));
                }
            }
        }
        let others: Vec<usize> = rest
            .into_iter()
            .filter(|i| outcomes[*i].is_none())
            .collect();
        let handled = futures_util::future::join_all(others.iter().map(|i| {
            let event = &events[*i];
            async move {
                match event.kind {
                    // Recorded above; a turn (without the engine: acknowledged).
                    EventKind::Message | EventKind::Timer => self.turn(event).await,
                    _ => self.handle(event).await,
                }
            }
        }))
        .await;
        for (i, outcome) in others.into_iter().zip(handled) {
            outcomes[i] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Ok(Handled::Done)))
            .collect()
    }

    async fn handle(&self, event: &InboxEvent) -> Outcome {
        match event.kind {
            EventKind::Status => self.delivery_status(event).await.map(|()| Handled::Done),
            EventKind::Message => {
                self.customer_messages(&[event]).await?;
                self.turn(event).await
            }
            EventKind::Timer => self.turn(event).await,
            _ => {
                tracing::debug!(
                    id = event.id,
                    provider = event.provider.as_str(),
                    kind = event.kind.as_str(),
                    conversation = %Masked(&event.conversation_key),
                    "inbox event handled"
                );
                Ok(Handled::Done)
            }
        }
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
}

/// Delay before retry number `attempt` (1-based): 1 s, 2 s, 4 s ... capped at 5 minutes.
pub fn retry_delay(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(2u64.saturating_pow(exp).min(300))
}

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
        }
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
                Err(error) => self.record_failure(event, &error).await,
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
        let retry_at = (event.attempts < self.options.max_attempts).then(|| {
            Utc::now()
                + chrono::Duration::from_std(retry_delay(event.attempts))
                    .unwrap_or(chrono::Duration::seconds(300))
        });
        tracing::warn!(id = event.id, attempt = event.attempts, error = %error, dead = retry_at.is_none(), "inbox event failed");
        match self
            .store
            .fail_inbox(event.id, event.attempts, error, retry_at)
            .await
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_are_capped() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(30), Duration::from_secs(300));
    }
}
