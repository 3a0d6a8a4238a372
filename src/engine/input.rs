//! What reaches the engine: a customer's message reduced to what a flow can answer (text, a tapped
//! button or row, or something it cannot read), a timer, or an event from outside the conversation
//! (a deposit's news arrives already decided: the engine only says it and moves on).
//! The worker translates stored inbox events into these (`worker::input`), so the engine knows
//! nothing of the inbox or of any provider's wire format.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::flow::SystemEvent;
use super::understand::Understanding;

/// One input to [`super::step`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Typed text.
    Text(String),
    /// Typed text with what the optional language model read in it (validated against the catalog,
    /// recorded with the message): the step uses this reading instead of the rules'.
    Understood {
        text: String,
        reading: Understanding,
    },
    /// A reply button or list row the bot sent, by id (a template's quick reply by its payload).
    Choice { id: String, title: String },
    /// A message the bot cannot read: media, a location, a reaction, a contact card ...
    Unsupported(String),
    /// A timer of the conversation came due.
    Timer(Timer),
    /// Something that happened outside the conversation (a reminder answer).
    System(SystemEvent),
    /// News of the deposit of `appointment`, as `booking::payment` decided it is to be told
    /// (`payment.link`, `payment.succeeded`, ...); `link` is the payment page, when there is one.
    Payment {
        event: SystemEvent,
        appointment: i64,
        link: Option<String>,
    },
    /// The salon's staff, in the staff inbox (Chatwoot).
    Staff(Staff),
    /// The salon cancelled `appointment` (the staff pages' day view), giving its deposit back when
    /// `refund` says so: cancelled as the customer's own cancellation is, and the customer told.
    SalonCancel { appointment: i64, refund: bool },
    /// The executor could not hold the chosen time: someone else took it a moment earlier.
    SlotTaken,
    /// The executor found the customer's hold gone (it ran out before they confirmed).
    HoldLost,
}

/// What the salon's staff did about the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staff {
    /// A person wrote to the customer: the conversation is theirs (human mode) from now on.
    Replied,
    /// The staff gave the conversation back (resolved it, or wrote the note `/bot`).
    HandBack,
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
    /// No one of the staff wrote since `since` (when human mode began, or the last agent reply):
    /// the bot takes the conversation back, unless a person wrote meanwhile.
    HumanIdle { since: DateTime<Utc> },
}
