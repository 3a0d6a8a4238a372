//! What reaches the engine: a customer's message reduced to what a flow can answer (text, a tapped
//! button or row, or something it cannot read), a timer, or an event from outside the conversation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flow::SystemEvent;
use crate::event::{EventKind, InboxEvent};
use crate::whatsapp::webhook::{MessageContent, MessageEvent};

/// One input to [`super::step`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Typed text.
    Text(String),
    /// A reply button or list row the bot sent, by id (a template's quick reply by its payload).
    Choice { id: String, title: String },
    /// A message the bot cannot read: media, a location, a reaction, a contact card ...
    Unsupported(String),
    /// A timer of the conversation came due.
    Timer(Timer),
    /// Something that happened outside the conversation (a payment, a reminder answer).
    System(SystemEvent),
    /// The executor could not hold the chosen time: someone else took it a moment earlier.
    SlotTaken,
    /// The executor found the customer's hold gone (it ran out before they confirmed).
    HoldLost,
}

/// What a timer was set for (stored as the timer's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum Timer {
    /// The `timeout` of `state`, entered at `entered_at`; stale once the conversation moved on.
    StateTimeout {
        state: String,
        entered_at: DateTime<Utc>,
    },
    /// The reminder of the appointment starting at `start` (nothing if it moved or was cancelled).
    Reminder {
        appointment: i64,
        start: DateTime<Utc>,
    },
}

/// Why an inbox event gives the engine nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoInput {
    /// Delivery statuses, error reports and other changes are not conversation input.
    #[error("not a conversation event")]
    NotConversational,
    /// The stored payload does not have the expected shape.
    #[error("unreadable payload: {0}")]
    Unreadable(String),
}

impl Input {
    /// The engine's input for a stored inbox event.
    pub fn from_event(event: &InboxEvent) -> Result<Input, NoInput> {
        match event.kind {
            EventKind::Message => {
                let message = MessageEvent::deserialize(&event.payload)
                    .map_err(|e| NoInput::Unreadable(e.to_string()))?;
                Ok(Self::from_message(&message))
            }
            EventKind::Timer => {
                let timer = Timer::deserialize(&event.payload["data"])
                    .map_err(|e| NoInput::Unreadable(e.to_string()))?;
                Ok(Input::Timer(timer))
            }
            _ => Err(NoInput::NotConversational),
        }
    }

    fn from_message(event: &MessageEvent) -> Input {
        match event.message.content() {
            MessageContent::Text(body) => Input::Text(body.to_owned()),
            MessageContent::Choice { id, title } => Input::Choice {
                id: id.to_owned(),
                title: title.to_owned(),
            },
            MessageContent::QuickReply { payload, text } => Input::Choice {
                id: payload.to_owned(),
                title: text.to_owned(),
            },
            // A photo with a caption still says something the bot can read.
            MessageContent::Media {
                caption: Some(caption),
                ..
            } if !caption.trim().is_empty() => Input::Text(caption.to_owned()),
            MessageContent::Media { kind, .. } => Input::Unsupported(kind.to_owned()),
            MessageContent::Location { .. } => Input::Unsupported("location".into()),
            MessageContent::Reaction { .. } => Input::Unsupported("reaction".into()),
            MessageContent::FlowReply(_) => Input::Unsupported("nfm_reply".into()),
            MessageContent::Other(kind) => Input::Unsupported(kind.to_owned()),
        }
    }
}

/// The payload of a timer's inbox event, as `Input::from_event` reads it back.
pub fn timer_payload(timer: &Timer) -> Value {
    serde_json::to_value(timer).unwrap_or(Value::Null)
}
