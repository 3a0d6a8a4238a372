//! `POST /webhooks/stripe`: Stripe's events, verified on their raw bytes, stored in the lane of the
//! conversation whose deposit they concern, and acknowledged only after the commit.
//!
//! Stripe retries an event it got no 2xx for during up to three days, in no particular order, and
//! disables an endpoint that keeps refusing; so every verified event is stored and answered 200,
//! also those the bot does not act on (another integration's payments on the same account, event
//! types it does not use): the worker marks those ignored, with the reason. An event is led to its
//! conversation here when its deposit is known ([`route`]); one whose deposit is not known yet (a
//! refund whose payment's news has not been applied) waits in a lane of its own
//! ([`crate::event::unrouted_lane`]) until the worker can lead it there.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::{Accepted, WebhookRequest, ingest, signature};
use crate::app::AppState;
use crate::error::AppError;
use crate::event::{EventKind, NewInboxEvent, unrouted_lane};
use crate::store::{PaymentRoute, Provider, Store, StoreError};
use crate::stripe::wire::EventIn;

/// An event: verified, parsed, led to its conversation and stored before the 200.
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = WebhookRequest::start(&state, Provider::Stripe, peer, &headers);
    let result = receive_event(&state, &mut req, &headers, body).await;
    req.finish(&state, result)
}

async fn receive_event(
    state: &AppState,
    req: &mut WebhookRequest,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, AppError> {
    // Never accept unsigned traffic: without a secret there is nothing to verify against.
    let stripe = &state.config.stripe;
    if stripe.webhook_secrets.is_empty() {
        return Err(AppError::NotConfigured("STRIPE_WEBHOOK_SECRET"));
    }
    let body = req.admit_body(state, headers, body).await?;
    let secrets: Vec<&[u8]> = stripe
        .webhook_secrets
        .iter()
        .map(|s| s.expose().as_bytes())
        .collect();
    let header = headers.get("stripe-signature").map(HeaderValue::as_bytes);
    let now = Utc::now();
    if let Err(err) = signature::verify_stripe_header(
        &secrets,
        header,
        &body,
        now.timestamp(),
        stripe.webhook_tolerance.as_secs(),
    ) {
        return Err(req.refuse(state, AppError::InvalidSignature(err)).await);
    }
    let event: EventIn =
        serde_json::from_slice(&body).map_err(|e| AppError::Malformed(e.to_string()))?;
    let payload =
        String::from_utf8(body.to_vec()).map_err(|e| AppError::Malformed(e.to_string()))?;
    let handled = event.is_handled();
    let new = inbox_event(&state.store, &event, payload, now)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "stripe event not routed");
            AppError::Unavailable
        })?;
    let mut accepted = ingest(state, Provider::Stripe, vec![new]).await?;
    if !handled && accepted.new > 0 {
        accepted.outcome = "ignored";
    }
    Ok(accepted)
}

/// The inbox row of a verified event: in its conversation's lane when its deposit is known, else
/// in a lane of its own.
pub async fn inbox_event(
    store: &Store,
    event: &EventIn,
    payload: String,
    received_at: DateTime<Utc>,
) -> Result<NewInboxEvent, StoreError> {
    let (business_id, conversation_key) = match route(store, event).await? {
        Some(PaymentRoute {
            business_id,
            conversation_key,
            ..
        }) => (business_id, conversation_key),
        None => (
            Provider::Stripe.as_str().to_owned(),
            unrouted_lane(Provider::Stripe, &event.id),
        ),
    };
    Ok(NewInboxEvent {
        said: None,
        provider: Provider::Stripe,
        provider_event_id: event.id.clone(),
        business_id,
        conversation_key,
        kind: EventKind::Payment,
        payload,
        received_at,
    })
}

/// The deposit an event is about, when it is one of ours that the store knows; `None` for event
/// types the deposits do not act on, objects of another shape, and deposits not (yet) known.
pub async fn route(store: &Store, event: &EventIn) -> Result<Option<PaymentRoute>, StoreError> {
    match event.subject() {
        Ok(Some(subject)) => store.stripe_route((&subject).into()).await,
        Ok(None) | Err(_) => Ok(None),
    }
}
