//! The channel's message, both ways: `{"message_id","from","to","ts","text"}`, with `from` and `to`
//! phone numbers in E.164 (`+` and the country code) and `ts` an ISO-8601 (RFC 3339) date-time.
//!
//! An incoming body is read field by field ([`MessageIn::parse`]) so that a refusal names the field
//! at fault: a body that is not a JSON object is malformed (400); a field missing, of the wrong type
//! or with a value that cannot be right is unprocessable (422), with its name.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::conversation::E164;

/// Longest `message_id` accepted: ids are stored and compared, never shown.
const MAX_ID_CHARS: usize = 256;
/// Digits an E.164 number has after the `+`.
const E164_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// A message a gateway sent, checked: the inbox event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageIn {
    /// The gateway's id of the message: the dedup authority (unique per gateway).
    pub message_id: String,
    /// The customer.
    pub from: E164,
    /// The salon's number the customer wrote to; the replies come from it.
    pub to: E164,
    /// When the customer sent it, in UTC.
    pub ts: DateTime<Utc>,
    pub text: String,
}

/// Why a body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a JSON object at all.
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    /// A field is missing or cannot be right.
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
}

fn field_error(field: &'static str, reason: impl Into<String>) -> WireError {
    WireError::Field {
        field,
        reason: reason.into(),
    }
}

impl MessageIn {
    /// Reads a verified body; fields other than the five are ignored.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| WireError::NotJson(e.to_string()))?;
        let Value::Object(object) = value else {
            return Err(WireError::NotJson("expected an object".into()));
        };
        let message_id = string(&object, "message_id")?;
        if message_id.trim().is_empty() {
            return Err(field_error("message_id", "must not be empty"));
        }
        if message_id.chars().count() > MAX_ID_CHARS {
            return Err(field_error(
                "message_id",
                format!("longer than {MAX_ID_CHARS} characters"),
            ));
        }
        let from = phone(&object, "from")?;
        let to = phone(&object, "to")?;
        let ts = string(&object, "ts")?;
        let ts = DateTime::parse_from_rfc3339(ts.trim())
            .map_err(|_| {
                field_error(
                    "ts",
                    format!(
                        "'{ts}' is not an ISO-8601 date-time with its offset (2026-12-05T10:30:00Z)"
                    ),
                )
            })?
            .with_timezone(&Utc);
        let text = string(&object, "text")?;
        if text.trim().is_empty() {
            return Err(field_error("text", "must not be empty"));
        }
        Ok(Self {
            message_id: message_id.to_owned(),
            from,
            to,
            ts,
            text: text.to_owned(),
        })
    }
}

fn string<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, WireError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(field_error(field, "missing")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(field_error(field, "expected a string")),
    }
}

/// A phone number in E.164: `+`, then 7 to 15 digits that make a number.
fn phone(object: &Map<String, Value>, field: &'static str) -> Result<E164, WireError> {
    let raw = string(object, field)?.trim();
    let not_e164 = || {
        field_error(
            field,
            format!("'{raw}' is not a phone number in E.164 (+34600111222)"),
        )
    };
    let digits = raw.strip_prefix('+').ok_or_else(not_e164)?;
    if !E164_DIGITS.contains(&digits.len()) {
        return Err(not_e164());
    }
    E164::parse(raw).ok_or_else(not_e164)
}

/// A reply as it is POSTed to `CUSTOM_REPLY_URL`, and stored as its outbox row's payload (so that
/// every retry sends the same bytes, with the same `message_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageOut {
    /// Unique per reply, the same on each retry: the receiver's dedup key.
    pub message_id: String,
    /// The salon's number (the `to` of the customer's messages).
    pub from: String,
    /// The customer.
    pub to: String,
    /// When the bot wrote the reply, RFC 3339 in UTC.
    pub ts: String,
    pub text: String,
}

impl MessageOut {
    /// A reply from the salon's number `from` to the customer `to`, written at `at`, with a new id.
    pub fn new(from: &str, to: &str, text: String, at: DateTime<Utc>) -> Self {
        Self {
            message_id: format!("salonbot-{}", uuid::Uuid::new_v4().simple()),
            from: from.to_owned(),
            to: to.to_owned(),
            ts: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            text,
        }
    }

    /// The exact bytes POSTed (and signed).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(overrides: Value) -> Vec<u8> {
        let mut message = json!({"message_id": "m-1", "from": "+34600111222", "to": "+34910000000",
                                 "ts": "2026-12-05T10:30:00+01:00", "text": "hola"});
        for (k, v) in overrides.as_object().unwrap() {
            message[k] = v.clone();
        }
        message.to_string().into_bytes()
    }

    #[test]
    fn a_good_message_is_read_with_its_time_in_utc() {
        let m = MessageIn::parse(&body(json!({}))).unwrap();
        assert_eq!(m.message_id, "m-1");
        assert_eq!(m.from.as_str(), "+34600111222");
        assert_eq!(m.to.as_str(), "+34910000000");
        assert_eq!(m.ts.to_rfc3339(), "2026-12-05T09:30:00+00:00");
        assert_eq!(m.text, "hola");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"message_id": null}), "message_id"),
            (json!({"message_id": ""}), "message_id"),
            (json!({"message_id": 7}), "message_id"),
            (json!({"from": "34600111222"}), "from"),
            (json!({"from": "+34 600"}), "from"),
            (json!({"from": "+1"}), "from"),
            (json!({"to": "salon"}), "to"),
            (json!({"ts": "yesterday"}), "ts"),
            (json!({"ts": 1765000000}), "ts"),
            (json!({"text": "  "}), "text"),
            (json!({"text": ["hola"]}), "text"),
        ];
        for (overrides, field) in cases {
            match MessageIn::parse(&body(overrides.clone())) {
                Err(WireError::Field { field: named, .. }) => {
                    assert_eq!(named, field, "{overrides}")
                }
                other => panic!("{overrides}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_body_that_is_no_object_is_malformed() {
        for bad in [&b"not json"[..], b"[1,2]", b"\"hola\""] {
            assert!(matches!(MessageIn::parse(bad), Err(WireError::NotJson(_))));
        }
    }

    #[test]
    fn a_reply_serialises_in_the_documented_order() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = MessageOut::new("+34910000000", "+34600111222", "hola".into(), at);
        out.message_id = "r-1".into();
        assert_eq!(
            String::from_utf8(out.body()).unwrap(),
            r#"{"message_id":"r-1","from":"+34910000000","to":"+34600111222","ts":"2026-12-05T10:30:00.000Z","text":"hola"}"#
        );
    }
}
