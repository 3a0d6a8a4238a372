//! `POST /webhooks/custom`: the generic signed channel's messages, verified on their raw bytes
//! (`X-Signature`, hex HMAC-SHA256 under `CUSTOM_WEBHOOK_SECRET`), read field by field, and stored
//! in the lane of their conversation (channel `custom`, the salon's number, the customer's) before
//! the 200. Off (503 `not_configured`, as every provider without its secret) until the secret is set.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::{Accepted, WebhookRequest, ingest, signature};
use crate::app::AppState;
use crate::conversation::ConversationKey;
use crate::custom::wire::{MessageIn, WireError};
use crate::error::AppError;
use crate::event::{EventKind, NewInboxEvent, Said, storable_json};
use crate::store::Provider;

/// A message: verified, read, stored before the 200.
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = WebhookRequest::start(&state, Provider::Custom, peer, &headers);
    let result = receive_message(&state, &mut req, &headers, body).await;
    req.finish(&state, result)
}

async fn receive_message(
    state: &AppState,
    req: &mut WebhookRequest,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, AppError> {
    // Never accept unsigned traffic: without the secret there is nothing to verify against.
    let secret = state
        .config
        .custom
        .webhook_secret
        .as_ref()
        .ok_or(AppError::NotConfigured("CUSTOM_WEBHOOK_SECRET"))?;
    let body = req.admit_body(state, headers, body).await?;
    let header = headers.get("x-signature").map(HeaderValue::as_bytes);
    if let Err(err) = signature::verify_hex_header(secret.expose().as_bytes(), header, &body) {
        return Err(req.refuse(state, AppError::InvalidSignature(err)).await);
    }
    let message = MessageIn::parse(&body).map_err(|err| match err {
        WireError::NotJson(reason) => AppError::Malformed(reason),
        WireError::Field { field, reason } => AppError::InvalidField { field, reason },
    })?;
    ingest(
        state,
        Provider::Custom,
        vec![inbox_event(&message, Utc::now())],
    )
    .await
}

/// The inbox row of a verified message: its id is the gateway's `message_id` (the dedup authority),
/// its lane the conversation of the salon's number and the customer.
pub fn inbox_event(message: &MessageIn, received_at: DateTime<Utc>) -> NewInboxEvent {
    let key = ConversationKey::custom(&message.to, message.from.clone());
    NewInboxEvent {
        said: Some(Said::new(message.from.as_str(), Some(&message.text))),
        provider: Provider::Custom,
        provider_event_id: message.message_id.clone(),
        business_id: message.to.to_string(),
        conversation_key: key.to_string(),
        kind: EventKind::Message,
        payload: serde_json::to_string(message)
            .and_then(storable_json)
            .unwrap_or_default(),
        received_at,
    }
}
