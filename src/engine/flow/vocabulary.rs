//! The closed vocabularies of flow files: every name a flow may use for an intent, an option source,
//! a slot kind, a system event, a guard or an action, each an enum spelled as in the file, and the
//! paging rows a paged list adds. A name outside these sets is refused by the loader.

use std::fmt;

/// Declares a closed vocabulary: an enum whose variants are spelled in flow files as the given names.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $name {
            /// Every known name, in the documented order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];
            /// What this vocabulary is called in messages.
            pub const WHAT: &str = $what;

            /// The name flow files use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant a flow file's name means, if it is a known one.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown {} {name:?}", $what))
                })
            }
        }
    };
}

vocabulary! {
    /// What the customer means, as the intent detector names it.
    Intent, "intent" {
        Menu = "menu", Cancel = "cancel", Help = "help", Human = "human", Book = "book",
        MyAppointments = "my_appointments", Yes = "yes", No = "no", Reschedule = "reschedule",
        Prices = "prices", Hours = "hours", Address = "address", Policy = "policy",
        Greeting = "greeting", Thanks = "thanks", CancelAppointment = "cancel_appointment",
    }
}

vocabulary! {
    /// Where a list's rows come from at run time.
    OptionSource, "option source" {
        Services = "services", Staff = "staff", Days = "days", Times = "times",
        Appointments = "appointments",
    }
}

vocabulary! {
    /// How free text filling a slot is validated.
    SlotKind, "slot kind" { Name = "name", Date = "date", Time = "time", Free = "free" }
}

vocabulary! {
    /// Events from outside the conversation (a deposit's news, reminders).
    SystemEvent, "event" {
        PaymentLink = "payment.link", PaymentSucceeded = "payment.succeeded",
        PaymentFailed = "payment.failed", PaymentLate = "payment.late",
        PaymentRefunded = "payment.refunded", PaymentCancelled = "payment.cancelled",
        ReminderConfirm = "reminder.confirm", ReminderCancel = "reminder.cancel",
    }
}

vocabulary! {
    /// A condition on the conversation, tried with `when`.
    Guard, "guard" {
        DepositRequired = "deposit_required", NoDeposit = "no_deposit",
        HasAppointments = "has_appointments", NoAppointments = "no_appointments",
        CanCancelFree = "can_cancel_free", LateCancel = "late_cancel",
    }
}

vocabulary! {
    /// Something the engine does on a transition (`do`).
    Action, "action" {
        Hold = "hold", ReleaseHold = "release_hold", Confirm = "confirm", Cancel = "cancel",
        Refund = "refund", RequestDeposit = "request_deposit", Reschedule = "reschedule",
        Handoff = "handoff", ScheduleReminder = "schedule_reminder", PageEarlier = "page_earlier",
        PageLater = "page_later", Reset = "reset",
    }
}

/// The rows the engine adds to a paged list (`page = N`) when there is more before or after: their
/// ids, which `button` triggers of that state may name, and the templates of their titles.
pub const PAGING_ROWS: [(&str, &str); 2] = [("earlier", "row_earlier"), ("later", "row_later")];

/// The paging rows of a list of days ("earlier days", "later days"): the same ids, their own titles.
pub const PAGING_DAY_ROWS: [(&str, &str); 2] =
    [("earlier", "row_earlier_days"), ("later", "row_later_days")];

/// The paging rows a paged list of `source` adds.
pub fn paging_rows(source: OptionSource) -> [(&'static str, &'static str); 2] {
    match source {
        OptionSource::Days => PAGING_DAY_ROWS,
        _ => PAGING_ROWS,
    }
}

/// What the loader needs to know about a vocabulary to report an unknown name.
pub(super) trait Vocabulary: Copy + 'static {
    fn what() -> &'static str;
    fn names() -> impl Iterator<Item = &'static str>;
}

macro_rules! impl_vocabulary {
    ($($name:ident),+) => {
        $(impl Vocabulary for $name {
            fn what() -> &'static str {
                Self::WHAT
            }
            fn names() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|item| item.as_str())
            }
        })+
    };
}

impl_vocabulary!(Intent, OptionSource, SlotKind, SystemEvent, Guard, Action);
