//! The generic signed channel's side of the outbox: the row of one reply ([`row`]) and the sender
//! the dispatcher hands a claimed row of provider `custom` to ([`CustomSender`]).
//!
//! A row's payload is the reply exactly as it is POSTed (`message_id`, `from`, `to`, `ts`, `text`),
//! fixed when the turn commits, so every retry sends the same bytes. The rows of one conversation
//! share a lane (`custom:<conversation key>`): the next reply waits while one is retried, and other
//! conversations go on. A receiver that answers "later" (no answer, 408, 425, 429, 5xx) is tried again
//! with the outbox's backoff (or its `Retry-After`, when longer) until the retry budget is spent, then
//! the row is dead; one that refuses the reply (another 4xx) fails it at once.

use chrono::{DateTime, Utc};

use crate::conversation::{ConversationKey, CustomerId, Masked};
use crate::custom::client::KIND;
use crate::custom::wire::MessageOut;
use crate::custom::{CustomClient, CustomError};
use crate::store::{NewOutbound, Outbound, Provider, Settle, Store, StoreError, provider_lane};
use crate::telemetry::Metrics;
use crate::worker::retry::{RetryPolicy, after};

/// The outbox row of one reply in a conversation of the channel; `None` when the conversation has
/// no customer phone to answer.
pub fn row(
    text: String,
    idempotency_key: String,
    conversation: &ConversationKey,
    now: DateTime<Utc>,
) -> Option<NewOutbound> {
    let CustomerId::Phone(customer) = &conversation.customer else {
        return None;
    };
    let key = conversation.to_string();
    let message = MessageOut::new(&conversation.business_id, customer.as_str(), text, now);
    Some(NewOutbound {
        idempotency_key,
        provider: Provider::Custom,
        business_id: conversation.business_id.clone(),
        recipient: provider_lane(Provider::Custom, &key),
        conversation_key: key,
        kind: KIND.to_owned(),
        payload: serde_json::to_value(&message).unwrap_or_default(),
        created_at: now,
    })
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
