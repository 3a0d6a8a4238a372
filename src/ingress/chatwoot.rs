//! `POST /webhooks/chatwoot` (alias `/webhook/chatwoot`): Chatwoot's events, authenticated on their
//! raw bytes, stored in the lane of the customer's conversation and acknowledged after the commit.
//!
//! Chatwoot times a bot's webhook out after 5 seconds and, for an agent bot, moves a pending
//! conversation to `open` when a delivery fails; so nothing is done here but verify, parse, lead and
//! store; the work happens in the conversation's lane. Every verified event is answered 200: the ones
//! the bot does not act on (its own messages echoed back, private notes, events it does not use) are
//! stored as ignored, with the reason logged. The same message delivered twice (to the account
//! webhook and the inbox webhook on one URL, or Chatwoot's retry) is one event
//! ([`EventIn::dedup_id`]).
//!
//! An event is led to its conversation by the Chatwoot conversation the bot remembered creating
//! (mirror mode), else by the customer's phone on the configured business number.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::Utc;

use super::{Accepted, WebhookRequest, ingest, signature};
use crate::app::AppState;
use crate::chatwoot::wire::{EventIn, Meaning, Reading};
use crate::config::ChatwootMode;
use crate::conversation::{ConversationKey, CustomerId, E164, Masked};
use crate::error::AppError;
use crate::event::{EventKind, NewInboxEvent, Said, storable_json, unrouted_lane};
use crate::store::Provider;

/// How old a signature's timestamp may be (as far ahead too).
pub const TOLERANCE_SECS: u64 = 300;

/// An event: authenticated, parsed, led to its conversation and stored before the 200.
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = WebhookRequest::start(&state, Provider::Chatwoot, peer, &headers);
    let result = receive_event(&state, &mut req, query.as_deref(), &headers, body).await;
    req.finish(&state, result)
}

async fn receive_event(
    state: &AppState,
    req: &mut WebhookRequest,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, AppError> {
    // Never accept unauthenticated traffic: without a secret there is nothing to check against.
    let Some(secret) = &state.config.chatwoot.webhook_secret else {
        return Err(AppError::NotConfigured("CHATWOOT_WEBHOOK_SECRET"));
    };
    let body = req.admit_body(state, headers, body).await?;
    if let Err(err) = authenticate(secret.expose().as_bytes(), query, headers, &body) {
        return Err(req.refuse(state, AppError::InvalidSignature(err)).await);
    }
    let event: EventIn =
        serde_json::from_slice(&body).map_err(|e| AppError::Malformed(e.to_string()))?;
    let payload = String::from_utf8(body.to_vec())
        .map_err(|e| AppError::Malformed(e.to_string()))
        .and_then(|json| storable_json(json).map_err(|e| AppError::Malformed(e.to_string())))?;
    let id = event.dedup_id(&body);
    let meaning = event.meaning(match state.config.chatwoot.mode {
        ChatwootMode::Mirror => Reading::Mirror,
        ChatwootMode::Channel => Reading::Channel,
    });
    let lane = match &meaning {
        Meaning::Ignore(_) => None,
        _ => route(state, &event).await?,
    };
    let (business_id, conversation_key, kind) = match (&meaning, lane) {
        (Meaning::Ignore(why), _) => {
            tracing::debug!(event = %event.event, reason = why, "chatwoot event ignored");
            ignored(&id)
        }
        (_, None) => {
            tracing::info!(event = %event.event, conversation = ?event.conversation_id(), "chatwoot event ignored: no customer conversation to lead it to (no phone we can key)");
            ignored(&id)
        }
        (_, Some((business, key))) => (business, key, EventKind::Staff),
    };
    // A customer's words through Chatwoot (channel mode) are listed with the other channels', the
    // bot's to act on or not (a person has the conversation): whose they are, by the customer of
    // the conversation they were led to, else by the phone Chatwoot has.
    let said = match (state.config.chatwoot.mode, event.meaning(Reading::Stored)) {
        (ChatwootMode::Channel, Meaning::CustomerWrote { text }) => {
            ConversationKey::parse(&conversation_key)
                .map(|key| key.customer.to_string())
                .or_else(|| event.phone())
                .map(|from| Said::new(&from, Some(&text)))
        }
        _ => None,
    };
    let new = NewInboxEvent {
        said,
        provider: Provider::Chatwoot,
        provider_event_id: id,
        business_id,
        conversation_key,
        kind,
        payload,
        received_at: Utc::now(),
    };
    let mut accepted = ingest(state, Provider::Chatwoot, vec![new]).await?;
    if kind == EventKind::Other && accepted.new > 0 {
        accepted.outcome = "ignored";
    }
    Ok(accepted)
}

/// The lane of an event the bot does not act on: one of its own, marked done by the worker.
fn ignored(id: &str) -> (String, String, EventKind) {
    (
        Provider::Chatwoot.as_str().to_owned(),
        unrouted_lane(Provider::Chatwoot, id),
        EventKind::Other,
    )
}

/// The signature when Chatwoot sent one (4.12+), else the `?token=` of versions that sign nothing.
fn authenticate(
    secret: &[u8],
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), signature::SignatureError> {
    let header = |name: &str| headers.get(name).map(HeaderValue::as_bytes);
    if let Some(sig) = header("x-chatwoot-signature") {
        return signature::verify_chatwoot_headers(
            secret,
            Some(sig),
            header("x-chatwoot-timestamp"),
            body,
            Utc::now().timestamp(),
            TOLERANCE_SECS,
        );
    }
    let token = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "token")
            .map(|(_, value)| percent_decode(value))
    });
    match token {
        Some(token) if signature::token_matches(secret, &token) => Ok(()),
        Some(_) => Err(signature::SignatureError::Mismatch),
        None => Err(signature::SignatureError::Missing),
    }
}

fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The customer conversation an event is about: the one whose Chatwoot conversation it names, else
/// the customer's phone on the configured business number.
async fn route(state: &AppState, event: &EventIn) -> Result<Option<(String, String)>, AppError> {
    if let Some(id) = event.conversation_id() {
        let found = state.store.chatwoot_route(id).await.map_err(|err| {
            tracing::warn!(error = %err, "chatwoot event not routed");
            AppError::Unavailable
        })?;
        if let Some(route) = found {
            return Ok(Some((route.business_id, route.conversation_key)));
        }
    }
    // Channel mode may run without a WhatsApp number of the bot's own: the account stands for it.
    let Some(business) = state.config.salon_business() else {
        return Ok(None);
    };
    let Some(phone) = event.phone().and_then(|p| E164::parse(&p)) else {
        return Ok(None);
    };
    let key = ConversationKey::whatsapp(business.clone(), CustomerId::Phone(phone)).to_string();
    tracing::debug!(conversation = %Masked(&key), "chatwoot event led by the customer's phone");
    Ok(Some((business, key)))
}
