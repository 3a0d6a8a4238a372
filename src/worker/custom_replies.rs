//! The generic signed channel's side of the outbox: the row of one reply ([`row`]), the sender the
//! dispatcher hands a claimed row of provider `custom` to ([`CustomSender`]), and a typed number read
//! as the option it names ([`typed`]).
//!
//! A row's payload is the reply exactly as it is POSTed (`message_id`, `from`, `to`, `ts`, `text`),
//! fixed when the turn commits, so every retry sends the same bytes; beside them it keeps the ids of
//! the options the text numbers (`options`, never sent), so that the customer's "2" is answered as a
//! tap on the second option of the message they read, whichever message offered it (the menu, the
//! offer of a person after a few misses, a reminder). The rows of one conversation
//! share a lane (`custom:<conversation key>`): the next reply waits while one is retried, and other
//! conversations go on. A receiver that answers "later" (no answer, 408, 425, 429, 5xx) is tried again
//! with the outbox's backoff (or its `Retry-After`, when longer) until the retry budget is spent, then
//! the row is dead; one that refuses the reply (another 4xx) fails it at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::conversation::{ConversationKey, CustomerId, Masked};
use crate::custom::client::KIND;
use crate::custom::text::text_of;
use crate::custom::wire::MessageOut;
use crate::custom::{CustomClient, CustomError};
use crate::engine::effect::{Reply, ReplyUi};
use crate::engine::input::Input;
use crate::store::{
    InboxEvent, NewOutbound, Outbound, Provider, Settle, Store, StoreError, provider_lane,
};
use crate::telemetry::Metrics;
use crate::worker::retry::{RetryPolicy, after};

/// One numbered option of a reply, as its row keeps it (not sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredOption {
    id: String,
    title: String,
}

/// Replies looked at for the last one of the channel (a conversation's Stripe calls share its key).
const LOOK_BACK: u32 = 8;

/// The outbox row of one reply in a conversation of the channel; `None` when the conversation has
/// no customer phone to answer.
pub fn row(
    reply: &Reply,
    idempotency_key: String,
    conversation: &ConversationKey,
    now: DateTime<Utc>,
) -> Option<NewOutbound> {
    let CustomerId::Phone(customer) = &conversation.customer else {
        return None;
    };
    let key = conversation.to_string();
    let message = MessageOut::new(
        &conversation.business_id,
        customer.as_str(),
        text_of(reply),
        now,
    );
    let options: Vec<StoredOption> = match &reply.ui {
        ReplyUi::Buttons(buttons) => buttons
            .iter()
            .map(|(id, title)| StoredOption {
                id: id.clone(),
                title: title.clone(),
            })
            .collect(),
        ReplyUi::List { rows, .. } => rows
            .iter()
            .map(|row| StoredOption {
                id: row.id.clone(),
                title: row.title.clone(),
            })
            .collect(),
        ReplyUi::None | ReplyUi::Cta { .. } => Vec::new(),
    };
    let mut payload = serde_json::to_value(&message).unwrap_or_default();
    if !options.is_empty() {
        payload["options"] = serde_json::to_value(&options).unwrap_or_default();
    }
    Some(NewOutbound {
        idempotency_key,
        provider: Provider::Custom,
        business_id: conversation.business_id.clone(),
        recipient: provider_lane(Provider::Custom, &key),
        conversation_key: key,
        kind: KIND.to_owned(),
        payload,
        created_at: now,
    })
}

/// The engine's input for a customer's text on the channel: a bare number ("2", "2.", "#2") names
/// that option of the last reply the customer got, and is answered as a tap on it; anything else,
/// or a number the last reply did not offer, is text (which the engine reads against the current
/// step's options and words).
pub async fn typed(store: &Store, event: &InboxEvent, text: String) -> Result<Input, StoreError> {
    let Some(number) = option_number(&text) else {
        return Ok(Input::Text(text));
    };
    let recent = store
        .recent_outbox(Some(&event.conversation_key), LOOK_BACK)
        .await?;
    let options: Vec<StoredOption> = recent
        .iter()
        .find(|row| row.provider == Provider::Custom)
        .and_then(|row| row.payload.get("options"))
        .and_then(|options| Vec::<StoredOption>::deserialize(options).ok())
        .unwrap_or_default();
    Ok(match number.checked_sub(1).and_then(|i| options.get(i)) {
        Some(option) => Input::Choice {
            id: option.id.clone(),
            title: option.title.clone(),
        },
        None => Input::Text(text),
    })
}

/// The option a text names when it is only a number: "2", " 2. ", "2)", "#2".
fn option_number(text: &str) -> Option<usize> {
    let digits = text
        .trim()
        .trim_start_matches('#')
        .trim_end_matches(['.', ')']);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// POSTs the channel's claimed replies and settles their rows.
#[derive(Clone)]
pub struct CustomSender {
    store: Store,
    /// `None` where the channel is off: its rows then fail with that reason.
    client: Option<CustomClient>,
    metrics: Metrics,
}

impl std::fmt::Debug for CustomSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomSender")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl CustomSender {
    pub fn new(store: Store, client: Option<CustomClient>, metrics: Metrics) -> Self {
        Self {
            store,
            client,
            metrics,
        }
    }

    /// Sends one claimed reply and settles it: sent, tried again later, or given up.
    pub async fn send(
        &self,
        row: &Outbound,
        max_attempts: i32,
        retry: RetryPolicy,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let result = match (
            &self.client,
            serde_json::from_value::<MessageOut>(row.payload.clone()),
        ) {
            (None, _) => Err(None),
            (Some(_), Err(err)) => Err(Some(CustomError::Unreadable(err.to_string()))),
            (Some(client), Ok(message)) => match client.send(&message).await {
                // The reply's `message_id` is what the receiver knows it by.
                Ok(()) => Ok(message.message_id),
                Err(err) => Err(Some(err)),
            },
        };
        let err = match result {
            Ok(message_id) => {
                let settled = self
                    .store
                    .outbox_sent(&[(row.id, row.attempts, message_id)], now)
                    .await?;
                if settled == 0 {
                    tracing::warn!(
                        id = row.id,
                        "outbox claim was lost before the reply was settled"
                    );
                }
                return Ok(());
            }
            Err(err) => err,
        };
        let error = match &err {
            Some(err) => err.to_string(),
            None => {
                "the custom channel is off (CUSTOM_WEBHOOK_SECRET, CUSTOM_REPLY_URL)".to_owned()
            }
        };
        let retryable = err.as_ref().is_some_and(CustomError::is_retryable);
        let settle = if retryable && row.attempts < max_attempts {
            let wait = err
                .as_ref()
                .and_then(CustomError::retry_after)
                .unwrap_or_default()
                .max(retry.delay(row.attempts));
            Settle::Retry {
                error: &error,
                code: None,
                at: after(now, wait),
            }
        } else {
            Settle::Fail {
                error: &error,
                code: None,
                dead: retryable,
            }
        };
        let conversation = Masked(&row.conversation_key);
        match &settle {
            Settle::Retry { at, .. } => {
                tracing::warn!(id = row.id, attempt = row.attempts, %conversation, %error, retry_at = %at, "custom reply not delivered; tried again later")
            }
            _ => {
                tracing::error!(id = row.id, attempt = row.attempts, %conversation, %error, dead = retryable, "custom reply given up")
            }
        }
        let dead = matches!(settle, Settle::Fail { dead: true, .. });
        if self
            .store
            .settle_outbox(row.id, row.attempts, settle, now)
            .await?
        {
            if dead {
                self.metrics.dead_letter("outbox");
            }
        } else {
            tracing::warn!(
                id = row.id,
                "outbox claim was lost before the reply was settled"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_number_names_an_option() {
        for (text, number) in [
            ("2", Some(2)),
            (" 2. ", Some(2)),
            ("3)", Some(3)),
            ("#1", Some(1)),
        ] {
            assert_eq!(option_number(text), number, "{text:?}");
        }
        for text in ["", "dos", "2 mañana", "a las 5", "1234", "2.5", "-1"] {
            assert_eq!(option_number(text), None, "{text:?}");
        }
    }
}
