//! Wire types of Meta's WhatsApp Cloud API webhook notifications, and their split into typed
//! [`WebhookEvent`]s (one per message, status, error report or unhandled change). Turning those into
//! inbox rows is the ingress's business (`ingress::whatsapp`), so this module knows nothing of the inbox.
//!
//! Reference: <https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components>.
//! Every object keeps the fields we do not model in `extra`, and a message keeps its `type` as a string,
//! so a new message type or field from Meta is stored as it came instead of failing the whole POST.
//! Serialising a parsed object gives back the JSON it was parsed from (tested on every fixture).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::conversation::{ConversationKey, CustomerId};
use crate::event::{Said, storable_json};

type Extra = Map<String, Value>;

/// A list that may also come as `null`: treated as empty rather than failing the whole POST.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// The body of one POST: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NotificationIn {
    pub object: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub entry: Vec<EntryIn>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One WhatsApp Business Account's changes.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EntryIn {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub changes: Vec<ChangeIn>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChangeIn {
    /// `messages` for messages and statuses; other fields (template updates, account alerts) are kept raw.
    pub field: String,
    pub value: ValueIn,
}

/// `changes[].value`. All parts are optional: a change carries messages, statuses, errors, or other data.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ValueIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetadataIn>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contacts: Vec<ContactIn>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub messages: Vec<MessageIn>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub statuses: Vec<StatusIn>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub errors: Vec<ErrorIn>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The business number the change is about.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MetadataIn {
    pub display_phone_number: String,
    pub phone_number_id: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContactIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileIn>,
    /// The customer's phone without `+`; absent for some customers who use a username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), for example `US.13491208655302741918`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProfileIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One inbound message. `kind` is Meta's `type`; the matching field holds its content.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MessageIn {
    /// The `wamid`, unique per message: the event's dedup key.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<InteractiveIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<ButtonIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<MediaIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<MediaIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<MediaIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<MediaIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationIn>,
    /// Shared contact cards, kept as Meta sends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<ReactionIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorIn>>,
    /// The message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextIn>,
    /// Click-to-WhatsApp ad that started the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TextIn {
    pub body: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InteractiveIn {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<ReplyIn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<ReplyIn>,
    /// WhatsApp Flows answer: `response_json` is a JSON document in a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfm_reply: Option<NfmReplyIn>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The id and title of the button or list row the customer chose.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReplyIn {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NfmReplyIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub response_json: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A template's quick-reply button press.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ButtonIn {
    #[serde(default)]
    pub payload: String,
    #[serde(default)]
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Image, audio, video, document or sticker: a media id to download, never the bytes.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MediaIn {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LocationIn {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReactionIn {
    pub message_id: String,
    /// Absent when the customer removed the reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub product_items: Vec<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A system notice, such as a customer changing number (`user_changed_number`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SystemIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContextIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Meta's error object, in messages, statuses and `value.errors`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorIn {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A delivery status of a message we sent: sent, delivered, read or failed.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StatusIn {
    /// The `wamid` of our outbound message.
    pub id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorIn>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a customer's message says, as the conversation engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageContent<'a> {
    Text(&'a str),
    /// An interactive reply button or list row; `id` is the one we sent.
    Choice {
        id: &'a str,
        title: &'a str,
    },
    /// A WhatsApp Flows form answer.
    FlowReply(&'a str),
    /// A template quick-reply button.
    QuickReply {
        payload: &'a str,
        text: &'a str,
    },
    Media {
        kind: &'a str,
        media_id: &'a str,
        caption: Option<&'a str>,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
    Reaction {
        message_id: &'a str,
        emoji: Option<&'a str>,
    },
    /// Contacts, order, system, unsupported and types Meta adds later: see `MessageIn::kind`.
    Other(&'a str),
}

impl MessageIn {
    /// When the customer sent it (Meta's `timestamp`, Unix seconds), if Meta said.
    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        unix_seconds(self.timestamp.as_deref()?)
    }

    /// The customer who sent it.
    pub fn customer(&self, contact: Option<&ContactIn>) -> CustomerId {
        let user_id = self
            .from_user_id
            .as_deref()
            .or_else(|| contact.and_then(|c| c.user_id.as_deref()));
        let phone = self
            .from
            .as_deref()
            .or_else(|| contact.and_then(|c| c.wa_id.as_deref()));
        CustomerId::from_parts(phone, user_id)
    }

    /// The words of the message a person reads in the chat: its text, the title of the choice
    /// tapped, or a media's caption; `None` for anything else.
    pub fn words(&self) -> Option<&str> {
        match self.content() {
            MessageContent::Text(t) => Some(t),
            MessageContent::Choice { title, .. } => Some(title),
            MessageContent::QuickReply { text, .. } => Some(text),
            MessageContent::Media { caption, .. } => caption,
            _ => None,
        }
    }

    pub fn content(&self) -> MessageContent<'_> {
        match self.kind.as_str() {
            "text" => match &self.text {
                Some(t) => MessageContent::Text(&t.body),
                None => MessageContent::Other("text"),
            },
            "interactive" => match &self.interactive {
                Some(InteractiveIn {
                    button_reply: Some(r),
                    ..
                })
                | Some(InteractiveIn {
                    list_reply: Some(r),
                    ..
                }) => MessageContent::Choice {
                    id: &r.id,
                    title: &r.title,
                },
                Some(InteractiveIn {
                    nfm_reply: Some(n), ..
                }) => MessageContent::FlowReply(&n.response_json),
                _ => MessageContent::Other("interactive"),
            },
            "button" => match &self.button {
                Some(b) => MessageContent::QuickReply {
                    payload: &b.payload,
                    text: &b.text,
                },
                None => MessageContent::Other("button"),
            },
            "image" | "audio" | "video" | "document" | "sticker" => {
                let media = match self.kind.as_str() {
                    "image" => &self.image,
                    "audio" => &self.audio,
                    "video" => &self.video,
                    "document" => &self.document,
                    _ => &self.sticker,
                };
                match media {
                    Some(m) => MessageContent::Media {
                        kind: &self.kind,
                        media_id: &m.id,
                        caption: m.caption.as_deref(),
                    },
                    None => MessageContent::Other(&self.kind),
                }
            }
            "location" => match &self.location {
                Some(l) => MessageContent::Location {
                    latitude: l.latitude,
                    longitude: l.longitude,
                },
                None => MessageContent::Other("location"),
            },
            "reaction" => match &self.reaction {
                Some(r) => MessageContent::Reaction {
                    message_id: &r.message_id,
                    emoji: r.emoji.as_deref(),
                },
                None => MessageContent::Other("reaction"),
            },
            other => MessageContent::Other(other),
        }
    }
}

/// Stored payload of a `message` inbox event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MessageEvent {
    pub metadata: MetadataIn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactIn>,
    pub message: MessageIn,
}

impl MessageEvent {
    /// When the customer sent the message of a stored message event, read without the rest of it.
    pub fn sent_at_of(payload: &Value) -> Option<DateTime<Utc>> {
        #[derive(Deserialize)]
        struct Stamped {
            message: Stamp,
        }
        #[derive(Deserialize)]
        struct Stamp {
            timestamp: Option<String>,
        }
        let stamped = Stamped::deserialize(payload).ok()?;
        unix_seconds(stamped.message.timestamp.as_deref()?)
    }
}

impl MessageEvent {
    /// The sender's WhatsApp profile name (`contacts[].profile.name`) of a stored message event,
    /// read without the rest of it; `None` when Meta sent none.
    pub fn profile_name_of(payload: &Value) -> Option<String> {
        payload
            .get("contact")?
            .get("profile")?
            .get("name")?
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    }
}

/// Meta's timestamps: Unix seconds as a string.
fn unix_seconds(text: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(text.parse().ok()?, 0)
}

/// Stored payload of a `status` inbox event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StatusEvent {
    pub metadata: MetadataIn,
    pub status: StatusIn,
}

/// Stored payload of an `error` inbox event (`value.errors`: a problem with the business number).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ErrorsEvent {
    pub metadata: MetadataIn,
    pub errors: Vec<ErrorIn>,
}

/// Stored payload of any other change (a `field` we do not handle yet), kept whole.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OtherEvent {
    pub entry_id: String,
    pub field: String,
    pub value: ValueIn,
}

/// What one [`WebhookEvent`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEventKind {
    /// A customer's message ([`MessageEvent`]).
    Message,
    /// A delivery status of a message we sent ([`StatusEvent`]).
    Status,
    /// An error report about the business number ([`ErrorsEvent`]).
    Error,
    /// A change the bot does not handle yet ([`OtherEvent`]).
    Other,
}

/// One event of a notification, as WhatsApp identifies and keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// WhatsApp's id for the event, unique among WhatsApp's events (see
    /// [`NotificationIn::into_events`] for how each kind gets one).
    pub provider_event_id: String,
    /// The business number (`phone_number_id`) it belongs to, or the account id of a change without
    /// one.
    pub business_id: String,
    /// The conversation it belongs to (`whatsapp:business:customer`); for a delivery status, that
    /// conversation's status lane (`whatsapp:business:customer/statuses`).
    pub conversation_key: String,
    pub kind: WebhookEventKind,
    /// The event's JSON: a [`MessageEvent`], [`StatusEvent`], [`ErrorsEvent`] or [`OtherEvent`].
    pub payload: String,
    /// A message's sender and words, for the operator's listings.
    pub said: Option<Said>,
}

impl NotificationIn {
    /// One event per message, status, error report and unhandled change, in the order Meta sent them.
    ///
    /// Ids: a message's `wamid`; a status's `wamid:status` (a message and its statuses are different
    /// events); for error reports and other changes, a digest of their content, so that Meta's retry of
    /// the same POST is recognised as a duplicate.
    pub fn into_events(self) -> Result<Vec<WebhookEvent>, serde_json::Error> {
        let mut events = Vec::new();
        for entry in self.entry {
            for change in entry.changes {
                let ChangeIn { field, mut value } = change;
                let metadata = match (field.as_str(), value.metadata.take()) {
                    ("messages", Some(metadata)) => metadata,
                    (_, metadata) => {
                        value.metadata = metadata;
                        let payload = event_payload(&OtherEvent {
                            entry_id: entry.id.clone(),
                            field,
                            value,
                        })?;
                        events.push(WebhookEvent {
                            provider_event_id: format!("change:{}", digest(&payload)),
                            business_id: entry.id.clone(),
                            conversation_key: format!("whatsapp:{}:system", entry.id),
                            kind: WebhookEventKind::Other,
                            payload,
                            said: None,
                        });
                        continue;
                    }
                };
                let business = metadata.phone_number_id.clone();
                let contacts = std::mem::take(&mut value.contacts);
                for message in std::mem::take(&mut value.messages) {
                    let contact = find_contact(&contacts, &message).cloned();
                    let customer = message.customer(contact.as_ref());
                    let said = Said::new(&customer.to_string(), message.words());
                    let key = ConversationKey::whatsapp(&business, customer);
                    let id = message.id.clone();
                    let payload = event_payload(&MessageEvent {
                        metadata: metadata.clone(),
                        contact,
                        message,
                    })?;
                    events.push(WebhookEvent {
                        provider_event_id: id,
                        business_id: business.clone(),
                        conversation_key: key.to_string(),
                        kind: WebhookEventKind::Message,
                        payload,
                        said: Some(said),
                    });
                }
                for status in std::mem::take(&mut value.statuses) {
                    let customer = CustomerId::from_parts(
                        status.recipient_id.as_deref(),
                        status.recipient_user_id.as_deref(),
                    );
                    let key = ConversationKey::whatsapp(&business, customer);
                    let id = format!("{}:{}", status.id, status.status);
                    let payload = event_payload(&StatusEvent {
                        metadata: metadata.clone(),
                        status,
                    })?;
                    events.push(WebhookEvent {
                        provider_event_id: id,
                        business_id: business.clone(),
                        // Beside the customer's messages, not behind them: a status waiting for
                        // its message must never hold the customer up.
                        conversation_key: key.status_lane(),
                        kind: WebhookEventKind::Status,
                        payload,
                        said: None,
                    });
                }
                if !value.errors.is_empty() {
                    let payload = event_payload(&ErrorsEvent {
                        metadata: metadata.clone(),
                        errors: std::mem::take(&mut value.errors),
                    })?;
                    events.push(WebhookEvent {
                        provider_event_id: format!("errors:{}", digest(&payload)),
                        business_id: business.clone(),
                        conversation_key: ConversationKey::whatsapp(&business, CustomerId::System)
                            .to_string(),
                        kind: WebhookEventKind::Error,
                        payload,
                        said: None,
                    });
                }
            }
        }
        Ok(events)
    }
}

/// The contact entry that belongs to a message (Meta sends one per sender in the same change).
fn find_contact<'a>(contacts: &'a [ContactIn], message: &MessageIn) -> Option<&'a ContactIn> {
    contacts
        .iter()
        .find(|c| {
            (message.from.is_some() && c.wa_id == message.from)
                || (message.from_user_id.is_some() && c.user_id == message.from_user_id)
        })
        .or_else(|| {
            if contacts.len() == 1 {
                contacts.first()
            } else {
                None
            }
        })
}

/// An event's stored JSON (see [`storable_json`]).
fn event_payload<T: Serialize>(event: &T) -> Result<String, serde_json::Error> {
    storable_json(serde_json::to_string(event)?)
}

fn digest(payload: &str) -> String {
    hex::encode(&Sha256::digest(payload.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/whatsapp/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn first_message(name: &str) -> MessageIn {
        let n: NotificationIn = serde_json::from_str(&fixture(name)).unwrap();
        n.entry[0].changes[0].value.messages[0].clone()
    }

    #[test]
    fn the_profile_name_is_read_from_a_stored_message_event() {
        let n: NotificationIn = serde_json::from_str(&fixture("01_text.json")).unwrap();
        let event = n.into_events().unwrap().remove(0);
        let payload: Value = serde_json::from_str(&event.payload).unwrap();
        let expected = payload["contact"]["profile"]["name"].as_str().unwrap();
        assert_eq!(
            MessageEvent::profile_name_of(&payload).as_deref(),
            Some(expected)
        );
        let nameless = serde_json::json!({"contact": {"profile": {"name": "  "}, "wa_id": "1"}});
        assert_eq!(MessageEvent::profile_name_of(&nameless), None);
        assert_eq!(MessageEvent::profile_name_of(&serde_json::json!({})), None);
    }

    #[test]
    fn every_fixture_round_trips_without_losing_a_field() {
        let dir = format!("{}/tests/fixtures/whatsapp", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let raw: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let parsed: NotificationIn = serde_json::from_value(raw.clone()).unwrap();
            assert_eq!(
                serde_json::to_value(&parsed).unwrap(),
                raw,
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn message_contents_are_typed() {
        assert_eq!(
            first_message("01_text.json").content(),
            MessageContent::Text("Does it come in another color?")
        );
        assert_eq!(
            first_message("02_interactive_button_reply.json").content(),
            MessageContent::Choice {
                id: "change-button",
                title: "Change"
            }
        );
        assert!(matches!(
            first_message("03_interactive_list_reply.json").content(),
            MessageContent::Choice { .. }
        ));
        assert!(matches!(
            first_message("04_template_quick_reply_button.json").content(),
            MessageContent::QuickReply { .. }
        ));
        assert!(matches!(
            first_message("05_image.json").content(),
            MessageContent::Media { kind: "image", .. }
        ));
        assert!(matches!(
            first_message("06_location.json").content(),
            MessageContent::Location { .. }
        ));
        assert!(matches!(
            first_message("07_reaction.json").content(),
            MessageContent::Reaction { .. }
        ));
        let unsupported = first_message("08_unsupported_message_errors.json");
        assert_eq!(unsupported.content(), MessageContent::Other("unsupported"));
        assert_eq!(unsupported.errors.as_ref().unwrap()[0].code, 131051);
        let reply = first_message("15_text_reply_with_context.json");
        assert!(reply.context.as_ref().unwrap().id.is_some());
    }

    #[test]
    fn events_are_split_and_keyed() {
        let n: NotificationIn =
            serde_json::from_str(&fixture("16_interactive_with_value_errors_131000.json")).unwrap();
        let events = n.into_events().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].kind, WebhookEventKind::Message);
        assert_eq!(events[0].provider_event_id, "wamid.wegrchytvwcggt=");
        assert_eq!(
            events[0].conversation_key,
            "whatsapp:1122334455667:+972987654321"
        );
        assert_eq!(events[1].kind, WebhookEventKind::Error);
        assert!(events[1].provider_event_id.starts_with("errors:"));

        let n: NotificationIn = serde_json::from_str(&fixture("13_status_failed.json")).unwrap();
        let events = n.into_events().unwrap();
        assert_eq!(
            events[0].provider_event_id,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA:failed"
        );
        let payload: StatusEvent = serde_json::from_str(&events[0].payload).unwrap();
        assert_eq!(payload.status.errors.unwrap()[0].code, 131049);
    }

    #[test]
    fn the_same_error_report_gets_the_same_id() {
        let a: NotificationIn =
            serde_json::from_str(&fixture("09_value_errors_system.json")).unwrap();
        let b = a.clone();
        assert_eq!(
            a.into_events().unwrap()[0].provider_event_id,
            b.into_events().unwrap()[0].provider_event_id
        );
    }

    #[test]
    fn null_lists_count_as_empty() {
        let n: NotificationIn = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
               "value":{"metadata":{"display_phone_number":"1","phone_number_id":"2"},"statuses":null,"messages":null}}]}]}"#,
        )
        .unwrap();
        assert!(n.into_events().unwrap().is_empty());
    }
}
