//! Stripe's side of the outbox: the calls a turn decides ([`PaymentCall`], a row's payload) and the
//! sender the dispatcher hands a claimed Stripe row to ([`PaymentSender`]).
//!
//! A call is made with its row's idempotency key as Stripe's `Idempotency-Key`, so a retry, here
//! or after a crash between Stripe's answer and our commit, is answered with the first result
//! instead of a second session or refund. Beyond Stripe's 24 hours of replays the stored ids are
//! looked at first: a session already recorded is not created again. What Stripe answered is
//! recorded on the deposit and put, as news, in the conversation's lane (an inbox event of the
//! `salonbot.*` types below, shaped like Stripe's events), all in the transaction that settles the
//! row; the turn that applies the news decides what follows and what the customer is told. The
//! sender never writes to the customer itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::event::{EventKind, NewInboxEvent};
use crate::store::{
    CallAnswer, CallOutcome, NewOutbound, Outbound, Provider, Settle, Store, StoreError,
    StoredPayment, provider_lane,
};
use crate::stripe::client::Sandbox;
use crate::stripe::wire::{APPOINTMENT_KEY, ATTEMPT_KEY, CheckoutSessionOut, RefundOut};
use crate::stripe::{StripeApi, StripeError};
use crate::worker::retry::RetryPolicy;

/// News of a session Stripe created for a deposit (its object).
pub const SESSION_CREATED: &str = "salonbot.checkout.session.created";
/// A session as Stripe had it when asked (an expiry's or a retrieval's answer).
pub const SESSION_STATE: &str = "salonbot.checkout.session";
/// Stripe refused to create the session (the object names the appointment and the error).
pub const SESSION_REFUSED: &str = "salonbot.checkout.session.refused";
/// A refund the bot asked for, as Stripe answered (or refused) it.
pub const REFUND_MADE: &str = "salonbot.refund";

/// The shortest life Stripe gives a Checkout Session is 30 minutes from its creation; a minute
/// more covers the time the request takes and clocks that differ a little.
const SESSION_MIN: chrono::Duration = chrono::Duration::minutes(31);
/// The longest Stripe allows.
const SESSION_MAX: chrono::Duration = chrono::Duration::hours(24);
/// Stripe replays a key's first answer for 24 hours; after that the stored ids are the guard.
const REPLAYED_FOR: chrono::Duration = chrono::Duration::hours(23);

/// When a session asked for at `base` expires: with the hold, but within the life Stripe allows.
fn session_expiry(hold_until: DateTime<Utc>, base: DateTime<Utc>) -> i64 {
    hold_until
        .max(base + SESSION_MIN)
        .min(base + SESSION_MAX)
        .timestamp()
}

/// A call to Stripe, as an outbox row stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum PaymentCall {
    /// Create the Checkout Session of a deposit.
    CreateSession {
        appointment_id: i64,
        amount: u64,
        /// ISO 4217, lower-case.
        currency: String,
        /// The service, in the customer's language.
        name: String,
        locale: Option<String>,
        /// The end of the hold: the session lives at least this long (and at least Stripe's 30
        /// minutes, counted when it is created).
        hold_until: DateTime<Utc>,
        success_url: String,
        cancel_url: String,
    },
    /// Expire the deposit's session (or, when Stripe says it is no longer open, ask what it is).
    ExpireSession { appointment_id: i64 },
    /// Ask what became of the deposit's session.
    RetrieveSession { appointment_id: i64 },
    /// Refund (part of) the deposit.
    Refund {
        appointment_id: i64,
        amount: u64,
        attempt: u32,
    },
}

impl PaymentCall {
    pub fn appointment_id(&self) -> i64 {
        match self {
            PaymentCall::CreateSession { appointment_id, .. }
            | PaymentCall::ExpireSession { appointment_id }
            | PaymentCall::RetrieveSession { appointment_id }
            | PaymentCall::Refund { appointment_id, .. } => *appointment_id,
        }
    }

    /// The row's `kind` (the metrics label).
    pub fn kind(&self) -> &'static str {
        match self {
            PaymentCall::CreateSession { .. } => "stripe.session",
            PaymentCall::ExpireSession { .. } => "stripe.expire",
            PaymentCall::RetrieveSession { .. } => "stripe.retrieve",
            PaymentCall::Refund { .. } => "stripe.refund",
        }
    }

    /// The outbox row of this call, in `conversation_key`'s Stripe lane, made no earlier than
    /// `not_before`. `key` is stable for the same call: it is also Stripe's idempotency key.
    pub fn row(
        &self,
        key: String,
        business_id: &str,
        conversation_key: &str,
        not_before: DateTime<Utc>,
    ) -> NewOutbound {
        NewOutbound {
            idempotency_key: key,
            provider: Provider::Stripe,
            business_id: business_id.to_owned(),
            conversation_key: conversation_key.to_owned(),
            recipient: provider_lane(Provider::Stripe, conversation_key),
            kind: self.kind().to_owned(),
            payload: serde_json::to_value(self).unwrap_or(Value::Null),
            created_at: not_before,
        }
    }
}

/// Makes the Stripe calls the dispatcher claims.
#[derive(Clone, Debug)]
pub struct PaymentSender {
    store: Store,
    api: Option<StripeApi>,
    /// The simulated conversations' Stripe ([`crate::chat::is_simulated`]).
    sandbox: StripeApi,
}

/// What to do with a claimed call, once made (or not).
struct Made {
    outcome: CallOutcome,
    /// The news for the conversation: its type and object.
    news: Option<(&'static str, Value)>,
}

impl Made {
    fn answered(answer: CallAnswer, news: Option<(&'static str, Value)>) -> Self {
        Self {
            outcome: CallOutcome::Made(answer),
            news,
        }
    }

    fn given_up(error: String, news: Option<(&'static str, Value)>) -> Self {
        Self {
            outcome: CallOutcome::Failed { error, dead: false },
            news,
        }
    }
}

impl PaymentSender {
    /// `api` is `None` where Stripe is not configured: its rows then fail with that reason. The
    /// simulated conversations' rows go to `sandbox` instead, whatever is configured.
    pub fn new(store: Store, api: Option<StripeApi>, sandbox: Sandbox) -> Self {
        Self {
            store,
            api,
            sandbox: StripeApi::Sandbox(sandbox),
        }
    }

    /// Makes one claimed call and settles it: answered (with its news), retried later, or given up.
    pub async fn send(
        &self,
        row: &Outbound,
        max_attempts: i32,
        retry: RetryPolicy,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let call = match PaymentCall::deserialize(&row.payload) {
            Ok(call) => call,
            Err(err) => {
                return self
                    .give_up(row, format!("unreadable call: {err}"), None)
                    .await;
            }
        };
        let appointment = call.appointment_id();
        let api = if crate::chat::is_simulated(&row.business_id) {
            Some(&self.sandbox)
        } else {
            self.api.as_ref()
        };
        let Some(api) = api else {
            let error = "Stripe is not configured (STRIPE_SECRET_KEY)".to_owned();
            let news = refused(&call, &error);
            return self.give_up(row, error, news).await;
        };
        let Some(payment) = self.store.payment(appointment).await? else {
            let error = format!("no deposit is recorded for appointment {appointment}");
            return self.give_up(row, error, None).await;
        };
        let made = match self.make(api, row, &call, &payment, now).await {
            Ok(made) => made,
            Err(err) if err.is_retryable() && row.attempts < max_attempts => {
                tracing::warn!(id = row.id, attempt = row.attempts, kind = %row.kind, error = %err, "stripe call failed; retried later");
                let settle = Settle::Retry {
                    error: &err.to_string(),
                    code: None,
                    at: retry.next(row.attempts, now),
                };
                self.store
                    .settle_outbox(row.id, row.attempts, settle, now)
                    .await?;
                return Ok(());
            }
            Err(err) => {
                tracing::error!(id = row.id, attempt = row.attempts, kind = %row.kind, error = %err, "stripe call given up");
                let error = err.to_string();
                let news = match &call {
                    PaymentCall::CreateSession { .. } => refused(&call, &error),
                    PaymentCall::Refund {
                        amount, attempt, ..
                    } => Some((
                        REFUND_MADE,
                        json!({"id": "", "object": "refund", "amount": amount, "status": "failed",
                               "failure_reason": error, "payment_intent": payment.payment_intent,
                               "metadata": {APPOINTMENT_KEY: appointment.to_string(),
                                            ATTEMPT_KEY: attempt.to_string()}}),
                    )),
                    _ => None,
                };
                Made {
                    outcome: CallOutcome::Failed {
                        error,
                        dead: err.is_retryable(),
                    },
                    news,
                }
            }
        };
        self.settle(row, appointment, made, now).await
    }

    async fn make(
        &self,
        api: &StripeApi,
        row: &Outbound,
        call: &PaymentCall,
        payment: &StoredPayment,
        now: DateTime<Utc>,
    ) -> Result<Made, StripeError> {
        let key = row.idempotency_key.as_str();
        match call {
            PaymentCall::CreateSession {
                appointment_id,
                amount,
                currency,
                name,
                locale,
                hold_until,
                success_url,
                cancel_url,
            } => {
                // Created already (recorded, with its news, when Stripe answered): never a
                // second session, whatever Stripe's replays still remember.
                if let Some(id) = &payment.session_id {
                    tracing::info!(id = row.id, session = %id, "checkout session already created");
                    return Ok(Made::answered(CallAnswer::Nothing, None));
                }
                // The expiry is worked out from when the row was written, not when it is sent:
                // a try after a crash then repeats the first one's parameters, which Stripe's
                // replay of the key requires. Only when that expiry has come too close for
                // Stripe (so the first try never reached it: Stripe keeps no answer for a
                // refused parameter) is one from now sent, under the same key.
                let first = session_expiry(*hold_until, row.created_at);
                let out = |expires_at| CheckoutSessionOut {
                    appointment_id: *appointment_id,
                    amount: *amount,
                    currency: currency.clone(),
                    name: name.clone(),
                    locale: locale.clone(),
                    expires_at,
                    success_url: success_url.clone(),
                    cancel_url: cancel_url.clone(),
                };
                let (session, expires_at) = match api
                    .create_checkout_session(&out(first), key)
                    .await
                {
                    Ok(session) => (session, first),
                    Err(err)
                        if err.param() == Some("expires_at")
                            && session_expiry(*hold_until, now) != first =>
                    {
                        let fresh = session_expiry(*hold_until, now);
                        tracing::info!(id = row.id, error = %err, "session expiry too close: asking again with one from now");
                        (api.create_checkout_session(&out(fresh), key).await?, fresh)
                    }
                    Err(err) => return Err(err),
                };
                let expires = session
                    .expires_at
                    .and_then(|at| DateTime::from_timestamp(at, 0))
                    .unwrap_or_else(|| {
                        DateTime::from_timestamp(expires_at, 0).unwrap_or(now + SESSION_MIN)
                    });
                let answer = CallAnswer::Session {
                    id: session.id.clone(),
                    url: session.url.clone(),
                    expires_at: expires,
                };
                Ok(Made::answered(
                    answer,
                    Some((SESSION_CREATED, object(&session))),
                ))
            }
            PaymentCall::ExpireSession { .. } => {
                let Some(id) = &payment.session_id else {
                    // Never created: there is nothing anyone could pay.
                    return Ok(Made::answered(CallAnswer::Nothing, None));
                };
                let session = match api.expire_checkout_session(id, key).await {
                    Ok(session) => session,
                    // No longer open (paid, or expired already): ask what it is.
                    Err(err) if !err.is_retryable() => {
                        tracing::info!(session = %id, error = %err, "checkout session not expired: asking Stripe what it is");
                        api.retrieve_checkout_session(id).await?
                    }
                    Err(err) => return Err(err),
                };
                Ok(Made::answered(
                    CallAnswer::Nothing,
                    Some((SESSION_STATE, object(&session))),
                ))
            }
            PaymentCall::RetrieveSession { .. } => {
                let Some(id) = &payment.session_id else {
                    return Ok(Made::answered(CallAnswer::Nothing, None));
                };
                let session = api.retrieve_checkout_session(id).await?;
                Ok(Made::answered(
                    CallAnswer::Nothing,
                    Some((SESSION_STATE, object(&session))),
                ))
            }
            PaymentCall::Refund {
                appointment_id,
                amount,
                attempt,
            } => {
                let Some(intent) = &payment.payment_intent else {
                    return Ok(Made::given_up(
                        "no PaymentIntent is known for this deposit".into(),
                        None,
                    ));
                };
                // Past Stripe's replays, a refund recorded (and not failed) is not made again.
                if now - row.created_at > REPLAYED_FOR
                    && payment.refund_id.is_some()
                    && payment.refund_status != Some(crate::booking::payment::RefundStatus::Failed)
                {
                    return Ok(Made::answered(CallAnswer::Nothing, None));
                }
                let out = RefundOut {
                    appointment_id: *appointment_id,
                    payment_intent: intent.clone(),
                    amount: *amount,
                    attempt: *attempt,
                };
                let refund = api.create_refund(&out, key).await?;
                let answer = CallAnswer::Refund {
                    id: refund.id.clone(),
                };
                Ok(Made::answered(answer, Some((REFUND_MADE, object(&refund)))))
            }
        }
    }

    async fn give_up(
        &self,
        row: &Outbound,
        error: String,
        news: Option<(&'static str, Value)>,
    ) -> Result<(), StoreError> {
        tracing::error!(id = row.id, kind = %row.kind, error = %error, "stripe call given up");
        let appointment = PaymentCall::deserialize(&row.payload)
            .map(|c| c.appointment_id())
            .unwrap_or_default();
        self.settle(row, appointment, Made::given_up(error, news), Utc::now())
            .await
    }

    async fn settle(
        &self,
        row: &Outbound,
        appointment: i64,
        made: Made,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let news = made.news.map(|(kind, object)| news(row, kind, object, now));
        let settled = self
            .store
            .settle_payment_call(
                (row.id, row.attempts),
                appointment,
                &made.outcome,
                news.as_ref(),
                now,
            )
            .await?;
        if !settled {
            tracing::warn!(
                id = row.id,
                "outbox claim was lost before the stripe call was settled"
            );
        }
        Ok(())
    }
}

/// The news of a session that could not be created.
fn refused(call: &PaymentCall, error: &str) -> Option<(&'static str, Value)> {
    match call {
        PaymentCall::CreateSession { appointment_id, .. } => Some((
            SESSION_REFUSED,
            json!({"id": "", "object": "checkout.session", "error": error,
                   "metadata": {APPOINTMENT_KEY: appointment_id.to_string()}}),
        )),
        _ => None,
    }
}

fn object<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The inbox event carrying a call's answer into the conversation's lane, shaped like a Stripe
/// event; its id is the row's key, so it is stored once however often the row is settled.
fn news(row: &Outbound, kind: &str, object: Value, now: DateTime<Utc>) -> NewInboxEvent {
    news_event(
        format!("salonbot:{}", row.idempotency_key),
        &row.business_id,
        &row.conversation_key,
        kind,
        object,
        now,
    )
}

/// A deposit's news (`kind`, one of the `salonbot.*` types above, about `object`) as an inbox
/// event of the conversation's lane, stored once under `id`.
pub fn news_event(
    id: String,
    business_id: &str,
    conversation_key: &str,
    kind: &str,
    object: Value,
    now: DateTime<Utc>,
) -> NewInboxEvent {
    NewInboxEvent {
        said: None,
        provider: Provider::Stripe,
        provider_event_id: id.clone(),
        business_id: business_id.to_owned(),
        conversation_key: conversation_key.to_owned(),
        kind: EventKind::Payment,
        payload: json!({"id": id, "object": "event", "type": kind, "created": now.timestamp(),
                        "data": {"object": object}})
        .to_string(),
        received_at: now,
    }
}

/// When a refund Stripe reported failed is asked for again: an hour later per attempt so far.
pub fn refund_retry_delay(attempt: u32) -> Duration {
    Duration::from_secs(3600 * u64::from(attempt.saturating_sub(1)))
}
