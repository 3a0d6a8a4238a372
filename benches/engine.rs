//! The pure parts of a turn, on their own: the engine's step over the shipped booking flow (tapped,
//! and in free text), understanding one message by the rules (short and long, each language), the
//! availability it asks for, and the webhook's signature check and parsing. The whole path (ingress,
//! database, outbox) is measured by `examples/turns_bench.rs`; see docs/benchmarks.md.
//!
//!     cargo bench --bench engine

// A benchmark whose fixed setup is wrong should stop at once, naming what.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use salonbot::booking::availability::{Busy, StaffChoice, days_with_slots, free_slots};
use salonbot::booking::catalog::{self, Catalog, ServiceId, StaffId};
use salonbot::engine::effect::ReplyUi;
use salonbot::engine::input::Input;
use salonbot::engine::state::Conversation;
use salonbot::engine::understand::{Context, understand};
use salonbot::engine::view::View;
use salonbot::engine::{Flow, Templates, step};
use salonbot::ingress::signature::{sign_sha256_header, verify_sha256_header};
use salonbot::ingress::whatsapp::inbox_events;
use salonbot::whatsapp::webhook::NotificationIn;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn catalog() -> Catalog {
    let text = std::fs::read_to_string(format!("{ROOT}/salon.toml")).expect("salon.toml");
    catalog::parse(&text).expect("the shipped catalog parses")
}

fn flow() -> Flow {
    let text = std::fs::read_to_string(format!("{ROOT}/flows/booking.toml")).expect("booking.toml");
    salonbot::engine::parse("flows/booking.toml", &text).expect("the shipped flow parses")
}

/// The shipped message templates, read as `serve` reads them at start-up.
fn templates() -> Templates {
    let (templates, errors) =
        salonbot::engine::templates::load(Path::new(&format!("{ROOT}/templates")));
    assert!(errors.is_empty(), "the shipped templates load: {errors:?}");
    templates
}

/// Monday 23 November 2026, 10:00 in Madrid.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

/// A salon with a full book: every staff member busy for 45 minutes of every second hour over the
/// next two weeks.
fn busy(catalog: &Catalog) -> Vec<Busy> {
    let mut busy = Vec::new();
    for staff in catalog.staff() {
        for hour in (0..14 * 24).step_by(2) {
            let start = now() + Duration::hours(hour);
            busy.push(Busy {
                staff: staff.id.clone(),
                start,
                end: start + Duration::minutes(45),
            });
        }
    }
    busy
}

/// The first button or row id of a turn's last reply.
fn first_choice(ui: &ReplyUi) -> Option<String> {
    match ui {
        ReplyUi::Buttons(buttons) => buttons.first().map(|(id, _)| id.clone()),
        ReplyUi::List { rows, .. } => rows.first().map(|row| row.id.clone()),
        ReplyUi::None | ReplyUi::Cta { .. } => None,
    }
}

fn tap(id: String) -> Input {
    Input::Choice {
        id,
        title: String::new(),
    }
}

fn bench_step(c: &mut Criterion) {
    let catalog = catalog();
    let flow = flow();
    let templates = templates();
    let busy = busy(&catalog);
    let view = View {
        catalog: &catalog,
        templates: &templates,
        now: now(),
        busy: &busy,
        appointments: &[],
        deposits: false,
        phone: Some("+34600111222"),
    };

    // The booking path a customer taps through, each step's conversation and input kept so that each
    // can be measured on its own: "hola", book, the first service, anyone, the first day, the first
    // time (the hold is an effect for the executor; the step itself stays pure).
    let names = ["hola", "book", "service", "staff", "day", "time"];
    let mut path: Vec<(&str, Conversation, Input)> = Vec::new();
    let mut conversation = Conversation::default();
    let mut input = Input::Text("hola".into());
    for name in names {
        let turn = step(&flow, &conversation, &input, &view);
        path.push((name, conversation, input));
        let Some(next) = turn.replies.last().and_then(|r| first_choice(&r.ui)) else {
            break;
        };
        conversation = turn.state;
        input = tap(next);
    }
    assert_eq!(path.len(), names.len(), "the path reaches a time");

    let mut group = c.benchmark_group("step");
    for (name, conversation, input) in &path {
        group.bench_function(*name, |b| {
            b.iter(|| step(&flow, black_box(conversation), black_box(input), &view))
        });
    }
    group.bench_function("whole booking path", |b| {
        b.iter(|| {
            for (_, conversation, input) in &path {
                black_box(step(&flow, conversation, input, &view));
            }
        })
    });
    group.finish();
}

/// Messages as customers write them: a short and a long one per language.
const MESSAGES: [(&str, &str); 6] = [
    ("es short", "mañana a las 5"),
    (
        "es long",
        "hola buenas! queria pedir cita para cortarme el pelo con lucia el jueves q viene por la \
         tarde, a partir de las 6 si puede ser, gracias",
    ),
    ("en short", "haircut tmrw at 5pm"),
    (
        "en long",
        "hi there, could I book highlights with Lucia next saturday morning, anytime between 10 and \
         12 would be great, thanks a lot",
    ),
    ("pt short", "amanhã às 17h"),
    (
        "pt long",
        "olá bom dia, queria marcar umas madeixas com a lucia para sábado de manhã, depois das 10 \
         se possível, obrigada",
    ),
];

fn bench_understand(c: &mut Criterion) {
    let catalog = catalog();
    let context = Context {
        catalog: &catalog,
        now: now(),
        language: None,
    };
    let mut group = c.benchmark_group("understand");
    for (name, text) in MESSAGES {
        let reading = understand(text, &context);
        assert!(reading.carries_slots(), "{name}: {reading:?}");
        group.bench_function(name, |b| b.iter(|| understand(black_box(text), &context)));
    }
    group.finish();
}

fn bench_step_free_text(c: &mut Criterion) {
    let catalog = catalog();
    let flow = flow();
    let templates = templates();
    let busy = busy(&catalog);
    let view = View {
        catalog: &catalog,
        templates: &templates,
        now: now(),
        busy: &busy,
        appointments: &[],
        deposits: false,
        phone: Some("+34600111222"),
    };
    // The booking path in free text: one message to the confirmation, then "sí".
    let first = Input::Text("quiero un corte de hombre mañana a las 5".into());
    let turn = step(&flow, &Conversation::default(), &first, &view);
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    let yes = Input::Text("sí".into());
    let confirming = turn.state;
    let mut group = c.benchmark_group("step free text");
    group.bench_function("service, day and time in one message", |b| {
        b.iter(|| {
            step(
                &flow,
                black_box(&Conversation::default()),
                black_box(&first),
                &view,
            )
        })
    });
    group.bench_function("whole booking path (two messages)", |b| {
        b.iter(|| {
            black_box(step(&flow, &Conversation::default(), &first, &view));
            black_box(step(&flow, &confirming, &yes, &view));
        })
    });
    group.finish();
}

fn bench_availability(c: &mut Criterion) {
    let catalog = catalog();
    let busy = busy(&catalog);
    let service = ServiceId::new("cut-women");
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let mut group = c.benchmark_group("availability");
    group.bench_function("free slots of a day, anyone, full book", |b| {
        b.iter(|| {
            free_slots(
                &catalog,
                &service,
                StaffChoice::Anyone,
                black_box(day),
                now(),
                &busy,
            )
        })
    });
    group.bench_function("free slots of a day, one staff member", |b| {
        b.iter(|| {
            free_slots(
                &catalog,
                &service,
                StaffChoice::Specific(StaffId::new("lucia")),
                black_box(day),
                now(),
                &busy,
            )
        })
    });
    group.bench_function("ten days with free slots, anyone", |b| {
        b.iter(|| {
            days_with_slots(
                &catalog,
                &service,
                StaffChoice::Anyone,
                black_box(day),
                10,
                now(),
                &busy,
            )
        })
    });
    group.finish();
}

fn bench_webhook(c: &mut Criterion) {
    let secret = b"bench-app-secret";
    let mut group = c.benchmark_group("webhook");
    for fixture in [
        "01_text",
        "14_batch_two_changes_two_messages",
        "12_status_read",
    ] {
        let body = std::fs::read(format!("{ROOT}/tests/fixtures/whatsapp/{fixture}.json"))
            .expect("fixture");
        let header = sign_sha256_header(secret, &body);
        group.bench_function(format!("verify, parse, split: {fixture}"), |b| {
            b.iter(|| {
                verify_sha256_header(secret, Some(header.as_bytes()), black_box(&body))
                    .expect("signed");
                let notification: NotificationIn =
                    serde_json::from_slice(black_box(&body)).expect("parses");
                inbox_events(notification, now()).expect("events")
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_step,
    bench_step_free_text,
    bench_understand,
    bench_availability,
    bench_webhook
);
criterion_main!(benches);
