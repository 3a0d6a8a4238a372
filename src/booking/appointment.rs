//! The life of an appointment, and the one place where its allowed transitions are written down.
//!
//! ```text
//! held ──> pending_payment ──> confirmed ──> completed
//!   │            │                 │ ├────> no_show
//!   │            │                 │ └────> cancelled ──> refunded
//!   ├────────────┴─> expired       │
//!   └──> confirmed                 │
//!   └──> cancelled <───────────────┘ (pending_payment too)
//! ```
//! A hold becomes a booking by an update of the same row, so the slot is never free in between.
//!
//! A deposit's news moves an appointment in three more ways, decided by `booking::payment` and
//! applied by the store as operations of their own ([`AppointmentStatus::can_become_by_payment`]):
//! a time let go is confirmed again by a payment that arrived late while the time is still free
//! (expired or cancelled → confirmed, checked for overlaps as a new hold is); that late payment,
//! when someone took the time, is given back (expired → refunded; cancelled → refunded is the
//! ordinary way); and a booking the salon refunded in full is off (confirmed → refunded).

use std::fmt;

use chrono::{DateTime, Utc};

/// An appointment as the store keeps it and the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Appointment {
    pub id: i64,
    pub business_id: String,
    pub conversation_key: String,
    pub service_id: String,
    pub staff_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub occupied_until: DateTime<Utc>,
    pub status: AppointmentStatus,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub deposit_minor: i64,
}

/// Where an appointment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppointmentStatus {
    /// The slot is kept for the customer while they confirm (or pay); expires after the hold minutes.
    Held,
    /// Waiting for the deposit.
    PendingPayment,
    Confirmed,
    Completed,
    Cancelled,
    /// The hold (or the payment window) ran out.
    Expired,
    NoShow,
    /// Cancelled, and the deposit given back.
    Refunded,
}

impl AppointmentStatus {
    pub const ALL: [AppointmentStatus; 8] = [
        AppointmentStatus::Held,
        AppointmentStatus::PendingPayment,
        AppointmentStatus::Confirmed,
        AppointmentStatus::Completed,
        AppointmentStatus::Cancelled,
        AppointmentStatus::Expired,
        AppointmentStatus::NoShow,
        AppointmentStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Held => "held",
            AppointmentStatus::PendingPayment => "pending_payment",
            AppointmentStatus::Confirmed => "confirmed",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::Expired => "expired",
            AppointmentStatus::NoShow => "no_show",
            AppointmentStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Whether the appointment occupies its staff member's time (the database's exclusion constraint
    /// covers exactly these).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Held
                | AppointmentStatus::PendingPayment
                | AppointmentStatus::Confirmed
        )
    }

    /// The allowed transitions, in one place.
    pub fn can_become(self, next: AppointmentStatus) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, next),
            (Held, PendingPayment | Confirmed | Expired | Cancelled)
                | (PendingPayment, Confirmed | Expired | Cancelled)
                | (Confirmed, Completed | Cancelled | NoShow)
                | (Cancelled, Refunded)
        )
    }

    /// The transitions only a deposit's news makes (see the module's documentation); never by a
    /// plain status change.
    pub fn can_become_by_payment(self, next: AppointmentStatus) -> bool {
        use AppointmentStatus::*;
        matches!(
            (self, next),
            (Expired | Cancelled, Confirmed) | (Expired, Refunded) | (Confirmed, Refunded)
        )
    }

    /// The statuses an appointment may be in to become `next`.
    pub fn sources_of(next: AppointmentStatus) -> Vec<AppointmentStatus> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .collect()
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in AppointmentStatus::ALL {
            assert_eq!(AppointmentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AppointmentStatus::parse("booked"), None);
    }

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        let allowed = [
            (Held, PendingPayment),
            (Held, Confirmed),
            (Held, Expired),
            (Held, Cancelled),
            (PendingPayment, Confirmed),
            (PendingPayment, Expired),
            (PendingPayment, Cancelled),
            (Confirmed, Completed),
            (Confirmed, Cancelled),
            (Confirmed, NoShow),
            (Cancelled, Refunded),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_deposits_news_adds_only_its_own_three_ways() {
        let by_payment = [
            (Expired, Confirmed),
            (Cancelled, Confirmed),
            (Expired, Refunded),
            (Confirmed, Refunded),
        ];
        for from in AppointmentStatus::ALL {
            for to in AppointmentStatus::ALL {
                assert_eq!(
                    from.can_become_by_payment(to),
                    by_payment.contains(&(from, to)),
                    "{from} -> {to}"
                );
                assert!(!(from.can_become(to) && from.can_become_by_payment(to)));
            }
        }
    }

    #[test]
    fn terminal_statuses_free_the_slot() {
        assert!(Held.is_live() && PendingPayment.is_live() && Confirmed.is_live());
        for s in [Completed, Cancelled, Expired, NoShow, Refunded] {
            assert!(!s.is_live(), "{s}");
        }
    }
}
