//! `GET /webhooks/whatsapp` (Meta's verification handshake) and `POST /webhooks/whatsapp` (notifications),
//! and the translation of WhatsApp's typed events into inbox rows ([`inbox_events`]), which the
//! simulator shares so that its events are stored exactly as a real webhook's.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{Accepted, WebhookRequest, ingest, signature};
use crate::app::AppState;
use crate::error::AppError;
use crate::event::{EventKind, NewInboxEvent};
use crate::store::{AuditRecord, Provider};
use crate::whatsapp::webhook::{NotificationIn, WebhookEvent, WebhookEventKind};

/// The handshake's query: `hub.mode`, `hub.verify_token`, `hub.challenge`.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta subscribes a webhook by calling it with `hub.mode=subscribe` and our verify token; we echo the
/// challenge as plain text. A wrong token spends the caller's failed-authentication budget.
pub async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<VerifyQuery>,
) -> Response {
    let mut req = WebhookRequest::start(&state, Provider::WhatsApp, peer, &headers);
    let result = check_handshake(&state, &mut req, query).await;
    let outcome = if result.is_ok() {
        "verified"
    } else {
        "verification_refused"
    };
    let (status, response) = match result {
        Ok(challenge) => {
            let mut response = challenge.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response.headers_mut().insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            (200, response)
        }
        Err(err) => (err.status().as_u16(), err.into_response()),
    };
    state.audit.record(AuditRecord {
        provider: Provider::WhatsApp,
        outcome,
        status_code: status,
        body_bytes: 0,
        remote_addr: Some(req.client.to_string()),
        latency: req.started.elapsed(),
        request_id: req.request_id.clone(),
        events_new: 0,
        events_duplicate: 0,
        received_at: Utc::now(),
    });
    response
}

async fn check_handshake(
    state: &AppState,
    req: &mut WebhookRequest,
    query: VerifyQuery,
) -> Result<String, AppError> {
    let expected = state
        .config
        .whatsapp
        .verify_token
        .as_ref()
        .ok_or(AppError::NotConfigured("WHATSAPP_VERIFY_TOKEN"))?;
    req.admit(state).await?;
    let token_ok = query
        .verify_token
        .as_deref()
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected.expose().as_bytes())));
    match (query.mode.as_deref(), query.challenge) {
        (Some("subscribe"), Some(challenge)) if token_ok => Ok(challenge),
        _ => Err(req.refuse(state, AppError::VerificationRefused).await),
    }
}

/// A notification: verified on its raw bytes, parsed, split into events and stored before the 200.
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut req = WebhookRequest::start(&state, Provider::WhatsApp, peer, &headers);
    let result = receive_notification(&state, &mut req, &headers, body).await;
    req.finish(&state, result)
}

async fn receive_notification(
    state: &AppState,
    req: &mut WebhookRequest,
    headers: &HeaderMap,
    body: Body,
) -> Result<Accepted, AppError> {
    // Never accept unsigned traffic: without the secret there is nothing to verify against.
    let secret = state
        .config
        .whatsapp
        .app_secret
        .as_ref()
        .ok_or(AppError::NotConfigured("WHATSAPP_APP_SECRET"))?;
    let body = req.admit_body(state, headers, body).await?;
    let header = headers
        .get("x-hub-signature-256")
        .map(HeaderValue::as_bytes);
    if let Err(err) = signature::verify_sha256_header(secret.expose().as_bytes(), header, &body) {
        return Err(req.refuse(state, AppError::InvalidSignature(err)).await);
    }
    let notification: NotificationIn =
        serde_json::from_slice(&body).map_err(|e| AppError::Malformed(e.to_string()))?;
    let events =
        inbox_events(notification, Utc::now()).map_err(|e| AppError::Malformed(e.to_string()))?;
    ingest(state, Provider::WhatsApp, events).await
}

/// The inbox rows of a notification: one per event WhatsApp split it into, in the order Meta sent
/// them, with WhatsApp's ids, keys and payloads unchanged (the ids are what dedup compares).
pub fn inbox_events(
    notification: NotificationIn,
    received_at: DateTime<Utc>,
) -> Result<Vec<NewInboxEvent>, serde_json::Error> {
    let events = notification.into_events()?;
    Ok(events
        .into_iter()
        .map(|event| inbox_event(event, received_at))
        .collect())
}

fn inbox_event(event: WebhookEvent, received_at: DateTime<Utc>) -> NewInboxEvent {
    let WebhookEvent {
        provider_event_id,
        business_id,
        conversation_key,
        kind,
        payload,
        said,
    } = event;
    NewInboxEvent {
        said,
        provider: Provider::WhatsApp,
        provider_event_id,
        business_id,
        conversation_key,
        kind: match kind {
            WebhookEventKind::Message => EventKind::Message,
            WebhookEventKind::Status => EventKind::Status,
            WebhookEventKind::Error => EventKind::Error,
            WebhookEventKind::Other => EventKind::Other,
        },
        payload,
        received_at,
    }
}
