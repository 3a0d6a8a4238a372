//! Chatwoot's wire formats: the webhook events the bot reads and the bodies of the API calls it makes.
//!
//! The events are built by Chatwoot's serialisers (`Message#webhook_data` and
//! `Conversations::EventDataPresenter#webhook_data`, chatwoot/chatwoot 4.13), with traps a parser must
//! know:
//! - `message_type` is a string (`"incoming"`, `"outgoing"`, `"template"`) at the top level of a
//!   message event and an integer (0 incoming, 1 outgoing, 2 activity, 3 template) inside
//!   `conversation.messages[]`; [`MessageType`] reads both;
//! - a contact sender has no `type` (dropped from `Contact#webhook_data` in 2023); users carry
//!   `"user"`, agent bots `"agent_bot"`;
//! - `conversation.id` is the conversation's display id, the one API paths take; a message event's
//!   top-level `id` is the message's database id;
//! - the customer's phone is `conversation.meta.sender.phone_number` (E.164 with `+`), or
//!   `conversation.contact_inbox.source_id` (a WhatsApp inbox's `wa_id`, without `+`);
//! - conversation events carry the conversation's fields at the top level.
//!
//! Every field is optional here: an event Chatwoot shapes differently is ignored with a reason, never
//! a failed webhook.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The `source_id` prefix of every message the bot posts into a Chatwoot API inbox (mirror mode):
/// `salonbot:<outbox row id>`. Chatwoot echoes each created message back as a webhook; this marks the
/// echo as the bot's own (with a user token, the bot's messages otherwise look like an agent's).
pub const SOURCE_PREFIX: &str = "salonbot:";

/// The `content_attributes` key under which a message the bot posts carries its marker
/// (`salonbot:<outbox row id>`). Channel mode cannot use `source_id` (Chatwoot does not deliver an
/// outgoing message that has one), but Chatwoot keeps the `content_attributes` an API caller posts
/// (`Messages::MessageBuilder#message_params`) and returns them when it lists a conversation's
/// messages (`api/v1/models/_message.json.jbuilder`) and in its webhooks (`Message#webhook_data`).
pub const MARKER_KEY: &str = "salonbot";

/// The private note with which an agent hands the conversation back to the bot.
pub const HAND_BACK_NOTE: &str = "/bot";

/// The label a hand-off adds to the Chatwoot conversation.
pub const HANDOFF_LABEL: &str = "bot-handoff";

/// A webhook event as Chatwoot posts it (message and conversation events share this shape: the
/// conversation's fields are at the top level of conversation events).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventIn {
    #[serde(default)]
    pub event: String,
    /// The message's id (message events) or the conversation's display id (conversation events).
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_attributes: Option<Value>,
    #[serde(default)]
    pub message_type: Option<MessageType>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub sender: Option<SenderIn>,
    #[serde(default)]
    pub attachments: Vec<AttachmentIn>,
    /// Message events: the conversation the message belongs to.
    #[serde(default)]
    pub conversation: Option<ConversationIn>,
    /// Conversation events: the conversation's own fields, at the top level.
    #[serde(flatten)]
    pub top: ConversationFields,
    #[serde(default)]
    pub created_at: Option<Value>,
}

/// The conversation fields of a conversation event (at the top level) or of a message's
/// `conversation`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConversationFields {
    #[serde(default)]
    pub status: Option<String>,
    /// The inbox's channel: `Channel::Api` (mirror mode), `Channel::Whatsapp` ...
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub inbox_id: Option<i64>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub meta: Option<MetaIn>,
    #[serde(default)]
    pub contact_inbox: Option<ContactInboxIn>,
    #[serde(default)]
    pub messages: Option<Vec<NestedMessageIn>>,
    #[serde(default)]
    pub updated_at: Option<Value>,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default)]
    pub changed_attributes: Option<Value>,
}

/// A message's `conversation`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConversationIn {
    /// The display id.
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(flatten)]
    pub fields: ConversationFields,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetaIn {
    #[serde(default)]
    pub sender: Option<SenderIn>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContactInboxIn {
    #[serde(default)]
    pub source_id: Option<String>,
}

/// A message as `conversation.messages[]` carries it (`Message#push_event_data`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NestedMessageIn {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub message_type: Option<MessageType>,
    #[serde(default)]
    pub content: Option<String>,
}

/// Who wrote a message: a contact (no `type`), a user (`"user"`) or an agent bot (`"agent_bot"`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SenderIn {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl SenderIn {
    /// Classifies by `type`, as Chatwoot's own serialisers set it: anything but a user or an agent
    /// bot is the contact.
    pub fn role(&self) -> SenderRole {
        match self.kind.as_deref() {
            Some("user") => SenderRole::Agent,
            Some("agent_bot") => SenderRole::Bot,
            _ => SenderRole::Contact,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderRole {
    Contact,
    Agent,
    Bot,
}

/// A file an agent attached.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttachmentIn {
    #[serde(default)]
    pub file_type: Option<String>,
    #[serde(default)]
    pub data_url: Option<String>,
}

/// A message's type, read from a string (top level) or an integer (nested messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Incoming,
    Outgoing,
    Activity,
    Template,
    Unknown,
}

impl<'de> Deserialize<'de> for MessageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::String(s) => match s.as_str() {
                "incoming" => MessageType::Incoming,
                "outgoing" => MessageType::Outgoing,
                "activity" => MessageType::Activity,
                "template" => MessageType::Template,
                _ => MessageType::Unknown,
            },
            Value::Number(n) => match n.as_i64() {
                Some(0) => MessageType::Incoming,
                Some(1) => MessageType::Outgoing,
                Some(2) => MessageType::Activity,
                Some(3) => MessageType::Template,
                _ => MessageType::Unknown,
            },
            _ => MessageType::Unknown,
        })
    }
}

/// The event the staff pages store to hand a conversation to a person (the hand-back is Chatwoot's
/// own `conversation_status_changed` to `resolved`).
pub const TAKE_OVER: &str = "salonbot_take_over";

/// The event the staff pages store to cancel an appointment of the conversation (its payload is a
/// [`SalonCancelIn`]); Chatwoot's webhooks never carry it (an unknown event is stored as ignored).
pub const SALON_CANCEL: &str = "salonbot_cancel";

/// The payload of [`SALON_CANCEL`]: which appointment, and whether its deposit is given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalonCancelIn {
    pub event: String,
    pub appointment: i64,
    pub refund: bool,
}

/// What an event means to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// An agent wrote to the customer (not private, not the bot's own): it goes to WhatsApp and the
    /// conversation is the staff's.
    AgentReplied {
        text: String,
        /// Files attached, by link: `(file_type, url)`.
        attachments: Vec<(String, String)>,
    },
    /// The staff handed the conversation back: resolved, or a private note `/bot`.
    HandBack { why: &'static str },
    /// The customer wrote through Chatwoot (channel mode).
    CustomerWrote { text: String },
    /// The salon took the conversation from the staff pages or the operator API ([`TAKE_OVER`]):
    /// human mode, as after an agent's reply, without a message.
    TakenOver,
    /// Nothing for the bot to do, and why.
    Ignore(&'static str),
}

impl EventIn {
    /// The conversation's fields wherever the event carries them.
    pub fn fields(&self) -> &ConversationFields {
        match &self.conversation {
            Some(conversation) => &conversation.fields,
            None => &self.top,
        }
    }

    /// The conversation's display id.
    pub fn conversation_id(&self) -> Option<i64> {
        if self.is_message() {
            self.conversation.as_ref().and_then(|c| c.id)
        } else {
            self.id
        }
    }

    pub fn is_message(&self) -> bool {
        self.event.starts_with("message_")
    }

    /// The conversation's status (`open`, `pending`, `resolved`, `snoozed`).
    pub fn status(&self) -> Option<&str> {
        self.fields().status.as_deref()
    }

    /// The customer's phone in E.164 (with `+`): the conversation's contact, else its
    /// `contact_inbox.source_id` when that is a `wa_id` (digits only).
    pub fn phone(&self) -> Option<String> {
        let fields = self.fields();
        let from_meta = fields
            .meta
            .as_ref()
            .and_then(|m| m.sender.as_ref())
            .and_then(|s| s.phone_number.clone())
            .filter(|p| p.starts_with('+'));
        from_meta.or_else(|| {
            fields
                .contact_inbox
                .as_ref()
                .and_then(|c| c.source_id.as_deref())
                .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                .map(|s| format!("+{s}"))
        })
    }

    /// The customer's name, as Chatwoot has it.
    pub fn customer_name(&self) -> Option<String> {
        self.fields()
            .meta
            .as_ref()
            .and_then(|m| m.sender.as_ref())
            .and_then(|s| s.name.clone())
    }

    /// The id under which the event is stored once: `message_created:<message id>` for messages (the
    /// same message delivered to the account webhook and the inbox webhook, or retried, is one event;
    /// `X-Chatwoot-Delivery` differs per target and is not used), and for conversation events the
    /// event, the conversation and the moment it changed.
    pub fn dedup_id(&self, body: &[u8]) -> String {
        let stamp = |v: &Option<Value>| v.as_ref().map(|v| v.to_string().replace('"', ""));
        match (self.is_message(), self.id) {
            (true, Some(id)) => format!("{}:{id}", self.event),
            (false, Some(id)) => {
                let fields = self.fields();
                match stamp(&fields.updated_at).or_else(|| stamp(&fields.timestamp)) {
                    Some(at) => format!(
                        "{}:{id}:{}:{at}",
                        self.event,
                        fields.status.as_deref().unwrap_or("")
                    ),
                    None => format!("{}:{id}:{}", self.event, body_digest(body)),
                }
            }
            _ => format!("{}:{}", self.event, body_digest(body)),
        }
    }

    /// Whether the bot posted this message itself (its marker in `source_id` or
    /// `content_attributes`, or its agent bot).
    pub fn is_own(&self) -> bool {
        let marked = |s: Option<&str>| s.is_some_and(|s| s.starts_with(SOURCE_PREFIX));
        marked(self.source_id.as_deref())
            || marked(
                self.content_attributes
                    .as_ref()
                    .and_then(|a| a.get(MARKER_KEY))
                    .and_then(Value::as_str),
            )
            || self.sender.as_ref().map(SenderIn::role) == Some(SenderRole::Bot)
    }

    /// What the event means to the bot, read as `reading` says.
    pub fn meaning(&self, reading: Reading) -> Meaning {
        match self.event.as_str() {
            // Stored only by the staff pages; never taken from Chatwoot's webhook.
            TAKE_OVER if reading == Reading::Stored => Meaning::TakenOver,
            "message_created" => self.message_meaning(reading),
            "message_updated" => Meaning::Ignore("message_updated is not acted on"),
            "conversation_status_changed" | "conversation_resolved" => {
                if self.status() == Some("resolved") {
                    Meaning::HandBack { why: "resolved" }
                } else {
                    Meaning::Ignore("status change other than resolved")
                }
            }
            "conversation_updated" | "conversation_created" | "conversation_opened" => {
                Meaning::Ignore("conversation change without a hand-back")
            }
            _ => Meaning::Ignore("event not used"),
        }
    }

    fn message_meaning(&self, reading: Reading) -> Meaning {
        if self.is_own() {
            return Meaning::Ignore("the bot's own message, echoed");
        }
        let text = self.content.clone().unwrap_or_default();
        match self.message_type {
            Some(MessageType::Outgoing) if self.private == Some(true) => {
                if text.trim().eq_ignore_ascii_case(HAND_BACK_NOTE) {
                    Meaning::HandBack { why: "note" }
                } else {
                    Meaning::Ignore("private note")
                }
            }
            // Channel mode: Chatwoot sends an agent's reply to WhatsApp itself.
            Some(MessageType::Outgoing) if reading == Reading::Channel => {
                Meaning::Ignore("an agent's reply, sent by Chatwoot")
            }
            Some(MessageType::Outgoing) => {
                if self.sender.as_ref().map(SenderIn::role) != Some(SenderRole::Agent) {
                    return Meaning::Ignore("outgoing message not written by an agent");
                }
                let attachments: Vec<(String, String)> = self
                    .attachments
                    .iter()
                    .filter_map(|a| Some((a.file_type.clone()?, a.data_url.clone()?)))
                    .collect();
                if text.trim().is_empty() && attachments.is_empty() {
                    return Meaning::Ignore("empty agent message");
                }
                Meaning::AgentReplied { text, attachments }
            }
            Some(MessageType::Incoming) if self.private == Some(true) => {
                Meaning::Ignore("private incoming message")
            }
            // Mirror mode: the customer's messages reach the bot from WhatsApp; these are its mirror.
            Some(MessageType::Incoming) if reading == Reading::Mirror => {
                Meaning::Ignore("incoming message mirrored by the bot")
            }
            // Channel mode: Chatwoot keeps sending the bot webhooks of conversations a person has
            // (`open`); the bot acts only on `pending` ones.
            Some(MessageType::Incoming)
                if reading == Reading::Channel && self.status() != Some("pending") =>
            {
                Meaning::Ignore("conversation not pending: a person has it")
            }
            Some(MessageType::Incoming) if text.trim().is_empty() => {
                Meaning::Ignore("incoming message without text")
            }
            Some(MessageType::Incoming) => Meaning::CustomerWrote { text },
            _ => Meaning::Ignore("message type not used"),
        }
    }
}

/// How an event is read: by ingress in one mode or the other, or by the worker from the inbox, where
/// ingress let through only what its mode acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Mirror,
    Channel,
    Stored,
}

fn body_digest(body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(body)[..12])
}

/// `POST /api/v1/accounts/{a}/contacts`.
#[derive(Debug, Clone, Serialize)]
pub struct ContactOut {
    pub inbox_id: i64,
    pub name: String,
    /// E.164 with `+` (Chatwoot refuses anything else, and a phone already taken with 422).
    pub phone_number: String,
}

/// `POST /api/v1/accounts/{a}/conversations`.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationOut {
    pub inbox_id: i64,
    pub contact_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `POST /api/v1/accounts/{a}/conversations/{id}/messages`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageOut {
    pub content: String,
    /// `incoming` (allowed only in API inboxes) or `outgoing`.
    pub message_type: String,
    pub private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_attributes: Option<Value>,
    /// The bot's marker (mirror mode only: Chatwoot does not deliver an outgoing message that has
    /// one, which is harmless in an API inbox and wrong in a WhatsApp inbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

/// A contact as the API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactIn {
    pub id: i64,
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// `GET …/contacts/search`: `{"payload": [contacts]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactsIn {
    #[serde(default)]
    pub payload: Vec<ContactIn>,
}

/// `POST …/contacts`: `{"payload": {"contact": {...}}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactCreatedIn {
    pub payload: ContactCreatedPayload,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactCreatedPayload {
    pub contact: ContactIn,
}

/// A created conversation: its display id.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationCreatedIn {
    pub id: i64,
}

/// A message as the API returns it (`api/v1/models/_message.json.jbuilder`).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageIn {
    pub id: i64,
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub content_attributes: Option<Value>,
    /// Unix seconds (read leniently: see [`MessageIn::created_unix`]).
    #[serde(default)]
    pub created_at: Option<Value>,
}

impl MessageIn {
    /// Whether the message carries the bot's `marker`, in `source_id` (mirror mode) or under
    /// [`MARKER_KEY`] in `content_attributes` (both modes).
    pub fn carries(&self, marker: &str) -> bool {
        self.source_id.as_deref() == Some(marker)
            || self
                .content_attributes
                .as_ref()
                .and_then(|a| a.get(MARKER_KEY))
                .and_then(Value::as_str)
                == Some(marker)
    }

    /// When Chatwoot created the message, in Unix seconds (an integer in the API's answers; an ISO
    /// string is read too).
    pub fn created_unix(&self) -> Option<i64> {
        match self.created_at.as_ref()? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.timestamp()),
            _ => None,
        }
    }
}

/// `GET …/messages`: `{"payload": [messages]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesIn {
    #[serde(default)]
    pub payload: Vec<MessageIn>,
}

/// `GET …/labels`: `{"payload": ["label", ...]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelsIn {
    #[serde(default)]
    pub payload: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_type_is_read_from_a_string_or_an_integer() {
        let event: EventIn = serde_json::from_str(
            r#"{"event":"message_created","id":4,"message_type":"outgoing",
                "conversation":{"id":7,"messages":[{"id":4,"message_type":1}]}}"#,
        )
        .unwrap();
        assert_eq!(event.message_type, Some(MessageType::Outgoing));
        let nested = event.conversation.unwrap().fields.messages.unwrap();
        assert_eq!(nested[0].message_type, Some(MessageType::Outgoing));
    }

    #[test]
    fn a_sender_without_type_is_the_contact() {
        let sender: SenderIn = serde_json::from_str(r#"{"id":77,"name":"Ana"}"#).unwrap();
        assert_eq!(sender.role(), SenderRole::Contact);
        let agent: SenderIn = serde_json::from_str(r#"{"id":5,"type":"user"}"#).unwrap();
        assert_eq!(agent.role(), SenderRole::Agent);
    }

    fn message(json: &str) -> EventIn {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn what_a_message_means_depends_on_who_wrote_it_and_the_mode() {
        let agent = message(
            r#"{"event":"message_created","id":1,"message_type":"outgoing","private":false,
                "content":"Hola","sender":{"id":5,"type":"user"},"conversation":{"id":7}}"#,
        );
        assert!(matches!(
            agent.meaning(Reading::Mirror),
            Meaning::AgentReplied { .. }
        ));
        assert!(matches!(
            agent.meaning(Reading::Channel),
            Meaning::Ignore(_)
        ));
        let echo = message(
            r#"{"event":"message_created","id":2,"message_type":"outgoing","private":false,
                "content":"Hola","source_id":"salonbot:9","sender":{"id":5,"type":"user"}}"#,
        );
        assert!(matches!(echo.meaning(Reading::Mirror), Meaning::Ignore(_)));
        let note = message(
            r#"{"event":"message_created","id":3,"message_type":"outgoing","private":true,
                "content":" /BOT ","sender":{"id":5,"type":"user"}}"#,
        );
        assert_eq!(
            note.meaning(Reading::Mirror),
            Meaning::HandBack { why: "note" }
        );
        let pending = message(
            r#"{"event":"message_created","id":4,"message_type":"incoming","content":"hola",
                "sender":{"id":77},"conversation":{"id":7,"status":"pending"}}"#,
        );
        assert_eq!(
            pending.meaning(Reading::Channel),
            Meaning::CustomerWrote {
                text: "hola".into()
            }
        );
        assert!(matches!(
            pending.meaning(Reading::Mirror),
            Meaning::Ignore(_)
        ));
        let open = message(
            r#"{"event":"message_created","id":5,"message_type":"incoming","content":"hola",
                "sender":{"id":77},"conversation":{"id":7,"status":"open"}}"#,
        );
        assert!(matches!(open.meaning(Reading::Channel), Meaning::Ignore(_)));
        assert_eq!(open.dedup_id(b""), "message_created:5");
    }

    #[test]
    fn the_bots_marker_is_read_from_source_id_or_content_attributes() {
        // As `api/v1/models/_message.json.jbuilder` renders a listed message.
        let listed: MessagesIn = serde_json::from_str(
            r#"{"meta":{},"payload":[
                {"id":1,"content":"hola","source_id":"salonbot:7","content_attributes":{},
                 "created_at":1776680102},
                {"id":2,"content":"Elige","source_id":"wamid.HBgM","content_type":"input_select",
                 "content_attributes":{"items":[{"title":"Sí","value":"yes"}],"salonbot":"salonbot:8"},
                 "created_at":1776680103},
                {"id":3,"content":"Te atiendo yo","source_id":null,"content_attributes":{}}]}"#,
        )
        .unwrap();
        let [mirrored, channel, agent] = &listed.payload[..] else {
            panic!("three messages")
        };
        assert!(mirrored.carries("salonbot:7"));
        assert!(channel.carries("salonbot:8"));
        assert!(!channel.carries("salonbot:7"));
        assert!(!agent.carries("salonbot:7") && !agent.carries("salonbot:8"));
        assert_eq!(channel.created_unix(), Some(1776680103));
        assert_eq!(agent.created_unix(), None);
        // The echo of a marked message is the bot's own, whoever the token belongs to.
        let echo = message(
            r#"{"event":"message_created","id":2,"message_type":"outgoing","private":false,
                "content":"Elige","content_attributes":{"salonbot":"salonbot:8"},
                "sender":{"id":5,"type":"user"},"conversation":{"id":7}}"#,
        );
        assert!(echo.is_own());
    }

    #[test]
    fn the_phone_comes_from_the_contact_or_the_wa_id() {
        let event: EventIn = serde_json::from_str(
            r#"{"event":"conversation_status_changed","id":7,
                "contact_inbox":{"source_id":"351912345678"},"meta":{"sender":{"id":1}}}"#,
        )
        .unwrap();
        assert_eq!(event.phone().as_deref(), Some("+351912345678"));
        assert_eq!(event.conversation_id(), Some(7));
    }
}
