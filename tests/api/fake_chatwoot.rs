//! A local stand-in for Chatwoot's application API (4.13), speaking its wire format: it checks what
//! Chatwoot checks (the `api_access_token` header, user tokens only for contacts, labels and inboxes
//! as `BOT_ACCESSIBLE_ENDPOINTS` has it, the E.164 phone of a contact and its uniqueness with 422,
//! `incoming` messages only in API inboxes), keeps contacts, conversations, labels and messages, and
//! echoes every created message back as a signed `message_created` webhook the way Chatwoot's
//! listeners do (`Message#webhook_data`, sender `type: user` for a user token). Tests make agents
//! act through it ([`FakeChatwoot::agent_says`], [`FakeChatwoot::resolve`], [`FakeChatwoot::note`]),
//! can take it down ([`FakeChatwoot::set_down`]), and can make a created message look failed to the
//! bot ([`FakeChatwoot::fail_after_storing`]), as a crash between Chatwoot's answer and the bot's
//! record of it would.

#![allow(dead_code)] // Parts used by some scenarios only.
#![allow(clippy::result_large_err)] // Handlers answer early with the refusal itself.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};

pub const USER_TOKEN: &str = "cw_user_token_test";
pub const BOT_TOKEN: &str = "cw_bot_token_test";
pub const ACCOUNT: &str = "1";
/// The API-channel inbox mirror mode writes to.
pub const INBOX: i64 = 3;
/// A label the staff put on every new conversation (a hand-off must keep it).
pub const STAFF_LABEL: &str = "vip";
/// The labels the account has (Chatwoot drops any other label posted).
pub const ACCOUNT_LABELS: [&str; 2] = [STAFF_LABEL, "bot-handoff"];

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub token: Option<String>,
    pub body: Value,
    pub status: u16,
}

/// A message as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub conversation: i64,
    pub content: String,
    /// `incoming` or `outgoing`.
    pub message_type: String,
    pub private: bool,
    pub source_id: Option<String>,
    /// `user`, `agent_bot` or `contact`.
    pub sender: String,
    pub content_type: Option<String>,
    /// As posted (`{}` without any: the `store` of `Message#content_attributes`).
    pub content_attributes: Value,
    /// Unix seconds.
    pub created_at: i64,
}

impl Message {
    /// The `(title, value)` items of an `input_select`.
    pub fn items(&self) -> Vec<(String, String)> {
        self.content_attributes["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        (
                            i["title"].as_str().unwrap_or_default().to_owned(),
                            i["value"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A contact as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: i64,
    /// E.164 with `+`.
    pub phone: String,
    /// The name it was created with.
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: i64,
    pub contact: i64,
    pub status: String,
    pub labels: Vec<String>,
    /// `Channel::Api` (the bot's mirror) or `Channel::Whatsapp` (Chatwoot owns the number).
    pub channel: String,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    contacts: Vec<Contact>,
    conversations: Vec<Conversation>,
    messages: Vec<Message>,
    next: i64,
    down: bool,
    /// Messages still to be created and then answered 500, as if the answer had been lost.
    fail_after_storing: usize,
    /// Where to deliver webhooks, and the secret to sign them with.
    webhook: Option<(String, String)>,
    /// Webhooks on their way.
    delivering: usize,
}

#[derive(Clone)]
pub struct FakeChatwoot {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

type Shared = Arc<Mutex<Inner>>;

impl FakeChatwoot {
    pub async fn start() -> Self {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            next: 100,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/api/v1/accounts/{a}/contacts/search", get(search_contacts))
            .route("/api/v1/accounts/{a}/contacts", post(create_contact))
            .route(
                "/api/v1/accounts/{a}/conversations",
                post(create_conversation),
            )
            .route(
                "/api/v1/accounts/{a}/conversations/{c}/messages",
                get(list_messages).post(create_message),
            )
            .route(
                "/api/v1/accounts/{a}/conversations/{c}/toggle_status",
                post(toggle_status),
            )
            .route(
                "/api/v1/accounts/{a}/conversations/{c}/labels",
                get(get_labels).post(set_labels),
            )
            .route("/api/v1/accounts/{a}/inboxes/{i}", get(get_inbox))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// The value of `CHATWOOT_BASE_URL` pointing here.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Delivers webhooks to `url`, signed with `secret`, as Chatwoot's listeners do.
    pub fn deliver_to(&self, url: String, secret: &str) {
        self.inner.lock().unwrap().webhook = Some((url, secret.to_owned()));
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// Webhooks on their way to the app.
    pub fn delivering(&self) -> usize {
        self.inner.lock().unwrap().delivering
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn conversations(&self) -> Vec<Conversation> {
        self.inner.lock().unwrap().conversations.clone()
    }

    pub fn contacts(&self) -> usize {
        self.inner.lock().unwrap().contacts.len()
    }

    /// The contact with this phone.
    pub fn contact(&self, phone: &str) -> Option<Contact> {
        self.inner
            .lock()
            .unwrap()
            .contacts
            .iter()
            .find(|c| c.phone == phone)
            .cloned()
    }

    /// The next `n` messages posted are created (and echoed) but answered 500, the way a crash or a
    /// lost answer looks to the caller after Chatwoot committed the message.
    pub fn fail_after_storing(&self, n: usize) {
        self.inner.lock().unwrap().fail_after_storing = n;
    }

    /// The messages of a conversation, in order.
    pub fn messages(&self, conversation: i64) -> Vec<Message> {
        self.inner
            .lock()
            .unwrap()
            .messages
            .iter()
            .filter(|m| m.conversation == conversation)
            .cloned()
            .collect()
    }

    /// An agent writes in the conversation (a reply, or a private note).
    pub async fn agent_writes(&self, conversation: i64, content: &str, private: bool) {
        let (message, webhook) = {
            let mut inner = self.inner.lock().unwrap();
            let message = Message {
                id: next_id(&mut inner),
                conversation,
                content: content.to_owned(),
                message_type: "outgoing".into(),
                private,
                source_id: None,
                sender: "user".into(),
                content_type: None,
                content_attributes: json!({}),
                created_at: Utc::now().timestamp(),
            };
            inner.messages.push(message.clone());
            (message, inner.webhook.clone())
        };
        let event = self.message_event(&message);
        deliver(webhook, event).await;
    }

    pub async fn agent_says(&self, conversation: i64, content: &str) {
        self.agent_writes(conversation, content, false).await;
    }

    pub async fn note(&self, conversation: i64, content: &str) {
        self.agent_writes(conversation, content, true).await;
    }

    /// Channel mode: the customer writes on WhatsApp to the inbox Chatwoot owns. The first message
    /// opens a conversation in `pending` (the inbox has an active agent bot); returns its id.
    pub async fn customer_says(&self, phone: &str, content: &str) -> i64 {
        let (event, webhook, conversation) = {
            let mut inner = self.inner.lock().unwrap();
            let contact = match inner.contacts.iter().find(|c| c.phone == phone) {
                Some(c) => c.id,
                None => {
                    let id = next_id(&mut inner);
                    inner.contacts.push(Contact {
                        id,
                        phone: phone.to_owned(),
                        name: phone.to_owned(),
                    });
                    id
                }
            };
            let open = inner
                .conversations
                .iter()
                .find(|c| c.contact == contact && c.status != "resolved")
                .map(|c| c.id);
            let conversation = match open {
                Some(id) => id,
                None => {
                    let id = next_id(&mut inner);
                    inner.conversations.push(Conversation {
                        id,
                        contact,
                        status: "pending".into(),
                        labels: Vec::new(),
                        channel: "Channel::Whatsapp".into(),
                    });
                    id
                }
            };
            let message = Message {
                id: next_id(&mut inner),
                conversation,
                content: content.to_owned(),
                message_type: "incoming".into(),
                private: false,
                source_id: Some(format!("wamid.fake{}", inner.next)),
                sender: "contact".into(),
                content_type: Some("text".into()),
                content_attributes: json!({}),
                created_at: Utc::now().timestamp(),
            };
            inner.messages.push(message.clone());
            (
                message_event(&inner, &message),
                inner.webhook.clone(),
                conversation,
            )
        };
        deliver(webhook, event).await;
        conversation
    }

    /// An agent resolves the conversation: `conversation_status_changed` (and `conversation_updated`,
    /// as Chatwoot sends both).
    pub async fn resolve(&self, conversation: i64) {
        let (webhook, body) = {
            let mut inner = self.inner.lock().unwrap();
            let c = inner
                .conversations
                .iter_mut()
                .find(|c| c.id == conversation)
                .expect("a conversation of the fake");
            c.status = "resolved".into();
            let c = c.clone();
            let contact = contact_of(&inner, c.contact);
            (inner.webhook.clone(), conversation_json(&c, &contact))
        };
        let stamp = Utc::now().timestamp_millis() as f64 / 1000.0;
        for event in ["conversation_status_changed", "conversation_updated"] {
            let mut body = body.clone();
            body["event"] = json!(event);
            body["updated_at"] = json!(stamp);
            body["changed_attributes"] =
                json!([{"status": {"previous_value": "open", "current_value": "resolved"}}]);
            deliver(webhook.clone(), body).await;
        }
    }

    fn message_event(&self, message: &Message) -> Value {
        let inner = self.inner.lock().unwrap();
        message_event(&inner, message)
    }
}

fn next_id(inner: &mut Inner) -> i64 {
    inner.next += 1;
    inner.next
}

fn contact_of(inner: &Inner, contact: i64) -> Contact {
    inner
        .contacts
        .iter()
        .find(|c| c.id == contact)
        .cloned()
        .unwrap_or(Contact {
            id: contact,
            phone: String::new(),
            name: String::new(),
        })
}

/// `Conversations::EventDataPresenter#webhook_data`, with the fields the bot reads.
fn conversation_json(c: &Conversation, contact: &Contact) -> Value {
    let phone = contact.phone.as_str();
    let source_id = if c.channel == "Channel::Whatsapp" {
        phone.trim_start_matches('+').to_owned()
    } else {
        format!("src-{}", c.contact)
    };
    json!({
        "id": c.id, "inbox_id": INBOX, "status": c.status, "channel": c.channel,
        "labels": c.labels, "can_reply": true,
        "contact_inbox": {"contact_id": c.contact, "inbox_id": INBOX, "source_id": source_id},
        "meta": {"sender": {"id": c.contact, "name": contact.name, "phone_number": phone, "type": "contact"},
                 "assignee": null},
        "messages": [],
        "timestamp": Utc::now().timestamp(),
        "updated_at": Utc::now().timestamp_millis() as f64 / 1000.0,
    })
}

/// `Message#webhook_data` merged with the event.
fn message_event(inner: &Inner, m: &Message) -> Value {
    let c = inner
        .conversations
        .iter()
        .find(|c| c.id == m.conversation)
        .cloned()
        .expect("a conversation of the fake");
    let contact = contact_of(inner, c.contact);
    let sender = match m.sender.as_str() {
        "user" => {
            json!({"id": 1, "name": "Lucía (staff)", "email": "staff@example.com", "type": "user"})
        }
        "agent_bot" => json!({"id": 2, "name": "salonbot", "type": "agent_bot"}),
        // Contact#webhook_data: no type.
        _ => json!({"id": c.contact, "name": contact.name, "phone_number": contact.phone}),
    };
    let mut conversation = conversation_json(&c, &contact);
    conversation["messages"] = json!([{"id": m.id, "content": m.content, "conversation_id": c.id,
        "message_type": if m.message_type == "incoming" { 0 } else { 1 }, "private": m.private,
        "source_id": m.source_id}]);
    json!({
        "event": "message_created", "id": m.id, "content": m.content,
        "content_type": m.content_type.as_deref().unwrap_or("text"),
        "content_attributes": m.content_attributes, "additional_attributes": {},
        "message_type": m.message_type,
        "private": m.private, "source_id": m.source_id, "sender": sender,
        "account": {"id": 1, "name": "Peluquería"}, "inbox": {"id": INBOX, "name": "salonbot"},
        "conversation": conversation, "created_at": Utc::now().to_rfc3339(),
    })
}

/// Posts a webhook signed as `lib/webhooks/trigger.rb` signs it.
async fn deliver(webhook: Option<(String, String)>, event: Value) {
    use hmac::{Hmac, Mac};
    let Some((url, secret)) = webhook else {
        return;
    };
    let body = event.to_string();
    let ts = Utc::now().timestamp().to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-chatwoot-delivery", uuid::Uuid::new_v4().to_string())
        .header("x-chatwoot-timestamp", ts)
        .header("x-chatwoot-signature", signature)
        .body(body)
        .send()
        .await
        .expect("the app takes Chatwoot's webhook");
    assert_eq!(response.status(), 200, "the app refused a webhook");
}

/// Checks the token and records the request; `Err` is the answer to give instead.
fn admit(
    inner: &mut Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Value,
    users_only: bool,
) -> Result<(), Response> {
    let token = headers
        .get("api_access_token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let refused = if inner.down {
        Some((StatusCode::SERVICE_UNAVAILABLE, json!({"error": "down"})))
    } else {
        match token.as_deref() {
            Some(USER_TOKEN) => None,
            Some(BOT_TOKEN) if !users_only => None,
            Some(BOT_TOKEN) => Some((
                StatusCode::UNAUTHORIZED,
                json!({"error": "Access to this endpoint is not authorized for bots"}),
            )),
            _ => Some((
                StatusCode::UNAUTHORIZED,
                json!({"error": "Invalid Access Token"}),
            )),
        }
    };
    let status = refused.as_ref().map_or(200, |(s, _)| s.as_u16());
    inner.requests.push(Recorded {
        method: method.to_string(),
        path: uri.to_string(),
        token,
        body: body.clone(),
        status,
    });
    match refused {
        Some((status, body)) => Err((status, axum::Json(body)).into_response()),
        None => Ok(()),
    }
}

fn account_ok(a: &str) -> Result<(), Response> {
    if a == ACCOUNT {
        Ok(())
    } else {
        Err((
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not found"})),
        )
            .into_response())
    }
}

async fn search_contacts(
    State(inner): State<Shared>,
    Path(a): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &Value::Null, true) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let q = query
        .unwrap_or_default()
        .strip_prefix("q=")
        .unwrap_or_default()
        .replace("%2B", "+");
    let found: Vec<Value> = inner
        .contacts
        .iter()
        .filter(|c| !q.is_empty() && (c.phone.contains(&q) || c.name.contains(&q)))
        .map(|c| json!({"id": c.id, "name": c.name, "phone_number": c.phone}))
        .collect();
    axum::Json(json!({"meta": {"count": found.len()}, "payload": found})).into_response()
}

async fn create_contact(
    State(inner): State<Shared>,
    Path(a): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &body, true) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let phone = body["phone_number"].as_str().unwrap_or_default().to_owned();
    let e164 = phone.len() > 2
        && phone.starts_with('+')
        && phone[1..].bytes().all(|b| b.is_ascii_digit())
        && !phone[1..].starts_with('0');
    if !e164 || body["inbox_id"] != json!(INBOX) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Phone number should be in e164 format"})),
        )
            .into_response();
    }
    if inner.contacts.iter().any(|c| c.phone == phone) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "Phone number has already been taken"})),
        )
            .into_response();
    }
    // The name as posted (the column's default, "", without one).
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let id = next_id(&mut inner);
    inner.contacts.push(Contact {
        id,
        phone: phone.clone(),
        name: name.clone(),
    });
    axum::Json(json!({"payload": {
        "contact": {"id": id, "name": name, "phone_number": phone},
        "contact_inbox": {"inbox": {"id": INBOX}, "source_id": format!("src-{id}")}
    }}))
    .into_response()
}

async fn create_conversation(
    State(inner): State<Shared>,
    Path(a): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &body, false) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let contact = body["contact_id"].as_i64().unwrap_or_default();
    if body["inbox_id"] != json!(INBOX) || !inner.contacts.iter().any(|c| c.id == contact) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"message": "inbox or contact unknown"})),
        )
            .into_response();
    }
    let id = next_id(&mut inner);
    inner.conversations.push(Conversation {
        id,
        contact,
        status: body["status"].as_str().unwrap_or("open").to_owned(),
        labels: vec![STAFF_LABEL.to_owned()],
        channel: "Channel::Api".into(),
    });
    axum::Json(json!({"id": id, "inbox_id": INBOX, "status": "open"})).into_response()
}

/// `MessageFinder`: the latest 20 messages, or the 20 before `?before=<id>`, oldest first, each as
/// `api/v1/models/_message.json.jbuilder` renders it.
async fn list_messages(
    State(inner): State<Shared>,
    Path((a, c)): Path<(String, i64)>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &Value::Null, false) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let before = query
        .unwrap_or_default()
        .strip_prefix("before=")
        .and_then(|b| b.parse::<i64>().ok());
    let mut payload: Vec<Value> = inner
        .messages
        .iter()
        .rev()
        .filter(|m| m.conversation == c && before.is_none_or(|b| m.id < b))
        .take(20)
        .map(|m| {
            json!({"id": m.id, "content": m.content, "conversation_id": c,
                "message_type": if m.message_type == "incoming" { 0 } else { 1 },
                "content_type": m.content_type.as_deref().unwrap_or("text"),
                "content_attributes": m.content_attributes, "private": m.private,
                "source_id": m.source_id, "created_at": m.created_at})
        })
        .collect();
    payload.reverse();
    axum::Json(json!({"meta": {}, "payload": payload})).into_response()
}

async fn create_message(
    State(shared): State<Shared>,
    Path((a, c)): Path<(String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let (message, webhook, event, lost) = {
        let mut inner = shared.lock().unwrap();
        if let Err(r) = admit(&mut inner, &method, &uri, &headers, &body, false) {
            return r;
        }
        if let Err(r) = account_ok(&a) {
            return r;
        }
        if !inner.conversations.iter().any(|x| x.id == c) {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "not found"})),
            )
                .into_response();
        }
        let message_type = body["message_type"]
            .as_str()
            .unwrap_or("outgoing")
            .to_owned();
        if !["incoming", "outgoing"].contains(&message_type.as_str()) {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"message": "message_type invalid"})),
            )
                .into_response();
        }
        let bot = headers
            .get("api_access_token")
            .and_then(|v| v.to_str().ok())
            == Some(BOT_TOKEN);
        let sender = match (message_type.as_str(), bot) {
            ("incoming", _) => "contact",
            (_, true) => "agent_bot",
            _ => "user",
        };
        let message = Message {
            id: next_id(&mut inner),
            conversation: c,
            content: body["content"].as_str().unwrap_or_default().to_owned(),
            message_type,
            private: body["private"].as_bool().unwrap_or(false),
            source_id: body["source_id"].as_str().map(str::to_owned),
            sender: sender.into(),
            content_type: body["content_type"].as_str().map(str::to_owned),
            content_attributes: match &body["content_attributes"] {
                Value::Object(attributes) => Value::Object(attributes.clone()),
                _ => json!({}),
            },
            created_at: Utc::now().timestamp(),
        };
        inner.messages.push(message.clone());
        let event = message_event(&inner, &message);
        inner.delivering += 1;
        let lost = inner.fail_after_storing > 0;
        if lost {
            inner.fail_after_storing -= 1;
            if let Some(last) = inner.requests.last_mut() {
                last.status = 500;
            }
        }
        (message, inner.webhook.clone(), event, lost)
    };
    // Every message created through the API comes back as a webhook, the bot's own too.
    tokio::spawn(async move {
        deliver(webhook, event).await;
        shared.lock().unwrap().delivering -= 1;
    });
    if lost {
        // Created and committed, but the caller never hears so.
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "Internal Server Error"})),
        )
            .into_response();
    }
    axum::Json(json!({"id": message.id, "content": message.content,
        "message_type": if message.message_type == "incoming" { 0 } else { 1 },
        "private": message.private, "source_id": message.source_id, "conversation_id": c}))
    .into_response()
}

async fn toggle_status(
    State(inner): State<Shared>,
    Path((a, c)): Path<(String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &body, false) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let status = body["status"].as_str().unwrap_or("open").to_owned();
    let Some(conversation) = inner.conversations.iter_mut().find(|x| x.id == c) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "not found"})),
        )
            .into_response();
    };
    conversation.status = status.clone();
    axum::Json(
        json!({"payload": {"success": true, "conversation_id": c, "current_status": status}}),
    )
    .into_response()
}

async fn get_labels(
    State(inner): State<Shared>,
    Path((a, c)): Path<(String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &Value::Null, true) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let labels = inner
        .conversations
        .iter()
        .find(|x| x.id == c)
        .map(|x| x.labels.clone())
        .unwrap_or_default();
    axum::Json(json!({"payload": labels})).into_response()
}

async fn set_labels(
    State(inner): State<Shared>,
    Path((a, c)): Path<(String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &body, true) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    let labels: Vec<String> = body["labels"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // Replaces the whole list with the posted labels that exist in the account, as
    // `LabelConcern#create` does.
    let labels: Vec<String> = labels
        .into_iter()
        .filter(|l| ACCOUNT_LABELS.contains(&l.as_str()))
        .collect();
    if let Some(conversation) = inner.conversations.iter_mut().find(|x| x.id == c) {
        conversation.labels = labels.clone();
    }
    axum::Json(json!({"payload": labels})).into_response()
}

async fn get_inbox(
    State(inner): State<Shared>,
    Path((a, i)): Path<(String, i64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(r) = admit(&mut inner, &method, &uri, &headers, &Value::Null, true) {
        return r;
    }
    if let Err(r) = account_ok(&a) {
        return r;
    }
    if i != INBOX {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "Resource could not be found"})),
        )
            .into_response();
    }
    axum::Json(json!({"id": INBOX, "name": "salonbot", "channel_type": "Channel::Api"}))
        .into_response()
}
