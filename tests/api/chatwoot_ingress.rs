//! `POST /webhooks/chatwoot` through the real app: Chatwoot's signature checked as Chatwoot makes it
//! (`lib/webhooks/trigger.rb`; the signer here is written from that, not taken from the app), the
//! `?token=` fallback for versions that sign nothing, each event stored once (deduplicated on the event
//! and message id, not on `X-Chatwoot-Delivery`) in the lane of the customer's conversation, and the
//! events the bot does not act on stored as ignored, never refused.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use salonbot::store::{InboxStatus, Provider};
use serde_json::Value;
use sha2::Sha256;

use crate::both_backends;
use crate::conversations::PHONE_NUMBER_ID;
use crate::helpers::{AppBuilder, Backend, TestApp, wait_until};

pub const WEBHOOK_SECRET: &str = "cw_webhook_secret_test";

/// `sha256=<hex HMAC-SHA256 of "{ts}.{body}">` keyed with the secret as stored.
pub fn sign(secret: &str, ts: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn chatwoot_builder(backend: Backend) -> AppBuilder {
    AppBuilder::new(backend)
        .var("CHATWOOT_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
}

/// A fixture from `tests/fixtures/chatwoot/`, as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/chatwoot/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// Posts `body` with the given headers (signature, timestamp) and query.
pub async fn post_raw(
    app: &TestApp,
    path_and_query: &str,
    body: &str,
    signature: Option<(&str, i64)>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path_and_query))
        .header("content-type", "application/json")
        .header("x-chatwoot-delivery", uuid::Uuid::new_v4().to_string())
        .body(body.to_owned());
    if let Some((signature, ts)) = signature {
        request = request
            .header("x-chatwoot-signature", signature)
            .header("x-chatwoot-timestamp", ts.to_string());
    }
    request.send().await.unwrap()
}

/// Posts an event signed with the webhook's secret, now.
pub async fn post_event(app: &TestApp, event: &Value) -> reqwest::Response {
    let body = event.to_string();
    let ts = Utc::now().timestamp();
    post_raw(
        app,
        "/webhooks/chatwoot",
        &body,
        Some((&sign(WEBHOOK_SECRET, ts, &body), ts)),
    )
    .await
}

/// The agent reply fixture as a message of its own id, from `phone`, in Chatwoot conversation `cw`.
pub fn agent_reply(id: i64, cw: i64, phone: &str, text: &str) -> Value {
    let mut event = fixture("message_created.agent_reply");
    event["id"] = Value::from(id);
    event["content"] = Value::from(text);
    event["conversation"]["id"] = Value::from(cw);
    event["conversation"]["meta"]["sender"]["phone_number"] = Value::from(phone);
    event
}

async fn a_signed_agent_reply_is_stored_once_in_the_customers_lane(backend: Backend) {
    let app = chatwoot_builder(backend).spawn().await;
    let event = agent_reply(9101, 152, "+34600111222", "Hola Ana");
    // The account webhook and the inbox webhook on one URL, and a retry: three deliveries, each
    // with a delivery id of its own.
    for _ in 0..3 {
        let res = post_event(&app, &event).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "received");
    }
    let stored = app
        .store
        .find_inbox_event(Provider::Chatwoot, "message_created:9101")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.conversation_key,
        format!("whatsapp:{PHONE_NUMBER_ID}:+34600111222")
    );
    assert_eq!(stored.kind.as_str(), "staff");
    assert_eq!(stored.payload, event, "stored as Chatwoot sent it");
    let events = app
        .store
        .conversation_events(&stored.conversation_key)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "three deliveries, one event");
    // The older receivers' path takes the same events.
    let other = agent_reply(9102, 152, "+34600111222", "¿Sigues ahí?");
    let body = other.to_string();
    let ts = Utc::now().timestamp();
    let res = post_raw(
        &app,
        "/webhook/chatwoot",
        &body,
        Some((&sign(WEBHOOK_SECRET, ts, &body), ts)),
    )
    .await;
    assert_eq!(res.status(), 200);
}
both_backends!(
    stored_once,
    a_signed_agent_reply_is_stored_once_in_the_customers_lane
);

/// An agent's reply carrying U+0000 (which Postgres' `jsonb` cannot hold) is stored with U+FFFD in
/// its place and acknowledged, not refused on every one of Chatwoot's retries.
#[tokio::test]
async fn a_reply_with_a_nul_character_is_stored_not_refused_forever() {
    let app = chatwoot_builder(Backend::Postgres).spawn().await;
    let event = agent_reply(9103, 153, "+34600111222", "Hola\u{0}Ana");
    let res = post_event(&app, &event).await;
    assert_eq!(res.status(), 200);
    let stored = app
        .store
        .find_inbox_event(Provider::Chatwoot, "message_created:9103")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.payload["content"], "Hola\u{fffd}Ana");
}

async fn events_the_bot_does_not_act_on_are_stored_and_marked_ignored(backend: Backend) {
    let app = chatwoot_builder(backend).spawn().await;
    let cases = [
        (
            "message_created.echo_outgoing",
            "message_created:4823",
            "own message",
        ),
        (
            "message_created.echo_incoming",
            "message_created:4824",
            "own message",
        ),
        ("message_created.private_note", "", ""),
        ("message_updated", "message_updated:4821", "message_updated"),
        ("conversation_updated.labels", "", "conversation change"),
        ("conversation_created", "", "conversation change"),
    ];
    for (name, id, reason) in cases {
        let mut event = fixture(name);
        if name == "message_created.private_note" {
            // A private note other than `/bot` stays with the staff.
            event["content"] = Value::from("llamar mañana");
        }
        let res = post_event(&app, &event).await;
        assert_eq!(res.status(), 200, "{name}: never refused");
        if id.is_empty() {
            continue;
        }
        let stored = wait_until(Duration::from_secs(10), "the event settled", || async {
            app.store
                .find_inbox_event(Provider::Chatwoot, id)
                .await
                .unwrap()
                .filter(|e| e.status == InboxStatus::Done)
        })
        .await;
        assert_eq!(stored.kind.as_str(), "other", "{name}");
        let note = stored.last_error.unwrap_or_default();
        assert!(
            note.starts_with("ignored: ") && note.contains(reason),
            "{name}: {note}"
        );
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 6);
}
both_backends!(
    ignored,
    events_the_bot_does_not_act_on_are_stored_and_marked_ignored
);

#[tokio::test]
async fn without_a_webhook_secret_nothing_is_accepted() {
    let app = AppBuilder::new(Backend::Sqlite).spawn().await;
    let body = fixture("message_created.agent_reply").to_string();
    let ts = Utc::now().timestamp();
    let res = post_raw(
        &app,
        "/webhooks/chatwoot",
        &body,
        Some((&sign(WEBHOOK_SECRET, ts, &body), ts)),
    )
    .await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "not_configured"
    );
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

#[tokio::test]
async fn bad_missing_and_stale_signatures_are_refused_before_parsing() {
    let app = chatwoot_builder(Backend::Sqlite)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "100")
        .spawn()
        .await;
    let body = agent_reply(9201, 152, "+34600111222", "Hola").to_string();
    let now = Utc::now().timestamp();
    let mut changed = body.clone();
    changed.push(' ');
    let good = sign(WEBHOOK_SECRET, now, &body);
    type Case<'a> = (&'a str, &'a str, String, Option<(String, i64)>);
    let cases: Vec<Case> = vec![
        ("nothing", "/webhooks/chatwoot", body.clone(), None),
        (
            "wrong secret",
            "/webhooks/chatwoot",
            body.clone(),
            Some((sign("other", now, &body), now)),
        ),
        (
            "body changed",
            "/webhooks/chatwoot",
            changed,
            Some((good.clone(), now)),
        ),
        (
            "stale timestamp",
            "/webhooks/chatwoot",
            body.clone(),
            Some((sign(WEBHOOK_SECRET, now - 301, &body), now - 301)),
        ),
        (
            "timestamp changed",
            "/webhooks/chatwoot",
            body.clone(),
            Some((good.clone(), now - 1)),
        ),
        (
            "wrong token",
            "/webhooks/chatwoot?token=cw_webhook_secret_tesT",
            body.clone(),
            None,
        ),
        (
            "a signature with the right token does not need to match less",
            "/webhooks/chatwoot?token=cw_webhook_secret_test",
            body.clone(),
            Some((sign("other", now, &body), now)),
        ),
    ];
    for (case, path, body, signature) in cases {
        let signature = signature.as_ref().map(|(s, ts)| (s.as_str(), *ts));
        let res = post_raw(&app, path, &body, signature).await;
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_signature",
            "{case}"
        );
    }
    // Not parsed: a body that is not even JSON is a 401 too, not a 400.
    let res = post_raw(&app, "/webhooks/chatwoot", "not json", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    // The good signature, and the token of versions that sign nothing, are accepted.
    let res = post_raw(&app, "/webhooks/chatwoot", &body, Some((&good, now))).await;
    assert_eq!(res.status(), 200);
    let unsigned = agent_reply(9202, 152, "+34600111222", "Hola").to_string();
    let res = post_raw(
        &app,
        "/webhooks/chatwoot?token=cw_webhook_secret_test",
        &unsigned,
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 2);
}

#[tokio::test]
async fn refusals_spend_the_invalid_authentication_budget() {
    let app = chatwoot_builder(Backend::Sqlite)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "2")
        .spawn()
        .await;
    let body = agent_reply(9301, 152, "+34600111222", "Hola").to_string();
    let now = Utc::now().timestamp();
    let forged = sign("forged", now, &body);
    for remaining in ["1", "0"] {
        let res = post_raw(&app, "/webhooks/chatwoot", &body, Some((&forged, now))).await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
    }
    let good = sign(WEBHOOK_SECRET, now, &body);
    let res = post_raw(&app, "/webhooks/chatwoot", &body, Some((&good, now))).await;
    assert_eq!(res.status(), 429, "the budget is spent");
}

#[tokio::test]
async fn a_message_with_no_phone_to_key_is_ignored() {
    let app = chatwoot_builder(Backend::Sqlite).spawn().await;
    let mut event = agent_reply(9401, 999, "", "Hola");
    event["conversation"]["meta"]["sender"]["phone_number"] = Value::Null;
    let res = post_event(&app, &event).await;
    assert_eq!(res.status(), 200);
    let stored = app
        .store
        .find_inbox_event(Provider::Chatwoot, "message_created:9401")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.kind.as_str(), "other");
    assert_eq!(stored.conversation_key, "chatwoot:message_created:9401");
}
