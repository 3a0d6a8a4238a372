//! Webhook ingress: size limit -> signature on raw bytes -> parse -> dedup -> durable insert -> 200.
//!
//! One file per provider holds its handlers; what every provider shares lives here: the request's
//! bookkeeping (`WebhookRequest`: throttling, metrics, audit, rate-limit headers) and `ingest`, which
//! stores events through the group-commit writer and answers only after the commit.

pub mod audit;
pub mod chatwoot;
pub mod client;
pub mod custom;
pub mod dedup;
pub mod ratelimit;
pub mod signature;
pub mod stripe;
pub mod whatsapp;

use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{AuditRecord, NewInboxEvent, Provider};
use ratelimit::Quota;

/// The webhook routes, with the older receivers' paths as aliases.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(whatsapp::verify).post(whatsapp::receive),
        )
        .route(
            "/webhook/whatsapp",
            get(whatsapp::verify).post(whatsapp::receive),
        )
        .route("/webhooks/chatwoot", post(chatwoot::receive))
        .route("/webhook/chatwoot", post(chatwoot::receive))
        .route("/webhooks/stripe", post(stripe::receive))
        .route("/webhook/stripe", post(stripe::receive))
        .route("/webhooks/custom", post(custom::receive))
}

/// A verified request whose events were handled: stored, known, or nothing to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub outcome: &'static str,
    pub new: u32,
    pub duplicate: u32,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Bookkeeping of one webhook request, from arrival to answer.
pub struct WebhookRequest {
    provider: Provider,
    pub(crate) started: Instant,
    pub(crate) client: IpAddr,
    pub(crate) request_id: Option<String>,
    body_bytes: u64,
    quota: Option<Quota>,
}

impl WebhookRequest {
    pub fn start(
        state: &AppState,
        provider: Provider,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Self {
        Self {
            provider,
            started: Instant::now(),
            client: client::client_ip(peer, headers, &state.config.rate_limit),
            request_id: headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body_bytes: 0,
            quota: None,
        }
    }

    /// Throttling before any work on the body: a spent failed-authentication budget, then the optional
    /// general limit.
    pub async fn admit(&mut self, state: &AppState) -> Result<(), AppError> {
        let now = unix_now();
        let admitted = match state.limiter.check_blocked(self.client, now) {
            Ok(()) => state.limiter.check_request(self.client, now).await,
            Err(throttled) => Err(throttled),
        };
        match admitted {
            Ok(quota) => {
                self.quota = quota;
                Ok(())
            }
            Err(throttled) => {
                self.quota = Some(Quota {
                    limit: throttled.limit,
                    remaining: 0,
                });
                Err(AppError::Throttled(throttled))
            }
        }
    }

    /// Spends the failed-authentication budget and returns the error to answer with.
    pub async fn refuse(&mut self, state: &AppState, error: AppError) -> AppError {
        self.quota = Some(state.limiter.note_invalid(self.client, unix_now()).await);
        error
    }

    /// Throttling (`admit`), then the body read within `WEBHOOK_MAX_BODY_BYTES` (413 over it) and
    /// its size noted for the audit trail: the raw bytes the signature is checked on.
    pub async fn admit_body(
        &mut self,
        state: &AppState,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, AppError> {
        self.admit(state).await?;
        let body = client::read_body(body, headers, state.config.webhook_max_body_bytes).await?;
        self.body_bytes = body.len() as u64;
        Ok(body)
    }

    /// Counts, audits and answers.
    pub fn finish(self, state: &AppState, result: Result<Accepted, AppError>) -> Response {
        let elapsed = self.started.elapsed();
        let (outcome, accepted) = match &result {
            Ok(a) => (a.outcome, Some(*a)),
            Err(e) => (e.outcome(), None),
        };
        state
            .metrics
            .webhook(self.provider.as_str(), outcome, elapsed);
        if let Err(err) = &result {
            tracing::info!(
                provider = self.provider.as_str(),
                client = %self.client,
                error = %err,
                "webhook refused"
            );
        }
        let mut response = match result {
            Ok(_) => Json(json!({ "status": "received" })).into_response(),
            Err(err) => err.into_response(),
        };
        state.audit.record(AuditRecord {
            provider: self.provider,
            outcome,
            status_code: response.status().as_u16(),
            body_bytes: self.body_bytes,
            remote_addr: Some(self.client.to_string()),
            latency: elapsed,
            request_id: self.request_id,
            events_new: accepted.map_or(0, |a| a.new),
            events_duplicate: accepted.map_or(0, |a| a.duplicate),
            received_at: Utc::now(),
        });
        // The general limit when one is set, else the failed-authentication budget.
        let quota = self
            .quota
            .unwrap_or_else(|| state.limiter.invalid_quota(self.client, unix_now()));
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(quota.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(quota.remaining));
        response
    }
}

/// Stores a verified request's events and says which were new. Answers only after the commit; a commit
/// that fails or takes longer than `STORE_TIMEOUT_MS` is 503, so the provider retries.
pub async fn ingest(
    state: &AppState,
    provider: Provider,
    events: Vec<NewInboxEvent>,
) -> Result<Accepted, AppError> {
    if events.is_empty() {
        return Ok(Accepted {
            outcome: "ignored",
            new: 0,
            duplicate: 0,
        });
    }
    let ids: Vec<String> = events.iter().map(|e| e.provider_event_id.clone()).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let total = u32::try_from(ids.len()).unwrap_or(u32::MAX);

    if state.seen.all_seen(provider, &id_refs).await {
        state
            .metrics
            .inbox_events(provider.as_str(), "duplicate", u64::from(total));
        return Ok(Accepted {
            outcome: "duplicate",
            new: 0,
            duplicate: total,
        });
    }

    let stored = tokio::time::timeout(state.config.store_timeout, state.inbox.submit(events)).await;
    let flags = match stored {
        Ok(Ok(flags)) => flags,
        Ok(Err(err)) => {
            tracing::warn!(provider = provider.as_str(), error = %err, "webhook not stored");
            return Err(AppError::Unavailable);
        }
        Err(_) => {
            tracing::warn!(
                provider = provider.as_str(),
                timeout_ms = state.config.store_timeout.as_millis() as u64,
                "webhook not stored in time"
            );
            return Err(AppError::Unavailable);
        }
    };
    let new = u32::try_from(flags.iter().filter(|f| **f).count()).unwrap_or(u32::MAX);
    let duplicate = total - new;
    state
        .metrics
        .inbox_events(provider.as_str(), "new", u64::from(new));
    state
        .metrics
        .inbox_events(provider.as_str(), "duplicate", u64::from(duplicate));

    // Committed: from now on the fast path may say "seen". Not awaited: the answer need not wait.
    let seen = state.seen.clone();
    tokio::spawn(async move {
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        seen.remember(provider, &id_refs).await;
    });

    Ok(Accepted {
        outcome: if new > 0 { "accepted" } else { "duplicate" },
        new,
        duplicate,
    })
}
