//! The optional language model in a turn: when the rules understood nothing of a customer's text, the
//! model is asked (outside the pure step, with its timeout) and its validated answer becomes the
//! turn's input ([`Input::Understood`]). The answer, or the fact that there was none, is recorded with
//! the inbox event before the step runs, so a turn handled again reads it rather than asking again:
//! the same message always gives the same turn.

use chrono::{DateTime, Utc};

use crate::booking::catalog::{Catalog, Language};
use crate::conversation::Masked;
use crate::engine::input::Input;
use crate::engine::understand::{self, Understanding};
use crate::language_model::ModelReader;
use crate::store::{InboxEvent, Store, StoreError};

/// Whether the rules' reading leaves the message to the model: no intent and nothing a booking
/// needs (a message the flow would answer with "sorry, I did not understand").
pub fn rules_unsure(reading: &Understanding) -> bool {
    reading.intent.is_none() && !reading.carries_slots()
}

/// The turn's input for `event`: its text as the model read it when the rules are unsure and the
/// model answered (now or before, as recorded), else `input` unchanged.
pub async fn with_model(
    model: &ModelReader,
    store: &Store,
    catalog: &Catalog,
    event: &InboxEvent,
    input: Input,
    language: Option<Language>,
    now: DateTime<Utc>,
) -> Result<Input, StoreError> {
    let Input::Text(text) = &input else {
        return Ok(input);
    };
    let context = understand::Context {
        catalog,
        now,
        language,
    };
    if !rules_unsure(&understand::understand(text, &context)) {
        return Ok(input);
    }
    let recorded = store.model_reading(event.id).await?;
    let value = match recorded {
        Some(value) => value,
        None => {
            let value = match model.read(text, catalog, now).await {
                Ok(reading) => serde_json::to_value(&reading).ok(),
                Err(error) => {
                    tracing::warn!(%error, conversation = %Masked(&event.conversation_key), "language model gave nothing: the rules answer");
                    None
                }
            };
            store
                .record_model_reading(event.id, value.as_ref(), model.model(), now)
                .await?;
            // A racing worker may have recorded first: the recorded answer is the one to use.
            store.model_reading(event.id).await?.flatten()
        }
    };
    let reading = value.and_then(|v| serde_json::from_value::<Understanding>(v).ok());
    Ok(match reading {
        Some(reading) if !rules_unsure(&reading) => Input::Understood {
            text: text.clone(),
            reading,
        },
        _ => input,
    })
}
