//! The optional language model, end to end against a local OpenAI-compatible fake: asked only when
//! the rules understand nothing, its validated answer moves the conversation; malformed answers,
//! services it made up, answers past `OPENAI_TIMEOUT_MS` and HTTP errors each end in the rules' turn;
//! what it is sent holds no phone number; its answer is recorded so a replay gives the same turn.

use std::time::Duration;

use serde_json::{Value, json};

use crate::conversations::{Customer, builder, text_of};
use crate::fake_graph::FakeGraph;
use crate::fake_openai::{Answer, FakeOpenAi, KEY};
use crate::helpers::{Backend, TestApp, TestDb};

async fn app_with_model(model: &FakeOpenAi, graph: &FakeGraph) -> TestApp {
    builder(Backend::Sqlite, graph)
        .var("OPENAI_API_KEY", KEY)
        .var("OPENAI_BASE_URL", &model.base())
        .var("OPENAI_MODEL", "test-model")
        .var("OPENAI_TIMEOUT_MS", "400")
        .spawn()
        .await
}

fn answer(intent: &str, service: Option<&str>) -> Value {
    json!({
        "language": "es", "intent": intent, "service": service,
        "date": null, "time_from": null, "time_to": null
    })
}

/// What the rules cannot read: no intent, no service, no day, no time.
const UNCLEAR: &str = "lo de siempre porfa, mi número es 600 111 222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_structured_answer_moves_the_conversation_and_sends_no_phone_number() {
    let graph = FakeGraph::start().await;
    let model = FakeOpenAi::start(vec![Answer::Structured(answer("book", Some("cut-men")))]).await;
    let app = app_with_model(&model, &graph).await;
    let mut ana = Customer::new(&app, &graph, "34600111901");
    let replies = ana.say(UNCLEAR).await;
    // The service the model read is taken: the next question is who (those who cut men's hair).
    assert!(replies[0].to_string().contains("Marcos"), "{replies:?}");
    assert!(
        text_of(&replies[0]).contains("¿Con quién"),
        "the staff list: {replies:?}"
    );

    let sent = model.requests();
    assert_eq!(sent.len(), 1);
    let body = sent[0].to_string();
    assert!(
        !body.contains("600 111 222") && !body.contains("34600111901"),
        "{body}"
    );
    assert!(
        body.contains("lo de siempre porfa, mi número es [number]"),
        "{body}"
    );
    assert_eq!(sent[0]["model"], "test-model");

    // A message the rules understand is not sent at all.
    ana.say("quiero reservar").await;
    assert_eq!(model.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_made_up_services_slow_answers_and_errors_leave_the_rules_turn() {
    let late = Answer::Slow(Duration::from_secs(3), answer("book", Some("cut-men")));
    for (case, script) in [
        ("malformed JSON", Answer::Malformed),
        (
            "a service that does not exist",
            Answer::Structured(answer("prices", Some("keratin"))),
        ),
        ("past the timeout", late),
        ("HTTP 500", Answer::Error(500)),
        ("HTTP 429", Answer::Error(429)),
    ] {
        let graph = FakeGraph::start().await;
        let model = FakeOpenAi::start(vec![script]).await;
        let app = app_with_model(&model, &graph).await;
        let mut ana = Customer::new(&app, &graph, "34600111902");
        ana.say("hola").await;
        let replies = ana.say(UNCLEAR).await;
        let expected = if case == "a service that does not exist" {
            // The made-up service is dropped; the intent stays: the price list, from the catalog.
            "Nuestros precios"
        } else {
            "no te he entendido"
        };
        assert!(
            replies.iter().any(|r| text_of(r).contains(expected)),
            "{case}: {replies:?}"
        );
        assert_eq!(model.requests().len(), 1, "{case}: asked once");
    }
}

#[tokio::test]
async fn the_models_answer_is_recorded_and_a_replay_reads_it_instead_of_asking_again() {
    use salonbot::booking::catalog;
    use salonbot::engine::input::Input;
    use salonbot::language_model::ModelReader;
    use salonbot::worker::reading::with_model;

    let model = FakeOpenAi::start(vec![
        Answer::Structured(answer("book", Some("cut-men"))),
        Answer::Structured(answer("book", Some("highlights"))),
    ])
    .await;
    let config = salonbot::config::Config::from_lookup(|name| match name {
        "OPENAI_API_KEY" => Some(KEY.to_owned()),
        "OPENAI_BASE_URL" => Some(model.base()),
        _ => None,
    })
    .unwrap();
    let reader = ModelReader::from_config(&config.openai).unwrap();
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let catalog = catalog::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/salon.toml"
    )))
    .unwrap();
    let event = salonbot::store::InboxEvent {
        id: 42,
        provider: salonbot::store::Provider::WhatsApp,
        provider_event_id: "wamid.42".into(),
        business_id: "1065".into(),
        conversation_key: "whatsapp:1065:+34600111903".into(),
        kind: salonbot::store::EventKind::Message,
        payload: json!({}),
        received_at: chrono::Utc::now(),
        status: salonbot::store::InboxStatus::Processing,
        attempts: 1,
        last_error: None,
        next_attempt_at: chrono::Utc::now(),
    };
    let now = chrono::Utc::now();
    let read = |_: ()| {
        with_model(
            &reader,
            &store,
            &catalog,
            &event,
            Input::Text(UNCLEAR.into()),
            None,
            now,
        )
    };
    let first = read(()).await.unwrap();
    let again = read(()).await.unwrap();
    assert_eq!(first, again, "the replay reads the recorded answer");
    let Input::Understood { reading, .. } = first else {
        panic!("the model's reading: {first:?}");
    };
    assert_eq!(reading.service().map(|s| s.as_str()), Some("cut-men"));
    assert_eq!(model.requests().len(), 1, "asked once");
}
