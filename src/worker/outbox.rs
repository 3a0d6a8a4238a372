//! The outbox dispatcher: sends stored messages through the WhatsApp client and settles each row by
//! what Meta answered.
//!
//! - sent: the `wamid` is stored; Meta's status webhooks take it from there;
//! - transient failure: retried later with exponential backoff (jittered, capped), `dead` after the
//!   retry budget, with the last error;
//! - pair rate limit (131056): retried to that recipient after 4^n seconds, as Meta advises;
//! - undeliverable or rejected: `failed` with Meta's reason, visible to operators, no retry;
//! - token invalid (190) or account restricted (368, 131031): sending stops, the row is put back
//!   untouched, `/health/ready` says why, and one message is tried again every `probe_every` until it
//!   goes through; then sending resumes.
//!
//! One recipient's messages leave in order (the store hands out only the oldest open row of each), and
//! a recipient whose message waits for a retry holds back no one else.
//!
//! Messages Meta accepted are recorded before anything else of their batch, and a store that fails
//! at that moment is waited for while the claims last, so a storage hiccup does not send them twice.
//! A crash after Meta accepted a message but before the row was settled sends it again once the lease
//! ends: a rare duplicate, preferred to a lost reply.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};

use crate::config::Reengagement;
use crate::store::{NewOutbound, Outbound, Provider, Settle, Store, StoreError};
use crate::whatsapp::client::WhatsAppSender;
use crate::whatsapp::error::{SendError, pair_rate_limit_delay};
use crate::whatsapp::messages::{LimitViolation, OutboundMessage, Recipient};
use crate::worker::custom_replies::CustomSender;
use crate::worker::pacing::Pacer;
use crate::worker::payment_calls::PaymentSender;
use crate::worker::retry::{RetryPolicy, after};
use crate::worker::staff::StaffSender;
use crate::worker::window::{self, Window};

#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Messages claimed at once (each to a different recipient).
    pub batch: u32,
    /// How long a claim holds before another dispatcher may take the message over.
    pub lease: Duration,
    /// Longest sleep when idle.
    pub poll: Duration,
    /// Attempts before a message is dead.
    pub max_attempts: i32,
    /// First retry delay; doubled per attempt, capped at `max_retry_delay`.
    pub base_retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// While paused (token or account problem), how often one message is tried.
    pub probe_every: Duration,
    /// Template sent instead of free-form messages outside the 24-hour window.
    pub reengagement: Option<Reengagement>,
    /// Shortest time from one claim to the next while batches come back part-full (as for the inbox
    /// worker): replies queued meanwhile leave together.
    pub gather: Duration,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            batch: 128,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(250),
            max_attempts: 10,
            base_retry_delay: Duration::from_secs(2),
            max_retry_delay: Duration::from_secs(600),
            probe_every: Duration::from_secs(30),
            reengagement: None,
            gather: Duration::from_millis(20),
        }
    }
}

/// Whether sending is paused, and why: shared with `/health/ready`.
#[derive(Debug, Default)]
pub struct SendingState {
    paused: Mutex<Option<String>>,
}

impl SendingState {
    /// The reason sending is paused, if it is.
    pub fn paused(&self) -> Option<String> {
        self.paused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn pause(&self, reason: String) {
        let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none() {
            tracing::error!(reason = %reason, "WhatsApp sending paused: an operator must act");
        }
        *paused = Some(reason);
    }

    fn resume(&self) {
        let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        if paused.take().is_some() {
            tracing::warn!("WhatsApp sending resumed");
        }
    }
}

pub struct Dispatcher {
    store: Store,
    window: Window,
    sender: WhatsAppSender,
    /// Stripe's calls, when a sender for them is plugged in.
    payments: Option<PaymentSender>,
    /// Chatwoot's calls (the staff inbox), when a sender for them is plugged in.
    staff: Option<StaffSender>,
    /// The generic signed channel's replies, when a sender for them is plugged in.
    custom: Option<CustomSender>,
    state: Arc<SendingState>,
    wake: Arc<Notify>,
    options: DispatchOptions,
    pacer: Arc<Pacer>,
}

impl DispatchOptions {
    /// When a message that failed for a passing reason is tried again: doubling from
    /// `base_retry_delay` up to `max_retry_delay`, with a quarter of jitter.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            base: self.base_retry_delay,
            max: self.max_retry_delay,
            jitter: 0.25,
        }
    }
}

impl Dispatcher {
    pub fn new(
        store: Store,
        sender: WhatsAppSender,
        state: Arc<SendingState>,
        wake: Arc<Notify>,
        options: DispatchOptions,
    ) -> Self {
        Self {
            window: Window::new(store.clone(), options.reengagement.clone()),
            store,
            sender,
            payments: None,
            staff: None,
            custom: None,
            state,
            wake,
            options,
            pacer: Arc::new(Pacer::off()),
        }
    }

    /// Paces sends per business number and per customer (none by default).
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// Hands Stripe's rows to `payments`.
    pub fn with_payments(mut self, payments: PaymentSender) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Hands Chatwoot's rows to `staff`.
    pub fn with_staff(mut self, staff: StaffSender) -> Self {
        self.staff = Some(staff);
        self
    }

    /// Hands the generic signed channel's rows to `custom`.
    pub fn with_custom(mut self, custom: CustomSender) -> Self {
        self.custom = Some(custom);
        self
    }

    /// Claims and sends one batch, each row by its provider's sender; returns how many rows it
    /// took care of. While WhatsApp sending is paused only one WhatsApp message is tried, as a
    /// probe, and the others are put back untouched (not counted); other providers' calls go on.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = Utc::now();
        let claimed = self
            .store
            .claim_outbox(now, after(now, self.options.lease), self.options.batch)
            .await?;
        let (messages, calls): (Vec<&Outbound>, Vec<&Outbound>) = claimed
            .iter()
            .partition(|row| row.provider == Provider::WhatsApp);
        let (put_back, ()) =
            tokio::try_join!(self.send_messages(&messages, now), self.make_calls(&calls))?;
        Ok(claimed.len() - put_back)
    }

    /// Makes other providers' calls (and sends the generic channel's replies), each by its sender.
    async fn make_calls(&self, calls: &[&Outbound]) -> Result<(), StoreError> {
        let results = futures_util::future::join_all(calls.iter().map(|row| async move {
            match (row.provider, &self.payments, &self.staff, &self.custom) {
                (Provider::Stripe, Some(payments), ..) => {
                    payments
                        .send(row, self.options.max_attempts, self.options.retry())
                        .await
                }
                (Provider::Chatwoot, _, Some(staff), _) => {
                    staff
                        .send(row, self.options.max_attempts, self.options.retry())
                        .await
                }
                // The channel's replies: no 24-hour window and no Meta pacing apply to them.
                (Provider::Custom, _, _, Some(custom)) => {
                    custom
                        .send(row, self.options.max_attempts, self.options.retry())
                        .await
                }
                (provider, ..) => {
                    let error = format!("no sender for {provider} calls is configured");
                    tracing::error!(id = row.id, %error, "outbox row given up");
                    let settle = Settle::Fail {
                        error: &error,
                        code: None,
                        dead: false,
                    };
                    self.store
                        .settle_outbox(row.id, row.attempts, settle, Utc::now())
                        .await
                        .map(|_| ())
                }
            }
        }))
        .await;
        results.into_iter().collect()
    }

    /// Sends claimed WhatsApp messages; returns how many were put back because sending is paused.
    async fn send_messages(
        &self,
        claimed: &[&Outbound],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let paused = self.state.paused().is_some();
        let mut put_back = 0;
        // Outside the customer's 24-hour window only templates may be sent: the others wait for the
        // customer to write again, and the re-engagement template goes out instead.
        let mut to_send = Vec::with_capacity(claimed.len());
        for (i, &message) in claimed.iter().enumerate() {
            if paused && i > 0 {
                // Paused: one probe per round; the others back in line, untouched.
                let at = after(now, self.options.probe_every);
                self.store
                    .settle_outbox(message.id, message.attempts, Settle::Release { at }, now)
                    .await?;
                put_back += 1;
            } else if message.kind != "template" && !window::is_open(message.last_inbound_at, now) {
                self.window
                    .park_claimed(message, "outside the 24-hour window")
                    .await?;
            } else if crate::chat::is_simulated(&message.business_id) {
                // The simulator's made-up customer: no pacing for a phone that is not there.
                to_send.push(message);
            } else if let Err(wait) = self.pacer.recipient_ready(&message.recipient).await {
                // Too soon after this customer's previous message: back in line until its turn.
                self.store
                    .settle_outbox(
                        message.id,
                        message.attempts,
                        Settle::Release {
                            at: after(now, wait),
                        },
                        now,
                    )
                    .await?;
            } else {
                to_send.push(message);
            }
        }
        let results = futures_util::future::join_all(to_send.iter().map(|m| async {
            // The staff pages' simulator talks to the bot through the server's own inbox; its
            // customer is made up, so its replies never leave the machine whatever the sender.
            if crate::chat::is_simulated(&m.business_id) {
                return WhatsAppSender::Sandbox.send(&m.kind, &m.payload).await;
            }
            self.pacer.acquire().await;
            self.sender.send(&m.kind, &m.payload).await
        }))
        .await;
        // Accepted messages are recorded first, together in one statement: Meta has them, so they
        // must not wait behind anything that could fail. Failures are settled one by one afterwards.
        let mut sent = Vec::with_capacity(claimed.len());
        let mut failed = Vec::new();
        for (message, result) in to_send.into_iter().zip(results) {
            match result {
                Ok(answer) => sent.push((message.id, message.attempts, answer.wamid)),
                Err(err) => failed.push((message, err)),
            }
        }
        if !sent.is_empty() {
            self.state.resume();
            self.record_sent(&sent).await;
        }
        for (message, err) in failed {
            self.settle_failure(message, err).await?;
        }
        Ok(put_back)
    }

    /// Records messages Meta accepted. While the store cannot take it, tries again (backing off) for
    /// as long as the claims last: a message left `sending` is sent again once its claim ends, and the
    /// customer would get it twice. Only after that, or for a store failure that will not pass, is the
    /// error logged and given up.
    async fn record_sent(&self, sent: &[(i64, i32, String)]) {
        let policy = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(Duration::from_millis(50))
            .with_max_interval(Duration::from_secs(5))
            .with_max_elapsed_time(Some(self.options.lease))
            .build();
        let attempt = || async {
            self.store
                .outbox_sent(sent, Utc::now())
                .await
                .map_err(|err| match err {
                    StoreError::Corrupt(_) => backoff::Error::permanent(err),
                    err => backoff::Error::transient(err),
                })
        };
        let retried = |err: StoreError, wait: Duration| {
            tracing::warn!(error = %err, retry_in = ?wait, messages = sent.len(), "accepted messages not recorded yet");
        };
        match backoff::future::retry_notify(policy, attempt, retried).await {
            Ok(settled) if settled < sent.len() as u64 => tracing::warn!(
                lost = sent.len() as u64 - settled,
                "outbox claims were lost before their messages were settled"
            ),
            Ok(_) => {}
            Err(err) => {
                let ids: Vec<i64> = sent.iter().map(|(id, ..)| *id).collect();
                tracing::error!(error = %err, ?ids, "messages Meta accepted could not be recorded: they will be sent again when their claims end");
            }
        }
    }

    async fn settle_failure(&self, message: &Outbound, err: SendError) -> Result<(), StoreError> {
        if err == SendError::OutsideWindow {
            // Meta knows best: our record of the customer's last message was off.
            return self
                .window
                .park_claimed(message, "outside the 24-hour window (Meta 131047)")
                .await;
        }
        let now = Utc::now();
        let error = err.to_string();
        let settle = match &err {
            err if err.stops_sending() => {
                self.state.pause(error.clone());
                Settle::Release {
                    at: after(now, self.options.probe_every),
                }
            }
            err if err.is_retryable() && message.attempts >= self.options.max_attempts => {
                Settle::Fail {
                    error: &error,
                    code: err.code(),
                    dead: true,
                }
            }
            SendError::PairRateLimited => Settle::Retry {
                error: &error,
                code: err.code(),
                at: after(
                    now,
                    pair_rate_limit_delay(u32::try_from(message.attempts).unwrap_or(1)),
                ),
            },
            SendError::Transient { retry_after, .. } => Settle::Retry {
                error: &error,
                code: err.code(),
                at: after(
                    now,
                    retry_after
                        .unwrap_or_default()
                        .max(self.options.retry().delay(message.attempts)),
                ),
            },
            // Not retried: undeliverable or rejected.
            err => Settle::Fail {
                error: &error,
                code: err.code(),
                dead: false,
            },
        };
        tracing::warn!(
            id = message.id,
            attempt = message.attempts,
            class = err.label(),
            error = %err,
            "outbound message not sent"
        );
        if !self
            .store
            .settle_outbox(message.id, message.attempts, settle, now)
            .await?
        {
            tracing::warn!(
                id = message.id,
                "outbox claim was lost before the message was settled"
            );
        }
        Ok(())
    }

    /// Runs until `shutdown` turns true, finishing the batch in hand.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let paused = self.state.paused().is_some();
            let started = tokio::time::Instant::now();
            let idle = match self.run_once().await {
                Ok(0) => true,
                Ok(_) if paused => true,
                Ok(n) => {
                    let options = &self.options;
                    super::gather(n, options.batch, started, options.gather, &mut shutdown).await;
                    false
                }
                Err(err) => {
                    tracing::warn!(error = %err, "outbox claim failed");
                    true
                }
            };
            if idle {
                let wait = if self.state.paused().is_some() {
                    self.options.probe_every
                } else {
                    self.options.poll
                };
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

/// The outbox rows for one message the bot wants to send. A text too long for one WhatsApp message
/// becomes several, in order (idempotency keys `{key}.0`, `{key}.1`, ...); labels and titles over
/// WhatsApp's limits are shortened with an ellipsis. Each change is logged as a warning and returned.
pub fn rows_for(
    message: OutboundMessage,
    key: &str,
    business_id: &str,
    conversation_key: &str,
    now: DateTime<Utc>,
) -> (Vec<NewOutbound>, Vec<LimitViolation>) {
    let (parts, changes) = message.into_sendable();
    for change in &changes {
        tracing::warn!(key, conversation = %crate::conversation::Masked(conversation_key), "message adapted to WhatsApp's limits: {change}");
    }
    let rows = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| NewOutbound {
            idempotency_key: format!("{key}.{i}"),
            provider: crate::store::Provider::WhatsApp,
            business_id: business_id.to_owned(),
            conversation_key: conversation_key.to_owned(),
            recipient: match &part.to {
                Recipient::Phone(phone) => phone.clone(),
                Recipient::BusinessScopedUser(id) => id.clone(),
            },
            kind: part.kind().to_owned(),
            payload: part.to_json(),
            created_at: now,
        })
        .collect();
    (rows, changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_with_a_little_jitter_and_a_cap() {
        let o = DispatchOptions::default();
        for (attempt, base) in [(1, 2), (2, 4), (3, 8), (20, 600)] {
            let d = o.retry().delay(attempt);
            let base = Duration::from_secs(base);
            assert!(d >= base && d <= base.mul_f64(1.25), "{attempt}: {d:?}");
        }
    }
}
