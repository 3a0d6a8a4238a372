//! The staff inbox's side of the outbox (Chatwoot): the calls a turn decides ([`ChatwootCall`], a
//! row's payload) and the sender the dispatcher hands a claimed Chatwoot row to ([`StaffSender`]).
//!
//! In mirror mode every customer message and every bot message becomes a row in the conversation's
//! Chatwoot lane (`chatwoot:<conversation key>`), in the turn's own transaction; the dispatcher takes
//! one row of a lane at a time, oldest first, so the mirror keeps the conversation's order and, after a
//! Chatwoot outage, catches up in order (each failure retried with backoff, never blocking the
//! customer's replies, which are rows of another provider).
//!
//! The first call of a conversation finds the customer's contact by phone (creating it with the
//! customer's WhatsApp profile name, else the phone, and searching again when Chatwoot answers 422
//! because the phone is taken meanwhile), opens a Chatwoot conversation in the configured inbox and
//! remembers it (`store::chatwoot`). The profile name travels with the mirror of the customer's
//! message (`ChatwootCall::Mirror::name`), the first row of a conversation's lane.
//!
//! Chatwoot's messages API has no idempotency key: every message the bot posts carries the marker
//! `salonbot:<row id>`, and a row tried again first looks for that marker among the conversation's
//! latest messages, so a crash between Chatwoot's answer and the settle does not post twice. Mirror
//! mode puts the marker in `source_id` (harmless in an API inbox); channel mode must not (Chatwoot
//! does not deliver an outgoing message that has one), so there it goes in `content_attributes`
//! under `salonbot`, which Chatwoot keeps and returns. The same marker tells the echo of the bot's
//! own messages from an agent's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::booking::catalog::{Catalog, Language, ServiceId, StaffId};
use crate::chatwoot::wire::{
    ContactOut, ConversationOut, EventIn, HANDOFF_LABEL, MARKER_KEY, Meaning, MessageOut, Reading,
    SOURCE_PREFIX,
};
use crate::chatwoot::{ChatwootApi, ChatwootError};
use crate::config::ChatwootMode;
use crate::conversation::{ConversationKey, CustomerId};
use crate::engine::effect::{Reply, ReplyUi};
use crate::engine::input::Input;
use crate::engine::state::Conversation;
use crate::store::{
    Appointment, NewOutbound, Outbound, Provider, Settle, Store, StoreError, StoredPayment,
    provider_lane,
};
use crate::worker::retry::RetryPolicy;

/// The kind of the idle timer of human mode.
pub const HUMAN_IDLE: &str = "human_idle";

/// A call to Chatwoot, as an outbox row stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum ChatwootCall {
    /// Mirror a message: the customer's (`incoming`) or the bot's (`outgoing`).
    Mirror {
        incoming: bool,
        content: String,
        /// The customer's WhatsApp profile name, when the message brought one: the name of the
        /// Chatwoot contact should this call be the one to create it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A hand-off: the conversation opened, labelled `bot-handoff` (mirror mode), and a private note
    /// for the agent.
    Handoff { note: String },
    /// Channel mode: a bot reply posted into the customer's Chatwoot conversation, its choices as an
    /// `input_select` (`(title, value)`; Chatwoot shows them as WhatsApp buttons or a list, and a tap
    /// comes back as the title).
    Reply {
        content: String,
        items: Vec<(String, String)>,
    },
    /// Channel mode: set the conversation's status (`pending` gives it back to the bot after the
    /// staff's note `/bot`).
    Status { status: String },
}

impl ChatwootCall {
    /// The row's `kind` (the metrics label).
    pub fn kind(&self) -> &'static str {
        match self {
            ChatwootCall::Mirror { incoming: true, .. } => "chatwoot.incoming",
            ChatwootCall::Mirror {
                incoming: false, ..
            } => "chatwoot.outgoing",
            ChatwootCall::Handoff { .. } => "chatwoot.handoff",
            ChatwootCall::Reply { .. } => "chatwoot.reply",
            ChatwootCall::Status { .. } => "chatwoot.status",
        }
    }

    /// The outbox row of this call, in the conversation's Chatwoot lane.
    pub fn row(
        &self,
        key: String,
        business_id: &str,
        conversation_key: &str,
        now: DateTime<Utc>,
    ) -> NewOutbound {
        NewOutbound {
            idempotency_key: key,
            provider: Provider::Chatwoot,
            business_id: business_id.to_owned(),
            conversation_key: conversation_key.to_owned(),
            recipient: provider_lane(Provider::Chatwoot, conversation_key),
            kind: self.kind().to_owned(),
            payload: serde_json::to_value(self).unwrap_or(Value::Null),
            created_at: now,
        }
    }
}

/// What the staff inbox asks of the turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaffSettings {
    /// Mirror every message into Chatwoot (mirror mode).
    pub mirror: bool,
    /// Chatwoot is the channel: replies are posted into its conversations (channel mode).
    pub channel: bool,
    /// After this long without a person's message the bot takes the conversation back.
    pub human_idle: chrono::Duration,
}

impl StaffSettings {
    /// What the configuration says; `None` without Chatwoot.
    pub fn from_config(config: &crate::config::ChatwootConfig) -> Option<Self> {
        config.enabled().then(|| Self {
            mirror: config.mode == ChatwootMode::Mirror,
            channel: config.mode == ChatwootMode::Channel,
            human_idle: chrono::Duration::from_std(config.human_idle)
                .unwrap_or(chrono::Duration::hours(12)),
        })
    }
}

/// The engine's input of a staff event: a person's reply, the conversation handed back, or (channel
/// mode) the customer's words.
pub fn staff_input(event: &EventIn) -> Option<Input> {
    match event.meaning(Reading::Stored) {
        Meaning::AgentReplied { .. } | Meaning::TakenOver => {
            Some(Input::Staff(crate::engine::input::Staff::Replied))
        }
        Meaning::HandBack { .. } => Some(Input::Staff(crate::engine::input::Staff::HandBack)),
        Meaning::CustomerWrote { text } => Some(Input::Text(text)),
        Meaning::Ignore(_) => None,
    }
}

/// What an agent wrote, to go to the customer: the text and the files by link.
pub fn agent_reply(event: &EventIn) -> Option<(String, Vec<(String, String)>)> {
    match event.meaning(Reading::Stored) {
        Meaning::AgentReplied { text, attachments } => Some((text, attachments)),
        _ => None,
    }
}

/// A bot reply as channel mode posts it: its text, and its choices as `(title, value)` items (a
/// link is written out, Chatwoot having no button for it).
pub fn channel_reply(reply: &Reply) -> ChatwootCall {
    let mut content = reply.text.clone();
    let items = match &reply.ui {
        ReplyUi::None => Vec::new(),
        ReplyUi::Buttons(buttons) => buttons
            .iter()
            .map(|(id, title)| (title.clone(), id.clone()))
            .collect(),
        ReplyUi::List { rows, .. } => rows
            .iter()
            .map(|r| (r.title.clone(), r.id.clone()))
            .collect(),
        ReplyUi::Cta { label, url } => {
            content.push_str(&format!("\n\n{label}: {url}"));
            Vec::new()
        }
    };
    ChatwootCall::Reply { content, items }
}

/// A customer's message as it is mirrored.
pub fn customer_text(input: &Input) -> String {
    match input {
        Input::Text(text) | Input::Understood { text, .. } => text.clone(),
        Input::Choice { title, .. } => title.clone(),
        Input::Unsupported(kind) => format!("[{kind}]"),
        _ => String::new(),
    }
}

/// A bot reply as it is mirrored: its text, and the choices it offered.
pub fn reply_text(reply: &Reply) -> String {
    let mut text = reply.text.clone();
    let options: Vec<String> = match &reply.ui {
        ReplyUi::None => Vec::new(),
        ReplyUi::Buttons(buttons) => buttons.iter().map(|(_, t)| format!("[{t}]")).collect(),
        ReplyUi::List { button, rows } => std::iter::once(format!("{button}:"))
            .chain(rows.iter().map(|r| format!("- {}", r.title)))
            .collect(),
        ReplyUi::Cta { label, url } => vec![format!("[{label}] {url}")],
    };
    if !options.is_empty() {
        text.push_str("\n\n");
        text.push_str(&options.join("\n"));
    }
    text
}

/// The private note a hand-off leaves for the agent: what the customer wanted, the booking so far,
/// any appointment and its payment, and the customer's language.
pub fn handoff_note(
    catalog: &Catalog,
    conversation: &Conversation,
    said: &str,
    appointments: &[(Appointment, Option<StoredPayment>)],
) -> String {
    let language = conversation
        .language
        .unwrap_or(catalog.salon().default_language);
    let zone = catalog.salon().time_zone;
    let mut lines = vec!["salonbot: the customer is waiting for a person.".to_owned()];
    if !said.trim().is_empty() {
        lines.push(format!("Last message: \"{}\"", said.trim()));
    }
    lines.push(format!("Language: {}", language_name(language)));
    let slots = &conversation.slots;
    let service = |id: &str| {
        catalog
            .service(&ServiceId::new(id))
            .map_or(id.to_owned(), |s| s.name.get(language).to_owned())
    };
    let staff = |id: &str| {
        catalog
            .staff_member(&StaffId::new(id))
            .map_or(id.to_owned(), |s| s.name.clone())
    };
    let mut chosen = Vec::new();
    if let Some(id) = &slots.service {
        chosen.push(format!("service {}", service(id)));
    }
    if let Some(id) = slots.slot_staff.as_ref().or(slots.staff.as_ref()) {
        chosen.push(format!("staff {}", staff(id)));
    }
    if let Some(day) = slots.day {
        chosen.push(format!("day {day}"));
    }
    if let Some(start) = slots.start {
        chosen.push(format!(
            "time {}",
            start.with_timezone(&zone).format("%H:%M")
        ));
    }
    lines.push(if chosen.is_empty() {
        "Chosen so far: nothing".to_owned()
    } else {
        format!("Chosen so far: {}", chosen.join(", "))
    });
    for (appointment, payment) in appointments {
        let mut line = format!(
            "Appointment #{}: {} with {}, {}, {}",
            appointment.id,
            service(&appointment.service_id),
            staff(&appointment.staff_id),
            appointment
                .starts_at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M"),
            appointment.status.as_str()
        );
        if let Some(payment) = payment {
            line.push_str(&format!(
                ", deposit {:.2} {} {}",
                payment.amount_minor as f64 / 100.0,
                payment.currency,
                payment.status.as_str()
            ));
        }
        lines.push(line);
    }
    lines.join("\n")
}

fn language_name(language: Language) -> &'static str {
    match language {
        Language::Es => "Spanish (es)",
        Language::En => "English (en)",
        Language::Pt => "Portuguese (pt)",
    }
}

/// Makes the Chatwoot calls the dispatcher claims.
#[derive(Clone, Debug)]
pub struct StaffSender {
    store: Store,
    api: Option<ChatwootApi>,
}

impl StaffSender {
    /// `api` is `None` where Chatwoot is not configured: its rows then fail with that reason.
    pub fn new(store: Store, api: Option<ChatwootApi>) -> Self {
        Self { store, api }
    }

    /// Makes one claimed call and settles it: made, retried later, or given up.
    pub async fn send(
        &self,
        row: &Outbound,
        max_attempts: i32,
        retry: RetryPolicy,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let result = match (ChatwootCall::deserialize(&row.payload), &self.api) {
            (Err(err), _) => Err(Failure::Final(format!("unreadable call: {err}"))),
            (_, None) => Err(Failure::Final(
                "Chatwoot is not configured (CHATWOOT_BASE_URL, CHATWOOT_API_TOKEN, CHATWOOT_ACCOUNT_ID)"
                    .into(),
            )),
            (Ok(call), Some(api)) => self.make(api, row, &call, now).await,
        };
        let settled = match result {
            Ok(message_id) => {
                self.store
                    .outbox_sent(&[(row.id, row.attempts, message_id)], now)
                    .await?
                    == 1
            }
            Err(Failure::Chatwoot(err)) if err.is_retryable() && row.attempts < max_attempts => {
                tracing::warn!(id = row.id, attempt = row.attempts, kind = %row.kind, error = %err, "chatwoot call failed; retried later");
                let settle = Settle::Retry {
                    error: &err.to_string(),
                    code: None,
                    at: retry.next(row.attempts, now),
                };
                self.store
                    .settle_outbox(row.id, row.attempts, settle, now)
                    .await?
            }
            Err(failure) => {
                let (error, dead) = match failure {
                    Failure::Chatwoot(err) => (err.to_string(), err.is_retryable()),
                    Failure::Final(error) => (error, false),
                    Failure::Store(err) => return Err(err),
                };
                tracing::error!(id = row.id, attempt = row.attempts, kind = %row.kind, %error, "chatwoot call given up");
                let settle = Settle::Fail {
                    error: &error,
                    code: None,
                    dead,
                };
                self.store
                    .settle_outbox(row.id, row.attempts, settle, now)
                    .await?
            }
        };
        if !settled {
            tracing::warn!(
                id = row.id,
                "outbox claim was lost before the chatwoot call was settled"
            );
        }
        Ok(())
    }

    /// Makes the call; returns what to record as the row's provider id.
    async fn make(
        &self,
        api: &ChatwootApi,
        row: &Outbound,
        call: &ChatwootCall,
        now: DateTime<Utc>,
    ) -> Result<String, Failure> {
        let name = match call {
            ChatwootCall::Mirror { name, .. } => name.as_deref(),
            _ => None,
        };
        let conversation = self.conversation(api, row, name, now).await?;
        let marker = format!("{SOURCE_PREFIX}{}", row.id);
        if api.mode() == ChatwootMode::Channel {
            return self
                .make_in_channel(api, row, call, conversation, &marker)
                .await;
        }
        match call {
            ChatwootCall::Mirror {
                incoming, content, ..
            } => {
                let message = MessageOut {
                    content: content.clone(),
                    message_type: if *incoming { "incoming" } else { "outgoing" }.to_owned(),
                    private: false,
                    content_type: None,
                    content_attributes: None,
                    source_id: Some(marker.clone()),
                };
                self.post_once(api, row, conversation, &marker, &message)
                    .await
            }
            ChatwootCall::Handoff { note } => {
                api.toggle_status(conversation, "open").await?;
                let mut labels = api.labels(conversation).await?;
                if !labels.iter().any(|l| l == HANDOFF_LABEL) {
                    // Chatwoot replaces the whole list: the union keeps the staff's own labels.
                    labels.push(HANDOFF_LABEL.to_owned());
                    api.set_labels(conversation, &labels).await?;
                }
                let message = MessageOut {
                    content: note.clone(),
                    message_type: "outgoing".to_owned(),
                    private: true,
                    content_type: None,
                    content_attributes: None,
                    source_id: Some(marker.clone()),
                };
                self.post_once(api, row, conversation, &marker, &message)
                    .await
            }
            ChatwootCall::Reply { .. } | ChatwootCall::Status { .. } => Err(Failure::Final(
                "a channel-mode call in mirror mode (CHATWOOT_MODE changed meanwhile)".into(),
            )),
        }
    }

    /// Channel mode, with the agent bot's token: replies without `source_id` (Chatwoot would not
    /// deliver an outgoing message that has one), their marker in `content_attributes`; a hand-off
    /// is `toggle_status` to `open`, which Chatwoot counts as the bot's hand-off, with a private note
    /// (labels refuse bot tokens).
    async fn make_in_channel(
        &self,
        api: &ChatwootApi,
        row: &Outbound,
        call: &ChatwootCall,
        conversation: i64,
        marker: &str,
    ) -> Result<String, Failure> {
        let mut attributes = serde_json::Map::new();
        attributes.insert(MARKER_KEY.to_owned(), Value::String(marker.to_owned()));
        match call {
            ChatwootCall::Reply { content, items } => {
                if !items.is_empty() {
                    attributes.insert(
                        "items".to_owned(),
                        items
                            .iter()
                            .map(|(title, value)| serde_json::json!({"title": title, "value": value}))
                            .collect(),
                    );
                }
                let message = MessageOut {
                    content: content.clone(),
                    message_type: "outgoing".to_owned(),
                    private: false,
                    content_type: (!items.is_empty()).then(|| "input_select".to_owned()),
                    content_attributes: Some(Value::Object(attributes)),
                    source_id: None,
                };
                self.post_once(api, row, conversation, marker, &message)
                    .await
            }
            ChatwootCall::Handoff { note } => {
                let message = MessageOut {
                    content: note.clone(),
                    message_type: "outgoing".to_owned(),
                    private: true,
                    content_type: None,
                    content_attributes: Some(Value::Object(attributes)),
                    source_id: None,
                };
                let posted = self
                    .post_once(api, row, conversation, marker, &message)
                    .await?;
                api.toggle_status(conversation, "open").await?;
                Ok(posted)
            }
            ChatwootCall::Status { status } => {
                api.toggle_status(conversation, status).await?;
                Ok(format!("chatwoot:status:{}", row.id))
            }
            ChatwootCall::Mirror { .. } => {
                tracing::info!(id = row.id, "mirror row in channel mode: nothing to mirror");
                Ok(format!("chatwoot:skipped:{}", row.id))
            }
        }
    }

    /// Posts a message unless an earlier attempt of the row already did (a message carrying its
    /// `marker` is there).
    async fn post_once(
        &self,
        api: &ChatwootApi,
        row: &Outbound,
        conversation: i64,
        marker: &str,
        message: &MessageOut,
    ) -> Result<String, Failure> {
        if row.attempts > 1
            && let Some(found) = posted_already(api, conversation, marker, row.created_at).await?
        {
            tracing::info!(
                id = row.id,
                "chatwoot message posted already by an earlier attempt"
            );
            return Ok(format!("chatwoot:{found}"));
        }
        let posted = api.post_message(conversation, message).await?;
        Ok(format!("chatwoot:{}", posted.id))
    }

    /// The conversation's Chatwoot conversation: remembered, or found (contact by phone, created
    /// with `name` when there is none, else with the phone as its name) and created now.
    async fn conversation(
        &self,
        api: &ChatwootApi,
        row: &Outbound,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, Failure> {
        if let Some(id) = self
            .store
            .chatwoot_conversation(&row.conversation_key)
            .await?
        {
            return Ok(id);
        }
        let phone = match ConversationKey::parse(&row.conversation_key).map(|k| k.customer) {
            Some(CustomerId::Phone(phone)) => phone.as_str().to_owned(),
            _ => {
                return Err(Failure::Final(
                    "the conversation has no phone to find the customer by in Chatwoot".into(),
                ));
            }
        };
        let inbox = api.inbox()?;
        let contact = match find_contact(api, &phone).await? {
            Some(id) => id,
            None => {
                let out = ContactOut {
                    inbox_id: inbox,
                    name: contact_name(name, &phone),
                    phone_number: phone.clone(),
                };
                match api.create_contact(&out).await {
                    Ok(contact) => contact.id,
                    // Taken meanwhile (or the search missed it): search again.
                    Err(ChatwootError::Unprocessable(why)) => find_contact(api, &phone)
                        .await?
                        .ok_or(Failure::Chatwoot(ChatwootError::Unprocessable(why)))?,
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let created = api
            .create_conversation(&ConversationOut {
                inbox_id: inbox,
                contact_id: contact,
                status: None,
            })
            .await?;
        Ok(self
            .store
            .remember_chatwoot_conversation(
                &row.conversation_key,
                &row.business_id,
                created,
                Some(contact),
                now,
            )
            .await?)
    }
}

/// How many pages of the conversation's messages (20 each, newest first) a retried row looks
/// through for its marker.
const MARKER_PAGES: usize = 10;

/// The page size of Chatwoot's `MessageFinder`: a shorter page is the conversation's first.
const MESSAGES_PAGE: usize = 20;

/// How far Chatwoot's clock may be behind ours, when telling messages older than a row.
const CLOCK_SKEW_SECS: i64 = 300;

/// The id of a message of the conversation that carries `marker`, looking back from the latest
/// messages page by page until the messages are older than the row (`since`, its creation).
async fn posted_already(
    api: &ChatwootApi,
    conversation: i64,
    marker: &str,
    since: DateTime<Utc>,
) -> Result<Option<i64>, ChatwootError> {
    let oldest_possible = since.timestamp() - CLOCK_SKEW_SECS;
    let mut before = None;
    for _ in 0..MARKER_PAGES {
        let page = api.messages(conversation, before).await?;
        if let Some(found) = page.iter().find(|m| m.carries(marker)) {
            return Ok(Some(found.id));
        }
        let Some(oldest) = page.iter().min_by_key(|m| m.id) else {
            break;
        };
        if page.len() < MESSAGES_PAGE
            || oldest.created_unix().is_some_and(|at| at < oldest_possible)
        {
            break;
        }
        before = Some(oldest.id);
    }
    Ok(None)
}

/// The name a new contact is given: the customer's WhatsApp profile name when known (trimmed, at
/// most 255 characters), else the phone.
fn contact_name(name: Option<&str>, phone: &str) -> String {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| phone.to_owned(), |n| n.chars().take(255).collect())
}

/// The contact whose phone is exactly `phone` (the search also matches names and parts of numbers).
async fn find_contact(api: &ChatwootApi, phone: &str) -> Result<Option<i64>, ChatwootError> {
    Ok(api
        .search_contacts(phone)
        .await?
        .into_iter()
        .find(|c| c.phone_number.as_deref() == Some(phone))
        .map(|c| c.id))
}

/// Why a call did not go through.
enum Failure {
    Chatwoot(ChatwootError),
    /// No retry can help.
    Final(String),
    Store(StoreError),
}

impl From<ChatwootError> for Failure {
    fn from(err: ChatwootError) -> Self {
        Failure::Chatwoot(err)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_contact_is_named_after_the_profile_else_the_phone() {
        assert_eq!(
            contact_name(Some(" Ana Martínez "), "+34600111222"),
            "Ana Martínez"
        );
        assert_eq!(contact_name(Some("  "), "+34600111222"), "+34600111222");
        assert_eq!(contact_name(None, "+34600111222"), "+34600111222");
        assert_eq!(
            contact_name(Some(&"a".repeat(300)), "+1").chars().count(),
            255
        );
    }

    #[test]
    fn a_mirror_row_written_before_names_travelled_still_reads() {
        let old = serde_json::json!({"call": "mirror", "incoming": true, "content": "hola"});
        assert_eq!(
            ChatwootCall::deserialize(&old).unwrap(),
            ChatwootCall::Mirror {
                incoming: true,
                content: "hola".into(),
                name: None
            }
        );
        let named = ChatwootCall::Mirror {
            incoming: true,
            content: "hola".into(),
            name: Some("Ana".into()),
        };
        assert_eq!(serde_json::to_value(&named).unwrap()["name"], "Ana");
    }
}
