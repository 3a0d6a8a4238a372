//! Health endpoints for load balancers and orchestrators.
//!
//! - `GET /health`: JSON status. 200 `healthy`; 200 `degraded` when a configured Redis is down (the bot
//!   works on the database alone, so a load balancer must keep the instance); 503 `unhealthy` when the
//!   database is down.
//! - `GET /health/live`: 200 while the process serves.
//! - `GET /health/ready` (alias `/ready`): 200 when storage answers and the configuration is complete,
//!   else 503 with the reasons.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/ready", get(ready))
}

async fn database_up(state: &AppState) -> bool {
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    )
}

/// `None` when no Redis is configured.
async fn redis_up(state: &AppState) -> Option<bool> {
    match &state.redis {
        Some(redis) => Some(redis.ping().await),
        None => None,
    }
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let (database, redis) = tokio::join!(database_up(&state), redis_up(&state));
    let (status, code) = match (database, redis) {
        (false, _) => ("unhealthy", StatusCode::SERVICE_UNAVAILABLE),
        (true, Some(false)) => ("degraded", StatusCode::OK),
        (true, _) => ("healthy", StatusCode::OK),
    };
    let body = json!({
        "status": status,
        "database": if database { "connected" } else { "disconnected" },
        "redis": match redis {
            Some(true) => "connected",
            Some(false) => "disconnected",
            None => "disabled",
        },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    (code, Json(body))
}

async fn live() -> impl IntoResponse {
    Json(json!({ "status": "alive" }))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let mut reasons: Vec<String> = Vec::new();
    if !database_up(&state).await {
        reasons.push("database unreachable".into());
    }
    let whatsapp = &state.config.whatsapp;
    if whatsapp.app_secret.is_none() {
        reasons.push("WHATSAPP_APP_SECRET unset: WhatsApp webhooks answer 503".into());
    }
    if whatsapp.verify_token.is_none() {
        reasons.push("WHATSAPP_VERIFY_TOKEN unset: Meta cannot verify the webhook".into());
    }
    if let Some(reason) = state.sending.paused() {
        reasons.push(format!("WhatsApp sending paused: {reason}"));
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reasons": reasons })),
        )
    }
}
