//! What a step decides: the replies to send and the changes to make, carried out by the caller in one
//! transaction (`worker::turn`). Replies are already written in the customer's language.

use chrono::{DateTime, Utc};

use super::input::Timer;

/// One change a step asks for, besides replying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Hold this time for the customer until `expires_at`.
    Hold(HoldRequest),
    /// Give the conversation's held (or payment-pending) time back.
    ReleaseHold,
    /// Turn the conversation's hold into a confirmed booking.
    Confirm,
    /// Turn the conversation's hold into a booking waiting for its deposit.
    RequestDeposit,
    /// Cancel a booked appointment.
    Cancel(i64),
    /// Give a cancelled appointment's deposit back.
    Refund(i64),
    /// Move a booked appointment to another time.
    Reschedule { appointment: i64, to: SlotRequest },
    /// A person of the salon takes the conversation over.
    Handoff,
    /// Set a timer (`appointment: None` in a reminder means the appointment being confirmed now).
    Schedule {
        key: String,
        due_at: DateTime<Utc>,
        timer: TimerRequest,
    },
    /// Drop a timer that has not fired.
    CancelTimer(String),
}

/// A timer to set; for reminders of a booking made in the same turn, the executor fills in the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerRequest {
    Ready(Timer),
    /// The reminder of the appointment confirmed in this turn, starting at `start`.
    ReminderOfConfirmed {
        start: DateTime<Utc>,
    },
}

/// A time with a staff member, for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRequest {
    pub service: String,
    pub staff: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `end` plus the service's buffer.
    pub occupied_until: DateTime<Utc>,
}

/// A hold to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub slot: SlotRequest,
    pub expires_at: DateTime<Utc>,
    /// The deposit in minor units (0: none).
    pub deposit: u64,
}

/// One message to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub ui: ReplyUi,
    /// When set, the message may go out as this pre-approved WhatsApp template instead (it can be
    /// sent outside the 24-hour window), if the operator configured one for its purpose.
    pub template: Option<TemplateReply>,
}

impl Reply {
    /// A plain text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with(text, ReplyUi::None)
    }

    /// A reply with buttons, a list or a link.
    pub fn with(text: impl Into<String>, ui: ReplyUi) -> Self {
        Self {
            text: text.into(),
            ui,
            template: None,
        }
    }
}

/// What a WhatsApp template version of a reply needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateReply {
    /// What the message is for (`reminder`): the operator maps purposes to template names.
    pub purpose: &'static str,
    /// The body's `{{1}}`, `{{2}}` ... values, in order.
    pub params: Vec<String>,
    /// The quick-reply buttons' payloads, in order.
    pub payloads: Vec<String>,
}

/// How the customer can answer a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyUi {
    None,
    /// Reply buttons: (id, title).
    Buttons(Vec<(String, String)>),
    /// A list behind a button labelled `button`.
    List {
        button: String,
        rows: Vec<Row>,
    },
    /// A button opening `url`.
    Cta {
        label: String,
        url: String,
    },
}

/// A list row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub state: super::state::Conversation,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
}
