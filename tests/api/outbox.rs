//! The outbox and its dispatcher: storage rules on both backends, and sending through the fake Graph API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use salonbot::config::Secret;
use salonbot::store::{NewOutbound, OutboundStatus, Settle, Store};
use salonbot::telemetry::Metrics;
use salonbot::whatsapp::client::{RetryBudget, WhatsAppClient, WhatsAppSender};
use salonbot::worker::outbox::{DispatchOptions, Dispatcher, SendingState};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::both_backends;
use crate::fake_graph::{Answer, FakeGraph, PHONE_NUMBER_ID, TOKEN};
use crate::helpers::{AppBuilder, Backend, TestDb};

pub(crate) fn message(key: &str, recipient: &str, text: &str, at: DateTime<Utc>) -> NewOutbound {
    NewOutbound {
        idempotency_key: key.to_owned(),
        provider: salonbot::store::Provider::WhatsApp,
        business_id: PHONE_NUMBER_ID.to_owned(),
        conversation_key: format!("whatsapp:{PHONE_NUMBER_ID}:{recipient}"),
        recipient: recipient.to_owned(),
        kind: "text".to_owned(),
        payload: json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            "type": "text",
            "text": {"preview_url": false, "body": text}
        }),
        created_at: at,
    }
}

/// Stores messages, as a conversation whose customer just wrote (the 24-hour window is open).
pub(crate) async fn enqueue(
    store: &Store,
    rows: &[NewOutbound],
) -> Result<u64, salonbot::store::StoreError> {
    for row in rows {
        store
            .record_customer_message(
                &row.conversation_key,
                &row.business_id,
                Utc::now(),
                Utc::now(),
            )
            .await?;
    }
    store.enqueue_outbox(rows).await
}

fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::seconds(60)
}

async fn enqueueing_is_idempotent_and_claims_keep_each_recipients_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let batch = [
        message("m1", "+34600000001", "uno", now),
        message("m2", "+34600000002", "dos", now),
        message("m3", "+34600000001", "tres", now),
    ];
    assert_eq!(enqueue(&store, &batch).await.unwrap(), 3);
    assert_eq!(
        enqueue(&store, &batch[..1]).await.unwrap(),
        0,
        "same key, stored once"
    );
    assert_eq!(store.count_outbox_pending().await.unwrap(), 3);

    let claimed = store.claim_outbox(now, lease(now), 10).await.unwrap();
    let keys: Vec<&str> = claimed.iter().map(|m| m.idempotency_key.as_str()).collect();
    assert_eq!(keys, ["m1", "m2"], "one per recipient, oldest first");
    assert!(
        store
            .claim_outbox(now, lease(now), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // m1 must be retried later: m3 waits behind it; the other recipient is unaffected.
    let retry_at = now + chrono::Duration::seconds(30);
    let m1 = &claimed[0];
    assert!(
        store
            .settle_outbox(
                m1.id,
                1,
                Settle::Retry {
                    error: "boom",
                    code: Some(131000),
                    at: retry_at
                },
                now
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .outbox_sent(&[(claimed[1].id, 1, "wamid.2".into())], now)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .claim_outbox(now, lease(now), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_outbox(retry_at, lease(retry_at), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].idempotency_key, "m1");
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("boom"));
    // A stale claim cannot settle it.
    assert_eq!(
        store
            .outbox_sent(&[(m1.id, 1, "x".into())], now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .outbox_sent(&[(m1.id, 2, "wamid.1".into())], retry_at)
            .await
            .unwrap(),
        1
    );
    let next = store
        .claim_outbox(retry_at, lease(retry_at), 10)
        .await
        .unwrap();
    assert_eq!(next[0].idempotency_key, "m3");
}
both_backends!(
    outbox_claims,
    enqueueing_is_idempotent_and_claims_keep_each_recipients_order
);

async fn delivery_statuses_only_move_forward(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    enqueue(&store, &[message("s1", "+34600000009", "hola", now)])
        .await
        .unwrap();
    let m = store
        .claim_outbox(now, lease(now), 1)
        .await
        .unwrap()
        .remove(0);
    store
        .outbox_sent(&[(m.id, 1, "wamid.s1".into())], now)
        .await
        .unwrap();
    let apply = |status| store.apply_delivery_status("wamid.s1", status, None, None, now);
    assert_eq!(apply(OutboundStatus::Read).await.unwrap(), Some(true));
    assert_eq!(
        apply(OutboundStatus::Delivered).await.unwrap(),
        Some(false),
        "late delivered"
    );
    assert_eq!(
        store
            .apply_delivery_status("wamid.unknown", OutboundStatus::Read, None, None, now)
            .await
            .unwrap(),
        None
    );
    let rows = store.outbox_for_recipient("+34600000009").await.unwrap();
    assert_eq!(rows[0].status, OutboundStatus::Read);
    assert_eq!(rows[0].wamid.as_deref(), Some("wamid.s1"));
}
both_backends!(delivery_statuses, delivery_statuses_only_move_forward);

async fn accepted_messages_are_settled_together_and_stale_claims_are_skipped(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("t1", "+34600000011", "uno", now),
            message("t2", "+34600000012", "dos", now),
        ],
    )
    .await
    .unwrap();
    let claimed = store.claim_outbox(now, lease(now), 10).await.unwrap();
    let settled = store
        .outbox_sent(
            &[
                (claimed[0].id, claimed[0].attempts, "wamid.t1".into()),
                (claimed[1].id, claimed[1].attempts + 5, "wamid.t2".into()),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(settled, 1, "the stale claim is skipped");
    let t1 = &store.outbox_for_recipient("+34600000011").await.unwrap()[0];
    assert_eq!(
        (t1.status, t1.wamid.as_deref()),
        (OutboundStatus::Sent, Some("wamid.t1"))
    );
    let t2 = &store.outbox_for_recipient("+34600000012").await.unwrap()[0];
    assert_eq!(t2.status, OutboundStatus::Sending);
}
both_backends!(
    batch_settle,
    accepted_messages_are_settled_together_and_stale_claims_are_skipped
);

async fn a_batch_of_customer_messages_opens_each_window_at_its_latest_message(backend: Backend) {
    use salonbot::store::CustomerMessage;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let a = message("wa", "+34600000061", "hola", now);
    let b = message("wb", "+34600000062", "hola", now);
    // Both wait for their customers (the windows closed a day ago).
    for m in [&a, &b] {
        store
            .record_customer_message(
                &m.conversation_key,
                PHONE_NUMBER_ID,
                now - chrono::Duration::hours(30),
                now,
            )
            .await
            .unwrap();
    }
    store.enqueue_outbox(&[a.clone(), b.clone()]).await.unwrap();
    let claimed = store.claim_outbox(now, lease(now), 10).await.unwrap();
    for m in &claimed {
        store
            .park_outbox(m.id, m.attempts, "outside", None, now)
            .await
            .unwrap();
    }
    let customer = |m: &NewOutbound, minutes_ago: i64| CustomerMessage {
        conversation_key: m.conversation_key.clone(),
        business_id: PHONE_NUMBER_ID.into(),
        at: now - chrono::Duration::minutes(minutes_ago),
    };
    let released = store
        .record_customer_messages(&[customer(&a, 5), customer(&a, 1), customer(&b, 3)], now)
        .await
        .unwrap();
    assert_eq!(released, 2);
    let rows = store.claim_outbox(now, lease(now), 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    let a_row = rows.iter().find(|r| r.recipient == a.recipient).unwrap();
    let last = a_row.last_inbound_at.unwrap();
    assert!(
        (last - (now - chrono::Duration::minutes(1)))
            .num_milliseconds()
            .abs()
            < 2,
        "the latest message counts"
    );
}
both_backends!(
    batch_window,
    a_batch_of_customer_messages_opens_each_window_at_its_latest_message
);

async fn a_batch_of_delivery_statuses_is_applied_together_answering_each(backend: Backend) {
    use salonbot::store::DeliveryStatus;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("d1", "+34600000071", "uno", now),
            message("d2", "+34600000072", "dos", now),
        ],
    )
    .await
    .unwrap();
    let claimed = store.claim_outbox(now, lease(now), 10).await.unwrap();
    let sent: Vec<(i64, i32, String)> = claimed
        .iter()
        .map(|m| (m.id, m.attempts, format!("wamid.{}", m.idempotency_key)))
        .collect();
    store.outbox_sent(&sent, now).await.unwrap();
    let status = |wamid: &str, status, code: Option<i64>| DeliveryStatus {
        wamid: wamid.into(),
        status,
        error: code.map(|c| format!("meta error {c}")),
        code,
    };
    // Read first, so the late `delivered` of d1 below must not move it back.
    store
        .apply_delivery_status("wamid.d1", OutboundStatus::Read, None, None, now)
        .await
        .unwrap();
    let applied = store
        .apply_delivery_statuses(
            &[
                status("wamid.d1", OutboundStatus::Delivered, None),
                status("wamid.unknown", OutboundStatus::Read, None),
                status("wamid.d2", OutboundStatus::Failed, Some(131026)),
            ],
            now,
        )
        .await
        .unwrap();
    assert_eq!(applied, [Some(false), None, Some(true)]);
    let d1 = &store.outbox_for_recipient("+34600000071").await.unwrap()[0];
    assert_eq!(d1.status, OutboundStatus::Read);
    let d2 = &store.outbox_for_recipient("+34600000072").await.unwrap()[0];
    assert_eq!(
        (d2.status, d2.error_code),
        (OutboundStatus::Failed, Some(131026))
    );
}
both_backends!(
    batch_statuses,
    a_batch_of_delivery_statuses_is_applied_together_answering_each
);

pub(crate) fn quick_options() -> DispatchOptions {
    DispatchOptions {
        batch: 64,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        max_attempts: 40,
        base_retry_delay: Duration::from_millis(5),
        max_retry_delay: Duration::from_millis(40),
        probe_every: Duration::from_millis(200),
        reengagement: None,
        gather: Duration::from_millis(5),
    }
}

fn live_sender(graph: &FakeGraph, token: &str) -> WhatsAppSender {
    WhatsAppSender::Live(
        WhatsAppClient::new(
            &graph.base(),
            PHONE_NUMBER_ID,
            Secret::new(token),
            Duration::from_secs(2),
            // No quick retries inside the client: every failure goes back to the outbox.
            RetryBudget {
                initial: Duration::from_millis(1),
                max_interval: Duration::from_millis(1),
                max_elapsed: Duration::from_millis(0),
            },
            Metrics::new(),
        )
        .unwrap(),
    )
}

pub(crate) fn dispatcher(
    store: &Store,
    graph: &FakeGraph,
    options: DispatchOptions,
) -> (Dispatcher, Arc<SendingState>) {
    let state = Arc::new(SendingState::default());
    let d = Dispatcher::new(
        store.clone(),
        live_sender(graph, TOKEN),
        state.clone(),
        Arc::new(Notify::new()),
        options,
    );
    (d, state)
}

/// Runs the dispatcher until nothing is open (or gives up after `limit`).
async fn drain(store: &Store, d: &Dispatcher, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while store.count_outbox_pending().await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox not drained in {limit:?}"
        );
        if d.run_once().await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_with_30_percent_failures_arrive_once_each_in_order() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.fail_share(300);
    let now = Utc::now();
    let messages: Vec<NewOutbound> = (0..1000)
        .map(|i| {
            let recipient = format!("+346000{:05}", i % 200);
            message(&format!("k{i}"), &recipient, &format!("{i:04}"), now)
        })
        .collect();
    enqueue(&store, &messages).await.unwrap();
    let (d, _) = dispatcher(&store, &graph, quick_options());
    drain(&store, &d, Duration::from_secs(60)).await;

    let failures = graph.requests().iter().filter(|r| !r.ok).count();
    assert!(failures > 200, "the fake failed {failures} requests");
    let delivered = graph.delivered();
    assert_eq!(delivered.len(), 1000, "each message accepted exactly once");
    let mut per_recipient: HashMap<String, Vec<String>> = HashMap::new();
    for body in &delivered {
        per_recipient
            .entry(body["to"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["text"]["body"].as_str().unwrap().to_owned());
    }
    assert_eq!(per_recipient.len(), 200);
    for (recipient, texts) in per_recipient {
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted, "{recipient} got its messages out of order");
    }
    for i in [0, 1, 199, 200] {
        let rows = store
            .outbox_for_recipient(&format!("+346000{:05}", i % 200))
            .await
            .unwrap();
        assert!(
            rows.iter()
                .all(|r| r.status == OutboundStatus::Sent && r.wamid.is_some())
        );
    }
}

async fn a_message_that_keeps_failing_is_dead_with_its_error_and_blocks_no_one_else(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.fail_recipient("+34600000666", 503, 2);
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("bad", "+34600000666", "hola", now),
            message("good", "+34600000777", "hola", now),
        ],
    )
    .await
    .unwrap();
    let options = DispatchOptions {
        max_attempts: 3,
        ..quick_options()
    };
    let (d, _) = dispatcher(&store, &graph, options);
    drain(&store, &d, Duration::from_secs(20)).await;
    let bad = store.outbox_for_recipient("+34600000666").await.unwrap();
    assert_eq!(bad[0].status, OutboundStatus::Dead);
    assert_eq!(bad[0].attempts, 3);
    assert_eq!(bad[0].error_code, Some(2));
    assert!(
        bad[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("scripted failure")
    );
    let good = store.outbox_for_recipient("+34600000777").await.unwrap();
    assert_eq!(good[0].status, OutboundStatus::Sent);
}
both_backends!(
    dead,
    a_message_that_keeps_failing_is_dead_with_its_error_and_blocks_no_one_else
);

async fn undeliverable_and_rejected_messages_fail_at_once_and_pair_limits_wait_minutes(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.fail_recipient("+34600000001", 400, 131026);
    graph.fail_recipient("+34600000002", 400, 132001);
    graph.fail_recipient("+34600000003", 400, 131056);
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("a", "+34600000001", "hola", now),
            message("b", "+34600000002", "hola", now),
            message("c", "+34600000003", "hola", now),
        ],
    )
    .await
    .unwrap();
    let (d, _) = dispatcher(&store, &graph, quick_options());
    assert_eq!(d.run_once().await.unwrap(), 3);
    let a = &store.outbox_for_recipient("+34600000001").await.unwrap()[0];
    assert_eq!(
        (a.status, a.error_code),
        (OutboundStatus::Failed, Some(131026))
    );
    let b = &store.outbox_for_recipient("+34600000002").await.unwrap()[0];
    assert_eq!(
        (b.status, b.error_code),
        (OutboundStatus::Failed, Some(132001))
    );
    let c = &store.outbox_for_recipient("+34600000003").await.unwrap()[0];
    assert_eq!(c.status, OutboundStatus::Pending);
    assert!(
        c.next_attempt_at >= now + chrono::Duration::seconds(4),
        "4^1 s for the pair limit"
    );
    assert_eq!(graph.requests().len(), 3, "none retried at once");
}
both_backends!(
    fail_at_once,
    undeliverable_and_rejected_messages_fail_at_once_and_pair_limits_wait_minutes
);

async fn an_invalid_token_pauses_sending_until_a_probe_goes_through(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    // Both messages of the first batch fail, then the first probe fails too.
    graph.script((0..3).map(|_| Answer::MetaError {
        status: 401,
        code: 190,
    }));
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("p1", "+34600000001", "hola", now),
            message("p2", "+34600000002", "hola", now),
        ],
    )
    .await
    .unwrap();
    let (d, state) = dispatcher(&store, &graph, quick_options());
    d.run_once().await.unwrap();
    assert!(
        state.paused().unwrap().contains("access token"),
        "{:?}",
        state.paused()
    );
    // Paused: no attempt was spent, and only one message is tried per probe.
    let rows = store.outbox_for_recipient("+34600000001").await.unwrap();
    assert_eq!(
        (rows[0].status, rows[0].attempts),
        (OutboundStatus::Pending, 0)
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(d.run_once().await.unwrap(), 1);
    assert!(state.paused().is_some(), "a failed probe keeps it paused");
    assert_eq!(graph.requests().len(), 3);
    tokio::time::sleep(Duration::from_millis(250)).await;
    drain(&store, &d, Duration::from_secs(10)).await;
    assert!(state.paused().is_none(), "resumed once the token works");
    for r in ["+34600000001", "+34600000002"] {
        assert_eq!(
            store.outbox_for_recipient(r).await.unwrap()[0].status,
            OutboundStatus::Sent
        );
    }
}
both_backends!(
    paused,
    an_invalid_token_pauses_sending_until_a_probe_goes_through
);

#[tokio::test]
async fn a_dispatcher_that_dies_mid_batch_loses_nothing() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    let messages: Vec<NewOutbound> = (0..50)
        .map(|i| message(&format!("c{i}"), &format!("+3460000{:04}", i), "hola", now))
        .collect();
    enqueue(&store, &messages).await.unwrap();
    // A dispatcher claims a batch and dies before settling it.
    let short = now + chrono::Duration::milliseconds(200);
    let lost = store.claim_outbox(now, short, 20).await.unwrap();
    assert_eq!(lost.len(), 20);
    // Another one takes everything over once the lease has ended.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (d, _) = dispatcher(&store, &graph, quick_options());
    drain(&store, &d, Duration::from_secs(20)).await;
    assert_eq!(graph.delivered().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_status_webhooks_move_sent_messages_along() {
    let graph = FakeGraph::start().await;
    let app = AppBuilder::new(Backend::Postgres)
        .var("WHATSAPP_ACCESS_TOKEN", TOKEN)
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .var("WHATSAPP_API_BASE", &graph.base())
        .spawn()
        .await;
    let now = Utc::now();
    enqueue(
        &app.store,
        &[
            message("w1", "+16505551234", "Tu cita está confirmada", now),
            message("w2", "+16505559999", "Recordatorio", now),
        ],
    )
    .await
    .unwrap();
    // The app's own dispatcher sends them.
    let sent = wait_for(|| async {
        let rows = [
            app.store
                .outbox_for_recipient("+16505551234")
                .await
                .unwrap(),
            app.store
                .outbox_for_recipient("+16505559999")
                .await
                .unwrap(),
        ];
        rows.iter()
            .all(|r| r[0].status == OutboundStatus::Sent)
            .then(|| rows.map(|r| r[0].wamid.clone().unwrap()))
    })
    .await;

    let status = |wamid: &str, status: &str, recipient: &str, errors: Option<Value>| {
        let mut s = json!({"id": wamid, "status": status, "timestamp": "1751142888", "recipient_id": recipient});
        if let Some(errors) = errors {
            s["errors"] = errors;
        }
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                      "statuses": [s]}}]}]})
        .to_string()
    };
    let res = app
        .post_whatsapp(status(&sent[0], "delivered", "16505551234", None))
        .await;
    assert_eq!(res.status(), 200);
    app.post_whatsapp(status(&sent[0], "read", "16505551234", None))
        .await;
    app.post_whatsapp(status(
        &sent[1],
        "failed",
        "16505559999",
        Some(json!([{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}])),
    ))
    .await;

    wait_for(|| async {
        let a = &app
            .store
            .outbox_for_recipient("+16505551234")
            .await
            .unwrap()[0];
        let b = &app
            .store
            .outbox_for_recipient("+16505559999")
            .await
            .unwrap()[0];
        (a.status == OutboundStatus::Read && b.status == OutboundStatus::Failed).then_some(())
    })
    .await;
    let b = &app
        .store
        .outbox_for_recipient("+16505559999")
        .await
        .unwrap()[0];
    assert_eq!(b.error_code, Some(131049));
    assert!(
        b.last_error
            .as_deref()
            .unwrap()
            .contains("healthy ecosystem")
    );
}

#[tokio::test]
async fn without_a_token_the_app_records_messages_as_sent_and_sends_nothing() {
    let graph = FakeGraph::start().await;
    let app = AppBuilder::new(Backend::Sqlite)
        .var("WHATSAPP_API_BASE", &graph.base())
        .spawn()
        .await;
    enqueue(
        &app.store,
        &[message("sb", "+34600000001", "hola", Utc::now())],
    )
    .await
    .unwrap();
    let wamid = wait_for(|| async {
        let row = app
            .store
            .outbox_for_recipient("+34600000001")
            .await
            .unwrap()
            .remove(0);
        (row.status == OutboundStatus::Sent).then_some(row.wamid)
    })
    .await;
    assert!(wamid.unwrap().starts_with("sandbox."));
    assert!(graph.requests().is_empty());
}

async fn a_paused_sender_makes_the_app_unready_with_the_reason(backend: Backend) {
    let graph = FakeGraph::start().await;
    graph.script((0..50).map(|_| Answer::MetaError {
        status: 401,
        code: 190,
    }));
    let app = AppBuilder::new(backend)
        .var("WHATSAPP_ACCESS_TOKEN", TOKEN)
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .var("WHATSAPP_API_BASE", &graph.base())
        .spawn()
        .await;
    enqueue(
        &app.store,
        &[message("t", "+34600000001", "hola", Utc::now())],
    )
    .await
    .unwrap();
    let reasons = wait_for(|| async {
        let res = app.get("/health/ready").await;
        let body: Value = res.json().await.unwrap();
        body["reasons"]
            .as_array()
            .filter(|r| {
                r.iter()
                    .any(|x| x.as_str().unwrap_or_default().contains("paused"))
            })
            .cloned()
    })
    .await;
    assert!(
        reasons
            .iter()
            .any(|r| r.as_str().unwrap().contains("access token"))
    );
}
both_backends!(
    paused_unready,
    a_paused_sender_makes_the_app_unready_with_the_reason
);

#[tokio::test]
async fn a_long_reply_leaves_as_several_messages_in_order_and_long_titles_are_shortened() {
    use salonbot::whatsapp::messages::{MessageBody, OutboundMessage, Recipient, ReplyButton};
    use salonbot::worker::outbox::rows_for;

    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let sentence = "Gracias por reservar con nosotros, te esperamos en el salón. ";
    let long = sentence.repeat(150); // about 9,000 characters
    let to = Recipient::phone("+34600000042");
    let now = Utc::now();
    let (rows, changes) = rows_for(
        OutboundMessage::new(to.clone(), MessageBody::text(long.clone())),
        "turn-7.reply",
        PHONE_NUMBER_ID,
        "whatsapp:x:+34600000042",
        now,
    );
    assert_eq!(rows.len(), 3);
    assert!(!changes.is_empty(), "the split is reported");
    let (buttons, changes) = rows_for(
        OutboundMessage::new(
            to,
            MessageBody::Buttons {
                header: None,
                body: "¿Confirmas la cita?".into(),
                footer: None,
                buttons: vec![
                    ReplyButton::new("confirm", "Sí, confirmar la cita de corte"),
                    ReplyButton::new("cancel", "No"),
                ],
            },
        ),
        "turn-7.confirm",
        PHONE_NUMBER_ID,
        "whatsapp:x:+34600000042",
        now,
    );
    assert_eq!(changes.len(), 1, "one title shortened: {changes:?}");
    enqueue(&store, &rows).await.unwrap();
    enqueue(&store, &buttons).await.unwrap();
    // Written again (a retried turn): nothing doubles.
    enqueue(&store, &rows).await.unwrap();

    let (d, _) = dispatcher(&store, &graph, quick_options());
    drain(&store, &d, Duration::from_secs(10)).await;
    let delivered = graph.delivered();
    assert_eq!(delivered.len(), 4);
    let texts: Vec<&str> = delivered[..3]
        .iter()
        .map(|b| b["text"]["body"].as_str().unwrap())
        .collect();
    assert!(texts.iter().all(|t| t.chars().count() <= 4096));
    assert_eq!(
        texts.join(" ").split_whitespace().count(),
        long.split_whitespace().count()
    );
    assert_eq!(delivered[3]["type"], "interactive");
    let title = delivered[3]["interactive"]["action"]["buttons"][0]["reply"]["title"]
        .as_str()
        .unwrap();
    assert!(
        title.chars().count() <= 20 && title.ends_with('…'),
        "{title}"
    );
}

fn reengagement() -> salonbot::config::Reengagement {
    salonbot::config::Reengagement {
        template: "reabrir_conversacion".into(),
        language: "es".into(),
    }
}

async fn outside_the_window_messages_wait_for_the_customer_and_one_template_goes_instead(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    let first = message("late1", "+34600000031", "Tu cita de mañana", now);
    let second = message("late2", "+34600000031", "¿Te la confirmo?", now);
    // The customer last wrote 25 hours ago.
    store
        .record_customer_message(
            &first.conversation_key,
            PHONE_NUMBER_ID,
            now - chrono::Duration::hours(25),
            now,
        )
        .await
        .unwrap();
    store
        .enqueue_outbox(&[first.clone(), second])
        .await
        .unwrap();
    let (d, _) = dispatcher(
        &store,
        &graph,
        DispatchOptions {
            reengagement: Some(reengagement()),
            ..quick_options()
        },
    );
    drain(&store, &d, Duration::from_secs(10)).await;
    let delivered = graph.delivered();
    assert_eq!(
        delivered.len(),
        1,
        "one invitation, not one per waiting message: {delivered:?}"
    );
    assert_eq!(delivered[0]["type"], "template");
    assert_eq!(delivered[0]["to"], "+34600000031");
    assert_eq!(delivered[0]["template"]["name"], "reabrir_conversacion");
    assert_eq!(delivered[0]["template"]["language"]["code"], "es");
    let rows = store.outbox_for_recipient("+34600000031").await.unwrap();
    let waiting: Vec<_> = rows
        .iter()
        .filter(|r| r.status == OutboundStatus::Waiting)
        .collect();
    assert_eq!(waiting.len(), 2);
    assert!(waiting.iter().all(|r| r.error_code == Some(131047)));

    // The customer answers: the window is open again and the waiting messages leave, in order.
    let released = store
        .record_customer_message(
            &first.conversation_key,
            PHONE_NUMBER_ID,
            Utc::now(),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(released, 2);
    drain(&store, &d, Duration::from_secs(10)).await;
    let texts: Vec<String> = graph.delivered()[1..]
        .iter()
        .map(|b| b["text"]["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["Tu cita de mañana", "¿Te la confirmo?"]);
}
both_backends!(
    window,
    outside_the_window_messages_wait_for_the_customer_and_one_template_goes_instead
);

async fn outside_the_window_without_a_template_the_message_fails_saying_why(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    store
        .enqueue_outbox(&[message("never", "+34600000032", "hola", Utc::now())])
        .await
        .unwrap();
    let (d, _) = dispatcher(&store, &graph, quick_options());
    d.run_once().await.unwrap();
    let row = &store.outbox_for_recipient("+34600000032").await.unwrap()[0];
    assert_eq!(row.status, OutboundStatus::Failed);
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("WHATSAPP_REENGAGEMENT_TEMPLATE")
    );
    assert!(
        graph.requests().is_empty(),
        "a free-form message outside the window is not attempted"
    );
}
both_backends!(
    window_without_template,
    outside_the_window_without_a_template_the_message_fails_saying_why
);

#[tokio::test]
async fn when_meta_says_131047_the_message_waits_and_the_template_goes() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    graph.script([Answer::MetaError {
        status: 400,
        code: 131047,
    }]);
    enqueue(
        &store,
        &[message("skew", "+34600000033", "hola", Utc::now())],
    )
    .await
    .unwrap();
    let (d, _) = dispatcher(
        &store,
        &graph,
        DispatchOptions {
            reengagement: Some(reengagement()),
            ..quick_options()
        },
    );
    drain(&store, &d, Duration::from_secs(10)).await;
    let rows = store.outbox_for_recipient("+34600000033").await.unwrap();
    assert_eq!(rows[0].status, OutboundStatus::Waiting);
    assert_eq!(rows[1].kind, "template");
    assert_eq!(rows[1].status, OutboundStatus::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_131047_status_sends_the_template_and_the_message_again_when_the_customer_writes()
{
    let graph = FakeGraph::start().await;
    let app = AppBuilder::new(Backend::Postgres)
        .var("WHATSAPP_ACCESS_TOKEN", TOKEN)
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .var("WHATSAPP_API_BASE", &graph.base())
        .var("WHATSAPP_REENGAGEMENT_TEMPLATE", "reabrir_conversacion")
        .var("WHATSAPP_REENGAGEMENT_LANGUAGE", "pt_BR")
        .spawn()
        .await;
    let row = message("again", "+5511987654321", "Olá! Sua reserva", Utc::now());
    enqueue(&app.store, std::slice::from_ref(&row))
        .await
        .unwrap();
    let wamid = wait_for(|| async {
        let r = app
            .store
            .outbox_for_recipient("+5511987654321")
            .await
            .unwrap()
            .remove(0);
        r.wamid.filter(|_| r.status == OutboundStatus::Sent)
    })
    .await;
    // Meta reports it undelivered: the customer's window had closed.
    let failed = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                  "statuses": [{"id": wamid, "status": "failed", "timestamp": "1751142888", "recipient_id": "5511987654321",
                                "errors": [{"code": 131047, "title": "Re-engagement message"}]}]}}]}]});
    assert_eq!(app.post_whatsapp(failed.to_string()).await.status(), 200);
    wait_for(|| async {
        graph
            .delivered()
            .iter()
            .any(|b| {
                b["template"]["name"] == "reabrir_conversacion"
                    && b["template"]["language"]["code"] == "pt_BR"
            })
            .then_some(())
    })
    .await;
    // The customer writes back (a real webhook): the message goes out again.
    let reply = crate::helpers::text_message("wamid.reply.1", "5511987654321", "oi");
    let reply = reply.replace("106540352242922", PHONE_NUMBER_ID);
    assert_eq!(app.post_whatsapp(reply).await.status(), 200);
    wait_for(|| async {
        let texts = graph
            .delivered()
            .iter()
            .filter(|b| b["text"]["body"] == "Olá! Sua reserva")
            .count();
        (texts == 2).then_some(())
    })
    .await;
    // Settled once Meta's answer is stored: sent again, under a new wamid.
    let resent = wait_for(|| async {
        let r = app
            .store
            .outbox_for_recipient("+5511987654321")
            .await
            .unwrap()
            .remove(0);
        (r.status == OutboundStatus::Sent && r.wamid.as_deref() != Some(wamid.as_str()))
            .then_some(r)
    })
    .await;
    assert!(resent.wamid.is_some());
}

#[tokio::test]
async fn a_customers_messages_leave_a_gap_apart() {
    use salonbot::worker::pacing::Pacer;
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    enqueue(
        &store,
        &[
            message("g1", "+34600000051", "uno", now),
            message("g2", "+34600000051", "dos", now),
            message("g3", "+34600000051", "tres", now),
        ],
    )
    .await
    .unwrap();
    let gap = Duration::from_millis(300);
    let (d, _) = dispatcher(&store, &graph, quick_options());
    let d = d.with_pacer(Arc::new(Pacer::new(PHONE_NUMBER_ID, 0, gap, None)));
    let started = std::time::Instant::now();
    drain(&store, &d, Duration::from_secs(10)).await;
    let sent: Vec<_> = graph.requests().into_iter().filter(|r| r.ok).collect();
    assert_eq!(sent.len(), 3);
    // The pacer lets each message go at least `gap` after the one before, and a message reaches the
    // fake only after it was let go: the n-th (from 0) arrives at least n gaps after the start, however
    // long each request took on the way. Only lower bounds, which no slow machine can break; unpaced,
    // all three would arrive milliseconds after the start.
    for (n, request) in sent.iter().enumerate() {
        let after = request.at - started;
        let least = gap * u32::try_from(n).unwrap();
        assert!(
            after >= least,
            "message {n} arrived {after:?} after the start"
        );
    }
    let rows = store.outbox_for_recipient("+34600000051").await.unwrap();
    assert!(
        rows.iter().all(|r| r.attempts == 1),
        "waiting for the gap spends no attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_numbers_send_rate_is_shared_by_every_dispatcher_through_redis() {
    use salonbot::cache::Redis;
    use salonbot::worker::pacing::Pacer;
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let graph = FakeGraph::start().await;
    let now = Utc::now();
    let messages: Vec<NewOutbound> = (0..40)
        .map(|i| message(&format!("r{i}"), &format!("+3460001{i:04}"), "hola", now))
        .collect();
    enqueue(&store, &messages).await.unwrap();
    let prefix = format!("salonbot-test:{}:", uuid::Uuid::new_v4().simple());
    let redis = Redis::new(
        &Secret::new(crate::helpers::redis_url()),
        &prefix,
        Metrics::new(),
    )
    .unwrap();
    // Two instances, each with its own dispatcher and pacer, one shared budget of 10 a second.
    // Small batches, so that both dispatchers have messages in hand at once.
    let small = || DispatchOptions {
        batch: 5,
        ..quick_options()
    };
    let (a, _) = dispatcher(&store, &graph, small());
    let (b, _) = dispatcher(&store, &graph, small());
    let pacer = || {
        Arc::new(Pacer::new(
            PHONE_NUMBER_ID,
            10,
            Duration::ZERO,
            Some(redis.clone()),
        ))
    };
    let (a, b) = (a.with_pacer(pacer()), b.with_pacer(pacer()));
    let started = tokio::time::Instant::now();
    tokio::join!(
        drain(&store, &a, Duration::from_secs(20)),
        drain(&store, &b, Duration::from_secs(20))
    );
    let elapsed = started.elapsed();
    assert_eq!(graph.delivered().len(), 40);
    // 40 messages at 10 a second need four one-second windows: at least two whole seconds after the
    // first boundary. Two pacers allowing 10 a second each would have needed two windows, under
    // about a second.
    assert!(elapsed >= Duration::from_millis(1950), "took {elapsed:?}");
}

/// Polls `check` until it gives a value (10 s at most).
async fn wait_for<T, F, Fut>(check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    crate::helpers::wait_until(Duration::from_secs(10), "the condition", check).await
}
