//! What the catalog describes: the salon, its services and staff, their ids, the languages names are
//! written in, and the cancellation policy.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::hours::WeeklyHours;

/// The id of a service (`[[services]] id`), such as `cut-women`. Also what buttons and list rows carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceId(String);

/// The id of a staff member (`[[staff]] id`), such as `lucia`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StaffId(String);

macro_rules! id_type {
    ($name:ident) => {
        impl $name {
            /// Wraps an id; whether it exists is for the [`Catalog`](super::Catalog) to say.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as written in the catalog.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(ServiceId);
id_type!(StaffId);

/// A language the bot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Es,
    En,
    Pt,
}

impl Language {
    /// Every language, in a stable order.
    pub const ALL: [Language; 3] = [Language::Es, Language::En, Language::Pt];

    /// The ISO 639-1 code: `es`, `en` or `pt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Es => "es",
            Language::En => "en",
            Language::Pt => "pt",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a deposit when the customer cancels after the free cancellation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LateDeposit {
    /// The salon keeps it.
    Keep,
    /// It is given back all the same.
    Refund,
}

/// How a date written with numbers only ("3/5") is read in English: Spanish and Portuguese always
/// write the day first, English does as the salon's country does (`salon.date_order`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// 3/5 is the 3rd of May (Europe, Latin America, most of the world).
    #[default]
    DayFirst,
    /// 3/5 is March 5th (the United States).
    MonthFirst,
}

/// The cancellation policy (`[salon.cancellation]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancellationPolicy {
    /// Cancelling at least this many hours before the appointment is free (the deposit is refunded).
    pub free_until_hours: u32,
    /// What happens to the deposit when cancelling later than that.
    pub late_deposit: LateDeposit,
}

impl CancellationPolicy {
    /// Whether cancelling an appointment that starts at `starts_at`, at `now`, gives its deposit
    /// back: inside the free window, or later when `late_deposit = "refund"`.
    pub fn refunds(&self, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        starts_at - now >= chrono::Duration::hours(i64::from(self.free_until_hours))
            || self.late_deposit == LateDeposit::Refund
    }
}

/// The salon itself (`[salon]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Salon {
    pub name: String,
    pub address: String,
    /// The salon's WhatsApp number in E.164 (`phone`, optional): where links back to the chat
    /// point (`https://wa.me/<number>`), such as Checkout's return pages.
    pub phone: Option<String>,
    /// The IANA time zone all hours and dates of the catalog are in.
    pub time_zone: Tz,
    /// ISO 4217 code of prices and deposits, such as `EUR`.
    pub currency: String,
    /// The language of customers whose language is unknown, and the one every name must exist in.
    pub default_language: Language,
    /// Granularity of the slot grid: slots start at local multiples of it from midnight.
    pub slot_minutes: u32,
    /// Days that can be booked: today and the `horizon_days - 1` following days (salon-local dates).
    pub horizon_days: u32,
    /// The earliest bookable start is this many minutes after now.
    pub min_notice_minutes: u32,
    /// How long a slot is held for a customer who is confirming or paying.
    pub hold_minutes: u32,
    pub cancellation: CancellationPolicy,
    /// How long before an appointment the reminder is sent (0: no reminder).
    pub reminder_hours: u32,
    /// Opening hours; staff work only within them.
    pub hours: WeeklyHours,
    /// How English dates written with numbers only are read.
    pub date_order: DateOrder,
}

/// A name in the bot's languages; always present in the default language, used as the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub(super) es: Option<String>,
    pub(super) en: Option<String>,
    pub(super) pt: Option<String>,
    pub(super) fallback: Language,
}

impl Names {
    /// The name in `language`, else in the catalog's default language.
    pub fn get(&self, language: Language) -> &str {
        self.exact(language)
            .or_else(|| self.exact(self.fallback))
            .unwrap_or_default()
    }

    /// The name in `language` only if it was written for it.
    pub fn exact(&self, language: Language) -> Option<&str> {
        match language {
            Language::Es => self.es.as_deref(),
            Language::En => self.en.as_deref(),
            Language::Pt => self.pt.as_deref(),
        }
    }
}

/// One service (`[[services]]`). Money is in minor units of the salon's currency (cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: Names,
    /// A free-form group such as `cut`, `colour` or `nails`, for menus.
    pub category: String,
    /// Time with the customer; a positive multiple of the salon's `slot_minutes`.
    pub duration_minutes: u32,
    pub price: u64,
    /// Paid when booking; 0 means no deposit. Never more than the price.
    pub deposit: u64,
    /// Time the staff member needs after the service (cleaning, colour processing) before the next one.
    pub buffer_after_minutes: u32,
    /// Other words customers use for it ("pelo", "haircut", "cabelo"), with their language; its
    /// names are matched too, so these are only the words the names do not already hold.
    pub synonyms: Vec<(Language, String)>,
}

impl Service {
    /// Whether booking this service asks for a deposit.
    pub fn has_deposit(&self) -> bool {
        self.deposit > 0
    }

    /// Minutes a booking takes from its staff member's day: duration plus buffer.
    pub fn occupied_minutes(&self) -> u32 {
        self.duration_minutes + self.buffer_after_minutes
    }
}

/// One staff member (`[[staff]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: StaffId,
    pub name: String,
    /// The services they offer (all exist in the catalog).
    pub services: Vec<ServiceId>,
    /// Their working hours (clipped to the salon's when computing availability).
    pub hours: WeeklyHours,
    /// Breaks per weekday, the `every_day` ones already included in each day.
    pub breaks: WeeklyHours,
    /// Salon-local dates on which they do not work.
    pub days_off: BTreeSet<NaiveDate>,
    /// Other names customers call them by (a nickname, a short form), besides `name`.
    pub synonyms: Vec<String>,
}

impl Staff {
    /// Whether they offer the service.
    pub fn offers(&self, service: &ServiceId) -> bool {
        self.services.contains(service)
    }

    /// Whether `day` is one of their days off.
    pub fn is_off(&self, day: NaiveDate) -> bool {
        self.days_off.contains(&day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::catalog::parse;
    use crate::booking::catalog::test_support::MINIMAL;

    #[test]
    fn names_fall_back_to_the_default_language() {
        let catalog = parse(MINIMAL).unwrap();
        let cut = catalog.service(&ServiceId::new("cut")).unwrap();
        assert_eq!(cut.name.get(Language::Pt), "Corte");
        assert_eq!(cut.name.exact(Language::Pt), None);
        assert!(!cut.has_deposit());
        assert_eq!(cut.buffer_after_minutes, 0);
    }
}
