//! `POST /webhooks/whatsapp`: signatures, parsing, durable storage and dedup.

use std::time::Duration;

use salonbot::ingress::signature::sign_sha256_header;
use salonbot::store::{EventKind, InboxStatus, Provider};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AppBuilder, Backend, SECRET, fixture, fixture_names, message_ids, spawn_app, text_message,
    wait_until, with_unique_ids,
};

fn unique(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

async fn a_signed_message_is_stored_before_the_200(backend: Backend) {
    let app = spawn_app(backend).await;
    let wamid = unique("wamid.stored");
    let res = app
        .post_whatsapp(text_message(&wamid, "34600111222", "Hola, quiero una cita"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "received"})
    );

    // No waiting: the 200 means committed.
    let event = app
        .store
        .find_inbox_event(Provider::WhatsApp, &wamid)
        .await
        .unwrap()
        .expect("stored before the answer");
    assert_eq!(event.kind, EventKind::Message);
    // The worker may already have picked it up.
    assert_ne!(event.status, InboxStatus::Dead);
    assert_eq!(event.business_id, "106540352242922");
    assert_eq!(
        event.conversation_key,
        "whatsapp:106540352242922:+34600111222"
    );
    assert_eq!(
        event.payload["message"]["text"]["body"],
        "Hola, quiero una cita"
    );
    assert_eq!(event.payload["contact"]["profile"]["name"], "Ana");
    assert_eq!(
        event.payload["metadata"]["phone_number_id"],
        "106540352242922"
    );
}
both_backends!(
    signed_message_is_stored,
    a_signed_message_is_stored_before_the_200
);

/// Messages + statuses + one per change carrying `value.errors`: the events a notification holds.
fn expected_events(body: &str) -> i64 {
    let value: Value = serde_json::from_str(body).unwrap();
    let mut n = 0;
    for entry in value["entry"].as_array().unwrap() {
        for change in entry["changes"].as_array().unwrap() {
            let v = &change["value"];
            let len = |k: &str| v[k].as_array().map_or(0, |a| a.len() as i64);
            n += len("messages") + len("statuses") + i64::from(len("errors") > 0);
        }
    }
    n
}

async fn every_fixture_parses_and_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut expected = 0;
    for name in fixture_names() {
        let body = with_unique_ids(&fixture(&name), &format!("{run}.{name}"));
        let res = app.post_whatsapp(body.clone()).await;
        let status = res.status();
        assert_eq!(status, 200, "{name}: {}", res.text().await.unwrap());
        expected += expected_events(&body);
        for id in message_ids(&body) {
            let event = app
                .store
                .find_inbox_event(Provider::WhatsApp, &id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: message {id} not stored"));
            assert_eq!(event.kind, EventKind::Message, "{name}");
        }
        assert_eq!(app.store.count_inbox().await.unwrap(), expected, "{name}");
    }
    assert_eq!(fixture_names().len(), 16);
    assert_eq!(
        expected, 18,
        "every message, status and error report of the fixtures"
    );
}
both_backends!(all_fixtures_are_stored, every_fixture_parses_and_is_stored);

#[tokio::test]
async fn a_message_and_the_status_of_the_same_wamid_are_two_events() {
    let app = spawn_app(Backend::Postgres).await;
    // Kept as they are: 04 is a message and 10 the `sent` status of the same wamid.
    let message = fixture("04_template_quick_reply_button.json");
    let status = fixture("10_status_sent.json");
    assert_eq!(app.post_whatsapp(message).await.status(), 200);
    assert_eq!(app.post_whatsapp(status).await.status(), 200);
    let wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";
    let message = app
        .store
        .find_inbox_event(Provider::WhatsApp, wamid)
        .await
        .unwrap()
        .unwrap();
    let status = app
        .store
        .find_inbox_event(Provider::WhatsApp, &format!("{wamid}:sent"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(message.kind, EventKind::Message);
    assert_eq!(status.kind, EventKind::Status);
    assert_eq!(status.payload["status"]["status"], "sent");
    // The status has its lane beside the conversation's messages, not behind them.
    assert_eq!(
        status.conversation_key,
        format!("{}/statuses", message.conversation_key)
    );
}

#[tokio::test]
async fn value_errors_alone_are_accepted_and_recorded() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = fixture("09_value_errors_system.json");
    assert_eq!(app.post_whatsapp(body.clone()).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
    let events = app
        .store
        .conversation_events("whatsapp:106540352242922:system")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Error);
    assert_eq!(events[0].payload["errors"][0]["code"], 130429);
    // Meta retrying the same POST is a duplicate, not a second error report.
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
}

async fn a_batch_becomes_one_event_per_message(backend: Backend) {
    let app = spawn_app(backend).await;
    // Both messages of this fixture carry `wamid.ID`: give the second its own id.
    let mut body: Value =
        serde_json::from_str(&fixture("14_batch_two_changes_two_messages.json")).unwrap();
    let first = unique("wamid.batch1");
    let second = unique("wamid.batch2");
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!(first);
    body["entry"][0]["changes"][1]["value"]["messages"][0]["id"] = json!(second);
    let res = app.post_whatsapp(body.to_string()).await;
    assert_eq!(res.status(), 200);
    let a = app
        .store
        .find_inbox_event(Provider::WhatsApp, &first)
        .await
        .unwrap()
        .unwrap();
    let b = app
        .store
        .find_inbox_event(Provider::WhatsApp, &second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.payload["message"]["text"]["body"], "MESSAGE_BODY");
    assert_eq!(b.payload["message"]["text"]["body"], "MESSAGE_BODY2");
    assert!(a.id < b.id, "stored in the order Meta sent them");
    // `PHONE_NUMBER` is no phone: the event is kept, keyed by the identifier as sent.
    assert_eq!(
        a.conversation_key,
        "whatsapp:PHONE_NUMBER_ID:raw:PHONE_NUMBER"
    );
}
both_backends!(batch_is_split, a_batch_becomes_one_event_per_message);

#[tokio::test]
async fn the_placeholder_batch_with_one_id_twice_stores_it_once() {
    let app = spawn_app(Backend::Postgres).await;
    let body = fixture("14_batch_two_changes_two_messages.json");
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
}

#[tokio::test]
async fn a_customer_known_only_by_user_id_is_kept() {
    let app = crate::helpers::AppBuilder::new(Backend::Postgres)
        .var("ADMIN_TOKEN", crate::admin::TOKEN)
        .spawn()
        .await;
    let wamid = unique("wamid.bsuid");
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "ana.cuts"}, "user_id": "ES.13491208655302741918"}],
            "messages": [{"from_user_id": "ES.13491208655302741918", "id": wamid, "timestamp": "1", "type": "text", "text": {"body": "hola"}}]
        }}]}]
    });
    assert_eq!(app.post_whatsapp(body.to_string()).await.status(), 200);
    let event = app
        .store
        .find_inbox_event(Provider::WhatsApp, &wamid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event.conversation_key,
        "whatsapp:106540352242922:user:ES.13491208655302741918"
    );
    // The staff see the message and whose it is, though there is no phone.
    let (_, stats) = crate::admin::api(&app, "/api/stats").await;
    assert_eq!(stats["customers"], 1, "{stats}");
    assert_eq!(
        stats["top_senders"][0]["from"], "user:ES.13491208655302741918",
        "{stats}"
    );
    let (_, listed) = crate::admin::api(&app, "/api/conversations").await;
    let mine = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == event.conversation_key.as_str())
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(mine["last_message"], "hola", "{mine}");
}

#[tokio::test]
async fn unknown_message_types_and_fields_are_stored_as_sent() {
    let app = spawn_app(Backend::Sqlite).await;
    let wamid = unique("wamid.future");
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "34600111222"}],
            "messages": [{"from": "34600111222", "id": wamid, "timestamp": "1", "type": "hologram",
                          "hologram": {"depth": 3}, "brand_new_field": [1, 2]}]
        }}]}]
    });
    assert_eq!(app.post_whatsapp(body.to_string()).await.status(), 200);
    let event = app
        .store
        .find_inbox_event(Provider::WhatsApp, &wamid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.payload["message"]["type"], "hologram");
    assert_eq!(event.payload["message"]["hologram"]["depth"], 3);
    assert_eq!(event.payload["message"]["brand_new_field"], json!([1, 2]));
}

#[tokio::test]
async fn other_change_fields_are_kept_whole() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "message_template_status_update",
            "value": {"event": "APPROVED", "message_template_id": 123, "message_template_name": "reminder"}}]}]
    });
    assert_eq!(app.post_whatsapp(body.to_string()).await.status(), 200);
    let events = app
        .store
        .conversation_events("whatsapp:102290129340398:system")
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Other);
    assert_eq!(events[0].payload["field"], "message_template_status_update");
    assert_eq!(events[0].payload["value"]["event"], "APPROVED");
}

#[tokio::test]
async fn a_notification_with_nothing_in_it_is_acknowledged_and_ignored() {
    let app = spawn_app(Backend::Sqlite).await;
    let body = json!({"object": "whatsapp_business_account", "entry": []}).to_string();
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_webhooks_total{provider="whatsapp",outcome="ignored"} 1"#)
    );
}

async fn bad_signatures_are_refused_with_401_before_parsing(backend: Backend) {
    let app = spawn_app(backend).await;
    let wamid = unique("wamid.forged");
    let body = text_message(&wamid, "34600111222", "hola");
    let good = sign_sha256_header(SECRET.as_bytes(), body.as_bytes());
    let wrong_secret = sign_sha256_header(b"not-the-secret", body.as_bytes());
    let mut changed = body.clone().into_bytes();
    let last = changed.len() - 2;
    changed[last] = b' ';
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        (
            "wrong secret",
            body.clone().into_bytes(),
            Some(wrong_secret),
        ),
        ("body changed by one byte", changed, Some(good.clone())),
        ("missing header", body.clone().into_bytes(), None),
        (
            "malformed header",
            body.clone().into_bytes(),
            Some(good.replace("sha256=", "sha1=")),
        ),
        (
            "non-hex digest",
            body.clone().into_bytes(),
            Some(format!("sha256={}", "zz".repeat(32))),
        ),
        (
            "short digest",
            body.clone().into_bytes(),
            Some("sha256=abcd".to_owned()),
        ),
    ];
    for (case, body, signature) in cases {
        let res = app
            .post_whatsapp_signed_as(body, signature.as_deref())
            .await;
        assert_eq!(res.status(), 401, "{case}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], "invalid_signature", "{case}");
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    // Not JSON at all, but unsigned: still 401, never 400.
    let res = app.post_whatsapp_signed_as("not json", None).await;
    assert_eq!(res.status(), 401);
}
both_backends!(
    bad_signatures,
    bad_signatures_are_refused_with_401_before_parsing
);

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400() {
    let app = spawn_app(Backend::Sqlite).await;
    for body in [
        "{not json",
        r#"{"entry": []}"#,
        r#"{"object": "x", "entry": [{"changes": 5}]}"#,
    ] {
        let res = app.post_whatsapp(body).await;
        assert_eq!(res.status(), 400, "{body}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], "malformed");
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

#[tokio::test]
async fn without_an_app_secret_the_route_refuses_with_503_not_configured() {
    let app = AppBuilder::new(Backend::Sqlite)
        .without("WHATSAPP_APP_SECRET")
        .spawn()
        .await;
    let res = app
        .post_whatsapp(text_message("wamid.x", "34600111222", "hola"))
        .await;
    assert_eq!(res.status(), 503);
    let json: Value = res.json().await.unwrap();
    assert_eq!(json["error"], "not_configured");
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

async fn fifty_concurrent_deliveries_of_one_wamid_store_one_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let wamid = unique("wamid.concurrent");
    let body = text_message(&wamid, "34600111222", "hola");
    let sends = (0..50).map(|_| app.post_whatsapp(body.clone()));
    let responses = futures_util::future::join_all(sends).await;
    for res in responses {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_inbox_events_total{provider="whatsapp",outcome="new"} 1"#),
        "exactly one delivery was new:\n{metrics}"
    );
    assert!(
        metrics.contains(r#"salonbot_webhooks_total{provider="whatsapp",outcome="accepted"} 1"#)
    );
    assert!(
        metrics.contains(r#"salonbot_webhooks_total{provider="whatsapp",outcome="duplicate"} 49"#)
    );
}
both_backends!(
    concurrent_duplicates,
    fifty_concurrent_deliveries_of_one_wamid_store_one_event
);

/// The fast path answers "duplicate" only when every id of a notification is known: a notification
/// that brings an already delivered message again beside a new one is stored, and the new message
/// handled, with the old one left as it was.
async fn a_webhook_with_a_seen_and_a_new_message_stores_and_handles_the_new_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let phone = "34600111222";
    let old = unique("wamid.seen");
    let new = unique("wamid.new");
    assert_eq!(
        app.post_whatsapp(text_message(&old, phone, "hola"))
            .await
            .status(),
        200
    );
    let handled = |wamid: String| {
        let store = app.store.clone();
        async move {
            store
                .find_inbox_event(Provider::WhatsApp, &wamid)
                .await
                .unwrap()
                .filter(|e| e.status == InboxStatus::Done)
        }
    };
    let first = wait_until(Duration::from_secs(30), "the first message handled", || {
        handled(old.clone())
    })
    .await;
    // The id is remembered after the commit, off the request path: wait for it, so that the fast path
    // (in process without Redis, in Redis with it) really knows the old id when the next one comes.
    wait_until(
        Duration::from_secs(10),
        "the first id remembered",
        || async {
            app.seen
                .all_seen(Provider::WhatsApp, &[old.as_str()])
                .await
                .then_some(())
        },
    )
    .await;
    let replies_to = |event_id: i64, outbox: &[salonbot::store::Outbound]| {
        let prefix = format!("turn:{event_id}:");
        outbox
            .iter()
            .filter(|m| m.idempotency_key.starts_with(&prefix))
            .count()
    };
    let outbox = app
        .store
        .outbox_for_recipient(&format!("+{phone}"))
        .await
        .unwrap();
    let first_replies = replies_to(first.id, &outbox);
    assert!(
        first_replies > 0,
        "the first message was answered: {outbox:?}"
    );

    // Meta delivers the old message again, in one notification with a new one.
    let mut body: Value = serde_json::from_str(&text_message(&old, phone, "hola")).unwrap();
    let messages = body["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap();
    let mut second = messages[0].clone();
    second["id"] = json!(new);
    second["text"]["body"] = json!("quiero reservar una cita");
    messages.push(second);
    let res = app.post_whatsapp(body.to_string()).await;
    assert_eq!(res.status(), 200);

    // No waiting for the new one to be stored: the 200 means committed.
    let stored = app
        .store
        .find_inbox_event(Provider::WhatsApp, &new)
        .await
        .unwrap()
        .expect("the new message is stored before the answer");
    assert_eq!(
        stored.payload["message"]["text"]["body"],
        "quiero reservar una cita"
    );
    let records = app.audit_records(2).await;
    assert_eq!(records[0].outcome, "accepted");
    assert_eq!((records[0].events_new, records[0].events_duplicate), (1, 1));
    let second = wait_until(Duration::from_secs(30), "the new message handled", || {
        handled(new.clone())
    })
    .await;
    let outbox = app
        .store
        .outbox_for_recipient(&format!("+{phone}"))
        .await
        .unwrap();
    assert!(
        replies_to(second.id, &outbox) > 0,
        "the new message was answered: {outbox:?}"
    );
    // The old message is neither stored nor handled twice.
    assert_eq!(app.store.count_inbox().await.unwrap(), 2);
    let old_again = app
        .store
        .find_inbox_event(Provider::WhatsApp, &old)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (old_again.id, old_again.attempts),
        (first.id, first.attempts)
    );
    assert_eq!(replies_to(first.id, &outbox), first_replies);
}
both_backends!(
    seen_and_new,
    a_webhook_with_a_seen_and_a_new_message_stores_and_handles_the_new_one
);

#[tokio::test]
async fn a_redelivery_hours_later_is_a_duplicate_even_after_redis_forgot_it() {
    let app = spawn_app(Backend::Postgres).await;
    let wamid = unique("wamid.later");
    let body = text_message(&wamid, "34600111222", "hola");
    assert_eq!(app.post_whatsapp(body.clone()).await.status(), 200);
    // Redis forgets (TTL passed, or flushed): the database still knows.
    let mut redis = redis_connection().await;
    // The id is remembered right after the commit, off the request path.
    let keys: Vec<String> = wait_until(Duration::from_secs(10), "the id remembered", || {
        let mut redis = redis.clone();
        let pattern = format!("{}*", app.redis_prefix);
        async move {
            let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut redis)
                .await
                .unwrap();
            (!keys.is_empty()).then_some(keys)
        }
    })
    .await;
    assert_eq!(keys.len(), 1, "the fast path remembered the id");
    let _: () = deadpool_redis::redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
}

async fn redis_connection() -> deadpool_redis::redis::aio::MultiplexedConnection {
    deadpool_redis::redis::Client::open(crate::helpers::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_redis_unreachable_the_database_alone_dedups() {
    // A port where nothing listens.
    let app = AppBuilder::new(Backend::Postgres)
        .var("REDIS_URL", "redis://127.0.0.1:1")
        .spawn()
        .await;
    let wamid = unique("wamid.noredis");
    let body = text_message(&wamid, "34600111222", "hola");
    let responses =
        futures_util::future::join_all((0..50).map(|_| app.post_whatsapp(body.clone()))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(app.store.count_inbox().await.unwrap(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("salonbot_redis_errors_total"),
        "the failure is counted"
    );
    let health: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["redis"], "disconnected");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_whether_declared_or_streamed() {
    let app = AppBuilder::new(Backend::Sqlite)
        .var("WEBHOOK_MAX_BODY_BYTES", "1024")
        .spawn()
        .await;
    let big = text_message("wamid.big", "34600111222", &"x".repeat(2000));
    let res = app.post_whatsapp(big.clone()).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "too_large");

    // No Content-Length (chunked): the limit still holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let res = app
        .client
        .post(app.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", "sha256=00")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);

    // Just under the limit is fine.
    let small = text_message("wamid.small", "34600111222", "hola");
    assert_eq!(app.post_whatsapp(small).await.status(), 200);
}

#[tokio::test]
async fn meta_sized_batches_fit_the_default_limit() {
    let app = spawn_app(Backend::Postgres).await;
    // 1,000 delivery statuses in one POST, as Meta may send.
    let statuses: Vec<Value> = (0..1000)
        .map(|i| json!({"id": format!("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA.{}.{i}", uuid::Uuid::new_v4().simple()),
            "status": "delivered", "timestamp": "1751142888", "recipient_id": "16505551234",
            "conversation": {"id": "CONVERSATION_ID_6a1f4c2e9b7d", "expiration_timestamp": "1751229288", "origin": {"type": "service"}},
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "service"}}))
        .collect();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                  "statuses": statuses}}]}]})
    .to_string();
    assert!(body.len() > 256 * 1024, "larger than the old 256 KiB limit");
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
    assert_eq!(app.store.count_inbox().await.unwrap(), 1000);
}

/// Waits if the current minute is about to end, so a throttling test runs within one window.
async fn avoid_window_edge() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if secs % 60 >= 55 {
        tokio::time::sleep(Duration::from_secs(61 - secs % 60)).await;
    }
}

async fn forgeries_are_throttled_while_meta_is_not(backend: Backend) {
    avoid_window_edge().await;
    let app = AppBuilder::new(backend)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "3")
        .var("TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await;
    let post = |from: &'static str, body: String, signature: String| {
        app.client
            .post(app.url("/webhooks/whatsapp"))
            .header("x-forwarded-for", from)
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };
    let attacker = "203.0.113.66";
    let meta = "173.252.127.1";
    let body = text_message(&unique("wamid.rl"), "34600111222", "hola");
    let good = sign_sha256_header(SECRET.as_bytes(), body.as_bytes());
    let forged = format!("sha256={}", "ab".repeat(32));
    for remaining in ["2", "1", "0"] {
        let res = post(attacker, body.clone(), forged.clone()).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
    }
    // Budget spent: 429 before any signature work, even for a valid signature from that address.
    let res = post(attacker, body.clone(), good.clone()).await.unwrap();
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "throttled");
    // Meta's many deliveries from another address go through untouched.
    for _ in 0..20 {
        let body = text_message(&unique("wamid.meta"), "34600111222", "hola");
        let sig = sign_sha256_header(SECRET.as_bytes(), body.as_bytes());
        let res = post(meta, body, sig).await.unwrap();
        assert_eq!(res.status(), 200);
        // Every answer says what is left of the budget that applies.
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(res.headers()["x-ratelimit-remaining"], "3");
    }
    assert_eq!(app.store.count_inbox().await.unwrap(), 20);
}
both_backends!(throttling, forgeries_are_throttled_while_meta_is_not);

#[tokio::test]
async fn the_optional_general_limit_throttles_everyone_with_headers() {
    avoid_window_edge().await;
    let app = AppBuilder::new(Backend::Sqlite)
        .var("RATE_LIMIT_PER_MINUTE", "3")
        .spawn()
        .await;
    for remaining in ["2", "1", "0"] {
        let res = app
            .post_whatsapp(text_message(&unique("wamid.gl"), "34600111222", "hola"))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
    }
    let res = app
        .post_whatsapp(text_message(&unique("wamid.gl"), "34600111222", "hola"))
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.store.count_inbox().await.unwrap(), 3);
}

#[tokio::test]
async fn every_request_is_audited_and_rejected_ones_without_their_body() {
    let app = spawn_app(Backend::Postgres).await;
    let body = text_message(&unique("wamid.audit"), "34600111222", "hola");
    assert_eq!(app.post_whatsapp(body.clone()).await.status(), 200);
    assert_eq!(app.post_whatsapp(body.clone()).await.status(), 200);
    assert_eq!(
        app.post_whatsapp_signed_as(body.clone(), Some("sha256=00"))
            .await
            .status(),
        401
    );
    let records = app.audit_records(3).await;
    let outcomes: Vec<&str> = records.iter().rev().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["accepted", "duplicate", "invalid_signature"]);
    let accepted = records.last().unwrap();
    assert_eq!(accepted.status_code, 200);
    assert_eq!(accepted.events_new, 1);
    assert_eq!(accepted.body_bytes, body.len() as i64);
    assert_eq!(accepted.remote_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(records[0].status_code, 401);
    // The audit table has no column for bodies at all.
    let pool = match &app.store {
        salonbot::store::Store::Postgres(pg) => pg.pool().clone(),
        _ => unreachable!(),
    };
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'webhook_audit' AND table_schema = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!columns.is_empty());
    assert!(
        columns
            .iter()
            .all(|(c,)| !c.contains("body") || c == "body_bytes")
    );
}

/// The longest text WhatsApp allows, in characters of several bytes, is stored and listed: what the
/// listings' index holds of it stays within an index entry's limit.
#[tokio::test]
async fn the_longest_message_is_stored_and_found() {
    let app = crate::helpers::AppBuilder::new(Backend::Postgres)
        .var("ADMIN_TOKEN", crate::admin::TOKEN)
        .spawn()
        .await;
    let wamid = unique("wamid.long");
    // Characters that do not compress (an index entry holds a compressed text too).
    let mut seed = 7u32;
    let varied: String = (0..4090)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from_u32(0x4E00 + (seed >> 8) % 0x5000).unwrap()
        })
        .collect();
    let text = format!("tinte {varied}");
    let res = app
        .post_whatsapp(text_message(&wamid, "34600111222", &text))
        .await;
    assert_eq!(res.status(), 200);
    let (status, found) = crate::admin::api(&app, "/api/messages?q=TINTE").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(
        found["data"][0]["text"].as_str().unwrap().chars().count(),
        4096
    );
}

#[tokio::test]
async fn a_message_with_a_nul_character_is_stored_not_refused_forever() {
    // Postgres' jsonb cannot hold U+0000; such a message must still be stored (and acknowledged),
    // or Meta would retry it in vain until it gives up.
    let app = spawn_app(Backend::Postgres).await;
    let wamid = unique("wamid.nul");
    let res = app
        .post_whatsapp(text_message(&wamid, "34600111222", "hola\u{0}mundo"))
        .await;
    assert_eq!(res.status(), 200);
    let event = app
        .store
        .find_inbox_event(Provider::WhatsApp, &wamid)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        event.payload["message"]["text"]["body"],
        "hola\u{fffd}mundo"
    );
}
