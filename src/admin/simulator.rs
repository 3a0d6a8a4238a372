//! The simulator page's test customer: what `salonbot chat` does for a typed line, done in the
//! server. A line (or the tap of a choice) becomes the webhook notification WhatsApp would send,
//! split into inbox events by the real webhook's code and stored through the inbox writer; the
//! server's own worker runs the turn, and its dispatcher records the replies without sending them
//! (the simulated business number, [`crate::chat::BUSINESS_ID`], is always sandboxed).

use std::time::Duration;

use chrono::Utc;

use crate::app::AppState;
use crate::chat::{self, BUSINESS_ID, Choice, DEFAULT_PHONE, render};
use crate::conversation::{ConversationKey, CustomerId, E164};
use crate::error::AppError;
use crate::store::{InboxStatus, OutboundStatus, Provider};
use crate::whatsapp::webhook::NotificationIn;

/// How long the page waits for the bot's answer before showing what there is.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The test customer's phone (`salonbot chat`'s default one).
pub fn phone() -> Result<E164, AppError> {
    E164::parse(DEFAULT_PHONE).ok_or(AppError::Internal)
}

/// The test customer's conversation key.
pub fn conversation_key() -> Result<String, AppError> {
    Ok(ConversationKey::whatsapp(BUSINESS_ID, CustomerId::Phone(phone()?)).to_string())
}

/// The choices of the bot's last message that reached the customer, and that message's `wamid`.
pub async fn last_choices(state: &AppState) -> Result<(Vec<Choice>, Option<String>), AppError> {
    let rows = state
        .store
        .recent_outbox(Some(&conversation_key()?), 20)
        .await?;
    let last = rows.into_iter().find(|r| {
        r.provider == Provider::WhatsApp
            && matches!(
                r.status,
                OutboundStatus::Sent | OutboundStatus::Delivered | OutboundStatus::Read
            )
    });
    Ok(match last {
        Some(row) => (render(&row.payload).choices, row.wamid),
        None => (Vec::new(), None),
    })
}

/// What the customer does: writes a line, taps the `n`-th choice of the bot's last message, or
/// pays the open payment link (in the Stripe sandbox: the simulated conversation's deposits never
/// reach the salon's Stripe).
pub enum Act {
    Text(String),
    Tap(usize),
    Pay,
}

/// Whether the test customer has a payment link to pay: a deposit waiting, with its session.
pub async fn can_pay(state: &AppState) -> Result<bool, AppError> {
    let key = conversation_key()?;
    Ok(state
        .store
        .unsettled_payments()
        .await?
        .iter()
        .any(|p| p.conversation_key == key && p.session_id.is_some()))
}

/// Sends the customer's act through the real path and waits (a while) for the bot's answer.
pub async fn act(state: &AppState, act: Act) -> Result<(), AppError> {
    let from = phone()?.as_str().trim_start_matches('+').to_owned();
    let id = format!("wamid.sim.{}", uuid::Uuid::new_v4().simple());
    let now = Utc::now();
    let message = match act {
        Act::Pay => {
            chat::pay_open_links(
                &state.store,
                &state.stripe_sandbox,
                &conversation_key()?,
                now,
            )
            .await?;
            return wait_for_answer(state, None).await;
        }
        Act::Text(text) => chat::text_message(&from, &id, now.timestamp(), &text),
        Act::Tap(n) => {
            let (choices, wamid) = last_choices(state).await?;
            let choice = choices.get(n).ok_or_else(|| AppError::BadParameter {
                name: "choice",
                reason: format!("the bot's last message has no choice {}", n + 1),
            })?;
            chat::tap_message(&from, &id, now.timestamp(), choice, wamid.as_deref())
        }
    };
    let notification = serde_json::from_value::<NotificationIn>(chat::notification(&from, message))
        .map_err(|e| AppError::Malformed(e.to_string()))?;
    let events = crate::ingress::whatsapp::inbox_events(notification, now)
        .map_err(|e| AppError::Malformed(e.to_string()))?;
    match tokio::time::timeout(state.config.store_timeout, state.inbox.submit(events)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) | Err(_) => return Err(AppError::Unavailable),
    }
    wait_for_answer(state, Some(&id)).await
}

/// Until the message `id` and every other event of the conversation are handled and the replies
/// are out, twice in a row (a call's answer may put news in the lane between the two reads), or
/// `ANSWER_WAIT` has passed.
async fn wait_for_answer(state: &AppState, id: Option<&str>) -> Result<(), AppError> {
    let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    let key = conversation_key()?;
    let done =
        |e: &crate::store::InboxEvent| matches!(e.status, InboxStatus::Done | InboxStatus::Dead);
    let mut quiet = 0;
    while tokio::time::Instant::now() < deadline {
        let handled = match id {
            Some(id) => state
                .store
                .find_inbox_event(Provider::WhatsApp, id)
                .await?
                .is_some_and(|e| done(&e)),
            None => true,
        } && state
            .store
            .conversation_events(&key)
            .await?
            .iter()
            .all(done);
        let open = state
            .store
            .recent_outbox(Some(&key), 20)
            .await?
            .iter()
            .any(|r| matches!(r.status, OutboundStatus::Pending | OutboundStatus::Sending));
        quiet = if handled && !open { quiet + 1 } else { 0 };
        if quiet == 2 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
