//! What staff and operators change, shared by the pages and the API: a conversation handed to a
//! person or given back to the bot (stored as staff-inbox events of the conversation's lane, so the
//! turn makes the same transition as for Chatwoot's), an event replayed, a dead letter retried or
//! discarded (the operations of `salonbot inbox dead|replay`).

use chrono::Utc;
use serde_json::json;

use crate::app::AppState;
use crate::chatwoot::wire::TAKE_OVER;
use crate::error::AppError;
use crate::store::{EventKind, NewInboxEvent, Provider};

use super::views::DeadId;

/// Who should have the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Human,
    Bot,
}

/// Stores the staff event that hands the conversation over, in its lane; the worker applies it in
/// order with the customer's messages.
pub async fn hand_over(state: &AppState, key: &str, to: Holder) -> Result<(), AppError> {
    let Some(conversation) = state.store.listed_conversation(key).await? else {
        return Err(AppError::NotFound(format!("no conversation {key}")));
    };
    let payload = match to {
        Holder::Human => json!({ "event": TAKE_OVER, "id": 0 }),
        Holder::Bot => json!({
            "event": "conversation_status_changed", "id": 0, "status": "resolved"
        }),
    };
    let event = NewInboxEvent {
        provider: Provider::Chatwoot,
        provider_event_id: format!("admin:{}", uuid::Uuid::new_v4().simple()),
        business_id: conversation.business_id,
        conversation_key: key.to_owned(),
        kind: EventKind::Staff,
        payload: payload.to_string(),
        received_at: Utc::now(),
    };
    let stored =
        tokio::time::timeout(state.config.store_timeout, state.inbox.submit(vec![event])).await;
    match stored {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "hand-over not stored");
            Err(AppError::Unavailable)
        }
        Err(_) => Err(AppError::Unavailable),
    }
}

/// Puts a stored event back in its lane.
pub async fn replay(state: &AppState, id: i64) -> Result<(), AppError> {
    if state.store.replay_event(id, Utc::now()).await? {
        return Ok(());
    }
    match state.store.inbox_event(id).await? {
        None => Err(AppError::NotFound(format!("no event {id}"))),
        Some(e) => Err(AppError::Conflict(format!(
            "event {id} is {} already",
            e.status.as_str()
        ))),
    }
}

fn dead_id(raw: &str) -> Result<DeadId, AppError> {
    DeadId::parse(raw).ok_or_else(|| AppError::BadParameter {
        name: "id",
        reason: format!("expected inbox-<n> or outbox-<n>, got '{raw}'"),
    })
}

fn not_dead(raw: &str) -> AppError {
    AppError::NotFound(format!("no dead letter {raw}"))
}

/// Retries a dead letter: an event back in its lane, a message sent again.
pub async fn retry(state: &AppState, raw: &str) -> Result<(), AppError> {
    let now = Utc::now();
    let done = match dead_id(raw)? {
        DeadId::Inbox(id) => state.store.replay_inbox(id, now).await?,
        DeadId::Outbox(id) => state.store.retry_outbox(id, now).await?,
    };
    if done { Ok(()) } else { Err(not_dead(raw)) }
}

/// Discards a dead letter for good.
pub async fn discard(state: &AppState, raw: &str) -> Result<(), AppError> {
    let done = match dead_id(raw)? {
        DeadId::Inbox(id) => state.store.discard_inbox(id, Utc::now()).await?,
        DeadId::Outbox(id) => state.store.discard_outbox(id).await?,
    };
    if done { Ok(()) } else { Err(not_dead(raw)) }
}
