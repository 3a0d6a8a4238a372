//! Delivery statuses beside the customer's messages: a status waiting for its message (or for a
//! message the bot never sent) never holds the customer up, and one that matches nothing is let go
//! after a short wait, counted.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use salonbot::store::{InboxStatus, Provider, Store};
use salonbot::telemetry::Metrics;
use salonbot::whatsapp::webhook::NotificationIn;
use salonbot::worker::inbox::{InboxHandler, InboxWorker, WorkerOptions};
use tokio::sync::Notify;

use crate::both_backends;
use crate::helpers::{Backend, TestDb, fixture, inbox_handler, spawn_app, text_message};

/// The `sent` status in the fixture: of a message this bot never sent, to +1 650 555 1234.
const STATUS_ID: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=:sent";

async fn a_status_of_an_unknown_message_does_not_hold_up_the_customer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.post_whatsapp(fixture("10_status_sent.json"))
            .await
            .status(),
        200
    );
    let message = text_message("wamid.after-status", "16505551234", "hola");
    assert_eq!(app.post_whatsapp(message).await.status(), 200);

    // The customer's message is answered (its turn committed) while the status still waits for a
    // message with its id.
    let key = "whatsapp:106540352242922:+16505551234";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let turned = |stored: Option<salonbot::store::StoredConversation>| {
        stored.is_some_and(|c| c.state.is_some())
    };
    while !turned(app.store.conversation_state(key).await.unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the customer's message waited behind the status"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = status_event(&app.store).await;
    assert_ne!(status.status, InboxStatus::Done, "still waiting meanwhile");
    assert_eq!(status.conversation_key, format!("{key}/statuses"));
}
both_backends!(
    status_beside_messages,
    a_status_of_an_unknown_message_does_not_hold_up_the_customer
);

fn status_worker(store: &Store, metrics: &Metrics, wait: Duration) -> InboxWorker<InboxHandler> {
    InboxWorker::new(
        store.clone(),
        inbox_handler(store, metrics).with_status_wait(wait),
        Arc::new(Notify::new()),
        WorkerOptions::default(),
    )
}

async fn stored_status(store: &Store, received_ago: chrono::Duration) {
    let notification: NotificationIn =
        serde_json::from_str(&fixture("10_status_sent.json")).unwrap();
    let events =
        salonbot::ingress::whatsapp::inbox_events(notification, Utc::now() - received_ago).unwrap();
    store.record_inbound(&events).await.unwrap();
}

async fn status_event(store: &Store) -> salonbot::store::InboxEvent {
    store
        .find_inbox_event(Provider::WhatsApp, STATUS_ID)
        .await
        .unwrap()
        .unwrap()
}

fn unmatched(metrics: &Metrics) -> Option<String> {
    metrics
        .render()
        .lines()
        .find(|l| l.starts_with("salonbot_delivery_statuses_unmatched_total"))
        .map(str::to_owned)
}

async fn a_status_that_matches_no_message_is_let_go_after_the_wait_and_counted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let metrics = Metrics::new();
    let worker = status_worker(&store, &metrics, Duration::from_secs(30));

    // Just arrived: its message may not be settled yet, so it is tried again shortly.
    stored_status(&store, chrono::Duration::zero()).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let status = status_event(&store).await;
    assert_eq!(status.status, InboxStatus::Failed);
    assert!(
        status.last_error.unwrap().contains("no outbound message"),
        "retried for its message"
    );
    assert_eq!(unmatched(&metrics), None);

    // Once it has waited long enough, it is let go and counted.
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let worker = status_worker(&store, &metrics, Duration::from_secs(30));
    stored_status(&store, chrono::Duration::seconds(31)).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let status = status_event(&store).await;
    assert_eq!(status.status, InboxStatus::Done);
    assert_eq!(status.attempts, 1, "at its first try");
    assert_eq!(
        unmatched(&metrics).as_deref(),
        Some("salonbot_delivery_statuses_unmatched_total 1")
    );
}
both_backends!(
    unmatched_status,
    a_status_that_matches_no_message_is_let_go_after_the_wait_and_counted
);
