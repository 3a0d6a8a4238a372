//! The inbox worker: one conversation in order, many in parallel, across several workers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use salonbot::store::{
    EventKind, InboxEvent, InboxStatus, NewInboxEvent, NewOutbound, OutboundStatus, Provider,
};
use salonbot::worker::inbox::{EventHandler, Handled, InboxWorker, Outcome, RETRY, WorkerOptions};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::both_backends;
use crate::helpers::{Backend, TestDb, wait_until};

/// Records the order in which events are handled, and fails if two events of one conversation overlap.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    overlaps: Arc<Mutex<u32>>,
    max_parallel: Arc<Mutex<usize>>,
}

impl EventHandler for Recorder {
    async fn handle(&self, event: &InboxEvent) -> Outcome {
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            if !in_flight.insert(event.conversation_key.clone()) {
                *self.overlaps.lock().unwrap() += 1;
            }
            let mut max = self.max_parallel.lock().unwrap();
            *max = (*max).max(in_flight.len());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.seen.lock().unwrap().push((
            event.conversation_key.clone(),
            event.provider_event_id.clone(),
        ));
        self.in_flight
            .lock()
            .unwrap()
            .remove(&event.conversation_key);
        Ok(Handled::Done)
    }
}

async fn events_of_one_conversation_run_in_order_across_workers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    // 5 conversations, 20 events each, interleaved as they would arrive.
    let mut batch = Vec::new();
    for n in 0..20 {
        for c in 0..5 {
            batch.push(NewInboxEvent {
                said: None,
                provider: Provider::WhatsApp,
                provider_event_id: format!("c{c}-{n:02}"),
                business_id: "b".into(),
                conversation_key: format!("conv{c}"),
                kind: EventKind::Message,
                payload: "{}".into(),
                received_at: now,
            });
        }
    }
    store.record_inbound(&batch).await.unwrap();

    let recorder = Recorder::default();
    let (stop, stop_rx) = watch::channel(false);
    let options = WorkerOptions {
        batch: 4,
        poll: Duration::from_millis(20),
        ..WorkerOptions::default()
    };
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let worker = InboxWorker::new(
                store.clone(),
                recorder.clone(),
                Arc::new(Notify::new()),
                options.clone(),
            );
            tokio::spawn(worker.run(stop_rx.clone()))
        })
        .collect();

    for _ in 0..500 {
        if recorder.seen.lock().unwrap().len() == 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }

    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 100, "every event handled once");
    let mut per_conversation: HashMap<String, Vec<String>> = HashMap::new();
    for (conversation, id) in seen {
        per_conversation.entry(conversation).or_default().push(id);
    }
    for (conversation, ids) in per_conversation {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{conversation} handled out of order");
    }
    assert_eq!(
        *recorder.overlaps.lock().unwrap(),
        0,
        "one conversation, one lane"
    );
    assert!(
        *recorder.max_parallel.lock().unwrap() > 1,
        "conversations run in parallel"
    );
    let done = store.conversation_events("conv3").await.unwrap();
    assert!(done.iter().all(|e| e.status == InboxStatus::Done));
}
both_backends!(
    ordering,
    events_of_one_conversation_run_in_order_across_workers
);

struct AlwaysFails;

impl EventHandler for AlwaysFails {
    async fn handle(&self, _event: &InboxEvent) -> Outcome {
        Err("handler exploded".into())
    }
}

#[tokio::test]
async fn a_failing_event_is_retried_then_dead_with_its_error() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    store
        .record_inbound(&[NewInboxEvent {
            said: None,
            provider: Provider::WhatsApp,
            provider_event_id: "bad".into(),
            business_id: "b".into(),
            conversation_key: "k".into(),
            kind: EventKind::Message,
            payload: "{}".into(),
            received_at: Utc::now(),
        }])
        .await
        .unwrap();
    let metrics = salonbot::telemetry::Metrics::new();
    let worker = InboxWorker::new(
        store.clone(),
        AlwaysFails,
        Arc::new(Notify::new()),
        WorkerOptions {
            max_attempts: 1,
            ..WorkerOptions::default()
        },
    )
    .with_metrics(metrics.clone());
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let event = store
        .find_inbox_event(Provider::WhatsApp, "bad")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.status, InboxStatus::Dead);
    assert_eq!(event.last_error.as_deref(), Some("handler exploded"));
    assert!(
        metrics
            .render()
            .contains("salonbot_dead_letters_total{queue=\"inbox\"} 1"),
        "the dead letter is counted"
    );
}

/// Operators list dead events and put them back in their lane, where they are handled again.
async fn a_dead_event_can_be_listed_and_replayed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    store
        .record_inbound(&[NewInboxEvent {
            said: None,
            provider: Provider::WhatsApp,
            provider_event_id: "doomed".into(),
            business_id: "b".into(),
            conversation_key: "k".into(),
            kind: EventKind::Message,
            payload: "{}".into(),
            received_at: Utc::now(),
        }])
        .await
        .unwrap();
    let options = WorkerOptions {
        max_attempts: 1,
        ..WorkerOptions::default()
    };
    let failing = InboxWorker::new(
        store.clone(),
        AlwaysFails,
        Arc::new(Notify::new()),
        options.clone(),
    );
    failing.run_once().await.unwrap();
    let dead = store.dead_inbox(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("handler exploded"));
    assert_eq!(
        failing.run_once().await.unwrap(),
        0,
        "dead events are not claimed"
    );

    assert!(store.replay_inbox(dead[0].id, Utc::now()).await.unwrap());
    assert!(
        !store.replay_inbox(dead[0].id, Utc::now()).await.unwrap(),
        "only dead events"
    );
    let recorder = Recorder::default();
    let working = InboxWorker::new(
        store.clone(),
        recorder.clone(),
        Arc::new(Notify::new()),
        options,
    );
    assert_eq!(working.run_once().await.unwrap(), 1);
    let event = store
        .find_inbox_event(Provider::WhatsApp, "doomed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.status, InboxStatus::Done);
    assert_eq!(event.attempts, 1, "a fresh retry budget");
    assert!(store.dead_inbox(10).await.unwrap().is_empty());
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);
}
both_backends!(replay, a_dead_event_can_be_listed_and_replayed);

fn message(id: &str, conversation: &str) -> NewInboxEvent {
    NewInboxEvent {
        said: None,
        provider: Provider::WhatsApp,
        provider_event_id: id.into(),
        business_id: "b".into(),
        conversation_key: conversation.into(),
        kind: EventKind::Message,
        payload: "{}".into(),
        received_at: Utc::now(),
    }
}

/// After a full batch the worker claims again at once; after a part-full one it lets events gather
/// for `gather` first, however it is woken.
async fn a_part_full_batch_lets_the_next_gather(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    // Three conversations: a full batch of two, then a part-full batch of one.
    store
        .record_inbound(&[message("a", "c1"), message("b", "c2"), message("c", "c3")])
        .await
        .unwrap();
    let recorder = Recorder::default();
    let wake = Arc::new(Notify::new());
    let (stop, stop_rx) = watch::channel(false);
    let worker = InboxWorker::new(
        store.clone(),
        recorder.clone(),
        wake.clone(),
        WorkerOptions {
            batch: 2,
            poll: Duration::from_millis(20),
            gather: Duration::from_secs(30),
            ..WorkerOptions::default()
        },
    );
    let running = tokio::spawn(worker.run(stop_rx));
    for _ in 0..250 {
        if recorder.seen.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recorder.seen.lock().unwrap().len(),
        3,
        "the batch after a full one is claimed at once, not after the gathering time"
    );

    // The last batch was part-full: a new event waits, even when the worker is woken for it.
    store.record_inbound(&[message("d", "c4")]).await.unwrap();
    wake.notify_one();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.seen.lock().unwrap().len(), 3, "still gathering");
    let pending = store.conversation_events("c4").await.unwrap();
    assert_eq!(pending[0].status, InboxStatus::Pending);

    // Shutting down does not wait for the gathering time to pass.
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops while gathering")
        .unwrap();
}
both_backends!(gather, a_part_full_batch_lets_the_next_gather);

/// Fails each event the first time it is handled, and handles it the second time.
#[derive(Clone, Default)]
struct FailsOnce {
    tries: Arc<Mutex<HashMap<String, u32>>>,
}

impl EventHandler for FailsOnce {
    async fn handle(&self, event: &InboxEvent) -> Outcome {
        let mut tries = self.tries.lock().unwrap();
        let tried = tries.entry(event.provider_event_id.clone()).or_default();
        *tried += 1;
        if *tried == 1 {
            Err("not this time".into())
        } else {
            Ok(Handled::Done)
        }
    }
}

/// Runs the worker until the event `id` is settled (done or dead), within a deadline.
async fn run_until_settled<H: EventHandler>(
    worker: &InboxWorker<H>,
    store: &salonbot::store::Store,
    id: &str,
) -> InboxEvent {
    wait_until(Duration::from_secs(15), "the event settled", || async {
        worker.run_once().await.unwrap();
        store
            .find_inbox_event(Provider::WhatsApp, id)
            .await
            .unwrap()
            .filter(|e| matches!(e.status, InboxStatus::Done | InboxStatus::Dead))
    })
    .await
}

/// A handler that fails leaves the event `failed` until its retry time, when the worker claims it
/// again; handled then, it is done after two attempts.
async fn an_event_that_fails_once_is_retried_after_its_delay_and_done(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    store
        .record_inbound(&[message("flaky", "k")])
        .await
        .unwrap();
    let handler = FailsOnce::default();
    let worker = InboxWorker::new(
        store.clone(),
        handler.clone(),
        Arc::new(Notify::new()),
        WorkerOptions::default(),
    );

    // SQLite keeps times to the millisecond: compare from the millisecond before.
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let failed = store
        .find_inbox_event(Provider::WhatsApp, "flaky")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.status, InboxStatus::Failed, "{failed:?}");
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("not this time"));
    let delay = chrono::Duration::from_std(RETRY.delay(1)).unwrap();
    assert!(
        failed.next_attempt_at >= before + delay,
        "retried no sooner than {delay} after the failure: {failed:?}"
    );

    let done = run_until_settled(&worker, &store, "flaky").await;
    assert_eq!(done.status, InboxStatus::Done, "{done:?}");
    assert_eq!(done.attempts, 2);
    assert_eq!(done.last_error, None);
    assert_eq!(handler.tries.lock().unwrap()["flaky"], 2);
}
both_backends!(
    retry_after_failure,
    an_event_that_fails_once_is_retried_after_its_delay_and_done
);

/// Meta may report a status before the dispatcher has stored the wamid Meta just gave it: the status
/// is tried again shortly, and applied once the wamid is stored.
async fn a_status_ahead_of_its_wamid_is_retried_and_applied_once_the_wamid_is_stored(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let reply = NewOutbound {
        idempotency_key: "turn:1:0.0".into(),
        provider: salonbot::store::Provider::WhatsApp,
        business_id: "106540352242922".into(),
        conversation_key: "whatsapp:106540352242922:+34600000123".into(),
        recipient: "+34600000123".into(),
        kind: "text".into(),
        payload: json!({"type": "text", "text": {"body": "hola"}}),
        created_at: now,
    };
    store
        .record_customer_message(&reply.conversation_key, &reply.business_id, now, now)
        .await
        .unwrap();
    store
        .enqueue_outbox(std::slice::from_ref(&reply))
        .await
        .unwrap();
    // A dispatcher has the message in hand: Meta accepted it, its wamid is not stored yet.
    let sending = store
        .claim_outbox(now, now + chrono::Duration::seconds(60), 1)
        .await
        .unwrap()
        .remove(0);
    let wamid = "wamid.early";
    store
        .record_inbound(&[NewInboxEvent {
            said: None,
            provider: Provider::WhatsApp,
            provider_event_id: format!("{wamid}:delivered"),
            business_id: reply.business_id.clone(),
            conversation_key: reply.conversation_key.clone(),
            kind: EventKind::Status,
            payload: json!({
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "status": {"id": wamid, "status": "delivered", "timestamp": "1751142888",
                           "recipient_id": "34600000123"}
            })
            .to_string(),
            received_at: now,
        }])
        .await
        .unwrap();
    let worker = InboxWorker::new(
        store.clone(),
        crate::helpers::inbox_handler(&store, &salonbot::telemetry::Metrics::new()),
        Arc::new(Notify::new()),
        WorkerOptions::default(),
    );

    // SQLite keeps times to the millisecond: compare from the millisecond before.
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let id = format!("{wamid}:delivered");
    let waiting = store
        .find_inbox_event(Provider::WhatsApp, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waiting.status, InboxStatus::Failed, "{waiting:?}");
    assert!(
        waiting.last_error.as_deref().unwrap().contains(wamid),
        "{waiting:?}"
    );
    let delay = chrono::Duration::from_std(RETRY.delay(1)).unwrap();
    assert!(waiting.next_attempt_at >= before + delay, "{waiting:?}");

    // The dispatcher stores Meta's answer; the status applies on its next attempt.
    assert_eq!(
        store
            .outbox_sent(&[(sending.id, sending.attempts, wamid.into())], Utc::now())
            .await
            .unwrap(),
        1
    );
    let applied = run_until_settled(&worker, &store, &id).await;
    assert_eq!(applied.status, InboxStatus::Done, "{applied:?}");
    assert_eq!(applied.attempts, 2);
    let row = store.outbox_for_recipient(&reply.recipient).await.unwrap();
    assert_eq!(row[0].status, OutboundStatus::Delivered);
}
both_backends!(
    status_before_wamid,
    a_status_ahead_of_its_wamid_is_retried_and_applied_once_the_wamid_is_stored
);
