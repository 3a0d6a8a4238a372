//! Deposits in the worker: Stripe's events led to the conversation they concern.
//!
//! Ingress stores an event in its conversation's lane when the deposit it is about is known, and
//! otherwise in a lane of its own (`stripe:<event id>`). Here such an event is led on: into its
//! conversation's lane once the deposit is known ([`Store::route_inbox`]); kept waiting in its lane
//! while it is about a PaymentIntent the bot may not have heard of yet (a refund whose payment's
//! news has not been applied: Stripe does not keep order), for up to [`ROUTE_WAIT`]; and otherwise
//! marked ignored with the reason (an event type the deposits do not act on, or another
//! integration's payment on the same Stripe account). Ignoring is never an error: Stripe would
//! retry a refused event for days and then disable the endpoint.

use std::time::Duration;

use chrono::Utc;

use crate::event::{InboxEvent, NewInboxEvent};
use crate::store::{PaymentKey, Store};
use crate::stripe::wire::{EventIn, Subject};
use crate::worker::error::WorkerError;
use crate::worker::inbox::{Handled, Outcome};
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
