//! WhatsApp's 24-hour customer service window, in one place.
//!
//! Free-form messages may be sent for 24 hours after the customer's last message; outside that window
//! only approved templates. So: a customer's message opens the window again and releases the replies
//! that waited for it; a reply claimed outside the window (by our record, or because Meta said 131047)
//! waits for the customer, and the re-engagement template (`WHATSAPP_REENGAGEMENT_TEMPLATE`) goes
//! instead, once per silence; without a template the reply fails, saying why.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Reengagement;
use crate::event::InboxEvent;
use crate::store::{CustomerMessage, NewOutbound, Outbound, Settle, Store, StoreError};
use crate::whatsapp::messages::{MessageBody, OutboundMessage, Recipient};
use crate::whatsapp::webhook::MessageEvent;

/// How long after the customer's last message free-form messages may go: a day, with a minute kept in
/// hand for clock differences with Meta.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600 - 60);

/// Meta's code for a message refused outside the window.
pub const OUTSIDE_WINDOW: i64 = 131047;

/// Whether free-form messages may be sent now to a customer who last wrote at `last_inbound`.
pub fn is_open(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_inbound.is_some_and(|at| {
        now.signed_duration_since(at)
            .to_std()
            .is_ok_and(|age| age < WINDOW)
            || at > now
    })
}

/// The windows of the conversations, as the workers keep them.
#[derive(Debug, Clone)]
pub struct Window {
    store: Store,
    reengagement: Option<Reengagement>,
}

impl Window {
    pub fn new(store: Store, reengagement: Option<Reengagement>) -> Self {
        Self {
            store,
            reengagement,
        }
    }

    /// Whether a re-engagement template is configured.
    pub fn reengages(&self) -> bool {
        self.reengagement.is_some()
    }

    /// Customers wrote: their windows open again at their messages' times (Meta's, else ours), and the
    /// replies waiting for them are released. One transaction for the whole batch.
    pub async fn customers_wrote(&self, messages: &[&InboxEvent]) -> Result<(), StoreError> {
        let messages: Vec<CustomerMessage> = messages
            .iter()
            .map(|event| CustomerMessage {
                conversation_key: event.conversation_key.clone(),
                business_id: event.business_id.clone(),
                at: MessageEvent::sent_at_of(&event.payload).unwrap_or(event.received_at),
            })
            .collect();
        let released = self
            .store
            .record_customer_messages(&messages, Utc::now())
            .await?;
        if released > 0 {
            tracing::info!(released, "customers wrote: waiting messages released");
        }
        Ok(())
    }

    /// A claimed reply that may not go now (`reason`): it waits for the customer and the
    /// re-engagement template is queued; without a template it fails, saying why.
    pub async fn park_claimed(&self, message: &Outbound, reason: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        let settled = match &self.reengagement {
            Some(config) => {
                let template = reengagement_row(config, message, now);
                tracing::info!(id = message.id, template = %config.template, "{reason}: message waits for the customer");
                self.store
                    .park_outbox(message.id, message.attempts, reason, Some(&template), now)
                    .await?
            }
            None => {
                let error = format!(
                    "{reason}, and no re-engagement template is configured (WHATSAPP_REENGAGEMENT_TEMPLATE)"
                );
                tracing::warn!(id = message.id, "{error}");
                let fail = Settle::Fail {
                    error: &error,
                    code: Some(OUTSIDE_WINDOW),
                    dead: false,
                };
                self.store
                    .settle_outbox(message.id, message.attempts, fail, now)
                    .await?
            }
        };
        if !settled {
            tracing::warn!(
                id = message.id,
                "outbox claim was lost before the message was parked"
            );
        }
        Ok(())
    }

    /// A sent reply Meta later reported undelivered for the window (a `failed` status with 131047):
    /// it waits for the customer and the re-engagement template goes. Nothing without a template.
    pub async fn park_sent(&self, wamid: &str) -> Result<(), StoreError> {
        let Some(config) = &self.reengagement else {
            return Ok(());
        };
        if let Some(sent) = self.store.outbox_by_wamid(wamid).await? {
            let now = Utc::now();
            let template = reengagement_row(config, &sent, now);
            let reason = "outside the 24-hour window (Meta 131047)";
            self.store
                .park_sent_outbox(wamid, reason, Some(&template), now)
                .await?;
        }
        Ok(())
    }
}

/// The re-engagement template for a conversation whose window closed. Its idempotency key names the
/// closed window, so the customer gets one invitation per silence, however many messages wait.
pub fn reengagement_row(
    config: &Reengagement,
    waiting: &Outbound,
    now: DateTime<Utc>,
) -> NewOutbound {
    let to = Recipient::of_conversation(&waiting.conversation_key)
        .unwrap_or_else(|| Recipient::phone(waiting.recipient.clone()));
    let message = OutboundMessage::new(
        to,
        MessageBody::Template {
            name: config.template.clone(),
            language_code: config.language.clone(),
            components: Vec::new(),
        },
    );
    let since = waiting.last_inbound_at.map_or(0, |t| t.timestamp_millis());
    NewOutbound {
        idempotency_key: format!("reengage:{}:{since}", waiting.conversation_key),
        provider: crate::store::Provider::WhatsApp,
        business_id: waiting.business_id.clone(),
        conversation_key: waiting.conversation_key.clone(),
        recipient: waiting.recipient.clone(),
        kind: message.kind().to_owned(),
        payload: message.to_json(),
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_lasts_a_day_from_the_customers_last_message() {
        let now = Utc::now();
        assert!(!is_open(None, now), "never wrote: closed");
        assert!(is_open(Some(now - chrono::Duration::hours(23)), now));
        assert!(!is_open(Some(now - chrono::Duration::hours(24)), now));
        assert!(
            is_open(Some(now + chrono::Duration::seconds(5)), now),
            "clock skew"
        );
    }
}
