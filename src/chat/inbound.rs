//! What the simulator stores for a typed line: the `messages[]` entry and the notification WhatsApp
//! would send for it, a text or the tap of a choice.

use serde_json::{Value, json};

use super::BUSINESS_ID;
use crate::whatsapp::messages::render::{Choice, ChoiceKind};

/// The simulated business number as WhatsApp displays it (the `from` of a reply's context).
const DISPLAY_PHONE: &str = "15550000000";

/// The `messages[]` entry WhatsApp sends when `from` (digits, no `+`) types `text`.
pub fn text_message(from: &str, id: &str, timestamp: i64, text: &str) -> Value {
    json!({
        "from": from,
        "id": id,
        "timestamp": timestamp.to_string(),
        "type": "text",
        "text": { "body": text },
    })
}

/// The `messages[]` entry WhatsApp sends when `from` taps `choice` of the message `replying_to`.
pub fn tap_message(
    from: &str,
    id: &str,
    timestamp: i64,
    choice: &Choice,
    replying_to: Option<&str>,
) -> Value {
    let mut message = json!({
        "from": from,
        "id": id,
        "timestamp": timestamp.to_string(),
    });
    match choice.kind {
        ChoiceKind::Button => {
            message["type"] = "interactive".into();
            message["interactive"] = json!({
                "type": "button_reply",
                "button_reply": { "id": choice.id, "title": choice.title },
            });
        }
        ChoiceKind::Row => {
            let mut reply = json!({ "id": choice.id, "title": choice.title });
            if let Some(description) = &choice.description {
                reply["description"] = description.as_str().into();
            }
            message["type"] = "interactive".into();
            message["interactive"] = json!({ "type": "list_reply", "list_reply": reply });
        }
        ChoiceKind::QuickReply => {
            message["type"] = "button".into();
            message["button"] = json!({ "payload": choice.id, "text": choice.title });
        }
    }
    if let Some(wamid) = replying_to {
        message["context"] = json!({ "from": DISPLAY_PHONE, "id": wamid });
    }
    message
}

/// The webhook notification (`object`, `entry[].changes[].value`) that carries one message from
/// `from` (digits, no `+`) to the simulated business number.
pub fn notification(from: &str, message: Value) -> Value {
    notification_to(BUSINESS_ID, from, message)
}

/// The same, to the business number `business_id` (its `phone_number_id`).
pub fn notification_to(business_id: &str, from: &str, message: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": business_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": DISPLAY_PHONE,
                        "phone_number_id": business_id,
                    },
                    "contacts": [{ "profile": { "name": "Simulator" }, "wa_id": from }],
                    "messages": [message],
                },
            }],
        }],
    })
}
