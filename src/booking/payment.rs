//! The life of a deposit, beside its appointment's.
//!
//! ```text
//! requested ──> open ──> processing ──> paid
//!                 │           │
//!                 ├─> expired ├─> failed
//! ```
//! A status only moves forward (in the order of [`PaymentStatus`]), and `paid` wins over
//! everything: Stripe's events come late, twice and out of order, and a payment is a payment
//! whenever its news arrives. The refund beside it moves forward too ([`RefundStatus`]).

use std::fmt;

/// Where a deposit's payment is. The order of the variants is the order it moves in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PaymentStatus {
    /// Asked for; Stripe has not created the Checkout Session yet.
    Requested,
    /// The Checkout Session is open: its link can be paid.
    Open,
    /// The customer completed checkout with a method that settles later.
    Processing,
    /// The session expired unpaid.
    Expired,
    /// The payment failed (a slow method was declined) or the session could not be created.
    Failed,
    /// Paid.
    Paid,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        PaymentStatus::Requested,
        PaymentStatus::Open,
        PaymentStatus::Processing,
        PaymentStatus::Expired,
        PaymentStatus::Failed,
        PaymentStatus::Paid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Requested => "requested",
            PaymentStatus::Open => "open",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Not settled yet: the customer may still pay.
    pub fn is_unsettled(self) -> bool {
        matches!(
            self,
            PaymentStatus::Requested | PaymentStatus::Open | PaymentStatus::Processing
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of the refund the bot asked for. Ordered: `failed` stays visible until a later
/// attempt succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefundStatus {
    Pending,
    Failed,
    Succeeded,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Failed,
        RefundStatus::Succeeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Failed => "failed",
            RefundStatus::Succeeded => "succeeded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

