//! The shipped flow (`flows/booking.toml`) through the pure step: every transition of the file,
//! enumerated from the file itself and triggered the way a customer would, plus the engine's own
//! behaviour (first contact, language, misses, unsupported messages, human mode, flow changes, paging,
//! slot races, reminders).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::effect::{Effect, Reply, ReplyUi, TimerRequest, Turn};
use super::flow::{Action, Flow, Guard, Intent, OptionSource, SystemEvent, Trigger, Ui};
use super::input::{Input, Timer};
use super::state::{ANYONE, Conversation};
use super::step::{REMINDER_CANCEL, REMINDER_CONFIRM, step, timeout_key};
use super::view::{self, View};
use crate::booking::appointment::Appointment;
use crate::booking::appointment::AppointmentStatus;
use crate::booking::availability::Busy;
use crate::booking::catalog::{self, Catalog, Language, StaffId};

fn catalog() -> Catalog {
    catalog::parse(include_str!("../../salon.toml")).unwrap()
}

fn flow() -> Flow {
    super::parse(
        "flows/booking.toml",
        include_str!("../../flows/booking.toml"),
    )
    .unwrap()
}

/// Monday 23 November 2026, 10:00 in Madrid.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

const KEY: &str = "whatsapp:1065:+34600111222";

fn appointment(
    id: i64,
    starts_in: Duration,
    status: AppointmentStatus,
    deposit: i64,
) -> Appointment {
    let starts_at = now() + starts_in;
    Appointment {
        id,
        business_id: "1065".into(),
        conversation_key: KEY.into(),
        service_id: "cut-women".into(),
        staff_id: "lucia".into(),
        starts_at,
        ends_at: starts_at + Duration::minutes(45),
        occupied_until: starts_at + Duration::minutes(45),
        status,
        hold_expires_at: None,
        deposit_minor: deposit,
    }
}

/// The world a step sees, owned.
struct World {
    catalog: Catalog,
    busy: Vec<Busy>,
    appointments: Vec<Appointment>,
    deposits: bool,
    phone: Option<String>,
    now: DateTime<Utc>,
}

impl World {
    fn new() -> Self {
        Self {
            catalog: catalog(),
            busy: Vec::new(),
            appointments: Vec::new(),
            deposits: false,
            phone: Some("+34600111222".into()),
            now: now(),
        }
    }

    fn view(&self) -> View<'_> {
        View {
            catalog: &self.catalog,
            templates: super::templates::shipped(),
            now: self.now,
            busy: &self.busy,
            appointments: &self.appointments,
            deposits: self.deposits,
            phone: self.phone.as_deref(),
        }
    }

    fn step(&self, flow: &Flow, conversation: &Conversation, input: Input) -> Turn {
        step(flow, conversation, &input, &self.view())
    }
}

fn text(s: &str) -> Input {
    Input::Text(s.into())
}

fn tap(id: &str) -> Input {
    Input::Choice {
        id: id.into(),
        title: String::new(),
    }
}

fn in_state(state: &str) -> Conversation {
    Conversation {
        flow_version: 1,
        state: state.into(),
        language: Some(Language::Es),
        entered_at: Some(now() - Duration::minutes(1)),
        ..Conversation::default()
    }
}

/// A conversation in `state` with what that part of the flow has collected so far.
fn prepared(state: &str, world: &World) -> Conversation {
    prepared_with(state, world, "cut-women", ANYONE)
}

fn prepared_with(state: &str, world: &World, service: &str, staff: &str) -> Conversation {
    let mut conversation = in_state(state);
    let slots = &mut conversation.slots;
    slots.service = Some(service.into());
    slots.staff = Some(staff.into());
    // A day far enough ahead that the booking's reminder is still to come.
    let days = world.view().free_days(slots);
    let soonest = world.view().today() + Duration::days(2);
    slots.day = days
        .iter()
        .find(|d| **d >= soonest)
        .or(days.first())
        .copied();
    if let Some(day) = slots.day {
        let first = world.view().free_slots(slots, day).into_iter().next();
        if let Some(slot) = first {
            slots.start = Some(slot.start);
            slots.slot_staff = Some(slot.staff.to_string());
        }
    }
    if let Some(a) = world.appointments.first() {
        slots.appointment = Some(a.id);
    }
    conversation
}

fn intent_phrase(intent: Intent) -> &'static str {
    match intent {
        Intent::Menu => "menú",
        Intent::Cancel => "cancelar",
        Intent::Help => "ayuda",
        Intent::Human => "quiero hablar con una persona",
        Intent::Book => "quiero reservar una cita",
        Intent::MyAppointments => "mis citas",
        Intent::Yes => "sí",
        Intent::No => "no",
        Intent::Reschedule => "quiero cambiar mi cita",
        Intent::Prices => "¿cuánto cuesta?",
        Intent::Hours => "¿a qué hora abren?",
        Intent::Address => "¿dónde estáis?",
        Intent::Policy => "¿cuál es la política de cancelación?",
        Intent::Greeting => "hola",
        Intent::Thanks => "gracias",
        Intent::CancelAppointment => "quiero cancelar mi cita",
    }
}

/// A world in which `guard` holds and `actions` have something to act on: the customer has an
/// upcoming appointment (three days ahead, or five hours for a late cancellation) unless the guard
/// says they have none, with a deposit paid when there is one to refund.
fn world_for(guard: Option<Guard>, actions: &[Action]) -> World {
    let mut world = World::new();
    let refunds = actions.contains(&Action::Refund);
    match guard {
        Some(Guard::DepositRequired) => world.deposits = true,
        Some(Guard::NoAppointments) => return world,
        _ if refunds => world.deposits = true,
        _ => {}
    }
    let starts_in = match guard {
        Some(Guard::LateCancel) => Duration::hours(5),
        _ => Duration::days(3),
    };
    // A late cancellation is one that costs the deposit: there is one.
    let deposit = if refunds || guard == Some(Guard::LateCancel) {
        2000
    } else {
        0
    };
    world.appointments.push(appointment(
        7,
        starts_in,
        AppointmentStatus::Confirmed,
        deposit,
    ));
    world
}

/// Going back a page needs a page before the current one: a conversation prepared for such a
/// transition is on the second page.
fn on_the_page_for(conversation: &mut Conversation, actions: &[Action]) {
    if actions.contains(&Action::PageEarlier) {
        conversation.slots.page = 1;
    }
}

/// The input that fires `trigger` in a conversation prepared for `state`.
fn input_for(trigger: &Trigger, conversation: &Conversation, world: &World) -> Input {
    match trigger {
        Trigger::Button(id) => tap(id),
        Trigger::Intent(intent) => text(intent_phrase(*intent)),
        Trigger::Event(SystemEvent::ReminderConfirm) => tap(&format!("{REMINDER_CONFIRM}7")),
        Trigger::Event(SystemEvent::ReminderCancel) => tap(&format!("{REMINDER_CANCEL}7")),
        Trigger::Event(event) => Input::System(*event),
        Trigger::Text(_) => text("Ana García"),
        Trigger::Choose(source) => {
            let rows = view::options(&world.view(), Language::Es, *source, &conversation.slots);
            let row = rows
                .iter()
                .find(|r| r.id != ANYONE)
                .or(rows.first())
                .unwrap_or_else(|| panic!("no rows for {source}"));
            tap(&row.id)
        }
    }
}

/// Whether `effects` carry out `action` (some actions have nothing to do in some worlds).
fn carried_out(action: Action, effects: &[Effect], turn: &Turn, before: &Conversation) -> bool {
    match action {
        Action::Hold => effects.iter().any(|e| matches!(e, Effect::Hold(_))),
        Action::ReleaseHold => effects.contains(&Effect::ReleaseHold),
        Action::Confirm => effects.contains(&Effect::Confirm),
        Action::RequestDeposit => effects.contains(&Effect::RequestDeposit),
        Action::Cancel => effects.iter().any(|e| matches!(e, Effect::Cancel(7))),
        // The world of a refunding transition holds appointment 7 with a deposit paid.
        Action::Refund => effects.contains(&Effect::Refund(7)),
        Action::Reschedule => effects
            .iter()
            .any(|e| matches!(e, Effect::Reschedule { .. })),
        Action::Handoff => effects.contains(&Effect::Handoff) && turn.state.human,
        Action::ScheduleReminder => effects.iter().any(|e| {
            matches!(
                e,
                Effect::Schedule {
                    timer: TimerRequest::ReminderOfConfirmed { .. }
                        | TimerRequest::Ready(Timer::Reminder { .. }),
                    ..
                }
            )
        }),
        // Prepared on a later page (see `on_the_page_for`): there is an earlier one to go back to.
        Action::PageEarlier => {
            before.slots.page > 0 && turn.state.slots.page + 1 == before.slots.page
        }
        Action::PageLater => turn.state.slots.page == before.slots.page + 1,
        Action::Reset => turn.state.slots == Default::default(),
    }
}

/// The message a state says, checked against its declared interaction.
fn assert_says_state(flow: &Flow, state: &str, reply: &Reply, context: &str) {
    let declared = &flow.state(state).unwrap().ui;
    match (declared, &reply.ui) {
        (Ui::Text, ReplyUi::None) => {}
        (Ui::Buttons(buttons), ReplyUi::Buttons(sent)) => {
            let ids: Vec<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
            let declared: Vec<&str> = buttons.iter().map(|b| b.id.as_str()).collect();
            assert_eq!(ids, declared, "{context}");
            assert!(
                sent.iter()
                    .all(|(_, title)| !title.is_empty() && title.chars().count() <= 20),
                "{context}: {sent:?}"
            );
        }
        (Ui::List { .. }, ReplyUi::List { rows, button }) => {
            assert!(!rows.is_empty() && rows.len() <= 10, "{context}: {rows:?}");
            assert!(!button.is_empty(), "{context}");
        }
        (Ui::Cta { .. }, ReplyUi::Cta { .. } | ReplyUi::None) => {}
        (declared, sent) => panic!("{context}: state declares {declared:?}, sent {sent:?}"),
    }
    assert!(
        !reply.text.is_empty() && !reply.text.contains("{{"),
        "{context}: {}",
        reply.text
    );
}

#[test]
fn every_transition_of_the_shipped_flow_does_what_the_file_says() {
    let flow = flow();
    let mut checked = 0;
    for state in &flow.states {
        let globals = flow.globals.iter().map(|t| (t, true));
        for (transition, global) in state.on.iter().map(|t| (t, false)).chain(globals) {
            let world = world_for(transition.when, &transition.actions);
            let service = match transition.when {
                Some(Guard::DepositRequired) => "highlights",
                _ => "cut-women",
            };
            let mut before = prepared_with(&state.name, &world, service, ANYONE);
            on_the_page_for(&mut before, &transition.actions);
            let input = input_for(&transition.trigger, &before, &world);
            let context = format!(
                "{} --{}{}--> {:?} (line {})",
                state.name,
                transition.trigger,
                transition
                    .when
                    .map(|g| format!(" when {g}"))
                    .unwrap_or_default(),
                transition.goto.as_ref().map(|g| &g.name),
                transition.line
            );
            // A global intent whose phrase names one of the state's own buttons is that button.
            if global
                && let Trigger::Intent(intent) = transition.trigger
                && let Ui::Buttons(buttons) = &state.ui
            {
                let titles: Vec<String> = buttons
                    .iter()
                    .map(|b| {
                        super::templates::shipped()
                            .render(Language::Es, &b.label.name, &Default::default())
                            .unwrap()
                    })
                    .collect();
                let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
                if super::understand::pick(intent_phrase(intent), &titles).is_some() {
                    continue;
                }
            }
            // Another transition of the same trigger listed earlier, whose guard holds too, wins.
            let earlier = state
                .on
                .iter()
                .take_while(|t| !std::ptr::eq(*t, transition))
                .any(|t| {
                    t.trigger == transition.trigger
                        && t.when.is_none_or(|g| world.view().guard(g, &before.slots))
                });
            if earlier && !global {
                continue;
            }
            let turn = world.step(&flow, &before, input);
            let expected = transition
                .goto
                .as_ref()
                .map_or(state.name.as_str(), |g| g.name.as_str());
            assert_eq!(turn.state.state, expected, "{context}: {turn:#?}");
            for action in &transition.actions {
                assert!(
                    carried_out(*action, &turn.effects, &turn, &before),
                    "{context}: action {action} not carried out: {:?}",
                    turn.effects
                );
            }
            let last = turn
                .replies
                .last()
                .unwrap_or_else(|| panic!("{context}: silent"));
            assert_says_state(&flow, expected, last, &context);
            checked += 1;
        }
        if let Some(timeout) = &state.timeout {
            let world = World::new();
            let before = prepared(&state.name, &world);
            let input = Input::Timer(Timer::StateTimeout {
                state: state.name.clone(),
                entered_at: before.entered_at.unwrap(),
            });
            let turn = world.step(&flow, &before, input);
            let expected = timeout
                .goto
                .as_ref()
                .map_or(state.name.as_str(), |g| g.name.as_str());
            assert_eq!(turn.state.state, expected, "{} timeout", state.name);
            for action in &timeout.actions {
                assert!(
                    carried_out(*action, &turn.effects, &turn, &before),
                    "{} timeout: {action}",
                    state.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} transitions checked");
}

#[test]
fn a_first_hola_greets_in_spanish_with_the_menu() {
    let (flow, world) = (flow(), World::new());
    let turn = world.step(&flow, &Conversation::default(), text("hola"));
    assert_eq!(turn.state.state, "greeting");
    assert_eq!(turn.state.language, Some(Language::Es));
    assert_eq!(turn.replies.len(), 1);
    assert!(
        turn.replies[0].text.contains("Peluquería Malasaña"),
        "{:?}",
        turn.replies
    );
    assert_says_state(&flow, "greeting", &turn.replies[0], "greeting");
}

#[test]
fn the_language_comes_from_the_first_message_then_the_phone_then_the_salon() {
    let flow = flow();
    let mut world = World::new();
    let english = world.step(
        &flow,
        &Conversation::default(),
        text("Hi there, I'd like an appointment please"),
    );
    assert_eq!(english.state.language, Some(Language::En));
    assert!(
        english
            .replies
            .iter()
            .all(|r| r.text.is_ascii() || r.text.contains('\u{2019}') || !r.text.contains('¿'))
    );

    world.phone = Some("+5511987654321".into());
    let brazil = world.step(&flow, &Conversation::default(), text("👍"));
    assert_eq!(brazil.state.language, Some(Language::Pt));

    world.phone = Some("+81312345678".into());
    let unknown = world.step(&flow, &Conversation::default(), text("👍"));
    assert_eq!(
        unknown.state.language,
        Some(Language::Es),
        "the salon's default"
    );
}

#[test]
fn a_first_message_that_asks_to_book_goes_straight_to_the_services() {
    let (flow, world) = (flow(), World::new());
    let turn = world.step(
        &flow,
        &Conversation::default(),
        text("Hola, quiero reservar una cita"),
    );
    assert_eq!(turn.state.state, "pick_service");
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!("{:?}", turn.replies)
    };
    assert_eq!(rows.len(), world.catalog.services().len());
    assert!(
        rows[0].description.as_deref().unwrap().contains("35"),
        "{rows:?}"
    );
}

/// Plays a whole booking with the ids the bot sent, the way the WhatsApp client would answer.
#[test]
fn booking_from_hola_to_confirmed_with_the_choices_the_bot_sent() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = Conversation::default();
    let play = |input: Input, conversation: &mut Conversation| {
        let turn = world.step(&flow, conversation, input);
        *conversation = turn.state.clone();
        turn
    };
    let first_row = |turn: &Turn| match &turn.replies.last().unwrap().ui {
        ReplyUi::List { rows, .. } => rows
            .iter()
            .find(|r| r.id != ANYONE && r.id != "earlier" && r.id != "later")
            .unwrap()
            .id
            .clone(),
        other => panic!("list expected, got {other:?}"),
    };
    play(text("hola"), &mut conversation);
    let turn = play(tap("book"), &mut conversation);
    assert_eq!(conversation.state, "pick_service");
    let turn = play(tap(&first_row(&turn)), &mut conversation);
    assert_eq!(conversation.state, "pick_staff");
    let turn = play(tap(&first_row(&turn)), &mut conversation);
    assert_eq!(conversation.state, "pick_day");
    // A day far enough ahead for its reminder (24 h before) to be still to come.
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!()
    };
    let turn = play(tap(&rows[2].id), &mut conversation);
    assert_eq!(conversation.state, "pick_time");
    let turn = play(tap(&first_row(&turn)), &mut conversation);
    assert_eq!(conversation.state, "confirm");
    let Some(Effect::Hold(hold)) = turn.effects.iter().find(|e| matches!(e, Effect::Hold(_)))
    else {
        panic!("{:?}", turn.effects)
    };
    assert_eq!(hold.slot.service, "cut-women");
    assert_eq!(hold.expires_at, now() + Duration::minutes(10));
    let waits = turn.effects.iter().find_map(|e| match e {
        Effect::Schedule { key, due_at, .. } if key.starts_with("timeout:confirm:") => {
            Some(*due_at)
        }
        _ => None,
    });
    assert_eq!(
        waits,
        Some(hold.expires_at),
        "the confirmation waits as long as the hold"
    );
    assert!(
        turn.replies[0].text.contains("Corte y peinado mujer"),
        "{}",
        turn.replies[0].text
    );
    let turn = play(tap("yes"), &mut conversation);
    assert_eq!(conversation.state, "confirmed");
    assert!(turn.effects.contains(&Effect::Confirm));
    assert!(
        turn.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer(key) if key.starts_with("timeout:confirm:")))
    );
    assert!(
        turn.effects
            .iter()
            .any(|e| matches!(e, Effect::Schedule { key, .. } if key.starts_with("reminder:")))
    );
}

#[test]
fn typed_answers_work_like_taps() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = prepared("pick_time", &world);
    conversation.slots.start = None;
    let times = view::options(
        &world.view(),
        Language::Es,
        OptionSource::Times,
        &conversation.slots,
    );
    let turn = world.step(&flow, &conversation, text(&times[1].title));
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    let start = view::parse_time_row(&times[1].id).unwrap().0;
    assert_eq!(turn.state.slots.start, Some(start));

    let confirm = turn.state;
    let turn = world.step(&flow, &confirm, text("Sí"));
    assert_eq!(turn.state.state, "confirmed");
    let turn = world.step(&flow, &in_state("greeting"), text("2"));
    assert_eq!(
        turn.state.state, "no_appointments",
        "the second button: my appointments"
    );
}

#[test]
fn three_misses_in_a_row_offer_a_person_and_the_offer_works() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = in_state("greeting");
    for miss in 1..=2 {
        let turn = world.step(&flow, &conversation, text("asdfgh"));
        assert_eq!(turn.state.misses, miss);
        assert_eq!(turn.replies.len(), 2, "sorry, and the question again");
        assert_says_state(&flow, "greeting", &turn.replies[1], "re-prompt");
        conversation = turn.state;
    }
    let turn = world.step(&flow, &conversation, text("qwerty"));
    assert_eq!(turn.state.misses, 0);
    let ReplyUi::Buttons(buttons) = &turn.replies[0].ui else {
        panic!("{:?}", turn.replies)
    };
    assert_eq!(buttons[0].0, "intent:human");
    let turn = world.step(&flow, &turn.state, tap("intent:human"));
    assert_eq!(turn.state.state, "with_staff");
    assert!(turn.state.human && turn.effects.contains(&Effect::Handoff));
}

#[test]
fn a_good_answer_resets_the_misses() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = in_state("greeting");
    conversation.misses = 2;
    let turn = world.step(&flow, &conversation, tap("book"));
    assert_eq!(turn.state.misses, 0);
}

#[test]
fn media_gets_a_polite_answer_once_then_counts_as_a_miss() {
    let (flow, world) = (flow(), World::new());
    let turn = world.step(
        &flow,
        &in_state("greeting"),
        Input::Unsupported("image".into()),
    );
    assert_eq!(turn.replies.len(), 2);
    assert!(
        turn.replies[0].text.contains("texto"),
        "{}",
        turn.replies[0].text
    );
    assert!(turn.state.told_unsupported);
    assert_eq!(turn.state.misses, 0);
    let again = world.step(&flow, &turn.state, Input::Unsupported("sticker".into()));
    assert_eq!(again.state.misses, 1);
    assert!(!again.replies[0].text.contains("solo puedo leer"));
}

#[test]
fn with_a_person_the_bot_stays_quiet_until_menu() {
    let (flow, world) = (flow(), World::new());
    let turn = world.step(&flow, &in_state("greeting"), tap("human"));
    assert!(turn.state.human);
    let quiet = world.step(&flow, &turn.state, text("¿tenéis hora el viernes?"));
    assert!(quiet.replies.is_empty() && quiet.effects.is_empty());
    assert_eq!(quiet.state, turn.state);
    let back = world.step(&flow, &turn.state, text("menú"));
    assert_eq!(back.state.state, "greeting");
    assert!(!back.state.human);
}

#[test]
fn a_state_removed_from_the_flow_apologises_and_starts_again() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = in_state("choose_colour");
    conversation.slots.service = Some("highlights".into());
    let turn = world.step(&flow, &conversation, text("el azul"));
    assert_eq!(turn.state.state, "greeting");
    assert_eq!(turn.state.slots, Default::default());
    assert!(turn.effects.contains(&Effect::ReleaseHold));
    assert!(
        turn.replies[0].text.contains("actualizado"),
        "{:?}",
        turn.replies
    );
    assert_says_state(&flow, "greeting", &turn.replies[1], "entry");
}

#[test]
fn a_migration_entry_moves_the_conversation_and_handles_the_message_there() {
    let text_flow = include_str!("../../flows/booking.toml").replace(
        "[flow.migrations]",
        "[flow.migrations]\nchoose_day = \"pick_day\"",
    );
    let flow = super::parse("flows/booking.toml", &text_flow).unwrap();
    let world = World::new();
    let mut conversation = prepared("pick_day", &world);
    conversation.state = "choose_day".into();
    let day = conversation.slots.day.unwrap();
    let turn = world.step(&flow, &conversation, tap(&day.to_string()));
    assert_eq!(turn.state.state, "pick_time");
    assert_eq!(turn.state.flow_version, flow.version);
}

#[test]
fn a_conversation_on_an_older_version_whose_state_still_exists_carries_on() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = in_state("greeting");
    conversation.flow_version = 0;
    let turn = world.step(&flow, &conversation, tap("book"));
    assert_eq!(turn.state.state, "pick_service");
    assert_eq!(turn.state.flow_version, flow.version);
}

#[test]
fn a_stale_timeout_does_nothing() {
    let (flow, world) = (flow(), World::new());
    let conversation = prepared("confirm", &world);
    let stale = Input::Timer(Timer::StateTimeout {
        state: "confirm".into(),
        entered_at: conversation.entered_at.unwrap() - Duration::minutes(30),
    });
    let turn = world.step(&flow, &conversation, stale);
    assert_eq!(turn.state, conversation);
    assert!(turn.replies.is_empty() && turn.effects.is_empty());
}

#[test]
fn the_hold_timing_out_releases_the_slot() {
    let (flow, world) = (flow(), World::new());
    let conversation = prepared("confirm", &world);
    let turn = world.step(
        &flow,
        &conversation,
        Input::Timer(Timer::StateTimeout {
            state: "confirm".into(),
            entered_at: conversation.entered_at.unwrap(),
        }),
    );
    assert_eq!(turn.state.state, "hold_expired");
    assert!(turn.effects.contains(&Effect::ReleaseHold));
    assert!(turn.effects.contains(&Effect::CancelTimer(timeout_key(
        "confirm",
        conversation.entered_at.unwrap()
    ))));
}

#[test]
fn a_time_taken_meanwhile_is_not_held_and_other_times_are_offered() {
    let flow = flow();
    let mut world = World::new();
    let conversation = prepared_with("pick_time", &world, "cut-women", "lucia");
    let times = view::options(
        &world.view(),
        Language::Es,
        OptionSource::Times,
        &conversation.slots,
    );
    let (start, staff) = view::parse_time_row(&times[0].id).unwrap();
    world.busy.push(Busy {
        staff: StaffId::new(staff),
        start,
        end: start + Duration::minutes(45),
    });
    let turn = world.step(&flow, &conversation, tap(&times[0].id));
    assert_eq!(turn.state.state, "pick_time");
    assert!(!turn.effects.iter().any(|e| matches!(e, Effect::Hold(_))));
    assert!(
        turn.replies[0].text.contains("ocupar"),
        "{:?}",
        turn.replies
    );
    let ReplyUi::List { rows, .. } = &turn.replies[1].ui else {
        panic!("{:?}", turn.replies)
    };
    assert!(
        rows.iter().all(|r| r.id != times[0].id),
        "the taken time is not offered again"
    );

    // The executor's news that the store refused the hold says the same.
    let turn = world.step(&flow, &conversation, Input::SlotTaken);
    assert_eq!(turn.state.state, "pick_time");
    assert_eq!(turn.replies.len(), 2);
}

#[test]
fn times_are_paged_with_earlier_and_later_rows() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = prepared("pick_time", &world);
    conversation.slots.start = None;
    let all = view::options(
        &world.view(),
        Language::Es,
        OptionSource::Times,
        &conversation.slots,
    );
    assert!(
        all.len() > 10,
        "a full day has more than one page: {}",
        all.len()
    );
    let later = world.step(&flow, &conversation, tap("later"));
    assert_eq!(later.state.slots.page, 1);
    let ReplyUi::List { rows, .. } = &later.replies[0].ui else {
        panic!()
    };
    assert_eq!(rows.first().unwrap().id, "earlier");
    assert_eq!(rows[1].id, all[8].id);
    let earlier = world.step(&flow, &later.state, tap("earlier"));
    assert_eq!(earlier.state.slots.page, 0);
    let ReplyUi::List { rows, .. } = &earlier.replies[0].ui else {
        panic!()
    };
    assert_eq!(rows[0].id, all[0].id);
    assert_eq!(rows.last().unwrap().id, "later");
}

#[test]
fn only_days_with_free_times_are_listed() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = prepared("pick_staff", &world);
    conversation.slots.staff = None;
    let turn = world.step(&flow, &conversation, tap("ines"));
    // Inés does not cut hair: not a row of this list.
    assert_eq!(turn.state.state, "pick_staff");
    let turn = world.step(&flow, &conversation, tap("marcos"));
    assert_eq!(turn.state.state, "pick_day");
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!()
    };
    // The list pages through the whole booking horizon.
    assert_eq!(rows.last().map(|r| r.id.as_str()), Some("later"));
    for row in rows.iter().filter(|r| r.id != "later") {
        let day: NaiveDate = row.id.parse().unwrap();
        let mut slots = turn.state.slots.clone();
        slots.day = Some(day);
        assert!(!world.view().free_slots(&slots, day).is_empty(), "{day}");
        assert_ne!(
            day.format("%a").to_string(),
            "Sat",
            "Marcos does not work on Saturdays"
        );
    }
}

#[test]
fn cancelling_late_keeps_the_deposit_and_early_refunds_it() {
    let flow = flow();
    let mut world = World::new();
    world.deposits = true;
    world.appointments.push(appointment(
        7,
        Duration::days(3),
        AppointmentStatus::Confirmed,
        2000,
    ));
    let mut conversation = in_state("cancel_free");
    conversation.slots.appointment = Some(7);
    let turn = world.step(&flow, &conversation, tap("yes"));
    assert_eq!(turn.effects, vec![Effect::Cancel(7), Effect::Refund(7)]);
    assert_eq!(turn.state.state, "cancelled");

    let mut conversation = in_state("cancel_late");
    conversation.slots.appointment = Some(7);
    let turn = world.step(&flow, &conversation, tap("yes"));
    assert_eq!(turn.effects, vec![Effect::Cancel(7)]);
}

#[test]
fn the_salons_cancellation_cancels_refunds_as_asked_and_tells_the_customer_even_in_human_mode() {
    let flow = flow();
    let mut world = World::new();
    world.deposits = true;
    world.appointments.push(appointment(
        7,
        Duration::days(3),
        AppointmentStatus::Confirmed,
        2000,
    ));
    world.appointments[0].service_id = "highlights".into();
    let mut conversation = in_state("greeting");
    conversation.human = true;
    let cancel = |refund| Input::SalonCancel {
        appointment: 7,
        refund,
    };
    let turn = world.step(&flow, &conversation, cancel(true));
    assert_eq!(turn.effects, vec![Effect::Cancel(7), Effect::Refund(7)]);
    assert_eq!(turn.replies.len(), 1);
    assert!(
        turn.replies[0]
            .text
            .starts_with("El salón te ha devuelto la señal de 20 €"),
        "{}",
        turn.replies[0].text
    );
    assert_eq!(
        (turn.state.state.as_str(), turn.state.human),
        ("greeting", true),
        "the conversation stays where it was"
    );

    let turn = world.step(&flow, &conversation, cancel(false));
    assert_eq!(turn.effects, vec![Effect::Cancel(7)]);
    assert!(
        turn.replies[0]
            .text
            .starts_with("El salón ha tenido que cancelar tu cita"),
        "{}",
        turn.replies[0].text
    );

    // Another conversation's appointment, or one no longer open: nothing.
    let other = Input::SalonCancel {
        appointment: 8,
        refund: true,
    };
    assert!(world.step(&flow, &conversation, other).effects.is_empty());
    world.appointments[0].status = AppointmentStatus::Cancelled;
    let turn = world.step(&flow, &conversation, cancel(true));
    assert!(turn.effects.is_empty() && turn.replies.is_empty());

    // A conversation that never started (a walk-in's): cancelled, nobody told.
    world.appointments[0].status = AppointmentStatus::Confirmed;
    let turn = world.step(&flow, &Conversation::default(), cancel(false));
    assert_eq!(turn.effects, vec![Effect::Cancel(7)]);
    assert!(turn.replies.is_empty());
}

#[test]
fn rescheduling_moves_the_same_appointment_and_its_own_time_is_not_in_the_way() {
    let flow = flow();
    let mut world = World::new();
    let booked = appointment(7, Duration::days(2), AppointmentStatus::Confirmed, 0);
    world.busy.push(Busy {
        staff: StaffId::new("lucia"),
        start: booked.starts_at,
        end: booked.occupied_until,
    });
    world.appointments.push(booked.clone());
    let turn = world.step(&flow, &in_state("my_appointments"), tap("a7"));
    assert_eq!(turn.state.state, "appointment");
    assert_eq!(turn.state.slots.staff.as_deref(), Some("lucia"));
    let turn = world.step(&flow, &turn.state, tap("reschedule"));
    assert_eq!(turn.state.state, "reschedule_day");
    let day = world.view().local_date(booked.starts_at).to_string();
    let turn = world.step(&flow, &turn.state, tap(&day));
    assert_eq!(turn.state.state, "reschedule_time");
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!()
    };
    let own = format!("t{}.lucia", booked.starts_at.timestamp());
    let later_rows: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut all_slots = turn.state.slots.clone();
    all_slots.day = world.view().local_date(booked.starts_at).into();
    let all = world.view().free_slots(&all_slots, all_slots.day.unwrap());
    assert!(
        all.iter().any(|s| view::time_row_id(s) == own),
        "its own time stays free for it: {later_rows:?}"
    );
    let pick = rows
        .iter()
        .find(|r| r.id != own && r.id.starts_with('t'))
        .unwrap();
    let moved = world.step(&flow, &turn.state, tap(&pick.id));
    assert_eq!(moved.state.state, "rescheduled");
    let Some(Effect::Reschedule { appointment, to }) = moved.effects.first() else {
        panic!("{:?}", moved.effects)
    };
    assert_eq!(*appointment, 7);
    assert_eq!(to.staff, "lucia");
    assert!(moved.effects.iter().any(|e| matches!(
        e,
        Effect::Schedule {
            timer: TimerRequest::Ready(Timer::Reminder { appointment: 7, .. }),
            ..
        }
    )));
}

#[test]
fn a_reminder_names_its_appointment_and_its_buttons_answer() {
    let flow = flow();
    let mut world = World::new();
    let booked = appointment(7, Duration::hours(20), AppointmentStatus::Confirmed, 2000);
    world.appointments.push(booked.clone());
    let conversation = in_state("confirmed");
    let turn = world.step(
        &flow,
        &conversation,
        Input::Timer(Timer::Reminder {
            appointment: 7,
            start: booked.starts_at,
        }),
    );
    assert_eq!(
        turn.state, conversation,
        "a reminder does not move the conversation"
    );
    let reply = &turn.replies[0];
    assert!(
        reply.text.contains("Lucía") && reply.text.contains("Corte"),
        "{}",
        reply.text
    );
    let template = reply.template.as_ref().unwrap();
    assert_eq!(
        template.payloads,
        [
            format!("{REMINDER_CONFIRM}7"),
            format!("{REMINDER_CANCEL}7")
        ]
    );

    let thanks = world.step(&flow, &conversation, tap(&format!("{REMINDER_CONFIRM}7")));
    assert_eq!(thanks.state.state, "reminder_confirmed");
    let cancel = world.step(&flow, &conversation, tap(&format!("{REMINDER_CANCEL}7")));
    assert_eq!(
        cancel.state.state, "cancel_late",
        "20 h before: inside the 24 h of the policy"
    );
    // Without a deposit, nothing is lost by cancelling late: nothing to warn about.
    let mut free = World::new();
    free.appointments.push(appointment(
        7,
        Duration::hours(20),
        AppointmentStatus::Confirmed,
        0,
    ));
    let cancel = free.step(&flow, &conversation, tap(&format!("{REMINDER_CANCEL}7")));
    assert_eq!(cancel.state.state, "cancel_free");

    // Moved or cancelled since: the old reminder says nothing.
    let moved = Input::Timer(Timer::Reminder {
        appointment: 7,
        start: booked.starts_at - Duration::hours(1),
    });
    assert!(world.step(&flow, &conversation, moved).replies.is_empty());
}

#[test]
fn deposits_stay_off_until_a_payment_provider_is_configured() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = prepared("confirm", &world);
    conversation.slots.service = Some("highlights".into());
    let turn = world.step(&flow, &conversation, tap("yes"));
    assert_eq!(turn.state.state, "confirmed");
    assert!(turn.effects.contains(&Effect::Confirm));
}

#[test]
fn the_step_never_panics_and_keeps_to_known_states_on_random_input() {
    use proptest::prelude::*;
    let flow = flow();
    let world = World::new();
    let inputs = prop::collection::vec(
        prop_oneof![
            "[a-záéíóúñ0-9 ?]{0,20}".prop_map(Input::Text),
            "(book|mine|human|yes|no|later|earlier|again|menu|cancel|back|reschedule|a7|intent:menu|intent:human|t[0-9]{10}\\.lucia|2026-11-2[4-9]|cut-men|anyone|lucia)"
                .prop_map(|id| Input::Choice { id, title: String::new() }),
            Just(Input::Unsupported("image".into())),
            Just(Input::SlotTaken),
            Just(Input::HoldLost),
        ],
        1..25,
    );
    proptest!(ProptestConfig::with_cases(200), |(inputs in inputs)| {
        let mut conversation = Conversation::default();
        for input in inputs {
            let turn = world.step(&flow, &conversation, input);
            prop_assert!(
                turn.state.is_new() || flow.state(&turn.state.state).is_some(),
                "unknown state {}",
                turn.state.state
            );
            for reply in &turn.replies {
                prop_assert!(!reply.text.is_empty());
                if let ReplyUi::List { rows, .. } = &reply.ui {
                    prop_assert!(!rows.is_empty() && rows.len() <= 10);
                }
            }
            conversation = turn.state;
        }
    });
}

#[test]
fn a_timer_for_a_conversation_that_never_started_says_nothing() {
    let (flow, world) = (flow(), World::new());
    let timer = Input::Timer(Timer::Reminder {
        appointment: 1,
        start: now() + Duration::days(1),
    });
    let turn = world.step(&flow, &Conversation::default(), timer);
    assert!(turn.replies.is_empty() && turn.effects.is_empty());
    assert!(turn.state.is_new());
}

#[test]
fn every_template_the_engine_says_on_its_own_exists_in_every_language() {
    for name in super::step::ENGINE_TEMPLATES {
        for language in Language::ALL {
            assert!(
                super::templates::shipped().has(language, name),
                "{language}/{name}"
            );
        }
    }
}

#[test]
fn saying_no_to_a_held_time_offers_it_again() {
    let flow = flow();
    let mut world = World::new();
    let conversation = prepared_with("confirm", &world, "cut-women", "lucia");
    let start = conversation.slots.start.unwrap();
    let mut held = appointment(9, start - now(), AppointmentStatus::Held, 0);
    held.hold_expires_at = Some(now() + Duration::minutes(9));
    world.busy.push(Busy {
        staff: StaffId::new("lucia"),
        start: held.starts_at,
        end: held.occupied_until,
    });
    world.appointments.push(held);
    let turn = world.step(&flow, &conversation, tap("no"));
    assert_eq!(turn.state.state, "pick_time");
    assert!(turn.effects.contains(&Effect::ReleaseHold));
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!("{:?}", turn.replies)
    };
    assert_eq!(
        rows[0].id,
        format!("t{}.lucia", start.timestamp()),
        "the released time is free again"
    );

    // Someone else's hold on that time still blocks it.
    world.appointments.clear();
    let turn = world.step(&flow, &conversation, tap("no"));
    let ReplyUi::List { rows, .. } = &turn.replies[0].ui else {
        panic!()
    };
    assert_ne!(rows[0].id, format!("t{}.lucia", start.timestamp()));
}

#[test]
fn after_a_long_silence_the_conversation_starts_again() {
    let (flow, world) = (flow(), World::new());
    let mut conversation = prepared("pick_time", &world);
    conversation.human = true;
    conversation.last_seen = Some(now() - Duration::hours(13));
    let turn = world.step(&flow, &conversation, text("hola"));
    assert_eq!(turn.state.state, "greeting");
    assert!(!turn.state.human);
    assert_eq!(turn.state.slots, Default::default());
    assert_eq!(
        turn.state.language,
        Some(Language::Es),
        "the language is kept"
    );
    assert_eq!(turn.state.last_seen, Some(now()));
    assert!(turn.effects.contains(&Effect::ReleaseHold));
    assert_says_state(&flow, "greeting", &turn.replies[0], "restart");

    // An hour of silence is just a pause.
    conversation.human = false;
    conversation.last_seen = Some(now() - Duration::hours(1));
    let turn = world.step(&flow, &conversation, tap("later"));
    assert_eq!(turn.state.state, "pick_time");
    assert_eq!(turn.state.slots.page, 1);
}

#[test]
fn a_whole_booking_cancel_and_reschedule_in_each_language() {
    let flow = flow();
    for (language, first, service, weekday_words) in [
        (
            Language::Es,
            "hola",
            "Corte hombre",
            [
                "lunes",
                "martes",
                "miércoles",
                "jueves",
                "viernes",
                "sábado",
            ],
        ),
        (
            Language::En,
            "hello",
            "Men's cut",
            [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
            ],
        ),
        (
            Language::Pt,
            "olá",
            "Corte masculino",
            ["segunda", "terça", "quarta", "quinta", "sexta", "sábado"],
        ),
    ] {
        let mut world = World::new();
        let mut conversation = Conversation::default();
        let play = |input: Input, conversation: &mut Conversation, world: &World| {
            let turn = world.step(&flow, conversation, input);
            *conversation = turn.state.clone();
            turn
        };
        let first_row = |turn: &Turn, skip: usize| match &turn.replies.last().unwrap().ui {
            ReplyUi::List { rows, .. } => rows
                .iter()
                .filter(|r| r.id != ANYONE && r.id != "later")
                .nth(skip)
                .unwrap()
                .id
                .clone(),
            other => panic!("list expected, got {other:?}"),
        };
        play(text(first), &mut conversation, &world);
        assert_eq!(conversation.language, Some(language));
        play(tap("book"), &mut conversation, &world);
        play(tap("cut-men"), &mut conversation, &world);
        let turn = play(tap("marcos"), &mut conversation, &world);
        let turn = play(tap(&first_row(&turn, 2)), &mut conversation, &world);
        let turn = play(tap(&first_row(&turn, 0)), &mut conversation, &world);
        assert_eq!(conversation.state, "confirm");
        let Some(Effect::Hold(hold)) = turn.effects.iter().find(|e| matches!(e, Effect::Hold(_)))
        else {
            panic!()
        };
        let turn = play(tap("yes"), &mut conversation, &world);
        assert_eq!(conversation.state, "confirmed", "{language}");
        let said = &turn.replies[0].text;
        assert!(
            said.contains(service) && said.contains("Marcos"),
            "{language}: {said}"
        );
        assert!(
            weekday_words.iter().any(|w| said.contains(w)),
            "{language}: {said}"
        );

        // What the store would now hold: the booking, confirmed.
        let mut booked = appointment(11, hold.slot.start - now(), AppointmentStatus::Confirmed, 0);
        booked.service_id = "cut-men".into();
        booked.staff_id = "marcos".into();
        booked.ends_at = hold.slot.end;
        booked.occupied_until = hold.slot.occupied_until;
        world.appointments.push(booked);
        play(tap("mine"), &mut conversation, &world); // no button here: read as its title, a miss
        let turn = play(
            text(match language {
                Language::Es => "mis citas",
                Language::En => "my appointments",
                Language::Pt => "minhas marcações",
            }),
            &mut conversation,
            &world,
        );
        assert_eq!(
            conversation.state, "my_appointments",
            "{language}: {:?}",
            turn.replies
        );
        play(tap("a11"), &mut conversation, &world);
        let turn = play(tap("reschedule"), &mut conversation, &world);
        let turn = play(tap(&first_row(&turn, 3)), &mut conversation, &world);
        let turn = play(tap(&first_row(&turn, 1)), &mut conversation, &world);
        assert_eq!(conversation.state, "rescheduled", "{language}");
        assert!(turn.effects.iter().any(|e| matches!(
            e,
            Effect::Reschedule {
                appointment: 11,
                ..
            }
        )));
        play(text("menu"), &mut conversation, &world);
        play(tap("mine"), &mut conversation, &world);
        play(tap("a11"), &mut conversation, &world);
        let turn = play(tap("cancel"), &mut conversation, &world);
        assert_eq!(
            conversation.state, "cancel_free",
            "{language}: {:?}",
            turn.replies
        );
        let turn = play(tap("yes"), &mut conversation, &world);
        assert_eq!(conversation.state, "cancelled");
        assert!(turn.effects.contains(&Effect::Cancel(11)));
    }
}

/// A turn computed with only the reads `view::needs` asks for is the turn computed with everything:
/// the engine never skips a read that would have changed the answer.
#[test]
fn the_reads_a_turn_skips_never_change_it() {
    let flow = flow();
    let mut world = world_for(Some(Guard::HasAppointments), &[]);
    world.busy.push(Busy {
        staff: StaffId::new("lucia"),
        start: now() + Duration::days(2),
        end: now() + Duration::days(2) + Duration::hours(3),
    });
    let mut inputs: Vec<Input> = [
        "hola",
        "menú",
        "mis citas",
        "quiero reservar",
        "sí",
        "no",
        "2",
        "asdf",
        "ayuda",
        "cancelar",
        "persona",
    ]
    .into_iter()
    .map(text)
    .collect();
    for id in [
        "book",
        "mine",
        "human",
        "yes",
        "no",
        "later",
        "earlier",
        "again",
        "menu",
        "cancel",
        "reschedule",
        "back",
        "a7",
        "intent:menu",
        "intent:human",
        "cut-men",
        "lucia",
        "anyone",
    ] {
        inputs.push(tap(id));
    }
    inputs.push(Input::Unsupported("image".into()));
    let mut checked = 0;
    for state in flow.states.iter().map(|s| s.name.as_str()).chain([""]) {
        let mut conversation = if state.is_empty() {
            Conversation::default()
        } else {
            prepared(state, &world)
        };
        for idle in [false, true] {
            conversation.last_seen = Some(now() - Duration::hours(if idle { 13 } else { 1 }));
            let mut extra = inputs.clone();
            for source in [OptionSource::Days, OptionSource::Times] {
                if let Some(row) =
                    view::options(&world.view(), Language::Es, source, &conversation.slots).first()
                {
                    extra.push(tap(&row.id));
                }
            }
            for input in extra {
                let full = world.step(&flow, &conversation, input.clone());
                let needs = view::needs(
                    &flow,
                    super::templates::shipped(),
                    &world.catalog,
                    &conversation,
                    &input,
                    now(),
                );
                let trimmed = World {
                    catalog: world.catalog.clone(),
                    busy: if needs.availability {
                        world.busy.clone()
                    } else {
                        Vec::new()
                    },
                    appointments: if needs.appointments {
                        world.appointments.clone()
                    } else {
                        Vec::new()
                    },
                    deposits: world.deposits,
                    phone: world.phone.clone(),
                    now: world.now,
                };
                let partial = trimmed.step(&flow, &conversation, input.clone());
                assert_eq!(partial, full, "{state} {input:?} with {needs:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// Free text moving the conversation ahead, answers from the catalog, languages.
mod free_text;
