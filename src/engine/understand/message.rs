//! What one message says, read by the rules: its language, its intent, the services and staff it
//! names, the day and the time it asks for, all relative to the salon's time zone and the moment
//! the message arrived. [`understand`] is pure and deterministic, so a turn that used it replays
//! to the letter; the optional language model's answer is validated into the same [`Understanding`].

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::dates::{self, Order};
use super::named::named;
use super::times::{self, TimeWish};
use super::words::words;
use super::{intent, language_of};
use crate::booking::catalog::{Catalog, DateOrder, Language, ServiceId, StaffId};
use crate::engine::flow::Intent;

/// What a message is read against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The salon: its services, staff, hours and time zone.
    pub catalog: &'a Catalog,
    /// When the message arrived ("mañana" is the salon's tomorrow from then).
    pub now: DateTime<Utc>,
    /// The conversation's language, used when the message does not tell its own.
    pub language: Option<Language>,
}

/// What a message says, as far as the rules (or a validated model answer) can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Understanding {
    /// The language it is written in, when its words tell.
    #[serde(default)]
    pub language: Option<Language>,
    /// What the customer wants. A message naming a service, a day or a time and nothing else wants
    /// to book.
    #[serde(default)]
    pub intent: Option<Intent>,
    /// The services it may mean: one when clear, several when the words fit several ("corte").
    #[serde(default)]
    pub services: Vec<ServiceId>,
    /// The staff member named, or `anyone`.
    #[serde(default)]
    pub staff: Option<StaffId>,
    /// The salon-local day asked for.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// The time asked for.
    #[serde(default)]
    pub time: Option<TimeWish>,
}

impl Understanding {
    /// The service, when the message names exactly one.
    pub fn service(&self) -> Option<&ServiceId> {
        match self.services.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Whether it carries anything a booking needs: a service, a staff member, a day or a time.
    pub fn carries_slots(&self) -> bool {
        !self.services.is_empty()
            || self.staff.is_some()
            || self.date.is_some()
            || self.time.is_some()
    }

    /// The contract's report of `salonbot understand`: `language`, `intent`, `service`, `staff`,
    /// `date` (YYYY-MM-DD), `time_from`/`time_to` (HH:MM), each null when absent; an exact time has
    /// only `time_from`. Two readings of an hour still to be asked about are in `time_options`.
    pub fn report(&self) -> Report {
        let hhmm = |t: NaiveTime| t.format("%H:%M").to_string();
        let (from, to) = self.time.map(|t| t.bounds()).unwrap_or((None, None));
        let options = match self.time {
            Some(TimeWish::Either { morning, afternoon }) => vec![hhmm(morning), hhmm(afternoon)],
            _ => Vec::new(),
        };
        Report {
            language: self.language.map(|l| l.as_str()),
            intent: self.intent.map(|i| i.as_str()),
            service: self.service().map(|s| s.to_string()),
            staff: self.staff.as_ref().map(|s| s.to_string()),
            date: self.date.map(|d| d.format("%Y-%m-%d").to_string()),
            time_from: from.map(hhmm),
            time_to: to.map(hhmm),
            service_options: if self.services.len() > 1 {
                self.services.iter().map(|s| s.to_string()).collect()
            } else {
                Vec::new()
            },
            time_options: options,
        }
    }
}

/// The JSON object `salonbot understand` prints (see [`Understanding::report`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub language: Option<&'static str>,
    pub intent: Option<&'static str>,
    pub service: Option<String>,
    pub staff: Option<String>,
    pub date: Option<String>,
    pub time_from: Option<String>,
    pub time_to: Option<String>,
    /// The services an ambiguous message may mean (empty otherwise).
    pub service_options: Vec<String>,
    /// The two readings of an hour open in both halves of the day (empty otherwise).
    pub time_options: Vec<String>,
}

/// Reads a message with the rules.
pub fn understand(text: &str, cx: &Context<'_>) -> Understanding {
    let salon = cx.catalog.salon();
    let language = language_of(text);
    let words = words(text);
    let mut used = vec![false; words.len()];
    let named = named(cx.catalog, &words, &mut used);
    let order = match (language.or(cx.language), salon.date_order) {
        (Some(Language::En), DateOrder::MonthFirst) => Order::MonthFirst,
        _ => Order::DayFirst,
    };
    let today = cx.now.with_timezone(&salon.time_zone).date_naive();
    let date = dates::date(&words, &mut used, today, order);
    let hours = &salon.hours;
    let open_at = |time: NaiveTime| {
        let minute = u16::try_from(time.hour() * 60 + time.minute()).unwrap_or(u16::MAX);
        let open_on = |day: chrono::Weekday| {
            hours
                .on(day)
                .iter()
                .any(|r| r.start_minute() <= minute && minute < r.end_minute())
        };
        match date {
            Some(day) => open_on(day.weekday()),
            None => ALL_WEEK.iter().any(|day| open_on(*day)),
        }
    };
    let time = times::time(&words, &used, &open_at);
    let mut intent = intent(text);
    let understanding = Understanding {
        language,
        intent,
        services: named.services,
        staff: named.staff,
        date,
        time,
    };
    if matches!(intent, None | Some(Intent::Greeting)) && understanding.carries_slots() {
        intent = Some(Intent::Book);
    }
    Understanding {
        intent,
        ..understanding
    }
}

use chrono::Timelike;

const ALL_WEEK: [chrono::Weekday; 7] = [
    chrono::Weekday::Mon,
    chrono::Weekday::Tue,
    chrono::Weekday::Wed,
    chrono::Weekday::Thu,
    chrono::Weekday::Fri,
    chrono::Weekday::Sat,
    chrono::Weekday::Sun,
];
