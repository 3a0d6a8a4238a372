//! Conversations in free text through the shipped flow: a message naming a service, a person, a
//! day or a time moves ahead and only what is missing is asked; an hour open in both halves of the
//! day is asked about; a change of mind keeps the rest; a written day beyond the list goes there.

use super::*;
use crate::engine::effect::HoldRequest;

/// The salon-local instant of a day and time in Madrid.
fn madrid(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Madrid
        .from_local_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// The rows or buttons of a reply, as (id, title).
fn choices(reply: &Reply) -> Vec<(String, String)> {
    match &reply.ui {
        ReplyUi::Buttons(buttons) => buttons.clone(),
        ReplyUi::List { rows, .. } => rows
            .iter()
            .map(|r| (r.id.clone(), r.title.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn held(turn: &Turn) -> Option<&HoldRequest> {
    turn.effects.iter().find_map(|e| match e {
        Effect::Hold(hold) => Some(hold),
        _ => None,
    })
}

fn first_message(world: &World, message: &str) -> Turn {
    world.step(&flow(), &Conversation::default(), text(message))
}

#[test]
fn a_first_message_with_service_day_and_time_holds_that_time_and_asks_to_confirm() {
    let world = World::new();
    let turn = first_message(&world, "quiero un corte de hombre mañana a las 5");
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    let hold = held(&turn).expect("the time is held");
    assert_eq!(hold.slot.service, "cut-men");
    assert_eq!(hold.slot.start, madrid(date(2026, 11, 24), 17, 0));
    assert_eq!(turn.replies.len(), 1, "{:?}", turn.replies);
    assert!(
        turn.replies[0].text.contains("17:00"),
        "{}",
        turn.replies[0].text
    );
}

#[test]
fn a_haircut_that_could_be_either_asks_which_and_keeps_the_day_and_time() {
    let world = World::new();
    let flow = flow();
    let turn = first_message(&world, "quiero cortarme el pelo mañana a las 5");
    assert_eq!(turn.state.state, "pick_service");
    let offered: Vec<String> = choices(&turn.replies[0])
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        offered,
        ["cut-women", "cut-men"],
        "only the services the words fit"
    );
    let turn = world.step(&flow, &turn.state, tap("cut-women"));
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    assert_eq!(
        held(&turn).unwrap().slot.start,
        madrid(date(2026, 11, 24), 17, 0)
    );
}

#[test]
fn a_time_already_taken_shows_the_nearest_free_times_and_says_so() {
    let mut world = World::new();
    let taken = madrid(date(2026, 11, 24), 17, 0);
    for staff in ["lucia", "marcos"] {
        world.busy.push(Busy {
            staff: StaffId::new(staff),
            start: taken,
            end: taken + Duration::minutes(30),
        });
    }
    let turn = first_message(&world, "corte hombre mañana a las 17h");
    assert_eq!(turn.state.state, "pick_time", "{:?}", turn.replies);
    assert!(held(&turn).is_none());
    assert!(
        turn.replies[0].text.contains("17:00"),
        "{}",
        turn.replies[0].text
    );
    let shown: Vec<String> = choices(turn.replies.last().unwrap())
        .into_iter()
        .map(|(_, title)| title)
        .collect();
    assert!(
        shown.contains(&"16:30".to_owned()) || shown.contains(&"17:30".to_owned()),
        "the page with the nearest times: {shown:?}"
    );
}

#[test]
fn a_person_and_a_part_of_the_day_list_only_their_times_then() {
    let world = World::new();
    let flow = flow();
    let turn = first_message(&world, "tem horário sábado de manhã com a Lucia?");
    assert_eq!(turn.state.language, Some(Language::Pt));
    assert_eq!(
        turn.state.state, "pick_service",
        "the service is still missing"
    );
    let offered: Vec<String> = choices(&turn.replies[0])
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        offered,
        ["cut-women", "cut-men", "colour-roots", "highlights"],
        "Lucía's"
    );
    let turn = world.step(&flow, &turn.state, tap("highlights"));
    assert_eq!(turn.state.state, "pick_time", "{:?}", turn.replies);
    assert_eq!(turn.state.slots.day, Some(date(2026, 11, 28)));
    assert_eq!(turn.state.slots.staff.as_deref(), Some("lucia"));
    let times: Vec<String> = choices(&turn.replies[0])
        .into_iter()
        .filter(|(id, _)| id.starts_with('t'))
        .map(|(_, title)| title)
        .collect();
    assert!(!times.is_empty());
    assert!(times.iter().all(|t| t.as_str() < "13:00"), "{times:?}");
}

#[test]
fn can_i_come_thursday_afternoon_asks_only_for_the_service_then_lists_thursday_afternoon() {
    let world = World::new();
    let turn = first_message(&world, "can I come thursday afternoon?");
    assert_eq!(turn.state.language, Some(Language::En));
    assert_eq!(turn.state.state, "pick_service");
    let turn = world.step(&flow(), &turn.state, tap("cut-women"));
    assert_eq!(turn.state.state, "pick_time", "{:?}", turn.replies);
    assert_eq!(turn.state.slots.day, Some(date(2026, 11, 26)));
    let times: Vec<String> = choices(&turn.replies[0])
        .into_iter()
        .filter(|(id, _)| id.starts_with('t'))
        .map(|(_, title)| title)
        .collect();
    assert!(
        times
            .iter()
            .all(|t| ("12:00".."18:00").contains(&t.as_str())),
        "{times:?}"
    );
}

#[test]
fn changing_ones_mind_changes_the_day_and_keeps_the_rest() {
    let world = World::new();
    let flow = flow();
    let turn = first_message(&world, "quiero un corte de hombre mañana a las 5");
    assert_eq!(turn.state.state, "confirm");
    let turn = world.step(&flow, &turn.state, text("mejor el jueves"));
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    assert!(
        turn.effects.contains(&Effect::ReleaseHold),
        "the first time goes back on sale"
    );
    let hold = held(&turn).unwrap();
    assert_eq!(hold.slot.service, "cut-men");
    assert_eq!(hold.slot.start, madrid(date(2026, 11, 26), 17, 0));

    let turn = world.step(&flow, &turn.state, text("no, mejor a las 6"));
    assert_eq!(
        held(&turn).unwrap().slot.start,
        madrid(date(2026, 11, 26), 18, 0)
    );
}

#[test]
fn a_time_open_in_both_halves_of_the_day_is_asked_about() {
    let mut world = World::new();
    let text_of = include_str!("../../../salon.toml")
        .replace("tue = [\"09:30-20:30\"]", "tue = [\"08:00-21:00\"]")
        .replace(
            "hours.tue = [\"12:00-20:30\"]",
            "hours.tue = [\"08:00-21:00\"]",
        );
    world.catalog = catalog::parse(&text_of).unwrap();
    let flow = flow();
    let turn = first_message(&world, "corte hombre mañana a las 8");
    assert_eq!(turn.state.state, "pick_time", "{:?}", turn.replies);
    assert!(held(&turn).is_none(), "never guessed");
    let asked = turn.replies.last().unwrap();
    assert!(asked.text.contains('8'), "{}", asked.text);
    let buttons = choices(asked);
    assert_eq!(
        buttons
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["time:08:00", "time:20:00"]
    );
    let tapped = world.step(&flow, &turn.state, tap("time:20:00"));
    assert_eq!(tapped.state.state, "confirm", "{:?}", tapped.replies);
    assert_eq!(
        held(&tapped).unwrap().slot.start,
        madrid(date(2026, 11, 24), 20, 0)
    );

    let typed = world.step(&flow, &turn.state, text("de la tarde"));
    assert_eq!(typed.state.state, "confirm", "{:?}", typed.replies);
    assert_eq!(
        held(&typed).unwrap().slot.start,
        madrid(date(2026, 11, 24), 20, 0)
    );
}

#[test]
fn cancela_mi_cita_goes_to_the_appointments_to_cancel() {
    let mut world = World::new();
    world.appointments.push(appointment(
        7,
        Duration::days(4),
        AppointmentStatus::Confirmed,
        0,
    ));
    let turn = world.step(&flow(), &in_state("greeting"), text("cancela mi cita"));
    assert_eq!(turn.state.state, "my_appointments", "{:?}", turn.replies);
    let turn = world.step(&flow(), &in_state("greeting"), text("cancelar"));
    assert_eq!(
        turn.state.state, "greeting",
        "cancelling what is under way stays as it was"
    );
}

#[test]
fn a_time_typed_at_the_time_list_is_that_time_not_a_row_number() {
    let world = World::new();
    let mut conversation = prepared_with("pick_time", &world, "cut-men", ANYONE);
    conversation.slots.start = None;
    let day = conversation.slots.day.unwrap();
    let turn = world.step(&flow(), &conversation, text("a las 5"));
    assert_eq!(turn.state.state, "confirm", "{:?}", turn.replies);
    assert_eq!(held(&turn).unwrap().slot.start, madrid(day, 17, 0));
}

#[test]
fn questions_are_answered_from_the_catalog_and_the_step_is_asked_again() {
    let world = World::new();
    let flow = flow();
    let mut conversation = prepared("pick_time", &world);
    conversation.slots.start = None;
    let turn = world.step(&flow, &conversation, text("cuánto cuesta el tinte?"));
    assert_eq!(turn.state.state, "pick_time", "the conversation stays");
    assert_eq!(turn.replies.len(), 2, "{:?}", turn.replies);
    assert_eq!(
        turn.replies[0].text,
        "Nuestros precios:\n• Tinte de raíz: 45 € · 1 h 30 min"
    );
    assert!(
        matches!(turn.replies[1].ui, ReplyUi::List { .. }),
        "the times again"
    );

    let turn = world.step(&flow, &conversation, text("a q hora abren el sabado?"));
    assert!(
        turn.replies[0].text.contains("sábado: 09:00–15:00"),
        "{}",
        turn.replies[0].text
    );
    let turn = world.step(&flow, &conversation, text("where are you?"));
    assert_eq!(
        turn.state.language,
        Some(Language::En),
        "the customer switched"
    );
    assert_eq!(
        turn.replies[0].text,
        "We are at Calle del Espíritu Santo 12, 28004 Madrid."
    );
    let turn = world.step(&flow, &conversation, text("hay que dejar señal?"));
    assert!(
        turn.replies[0].text.contains("24 horas"),
        "{}",
        turn.replies[0].text
    );
    assert!(
        turn.replies[0].text.contains("• Mechas: 20 €"),
        "{}",
        turn.replies[0].text
    );
    assert_eq!(
        turn.state.slots, conversation.slots,
        "nothing chosen is lost"
    );

    let confirmed = in_state("confirmed");
    let turn = world.step(&flow, &confirmed, text("muchas gracias!"));
    assert_eq!(turn.state.state, "confirmed");
    assert_eq!(
        turn.replies.len(),
        1,
        "a thank-you, without the booking again"
    );
}

#[test]
fn the_language_follows_each_message_that_tells_it() {
    let world = World::new();
    let flow = flow();
    let turn = first_message(&world, "hola");
    assert_eq!(turn.state.language, Some(Language::Es));
    let turn = world.step(
        &flow,
        &turn.state,
        text("sorry, do you speak English? I want to book"),
    );
    assert_eq!(turn.state.language, Some(Language::En));
    assert_eq!(turn.state.state, "pick_service");
    let turn = world.step(&flow, &turn.state, text("ok"));
    assert_eq!(
        turn.state.language,
        Some(Language::En),
        "a word of no language keeps it"
    );
    let turn = world.step(&flow, &turn.state, text("olá, prefiro português"));
    assert_eq!(turn.state.language, Some(Language::Pt));
}

#[test]
fn the_day_list_pages_through_the_whole_horizon() {
    let world = World::new();
    let flow = flow();
    let mut conversation = prepared("pick_day", &world);
    conversation.slots.day = None;
    conversation.slots.start = None;
    let last = world.view().today() + Duration::days(59);
    let mut seen = Vec::new();
    for _ in 0..20 {
        let turn = world.step(&flow, &conversation, tap("later"));
        let rows = choices(&turn.replies[0]);
        seen.extend(
            rows.iter()
                .filter_map(|(id, _)| id.parse::<NaiveDate>().ok()),
        );
        assert!(
            rows.iter().all(|(_, title)| !title.contains("Horas")),
            "{rows:?}"
        );
        conversation = turn.state;
        if rows.last().is_some_and(|(id, _)| id != "later") {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|d| *d > world.view().today() + Duration::days(30))
    );
    assert!(seen.iter().all(|d| *d <= last), "never past the horizon");
}

#[test]
fn a_written_day_beyond_the_list_goes_straight_there_and_one_beyond_the_horizon_says_so() {
    let world = World::new();
    let flow = flow();
    let mut conversation = prepared("pick_day", &world);
    conversation.slots.day = None;
    conversation.slots.start = None;
    let turn = world.step(&flow, &conversation, text("el 15 de enero"));
    assert_eq!(turn.state.state, "pick_time", "{:?}", turn.replies);
    assert_eq!(turn.state.slots.day, Some(date(2027, 1, 15)));

    let turn = world.step(&flow, &conversation, text("el 15 de marzo"));
    assert_eq!(turn.state.state, "pick_day");
    assert!(
        turn.replies[0].text.contains("No podemos dar cita"),
        "{:?}",
        turn.replies
    );
}
