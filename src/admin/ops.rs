//! What staff and operators change, shared by the pages and the API: a conversation handed to a
//! person or given back to the bot (stored as staff-inbox events of the conversation's lane, so the
//! turn makes the same transition as for Chatwoot's), an event replayed, a dead letter retried or
//! discarded (the operations of `salonbot inbox dead|replay`), an appointment cancelled by the salon
//! (a staff event of its conversation's lane too, so that the turn cancels it, asks Stripe for the
//! refund and tells the customer as it does for the customer's own cancellation).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::AppState;
use crate::booking::appointment::{Appointment, AppointmentStatus};
use crate::booking::catalog::Catalog;
use crate::booking::payment::PaymentStatus;
use crate::chatwoot::wire::{SALON_CANCEL, SalonCancelIn, TAKE_OVER};
use crate::error::AppError;
use crate::store::{EventKind, NewInboxEvent, Provider};

use super::views::DeadId;

/// Who should have the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Human,
    Bot,
}

/// Stores the staff event that hands the conversation over, in its lane; the worker applies it in
/// order with the customer's messages.
pub async fn hand_over(state: &AppState, key: &str, to: Holder) -> Result<(), AppError> {
    let Some(conversation) = state.store.listed_conversation(key).await? else {
        return Err(AppError::NotFound(format!("no conversation {key}")));
    };
    let payload = match to {
        Holder::Human => json!({ "event": TAKE_OVER, "id": 0 }),
        Holder::Bot => json!({
            "event": "conversation_status_changed", "id": 0, "status": "resolved"
        }),
    };
    staff_event(state, &conversation.business_id, key, payload).await
}

/// Stores a staff event in the lane of the conversation `key`, for the worker to apply in order with
/// the conversation's other events.
async fn staff_event(
    state: &AppState,
    business_id: &str,
    key: &str,
    payload: serde_json::Value,
) -> Result<(), AppError> {
    let event = NewInboxEvent {
        said: None,
        provider: Provider::Chatwoot,
        provider_event_id: format!("admin:{}", uuid::Uuid::new_v4().simple()),
        business_id: business_id.to_owned(),
        conversation_key: key.to_owned(),
        kind: EventKind::Staff,
        payload: payload.to_string(),
        received_at: Utc::now(),
    };
    let stored =
        tokio::time::timeout(state.config.store_timeout, state.inbox.submit(vec![event])).await;
    match stored {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "staff event not stored");
            Err(AppError::Unavailable)
        }
        Err(_) => Err(AppError::Unavailable),
    }
}

/// Whether the cancellation policy gives the deposit back when the salon cancels `appointment` at
/// `now`: inside the free window (`free_until_hours` or more before it starts), or later when
/// `late_deposit = "refund"`. The same rule as the customer's cancellation.
pub fn policy_refunds(catalog: &Catalog, appointment: &Appointment, now: DateTime<Utc>) -> bool {
    catalog
        .salon()
        .cancellation
        .refunds(appointment.starts_at, now)
}

/// How a cancellation by the salon went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Given to the conversation's turn: cancelled there, the deposit given back (`refund`) or
    /// kept, and the customer told when the conversation has started (`told`: a walk-in booked with
    /// the phone of someone who never wrote to the bot is not written to).
    InLane { refund: bool, told: bool },
    /// A walk-in nobody can be written to (no phone, no deposit): cancelled here.
    Directly,
}

/// Cancels an appointment for the salon, with its deposit given back or kept (`refund`; `None`:
/// as the policy says). The appointment's conversation hears of it in its lane: the turn cancels it,
/// asks Stripe for the refund through the outbox and tells the customer, in order with the
/// conversation's other events.
pub async fn cancel(
    state: &AppState,
    id: i64,
    refund: Option<bool>,
) -> Result<Cancelled, AppError> {
    let Some(appointment) = state.store.appointment(id).await? else {
        return Err(AppError::NotFound(format!("no appointment {id}")));
    };
    if !appointment.status.can_become(AppointmentStatus::Cancelled) {
        return Err(AppError::Conflict(format!(
            "an appointment {} cannot become cancelled",
            appointment.status.as_str()
        )));
    }
    let payment = state.store.payment(id).await?;
    // Only a paid deposit can be given back.
    let paid = payment
        .as_ref()
        .is_some_and(|p| p.status == PaymentStatus::Paid);
    let refund =
        paid && refund.unwrap_or_else(|| policy_refunds(&state.catalog, &appointment, Utc::now()));
    let key = &appointment.conversation_key;
    if crate::whatsapp::messages::Recipient::of_conversation(key).is_none() {
        // No turn runs for a conversation without a customer to answer.
        if payment.is_some() {
            return Err(AppError::Conflict(
                "a deposit in a conversation without a customer to write to".into(),
            ));
        }
        state
            .store
            .transition_appointment(id, AppointmentStatus::Cancelled, Utc::now())
            .await?;
        return Ok(Cancelled::Directly);
    }
    let payload = serde_json::to_value(SalonCancelIn {
        event: SALON_CANCEL.to_owned(),
        appointment: id,
        refund,
    })
    .map_err(|_| AppError::Internal)?;
    let told = state.store.listed_conversation(key).await?.is_some();
    staff_event(state, &appointment.business_id, key, payload).await?;
    Ok(Cancelled::InLane { refund, told })
}

/// Puts a stored event back in its lane.
pub async fn replay(state: &AppState, id: i64) -> Result<(), AppError> {
    if state.store.replay_event(id, Utc::now()).await? {
        return Ok(());
    }
    match state.store.inbox_event(id).await? {
        None => Err(AppError::NotFound(format!("no event {id}"))),
        Some(e) => Err(AppError::Conflict(format!(
            "event {id} is {} already",
            e.status.as_str()
        ))),
    }
}

fn dead_id(raw: &str) -> Result<DeadId, AppError> {
    DeadId::parse(raw).ok_or_else(|| AppError::BadParameter {
        name: "id",
        reason: format!("expected inbox-<n> or outbox-<n>, got '{raw}'"),
    })
}

fn not_dead(raw: &str) -> AppError {
    AppError::NotFound(format!("no dead letter {raw}"))
}

/// Retries a dead letter: an event back in its lane, a message sent again.
pub async fn retry(state: &AppState, raw: &str) -> Result<(), AppError> {
    let now = Utc::now();
    let done = match dead_id(raw)? {
        DeadId::Inbox(id) => state.store.replay_inbox(id, now).await?,
        DeadId::Outbox(id) => state.store.retry_outbox(id, now).await?,
    };
    if done { Ok(()) } else { Err(not_dead(raw)) }
}

/// Discards a dead letter for good.
pub async fn discard(state: &AppState, raw: &str) -> Result<(), AppError> {
    let done = match dead_id(raw)? {
        DeadId::Inbox(id) => state.store.discard_inbox(id, Utc::now()).await?,
        DeadId::Outbox(id) => state.store.discard_outbox(id).await?,
    };
    if done { Ok(()) } else { Err(not_dead(raw)) }
}

/// A walk-in or phone customer to book from the day view.
#[derive(Debug, Clone)]
pub struct WalkIn {
    pub service: String,
    /// A staff member's id, or `None` for whoever is free.
    pub staff: Option<String>,
    pub day: chrono::NaiveDate,
    /// Salon-local start time.
    pub time: chrono::NaiveTime,
    /// The customer's phone, when given: the booking joins their WhatsApp conversation.
    pub phone: Option<crate::conversation::E164>,
}

/// Books a walk-in with the bot's own availability (`booking::availability`) and the database's
/// guarantee against double booking (the hold, then its confirmation); the id of the booking.
pub async fn book_walk_in(state: &AppState, walk_in: &WalkIn) -> Result<i64, AppError> {
    use crate::booking::appointment::AppointmentStatus;
    use crate::booking::availability::{Busy, StaffChoice, free_slots};
    use crate::booking::catalog::{ServiceId, StaffId};
    use crate::conversation::{ConversationKey, CustomerId};
    use crate::store::NewHold;

    // Booked in the salon's calendar, as the bot books every channel's customers, so that the
    // database keeps a walk-in and a customer's booking of one staff member apart.
    let business = state.config.salon_business().ok_or_else(|| {
        AppError::Conflict(
            "neither WHATSAPP_PHONE_NUMBER_ID nor Chatwoot's channel mode (CHATWOOT_ACCOUNT_ID) \
             names the salon's business: walk-ins are booked in its calendar"
                .into(),
        )
    })?;
    let now = Utc::now();
    let (from, to) = super::views::day_bounds(&state.catalog, walk_in.day);
    let busy: Vec<Busy> = state
        .store
        .busy_times(&business, from, to, now)
        .await?
        .into_iter()
        .map(Busy::from)
        .collect();
    let choice = match &walk_in.staff {
        Some(id) => StaffChoice::Specific(StaffId::new(id.clone())),
        None => StaffChoice::Anyone,
    };
    let tz = state.catalog.salon().time_zone;
    let slot = free_slots(
        &state.catalog,
        &ServiceId::new(walk_in.service.clone()),
        choice,
        walk_in.day,
        now,
        &busy,
    )
    .into_iter()
    .find(|s| s.start.with_timezone(&tz).time() == walk_in.time)
    .ok_or_else(|| AppError::Conflict("that time is not free for this service".into()))?;
    let conversation_key = match &walk_in.phone {
        Some(phone) => ConversationKey::whatsapp(&business, CustomerId::Phone(phone.clone())),
        None => ConversationKey::whatsapp(
            &business,
            CustomerId::Raw(format!("walk-in-{}", uuid::Uuid::new_v4().simple())),
        ),
    }
    .to_string();
    let hold = NewHold {
        business_id: business,
        conversation_key,
        service_id: walk_in.service.clone(),
        staff_id: slot.staff.as_str().to_owned(),
        starts_at: slot.start,
        ends_at: slot.end,
        occupied_until: slot.occupies_until,
        hold_expires_at: now + chrono::Duration::minutes(5),
        deposit_minor: 0,
    };
    let held = state.store.hold_slot(&hold, now).await?;
    state
        .store
        .transition_appointment(held.id, AppointmentStatus::Confirmed, now)
        .await?;
    Ok(held.id)
}
