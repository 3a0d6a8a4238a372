//! What the pages and the API show, read from the store once and given to both: a customer's
//! message, a conversation with its transcript, a day's appointments with their deposits, the dead
//! letters. The API serializes these; the pages render them.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::booking::catalog::{Catalog, ServiceId, StaffId};
use crate::conversation::{ConversationKey, CustomerId, Masked};
use crate::store::admin::{DeadOutbound, ListedConversation, ListedMessage};
use crate::store::{InboxEvent, Store, StoreError};
use crate::whatsapp::messages::render::render;
use crate::whatsapp::webhook::MessageEvent;

/// A customer's message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageView {
    pub id: i64,
    /// E.164, with its `+`.
    pub from: Option<String>,
    /// The customer's WhatsApp profile name, when sent.
    pub name: Option<String>,
    /// WhatsApp's message type (`text`, `interactive`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text, or the title of the choice tapped; `null` for media without a caption.
    pub text: Option<String>,
    pub received_at: DateTime<Utc>,
    pub conversation_key: String,
    /// The inbox status (`pending`, `done`, `dead`, ...).
    pub status: String,
}

impl MessageView {
    pub fn of(m: ListedMessage) -> Self {
        Self::from_payload(
            m.id,
            &m.payload,
            m.received_at,
            m.conversation_key,
            m.status,
        )
    }

    fn from_payload(
        id: i64,
        payload: &Value,
        received_at: DateTime<Utc>,
        conversation_key: String,
        status: String,
    ) -> Self {
        let (from, name, kind, text) = read_message(payload).unwrap_or_default();
        Self {
            id,
            from,
            name,
            kind,
            text,
            received_at,
            conversation_key,
            status,
        }
    }
}

/// A short note of what the bot understood of a customer's text: the language model's reading when
/// the turn asked it and it was recorded (`model_readings`), else the rules' reading, worked out
/// again here (the rules are pure: the text, the catalog and the time it arrived give what the turn
/// read, the catalog as it is now); none when neither read anything (the text may still have named
/// an option of the step, which the step itself matches).
async fn understood(
    store: &Store,
    catalog: &Catalog,
    event_id: i64,
    text: &str,
    at: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    use crate::engine::understand::{self, Understanding};
    use crate::worker::reading::rules_unsure;
    let context = understand::Context {
        catalog,
        now: at,
        language: None,
    };
    let rules = understand::understand(text, &context);
    if !rules_unsure(&rules) {
        return Ok(Some(describe(&rules, catalog)));
    }
    let model = store
        .model_reading(event_id)
        .await?
        .flatten()
        .and_then(|v| serde_json::from_value::<Understanding>(v).ok())
        .filter(|r| !rules_unsure(r));
    Ok(model.map(|reading| format!("model: {}", describe(&reading, catalog))))
}

/// A reading in a few words: the intent, the services, the staff member, the day and the time.
fn describe(reading: &crate::engine::understand::Understanding, catalog: &Catalog) -> String {
    let language = catalog.salon().default_language;
    let mut parts: Vec<String> = Vec::new();
    if let Some(intent) = reading.intent {
        parts.push(intent.as_str().to_owned());
    }
    for id in &reading.services {
        parts.push(
            catalog
                .service(id)
                .map(|s| s.name.get(language).to_owned())
                .unwrap_or_else(|| id.as_str().to_owned()),
        );
    }
    if let Some(staff) = &reading.staff {
        parts.push(
            catalog
                .staff_member(staff)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| staff.as_str().to_owned()),
        );
    }
    if let Some(date) = reading.date {
        parts.push(date.format("%a %Y-%m-%d").to_string());
    }
    match reading.time.as_ref().map(|t| t.bounds()) {
        Some((Some(from), Some(to))) => {
            parts.push(format!("{}–{}", from.format("%H:%M"), to.format("%H:%M")))
        }
        Some((Some(at), None)) => parts.push(at.format("%H:%M").to_string()),
        Some(_) => parts.push("a time to ask about".into()),
        None => {}
    }
    parts.join(", ")
}

/// What [`read_message`] gives: sender, profile name, type, text.
type Read = (Option<String>, Option<String>, String, Option<String>);

/// Sender (E.164), profile name, type and text of a customer's message, whatever its channel: a
/// WhatsApp message, the generic channel's `{message_id, from, to, ts, text}`, or (Chatwoot's channel
/// mode) an incoming Chatwoot message; `None` for anything else.
fn read_message(payload: &Value) -> Option<Read> {
    if let Ok(e) = MessageEvent::deserialize(payload) {
        return Some((
            e.message.from.as_deref().map(|f| format!("+{f}")),
            e.contact
                .as_ref()
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone()),
            e.message.kind.clone(),
            e.message.words().map(str::to_owned),
        ));
    }
    if let Ok(m) = crate::custom::wire::MessageIn::deserialize(payload) {
        return Some((
            Some(m.from.as_str().to_owned()),
            None,
            "text".into(),
            Some(m.text),
        ));
    }
    let event = crate::chatwoot::wire::EventIn::deserialize(payload).ok()?;
    match event.meaning(crate::chatwoot::wire::Reading::Stored) {
        crate::chatwoot::wire::Meaning::CustomerWrote { text } => {
            Some((event.phone(), None, "text".into(), Some(text)))
        }
        _ => None,
    }
}

/// Whether a stored inbox event is a customer's message: of kind `message`, or a staff event that
/// is a customer's words through Chatwoot (channel mode).
fn is_customer_message(e: &InboxEvent) -> bool {
    match e.kind {
        crate::store::EventKind::Message => true,
        crate::store::EventKind::Staff => crate::chatwoot::wire::EventIn::deserialize(&e.payload)
            .is_ok_and(|event| {
                matches!(
                    event.meaning(crate::chatwoot::wire::Reading::Stored),
                    crate::chatwoot::wire::Meaning::CustomerWrote { .. }
                )
            }),
        _ => false,
    }
}

/// The text of a message the bot sent, whatever its channel: WhatsApp's request, the generic
/// channel's reply, or a reply posted into Chatwoot (channel mode); `None` for the other calls.
fn sent_text(o: &crate::store::Outbound) -> Option<String> {
    use crate::store::Provider;
    match o.provider {
        Provider::WhatsApp => Some(render(&o.payload).one_line()),
        Provider::Custom => o
            .payload
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Provider::Chatwoot => match serde_json::from_value(o.payload.clone()) {
            Ok(crate::worker::staff::ChatwootCall::Reply { content, .. }) => Some(content),
            _ => None,
        },
        _ => None,
    }
}

/// One line of a transcript.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Line {
    /// `in` (the customer) or `out` (the bot or the staff).
    pub direction: &'static str,
    pub at: DateTime<Utc>,
    pub text: String,
    /// Outbound: `pending`, `sent`, `delivered`, `read`, `failed`, ...; inbound: the inbox status.
    pub status: String,
    /// Why it failed, for outbound messages that did.
    pub error: Option<String>,
    /// Inbound text: what the bot understood of it (see [`understood`]).
    pub note: Option<String>,
}

impl Line {
    /// The ticks of an outbound message, as WhatsApp shows them.
    pub fn ticks(&self) -> &'static str {
        match self.status.as_str() {
            "sent" => "✓",
            "delivered" => "✓✓",
            "read" => "✓✓ read",
            "failed" | "dead" => "✗",
            _ => "…",
        }
    }
}

/// A conversation as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConversationView {
    pub id: String,
    pub business_id: String,
    /// The customer's phone, masked.
    pub customer: String,
    pub language: Option<String>,
    /// Where the flow is (`greeting`, `pick_service`, ...).
    pub state: Option<String>,
    /// Whether a person has it (human mode) rather than the bot.
    pub human: bool,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Whether WhatsApp's 24-hour window is open, and until when.
    pub window_open: bool,
    pub window_closes_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub last_message: Option<String>,
}

/// The customer of a conversation key as the listings store a message's sender (`Said`): a phone's
/// digits, or the user id's stored form (`user:...`); `None` for the business number's own lane.
pub fn listed_sender(key: &str) -> Option<String> {
    match ConversationKey::parse(key)?.customer {
        CustomerId::System => None,
        customer => Some(customer.to_string().trim_start_matches('+').to_owned()),
    }
}

/// The masked customer of a conversation key.
pub fn masked_customer(key: &str) -> String {
    match ConversationKey::parse(key).map(|k| k.customer) {
        Some(CustomerId::Phone(p)) => Masked(p.as_str()).to_string(),
        Some(CustomerId::User(u)) => Masked(&u).to_string(),
        Some(CustomerId::Raw(r)) if r.starts_with("walk-in-") => "walk-in".into(),
        _ => "—".into(),
    }
}

impl ConversationView {
    pub async fn of(
        store: &Store,
        c: ListedConversation,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let last_message = match listed_sender(&c.conversation_key) {
            Some(digits) => store
                .last_message_of(&digits)
                .await?
                .and_then(|m| MessageView::of(m).text),
            None => None,
        };
        let last_inbound_at = c.last_inbound_at();
        let window_closes_at = last_inbound_at.map(|t| t + Duration::hours(24));
        Ok(Self {
            customer: masked_customer(&c.conversation_key),
            id: c.conversation_key,
            business_id: c.business_id,
            language: c.language,
            state: c
                .state
                .as_ref()
                .and_then(|s| s.0.get("state"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            human: c.human,
            last_inbound_at,
            window_open: window_closes_at.is_some_and(|t| t > now),
            window_closes_at,
            updated_at: c.updated_at,
            last_message,
        })
    }

    /// "open 3 h 20 min more", or "closed".
    pub fn window_label(&self, now: DateTime<Utc>) -> String {
        match self.window_closes_at {
            Some(t) if t > now => {
                let left = t - now;
                format!(
                    "open {} h {} min more",
                    left.num_hours(),
                    left.num_minutes() % 60
                )
            }
            _ => "closed".into(),
        }
    }
}

/// The transcript of a conversation: the customer's messages and what was sent, in time order.
pub async fn transcript(
    store: &Store,
    catalog: &Catalog,
    key: &str,
) -> Result<Vec<Line>, StoreError> {
    let mut lines: Vec<Line> = Vec::new();
    for e in store.conversation_events(key).await? {
        if !is_customer_message(&e) {
            continue;
        }
        let view = MessageView::from_payload(
            e.id,
            &e.payload,
            e.received_at,
            e.conversation_key,
            e.status.as_str().to_owned(),
        );
        let note = match (&view.text, view.kind.as_str()) {
            (Some(text), "text") => understood(store, catalog, e.id, text, e.received_at).await?,
            _ => None,
        };
        lines.push(Line {
            direction: "in",
            at: view.received_at,
            text: view.text.unwrap_or_else(|| format!("[{}]", view.kind)),
            status: view.status,
            error: None,
            note,
        });
    }
    let sent = store.recent_outbox(Some(key), 500).await?;
    lines.extend(sent.into_iter().filter_map(|o| {
        Some(Line {
            direction: "out",
            at: o.created_at,
            text: sent_text(&o)?,
            status: o.status.as_str().to_owned(),
            error: o.last_error,
            note: None,
        })
    }));
    lines.sort_by_key(|l| l.at);
    Ok(lines)
}

/// An appointment of the day view.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AppointmentView {
    pub id: i64,
    pub staff_id: String,
    pub staff: String,
    pub service_id: String,
    pub service: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Local wall-clock times in the salon's time zone, `HH:MM`.
    pub start: String,
    pub end: String,
    pub status: String,
    pub conversation_key: String,
    pub customer: String,
    pub customer_name: Option<String>,
    /// `none`, `requested`, `open`, `paid`, `refunded`, `disputed`, ...
    pub deposit: String,
    pub deposit_minor: i64,
    /// Whether the cancellation policy gives the deposit back were the salon to cancel now.
    pub refund_by_policy: bool,
    /// Why, in a few words (shown beside the cancel buttons of a paid deposit).
    pub policy: String,
}

/// A day in the salon's time zone as UTC instants `[start, end)`.
pub fn day_bounds(catalog: &Catalog, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = catalog.salon().time_zone;
    let local = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    };
    (local(day), local(day + Duration::days(1)))
}

/// Today in the salon's time zone.
pub fn today(catalog: &Catalog, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&catalog.salon().time_zone).date_naive()
}

/// What the cancellation policy says of cancelling `a` now, for the day view.
fn cancellation_policy(
    catalog: &Catalog,
    refund: bool,
    a: &crate::store::Appointment,
    now: DateTime<Utc>,
) -> String {
    let hours = catalog.salon().cancellation.free_until_hours;
    let inside = a.starts_at - now >= chrono::Duration::hours(i64::from(hours));
    match (inside, refund) {
        (true, _) => format!("policy: refund (more than {hours} h before)"),
        (false, true) => {
            format!("policy: refund (late, under {hours} h, but late deposits are refunded)")
        }
        (false, false) => format!("policy: keep (late, under {hours} h before)"),
    }
}

/// A service's name in the salon's language; its id when the catalog no longer has it.
pub fn service_name(catalog: &Catalog, id: &str) -> String {
    catalog
        .service(&ServiceId::new(id))
        .map(|s| s.name.get(catalog.salon().default_language).to_owned())
        .unwrap_or_else(|| id.to_owned())
}

/// A day's appointments with their deposits and customers.
pub async fn day(
    store: &Store,
    catalog: &Catalog,
    day: NaiveDate,
) -> Result<Vec<AppointmentView>, StoreError> {
    let (from, to) = day_bounds(catalog, day);
    let tz = catalog.salon().time_zone;
    let now = Utc::now();
    let mut views = Vec::new();
    let mut payments: std::collections::HashMap<i64, _> = store
        .payments_between(from, to)
        .await?
        .into_iter()
        .map(|p| (p.appointment_id, p))
        .collect();
    for a in store.appointments_between(from, to).await? {
        let deposit = match payments.remove(&a.id) {
            None => "none".to_owned(),
            Some(p) if p.disputed => "disputed".to_owned(),
            Some(p) if p.amount_refunded > 0 => "refunded".to_owned(),
            Some(p) => p.status.as_str().to_owned(),
        };
        let customer_name = match listed_sender(&a.conversation_key) {
            Some(d) => store
                .last_message_of(&d)
                .await?
                .and_then(|m| MessageView::of(m).name),
            None => None,
        };
        let staff = catalog
            .staff_member(&StaffId::new(a.staff_id.clone()))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| a.staff_id.clone());
        let service = service_name(catalog, &a.service_id);
        let refund_by_policy = crate::admin::ops::policy_refunds(catalog, &a, now);
        let policy = cancellation_policy(catalog, refund_by_policy, &a, now);
        views.push(AppointmentView {
            id: a.id,
            staff_id: a.staff_id,
            staff,
            service_id: a.service_id,
            service,
            start: a.starts_at.with_timezone(&tz).format("%H:%M").to_string(),
            end: a.ends_at.with_timezone(&tz).format("%H:%M").to_string(),
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            status: a.status.as_str().to_owned(),
            customer: masked_customer(&a.conversation_key),
            conversation_key: a.conversation_key,
            customer_name,
            deposit,
            deposit_minor: a.deposit_minor,
            refund_by_policy,
            policy,
        });
    }
    Ok(views)
}

/// A dead letter: an inbox event or an outbox message that gave up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeadLetter {
    /// `inbox-<id>` or `outbox-<id>`, the id the retry and discard routes take.
    pub id: String,
    /// `inbox` or `outbox`.
    pub queue: &'static str,
    pub provider: String,
    pub kind: String,
    pub conversation_key: String,
    pub attempts: i32,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

impl DeadLetter {
    pub fn inbox(e: InboxEvent) -> Self {
        Self {
            id: format!("inbox-{}", e.id),
            queue: "inbox",
            provider: e.provider.as_str().to_owned(),
            kind: e.kind.as_str().to_owned(),
            conversation_key: e.conversation_key,
            attempts: e.attempts,
            error: e.last_error,
            at: e.received_at,
        }
    }

    pub fn outbox(o: DeadOutbound) -> Self {
        Self {
            id: format!("outbox-{}", o.id),
            queue: "outbox",
            provider: o.provider,
            kind: o.kind,
            conversation_key: o.conversation_key,
            attempts: o.attempts,
            error: o.last_error,
            at: o.created_at,
        }
    }
}

/// Which queue a dead letter's id names, and its row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadId {
    Inbox(i64),
    Outbox(i64),
}

impl DeadId {
    pub fn parse(raw: &str) -> Option<Self> {
        if let Some(id) = raw.strip_prefix("inbox-") {
            return id.parse().ok().map(DeadId::Inbox);
        }
        raw.strip_prefix("outbox-")
            .and_then(|id| id.parse().ok())
            .map(DeadId::Outbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(payload: &Value) -> (Option<String>, String, Option<String>) {
        let (from, _, kind, text) = read_message(payload).unwrap_or_default();
        (from, kind, text)
    }

    #[test]
    fn a_message_is_read_whatever_its_channel() {
        let whatsapp: Value = serde_json::json!({
            "metadata": {"display_phone_number": "34910000000", "phone_number_id": "1065"},
            "contact": {"wa_id": "34600111222", "profile": {"name": "Ana"}},
            "message": {"from": "34600111222", "id": "wamid.1", "timestamp": "1764000000",
                        "type": "text", "text": {"body": "hola"}}
        });
        assert_eq!(
            read(&whatsapp),
            (
                Some("+34600111222".into()),
                "text".into(),
                Some("hola".into())
            )
        );
        let custom = serde_json::json!({
            "message_id": "m-1", "from": "+34600111223", "to": "+34910000000",
            "ts": "2026-11-23T09:00:00Z", "text": "quiero cita"
        });
        assert_eq!(
            read(&custom),
            (
                Some("+34600111223".into()),
                "text".into(),
                Some("quiero cita".into())
            )
        );
        // Chatwoot's channel mode: the customer's words come as an incoming Chatwoot message.
        let chatwoot: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/chatwoot/message_created.whatsapp_incoming.json"
        ))
        .unwrap_or_default();
        assert_eq!(
            read(&chatwoot),
            (
                Some("+34600111222".into()),
                "text".into(),
                Some("Quero marcar um corte sábado".into())
            )
        );
        // An agent's private note is not the customer's message.
        let mut note = chatwoot.clone();
        note["message_type"] = "outgoing".into();
        note["private"] = true.into();
        assert_eq!(read_message(&note), None);
    }
}
