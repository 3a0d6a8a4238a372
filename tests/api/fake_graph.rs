//! A local stand-in for Meta's Graph API `/messages` endpoint, speaking its wire format: it checks the
//! method, path, bearer token and request JSON as Meta would, records every request, and answers either
//! as Meta does on success or with scripted failures in Meta's error format.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const TOKEN: &str = "EAAG-test-access-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const VERSION: &str = "v21.0";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Whether the fake answered it with success.
    pub ok: bool,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub at: Instant,
}

/// What the fake answers to the next request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Meta's error format with this HTTP status and code.
    MetaError { status: u16, code: i64 },
    /// A status with no Meta body (a proxy's 502, say).
    Bare { status: u16 },
    /// 429 with `Retry-After`.
    RetryAfter { seconds: u64 },
    /// Answer successfully, but only after this delay.
    Slow(Duration),
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    script: VecDeque<Answer>,
    next_id: u64,
    /// Per mille of message requests that fail with a transient error, beyond the script.
    fail_per_mille: u64,
    /// Recipients whose messages always fail with this Meta code.
    failing_recipients: Vec<(String, u16, i64)>,
    /// The business account's message templates: (name, language, status).
    templates: Vec<(String, String, String)>,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGraph {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{version}/{id}/messages", post(messages))
            .route("/{version}/{id}", get(phone_number))
            .route("/{version}/{id}/message_templates", get(message_templates))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// The value of `WHATSAPP_API_BASE` pointing here.
    pub fn base(&self) -> String {
        format!("http://{}/{VERSION}", self.addr)
    }

    /// Queues answers for the next requests (then back to success).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Starts numbering message ids again, as a test double restarted between runs would: the next
    /// messages get ids that earlier ones already had.
    pub fn restart_ids(&self) {
        self.inner.lock().unwrap().next_id = 0;
    }

    /// The business account's templates, as WhatsApp Manager lists them: (name, language, status).
    pub fn set_templates(&self, templates: &[(&str, &str, &str)]) {
        self.inner.lock().unwrap().templates = templates
            .iter()
            .map(|(n, l, s)| ((*n).to_owned(), (*l).to_owned(), (*s).to_owned()))
            .collect();
    }

    /// Makes a share of requests fail with Meta's transient error 131000 (deterministically spread).
    pub fn fail_share(&self, per_mille: u64) {
        self.inner.lock().unwrap().fail_per_mille = per_mille;
    }

    /// Makes every message to `recipient` fail with this status and Meta code.
    pub fn fail_recipient(&self, recipient: &str, status: u16, code: i64) {
        self.inner
            .lock()
            .unwrap()
            .failing_recipients
            .push((recipient.to_owned(), status, code));
    }

    /// The successfully sent request bodies to one recipient (`to`), in order.
    pub fn delivered_to(&self, to: &str) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.ok && r.body["to"] == to)
            .map(|r| r.body.clone())
            .collect()
    }

    /// The successfully sent request bodies, in the order the fake accepted them.
    pub fn delivered(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.ok)
            .map(|r| r.body)
            .collect()
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

/// `GET /{version}/{phone_number_id}?fields=...`: the business number's record.
async fn phone_number(
    Path((_version, id)): Path<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return meta_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    if id != PHONE_NUMBER_ID {
        return meta_error(400, 100, "Unsupported get request. Object does not exist");
    }
    let fields = query.get("fields").cloned().unwrap_or_default();
    let mut answer = json!({"id": id});
    for (field, value) in [
        ("display_phone_number", "+1 555-078-3881"),
        ("verified_name", "Peluquería Malasaña"),
        ("quality_rating", "GREEN"),
        ("messaging_limit_tier", "TIER_1K"),
    ] {
        if fields.split(',').any(|f| f == field) {
            answer[field] = value.into();
        }
    }
    Json(answer).into_response()
}

/// `GET /{version}/{waba_id}/message_templates?name=...`: Meta filters by name prefix.
async fn message_templates(
    State(inner): State<Arc<Mutex<Inner>>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return meta_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    let prefix = query.get("name").cloned().unwrap_or_default();
    let data: Vec<Value> = inner
        .lock()
        .unwrap()
        .templates
        .iter()
        .filter(|(name, _, _)| name.starts_with(&prefix))
        .map(|(name, language, status)| {
            json!({"name": name, "language": language, "status": status, "id": "1234"})
        })
        .collect();
    Json(json!({"data": data, "paging": {"cursors": {"before": "a", "after": "b"}}}))
        .into_response()
}

fn meta_error(status: u16, code: i64, message: &str) -> Response {
    let body = json!({"error": {
        "message": format!("(#{code}) {message}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "AbCdEfGhIjKlMnOp"
    }});
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let recipient = parsed["to"]
        .as_str()
        .or_else(|| parsed["recipient"].as_str())
        .unwrap_or_default()
        .to_owned();
    let (next, index) = {
        let mut inner = inner.lock().unwrap();
        let n = inner.requests.len() as u64;
        inner.requests.push(Recorded {
            ok: false,
            path: format!("/{version}/{phone_number_id}/messages"),
            authorization: authorization.clone(),
            body: parsed.clone(),
            at: Instant::now(),
        });
        let scripted = inner.script.pop_front();
        let for_recipient = inner
            .failing_recipients
            .iter()
            .find(|(r, _, _)| *r == recipient)
            .map(|(_, status, code)| Answer::MetaError {
                status: *status,
                code: *code,
            });
        // A fixed scramble of the request number, so the failures are spread but reproducible.
        let random = (n.wrapping_mul(2_654_435_761) >> 7) % 1000 < inner.fail_per_mille;
        let next = scripted.or(for_recipient).or_else(|| {
            random.then_some(Answer::MetaError {
                status: 500,
                code: 131000,
            })
        });
        (next, inner.requests.len() - 1)
    };
    let response = answer(&inner, next, &authorization, &headers, &parsed, &recipient).await;
    if response.status().is_success() {
        inner.lock().unwrap().requests[index].ok = true;
    }
    response
}

async fn answer(
    inner: &Arc<Mutex<Inner>>,
    next: Option<Answer>,
    authorization: &Option<String>,
    headers: &HeaderMap,
    parsed: &Value,
    to: &str,
) -> Response {
    // What Meta itself checks first.
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return meta_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return meta_error(400, 100, "Invalid parameter: content type");
    }
    if parsed["messaging_product"] != "whatsapp" {
        return meta_error(400, 100, "The parameter messaging_product is required.");
    }

    match next {
        Some(Answer::MetaError { status, code }) => {
            return meta_error(status, code, "scripted failure");
        }
        Some(Answer::Bare { status }) => {
            return StatusCode::from_u16(status).unwrap().into_response();
        }
        Some(Answer::RetryAfter { seconds }) => {
            let mut response = meta_error(429, 130429, "Rate limit hit");
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
            return response;
        }
        Some(Answer::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }

    if parsed["status"] == "read" {
        return if parsed["message_id"].is_string() {
            Json(json!({"success": true})).into_response()
        } else {
            meta_error(400, 100, "The parameter message_id is required.")
        };
    }
    let kind = parsed["type"].as_str().unwrap_or_default();
    if kind.is_empty() || parsed.get(kind).is_none() {
        return meta_error(400, 100, "The message type and its object are required.");
    }
    if to.is_empty() {
        return meta_error(400, 100, "The parameter to is required.");
    }
    if let Err(problem) = check_shape(kind, &parsed[kind]) {
        return meta_error(400, 100, &format!("Invalid parameter: {problem}"));
    }
    let id = {
        let mut inner = inner.lock().unwrap();
        inner.next_id += 1;
        inner.next_id
    };
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
        "messages": [{"id": format!("wamid.fake.{id}"), "message_status": "accepted"}]
    }))
    .into_response()
}

/// The shape Meta documents for each message kind (required fields and their types), so that a builder
/// that drifts from it is refused here as Meta would refuse it.
fn check_shape(kind: &str, object: &Value) -> Result<(), String> {
    let text = |v: &Value, what: &str| -> Result<(), String> {
        match v.as_str() {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(format!("{what} must be a non-empty string")),
        }
    };
    match kind {
        "text" => {
            text(&object["body"], "text.body")?;
            if !object["preview_url"].is_boolean() && !object["preview_url"].is_null() {
                return Err("text.preview_url must be a boolean".into());
            }
            Ok(())
        }
        "template" => {
            text(&object["name"], "template.name")?;
            text(&object["language"]["code"], "template.language.code")?;
            if let Some(components) = object.get("components") {
                for c in components
                    .as_array()
                    .ok_or("template.components must be a list")?
                {
                    text(&c["type"], "template.components[].type")?;
                    if c["type"] == "button" {
                        text(&c["sub_type"], "button sub_type")?;
                        text(&c["index"], "button index (a string)")?;
                    }
                }
            }
            Ok(())
        }
        "interactive" => {
            text(&object["body"]["text"], "interactive.body.text")?;
            let action = &object["action"];
            match object["type"].as_str() {
                Some("button") => {
                    let buttons = action["buttons"]
                        .as_array()
                        .ok_or("action.buttons required")?;
                    if buttons.is_empty() || buttons.len() > 3 {
                        return Err("1 to 3 buttons".into());
                    }
                    for b in buttons {
                        if b["type"] != "reply" {
                            return Err("button type must be reply".into());
                        }
                        text(&b["reply"]["id"], "button reply.id")?;
                        text(&b["reply"]["title"], "button reply.title")?;
                    }
                    Ok(())
                }
                Some("list") => {
                    text(&action["button"], "action.button")?;
                    let sections = action["sections"]
                        .as_array()
                        .ok_or("action.sections required")?;
                    let rows: usize = sections
                        .iter()
                        .map(|s| s["rows"].as_array().map_or(0, Vec::len))
                        .sum();
                    if sections.is_empty() || rows == 0 || rows > 10 {
                        return Err("1 to 10 rows in total".into());
                    }
                    for row in sections
                        .iter()
                        .flat_map(|s| s["rows"].as_array().into_iter().flatten())
                    {
                        text(&row["id"], "row id")?;
                        text(&row["title"], "row title")?;
                    }
                    Ok(())
                }
                Some("cta_url") => {
                    if action["name"] != "cta_url" {
                        return Err("action.name must be cta_url".into());
                    }
                    text(&action["parameters"]["display_text"], "display_text")?;
                    text(&action["parameters"]["url"], "url")
                }
                _ => Err("interactive.type must be button, list or cta_url".into()),
            }
        }
        "image" | "document" | "audio" | "video" | "sticker" => {
            if object["link"].is_string() == object["id"].is_string() {
                return Err(format!("{kind} needs exactly one of link and id"));
            }
            Ok(())
        }
        "location" => {
            let coordinate =
                |v: &Value| v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok());
            if coordinate(&object["latitude"]) && coordinate(&object["longitude"]) {
                Ok(())
            } else {
                Err("location needs latitude and longitude".into())
            }
        }
        other => Err(format!("unknown message type {other}")),
    }
}
