//! Deposits in the worker: Stripe's events led to the conversation they concern, and the deposit
//! side of that conversation's turns ([`Deposits`]).
//!
//! **Routing.** Ingress stores an event in its conversation's lane when the deposit it is about is known, and
//! otherwise in a lane of its own (`stripe:<event id>`). Here such an event is led on: into its
//! conversation's lane once the deposit is known ([`Store::route_inbox`]); kept waiting in its lane
//! while it is about a PaymentIntent the bot may not have heard of yet (a refund whose payment's
//! news has not been applied: Stripe does not keep order), for up to [`ROUTE_WAIT`]; and otherwise
//! marked ignored with the reason (an event type the deposits do not act on, or another
//! integration's payment on the same Stripe account). Ignoring is never an error: Stripe would
//! retry a refused event for days and then disable the endpoint.
//!
//! **Turns.** In its conversation's lane a deposit's news (a Stripe event, the answer to one of the
//! bot's calls, the check when a session's time is up) is read into a [`PaymentEvent`] and decided
//! by `booking::payment::decide`; what it decides becomes the turn's deposit and appointment change,
//! its calls to Stripe (outbox rows, see `payment_calls`) and the engine's input when the customer
//! is to be told. The engine's own deposit effects become the same: asking for a deposit creates
//! the session, a refund under the policy is asked for, and a held time given up while its deposit
//! was pending has its session expired at Stripe.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::booking::appointment::AppointmentStatus;
use crate::booking::catalog::{Catalog, ServiceId};
use crate::booking::payment::{Call, Notice, PaymentEvent, RefundStatus, decide};
use crate::engine::effect::{Effect, Turn};
use crate::engine::flow::SystemEvent;
use crate::engine::input::Input;
use crate::engine::state::Conversation;
use crate::event::{EventKind, InboxEvent, NewInboxEvent};
use crate::store::{
    BookingOp, NewOutbound, NewPayment, NewTimer, PaymentChange, PaymentKey, Store, StoredPayment,
    TurnTimer,
};
use crate::stripe::wire::{
    ChargeIn, CheckoutSessionIn, EventIn, PaymentIntentIn, RefundIn, Subject, appointment_in,
    attempt_in,
};
use crate::telemetry::Metrics;
use crate::worker::error::WorkerError;
use crate::worker::inbox::{Handled, Outcome};
use crate::worker::payment_calls::{
    PaymentCall, REFUND_MADE, SESSION_CREATED, SESSION_REFUSED, SESSION_STATE, refund_retry_delay,
};
use crate::worker::retry::RetryPolicy;

/// How long an event about an unknown PaymentIntent waits for its payment's news before it is
/// taken for another integration's and ignored. The bot asks Stripe about every session when it
/// expires (30 minutes to a day after it was created), so a payment whose webhook was lost is
/// known well within this.
pub const ROUTE_WAIT: Duration = Duration::from_secs(6 * 3600);

/// When an event waiting for its payment's news looks again.
const ROUTE_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(5),
    max: Duration::from_secs(600),
    jitter: 0.1,
};

/// What to do with an event not yet in a conversation's lane.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Routing {
    /// Into this lane, of this business.
    To {
        conversation_key: String,
        business_id: String,
    },
    /// Not yet: its payment may not be known yet.
    Wait(String),
    /// Never: the reason.
    Ignore(String),
}

/// Leads a Stripe event out of its own lane: into its conversation's, back to wait, or ignored.
pub async fn route(store: &Store, event: &InboxEvent) -> Outcome {
    let now = Utc::now();
    let routing = routing(store, event).await?;
    let settled = match routing {
        Routing::To {
            conversation_key,
            business_id,
        } => {
            let routed = NewInboxEvent {
                said: None,
                provider: event.provider,
                provider_event_id: format!("{}@routed", event.provider_event_id),
                business_id,
                conversation_key,
                kind: event.kind,
                payload: event.payload.to_string(),
                received_at: event.received_at,
            };
            store
                .route_inbox(event.id, event.attempts, &routed, now)
                .await?
        }
        Routing::Wait(why) => {
            let waited = (now - event.received_at).to_std().unwrap_or_default();
            if waited >= ROUTE_WAIT {
                let reason = format!("{why}, still after {} hours", ROUTE_WAIT.as_secs() / 3600);
                tracing::info!(id = event.id, event = %event.provider_event_id, %reason, "stripe event ignored");
                store
                    .ignore_inbox(event.id, event.attempts, &reason, now)
                    .await?
            } else {
                let at = ROUTE_RETRY.next(event.attempts, now);
                store
                    .defer_inbox(event.id, event.attempts, at, &format!("waiting: {why}"))
                    .await?
            }
        }
        Routing::Ignore(reason) => {
            tracing::info!(id = event.id, event = %event.provider_event_id, %reason, "stripe event ignored");
            store
                .ignore_inbox(event.id, event.attempts, &reason, now)
                .await?
        }
    };
    if !settled {
        tracing::warn!(
            id = event.id,
            "inbox claim was lost before the stripe event was routed"
        );
    }
    Ok(Handled::Settled)
}

async fn routing(store: &Store, event: &InboxEvent) -> Result<Routing, WorkerError> {
    let parsed: EventIn = match serde_json::from_value(event.payload.clone()) {
        Ok(parsed) => parsed,
        Err(err) => return Ok(Routing::Ignore(format!("not a Stripe event: {err}"))),
    };
    let subject = match parsed.subject() {
        Ok(Some(subject)) => subject,
        Ok(None) => {
            return Ok(Routing::Ignore(format!(
                "event type {} is not one the deposits act on",
                parsed.kind
            )));
        }
        Err(err) => {
            return Ok(Routing::Ignore(format!(
                "its object is not what {} carries: {err}",
                parsed.kind
            )));
        }
    };
    if let Some(found) = store.stripe_route(PaymentKey::from(&subject)).await? {
        return Ok(Routing::To {
            conversation_key: found.conversation_key,
            business_id: found.business_id,
        });
    }
    Ok(match subject {
        // Sessions are known from the moment they are asked for: one not known is not ours.
        Subject::Session { session, .. } => Routing::Ignore(format!(
            "no deposit of this bot has Checkout Session {session}"
        )),
        Subject::Payment {
            payment_intent: Some(intent),
            ..
        } => Routing::Wait(format!("no deposit known to be paid by {intent}")),
        Subject::Payment {
            payment_intent: None,
            ..
        } => Routing::Ignore("it names no PaymentIntent and no appointment of this bot".into()),
    })
}

/// The timer of a deposit's check when its session's time is up.
pub const PAYMENT_CHECK: &str = "payment_check";

/// A deposit's news, read from an inbox event.
#[derive(Debug, Clone, PartialEq)]
struct News {
    appointment_id: i64,
    event: PaymentEvent,
    /// The PaymentIntent the news names, to remember.
    payment_intent: Option<String>,
    /// Why something failed, for operators.
    note: Option<String>,
}

/// What a turn changes of deposits, besides what the engine does.
#[derive(Debug, Clone, Default)]
pub struct PaymentPlan {
    /// What the engine is told, when the customer is to hear of the news.
    pub input: Option<Input>,
    pub booking: Vec<BookingOp>,
    /// Calls to Stripe.
    pub calls: Vec<NewOutbound>,
    pub timers: Vec<TurnTimer>,
    pub counts: PaymentCounts,
}

/// Outcomes to count once the turn is committed.
#[derive(Debug, Clone, Default)]
pub struct PaymentCounts {
    pub payments: Vec<&'static str>,
    pub refunds: Vec<&'static str>,
}

impl PaymentCounts {
    /// Counts them (`salonbot_payments_total`, `salonbot_refunds_total`).
    pub fn count(&self, metrics: &Metrics) {
        for outcome in &self.payments {
            metrics.payment(outcome);
        }
        for outcome in &self.refunds {
            metrics.refund(outcome);
        }
    }
}

/// The deposit side of turns.
pub struct Deposits {
    store: Store,
    catalog: Arc<Catalog>,
    success_url: String,
    cancel_url: String,
}

/// Where Checkout sends the customer: the configured pages, else back to the salon's WhatsApp chat.
pub fn return_urls(config: &crate::config::StripeConfig, catalog: &Catalog) -> (String, String) {
    let chat = match &catalog.salon().phone {
        Some(phone) => format!("https://wa.me/{}", phone.trim_start_matches('+')),
        None => "https://wa.me/".to_owned(),
    };
    (
        config.success_url.clone().unwrap_or_else(|| chat.clone()),
        config.cancel_url.clone().unwrap_or(chat),
    )
}

impl Deposits {
    pub fn new(store: Store, catalog: Arc<Catalog>, urls: (String, String)) -> Self {
        Self {
            store,
            catalog,
            success_url: urls.0,
            cancel_url: urls.1,
        }
    }

    /// Whether a claimed event is a deposit's news for its conversation's turn (a Stripe event in
    /// the conversation's lane, an answer to a call, or the check when a session's time is up).
    pub fn is_news(event: &InboxEvent) -> bool {
        match event.kind {
            EventKind::Payment => true,
            EventKind::Timer => event.timer().is_ok_and(|t| t.timer == PAYMENT_CHECK),
            _ => false,
        }
    }

    /// What a deposit's news changes: `None` when it changes nothing (news of a deposit the bot no
    /// longer knows, a session still open when asked). `slot_free` is false when the turn is
    /// planned again because a late payment's time was taken meanwhile.
    pub async fn plan_news(
        &self,
        event: &InboxEvent,
        slot_free: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentPlan>, WorkerError> {
        let Some(news) = self.read_news(event).await? else {
            return Ok(None);
        };
        let id = news.appointment_id;
        let (Some(stored), Some(appointment)) = (
            self.store.payment(id).await?,
            self.store.appointment(id).await?,
        ) else {
            tracing::warn!(appointment = id, event = %event.provider_event_id, "news of a deposit that is not recorded: let go");
            return Ok(None);
        };
        let decision = decide(
            &stored.decision_state(),
            appointment.status,
            slot_free,
            &news.event,
        );
        self.log(&news, &stored, &decision.payments, &decision.refunds);
        let mut plan = PaymentPlan {
            input: decision.notice.map(|notice| Input::Payment {
                event: system_event(notice),
                appointment: id,
                link: (notice == Notice::Link)
                    .then(|| stored.session_url.clone())
                    .flatten(),
            }),
            counts: PaymentCounts {
                payments: decision.payments.clone(),
                refunds: decision.refunds.clone(),
            },
            ..PaymentPlan::default()
        };
        for call in &decision.calls {
            plan.calls.push(self.call_row(event, &stored, call, now));
        }
        if news.event == PaymentEvent::SessionCreated
            && let Some(due) = stored.session_expires_at
        {
            plan.timers.push(check_timer(event, id, due));
        }
        plan.booking.push(BookingOp::Payment(PaymentChange {
            appointment_id: id,
            payment: decision.payment,
            payment_intent: news.payment_intent,
            last_error: news.note,
            appointment: decision.appointment.map(|to| (appointment.status, to)),
        }));
        Ok(Some(plan))
    }

    /// The deposit side of a step's effects: asking for a deposit (the session is created), a
    /// refund under the policy, and a held time given up while its deposit was pending (its
    /// session is expired at Stripe). `before` is the conversation as the step found it.
    pub async fn plan_effects(
        &self,
        event: &InboxEvent,
        before: &Conversation,
        turn: &Turn,
        now: DateTime<Utc>,
    ) -> Result<PaymentPlan, WorkerError> {
        let mut plan = PaymentPlan::default();
        let key = &event.conversation_key;
        for effect in &turn.effects {
            match effect {
                Effect::RequestDeposit => self.request(event, turn, now, &mut plan).await?,
                Effect::Refund(id) => {
                    let Some(stored) = self.store.payment(*id).await? else {
                        continue;
                    };
                    // Cancelled in this same turn (the flow cancels, then refunds).
                    let status = AppointmentStatus::Cancelled;
                    let amount = u64::try_from(stored.amount_minor).unwrap_or(0);
                    let decision = decide(
                        &stored.decision_state(),
                        status,
                        true,
                        &PaymentEvent::RefundAsked { amount },
                    );
                    for call in &decision.calls {
                        plan.calls.push(self.call_row(event, &stored, call, now));
                    }
                    plan.counts.refunds.extend(decision.refunds.iter().copied());
                    plan.booking.push(BookingOp::Payment(PaymentChange {
                        appointment_id: *id,
                        payment: decision.payment,
                        payment_intent: None,
                        last_error: None,
                        appointment: None,
                    }));
                }
                Effect::ReleaseHold if before.slots.deposit_pending => {
                    // The hold itself is let go by the turn (`ReleaseHold`); its payment page is
                    // closed at Stripe, so that nobody pays for a time they no longer hold.
                    for appointment in self.store.conversation_appointments(key).await? {
                        if appointment.status != AppointmentStatus::PendingPayment {
                            continue;
                        }
                        let Some(stored) = self.store.payment(appointment.id).await? else {
                            continue;
                        };
                        let decision = decide(
                            &stored.decision_state(),
                            appointment.status,
                            true,
                            &PaymentEvent::HoldGivenUp,
                        );
                        for call in &decision.calls {
                            plan.calls.push(self.call_row(event, &stored, call, now));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(plan)
    }

    /// Asking for the deposit of the conversation's hold: recorded with the hold's move to
    /// `pending_payment`, and its Checkout Session created by the outbox.
    async fn request(
        &self,
        event: &InboxEvent,
        turn: &Turn,
        now: DateTime<Utc>,
        plan: &mut PaymentPlan,
    ) -> Result<(), WorkerError> {
        let key = &event.conversation_key;
        // The hold the store will move: the conversation's newest that has not run out.
        let held = self
            .store
            .conversation_appointments(key)
            .await?
            .into_iter()
            .filter(|a| {
                a.status == AppointmentStatus::Held && a.hold_expires_at.is_some_and(|at| at > now)
            })
            .max_by_key(|a| a.id);
        let salon = self.catalog.salon();
        let language = turn.state.language.unwrap_or(salon.default_language);
        // Without such a hold, appointment 0 (no row has it) makes the store refuse the turn as
        // a lost hold, and the step is planned again with that news.
        let (appointment_id, amount, service, hold_until) = match &held {
            Some(a) => (
                a.id,
                a.deposit_minor,
                a.service_id.clone(),
                a.hold_expires_at,
            ),
            None => (0, 0, String::new(), None),
        };
        let name = self
            .catalog
            .service(&ServiceId::new(service.clone()))
            .map(|s| s.name.get(language).to_owned())
            .unwrap_or(service);
        plan.booking.push(BookingOp::RequestDeposit(NewPayment {
            appointment_id,
            business_id: event.business_id.clone(),
            conversation_key: key.clone(),
            amount_minor: amount,
            currency: salon.currency.clone(),
        }));
        let call = PaymentCall::CreateSession {
            appointment_id,
            amount: u64::try_from(amount).unwrap_or(0),
            currency: salon.currency.to_ascii_lowercase(),
            name,
            locale: Some(language.as_str().to_owned()),
            hold_until: hold_until.unwrap_or(now),
            success_url: self.success_url.clone(),
            cancel_url: self.cancel_url.clone(),
        };
        plan.calls.push(call.row(
            format!("stripe.session.{appointment_id}"),
            &event.business_id,
            key,
            now,
        ));
        plan.counts.payments.push("requested");
        Ok(())
    }

    /// The outbox row of a call the decision made.
    fn call_row(
        &self,
        event: &InboxEvent,
        stored: &StoredPayment,
        call: &Call,
        now: DateTime<Utc>,
    ) -> NewOutbound {
        let id = stored.appointment_id;
        let (call, key, not_before) = match call {
            Call::ExpireSession => (
                PaymentCall::ExpireSession { appointment_id: id },
                format!("stripe.expire.{id}.{}", event.id),
                now,
            ),
            Call::RetrieveSession => (
                PaymentCall::RetrieveSession { appointment_id: id },
                format!("stripe.retrieve.{id}.{}", event.id),
                now,
            ),
            Call::Refund { amount, attempt } => (
                PaymentCall::Refund {
                    appointment_id: id,
                    amount: *amount,
                    attempt: *attempt,
                },
                format!("stripe.refund.{id}.{attempt}"),
                crate::worker::retry::after(now, refund_retry_delay(*attempt)),
            ),
        };
        call.row(
            key,
            &stored.business_id,
            &stored.conversation_key,
            not_before,
        )
    }

    /// The news an event carries, and which deposit it is about.
    async fn read_news(&self, event: &InboxEvent) -> Result<Option<News>, WorkerError> {
        if event.kind == EventKind::Timer {
            let fired = event
                .timer()
                .map_err(|e| WorkerError::Handler(e.to_string()))?;
            let Some(id) = fired.data.get("appointment").and_then(Value::as_i64) else {
                return Err(WorkerError::Handler(
                    "payment check without an appointment".into(),
                ));
            };
            return Ok(Some(News {
                appointment_id: id,
                event: PaymentEvent::CheckDue,
                payment_intent: None,
                note: None,
            }));
        }
        let parsed: EventIn = match serde_json::from_value(event.payload.clone()) {
            Ok(parsed) => parsed,
            Err(err) => {
                tracing::warn!(id = event.id, error = %err, "payment event unreadable: let go");
                return Ok(None);
            }
        };
        let read = read_event(&parsed).map_err(|e| {
            WorkerError::Handler(format!(
                "{} does not carry what its type says: {e}",
                parsed.kind
            ))
        })?;
        let Some((event, payment_intent, note, appointment)) = read else {
            return Ok(None);
        };
        // Our own news names its appointment; Stripe's is led to it as ingress led it.
        let appointment_id = match appointment {
            Some(id) => Some(id),
            None => match parsed.subject() {
                Ok(Some(subject)) => self
                    .store
                    .stripe_route(PaymentKey::from(&subject))
                    .await?
                    .map(|route| route.appointment_id),
                _ => None,
            },
        };
        let Some(appointment_id) = appointment_id else {
            tracing::warn!(event = %parsed.id, kind = %parsed.kind, "payment event no longer leads to a deposit: let go");
            return Ok(None);
        };
        Ok(Some(News {
            appointment_id,
            event,
            payment_intent,
            note,
        }))
    }

    fn log(&self, news: &News, stored: &StoredPayment, payments: &[&str], refunds: &[&str]) {
        let id = news.appointment_id;
        if payments.contains(&"disputed") {
            tracing::warn!(appointment = id, conversation = %crate::conversation::Masked(&stored.conversation_key),
                "the customer disputed the deposit of appointment {id} with their bank: answer it in Stripe's dashboard");
        }
        if refunds.contains(&"failed") {
            tracing::error!(
                appointment = id,
                reason = news.note.as_deref().unwrap_or_default(),
                "a refund of the deposit of appointment {id} failed; it is asked for again"
            );
        }
        if news.event == PaymentEvent::AttemptFailed {
            tracing::info!(
                appointment = id,
                reason = news.note.as_deref().unwrap_or_default(),
                "a payment attempt was declined (the customer may try again on the same page)"
            );
        }
    }
}

/// Reads a Stripe event (or the news of one of the bot's calls) as a deposit's news: the fact,
/// the PaymentIntent it names, why something failed, and the appointment when the event names it
/// itself (the bot's own news does). `Ok(None)` for news that changes nothing.
#[allow(clippy::type_complexity)] // Read once, right below.
fn read_event(
    event: &EventIn,
) -> Result<Option<(PaymentEvent, Option<String>, Option<String>, Option<i64>)>, serde_json::Error>
{
    let session = || event.object::<CheckoutSessionIn>();
    let paid = |s: &CheckoutSessionIn| {
        matches!(
            s.payment_status.as_deref(),
            Some("paid" | "no_payment_required")
        )
    };
    Ok(Some(match event.kind.as_str() {
        "checkout.session.completed" => {
            let s = session()?;
            (
                PaymentEvent::Completed { paid: paid(&s) },
                s.payment_intent,
                None,
                None,
            )
        }
        "checkout.session.async_payment_succeeded" => (
            PaymentEvent::AsyncSucceeded,
            session()?.payment_intent,
            None,
            None,
        ),
        "checkout.session.async_payment_failed" => (
            PaymentEvent::AsyncFailed,
            session()?.payment_intent,
            None,
            None,
        ),
        "checkout.session.expired" => (PaymentEvent::Expired, None, None, None),
        "charge.refunded" => {
            let charge: ChargeIn = event.object()?;
            let total = u64::try_from(charge.amount_refunded).unwrap_or(0);
            let fact = PaymentEvent::ChargeRefunded {
                total,
                full: charge.refunded,
            };
            (fact, charge.payment_intent, None, None)
        }
        "refund.created" | "refund.updated" | "refund.failed" => {
            let refund: RefundIn = event.object()?;
            let ours = appointment_in(&refund.metadata).is_some();
            let fact = PaymentEvent::Refund {
                status: refund_status(refund.status.as_deref()),
                ours,
                attempt: attempt_in(&refund.metadata),
            };
            (fact, refund.payment_intent, refund.failure_reason, None)
        }
        "charge.dispute.created" => {
            let dispute: crate::stripe::wire::DisputeIn = event.object()?;
            (
                PaymentEvent::Disputed,
                dispute.payment_intent,
                dispute.reason,
                None,
            )
        }
        "payment_intent.payment_failed" => {
            let intent: PaymentIntentIn = event.object()?;
            let note = intent
                .last_payment_error
                .and_then(|e| e.decline_code.or(e.code).or(e.message));
            (PaymentEvent::AttemptFailed, Some(intent.id), note, None)
        }
        SESSION_CREATED => {
            let s = session()?;
            (PaymentEvent::SessionCreated, None, None, s.appointment())
        }
        SESSION_STATE => {
            let s = session()?;
            let fact = match s.status.as_deref() {
                Some("complete") => PaymentEvent::Completed { paid: paid(&s) },
                Some("expired") => PaymentEvent::Expired,
                // Still open (asked before its time was up): nothing to do yet.
                _ => return Ok(None),
            };
            let appointment = s.appointment();
            (fact, s.payment_intent, None, appointment)
        }
        SESSION_REFUSED => {
            let s = session()?;
            let note = event
                .data
                .object
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (PaymentEvent::SessionRefused, None, note, s.appointment())
        }
        REFUND_MADE => {
            let refund: RefundIn = event.object()?;
            let fact = PaymentEvent::Refund {
                status: refund_status(refund.status.as_deref()),
                ours: true,
                attempt: attempt_in(&refund.metadata),
            };
            let appointment = appointment_in(&refund.metadata);
            (
                fact,
                refund.payment_intent,
                refund.failure_reason,
                appointment,
            )
        }
        _ => return Ok(None),
    }))
}

fn refund_status(status: Option<&str>) -> RefundStatus {
    match status {
        Some("succeeded") => RefundStatus::Succeeded,
        Some("failed" | "canceled") => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    }
}

/// The flow's event for what the customer is told.
fn system_event(notice: Notice) -> SystemEvent {
    match notice {
        Notice::Link => SystemEvent::PaymentLink,
        Notice::Confirmed => SystemEvent::PaymentSucceeded,
        Notice::Failed => SystemEvent::PaymentFailed,
        Notice::LateRefund => SystemEvent::PaymentLate,
        Notice::Refunded => SystemEvent::PaymentRefunded,
        Notice::CancelledBySalon => SystemEvent::PaymentCancelled,
    }
}

/// The check of a deposit when its session's time is up.
fn check_timer(event: &InboxEvent, appointment: i64, due: DateTime<Utc>) -> TurnTimer {
    TurnTimer {
        timer: NewTimer {
            key: format!("{}/{PAYMENT_CHECK}:{appointment}", event.conversation_key),
            business_id: event.business_id.clone(),
            conversation_key: event.conversation_key.clone(),
            kind: PAYMENT_CHECK.to_owned(),
            payload: json!({"timer": PAYMENT_CHECK, "appointment": appointment}),
            due_at: due,
        },
        of_confirmed: false,
    }
}
