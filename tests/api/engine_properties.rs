//! Random conversations through the real engine and store: whatever customers send, in any order, the
//! engine never fails a turn, no appointment takes an illegal status, and no staff member is ever
//! double-booked.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use proptest::prelude::*;
use salonbot::booking::appointment::AppointmentStatus;
use salonbot::store::{EventKind, InboxStatus, NewInboxEvent, Provider, Store};
use salonbot::telemetry::Metrics;
use salonbot::worker::inbox::{InboxHandler, InboxWorker, WorkerOptions};
use salonbot::worker::turn::{TurnRunner, TurnSettings};
use salonbot::worker::window::Window;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::helpers::{Backend, TestDb};

const CUSTOMERS: [&str; 3] = ["34600900001", "34600900002", "34600900003"];

/// What a customer does next.
#[derive(Debug, Clone)]
enum Move {
    Say(&'static str),
    /// Taps the n-th button or row of the last message the bot sent them (wrapping around).
    Tap(usize),
    Photo,
}

fn moves() -> impl Strategy<Value = Vec<(usize, Move)>> {
    let one = prop_oneof![
        4 => (0usize..10).prop_map(Move::Tap),
        1 => prop::sample::select(vec!["hola", "quiero reservar", "mis citas", "menú", "cancelar", "sí", "no", "asdf", "2"]).prop_map(Move::Say),
        1 => Just(Move::Photo),
    ];
    prop::collection::vec((0..CUSTOMERS.len(), one), 1..30)
}

/// The ids of the buttons or rows of a Cloud API message body.
fn choices(payload: &Value) -> Vec<(String, String)> {
    let action = &payload["interactive"]["action"];
    let mut found = Vec::new();
    for button in action["buttons"].as_array().into_iter().flatten() {
        found.push((
            button["reply"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            button["reply"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    for section in action["sections"].as_array().into_iter().flatten() {
        for row in section["rows"].as_array().into_iter().flatten() {
            found.push((
                row["id"].as_str().unwrap_or_default().to_owned(),
                row["title"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    found
}

async fn play(
    store: &Store,
    worker: &InboxWorker<InboxHandler>,
    moves: &[(usize, Move)],
    run: u64,
) -> usize {
    let mut booked = 0;
    for (n, (who, step)) in moves.iter().enumerate() {
        let wa_id = CUSTOMERS[*who];
        let phone = format!("+{wa_id}");
        let last = store
            .outbox_for_recipient(&phone)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|m| choices(&m.payload))
            .find(|c| !c.is_empty());
        let message = match step {
            Move::Say(text) => json!({"type": "text", "text": {"body": text}}),
            Move::Photo => {
                json!({"type": "image", "image": {"id": "1", "mime_type": "image/jpeg"}})
            }
            Move::Tap(i) => match &last {
                Some(choices) => {
                    let (id, title) = &choices[i % choices.len()];
                    json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": title}}})
                }
                None => json!({"type": "text", "text": {"body": "hola"}}),
            },
        };
        let wamid = format!("wamid.prop.{run}.{n}");
        let mut message = message;
        message["from"] = json!(wa_id);
        message["id"] = json!(wamid);
        message["timestamp"] = json!(Utc::now().timestamp().to_string());
        let payload = json!({
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contact": {"profile": {"name": "Ana"}, "wa_id": wa_id},
            "message": message,
        });
        store
            .record_inbound(&[NewInboxEvent {
                said: None,
                provider: Provider::WhatsApp,
                provider_event_id: wamid.clone(),
                business_id: "106540352242922".into(),
                conversation_key: format!("whatsapp:106540352242922:{phone}"),
                kind: EventKind::Message,
                payload: payload.to_string(),
                received_at: Utc::now(),
            }])
            .await
            .unwrap();
        while worker.run_once().await.unwrap() > 0 {}
        let event = store
            .find_inbox_event(Provider::WhatsApp, &wamid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event.status, InboxStatus::Done, "turn failed: {event:?}");
        booked = check_appointments(store).await;
    }
    booked
}

/// No two live appointments of one staff member overlap, and statuses are known ones. Returns how
/// many appointments there are.
async fn check_appointments(store: &Store) -> usize {
    let mut all = Vec::new();
    for wa_id in CUSTOMERS {
        let key = format!("whatsapp:106540352242922:+{wa_id}");
        all.extend(store.conversation_appointments(&key).await.unwrap());
    }
    let live: Vec<_> = all
        .iter()
        .filter(|a| {
            a.status.is_live()
                && !(a.status == AppointmentStatus::Held
                    && a.hold_expires_at.is_some_and(|t| t <= Utc::now()))
        })
        .collect();
    for (i, a) in live.iter().enumerate() {
        for b in &live[i + 1..] {
            let overlap = a.staff_id == b.staff_id
                && a.starts_at < b.occupied_until
                && b.starts_at < a.occupied_until;
            assert!(!overlap, "double booking: {a:?} and {b:?}");
        }
    }
    for wa_id in CUSTOMERS {
        let key = format!("whatsapp:106540352242922:+{wa_id}");
        let mine: Vec<_> = all.iter().filter(|a| a.conversation_key == key).collect();
        let holds = mine
            .iter()
            .filter(|a| a.status == AppointmentStatus::Held)
            .count();
        assert!(holds <= 1, "a customer holds at most one time: {mine:?}");
    }
    all.len()
}

#[test]
fn random_conversations_never_fail_a_turn_nor_double_book() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = salonbot::engine::load_conversation_flow(
        &root.join("flows"),
        &root.join("templates"),
        &salonbot::whatsapp::messages::limits::UI_LIMITS,
    )
    .unwrap();
    let flow = Arc::new(loaded.flow);
    let templates = Arc::new(loaded.templates);
    let catalog = Arc::new(salonbot::booking::catalog::load(&root.join("salon.toml")).unwrap());
    let run = std::sync::atomic::AtomicU64::new(0);
    let appointments = std::sync::atomic::AtomicUsize::new(0);
    proptest!(ProptestConfig::with_cases(32), |(moves in moves())| {
        runtime.block_on(async {
            let db = TestDb::new(Backend::Sqlite).await;
            let store = db.store().await;
            let worker = InboxWorker::new(
                store.clone(),
                InboxHandler::new(
                    store.clone(),
                    Window::new(store.clone(), None),
                    Arc::new(TurnRunner::new(store.clone(), flow.clone(), templates.clone(), catalog.clone(), TurnSettings::default(), Metrics::new())),
                    Metrics::new(),
                ),
                Arc::new(Notify::new()),
                WorkerOptions::default(),
            );
            let n = run.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let made = play(&store, &worker, &moves, n).await;
            appointments.fetch_add(made, std::sync::atomic::Ordering::Relaxed);
        });
    });
    // The random walks do reach the booking part of the flow.
    assert!(
        appointments.into_inner() > 0,
        "no run held or booked a time"
    );
}
