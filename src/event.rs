//! Inbox events: what ingress stores, the worker claims and turns into engine input. Neutral ground
//! between the providers' wire types, the store and the engine, so none of them depends on another
//! for it.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Who sent an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    WhatsApp,
    Chatwoot,
    Stripe,
    /// The generic signed channel (`/webhooks/custom`): other gateways' messages, and the replies
    /// POSTed to `CUSTOM_REPLY_URL`.
    Custom,
    /// The bot's own timers, fired into the inbox.
    Timer,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::WhatsApp => "whatsapp",
            Provider::Chatwoot => "chatwoot",
            Provider::Stripe => "stripe",
            Provider::Custom => "custom",
            Provider::Timer => "timer",
        }
    }

    /// The value named by its stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp" => Some(Provider::WhatsApp),
            "chatwoot" => Some(Provider::Chatwoot),
            "stripe" => Some(Provider::Stripe),
            "custom" => Some(Provider::Custom),
            "timer" => Some(Provider::Timer),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an inbox event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A customer's message.
    Message,
    /// A delivery status of a message we sent.
    Status,
    /// An error report about the business number (`value.errors`).
    Error,
    /// A change the bot does not handle yet, kept for later.
    Other,
    /// A timer of the conversation came due (hold expiry, reminder, idle reset).
    Timer,
    /// News of a deposit: a payment provider's webhook event, or the answer to one of the bot's
    /// own calls (a Checkout Session created, a refund made).
    Payment,
    /// What the salon's staff did in the staff inbox (Chatwoot): a reply to the customer, the
    /// conversation handed back; in channel mode also the customer's messages through Chatwoot.
    Staff,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Status => "status",
            EventKind::Error => "error",
            EventKind::Other => "other",
            EventKind::Timer => "timer",
            EventKind::Payment => "payment",
            EventKind::Staff => "staff",
        }
    }

    /// The value named by its stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "message" => Some(EventKind::Message),
            "status" => Some(EventKind::Status),
            "error" => Some(EventKind::Error),
            "other" => Some(EventKind::Other),
            "timer" => Some(EventKind::Timer),
            "payment" => Some(EventKind::Payment),
            "staff" => Some(EventKind::Staff),
            _ => None,
        }
    }
}

/// Where an inbox event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// Stored, waiting for a worker.
    Pending,
    /// Claimed by a worker, whose lease ends at `next_attempt_at`.
    Processing,
    /// Handled.
    Done,
    /// The last attempt failed; retried at `next_attempt_at`.
    Failed,
    /// Gave up after the retry budget; kept for operators to inspect and replay.
    Dead,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Processing => "processing",
            InboxStatus::Done => "done",
            InboxStatus::Failed => "failed",
            InboxStatus::Dead => "dead",
        }
    }

    /// The value named by its stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(InboxStatus::Pending),
            "processing" => Some(InboxStatus::Processing),
            "done" => Some(InboxStatus::Done),
            "failed" => Some(InboxStatus::Failed),
            "dead" => Some(InboxStatus::Dead),
            _ => None,
        }
    }
}

/// The lane of a provider's event that ingress could not lead to its conversation yet (a Stripe
/// event about a payment whose news has not been applied, or one to ignore): `<provider>:<event
/// id>`, a lane of its own, so that one such event waiting never holds up another. The worker
/// moves it into its conversation's lane once it can, or marks it ignored with the reason.
pub fn unrouted_lane(provider: Provider, event_id: &str) -> String {
    format!("{}:{event_id}", provider.as_str())
}

/// Whether a lane is one of [`unrouted_lane`]'s (conversation keys start with their channel,
/// `whatsapp:`).
pub fn is_unrouted_lane(provider: Provider, lane: &str) -> bool {
    lane.strip_prefix(provider.as_str())
        .is_some_and(|rest| rest.starts_with(':'))
}

/// An event to store, as ingress extracted it from a verified webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInboxEvent {
    pub provider: Provider,
    /// The provider's id for the event; unique per provider (the dedup authority).
    pub provider_event_id: String,
    /// The business number it belongs to, so that one database can later serve several salons.
    pub business_id: String,
    /// `channel:business:customer`; events of one key are processed in order. A conversation's
    /// delivery statuses have a lane of their own beside it (`…/statuses`, see
    /// [`crate::conversation::ConversationKey::status_lane`]).
    pub conversation_key: String,
    pub kind: EventKind,
    /// The event's JSON.
    pub payload: String,
    pub received_at: DateTime<Utc>,
    /// For a customer's message, whatever its channel: who wrote and what, as the operator's
    /// listings find it. `None` for every other event.
    pub said: Option<Said>,
}

/// Who wrote a customer's message and what, kept beside its payload so that the listings
/// (`/api/messages`, the stats) read and search every channel's messages alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// The customer's number, its digits without the `+`.
    pub from_digits: String,
    /// The text (or the title of the choice tapped, or a caption), folded to lower case for the
    /// case-insensitive search, its first [`Said::SEARCHED_CHARS`] characters; `None` for media
    /// without one.
    pub folded_text: Option<String>,
}

impl Said {
    /// How much of a text the search reads: enough for what customers write, and small enough
    /// (2,000 bytes at most) for the index that holds the texts.
    pub const SEARCHED_CHARS: usize = 500;

    pub fn new(from: &str, text: Option<&str>) -> Self {
        Self {
            from_digits: from.trim_start_matches('+').replace('\0', "\u{fffd}"),
            folded_text: text.map(|t| {
                t.to_lowercase()
                    .chars()
                    .take(Self::SEARCHED_CHARS)
                    .map(|c| if c == '\0' { '\u{fffd}' } else { c })
                    .collect()
            }),
        }
    }
}

/// JSON as the store can keep it: a NUL character (which a customer's client can send) becomes
/// U+FFFD. Postgres' `jsonb` and `text` cannot hold it, and an event the database refused would be
/// refused on every retry of its webhook.
pub fn storable_json(json: String) -> Result<String, serde_json::Error> {
    if !json.contains("\\u0000") {
        return Ok(json);
    }
    let mut value: serde_json::Value = serde_json::from_str(&json)?;
    replace_nul(&mut value);
    serde_json::to_string(&value)
}

fn replace_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => map.values_mut().for_each(replace_nul),
        _ => {}
    }
}

/// A stored inbox event.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxEvent {
    pub id: i64,
    pub provider: Provider,
    pub provider_event_id: String,
    pub business_id: String,
    pub conversation_key: String,
    pub kind: EventKind,
    pub payload: serde_json::Value,
    pub received_at: DateTime<Utc>,
    pub status: InboxStatus,
    /// How many times a worker claimed it; also the fencing token of the current claim.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

/// The payload of a timer's inbox event: what fired, written by the store when the timer comes due
/// and read back by the worker.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimerFired {
    /// The timer's kind (`hold_expiry`, `reminder`, ...).
    pub timer: String,
    /// The timer's key.
    pub key: String,
    /// When it was due, in Unix milliseconds (also part of the event's id, so a timer moved and
    /// fired again is a new event).
    pub due_at_ms: i64,
    /// The payload the timer was scheduled with.
    pub data: serde_json::Value,
}

impl InboxEvent {
    /// The fired timer this event carries (for events of kind [`EventKind::Timer`]).
    pub fn timer(&self) -> Result<TimerFired, serde_json::Error> {
        TimerFired::deserialize(&self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn said_keeps_digits_and_a_folded_capped_text() {
        let said = Said::new("+34600111222", Some("Hola ÁNGEL\0ÑU"));
        assert_eq!(said.from_digits, "34600111222");
        assert_eq!(said.folded_text.as_deref(), Some("hola ángel\u{fffd}ñu"));
        let long = "💇".repeat(4096);
        let said = Said::new("34600111222", Some(&long));
        let kept = said.folded_text.unwrap();
        assert_eq!(kept.chars().count(), Said::SEARCHED_CHARS);
        assert!(kept.len() <= 2000, "{} bytes", kept.len());
        assert_eq!(Said::new("user:US.1", None).folded_text, None);
    }

    #[test]
    fn storable_json_replaces_nul_and_leaves_the_rest_alone() {
        let clean = r#"{"a":"b"}"#.to_owned();
        assert_eq!(storable_json(clean.clone()).unwrap(), clean);
        let with_nul = r#"{"a":["x\u0000y",{"b":"\u0000"}],"n":1}"#.to_owned();
        let stored: serde_json::Value =
            serde_json::from_str(&storable_json(with_nul).unwrap()).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"a": ["x\u{fffd}y", {"b": "\u{fffd}"}], "n": 1})
        );
    }
}
