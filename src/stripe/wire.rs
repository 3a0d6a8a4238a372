//! The wire types of the deposits: the requests the bot makes (`*Out`, turned into forms) and the
//! objects and events Stripe sends (`*In`, read leniently: fields the bot does not use are ignored,
//! optional ones default, so a newer API version adding fields changes nothing).
//!
//! Objects follow Stripe's API reference and `stripe/openapi`'s `fixtures3.json`; event envelopes
//! are `{"id": "evt_…", "type": "…", "created": …, "data": {"object": {…}}}`. Which appointment an
//! object is about is read from the `appointment_id` metadata the bot sets on its sessions, their
//! PaymentIntents and its refunds, and otherwise from the PaymentIntent (charges and disputes carry
//! no metadata of ours to rely on).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form::Form;

/// The metadata key naming the appointment a deposit is for.
pub const APPOINTMENT_KEY: &str = "appointment_id";

/// `POST /v1/checkout/sessions`: a hosted page taking one deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutSessionOut {
    pub appointment_id: i64,
    /// In minor units of `currency`.
    pub amount: u64,
    /// ISO 4217, lower-case as Stripe writes it.
    pub currency: String,
    /// The line item's name: the service, in the customer's language.
    pub name: String,
    /// Checkout's language (`es`, `en`, `pt`), the customer's.
    pub locale: Option<String>,
    /// When the session expires (Unix seconds): Stripe accepts 30 minutes to 24 hours from now.
    pub expires_at: i64,
    pub success_url: String,
    pub cancel_url: String,
}

impl CheckoutSessionOut {
    pub fn form(&self) -> Form {
        let id = self.appointment_id.to_string();
        Form::new()
            .field("mode", "payment")
            .field("line_items[0][price_data][currency]", &self.currency)
            .field("line_items[0][price_data][unit_amount]", self.amount)
            .field("line_items[0][price_data][product_data][name]", &self.name)
            .field("line_items[0][quantity]", 1)
            .field(format!("metadata[{APPOINTMENT_KEY}]"), &id)
            // Session metadata stays on the session: the PaymentIntent (and so its refunds and
            // failures) gets its own copy.
            .field(
                format!("payment_intent_data[metadata][{APPOINTMENT_KEY}]"),
                &id,
            )
            .field("client_reference_id", &id)
            .field("expires_at", self.expires_at)
            .field("success_url", &self.success_url)
            .field("cancel_url", &self.cancel_url)
            .optional("locale", self.locale.as_deref())
    }
}

/// `POST /v1/refunds`: give back (part of) a deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOut {
    pub appointment_id: i64,
    pub payment_intent: String,
    /// In minor units; at most what is left of the payment.
    pub amount: u64,
    /// The bot's attempt (1, 2, ...): sent as metadata, so that news of the refund says which.
    pub attempt: u32,
}

impl RefundOut {
    pub fn form(&self) -> Form {
        Form::new()
            .field("payment_intent", &self.payment_intent)
            .field("amount", self.amount)
            .field("reason", "requested_by_customer")
            .field(format!("metadata[{APPOINTMENT_KEY}]"), self.appointment_id)
            .field(format!("metadata[{ATTEMPT_KEY}]"), self.attempt)
    }
}

/// The metadata key naming the bot's attempt at a refund.
pub const ATTEMPT_KEY: &str = "attempt";

/// The attempt named by a refund's `metadata`, if any.
pub fn attempt_in(metadata: &Metadata) -> Option<u32> {
    match metadata.get(ATTEMPT_KEY)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

/// Metadata as Stripe sends it: string values (read leniently).
pub type Metadata = BTreeMap<String, Value>;

/// The appointment named by `metadata`, if any.
pub fn appointment_in(metadata: &Metadata) -> Option<i64> {
    match metadata.get(APPOINTMENT_KEY)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// A Checkout Session (`object: "checkout.session"`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct CheckoutSessionIn {
    pub id: String,
    /// `open`, `complete` or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// The hosted page (null once the session is complete or expired).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Created lazily: usually null until the customer pays.
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
}

impl CheckoutSessionIn {
    /// The appointment the session is for: its metadata, else its `client_reference_id`.
    pub fn appointment(&self) -> Option<i64> {
        appointment_in(&self.metadata).or_else(|| {
            self.client_reference_id
                .as_deref()
                .and_then(|r| r.trim().parse().ok())
        })
    }
}

/// A Charge (`object: "charge"`), as `charge.refunded` carries it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct ChargeIn {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub amount: i64,
    /// Cumulative: every refund of the charge so far.
    #[serde(default)]
    pub amount_refunded: i64,
    /// True only once the whole charge is refunded.
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub metadata: Metadata,
}

/// A Refund (`object: "refund"`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct RefundIn {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub payment_intent: Option<String>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: Metadata,
}

/// A Dispute (`object: "dispute"`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct DisputeIn {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// The account's balance (`GET /v1/balance`): read by `salonbot doctor` only to know the key
/// works and in which mode.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BalanceIn {
    /// `false` in test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

/// A PaymentIntent (`object: "payment_intent"`), as `payment_intent.payment_failed` carries it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PaymentIntentIn {
    pub id: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub last_payment_error: Option<PaymentErrorIn>,
}

/// Why the last attempt to pay failed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct PaymentErrorIn {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// An event's envelope; `data.object` is read by its type ([`EventIn::object`]).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EventIn {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    pub data: EventDataIn,
}

/// `data` of an event.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EventDataIn {
    pub object: Value,
}

/// The event types the deposits act on; others are stored and marked ignored.
pub const HANDLED_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "payment_intent.payment_failed",
];

/// What a handled event is about: the thing that leads to the appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A Checkout Session, and the appointment its metadata names.
    Session {
        session: String,
        appointment: Option<i64>,
    },
    /// A PaymentIntent (a charge, refund, dispute or failed attempt of it), and the appointment
    /// its metadata names when it carries ours.
    Payment {
        payment_intent: Option<String>,
        appointment: Option<i64>,
    },
}

impl EventIn {
    /// `data.object` read as `T`.
    pub fn object<T: for<'de> Deserialize<'de>>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data.object)
    }

    /// Whether the deposits act on this event's type.
    pub fn is_handled(&self) -> bool {
        HANDLED_EVENTS.contains(&self.kind.as_str())
    }

    /// What the event is about; `Ok(None)` for a type the deposits do not act on, `Err` when its
    /// object does not have the shape its type promises.
    pub fn subject(&self) -> Result<Option<Subject>, serde_json::Error> {
        let kind = self.kind.as_str();
        if !self.is_handled() {
            return Ok(None);
        }
        Ok(Some(if kind.starts_with("checkout.session.") {
            let session: CheckoutSessionIn = self.object()?;
            Subject::Session {
                appointment: session.appointment(),
                session: session.id,
            }
        } else if kind == "charge.refunded" {
            let charge: ChargeIn = self.object()?;
            Subject::Payment {
                appointment: appointment_in(&charge.metadata),
                payment_intent: charge.payment_intent,
            }
        } else if kind.starts_with("refund.") {
            let refund: RefundIn = self.object()?;
            Subject::Payment {
                appointment: appointment_in(&refund.metadata),
                payment_intent: refund.payment_intent,
            }
        } else if kind == "charge.dispute.created" {
            let dispute: DisputeIn = self.object()?;
            Subject::Payment {
                appointment: None,
                payment_intent: dispute.payment_intent,
            }
        } else {
            let intent: PaymentIntentIn = self.object()?;
            Subject::Payment {
                appointment: appointment_in(&intent.metadata),
                payment_intent: Some(intent.id),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_request_carries_the_appointment_three_times_and_one_line_item() {
        let out = CheckoutSessionOut {
            appointment_id: 42,
            amount: 2000,
            currency: "eur".into(),
            name: "Mechas".into(),
            locale: Some("es".into()),
            expires_at: 1_776_681_860,
            success_url: "https://wa.me/34910000000".into(),
            cancel_url: "https://wa.me/34910000000".into(),
        };
        let form = out.form();
        let get = |key: &str| {
            form.fields()
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("mode"), Some("payment"));
        assert_eq!(get("metadata[appointment_id]"), Some("42"));
        assert_eq!(
            get("payment_intent_data[metadata][appointment_id]"),
            Some("42")
        );
        assert_eq!(get("client_reference_id"), Some("42"));
        assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("2000"));
        assert_eq!(get("line_items[0][quantity]"), Some("1"));
        assert_eq!(get("expires_at"), Some("1776681860"));
        assert_eq!(get("locale"), Some("es"));
        assert_eq!(
            get("ui_mode"),
            None,
            "omitted: the hosted page on any version"
        );
    }

    #[test]
    fn subjects_lead_to_the_appointment_or_the_payment_intent() {
        let event = |kind: &str, object: Value| EventIn {
            id: "evt_1".into(),
            kind: kind.into(),
            created: 0,
            livemode: false,
            data: EventDataIn { object },
        };
        let session = event(
            "checkout.session.completed",
            serde_json::json!({"id": "cs_1", "metadata": {"appointment_id": "7"}}),
        );
        assert_eq!(
            session.subject().unwrap(),
            Some(Subject::Session {
                session: "cs_1".into(),
                appointment: Some(7)
            })
        );
        let by_reference = event(
            "checkout.session.expired",
            serde_json::json!({"id": "cs_2", "metadata": {}, "client_reference_id": "8"}),
        );
        assert!(matches!(
            by_reference.subject().unwrap(),
            Some(Subject::Session {
                appointment: Some(8),
                ..
            })
        ));
        let charge = event(
            "charge.refunded",
            serde_json::json!({"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 500}),
        );
        assert_eq!(
            charge.subject().unwrap(),
            Some(Subject::Payment {
                payment_intent: Some("pi_1".into()),
                appointment: None
            })
        );
        let failed = event(
            "payment_intent.payment_failed",
            serde_json::json!({"id": "pi_2", "metadata": {"appointment_id": "9"}}),
        );
        assert_eq!(
            failed.subject().unwrap(),
            Some(Subject::Payment {
                payment_intent: Some("pi_2".into()),
                appointment: Some(9)
            })
        );
        assert_eq!(
            event("customer.created", Value::Null).subject().unwrap(),
            None
        );
        assert!(
            event("charge.refunded", serde_json::json!([1]))
                .subject()
                .is_err()
        );
    }
}
