//! The operator's JSON API (`/api/...`, `Authorization: Bearer <ADMIN_TOKEN>`), described at
//! `/api/openapi.json`. Listings answer `{"data": [...], "total": N, "limit": L, "offset": O}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::AppError;
use crate::store::admin::{AuditFilter, MessageFilter};

use super::auth::Operator;
use super::ops::{self, Holder};
use super::params::Params;
use super::views::{self, ConversationView, DeadLetter, MessageView};

type Answer = Result<Json<Value>, AppError>;

/// Longest `q` accepted.
const MAX_QUERY_CHARS: usize = 200;

/// Webhook providers and outcomes, as the audit trail names them.
pub const PROVIDERS: [&str; 4] = ["whatsapp", "chatwoot", "stripe", "custom"];
pub const OUTCOMES: [&str; 8] = [
    "accepted",
    "duplicate",
    "invalid_signature",
    "malformed",
    "too_large",
    "throttled",
    "ignored",
    "unavailable",
];

fn params(query: Vec<(String, String)>) -> Params {
    Params(query)
}

/// `GET /api/messages?limit=&offset=&from=&since=&q=`
pub async fn messages(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let p = params(query);
    let filter = MessageFilter {
        from_digits: p
            .phone("from")?
            .map(|e| e.as_str().trim_start_matches('+').to_owned()),
        since: p.instant("since")?,
        text: p.text("q", MAX_QUERY_CHARS)?,
        limit: p.limit(50)?,
        offset: p.offset()?,
    };
    let page = state.store.list_messages(&filter).await?;
    let data: Vec<MessageView> = page.rows.into_iter().map(MessageView::of).collect();
    Ok(Json(json!({
        "data": data, "total": page.total, "limit": filter.limit, "offset": filter.offset
    })))
}

/// A sender as stored beside a message: a number's digits (shown in E.164, with its `+`), or a
/// WhatsApp user id (`user:...`) as it is.
fn listed_sender(stored: &str) -> String {
    if !stored.is_empty() && stored.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{stored}")
    } else {
        stored.to_owned()
    }
}

/// `GET /api/stats`
pub async fn stats(_: Operator, State(state): State<AppState>) -> Answer {
    let t = state.store.totals(Utc::now(), 14).await?;
    let pairs = |v: &[(String, i64)]| -> Value {
        v.iter()
            .map(|(k, n)| (k.clone(), json!(n)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let mut webhooks = serde_json::Map::new();
    for (provider, outcome, n) in &t.webhooks {
        let entry = webhooks
            .entry(provider.clone())
            .or_insert_with(|| json!({}));
        entry[outcome.as_str()] = json!(n);
    }
    Ok(Json(json!({
        "messages": t.messages,
        "customers": t.customers,
        "top_senders": t.top_senders.iter()
            .map(|(from, n)| json!({ "from": listed_sender(from), "messages": n }))
            .collect::<Vec<_>>(),
        "first_message_at": t.first_message_at,
        "last_message_at": t.last_message_at,
        "outbound_messages": t.outbound,
        "conversations": t.conversations,
        "bookings_by_status": pairs(&t.bookings_by_status),
        "webhooks": webhooks,
        "messages_per_day": t.messages_per_day.iter()
            .map(|(d, n)| json!({ "date": d.to_string(), "messages": n }))
            .collect::<Vec<_>>(),
        "deposits_paid_minor": t.deposits_paid_minor,
        "deposits_refunded_minor": t.deposits_refunded_minor,
        "median_answer_ms": t.median_answer_ms,
    })))
}

/// `GET /api/appointments?date=YYYY-MM-DD` (default: today in the salon's time zone)
pub async fn appointments(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let p = params(query);
    let date = p
        .date("date")?
        .unwrap_or_else(|| views::today(&state.catalog, Utc::now()));
    let data = views::day(&state.store, &state.catalog, date).await?;
    Ok(Json(json!({
        "date": date.to_string(),
        "time_zone": state.catalog.salon().time_zone.name(),
        "data": data,
    })))
}

/// `GET /api/conversations?limit=&offset=`
pub async fn conversations(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let p = params(query);
    let (limit, offset) = (p.limit(50)?, p.offset()?);
    let page = state.store.list_conversations(limit, offset).await?;
    let now = Utc::now();
    let mut data = Vec::with_capacity(page.rows.len());
    for c in page.rows {
        data.push(ConversationView::of(&state.store, c, now).await?);
    }
    Ok(Json(json!({
        "data": data, "total": page.total, "limit": limit, "offset": offset
    })))
}

/// `GET /api/conversations/{id}`: the conversation, its transcript and its appointments.
pub async fn conversation(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Answer {
    let Some(c) = state.store.listed_conversation(&id).await? else {
        return Err(AppError::NotFound(format!("no conversation {id}")));
    };
    let view = ConversationView::of(&state.store, c, Utc::now()).await?;
    let transcript = views::transcript(&state.store, &state.catalog, &id).await?;
    let appointments = state.store.conversation_appointments(&id).await?;
    let appointments: Vec<Value> = appointments
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "service_id": a.service_id, "staff_id": a.staff_id,
                "starts_at": a.starts_at, "ends_at": a.ends_at, "status": a.status.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({
        "conversation": view, "transcript": transcript, "appointments": appointments
    })))
}

/// `POST /api/conversations/{id}/human`
pub async fn to_human(
    _: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Answer {
    ops::hand_over(&state, &id, Holder::Human).await?;
    Ok(Json(json!({ "status": "queued", "to": "human" })))
}

/// `POST /api/conversations/{id}/bot`
pub async fn to_bot(_: Operator, State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    ops::hand_over(&state, &id, Holder::Bot).await?;
    Ok(Json(json!({ "status": "queued", "to": "bot" })))
}

/// `GET /api/webhooks?provider=&outcome=&since=&limit=&offset=`
pub async fn webhooks(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let p = params(query);
    let filter = AuditFilter {
        provider: p.one_of("provider", &PROVIDERS)?,
        outcome: p.one_of("outcome", &OUTCOMES)?,
        since: p.instant("since")?,
        limit: p.limit(50)?,
        offset: p.offset()?,
    };
    let page = state.store.list_webhooks(&filter).await?;
    let now = Utc::now();
    let hour = state.store.webhook_counts(now - Duration::hours(1)).await?;
    let day = state.store.webhook_counts(now - Duration::days(1)).await?;
    let counts = |v: Vec<crate::store::admin::ProviderCount>| -> Vec<Value> {
        v.into_iter()
            .map(|c| json!({ "provider": c.provider, "total": c.total, "errors": c.errors }))
            .collect()
    };
    let data: Vec<Value> = page
        .rows
        .into_iter()
        .map(|w| {
            json!({
                "id": w.id, "provider": w.provider, "outcome": w.outcome,
                "status": w.status_code, "body_bytes": w.body_bytes,
                "remote_addr": w.remote_addr, "latency_ms": w.latency_us as f64 / 1000.0,
                "events_new": w.events_new, "events_duplicate": w.events_duplicate,
                "received_at": w.received_at,
            })
        })
        .collect();
    Ok(Json(json!({
        "data": data, "total": page.total, "limit": filter.limit, "offset": filter.offset,
        "last_hour": counts(hour), "last_day": counts(day),
    })))
}

/// `POST /api/events/{id}/replay`
pub async fn replay(_: Operator, State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let id: i64 = id.parse().map_err(|_| AppError::BadParameter {
        name: "id",
        reason: format!("expected an event id, got '{id}'"),
    })?;
    ops::replay(&state, id).await?;
    Ok(Json(json!({ "status": "replayed", "id": id })))
}

/// `GET /api/dead-letters`
pub async fn dead_letters(
    _: Operator,
    State(state): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
) -> Answer {
    let limit = params(query).limit(100)?;
    let inbox: Vec<DeadLetter> = state
        .store
        .dead_inbox(limit)
        .await?
        .into_iter()
        .map(DeadLetter::inbox)
        .collect();
    let outbox: Vec<DeadLetter> = state
        .store
        .dead_outbox(limit)
        .await?
        .into_iter()
        .map(DeadLetter::outbox)
        .collect();
    Ok(Json(json!({ "inbox": inbox, "outbox": outbox })))
}

/// `POST /api/dead-letters/{id}/retry`
pub async fn retry(_: Operator, State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    ops::retry(&state, &id).await?;
    Ok(Json(json!({ "status": "retried", "id": id })))
}

/// `DELETE /api/dead-letters/{id}`
pub async fn discard(_: Operator, State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    ops::discard(&state, &id).await?;
    Ok(Json(json!({ "status": "discarded", "id": id })))
}

/// `GET /api/openapi.json`
pub async fn openapi(_: Operator) -> Json<Value> {
    Json(super::openapi::document())
}
