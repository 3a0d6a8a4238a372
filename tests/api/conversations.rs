//! Conversations end to end: signed webhooks into the real app, the engine's replies out through the
//! dispatcher to the local Graph API stand-in, and the customer answering with the very buttons and
//! list rows the bot sent.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use salonbot::booking::appointment::AppointmentStatus;
use salonbot::store::{Appointment, InboxStatus, OutboundStatus};
use serde_json::{Value, json};

use crate::both_backends;
use crate::fake_graph::FakeGraph;
use crate::helpers::{AppBuilder, Backend, TestApp, wait_until};

pub(crate) const PHONE_NUMBER_ID: &str = "106540352242922";

static WAMIDS: AtomicU64 = AtomicU64::new(1);

/// An app that answers through the fake Graph API, without pacing between a customer's messages.
async fn app_with_graph(backend: Backend) -> (TestApp, FakeGraph) {
    let graph = FakeGraph::start().await;
    let app = builder(backend, &graph).spawn().await;
    (app, graph)
}

pub(crate) fn builder(backend: Backend, graph: &FakeGraph) -> AppBuilder {
    AppBuilder::new(backend)
        .var("WHATSAPP_ACCESS_TOKEN", crate::fake_graph::TOKEN)
        .var("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .var("WHATSAPP_API_BASE", &graph.base())
        .var("WHATSAPP_RECIPIENT_GAP_MS", "0")
        .var("WHATSAPP_SEND_PER_SECOND", "0")
}

/// One customer on WhatsApp.
pub(crate) struct Customer<'a> {
    app: &'a TestApp,
    graph: &'a FakeGraph,
    /// `wa_id`: digits only, as Meta sends it.
    wa_id: String,
    /// The WhatsApp profile name Meta sends with each message (`contacts[].profile.name`); none
    /// when the contact comes without a profile.
    profile: Option<String>,
    seen: usize,
}

impl<'a> Customer<'a> {
    pub(crate) fn new(app: &'a TestApp, graph: &'a FakeGraph, wa_id: &str) -> Self {
        Self {
            app,
            graph,
            wa_id: wa_id.into(),
            profile: Some("Ana".into()),
            seen: 0,
        }
    }

    /// The same customer with another WhatsApp profile name, or none.
    pub(crate) fn with_profile(mut self, name: Option<&str>) -> Self {
        self.profile = name.map(str::to_owned);
        self
    }

    pub(crate) fn phone(&self) -> String {
        format!("+{}", self.wa_id)
    }

    pub(crate) fn conversation_key(&self) -> String {
        format!("whatsapp:{PHONE_NUMBER_ID}:+{}", self.wa_id)
    }

    /// The webhook of one message of this customer.
    fn webhook(&self, message: Value) -> (String, String) {
        let wamid = format!(
            "wamid.test{}.{}",
            self.wa_id,
            WAMIDS.fetch_add(1, Ordering::Relaxed)
        );
        let mut message = message;
        message["from"] = json!(self.wa_id);
        message["id"] = json!(wamid);
        message["timestamp"] = json!(Utc::now().timestamp().to_string());
        let contact = match &self.profile {
            Some(name) => json!({"profile": {"name": name}, "wa_id": self.wa_id}),
            None => json!({"wa_id": self.wa_id}),
        };
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [contact],
                "messages": [message]
            }}]}]
        });
        (wamid, body.to_string())
    }

    /// Posts a message as Meta does: again after a 503 (storage busy), until it is accepted.
    pub(crate) async fn post(&self, message: Value) -> String {
        let (wamid, body) = self.webhook(message);
        for _ in 0..20 {
            let response = self.app.post_whatsapp(body.clone()).await;
            match response.status().as_u16() {
                200 => return wamid,
                503 => tokio::time::sleep(Duration::from_millis(200)).await,
                other => panic!("webhook answered {other}"),
            }
        }
        panic!("webhook never accepted");
    }

    /// Sends a message and returns the bot's replies to it, as the Graph API received them.
    pub(crate) async fn send(&mut self, message: Value) -> Vec<Value> {
        let wamid = self.post(message).await;
        self.replies_to(&wamid).await
    }

    pub(crate) async fn say(&mut self, text: &str) -> Vec<Value> {
        self.send(json!({"type": "text", "text": {"body": text}}))
            .await
    }

    /// Taps a reply button the bot sent.
    pub(crate) async fn tap(&mut self, id: &str) -> Vec<Value> {
        self.send(json!({"type": "interactive", "interactive": {
            "type": "button_reply", "button_reply": {"id": id, "title": id}}}))
            .await
    }

    /// Chooses a row of a list the bot sent.
    pub(crate) async fn choose(&mut self, id: &str) -> Vec<Value> {
        self.send(json!({"type": "interactive", "interactive": {
            "type": "list_reply", "list_reply": {"id": id, "title": id}}}))
            .await
    }

    /// Waits until the message's turn is done and every reply it wrote reached the Graph API.
    pub(crate) async fn replies_to(&mut self, wamid: &str) -> Vec<Value> {
        let store = &self.app.store;
        let mut checked = usize::MAX;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for round in 0.. {
            if std::time::Instant::now() > deadline {
                break;
            }
            let mine = self.graph.delivered_to(&self.phone());
            // The database is asked only when something new arrived (or now and then, for turns
            // that say nothing), so that hundreds of waiting customers do not crowd its pool.
            if mine.len() != checked || round % 20 == 19 {
                checked = mine.len();
                // A busy pool (hundreds of customers at once) is a reason to look again, not to fail.
                let (Ok(event), Ok(outbox)) = (
                    store
                        .find_inbox_event(salonbot::store::Provider::WhatsApp, wamid)
                        .await,
                    store.outbox_for_recipient(&self.phone()).await,
                ) else {
                    checked = usize::MAX;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let handled = event.is_some_and(|e| e.status == InboxStatus::Done);
                let open = outbox.iter().any(|m| {
                    matches!(
                        m.status,
                        OutboundStatus::Pending | OutboundStatus::Sending | OutboundStatus::Waiting
                    )
                });
                if handled && !open && mine.len() >= outbox.len() {
                    let new = mine[self.seen..].to_vec();
                    self.seen = mine.len();
                    return new;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let event = store
            .find_inbox_event(salonbot::store::Provider::WhatsApp, wamid)
            .await
            .unwrap();
        let outbox = store.outbox_for_recipient(&self.phone()).await.unwrap();
        panic!(
            "no complete answer to {wamid}: event {event:?}, outbox {outbox:#?}, graph {:?}",
            self.graph.requests().len()
        );
    }

    /// Waits for `n` more messages the bot sends on its own (after news from elsewhere, a timer),
    /// and returns them.
    pub(crate) async fn wait_for(&mut self, n: usize) -> Vec<Value> {
        let want = self.seen + n;
        let mine = wait_until(
            Duration::from_secs(30),
            "the bot's next messages",
            || async {
                let mine = self.graph.delivered_to(&self.phone());
                (mine.len() >= want).then_some(mine)
            },
        )
        .await;
        let new = mine[self.seen..].to_vec();
        self.seen = mine.len();
        new
    }

    pub(crate) async fn appointments(&self) -> Vec<Appointment> {
        self.app
            .store
            .conversation_appointments(&self.conversation_key())
            .await
            .unwrap()
    }
}

pub(crate) fn text_of(message: &Value) -> &str {
    message["text"]["body"]
        .as_str()
        .or(message["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
}

pub(crate) fn button_ids(message: &Value) -> Vec<String> {
    message["interactive"]["action"]["buttons"]
        .as_array()
        .map(|buttons| {
            buttons
                .iter()
                .map(|b| b["reply"]["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn row_ids(message: &Value) -> Vec<String> {
    message["interactive"]["action"]["sections"]
        .as_array()
        .map(|sections| {
            sections
                .iter()
                .flat_map(|s| s["rows"].as_array().unwrap().iter())
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The last reply's rows, without the "anyone" and paging rows.
pub(crate) fn choices(replies: &[Value]) -> Vec<String> {
    let last = replies.last().expect("a reply");
    let rows = row_ids(last);
    assert!(!rows.is_empty(), "a list expected: {last}");
    rows.into_iter()
        .filter(|id| !["anyone", "earlier", "later"].contains(&id.as_str()))
        .collect()
}

/// From "hola" to the confirmation question, choosing as the bot offers; returns the replies to the
/// time chosen (the confirmation question).
pub(crate) async fn up_to_confirm(
    customer: &mut Customer<'_>,
    service: &str,
    staff: &str,
    day: usize,
) -> Vec<Value> {
    let greeting = customer.say("hola").await;
    assert_eq!(greeting.len(), 1, "{greeting:?}");
    assert!(
        text_of(&greeting[0]).contains("Peluquería Malasaña"),
        "{}",
        greeting[0]
    );
    assert_eq!(button_ids(&greeting[0]), ["book", "mine", "human"]);
    let services = customer.tap("book").await;
    assert!(
        choices(&services).contains(&service.to_owned()),
        "{services:?}"
    );
    let staff_list = customer.choose(service).await;
    assert!(row_ids(staff_list.last().unwrap()).contains(&staff.to_owned()));
    let days = customer.choose(staff).await;
    let day = choices(&days)[day].clone();
    let times = customer.choose(&day).await;
    assert!(
        text_of(times.last().unwrap()).contains("horas libres"),
        "{times:?}"
    );
    let time = choices(&times)[0].clone();
    customer.choose(&time).await
}

async fn books_from_hola_to_a_confirmed_appointment(backend: Backend) {
    let (app, graph) = app_with_graph(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600111222");
    let confirm = up_to_confirm(&mut ana, "cut-women", "lucia", 2).await;
    assert_eq!(button_ids(&confirm[0]), ["yes", "no"]);
    assert!(
        text_of(&confirm[0]).contains("Corte y peinado mujer con Lucía"),
        "{}",
        confirm[0]
    );
    let held = ana.appointments().await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, AppointmentStatus::Held);

    let confirmed = ana.tap("yes").await;
    assert!(
        text_of(&confirmed[0]).starts_with("¡Listo!"),
        "{}",
        confirmed[0]
    );
    let booked = ana.appointments().await;
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].status, AppointmentStatus::Confirmed);
    assert_eq!(
        (booked[0].service_id.as_str(), booked[0].staff_id.as_str()),
        ("cut-women", "lucia")
    );
    assert_eq!(booked[0].ends_at - booked[0].starts_at, Span::minutes(45));
    // The reminder is set for 24 hours before; the hold's timeout is gone.
    let key = format!(
        "{}/reminder:{}:{}",
        ana.conversation_key(),
        booked[0].starts_at.timestamp(),
        booked[0].id
    );
    assert_eq!(
        app.store.timer_due(&key).await.unwrap(),
        Some(booked[0].starts_at - Span::hours(24))
    );
}
both_backends!(booking, books_from_hola_to_a_confirmed_appointment);

async fn sees_reschedules_and_cancels_an_appointment(backend: Backend) {
    let (app, graph) = app_with_graph(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600111333");
    up_to_confirm(&mut ana, "cut-men", "marcos", 3).await;
    ana.tap("yes").await;
    let booked = ana.appointments().await.remove(0);

    let mine = ana.say("mis citas").await;
    let rows = choices(&mine);
    assert_eq!(rows, [format!("a{}", booked.id)]);
    let shown = ana.choose(&rows[0]).await;
    assert_eq!(button_ids(&shown[0]), ["cancel", "reschedule", "back"]);
    assert!(
        text_of(&shown[0]).contains("Corte hombre con Marcos"),
        "{}",
        shown[0]
    );

    let days = ana.tap("reschedule").await;
    let day = choices(&days)[1].clone();
    let times = ana.choose(&day).await;
    let time = choices(&times)[1].clone();
    let moved = ana.choose(&time).await;
    assert!(text_of(&moved[0]).starts_with("¡Cambiada!"), "{}", moved[0]);
    let after = ana.appointments().await;
    assert_eq!(after.len(), 1, "the same appointment, moved");
    assert_eq!(after[0].id, booked.id);
    assert_eq!(after[0].status, AppointmentStatus::Confirmed);
    assert_ne!(after[0].starts_at, booked.starts_at);
    assert_eq!(
        Some(after[0].starts_at.timestamp()),
        time[1..].split('.').next().and_then(|s| s.parse().ok())
    );

    let mine = ana.say("mis citas").await;
    ana.choose(&choices(&mine)[0]).await;
    let ask = ana.tap("cancel").await;
    assert_eq!(button_ids(&ask[0]), ["yes", "no"]);
    assert!(
        text_of(&ask[0]).contains("te la devolvemos"),
        "free cancellation: {}",
        ask[0]
    );
    let done = ana.tap("yes").await;
    assert!(text_of(&done[0]).contains("cancelada"), "{}", done[0]);
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::Cancelled
    );
    let none = ana.say("mis citas").await;
    assert!(
        text_of(&none[0]).contains("no tienes ninguna cita"),
        "{}",
        none[0]
    );
}
both_backends!(manage, sees_reschedules_and_cancels_an_appointment);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrecognised_input_reprompts_and_the_third_miss_offers_a_person() {
    let (app, graph) = app_with_graph(Backend::Postgres).await;
    let mut ana = Customer::new(&app, &graph, "34600111444");
    ana.say("hola").await;
    for _ in 0..2 {
        let replies = ana.say("xyzzy plugh").await;
        assert_eq!(replies.len(), 2);
        assert!(text_of(&replies[0]).starts_with("Perdona, no te he entendido"));
        assert_eq!(
            button_ids(&replies[1]),
            ["book", "mine", "human"],
            "the question again"
        );
    }
    let offer = ana.say("xyzzy plugh").await;
    assert_eq!(offer.len(), 1);
    assert_eq!(button_ids(&offer[0]), ["intent:human", "intent:menu"]);
    let handed = ana.tap("intent:human").await;
    assert!(
        text_of(&handed[0]).starts_with("Te paso con alguien"),
        "{}",
        handed[0]
    );

    // With a person the bot keeps quiet, until the customer asks for the menu.
    let quiet = ana.say("¿me podéis llamar?").await;
    assert!(quiet.is_empty(), "{quiet:?}");
    let back = ana.say("menú").await;
    assert_eq!(button_ids(&back[0]), ["book", "mine", "human"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_gets_one_polite_answer_and_languages_follow_the_customer() {
    let (app, graph) = app_with_graph(Backend::Sqlite).await;
    let mut ana = Customer::new(&app, &graph, "34600111555");
    let first = ana
        .send(json!({"type": "image", "image": {"id": "1234", "mime_type": "image/jpeg"}}))
        .await;
    assert!(
        text_of(&first[0]).contains("solo puedo leer texto"),
        "{first:?}"
    );
    let second = ana
        .send(json!({"type": "sticker", "sticker": {"id": "99", "mime_type": "image/webp"}}))
        .await;
    assert!(
        second
            .iter()
            .all(|m| !text_of(m).contains("solo puedo leer")),
        "once: {second:?}"
    );

    let mut john = Customer::new(&app, &graph, "447700900123");
    let greeting = john.say("Hello, I'd like to book a haircut").await;
    assert!(
        text_of(&greeting[0]).contains("Which service"),
        "{greeting:?}"
    );
    let mut joao = Customer::new(&app, &graph, "5511987654321");
    let greeting = joao.say("👋").await;
    assert!(text_of(&greeting[0]).starts_with("Olá"), "{greeting:?}");
}

/// A flow changed under live conversations: one whose state still exists carries on; one whose state
/// was removed starts again with an apology; a state named in the migration map moves there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_changed_under_live_conversations() {
    let graph = FakeGraph::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("templates"), &dir.path().join("templates"));
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    let original = std::fs::read_to_string(root.join("flows/booking.toml")).unwrap();
    std::fs::write(dir.path().join("flows/booking.toml"), &original).unwrap();
    let flows = dir.path().join("flows");

    let mut first = builder(Backend::Postgres, &graph)
        .var("FLOWS_DIR", flows.to_str().unwrap())
        .spawn()
        .await;
    let mut on_day = Customer::new(&first, &graph, "34600222001");
    on_day.say("quiero reservar").await;
    on_day.choose("cut-men").await;
    let days = on_day.choose("marcos").await;
    let day = choices(&days)[0].clone();
    let mut on_staff = Customer::new(&first, &graph, "34600222002");
    on_staff.say("quiero reservar").await;
    on_staff.choose("cut-men").await;
    let mut on_menu = Customer::new(&first, &graph, "34600222003");
    on_menu.say("hola").await;
    let seen = [on_day.seen, on_staff.seen, on_menu.seen];
    // The first instance's workers are done before the second starts: no turn of the old version can
    // run after this line.
    first.stop().await;

    // Version 2: pick_day is renamed choose_day (mapped); pick_staff is gone (not mapped: services
    // go straight to the days with anyone).
    let changed = original
        .replace("version = 1 ", "version = 2 ")
        .replace(
            "[flow.migrations]",
            "[flow.migrations]\npick_day = \"choose_day\"",
        )
        .replace("[states.pick_day]", "[states.choose_day]")
        .replace("goto = \"pick_day\"", "goto = \"choose_day\"")
        .replace(
            "{ choose = \"services\", set = \"service\", goto = \"pick_staff\" }",
            "{ choose = \"services\", set = \"service\", goto = \"choose_day\" }",
        )
        // `[[ahead]]` names the steps too (the checker refuses a state that is gone).
        .replace(
            "steps = [\"pick_service\", \"pick_staff\", \"pick_day\", \"pick_time\"]",
            "steps = [\"pick_service\", \"choose_day\", \"pick_time\"]",
        );
    let staff_start = changed.find("[states.pick_staff]").unwrap();
    let staff_end = changed[staff_start..].find("[states.choose_day]").unwrap() + staff_start;
    let changed = format!("{}{}", &changed[..staff_start], &changed[staff_end..]);
    assert!(changed.contains("version = 2 "), "the version line changed");
    // No lock file here: with one, `flows check` would insist on a migration entry for pick_staff.
    std::fs::write(dir.path().join("flows/booking.toml"), changed).unwrap();

    let second = builder(Backend::Postgres, &graph)
        .var("FLOWS_DIR", flows.to_str().unwrap())
        .database_url(first.database_url())
        .spawn()
        .await;
    let again = |wa_id: &str, seen: usize| {
        let mut customer = Customer::new(&second, &graph, wa_id);
        customer.seen = seen;
        customer
    };
    let mut on_day = again("34600222001", seen[0]);
    let times = on_day.choose(&day).await;
    assert!(
        text_of(times.last().unwrap()).contains("horas libres"),
        "mapped state answers: {times:?}"
    );
    let mut on_staff = again("34600222002", seen[1]);
    let restarted = on_staff.choose("marcos").await;
    assert!(
        text_of(&restarted[0]).contains("actualizado"),
        "{restarted:?}"
    );
    assert_eq!(button_ids(&restarted[1]), ["book", "mine", "human"]);
    let mut on_menu = again("34600222003", seen[2]);
    let carried_on = on_menu.tap("book").await;
    assert!(
        !choices(&carried_on).is_empty(),
        "greeting still exists: {carried_on:?}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// 200 customers tap the same 5 times at once: exactly 5 holds, everyone else hears the time was
/// taken and gets other times.
async fn two_hundred_customers_race_for_five_times(backend: Backend) {
    let (app, graph) = app_with_graph(backend).await;
    let (app, graph) = (Arc::new(app), Arc::new(graph));
    // Everyone walks to Lucía's times on the same day.
    let mut times = Vec::new();
    let walks = (0..200).map(|i| {
        let (app, graph) = (app.clone(), graph.clone());
        tokio::spawn(async move {
            let mut customer = Customer::new(&app, &graph, &format!("3461000{i:04}"));
            customer.say("quiero reservar una cita").await;
            customer.choose("cut-women").await;
            let days = customer.choose("lucia").await;
            let day = choices(&days)[3].clone();
            let times = customer.choose(&day).await;
            (customer.seen, choices(&times))
        })
    });
    let mut seen = Vec::new();
    for walk in futures_util::future::join_all(walks).await {
        let (count, offered) = walk.unwrap();
        seen.push(count);
        times.push(offered);
    }
    assert!(
        times.iter().all(|t| t == &times[0]),
        "everyone was offered the same times"
    );
    // Five times that do not overlap (a women's cut takes 45 minutes), tapped as rows of the list.
    let five = five_separate_times(&days_of_lucia(&times[0]));
    assert_eq!(five.len(), 5);

    let taps = (0..200).map(|i| {
        let (app, graph, time, seen) = (app.clone(), graph.clone(), five[i % 5].clone(), seen[i]);
        tokio::spawn(async move {
            let mut customer = Customer::new(&app, &graph, &format!("3461000{i:04}"));
            customer.seen = seen;
            (time.clone(), customer.choose(&time).await)
        })
    });
    let mut confirmed = 0;
    let mut turned_away = 0;
    for answer in futures_util::future::join_all(taps).await {
        let (tapped, replies) = answer.unwrap();
        if button_ids(&replies[0]) == ["yes", "no"] {
            confirmed += 1;
        } else {
            assert!(
                text_of(&replies[0]).contains("se acaba de ocupar"),
                "{replies:?}"
            );
            let others = choices(&replies);
            assert!(
                !others.contains(&tapped),
                "the taken time is not offered again"
            );
            turned_away += 1;
        }
    }
    assert_eq!((confirmed, turned_away), (5, 195));
    let mut held = Vec::new();
    for i in 0..200 {
        let key = format!("whatsapp:{PHONE_NUMBER_ID}:+3461000{i:04}");
        held.extend(app.store.conversation_appointments(&key).await.unwrap());
    }
    assert_eq!(held.len(), 5);
    let mut starts: Vec<_> = held.iter().map(|a| a.starts_at).collect();
    starts.dedup();
    starts.sort();
    starts.dedup();
    assert_eq!(starts.len(), 5, "five different times");
}
both_backends!(race, two_hundred_customers_race_for_five_times);

/// The day of the first time offered.
fn days_of_lucia(offered: &[String]) -> chrono::NaiveDate {
    let start: i64 = offered[0][1..].split('.').next().unwrap().parse().unwrap();
    let start = chrono::DateTime::from_timestamp(start, 0).unwrap();
    start.with_timezone(&chrono_tz::Europe::Madrid).date_naive()
}

/// Lucía's first five free times on `day` for a women's cut that do not overlap one another, as
/// list row ids.
fn five_separate_times(day: &chrono::NaiveDate) -> Vec<String> {
    use salonbot::booking::availability::{StaffChoice, free_slots};
    use salonbot::booking::catalog::{ServiceId, StaffId};
    let catalog =
        salonbot::booking::catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("salon.toml"))
            .unwrap();
    let slots = free_slots(
        &catalog,
        &ServiceId::new("cut-women"),
        StaffChoice::Specific(StaffId::new("lucia")),
        *day,
        Utc::now(),
        &[],
    );
    let mut chosen: Vec<salonbot::booking::availability::Slot> = Vec::new();
    for slot in slots {
        if chosen.iter().all(|c| slot.start >= c.occupies_until) && chosen.len() < 5 {
            chosen.push(slot);
        }
    }
    chosen
        .iter()
        .map(|s| format!("t{}.lucia", s.start.timestamp()))
        .collect()
}

/// 20 messages of one customer delivered at once are handled one at a time, in their order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_messages_at_once_are_handled_in_order() {
    let (app, graph) = app_with_graph(Backend::Postgres).await;
    let ana = Customer::new(&app, &graph, "34600111666");
    let bodies: Vec<(String, String)> = (0..20)
        .map(|n| ana.webhook(json!({"type": "text", "text": {"body": format!("mensaje {n}")}})))
        .collect();
    let posts = bodies
        .iter()
        .map(|(_, body)| app.post_whatsapp(body.clone()));
    for response in futures_util::future::join_all(posts).await {
        assert_eq!(response.status(), 200);
    }
    let key = ana.conversation_key();
    let events = wait_until(
        Duration::from_secs(60),
        "all 20 messages handled",
        || async {
            let events = app.store.conversation_events(&key).await.unwrap();
            (events.len() == 20 && events.iter().all(|e| e.status == InboxStatus::Done))
                .then_some(events)
        },
    )
    .await;
    // Every message got its turn (and its replies), in the order the messages were stored.
    let outbox = app.store.outbox_for_recipient(&ana.phone()).await.unwrap();
    let turns: Vec<i64> = outbox
        .iter()
        .map(|m| {
            m.idempotency_key
                .split(':')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let mut in_order = turns.clone();
    in_order.sort();
    assert_eq!(
        turns, in_order,
        "replies were written in the order of the events"
    );
    in_order.dedup();
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert_eq!(in_order, ids, "each of the 20 events had a turn");
    // The first message greets; the 19 after it are misses: sorry + the question again twice, then
    // the offer of a person (one message), and again: 1 + 6 × (2 + 2 + 1) + 2.
    assert_eq!(outbox.len(), 33);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_left_unconfirmed_expires_through_its_timer() {
    let (app, graph) = app_with_graph(Backend::Sqlite).await;
    let mut ana = Customer::new(&app, &graph, "34600111777");
    up_to_confirm(&mut ana, "manicure", "ines", 1).await;
    let key = ana.conversation_key();
    // Pretend ten minutes passed: bring the confirm state's timeout forward.
    let held = ana.appointments().await.remove(0);
    let timer_key = format!(
        "{key}/timeout:confirm:{}",
        state_entered_at(&app, &key).await.timestamp_millis()
    );
    let due = app.store.timer_due(&timer_key).await.unwrap();
    assert_eq!(due, held.hold_expires_at, "the timeout matches the hold");
    app.store
        .schedule_timer(
            &salonbot::store::NewTimer {
                key: timer_key.clone(),
                business_id: PHONE_NUMBER_ID.into(),
                conversation_key: key.clone(),
                kind: "state_timeout".into(),
                payload: json!({"timer": "state_timeout", "state": "confirm", "entered_at": state_entered_at(&app, &key).await}),
                due_at: Utc::now(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    for _ in 0..200 {
        let said = graph.delivered_to(&ana.phone());
        if text_of(said.last().unwrap()).contains("hemos liberado") {
            assert_eq!(
                ana.appointments().await[0].status,
                AppointmentStatus::Cancelled
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hold was not released by its timeout");
}

async fn state_entered_at(app: &TestApp, key: &str) -> chrono::DateTime<Utc> {
    let stored = app.store.conversation_state(key).await.unwrap().unwrap();
    serde_json::from_value(stored.state.unwrap()["entered_at"].clone()).unwrap()
}

/// A turn is written whole, once, and only while its worker still holds the event.
async fn a_turn_commits_once_and_only_under_its_claim(backend: Backend) {
    use salonbot::store::{EventKind, NewInboxEvent, NewOutbound, Provider, TurnCommit, TurnError};
    let db = crate::helpers::TestDb::new(backend).await;
    let store = db.store().await;
    let key = "whatsapp:b:+34600000777";
    store
        .record_inbound(&[NewInboxEvent {
            said: None,
            provider: Provider::WhatsApp,
            provider_event_id: "wamid.once".into(),
            business_id: "b".into(),
            conversation_key: key.into(),
            kind: EventKind::Message,
            payload: "{}".into(),
            received_at: Utc::now(),
        }])
        .await
        .unwrap();
    let claimed = store
        .claim_inbox(Utc::now(), Duration::from_secs(60), 1)
        .await
        .unwrap()
        .remove(0);
    let turn = |attempt: i32| TurnCommit {
        event_id: claimed.id,
        attempt,
        business_id: "b".into(),
        conversation_key: key.into(),
        flow: "booking".into(),
        state: json!({"state": "greeting"}),
        language: Some("es".into()),
        human: false,
        booking: Vec::new(),
        outbox: vec![NewOutbound {
            idempotency_key: format!("turn:{}:0.0", claimed.id),
            provider: salonbot::store::Provider::WhatsApp,
            business_id: "b".into(),
            conversation_key: key.into(),
            recipient: "+34600000777".into(),
            kind: "text".into(),
            payload: json!({"type": "text"}),
            created_at: Utc::now(),
        }],
        timers: Vec::new(),
        cancel_timers: Vec::new(),
    };
    let lost = store
        .commit_turn(&turn(claimed.attempts + 1), Utc::now())
        .await;
    assert!(matches!(lost, Err(TurnError::Stale)), "{lost:?}");
    assert!(
        store.conversation_state(key).await.unwrap().is_none(),
        "nothing saved"
    );
    assert!(
        store
            .outbox_for_recipient("+34600000777")
            .await
            .unwrap()
            .is_empty()
    );

    store
        .commit_turn(&turn(claimed.attempts), Utc::now())
        .await
        .unwrap();
    let saved = store.conversation_state(key).await.unwrap().unwrap();
    assert_eq!(saved.state, Some(json!({"state": "greeting"})));
    assert_eq!(saved.last_event_id, claimed.id);
    let event = store
        .find_inbox_event(Provider::WhatsApp, "wamid.once")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.status, InboxStatus::Done);
    assert_eq!(
        store
            .outbox_for_recipient("+34600000777")
            .await
            .unwrap()
            .len(),
        1
    );

    let again = store.commit_turn(&turn(claimed.attempts), Utc::now()).await;
    assert!(
        matches!(again, Err(TurnError::Stale)),
        "a done event is not applied twice"
    );
    assert_eq!(
        store
            .outbox_for_recipient("+34600000777")
            .await
            .unwrap()
            .len(),
        1
    );
}
both_backends!(turn_commit, a_turn_commits_once_and_only_under_its_claim);

/// Turns committed together: each is applied whole under its own claim, a turn whose claim was
/// lost leaves nothing, and a turn that books commits on its own beside them.
async fn turns_committed_together_apply_each_under_its_own_claim(backend: Backend) {
    use salonbot::store::{
        BookingOp, EventKind, NewHold, NewInboxEvent, NewOutbound, NewTimer, Provider, TurnCommit,
        TurnError, TurnTimer,
    };
    let db = crate::helpers::TestDb::new(backend).await;
    let store = db.store().await;
    let now = Utc::now();
    let phones = ["+34600000801", "+34600000802", "+34600000803"];
    let key = |phone: &str| format!("whatsapp:b:{phone}");
    store
        .record_inbound(
            &phones
                .iter()
                .map(|phone| NewInboxEvent {
                    said: None,
                    provider: Provider::WhatsApp,
                    provider_event_id: format!("wamid.{phone}"),
                    business_id: "b".into(),
                    conversation_key: key(phone),
                    kind: EventKind::Message,
                    payload: "{}".into(),
                    received_at: now,
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let claimed = store
        .claim_inbox(now, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    let event_of = |phone: &str| {
        claimed
            .iter()
            .find(|e| e.conversation_key == key(phone))
            .unwrap()
            .clone()
    };
    let hold = |phone: &str, hour: i64| NewHold {
        business_id: "b".into(),
        conversation_key: key(phone),
        service_id: "cut".into(),
        staff_id: "ana".into(),
        starts_at: now + Span::days(2) + Span::hours(hour),
        ends_at: now + Span::days(2) + Span::hours(hour + 1),
        occupied_until: now + Span::days(2) + Span::hours(hour + 1),
        hold_expires_at: now + Span::minutes(10),
        deposit_minor: 0,
    };
    // The first customer holds a time and has a timer running, both given up by the turn.
    let held = store.hold_slot(&hold(phones[0], 0), now).await.unwrap();
    let timer = |phone: &str, name: &str, minutes: i64| NewTimer {
        key: format!("{}/{name}", key(phone)),
        business_id: "b".into(),
        conversation_key: key(phone),
        kind: "state_timeout".into(),
        payload: json!({"timer": "state_timeout"}),
        due_at: now + Span::minutes(minutes),
    };
    store
        .schedule_timer(&timer(phones[0], "old", 5), now)
        .await
        .unwrap();
    let reply = |phone: &str, event: i64, i: usize| NewOutbound {
        idempotency_key: format!("turn:{event}:{i}.0"),
        provider: salonbot::store::Provider::WhatsApp,
        business_id: "b".into(),
        conversation_key: key(phone),
        recipient: phone.to_string(),
        kind: "text".into(),
        payload: json!({"type": "text", "text": {"body": format!("reply {i}")}}),
        created_at: now,
    };
    let turn = |phone: &str, attempt_offset: i32, booking: Vec<BookingOp>| {
        let event = event_of(phone);
        TurnCommit {
            event_id: event.id,
            attempt: event.attempts + attempt_offset,
            business_id: "b".into(),
            conversation_key: key(phone),
            flow: "booking".into(),
            state: json!({"state": format!("after {phone}")}),
            language: Some("en".into()),
            human: false,
            booking,
            outbox: (0..3).map(|i| reply(phone, event.id, i)).collect(),
            timers: vec![TurnTimer {
                timer: timer(phone, "new", 30),
                of_confirmed: false,
            }],
            cancel_timers: vec![format!("{}/old", key(phone))],
        }
    };
    let turns = vec![
        turn(phones[0], 0, vec![BookingOp::ReleaseHold]),
        // Its worker's claim was lost.
        turn(phones[1], 1, Vec::new()),
        // Holds a time: committed on its own, beside the others.
        turn(phones[2], 0, vec![BookingOp::Hold(hold(phones[2], 3))]),
    ];
    let results = store.commit_turns(&turns, Utc::now()).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(TurnError::Stale)),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);

    for (phone, applied) in [(phones[0], true), (phones[1], false), (phones[2], true)] {
        let saved = store.conversation_state(&key(phone)).await.unwrap();
        let event = store
            .find_inbox_event(Provider::WhatsApp, &format!("wamid.{phone}"))
            .await
            .unwrap()
            .unwrap();
        let replies = store.outbox_for_recipient(phone).await.unwrap();
        let new_timer = store
            .timer_due(&format!("{}/new", key(phone)))
            .await
            .unwrap();
        if applied {
            let saved = saved.expect("the conversation is saved");
            assert_eq!(
                saved.state,
                Some(json!({"state": format!("after {phone}")}))
            );
            assert_eq!(saved.last_event_id, event.id);
            assert_eq!(event.status, InboxStatus::Done);
            // In the turn's order, each once.
            let bodies: Vec<&Value> = replies.iter().map(|r| &r.payload["text"]["body"]).collect();
            assert_eq!(bodies, ["reply 0", "reply 1", "reply 2"], "{phone}");
            assert!(replies.windows(2).all(|w| w[0].id < w[1].id));
            assert!(new_timer.is_some(), "{phone}: the turn's timer is set");
        } else {
            assert!(saved.is_none(), "nothing saved without the claim");
            assert_eq!(event.status, InboxStatus::Processing);
            assert!(replies.is_empty());
            assert!(new_timer.is_none());
        }
    }
    // The first customer's hold and old timer are gone; the third customer holds its time.
    assert_eq!(
        store.appointment(held.id).await.unwrap().unwrap().status,
        AppointmentStatus::Cancelled
    );
    assert!(
        store
            .timer_due(&format!("{}/old", key(phones[0])))
            .await
            .unwrap()
            .is_none()
    );
    let third = store
        .conversation_appointments(&key(phones[2]))
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].status, AppointmentStatus::Held);

    // Committed again (a second worker finishing late): nothing is applied twice.
    let again = store.commit_turns(&turns, Utc::now()).await;
    assert!(again.iter().all(|r| matches!(r, Err(TurnError::Stale))));
    assert_eq!(
        store.outbox_for_recipient(phones[0]).await.unwrap().len(),
        3
    );
}
both_backends!(
    turns_together,
    turns_committed_together_apply_each_under_its_own_claim
);

/// Free text end to end: one message naming the service, the day and the time reaches the
/// confirmation with that time held; "sí" books it; a question about prices is answered from the
/// catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_naming_service_day_and_time_books_it_in_two_messages() {
    use chrono::{Datelike, TimeZone};
    let (app, graph) = app_with_graph(Backend::Sqlite).await;
    let mut ana = Customer::new(&app, &graph, "34600111777");
    // Next week's Thursday (Madrid), written as customers write dates: "26/11".
    let madrid = chrono_tz::Europe::Madrid;
    let today = Utc::now().with_timezone(&madrid).date_naive();
    let ahead = 7 + (3 + 7 - today.weekday().num_days_from_monday()) % 7;
    let thursday = today + Span::days(i64::from(ahead));
    let message = format!(
        "hola! quiero un corte de hombre el {}/{} a las 5",
        thursday.day(),
        thursday.month()
    );
    let replies = ana.say(&message).await;
    let last = replies.last().unwrap();
    assert!(text_of(last).contains("17:00"), "{replies:?}");
    let held = ana.appointments().await;
    assert_eq!(held.len(), 1);
    let expected = madrid
        .from_local_datetime(&thursday.and_hms_opt(17, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(held[0].starts_at, expected);
    assert_eq!(held[0].service_id, "cut-men");

    ana.say("sí").await;
    let booked = ana.appointments().await;
    assert_eq!(booked[0].status, AppointmentStatus::Confirmed);

    let prices = ana.say("¿cuánto cuesta el tinte?").await;
    assert!(
        text_of(&prices[0]).contains("Tinte de raíz: 45 €"),
        "{prices:?}"
    );
}
