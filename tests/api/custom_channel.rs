//! The generic signed channel: `POST /webhooks/custom` verified, read and stored like every webhook,
//! and end to end through a local receiver standing in for the gateway at `CUSTOM_REPLY_URL`, which
//! checks the `X-Signature` of every reply (with its own HMAC, not the bot's code) and records them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing;
use chrono::Utc;
use hmac::{Hmac, Mac};
use salonbot::config::OutboxRetry;
use salonbot::store::{InboxStatus, OutboundStatus, Provider};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::both_backends;
use crate::helpers::{AppBuilder, Backend, TestApp, TestDb, wait_until};
use crate::proxy::{Mode, Proxy, postgres_addr};

const SECRET: &str = "test-custom-secret";
const SALON: &str = "+34910000000";

/// The hex HMAC-SHA256 of `body` under `secret`, computed here rather than with the bot's signer.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A customer's message as a gateway sends it.
pub(crate) fn message(id: &str, from: &str, text: &str) -> Value {
    json!({"message_id": id, "from": from, "to": SALON, "ts": Utc::now().to_rfc3339(), "text": text})
}

async fn post_signed_as(app: &TestApp, body: &[u8], signature: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/webhooks/custom"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        req = req.header("x-signature", signature);
    }
    req.send().await.unwrap()
}

pub(crate) async fn post(app: &TestApp, message: &Value) -> reqwest::Response {
    let body = message.to_string();
    post_signed_as(app, body.as_bytes(), Some(&sign(SECRET, body.as_bytes()))).await
}

/// An app with the channel on, its replies going to `reply_url`.
pub(crate) fn builder(backend: Backend, reply_url: &str) -> AppBuilder {
    AppBuilder::new(backend)
        .var("CUSTOM_WEBHOOK_SECRET", SECRET)
        .var("CUSTOM_REPLY_URL", reply_url)
}

/// A reply URL nothing listens on (for the tests that look at ingress only).
pub(crate) const NOWHERE: &str = "http://127.0.0.1:9/replies";

async fn a_signed_message_is_stored_in_its_conversations_lane_before_the_200(backend: Backend) {
    let app = builder(backend, NOWHERE).spawn().await;
    let id = unique("m");
    let res = post(&app, &message(&id, "+34600111222", "hola")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "received");
    let stored = app
        .store
        .find_inbox_event(Provider::Custom, &id)
        .await
        .unwrap()
        .expect("stored before the 200");
    assert_eq!(
        stored.conversation_key,
        format!("custom:{SALON}:+34600111222")
    );
    assert_eq!(stored.business_id, SALON);
    assert_eq!(stored.payload["text"], "hola");
}
both_backends!(
    signed_message_is_stored,
    a_signed_message_is_stored_in_its_conversations_lane_before_the_200
);

/// Postgres cannot hold U+0000 in `jsonb` or `text`: a message carrying one is still stored (as
/// U+FFFD) and acknowledged, or the gateway would send it again in vain for ever.
#[tokio::test]
async fn a_message_with_a_nul_character_is_stored_not_refused_forever() {
    let app = builder(Backend::Postgres, NOWHERE).spawn().await;
    let id = unique("m");
    let res = post(&app, &message(&id, "+34600111222", "hola\u{0}mundo")).await;
    assert_eq!(res.status(), 200);
    let stored = app
        .store
        .find_inbox_event(Provider::Custom, &id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.payload["text"], "hola\u{fffd}mundo");
}

async fn bad_missing_and_changed_signatures_are_refused_with_401_before_parsing(backend: Backend) {
    let app = builder(backend, NOWHERE)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "100")
        .spawn()
        .await;
    let body = message(&unique("m"), "+34600111222", "hola").to_string();
    let good = sign(SECRET, body.as_bytes());
    let changed = body.replace("hola", "hala");
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        ("missing", &body, None),
        (
            "wrong secret",
            &body,
            Some(sign("other-secret", body.as_bytes())),
        ),
        ("changed body", &changed, Some(good.clone())),
        ("not hex", &body, Some("zz".repeat(32))),
        ("meta's prefix", &body, Some(format!("sha256={good}"))),
        ("unsigned, not even JSON", "not json", None),
    ];
    for (case, body, signature) in cases {
        let res = post_signed_as(&app, body.as_bytes(), signature.as_deref()).await;
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_signature",
            "{case}"
        );
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    // The right signature, in upper-case hex too.
    let res = post_signed_as(&app, body.as_bytes(), Some(&good.to_ascii_uppercase())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
}
both_backends!(
    bad_signatures,
    bad_missing_and_changed_signatures_are_refused_with_401_before_parsing
);

#[tokio::test]
async fn refusals_spend_the_invalid_authentication_budget() {
    let app = builder(Backend::Sqlite, NOWHERE)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "2")
        .spawn()
        .await;
    let body = message(&unique("m"), "+34600111222", "hola").to_string();
    let forged = sign("forged", body.as_bytes());
    for remaining in ["1", "0"] {
        let res = post_signed_as(&app, body.as_bytes(), Some(&forged)).await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
    }
    let good = sign(SECRET, body.as_bytes());
    let res = post_signed_as(&app, body.as_bytes(), Some(&good)).await;
    assert_eq!(
        res.status(),
        429,
        "budget spent: throttled before any signature work"
    );
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_400_and_a_bad_field_is_422_naming_it() {
    let app = builder(Backend::Sqlite, NOWHERE).spawn().await;
    for body in ["not json", "[1, 2]"] {
        let res = post_signed_as(&app, body.as_bytes(), Some(&sign(SECRET, body.as_bytes()))).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "malformed");
    }
    let cases = [
        ("message_id", Value::Null),
        ("message_id", json!("")),
        ("from", json!("34600111222")),
        ("from", json!(34600111222_u64)),
        ("to", Value::Null),
        ("to", json!("the salon")),
        ("ts", json!("yesterday at five")),
        ("ts", json!("2026-12-05 10:00")),
        ("text", json!("")),
        ("text", Value::Null),
    ];
    for (field, value) in cases {
        let mut bad = message(&unique("m"), "+34600111222", "hola");
        if value.is_null() {
            bad.as_object_mut().unwrap().remove(field);
        } else {
            bad[field] = value.clone();
        }
        let res = post(&app, &bad).await;
        assert_eq!(res.status(), 422, "{field} = {value}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["error"], "invalid_field", "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_webhooks_total{provider="custom",outcome="malformed"} 12"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = builder(Backend::Sqlite, NOWHERE)
        .var("WEBHOOK_MAX_BODY_BYTES", "1024")
        .spawn()
        .await;
    let big = message(&unique("m"), "+34600111222", &"x".repeat(2000)).to_string();
    let res = post_signed_as(&app, big.as_bytes(), Some(&sign(SECRET, big.as_bytes()))).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "too_large");
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

async fn a_message_delivered_again_and_again_is_stored_once(backend: Backend) {
    let app = builder(backend, NOWHERE).spawn().await;
    let again = message(&unique("m"), "+34600111222", "hola");
    assert_eq!(post(&app, &again).await.status(), 200);
    assert_eq!(
        post(&app, &again).await.status(),
        200,
        "a duplicate is a 200"
    );
    // And many at once: one is stored, the others are duplicates.
    let at_once = message(&unique("m"), "+34600111333", "hola");
    let answers = futures_util::future::join_all((0..20).map(|_| post(&app, &at_once))).await;
    assert!(answers.iter().all(|res| res.status() == 200));
    assert_eq!(app.store.count_inbox().await.unwrap(), 2);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_inbox_events_total{provider="custom",outcome="new"} 2"#),
        "{metrics}"
    );
}
both_backends!(
    duplicates,
    a_message_delivered_again_and_again_is_stored_once
);

#[tokio::test]
async fn without_the_secret_the_route_refuses_with_503_not_configured() {
    let app = AppBuilder::new(Backend::Sqlite).spawn().await;
    let res = post(&app, &message(&unique("m"), "+34600111222", "hola")).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "not_configured"
    );
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_a_message_gets_503_and_is_stored_when_sent_again() {
    let db = TestDb::new(Backend::Postgres).await;
    let direct = db.store().await;
    let proxy = Proxy::start(postgres_addr()).await;
    let app = builder(Backend::Postgres, NOWHERE)
        .var("STORE_TIMEOUT_MS", "700")
        .database_url(proxy.postgres_url(db.schema.as_deref().unwrap()))
        .spawn()
        .await;
    let id = unique("m");
    let body = message(&id, "+34600111222", "hola");

    proxy.set(Mode::Refuse);
    let res = post(&app, &body).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unavailable");
    assert_eq!(direct.count_inbox().await.unwrap(), 0);

    proxy.set(Mode::Forward);
    let mut status = 0;
    for _ in 0..50 {
        status = post(&app, &body).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    assert!(
        direct
            .find_inbox_event(Provider::Custom, &id)
            .await
            .unwrap()
            .is_some()
    );
}

/// What the local receiver saw.
#[derive(Default)]
struct Seen {
    /// Replies whose signature was right, in the order they were accepted.
    accepted: Vec<Value>,
    /// Every request's `message_id`, accepted or not, in order.
    attempts: Vec<String>,
    /// Requests whose `X-Signature` did not match their body.
    forged: usize,
    /// Answer 500 to this many more requests.
    fail_next: usize,
    /// Answer 500 to every request.
    always_fail: bool,
    /// Answer 400 (the reply refused) to this many more requests.
    refuse_next: usize,
}

/// The gateway's side of `CUSTOM_REPLY_URL`: verifies each reply's `X-Signature` and records it.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    async fn start() -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = axum::Router::new()
            .route("/gateway/replies", routing::post(receive))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/gateway/replies"),
            seen,
        }
    }

    fn accepted(&self) -> Vec<Value> {
        self.seen.lock().unwrap().accepted.clone()
    }

    fn accepted_to(&self, customer: &str) -> Vec<Value> {
        self.accepted()
            .into_iter()
            .filter(|m| m["to"] == customer)
            .collect()
    }

    fn attempts(&self) -> Vec<String> {
        self.seen.lock().unwrap().attempts.clone()
    }

    fn forged(&self) -> usize {
        self.seen.lock().unwrap().forged
    }

    fn fail_next(&self, n: usize) {
        self.seen.lock().unwrap().fail_next = n;
    }

    fn always_fail(&self) {
        self.seen.lock().unwrap().always_fail = true;
    }

    fn refuse_next(&self, n: usize) {
        self.seen.lock().unwrap().refuse_next = n;
    }

    /// Waits until `n` replies to `customer` have been accepted, and returns them.
    async fn wait_for(&self, customer: &str, n: usize) -> Vec<Value> {
        wait_until(Duration::from_secs(30), "the replies", || async {
            let mine = self.accepted_to(customer);
            (mine.len() >= n).then_some(mine)
        })
        .await
    }
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut seen = seen.lock().unwrap();
    let signature = headers
        .get("x-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if signature != sign(SECRET, &body) {
        seen.forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let reply: Value = serde_json::from_slice(&body).unwrap();
    seen.attempts
        .push(reply["message_id"].as_str().unwrap_or_default().to_owned());
    if seen.always_fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if seen.fail_next > 0 {
        seen.fail_next -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if seen.refuse_next > 0 {
        seen.refuse_next -= 1;
        return StatusCode::BAD_REQUEST;
    }
    seen.accepted.push(reply);
    StatusCode::OK
}

/// Retries within a test's patience: 100 ms, 200 ms, 400 ms ... up to a second.
fn quick_retry(max_attempts: i32) -> OutboxRetry {
    OutboxRetry {
        max_attempts,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
    }
}

/// Waits until the customer's message is handled (its turn committed).
pub(crate) async fn handled(app: &TestApp, id: &str) {
    wait_until(Duration::from_secs(30), "the message handled", || async {
        let event = app
            .store
            .find_inbox_event(Provider::Custom, id)
            .await
            .unwrap();
        event.filter(|e| e.status == InboxStatus::Done).map(|_| ())
    })
    .await;
}

/// The customer's conversation's outbox rows, newest first, once every one is settled as sent.
async fn all_sent(app: &TestApp, customer: &str) -> Vec<salonbot::store::Outbound> {
    let key = format!("custom:{SALON}:{customer}");
    wait_until(
        Duration::from_secs(30),
        "every reply settled as sent",
        || async {
            let rows = app.store.recent_outbox(Some(&key), 10).await.unwrap();
            rows.iter()
                .all(|r| r.status == OutboundStatus::Sent)
                .then_some(rows)
        },
    )
    .await
}

/// A message the test sends, and its id.
async fn say(app: &TestApp, from: &str, text: &str) -> String {
    let id = unique("m");
    let res = post(app, &message(&id, from, text)).await;
    assert_eq!(res.status(), 200, "{text}");
    id
}

async fn hola_gets_the_menu_as_numbered_options_and_a_number_picks_one(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = builder(backend, &receiver.url).spawn().await;
    let ana = "+34600222111";

    say(&app, ana, "hola").await;
    let greeting = receiver.wait_for(ana, 1).await.remove(0);
    assert_eq!(
        greeting["from"], SALON,
        "from the number the customer wrote to"
    );
    assert_eq!(greeting["to"], ana);
    let mut fields: Vec<&str> = greeting
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["from", "message_id", "text", "to", "ts"],
        "the documented shape, nothing more"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(greeting["ts"].as_str().unwrap()).is_ok(),
        "{greeting}"
    );
    let text = greeting["text"].as_str().unwrap();
    assert!(text.contains("Peluquería Malasaña"), "{text}");
    assert!(
        text.ends_with("1) Reservar cita\n2) Mis citas\n3) Hablar con el salón"),
        "{text}"
    );

    say(&app, ana, "1").await;
    let services = receiver.wait_for(ana, 2).await.remove(1);
    let text = services["text"].as_str().unwrap();
    assert!(text.starts_with("¿Qué servicio te hacemos?"), "{text}");
    assert!(
        text.contains("\n1) "),
        "the services as numbered options: {text}"
    );
    assert_ne!(greeting["message_id"], services["message_id"]);

    // What the bot wrote is in the outbox, sent (settled just after the receiver answered), with the
    // id the receiver got.
    let rows = all_sent(&app, ana).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row.provider, Provider::Custom);
    }
    assert_eq!(
        rows[1].wamid.as_deref(),
        greeting["message_id"].as_str(),
        "the reply's id is recorded"
    );
    assert_eq!(receiver.forged(), 0);
}
both_backends!(
    end_to_end,
    hola_gets_the_menu_as_numbered_options_and_a_number_picks_one
);

async fn replies_the_receiver_fails_are_retried_and_arrive_once_each_in_order(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = builder(backend, &receiver.url)
        .outbox_retry(quick_retry(10))
        .spawn()
        .await;
    let ana = "+34600222333";
    // The greeting fails three times; meanwhile the customer writes again, and the two replies to
    // that wait behind it.
    receiver.fail_next(3);
    let hola = say(&app, ana, "hola").await;
    handled(&app, &hola).await;
    say(&app, ana, "xyzzy plugh").await;
    let replies = receiver.wait_for(ana, 3).await;
    let texts: Vec<&str> = replies
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(texts[0].contains("Peluquería Malasaña"), "{texts:?}");
    assert!(
        texts[1].starts_with("Perdona, no te he entendido"),
        "{texts:?}"
    );
    assert!(texts[2].contains("1) Reservar cita"), "{texts:?}");
    assert_eq!(replies.len(), 3, "each once: {texts:?}");

    // The greeting was tried four times with the same id (and the same signed bytes); the other
    // replies were not tried before it went through.
    let attempts = receiver.attempts();
    let greeting_id = replies[0]["message_id"].as_str().unwrap();
    assert_eq!(attempts[..4], [greeting_id; 4], "{attempts:?}");
    assert_eq!(attempts.len(), 6, "{attempts:?}");
    let rows = all_sent(&app, ana).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows.last().unwrap().attempts, 4);
    assert_eq!(receiver.forged(), 0);
}
both_backends!(
    retried_in_order,
    replies_the_receiver_fails_are_retried_and_arrive_once_each_in_order
);

async fn a_reply_the_receiver_always_fails_is_a_dead_letter_with_its_error(backend: Backend) {
    let receiver = Receiver::start().await;
    let app = builder(backend, &receiver.url)
        .outbox_retry(quick_retry(3))
        .spawn()
        .await;
    receiver.always_fail();
    let ana = "+34600222444";
    say(&app, ana, "hola").await;
    let key = format!("custom:{SALON}:{ana}");
    let dead = wait_until(Duration::from_secs(30), "the dead letter", || async {
        let rows = app.store.recent_outbox(Some(&key), 10).await.unwrap();
        rows.into_iter().find(|r| r.status == OutboundStatus::Dead)
    })
    .await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("the reply URL answered 500")
    );
    assert_eq!(
        receiver.attempts().len(),
        3,
        "no more tries after the budget"
    );
    assert!(receiver.accepted().is_empty());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_dead_letters_total{queue="outbox"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"salonbot_outbound_total{kind="custom.message",outcome="server_error"} 3"#),
        "{metrics}"
    );
}
both_backends!(
    dead_letter,
    a_reply_the_receiver_always_fails_is_a_dead_letter_with_its_error
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_the_receiver_refuses_fails_at_once_and_holds_up_no_later_reply() {
    let receiver = Receiver::start().await;
    let app = builder(Backend::Sqlite, &receiver.url)
        .outbox_retry(quick_retry(10))
        .spawn()
        .await;
    receiver.refuse_next(1);
    let ana = "+34600222555";
    let hola = say(&app, ana, "hola").await;
    handled(&app, &hola).await;
    let key = format!("custom:{SALON}:{ana}");
    let failed = wait_until(Duration::from_secs(30), "the refused reply", || async {
        let rows = app.store.recent_outbox(Some(&key), 10).await.unwrap();
        rows.into_iter()
            .find(|r| r.status == OutboundStatus::Failed)
    })
    .await;
    assert_eq!(failed.attempts, 1, "a refusal is not tried again");
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the reply URL answered 400")
    );
    // The conversation goes on: the next reply is delivered.
    say(&app, ana, "1").await;
    let delivered = receiver.wait_for(ana, 1).await;
    assert!(
        delivered[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("¿Qué servicio te hacemos?"),
        "{delivered:?}"
    );
    assert_eq!(receiver.attempts().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_answers_the_options_of_the_last_reply_even_when_the_step_offers_others() {
    let receiver = Receiver::start().await;
    let app = builder(Backend::Sqlite, &receiver.url).spawn().await;
    let ana = "+34600222666";
    // Three misses: the bot offers a person (its options are not the step's, the menu's).
    for text in ["hola", "xyzzy plugh", "xyzzy plugh", "xyzzy plugh"] {
        let id = say(&app, ana, text).await;
        handled(&app, &id).await;
    }
    let offer = receiver.wait_for(ana, 6).await.remove(5);
    let text = offer["text"].as_str().unwrap();
    assert!(
        text.ends_with("1) Hablar con el salón\n2) Volver al menú"),
        "{text}"
    );
    say(&app, ana, "1").await;
    let handed = receiver.wait_for(ana, 7).await.remove(6);
    assert!(
        handed["text"]
            .as_str()
            .unwrap()
            .starts_with("Te paso con alguien"),
        "the number names the offer's first option, not the menu's: {handed}"
    );
}

/// With Chatwoot's mirror on for WhatsApp, the channel's conversations stay out of it: an agent's
/// reply there could not reach their customers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channels_conversations_are_not_mirrored_into_chatwoot() {
    use crate::fake_chatwoot::{self, FakeChatwoot};

    let receiver = Receiver::start().await;
    let chatwoot = FakeChatwoot::start().await;
    let app = builder(Backend::Sqlite, &receiver.url)
        .var("CHATWOOT_BASE_URL", &chatwoot.base())
        .var("CHATWOOT_API_TOKEN", fake_chatwoot::USER_TOKEN)
        .var("CHATWOOT_ACCOUNT_ID", fake_chatwoot::ACCOUNT)
        .var("CHATWOOT_INBOX_ID", &fake_chatwoot::INBOX.to_string())
        .var("CHATWOOT_WEBHOOK_SECRET", "test-chatwoot-secret")
        .spawn()
        .await;
    let ana = "+34600222119";
    say(&app, ana, "hola").await;
    receiver.wait_for(ana, 1).await;
    let rows = all_sent(&app, ana).await;
    assert_eq!(
        rows.iter().map(|r| r.provider).collect::<Vec<_>>(),
        [Provider::Custom],
        "the greeting, and nothing for Chatwoot"
    );
    assert_eq!(chatwoot.conversations().len(), 0);
}

/// One salon, two channels: with a WhatsApp business number configured, a booking made on the
/// generic channel goes in the salon's calendar (the WhatsApp number's), so that the database keeps
/// it and a WhatsApp booking (or a walk-in) of the same staff member apart.
async fn the_channels_bookings_share_the_salons_calendar(backend: Backend) {
    use salonbot::booking::appointment::AppointmentStatus;
    use salonbot::store::{BookingError, NewHold};
    let receiver = Receiver::start().await;
    let app = builder(backend, &receiver.url)
        .var("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
        .spawn()
        .await;
    let ana = "+34600222999";
    // Highlights, Lucía, the first day and time offered, confirm (no deposit without Stripe).
    for (n, text) in ["quiero mechas", "1", "1", "1", "1"]
        .into_iter()
        .enumerate()
    {
        say(&app, ana, text).await;
        receiver.wait_for(ana, n + 1).await;
    }
    let key = format!("custom:{SALON}:{ana}");
    let booked = wait_until(Duration::from_secs(30), "the booking", || async {
        app.store
            .conversation_appointments(&key)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.status == AppointmentStatus::Confirmed)
    })
    .await;
    assert_eq!(booked.business_id, "106540352242922");

    // The same staff member at the same time, asked for by a WhatsApp customer: refused by the
    // database.
    let whatsapp = NewHold {
        business_id: "106540352242922".into(),
        conversation_key: "whatsapp:106540352242922:+34600333444".into(),
        service_id: booked.service_id.clone(),
        staff_id: booked.staff_id.clone(),
        starts_at: booked.starts_at,
        ends_at: booked.ends_at,
        occupied_until: booked.occupied_until,
        hold_expires_at: Utc::now() + chrono::Duration::minutes(5),
        deposit_minor: 0,
    };
    assert!(matches!(
        app.store.hold_slot(&whatsapp, Utc::now()).await,
        Err(BookingError::SlotTaken)
    ));
}
both_backends!(
    one_calendar_for_every_channel,
    the_channels_bookings_share_the_salons_calendar
);
