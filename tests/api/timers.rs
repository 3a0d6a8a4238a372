//! Timers fire once, as inbox events of their conversation, on both backends.

use chrono::{DateTime, Duration, TimeZone, Utc};
use salonbot::store::{EventKind, NewTimer, Provider, Store};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestDb};

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

fn reminder(key: &str, conversation: &str, due: DateTime<Utc>) -> NewTimer {
    NewTimer {
        key: key.into(),
        business_id: "106540352242922".into(),
        conversation_key: conversation.into(),
        kind: "reminder".into(),
        payload: json!({"timer": "reminder", "appointment": 42, "start": "2026-11-24T10:00:00Z"}),
        due_at: due,
    }
}

async fn store(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    (db, store)
}

async fn a_due_timer_becomes_one_inbox_event_of_its_conversation(backend: Backend) {
    let (_db, store) = store(backend).await;
    let conversation = "whatsapp:106540352242922:+34600000001";
    store
        .schedule_timer(&reminder("reminder:42", conversation, t(9, 0)), t(8, 0))
        .await
        .unwrap();
    assert_eq!(
        store.fire_due_timers(t(8, 59), 100).await.unwrap(),
        0,
        "not before it is due"
    );
    assert_eq!(store.fire_due_timers(t(9, 0), 100).await.unwrap(), 1);
    assert_eq!(
        store.fire_due_timers(t(9, 5), 100).await.unwrap(),
        0,
        "fires once"
    );
    let events = store.conversation_events(conversation).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].provider, events[0].kind),
        (Provider::Timer, EventKind::Timer)
    );
    assert_eq!(events[0].payload["timer"], "reminder");
    assert_eq!(events[0].payload["data"]["appointment"], 42);
    assert_eq!(store.timer_due("reminder:42").await.unwrap(), None);
}
both_backends!(
    fires_once,
    a_due_timer_becomes_one_inbox_event_of_its_conversation
);

async fn scheduling_again_moves_the_timer_and_cancelling_stops_it(backend: Backend) {
    let (_db, store) = store(backend).await;
    let c = "whatsapp:1:+34600000002";
    store
        .schedule_timer(&reminder("reminder:7", c, t(9, 0)), t(8, 0))
        .await
        .unwrap();
    // The appointment moved: so does its reminder.
    store
        .schedule_timer(&reminder("reminder:7", c, t(11, 0)), t(8, 1))
        .await
        .unwrap();
    assert_eq!(store.timer_due("reminder:7").await.unwrap(), Some(t(11, 0)));
    assert_eq!(store.fire_due_timers(t(10, 0), 100).await.unwrap(), 0);
    store
        .schedule_timer(&reminder("hold:9", c, t(8, 10)), t(8, 0))
        .await
        .unwrap();
    assert!(store.cancel_timer("hold:9").await.unwrap());
    assert!(!store.cancel_timer("hold:9").await.unwrap());
    assert_eq!(
        store.fire_due_timers(t(12, 0), 100).await.unwrap(),
        1,
        "only the reminder"
    );
}
both_backends!(
    moves_and_cancels,
    scheduling_again_moves_the_timer_and_cancelling_stops_it
);

async fn instances_racing_to_fire_timers_fire_each_once(backend: Backend) {
    let (_db, store) = store(backend).await;
    for i in 0..100 {
        store
            .schedule_timer(
                &reminder(
                    &format!("idle:{i}"),
                    &format!("whatsapp:1:+3460000{i:04}"),
                    t(9, 0) + Duration::seconds(i),
                ),
                t(8, 0),
            )
            .await
            .unwrap();
    }
    let racers = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut fired = 0;
            loop {
                let n = store.fire_due_timers(t(10, 0), 7).await.unwrap();
                if n == 0 {
                    return fired;
                }
                fired += n;
            }
        })
    });
    let total: u64 = futures_util::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();
    assert_eq!(total, 100);
    assert_eq!(store.count_inbox().await.unwrap(), 100);
}
both_backends!(race, instances_racing_to_fire_timers_fire_each_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_fires_due_timers_and_its_worker_handles_them() {
    let app = crate::helpers::AppBuilder::new(Backend::Sqlite)
        .spawn()
        .await;
    let conversation = "whatsapp:106540352242922:+34600000003";
    app.store
        .schedule_timer(
            &reminder("reminder:app", conversation, Utc::now()),
            Utc::now(),
        )
        .await
        .unwrap();
    for _ in 0..100 {
        let events = app.store.conversation_events(conversation).await.unwrap();
        if events
            .first()
            .is_some_and(|e| e.status == salonbot::store::InboxStatus::Done)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the timer did not fire and get handled within 5 s");
}
