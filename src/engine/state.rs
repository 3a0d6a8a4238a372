//! What the engine remembers of a conversation between two events: where it is in the flow, in which
//! language, and what the customer chose so far. Stored as JSON with the conversation (see
//! `store::conversations`), so adding a field later needs no migration (`#[serde(default)]`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::understand::TimeWish;
use crate::booking::catalog::Language;

/// A conversation's state in its flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The version of the flow this state belongs to.
    #[serde(default)]
    pub flow_version: u32,
    /// The current state; empty before the first event.
    #[serde(default)]
    pub state: String,
    /// The language the bot speaks with this customer, once chosen.
    #[serde(default)]
    pub language: Option<Language>,
    /// When the current state was entered (also tells a stale state timeout from the current one).
    #[serde(default)]
    pub entered_at: Option<DateTime<Utc>>,
    /// What the customer chose so far.
    #[serde(default)]
    pub slots: Slots,
    /// Inputs in a row the current state did not understand.
    #[serde(default)]
    pub misses: u32,
    /// A person of the salon has the conversation: the bot only listens for the way back (`menu`).
    #[serde(default)]
    pub human: bool,
    /// When human mode began or a person last wrote to the customer (the idle timer's mark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_since: Option<DateTime<Utc>>,
    /// The customer was told once that the bot only reads text and buttons.
    #[serde(default)]
    pub told_unsupported: bool,
    /// When the customer last wrote (a long silence starts the conversation again).
    #[serde(default)]
    pub last_seen: Option<DateTime<Utc>>,
}

impl Conversation {
    /// Whether the conversation has not started yet.
    pub fn is_new(&self) -> bool {
        self.state.is_empty()
    }

    /// Whether the customer has been silent so long ([`IDLE_RESET`](super::step::IDLE_RESET)) that
    /// a message at `now` starts the conversation again.
    pub fn idle_at(&self, now: DateTime<Utc>) -> bool {
        self.last_seen
            .is_some_and(|seen| now - seen >= super::step::IDLE_RESET)
    }
}

/// The values a conversation has collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// The service id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The staff member asked for: an id, or [`ANYONE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// The salon-local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The chosen start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    /// Who does the chosen time (with "anyone", the first free staff member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot_staff: Option<String>,
    /// The appointment the customer is looking at (my appointments, cancel, reschedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<i64>,
    /// The page of a paged list.
    #[serde(default)]
    pub page: u32,
    /// The payment link of a deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_url: Option<String>,
    /// A deposit was asked for the held time and is not settled yet: giving the time up must also
    /// close its payment page (the worker reads this before a turn that lets a hold go).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposit_pending: bool,
    /// Free text filled by `text` transitions, by slot name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub text: BTreeMap<String, String>,
    /// What the customer's words asked for that the flow has not reached yet (`[[ahead]]`).
    #[serde(default, skip_serializing_if = "Wanted::is_empty")]
    pub wanted: Wanted,
}

/// What free text asked for ahead of the flow: each part is applied at the step that asks for it
/// (a staff member once the service is known, a time once the day is), checked against the
/// catalog and availability then.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    /// The services the words fit when they fit several ("corte"): the service list shows these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// A staff member's id, or [`ANYONE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    /// The salon-local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// The time, a range of times (which the time list keeps to), or two readings to ask about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeWish>,
}

impl Wanted {
    /// Forgets what a row of `source` has just answered (the customer chose it from the list).
    pub fn forget(&mut self, source: crate::engine::flow::OptionSource) {
        use crate::engine::flow::OptionSource;
        match source {
            OptionSource::Services => self.services.clear(),
            OptionSource::Staff => self.staff = None,
            OptionSource::Days => self.date = None,
            OptionSource::Times | OptionSource::Appointments => *self = Wanted::default(),
        }
    }

    /// Whether nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.staff.is_none()
            && self.date.is_none()
            && self.time.is_none()
    }
}

/// The `staff` slot's value when the customer lets the salon choose.
pub const ANYONE: &str = "anyone";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_old_rows_without_new_fields_still_load() {
        let mut conversation = Conversation {
            flow_version: 2,
            state: "confirm".into(),
            language: Some(Language::Pt),
            ..Conversation::default()
        };
        conversation.slots.service = Some("cut-men".into());
        conversation.slots.day = NaiveDate::from_ymd_opt(2026, 11, 24);
        let json = serde_json::to_value(&conversation).unwrap();
        assert_eq!(json["language"], "pt");
        let back: Conversation = serde_json::from_value(json).unwrap();
        assert_eq!(back, conversation);

        let old: Conversation = serde_json::from_str(r#"{"state":"greeting"}"#).unwrap();
        assert_eq!(old.state, "greeting");
        assert_eq!(old.slots, Slots::default());
        assert!(!old.is_new() && Conversation::default().is_new());
    }
}
