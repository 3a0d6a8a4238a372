//! No payment missed: `salonbot stripe reconcile` (and the simulator's `/pay`) asks Stripe about
//! every deposit whose outcome is not known yet and whose Checkout Session exists
//! (`GET /v1/checkout/sessions/{id}`), and puts what Stripe says, when the session is no longer
//! open, in the deposit's conversation's lane as news, exactly as the answer to the bot's own
//! retrieval is put there (`payment_calls::SESSION_STATE`). The conversation's turn decides
//! (`booking::payment::decide`) and says what follows: a payment whose webhook was lost confirms
//! its booking (or, when its time was taken meanwhile, is refunded), an expired page lets the time
//! go. Nothing is decided here, so a reconciliation racing a late webhook or the page's own check
//! ends as either would alone.
//!
//! The news's id names the session and what Stripe said of it, so reconciling twice stores it once.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::store::{Store, StoreError, StoredPayment};
use crate::stripe::StripeApi;
use crate::stripe::wire::CheckoutSessionIn;
use crate::worker::payment_calls::{SESSION_STATE, news_event};

/// What reconciliation found for one deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub appointment_id: i64,
    pub session_id: String,
    pub found: Found,
}

/// What Stripe said of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Still open: it can be paid until `expires_at` (its own check comes then).
    Open { expires_at: Option<DateTime<Utc>> },
    /// No longer open (`status`/`payment_status`, as Stripe says them); `new` when this news was
    /// not recorded before.
    Settled {
        status: String,
        payment_status: String,
        new: bool,
    },
    /// Stripe could not be asked, or refused: the reason.
    Failed(String),
}

/// Asks Stripe about every unsettled deposit with a session (but the simulator's), and records the news of those no
/// longer open in their conversations' lanes. Only the store's own failures stop it; a session
/// Stripe cannot answer for is reported and the rest go on.
pub async fn reconcile(
    store: &Store,
    api: &StripeApi,
    now: DateTime<Utc>,
) -> Result<Vec<Reconciled>, StoreError> {
    // The simulated conversations' sessions are the sandbox's, unknown to Stripe.
    reconcile_where(store, api, now, |p| {
        !crate::chat::is_simulated(&p.business_id)
    })
    .await
}

/// [`reconcile`] for one conversation's deposits only (the simulator's "pay", whose sandbox knows
/// none of the others).
pub async fn reconcile_conversation(
    store: &Store,
    api: &StripeApi,
    conversation_key: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Reconciled>, StoreError> {
    reconcile_where(store, api, now, |p| p.conversation_key == conversation_key).await
}

async fn reconcile_where(
    store: &Store,
    api: &StripeApi,
    now: DateTime<Utc>,
    wanted: impl Fn(&StoredPayment) -> bool,
) -> Result<Vec<Reconciled>, StoreError> {
    let mut report = Vec::new();
    for payment in store
        .unsettled_payments()
        .await?
        .into_iter()
        .filter(|p| wanted(p))
    {
        let Some(session_id) = payment.session_id.clone() else {
            continue;
        };
        let found = match api.retrieve_checkout_session(&session_id).await {
            Err(err) => {
                tracing::warn!(appointment = payment.appointment_id, session = %session_id, error = %err, "reconciliation: Stripe did not answer for the session");
                Found::Failed(err.to_string())
            }
            Ok(session) => record(store, &payment, &session, now).await?,
        };
        report.push(Reconciled {
            appointment_id: payment.appointment_id,
            session_id,
            found,
        });
    }
    Ok(report)
}

/// Records what Stripe said of a session that is no longer open, as news of its deposit.
async fn record(
    store: &Store,
    payment: &StoredPayment,
    session: &CheckoutSessionIn,
    now: DateTime<Utc>,
) -> Result<Found, StoreError> {
    let status = session.status.clone().unwrap_or_default();
    if status == "open" || status.is_empty() {
        return Ok(Found::Open {
            expires_at: session
                .expires_at
                .and_then(|at| DateTime::from_timestamp(at, 0)),
        });
    }
    let payment_status = session.payment_status.clone().unwrap_or_default();
    let id = format!(
        "salonbot:stripe.reconcile.{}.{status}.{payment_status}",
        session.id
    );
    let object = serde_json::to_value(session).unwrap_or_else(|_| json!({}));
    let news = news_event(
        id,
        &payment.business_id,
        &payment.conversation_key,
        SESSION_STATE,
        object,
        now,
    );
    let new = store
        .record_inbound(std::slice::from_ref(&news))
        .await?
        .first()
        .copied()
        .unwrap_or(false);
    if new {
        tracing::info!(appointment = payment.appointment_id, session = %session.id, %status, %payment_status, "reconciliation: news of the session put in its conversation's lane");
    }
    Ok(Found::Settled {
        status,
        payment_status,
        new,
    })
}
