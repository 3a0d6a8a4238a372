//! Human mode through Chatwoot in mirror mode, end to end: signed WhatsApp webhooks into the real
//! app, the bot's replies to the fake Graph API, every message mirrored into the fake Chatwoot through
//! the outbox (its echoes coming back as signed webhooks and ignored), agents taking the conversation
//! over by replying and handing it back.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use salonbot::store::{NewTimer, OutboundStatus, Provider};
use serde_json::{Value, json};

use crate::both_backends;
use crate::chatwoot_ingress::WEBHOOK_SECRET;
use crate::conversations::{Customer, builder, text_of, up_to_confirm};
use crate::fake_chatwoot::{self, FakeChatwoot, Message};
use crate::fake_graph::FakeGraph;
use crate::helpers::{Backend, TestApp, wait_until};

/// An app answering through the fake Graph API and mirroring into the fake Chatwoot, which
/// delivers its webhooks back to the app.
/// The app answering through the fake Graph API and mirroring into the fake Chatwoot.
fn mirrored_builder(
    backend: Backend,
    graph: &FakeGraph,
    chatwoot: &FakeChatwoot,
) -> crate::helpers::AppBuilder {
    builder(backend, graph)
        .var("CHATWOOT_BASE_URL", &chatwoot.base())
        .var("CHATWOOT_API_TOKEN", fake_chatwoot::USER_TOKEN)
        .var("CHATWOOT_ACCOUNT_ID", fake_chatwoot::ACCOUNT)
        .var("CHATWOOT_INBOX_ID", &fake_chatwoot::INBOX.to_string())
        .var("CHATWOOT_WEBHOOK_SECRET", WEBHOOK_SECRET)
}

async fn app(backend: Backend) -> (TestApp, FakeGraph, FakeChatwoot) {
    let graph = FakeGraph::start().await;
    let chatwoot = FakeChatwoot::start().await;
    let app = mirrored_builder(backend, &graph, &chatwoot).spawn().await;
    chatwoot.deliver_to(app.url("/webhooks/chatwoot"), WEBHOOK_SECRET);
    (app, graph, chatwoot)
}

/// The Chatwoot conversation of the customer, once the mirror created it.
async fn chatwoot_conversation(app: &TestApp, customer: &Customer<'_>) -> i64 {
    wait_until(
        Duration::from_secs(20),
        "the Chatwoot conversation",
        || async {
            app.store
                .chatwoot_conversation(&customer.conversation_key())
                .await
                .unwrap()
        },
    )
    .await
}

/// Waits until the conversation's mirror in Chatwoot has `n` messages (not counting agents' own).
async fn mirrored(chatwoot: &FakeChatwoot, conversation: i64, n: usize) -> Vec<Message> {
    wait_until(Duration::from_secs(30), "the mirror", || async {
        let mine: Vec<Message> = chatwoot
            .messages(conversation)
            .into_iter()
            .filter(|m| m.source_id.is_some())
            .collect();
        (mine.len() >= n).then_some(mine)
    })
    .await
}

/// Waits until Chatwoot delivered every webhook (echoes included) and the app settled every event
/// and outbound row they led to.
async fn webhooks_settled(app: &TestApp, chatwoot: &FakeChatwoot) {
    wait_until(
        Duration::from_secs(30),
        "chatwoot events settled",
        || async {
            if chatwoot.delivering() > 0 {
                return None;
            }
            let backlog = app.store.backlog().await.unwrap();
            (backlog.inbox_open == 0 && backlog.outbox_oldest.is_none()).then_some(())
        },
    )
    .await;
}

async fn a_booking_conversation_is_mirrored_in_order(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600111222");
    up_to_confirm(&mut ana, "cut-women", "lucia", 2).await;
    let confirmed = ana.tap("yes").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    let sent = graph.delivered_to(&ana.phone());
    // Six customer messages (hola, book, service, staff, day, time, yes: seven) and every reply.
    let mirror = mirrored(&chatwoot, cw, 7 + sent.len()).await;
    assert_eq!(chatwoot.contacts(), 1, "one contact, by phone");
    assert_eq!(chatwoot.conversations().len(), 1, "one conversation");
    let incoming: Vec<&Message> = mirror
        .iter()
        .filter(|m| m.message_type == "incoming")
        .collect();
    let outgoing: Vec<&Message> = mirror
        .iter()
        .filter(|m| m.message_type == "outgoing")
        .collect();
    assert_eq!(incoming.len(), 7, "{mirror:?}");
    assert_eq!(incoming[0].content, "hola");
    assert_eq!(outgoing.len(), sent.len());
    for (mirrored, sent) in outgoing.iter().zip(&sent) {
        assert!(
            mirrored.content.starts_with(text_of(sent)),
            "in order: {} / {}",
            mirrored.content,
            text_of(sent)
        );
        assert!(!mirrored.private);
    }
    assert!(
        outgoing
            .last()
            .unwrap()
            .content
            .starts_with(text_of(confirmed.last().unwrap())),
        "the confirmation last"
    );
    // The customer's message comes first, then the bot's answer to it.
    assert_eq!(mirror[0].message_type, "incoming");
    assert_eq!(mirror[1].message_type, "outgoing");
    for message in &mirror {
        assert!(
            message
                .source_id
                .as_deref()
                .unwrap()
                .starts_with("salonbot:")
        );
    }
    // A user token on every call; the echoes of every mirrored message came back and changed nothing.
    assert!(
        chatwoot
            .requests()
            .iter()
            .all(|r| r.token.as_deref() == Some(fake_chatwoot::USER_TOKEN))
    );
    webhooks_settled(&app, &chatwoot).await;
    assert_eq!(
        graph.delivered_to(&ana.phone()).len(),
        sent.len(),
        "no echo loop"
    );
    let rows = app.store.recent_outbox(None, 1000).await.unwrap();
    assert!(
        rows.iter()
            .filter(|r| r.provider == Provider::Chatwoot)
            .all(|r| r.status == OutboundStatus::Sent)
    );
}
both_backends!(
    mirrored_in_order,
    a_booking_conversation_is_mirrored_in_order
);

async fn an_agent_reply_reaches_whatsapp_and_silences_the_bot(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222333");
    ana.say("hola").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    chatwoot
        .agent_says(cw, "Hola Ana, soy Lucía. ¿En qué te ayudo?")
        .await;
    let reply = ana.wait_for(1).await;
    assert_eq!(text_of(&reply[0]), "Hola Ana, soy Lucía. ¿En qué te ayudo?");
    // The bot is silent now; the customer's message is still mirrored for the staff.
    let said = ana.say("quiero una cita para mañana").await;
    assert!(said.is_empty(), "the bot stays silent: {said:?}");
    let mirror = mirrored(&chatwoot, cw, 3).await;
    assert_eq!(
        mirror.last().unwrap().content,
        "quiero una cita para mañana"
    );
    assert_eq!(mirror.last().unwrap().message_type, "incoming");
    // The agent's message is not mirrored back (it is Chatwoot's already), and no echo loops.
    webhooks_settled(&app, &chatwoot).await;
    let agents: Vec<Message> = chatwoot
        .messages(cw)
        .into_iter()
        .filter(|m| m.source_id.is_none())
        .collect();
    assert_eq!(agents.len(), 1);
    assert_eq!(graph.delivered_to(&ana.phone()).len(), 2);
    // The same webhook delivered again (account and inbox webhook on one URL) is sent once.
    let again = crate::chatwoot_ingress::agent_reply(
        agents[0].id,
        cw,
        &ana.phone(),
        "Hola Ana, soy Lucía. ¿En qué te ayudo?",
    );
    assert_eq!(
        crate::chatwoot_ingress::post_event(&app, &again)
            .await
            .status(),
        200
    );
    webhooks_settled(&app, &chatwoot).await;
    assert_eq!(graph.delivered_to(&ana.phone()).len(), 2, "processed once");
}
both_backends!(
    agent_reply,
    an_agent_reply_reaches_whatsapp_and_silences_the_bot
);

async fn asking_for_a_person_hands_off_in_each_language(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let cases = [
        (
            "34600333001",
            "quiero hablar con una persona",
            "Spanish (es)",
        ),
        ("447700900123", "I want to talk to a person", "English (en)"),
        (
            "351912345678",
            "quero falar com uma pessoa",
            "Portuguese (pt)",
        ),
    ];
    for (wa_id, words, language) in cases {
        let mut customer = Customer::new(&app, &graph, wa_id);
        let said = customer.say(words).await;
        assert_eq!(said.len(), 1, "{said:?}");
        let cw = chatwoot_conversation(&app, &customer).await;
        let note = wait_until(Duration::from_secs(30), "the hand-off note", || async {
            chatwoot.messages(cw).into_iter().find(|m| m.private)
        })
        .await;
        assert!(note.content.contains(words), "{}", note.content);
        assert!(note.content.contains(language), "{}", note.content);
        assert!(note.content.contains("Chosen so far"), "{}", note.content);
        let conversation = chatwoot
            .conversations()
            .into_iter()
            .find(|c| c.id == cw)
            .unwrap();
        assert_eq!(conversation.status, "open");
        assert_eq!(
            conversation.labels,
            [fake_chatwoot::STAFF_LABEL, "bot-handoff"],
            "the staff's label kept"
        );
        // In human mode the bot stays silent.
        assert!(customer.say("hola?").await.is_empty());
    }
    webhooks_settled(&app, &chatwoot).await;
}
both_backends!(handoff, asking_for_a_person_hands_off_in_each_language);

async fn the_menus_option_and_three_misunderstandings_hand_off_too(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    // The greeting's "talk to us" option.
    let mut ana = Customer::new(&app, &graph, "34600121212");
    ana.say("hola").await;
    let told = ana.tap("human").await;
    assert_eq!(told.len(), 1, "{told:?}");
    // Three messages the bot does not understand, then the person it offers.
    let mut bea = Customer::new(&app, &graph, "34600131313");
    bea.say("hola").await;
    let mut offered = Vec::new();
    for _ in 0..3 {
        offered = bea.say("xqzt wmbl").await;
    }
    assert!(
        crate::conversations::button_ids(offered.last().unwrap())
            .contains(&"intent:human".to_owned()),
        "{offered:?}"
    );
    bea.tap("intent:human").await;
    for customer in [&ana, &bea] {
        let cw = chatwoot_conversation(&app, customer).await;
        let note = wait_until(Duration::from_secs(30), "the hand-off note", || async {
            chatwoot.messages(cw).into_iter().find(|m| m.private)
        })
        .await;
        assert!(
            note.content.contains("waiting for a person"),
            "{}",
            note.content
        );
        let labels = chatwoot
            .conversations()
            .into_iter()
            .find(|c| c.id == cw)
            .unwrap()
            .labels;
        assert!(labels.contains(&"bot-handoff".to_owned()), "{labels:?}");
    }
    webhooks_settled(&app, &chatwoot).await;
}
both_backends!(
    handoff_by_menu_and_misses,
    the_menus_option_and_three_misunderstandings_hand_off_too
);

async fn an_agents_image_and_document_go_by_link(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600141414");
    ana.say("hola").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    let mut event =
        crate::chatwoot_ingress::agent_reply(88001, cw, &ana.phone(), "Mira el catálogo");
    event["attachments"] = serde_json::json!([
        {"id": 1, "message_id": 88001, "file_type": "image", "account_id": 1,
         "data_url": "https://cdn.example.com/peinado.jpg", "thumb_url": "https://cdn.example.com/t.jpg"},
        {"id": 2, "message_id": 88001, "file_type": "file", "account_id": 1,
         "data_url": "https://cdn.example.com/precios.pdf"}
    ]);
    assert_eq!(
        crate::chatwoot_ingress::post_event(&app, &event)
            .await
            .status(),
        200
    );
    let sent = ana.wait_for(3).await;
    assert_eq!(text_of(&sent[0]), "Mira el catálogo");
    assert_eq!(sent[1]["type"], "image");
    assert_eq!(
        sent[1]["image"]["link"],
        "https://cdn.example.com/peinado.jpg"
    );
    assert_eq!(sent[2]["type"], "document");
    assert_eq!(
        sent[2]["document"]["link"],
        "https://cdn.example.com/precios.pdf"
    );
    // The agent's message is Chatwoot's already: only the customer's and the bot's are mirrored.
    webhooks_settled(&app, &chatwoot).await;
    let mirror = mirrored(&chatwoot, cw, 2).await;
    assert_eq!(mirror.len(), 2, "{mirror:?}");
}
both_backends!(media, an_agents_image_and_document_go_by_link);

async fn resolving_or_the_bot_note_gives_the_conversation_back(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600444555");
    ana.say("hola").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    chatwoot.agent_says(cw, "Te atiendo yo").await;
    ana.wait_for(1).await;
    assert!(ana.say("gracias").await.is_empty());
    chatwoot.resolve(cw).await;
    webhooks_settled(&app, &chatwoot).await;
    // Back with the bot, at the flow's entry, without a greeting of its own.
    let answer = ana.say("quiero reservar").await;
    assert!(!answer.is_empty(), "the bot answers again");
    assert!(
        !text_of(&answer[0]).contains("Peluquería Malasaña"),
        "no greeting: {}",
        answer[0]
    );
    // Again with the note `/bot`.
    chatwoot.agent_says(cw, "Vuelvo a ser yo").await;
    ana.wait_for(1).await;
    assert!(ana.say("vale").await.is_empty());
    chatwoot.note(cw, "/bot").await;
    webhooks_settled(&app, &chatwoot).await;
    assert!(!ana.say("quiero reservar").await.is_empty());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for reason in ["agent_reply", "resolved", "note"] {
        assert!(
            metrics.contains(&format!("salonbot_human_mode_total{{reason=\"{reason}\"}}")),
            "{reason}: {metrics}"
        );
    }
    // A note other than `/bot` never reaches the customer.
    let before = graph.delivered_to(&ana.phone()).len();
    chatwoot.note(cw, "clienta habitual").await;
    webhooks_settled(&app, &chatwoot).await;
    assert_eq!(graph.delivered_to(&ana.phone()).len(), before);
}
both_backends!(
    hand_back,
    resolving_or_the_bot_note_gives_the_conversation_back
);

/// Moves the timer `local` of the customer's conversation to now, with `payload` (the app's timer
/// loop then fires it, as it would when its time came).
async fn due_now(app: &TestApp, customer: &Customer<'_>, local: &str, kind: &str, payload: Value) {
    let key = customer.conversation_key();
    let timer = NewTimer {
        key: format!("{key}/{local}"),
        business_id: crate::conversations::PHONE_NUMBER_ID.into(),
        conversation_key: key,
        kind: kind.into(),
        payload,
        due_at: Utc::now() - Span::seconds(1),
    };
    app.store.schedule_timer(&timer, Utc::now()).await.unwrap();
}

async fn human_mode_ends_after_the_idle_time(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600555666");
    ana.say("hola").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    chatwoot.agent_says(cw, "Hola, dime").await;
    ana.wait_for(1).await;
    assert!(ana.say("un momento").await.is_empty());
    // Twelve hours (the default) after the agent's message, the bot takes over again.
    let key = format!("{}/human_idle", ana.conversation_key());
    let due = app
        .store
        .timer_due(&key)
        .await
        .unwrap()
        .expect("the idle timer");
    let hours = (due - Utc::now()).num_minutes();
    assert!((11 * 60 + 58..=12 * 60).contains(&hours), "{hours} minutes");
    let stored = app
        .store
        .conversation_states(&[ana.conversation_key()])
        .await
        .unwrap();
    let state = stored[&ana.conversation_key()].state.clone().unwrap();
    assert_eq!(state["human"], true);
    due_now(
        &app,
        &ana,
        "human_idle",
        "human_idle",
        json!({"timer": "human_idle", "since": state["human_since"]}),
    )
    .await;
    wait_until(
        Duration::from_secs(20),
        "the idle timer handled",
        || async {
            let stored = app
                .store
                .conversation_states(&[ana.conversation_key()])
                .await
                .unwrap();
            let state = stored[&ana.conversation_key()].state.clone().unwrap();
            (state["human"] == false).then_some(())
        },
    )
    .await;
    assert!(!ana.say("quiero reservar").await.is_empty());
}
both_backends!(idle, human_mode_ends_after_the_idle_time);

async fn transactional_messages_still_go_out_in_human_mode(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600666777");
    up_to_confirm(&mut ana, "cut-women", "lucia", 2).await;
    ana.tap("yes").await;
    let appointment = ana.appointments().await.remove(0);
    let cw = chatwoot_conversation(&app, &ana).await;
    chatwoot.agent_says(cw, "Te confirmo yo también").await;
    ana.wait_for(1).await;
    assert!(ana.say("perfecto").await.is_empty(), "human mode");
    // The reminder's time comes: it goes out all the same.
    due_now(
        &app,
        &ana,
        &format!(
            "reminder:{}:{}",
            appointment.starts_at.timestamp(),
            appointment.id
        ),
        "reminder",
        json!({"timer": "reminder", "appointment": appointment.id, "start": appointment.starts_at}),
    )
    .await;
    let reminder = ana.wait_for(1).await;
    assert!(!text_of(&reminder[0]).is_empty(), "{reminder:?}");
    // ... and is mirrored too, after the messages before it.
    let said = text_of(&reminder[0]).to_owned();
    wait_until(Duration::from_secs(30), "the reminder mirrored", || async {
        chatwoot
            .messages(cw)
            .into_iter()
            .any(|m| m.source_id.is_some() && m.content.starts_with(&said))
            .then_some(())
    })
    .await;
}
both_backends!(
    transactional,
    transactional_messages_still_go_out_in_human_mode
);

async fn chatwoot_down_for_a_while_loses_nothing_and_keeps_the_order(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    chatwoot.set_down(true);
    let mut ana = Customer::new(&app, &graph, "34600777888");
    // The customer is answered while Chatwoot is down.
    assert!(!ana.say("hola").await.is_empty());
    assert!(!ana.tap("book").await.is_empty());
    assert!(chatwoot.requests().iter().any(|r| r.status == 503));
    chatwoot.set_down(false);
    let cw = chatwoot_conversation(&app, &ana).await;
    let sent = graph.delivered_to(&ana.phone());
    let mirror = mirrored(&chatwoot, cw, 2 + sent.len()).await;
    let order: Vec<&str> = mirror.iter().map(|m| m.message_type.as_str()).collect();
    assert_eq!(order, ["incoming", "outgoing", "incoming", "outgoing"]);
    assert_eq!(mirror[0].content, "hola");
    assert_eq!(chatwoot.conversations().len(), 1);
}
both_backends!(
    outage,
    chatwoot_down_for_a_while_loses_nothing_and_keeps_the_order
);

async fn the_contact_is_named_after_the_whatsapp_profile_else_the_phone(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600818181").with_profile(Some("Ana Martínez"));
    ana.say("hola").await;
    chatwoot_conversation(&app, &ana).await;
    let contact = chatwoot.contact(&ana.phone()).expect("Ana's contact");
    assert_eq!(contact.name, "Ana Martínez");
    // Meta sent no profile: the phone names the contact.
    let mut nameless = Customer::new(&app, &graph, "34600828282").with_profile(None);
    nameless.say("hola").await;
    chatwoot_conversation(&app, &nameless).await;
    let contact = chatwoot.contact(&nameless.phone()).expect("the contact");
    assert_eq!(contact.name, nameless.phone());
    let created: Vec<Value> = chatwoot
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/contacts"))
        .map(|r| r.body)
        .collect();
    assert_eq!(
        created,
        [
            json!({"inbox_id": fake_chatwoot::INBOX, "name": "Ana Martínez", "phone_number": "+34600818181"}),
            json!({"inbox_id": fake_chatwoot::INBOX, "name": "+34600828282", "phone_number": "+34600828282"}),
        ]
    );
    webhooks_settled(&app, &chatwoot).await;
}
both_backends!(
    contact_name,
    the_contact_is_named_after_the_whatsapp_profile_else_the_phone
);

async fn a_mirrored_message_whose_answer_was_lost_is_not_posted_twice(backend: Backend) {
    let (app, graph, chatwoot) = app(backend).await;
    chatwoot.fail_after_storing(1);
    let mut ana = Customer::new(&app, &graph, "34600838383");
    ana.say("hola").await;
    let cw = chatwoot_conversation(&app, &ana).await;
    webhooks_settled(&app, &chatwoot).await;
    let mirror = mirrored(&chatwoot, cw, 2).await;
    assert_eq!(
        (mirror[0].message_type.as_str(), mirror[0].content.as_str()),
        ("incoming", "hola")
    );
    assert_eq!(
        mirror.iter().filter(|m| m.content == "hola").count(),
        1,
        "{mirror:?}"
    );
    assert_eq!(mirror.len(), 1 + graph.delivered_to(&ana.phone()).len());
    let rows = app.store.recent_outbox(None, 100).await.unwrap();
    assert!(
        rows.iter()
            .filter(|r| r.provider == Provider::Chatwoot)
            .all(|r| r.status == OutboundStatus::Sent)
    );
}
both_backends!(
    lost_mirror_answer,
    a_mirrored_message_whose_answer_was_lost_is_not_posted_twice
);

/// The staff pages' simulated customer stays on this machine: its conversation is not mirrored into
/// the salon's Chatwoot (no contact, no conversation, no call at all), while a real customer's is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_conversation_is_not_mirrored() {
    let graph = FakeGraph::start().await;
    let chatwoot = FakeChatwoot::start().await;
    let app = mirrored_builder(Backend::Sqlite, &graph, &chatwoot)
        .var("ADMIN_TOKEN", crate::admin::TOKEN)
        .spawn()
        .await;
    let mut browser = crate::admin_pages::Browser::new(&app);
    browser.log_in().await;
    let page = crate::admin_pages::simulator_says(&mut browser, "hola").await;
    assert!(page.body.contains("bubble out"), "{}", page.body);
    // The bot's sandboxed reply is recorded; the mirror wrote no row for it at all.
    let rows = app
        .store
        .recent_outbox(Some("whatsapp:simulator:+34600000000"), 50)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r.provider == Provider::WhatsApp),
        "{rows:?}"
    );
    assert!(chatwoot.requests().is_empty(), "{:?}", chatwoot.requests());
    assert_eq!(chatwoot.contacts(), 0);
}
