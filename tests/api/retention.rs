//! Retention of the queues (`QUEUE_RETENTION_DAYS`): old done inbox events and settled outbox
//! messages are removed in rounds, open ones never, and a removed event's redelivery is still a
//! duplicate.

use std::time::Duration;

use chrono::{DateTime, Utc};
use salonbot::store::{
    EventKind, InboxStatus, NewInboxEvent, OutboundStatus, Provider, Settle, Store,
};

use crate::both_backends;
use crate::helpers::{AppBuilder, Backend, TestDb, text_message, wait_until};
use crate::outbox::message;

const BUSINESS: &str = "106540352242922";

fn event(id: &str, at: DateTime<Utc>) -> NewInboxEvent {
    NewInboxEvent {
        said: None,
        provider: Provider::WhatsApp,
        provider_event_id: id.to_owned(),
        business_id: BUSINESS.to_owned(),
        conversation_key: format!("whatsapp:{BUSINESS}:+346000000{}", id.len()),
        kind: EventKind::Message,
        payload: format!(r#"{{"id":"{id}"}}"#),
        received_at: at,
    }
}

/// Stores `ids` received at `at` and handles them (done at `at`), one claim at a time.
async fn handled(store: &Store, ids: &[&str], at: DateTime<Utc>) {
    let events: Vec<_> = ids.iter().map(|id| event(id, at)).collect();
    store.record_inbound(&events).await.unwrap();
    for _ in 0..ids.len() {
        let claimed = store
            .claim_inbox(at, Duration::from_secs(30), 100)
            .await
            .unwrap();
        let claims: Vec<_> = claimed
            .iter()
            .filter(|e| ids.contains(&e.provider_event_id.as_str()))
            .map(|e| (e.id, e.attempts))
            .collect();
        store.complete_inbox(&claims, at).await.unwrap();
    }
}

/// Runs inbox retention to its end in rounds of `window` rows; the rows removed and the rounds.
async fn prune_inbox(store: &Store, window: u32, before: DateTime<Utc>) -> (u64, u32) {
    let (mut removed, mut rounds, mut cursor) = (0, 0, Some(0));
    while let Some(after) = cursor {
        let round = store.prune_inbox(after, window, before).await.unwrap();
        removed += round.removed;
        rounds += 1;
        cursor = round.next;
        assert!(rounds < 100, "retention rounds end");
    }
    (removed, rounds)
}

async fn status(store: &Store, id: &str) -> Option<InboxStatus> {
    store
        .find_inbox_event(Provider::WhatsApp, id)
        .await
        .unwrap()
        .map(|e| e.status)
}

async fn old_done_events_go_and_stay_duplicates(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    let cut = now - chrono::Duration::days(30);
    handled(&store, &["old-a", "old-bb", "old-ccc"], old).await;
    handled(&store, &["new-a"], now).await;
    // Old but never handled (its conversation still needs it): stays.
    store
        .record_inbound(&[event("old-open", old)])
        .await
        .unwrap();
    assert_eq!(store.count_inbox().await.unwrap(), 5);

    // Rounds of two rows: the windows move on past the rows they keep.
    let (removed, rounds) = prune_inbox(&store, 2, cut).await;
    assert_eq!(removed, 3);
    assert!(rounds >= 2, "small windows take several rounds ({rounds})");
    for id in ["old-a", "old-bb", "old-ccc"] {
        assert_eq!(status(&store, id).await, None, "{id} removed");
    }
    assert_eq!(
        status(&store, "old-open").await,
        Some(InboxStatus::Pending),
        "an open event stays however old"
    );
    assert_eq!(status(&store, "new-a").await, Some(InboxStatus::Done));
    assert_eq!(store.count_inbox().await.unwrap(), 2);

    // A redelivery of a removed event is still a duplicate, alone or in a batch; a new id is not.
    assert_eq!(
        store.record_inbound(&[event("old-a", now)]).await.unwrap(),
        [false]
    );
    assert_eq!(
        store
            .record_inbound(&[event("old-bb", now), event("fresh", now)])
            .await
            .unwrap(),
        [false, true]
    );
    assert_eq!(status(&store, "old-bb").await, None);
    // The same id from another provider is another event.
    let mut stripe = event("old-a", now);
    stripe.provider = Provider::Stripe;
    assert_eq!(store.record_inbound(&[stripe]).await.unwrap(), [true]);

    // Running again removes nothing more.
    assert_eq!(prune_inbox(&store, 1000, cut).await.0, 0);
}
both_backends!(inbox_retention, old_done_events_go_and_stay_duplicates);

async fn settled_messages_go_and_open_ones_stay(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let old = now - chrono::Duration::days(40);
    let cut = now - chrono::Duration::days(30);
    let rows = [
        message("sent", "+34600000001", "uno", old),
        message("dead", "+34600000002", "dos", old),
        message("pending", "+34600000003", "tres", old),
        message("recent", "+34600000004", "cuatro", now),
    ];
    crate::outbox::enqueue(&store, &rows).await.unwrap();
    let claimed = store
        .claim_outbox(now, now + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    for row in &claimed {
        match row.idempotency_key.as_str() {
            "sent" | "recent" => {
                let wamid = format!("wamid.{}", row.idempotency_key);
                store
                    .outbox_sent(&[(row.id, row.attempts, wamid)], now)
                    .await
                    .unwrap();
            }
            "dead" => {
                let fail = Settle::Fail {
                    error: "gone",
                    code: None,
                    dead: true,
                };
                store
                    .settle_outbox(row.id, row.attempts, fail, now)
                    .await
                    .unwrap();
            }
            _ => {
                let release = Settle::Release { at: now };
                store
                    .settle_outbox(row.id, row.attempts, release, now)
                    .await
                    .unwrap();
            }
        }
    }

    let mut cursor = Some(0);
    let mut removed = 0;
    while let Some(after) = cursor {
        let round = store.prune_outbox(after, 1, cut).await.unwrap();
        removed += round.removed;
        cursor = round.next;
    }
    assert_eq!(removed, 2);
    let left: Vec<(String, OutboundStatus)> = store
        .recent_outbox(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.idempotency_key, o.status))
        .collect();
    assert!(
        left.contains(&("pending".to_owned(), OutboundStatus::Pending)),
        "a message still to send stays: {left:?}"
    );
    assert!(
        left.contains(&("recent".to_owned(), OutboundStatus::Sent)),
        "a recent message stays: {left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
}
both_backends!(outbox_retention, settled_messages_go_and_open_ones_stay);

/// The running app prunes on its own (at start, then hourly), and a webhook redelivering a removed
/// message is answered 200 and not stored again (the app's own "seen" cache is empty: the database
/// answers).
async fn the_app_prunes_and_a_redelivery_is_still_a_duplicate(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let old = Utc::now() - chrono::Duration::days(3);
    handled(&store, &["wamid.retention-old"], old).await;

    let app = AppBuilder::new(backend)
        .database_url(db.url.clone())
        .var("QUEUE_RETENTION_DAYS", "1")
        .spawn()
        .await;
    wait_until(Duration::from_secs(10), "the old event removed", || async {
        status(&app.store, "wamid.retention-old")
            .await
            .is_none()
            .then_some(())
    })
    .await;

    let again = text_message("wamid.retention-old", "34600000009", "hola");
    assert_eq!(app.post_whatsapp(again).await.status(), 200);
    assert_eq!(status(&app.store, "wamid.retention-old").await, None);
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    let new = text_message("wamid.retention-new", "34600000009", "hola");
    assert_eq!(app.post_whatsapp(new).await.status(), 200);
    assert!(status(&app.store, "wamid.retention-new").await.is_some());
}
both_backends!(
    app_retention,
    the_app_prunes_and_a_redelivery_is_still_a_duplicate
);
