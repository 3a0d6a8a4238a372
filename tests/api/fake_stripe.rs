//! A local stand-in for Stripe's API, speaking its wire format: it checks what Stripe checks (the
//! bearer key, a form body, the pinned `Stripe-Version`, an `Idempotency-Key` on every POST, the
//! parameters of a Checkout Session), keeps sessions and refunds, replays the first answer to a
//! repeated idempotency key as Stripe does (and refuses the key with other parameters), and answers
//! scripted failures in Stripe's error format.

#![allow(dead_code)] // Parts used by the deposit scenarios only.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const KEY: &str = "sk_test_fake_key";
/// The API version the bot pins, written out here (not taken from the code) so that a change of
/// it shows.
pub const VERSION: &str = "2026-07-29.dahlia";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub version: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
    /// The HTTP status the fake answered.
    pub status: u16,
}

impl Recorded {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake answers to the next request, before doing anything.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Stripe's error body with this status, type and `Stripe-Should-Retry` header.
    Error {
        status: u16,
        kind: &'static str,
        should_retry: Option<bool>,
    },
}

impl Answer {
    pub fn server_error() -> Self {
        Answer::Error {
            status: 500,
            kind: "api_error",
            should_retry: None,
        }
    }
}

/// The parameters, status and answer of a key's first request.
type Replay = (Vec<(String, String)>, u16, Value);

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    script: VecDeque<Answer>,
    sessions: HashMap<String, Value>,
    refunds: Vec<Value>,
    /// Idempotency key → (parameters, status, answer) of its first request.
    replays: HashMap<String, Replay>,
    /// The status refunds are created with.
    refund_status: Option<String>,
    next: u64,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/balance", get(balance))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// The value of `STRIPE_API_BASE` pointing here.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues answers for the next requests (then back to normal).
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The sessions created, in no particular order.
    pub fn sessions(&self) -> Vec<Value> {
        self.inner
            .lock()
            .unwrap()
            .sessions
            .values()
            .cloned()
            .collect()
    }

    pub fn session(&self, id: &str) -> Option<Value> {
        self.inner.lock().unwrap().sessions.get(id).cloned()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.inner.lock().unwrap().refunds.clone()
    }

    /// Creates refunds with this status from now on (`succeeded` by default).
    pub fn refund_with(&self, status: &str) {
        self.inner.lock().unwrap().refund_status = Some(status.to_owned());
    }

    /// The customer pays session `id` on Checkout: complete, paid, with a PaymentIntent (returned).
    pub fn pay(&self, id: &str) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let intent = format!("pi_fake{}", inner.next);
        let session = inner.sessions.get_mut(id).expect("a session of the fake");
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        session["payment_intent"] = json!(intent);
        session["url"] = Value::Null;
        intent
    }

    /// Stripe expires session `id` on its own (its time ran out).
    pub fn expire(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap();
        let session = inner.sessions.get_mut(id).expect("a session of the fake");
        session["status"] = json!("expired");
        session["url"] = Value::Null;
    }
}

fn error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Response {
    let body = json!({"error": {
        "type": kind, "code": code, "param": param, "message": message,
        "doc_url": "https://stripe.com/docs/error-codes",
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_fake"
    }});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Records the request and runs Stripe's own checks and the script; `Err` is the answer to give
/// instead of the endpoint's.
#[allow(clippy::result_large_err)] // A test server: the answer is returned as it is.
fn admit(
    inner: &Arc<Mutex<Inner>>,
    method: Method,
    path: String,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Vec<(String, String)>, usize), Response> {
    let form: Vec<(String, String)> = if body.is_empty() {
        Vec::new()
    } else {
        decode_form(body)
    };
    let recorded = Recorded {
        method: method.to_string(),
        path,
        authorization: header(headers, "authorization"),
        version: header(headers, "stripe-version"),
        idempotency_key: header(headers, "idempotency-key"),
        content_type: header(headers, "content-type"),
        form: form.clone(),
        status: 0,
    };
    let mut guard = inner.lock().unwrap();
    guard.requests.push(recorded.clone());
    let index = guard.requests.len() - 1;
    let refuse = |status, kind, message: &str| Err(error(status, kind, None, None, message));
    if recorded.authorization.as_deref() != Some(&format!("Bearer {KEY}")) {
        return refuse(401, "invalid_request_error", "Invalid API Key provided");
    }
    if recorded.version.as_deref() != Some(VERSION) {
        return refuse(400, "invalid_request_error", "Invalid Stripe API version");
    }
    if method == Method::POST {
        if recorded.content_type.as_deref() != Some("application/x-www-form-urlencoded") {
            return refuse(400, "invalid_request_error", "Expected a form body");
        }
        if recorded.idempotency_key.is_none() {
            return refuse(
                400,
                "invalid_request_error",
                "This test requires an Idempotency-Key on every POST",
            );
        }
    }
    if let Some(Answer::Error {
        status,
        kind,
        should_retry,
    }) = guard.script.pop_front()
    {
        let mut response = error(status, kind, None, None, "scripted failure");
        if let Some(advice) = should_retry {
            response
                .headers_mut()
                .insert("stripe-should-retry", advice.to_string().parse().unwrap());
        }
        return Err(response);
    }
    if let Some(key) = &recorded.idempotency_key
        && let Some((params, status, answer)) = guard.replays.get(key)
    {
        if *params != form {
            return Err(error(
                400,
                "idempotency_error",
                None,
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ));
        }
        let mut response = (
            StatusCode::from_u16(*status).unwrap(),
            axum::Json(answer.clone()),
        )
            .into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
        return Err(response);
    }
    Ok((form, index))
}

/// Finishes a request: its status recorded, its answer kept for replays of its key.
fn answer(inner: &Arc<Mutex<Inner>>, index: usize, status: u16, body: Value) -> Response {
    let mut guard = inner.lock().unwrap();
    guard.requests[index].status = status;
    let recorded = guard.requests[index].clone();
    if let Some(key) = recorded.idempotency_key {
        guard
            .replays
            .insert(key, (recorded.form, status, body.clone()));
    }
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// `application/x-www-form-urlencoded`, decoded here rather than by the code under test's rules.
fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let decode = |part: &str| {
        let bytes = part.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn metadata(form: &[(String, String)], prefix: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in form {
        if let Some(name) = key.strip_prefix(prefix).and_then(|k| k.strip_suffix(']')) {
            map.insert(name.to_owned(), json!(value));
        }
    }
    Value::Object(map)
}

async fn create_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (form, index) = match admit(
        &inner,
        Method::POST,
        "/v1/checkout/sessions".into(),
        &headers,
        &body,
    ) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let missing = |param: &str| {
        error(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            Some(param),
            &format!("Missing required param: {param}."),
        )
    };
    for required in [
        "mode",
        "line_items[0][price_data][currency]",
        "line_items[0][price_data][unit_amount]",
        "line_items[0][price_data][product_data][name]",
        "line_items[0][quantity]",
        "success_url",
        "cancel_url",
    ] {
        if field(&form, required).is_none() {
            return missing(required);
        }
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at: i64 = field(&form, "expires_at")
        .and_then(|v| v.parse().ok())
        .unwrap_or(now + 86_400);
    if expires_at < now + 1800 || expires_at > now + 86_400 {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            Some("expires_at"),
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
        );
    }
    let Some(amount) =
        field(&form, "line_items[0][price_data][unit_amount]").and_then(|v| v.parse::<i64>().ok())
    else {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            Some("line_items[0][price_data][unit_amount]"),
            "Invalid integer",
        );
    };
    let id = {
        let mut guard = inner.lock().unwrap();
        guard.next += 1;
        format!("cs_test_fake{}", guard.next)
    };
    let session = json!({
        "id": id, "object": "checkout.session", "mode": field(&form, "mode"),
        "amount_total": amount, "amount_subtotal": amount,
        "currency": field(&form, "line_items[0][price_data][currency]"),
        "client_reference_id": field(&form, "client_reference_id"),
        "metadata": metadata(&form, "metadata["),
        "locale": field(&form, "locale"),
        "expires_at": expires_at, "created": now,
        "status": "open", "payment_status": "unpaid", "payment_intent": null,
        "success_url": field(&form, "success_url"), "cancel_url": field(&form, "cancel_url"),
        "url": format!("https://checkout.stripe.com/c/pay/{id}"), "livemode": false
    });
    inner.lock().unwrap().sessions.insert(id, session.clone());
    answer(&inner, index, 200, session)
}

async fn retrieve_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (_, index) = match admit(
        &inner,
        Method::GET,
        format!("/v1/checkout/sessions/{id}"),
        &headers,
        &[],
    ) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let found = inner.lock().unwrap().sessions.get(&id).cloned();
    match found {
        Some(session) => answer(&inner, index, 200, session),
        None => error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            Some("session"),
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn expire_session(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (_, index) = match admit(
        &inner,
        Method::POST,
        format!("/v1/checkout/sessions/{id}/expire"),
        &headers,
        &body,
    ) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let result = {
        let mut guard = inner.lock().unwrap();
        match guard.sessions.get_mut(&id) {
            None => None,
            Some(session) if session["status"] == "open" => {
                session["status"] = json!("expired");
                session["url"] = Value::Null;
                Some(Ok(session.clone()))
            }
            Some(session) => Some(Err(session["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned())),
        }
    };
    match result {
        Some(Ok(session)) => answer(&inner, index, 200, session),
        Some(Err(status)) => answer(
            &inner,
            index,
            400,
            json!({"error": {
                "type": "invalid_request_error",
                "message": format!("Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{status}\".")
            }}),
        ),
        None => error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            Some("session"),
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

async fn create_refund(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (form, index) = match admit(&inner, Method::POST, "/v1/refunds".into(), &headers, &body) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Some(intent) = field(&form, "payment_intent").map(str::to_owned) else {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            Some("payment_intent"),
            "One of charge or payment_intent is required.",
        );
    };
    let refund = {
        let mut guard = inner.lock().unwrap();
        guard.next += 1;
        let status = guard
            .refund_status
            .clone()
            .unwrap_or_else(|| "succeeded".into());
        let refund = json!({
            "id": format!("re_fake{}", guard.next), "object": "refund",
            "amount": field(&form, "amount").and_then(|v| v.parse::<i64>().ok()),
            "payment_intent": intent, "currency": "eur", "reason": field(&form, "reason"),
            "metadata": metadata(&form, "metadata["), "status": status
        });
        guard.refunds.push(refund.clone());
        refund
    };
    answer(&inner, index, 200, refund)
}

/// `GET /v1/balance`, shaped as `fixtures3.json`'s balance object, in test mode.
async fn balance(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap) -> Response {
    let (_, index) = match admit(&inner, Method::GET, "/v1/balance".into(), &headers, &[]) {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let body = json!({
        "object": "balance",
        "available": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}],
        "livemode": false,
        "pending": [{"amount": 0, "currency": "eur", "source_types": {"card": 0}}]
    });
    answer(&inner, index, 200, body)
}
