//! From a stored inbox event to the engine's [`Input`]: a WhatsApp message (or the generic channel's
//! text) reduced to what a flow can answer, or a timer read back from its payload. This translation
//! lives with the worker (which claims the events) rather than in the engine, so that the pure step
//! sees only its own input type and knows nothing of the inbox or of the providers' wire formats.

use serde::Deserialize;
use serde_json::Value;

use crate::custom::wire::MessageIn;
use crate::engine::input::{Input, Timer};
use crate::event::{EventKind, InboxEvent, Provider};
use crate::whatsapp::webhook::{MessageContent, MessageEvent};

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

/// The engine's input for a stored inbox event.
pub fn input_of(event: &InboxEvent) -> Result<Input, NoInput> {
    match event.kind {
        // The generic channel is plain text: a typed number picks an option, as the engine reads it.
        EventKind::Message if event.provider == Provider::Custom => {
            let message = MessageIn::deserialize(&event.payload)
                .map_err(|e| NoInput::Unreadable(e.to_string()))?;
            Ok(Input::Text(message.text))
        }
        EventKind::Message => {
            let message = MessageEvent::deserialize(&event.payload)
                .map_err(|e| NoInput::Unreadable(e.to_string()))?;
            Ok(from_message(&message))
        }
        EventKind::Timer => {
            let fired = event
                .timer()
                .map_err(|e| NoInput::Unreadable(e.to_string()))?;
            let timer =
                Timer::deserialize(&fired.data).map_err(|e| NoInput::Unreadable(e.to_string()))?;
            Ok(Input::Timer(timer))
        }
        EventKind::Staff => {
            // The staff pages' cancellation of an appointment, stored in the conversation's lane.
            if event.payload.get("event").and_then(Value::as_str)
                == Some(crate::chatwoot::wire::SALON_CANCEL)
            {
                let cancel = crate::chatwoot::wire::SalonCancelIn::deserialize(&event.payload)
                    .map_err(|e| NoInput::Unreadable(e.to_string()))?;
                return Ok(Input::SalonCancel {
                    appointment: cancel.appointment,
                    refund: cancel.refund,
                });
            }
            let event = crate::chatwoot::wire::EventIn::deserialize(&event.payload)
                .map_err(|e| NoInput::Unreadable(e.to_string()))?;
            crate::worker::staff::staff_input(&event).ok_or(NoInput::NotConversational)
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

/// The payload of a timer's inbox event, as [`input_of`] reads it back.
pub fn timer_payload(timer: &Timer) -> Value {
    serde_json::to_value(timer).unwrap_or(Value::Null)
}
