//! What is sent to the language model, and nothing else: the customer's message with anything that
//! looks like a phone number or an e-mail address masked, the salon's local date and weekday, the
//! ids and names of its services, and the JSON schema of the answer. No phone number of the
//! conversation, no customer or staff name, no history.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::booking::catalog::{Catalog, Language};

/// The intents the model may answer with (the rules' names).
pub(super) const INTENTS: &[&str] = &[
    "book",
    "my_appointments",
    "cancel",
    "cancel_appointment",
    "reschedule",
    "prices",
    "hours",
    "address",
    "policy",
    "human",
    "greeting",
    "thanks",
    "yes",
    "no",
    "menu",
    "help",
];

/// The message as sent: digits that could be a phone number (seven or more, with spaces, dots,
/// dashes or a leading +) become `[number]`, words with an `@` become `[email]`.
pub fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        if trimmed.contains('@') && trimmed.contains('.') {
            out.push_str("[email]");
            out.push_str(&word[trimmed.len()..]);
        } else {
            out.push_str(word);
        }
    }
    mask_numbers(&out)
}

/// Runs of digits (with the separators people put in phone numbers) holding seven digits or more.
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = 0;
        while j < chars.len()
            && (chars[j].is_ascii_digit() || matches!(chars[j], ' ' | '-' | '.' | '+' | '(' | ')'))
        {
            if chars[j].is_ascii_digit() {
                digits += 1;
            }
            j += 1;
        }
        // Give back trailing separators ("600 111 222 " keeps its space).
        while j > i && !chars[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if digits >= 7 {
            out.push_str("[number]");
        } else {
            out.extend(&chars[i..j]);
        }
        i = j.max(i + 1);
    }
    out
}

/// The system message: what to do, the salon's day, its services, the answer's rules.
pub(super) fn instructions(catalog: &Catalog, now: DateTime<Utc>) -> String {
    let local = now.with_timezone(&catalog.salon().time_zone);
    let services: Vec<String> = catalog
        .services()
        .iter()
        .map(|s| {
            let names: Vec<&str> = Language::ALL
                .iter()
                .filter_map(|l| s.name.exact(*l))
                .collect();
            format!("- {}: {}", s.id, names.join(" / "))
        })
        .collect();
    format!(
        "You read one WhatsApp message a customer sent to a hair and beauty salon, in Spanish, \
         English or Portuguese, and say what it asks for. Today is {} ({}), {} in the salon's time \
         zone. The salon's services (id: names):\n{}\nAnswer only with the JSON object of the schema: \
         the language of the message, the intent, the id of the service it means (only an id from \
         the list, else null), the day it asks for as YYYY-MM-DD (resolve words like tomorrow or \
         next Friday from today, else null), and the time it asks for as HH:MM on the 24-hour clock \
         (time_from alone for one time, time_from and time_to for a range such as the afternoon, \
         else null). Never invent prices, policies or free times.",
        local.format("%Y-%m-%d"),
        local.format("%A"),
        local.format("%H:%M"),
        services.join("\n")
    )
}

/// The JSON schema of the answer (strict: every field present, null when absent).
pub(super) fn schema() -> Value {
    let nullable = |kind: Value| json!({ "anyOf": [kind, { "type": "null" }] });
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["language", "intent", "service", "date", "time_from", "time_to"],
        "properties": {
            "language": nullable(json!({ "type": "string", "enum": ["es", "en", "pt"] })),
            "intent": nullable(json!({ "type": "string", "enum": INTENTS })),
            "service": nullable(json!({ "type": "string" })),
            "date": nullable(json!({ "type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$" })),
            "time_from": nullable(json!({ "type": "string", "pattern": "^\\d{2}:\\d{2}$" })),
            "time_to": nullable(json!({ "type": "string", "pattern": "^\\d{2}:\\d{2}$" })),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_and_emails_are_masked() {
        assert_eq!(
            masked("llamadme al +34 600 111 222 o a ana@example.com, mañana a las 17:30"),
            "llamadme al [number] o a [email] mañana a las 17:30"
        );
        assert_eq!(masked("el 3/5 a las 5"), "el 3/5 a las 5");
        assert_eq!(masked("600111222"), "[number]");
        assert_eq!(masked("dia 12, 2 personas"), "dia 12, 2 personas");
    }
}
