//! Everything a step may look at besides the conversation itself: the catalog, the message templates,
//! the clock, the staff's busy times and the customer's appointments, read by the caller before the
//! step. Also the rows of
//! the lists a state shows, built from that view, and which reads a state needs ([`Needs`]).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::effect::Row;
use super::flow::{Flow, Guard, Intent, OptionSource, State, Transition, Trigger, Ui};
use super::input::Input;
use super::locale;
use super::state::{ANYONE, Conversation, Slots};
use super::templates::Templates;
use super::understand::{self, TimeWish};
use crate::booking::appointment::Appointment;
use crate::booking::appointment::AppointmentStatus;
use crate::booking::availability::{self, Busy, Slot, StaffChoice};
use crate::booking::catalog::{Catalog, Language, ServiceId, StaffId};

/// How many days the day list offers per page at most (it pages through the booking horizon).
pub const DAYS_LISTED: u32 = 10;

/// What a step sees of the world.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub catalog: &'a Catalog,
    /// The message templates, loaded at start-up like the flow.
    pub templates: &'a Templates,
    pub now: DateTime<Utc>,
    /// Live appointments and holds of every staff member (within the booking horizon).
    pub busy: &'a [Busy],
    /// The customer's appointments, any status.
    pub appointments: &'a [Appointment],
    /// Whether deposits can be taken (a payment provider is configured).
    pub deposits: bool,
    /// The customer's phone in E.164, when known (suggests a language).
    pub phone: Option<&'a str>,
}

impl View<'_> {
    /// The salon's local date today.
    pub fn today(&self) -> NaiveDate {
        self.now
            .with_timezone(&self.catalog.salon().time_zone)
            .date_naive()
    }

    /// The salon-local date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.catalog.salon().time_zone)
            .date_naive()
    }

    /// An instant as the salon's wall clock shows it ("09:30").
    pub fn local_time(&self, language: Language, at: DateTime<Utc>) -> String {
        locale::time(
            language,
            at.with_timezone(&self.catalog.salon().time_zone).time(),
        )
    }

    /// The customer's booked appointments still to come. A time waiting for its deposit is not one
    /// of them: it is the booking under way, which every way to the appointments gives up
    /// (`release_hold`), so listing it would offer a time let go in the same step.
    pub fn upcoming(&self) -> impl Iterator<Item = &Appointment> {
        self.appointments
            .iter()
            .filter(|a| a.status == AppointmentStatus::Confirmed && a.starts_at > self.now)
    }

    /// One of the customer's upcoming appointments.
    pub fn upcoming_one(&self, id: i64) -> Option<&Appointment> {
        self.upcoming().find(|a| a.id == id)
    }

    /// Busy times, without the customer's own holds (a new hold lets them go) and the appointment
    /// being moved (it does not block its own new time).
    fn busy_except(&self, moving: Option<&Appointment>) -> Vec<Busy> {
        let own = |a: &&Appointment| {
            matches!(
                a.status,
                AppointmentStatus::Held | AppointmentStatus::PendingPayment
            ) || moving.is_some_and(|m| m.id == a.id)
        };
        let mine: Vec<&Appointment> = self.appointments.iter().filter(own).collect();
        self.busy
            .iter()
            .filter(|b| {
                !mine.iter().any(|a| {
                    b.staff.as_str() == a.staff_id
                        && b.start == a.starts_at
                        && b.end == a.occupied_until
                })
            })
            .cloned()
            .collect()
    }

    /// Free times for what the slots describe on `day` (ignoring the appointment being moved).
    pub fn free_slots(&self, slots: &Slots, day: NaiveDate) -> Vec<Slot> {
        let Some(service) = &slots.service else {
            return Vec::new();
        };
        let moving = slots.appointment.and_then(|id| self.upcoming_one(id));
        availability::free_slots(
            self.catalog,
            &ServiceId::new(service.clone()),
            staff_choice(slots),
            day,
            self.now,
            &self.busy_except(moving),
        )
    }

    /// The next days with a free time for what the slots describe: enough for the list's page
    /// ([`DAYS_LISTED`] per page, and one more to tell that a later page exists), within the
    /// booking horizon.
    pub fn free_days(&self, slots: &Slots) -> Vec<NaiveDate> {
        let Some(service) = &slots.service else {
            return Vec::new();
        };
        let moving = slots.appointment.and_then(|id| self.upcoming_one(id));
        availability::days_with_slots(
            self.catalog,
            &ServiceId::new(service.clone()),
            staff_choice(slots),
            self.today(),
            DAYS_LISTED * (slots.page + 1) + 1,
            self.now,
            &self.busy_except(moving),
        )
    }

    /// Whether a guard holds.
    pub fn guard(&self, guard: Guard, slots: &Slots) -> bool {
        let deposit_required = self.deposits
            && slots
                .service
                .as_ref()
                .and_then(|id| self.catalog.service(&ServiceId::new(id.clone())))
                .is_some_and(|s| s.has_deposit());
        // Whether cancelling now costs nothing: inside the free window, later when the policy
        // refunds late cancellations too (`late_deposit = "refund"`), or any time for an
        // appointment without a deposit (there is nothing to keep, nothing to warn about).
        let policy = self.catalog.salon().cancellation;
        let free_cancel = slots
            .appointment
            .and_then(|id| self.upcoming_one(id))
            .map(|a| policy.refunds(a.starts_at, self.now) || a.deposit_minor == 0);
        match guard {
            Guard::DepositRequired => deposit_required,
            Guard::NoDeposit => !deposit_required,
            Guard::HasAppointments => self.upcoming().next().is_some(),
            Guard::NoAppointments => self.upcoming().next().is_none(),
            Guard::CanCancelFree => free_cancel == Some(true),
            Guard::LateCancel => free_cancel == Some(false),
        }
    }
}

/// Whom the slots ask for.
pub fn staff_choice(slots: &Slots) -> StaffChoice {
    match slots.staff.as_deref() {
        None | Some(ANYONE) => StaffChoice::Anyone,
        Some(id) => StaffChoice::Specific(StaffId::new(id)),
    }
}

/// The id a time row carries: `t<unix seconds>.<staff id>`.
pub fn time_row_id(slot: &Slot) -> String {
    format!("t{}.{}", slot.start.timestamp(), slot.staff)
}

/// Reads a time row's id back.
pub fn parse_time_row(id: &str) -> Option<(DateTime<Utc>, String)> {
    let (secs, staff) = id.strip_prefix('t')?.split_once('.')?;
    let start = Utc.timestamp_opt(secs.parse().ok()?, 0).single()?;
    Some((start, staff.to_owned()))
}

/// The id an appointment row carries: `a<id>`.
pub fn parse_appointment_row(id: &str) -> Option<i64> {
    id.strip_prefix('a')?.parse().ok()
}

fn row(id: impl Into<String>, title: impl Into<String>, description: Option<String>) -> Row {
    Row {
        id: id.into(),
        title: title.into(),
        description,
    }
}

/// The rows of a list of `source`, before paging.
pub fn options(
    view: &View<'_>,
    language: Language,
    source: OptionSource,
    slots: &Slots,
) -> Vec<Row> {
    let catalog = view.catalog;
    let currency = &catalog.salon().currency;
    match source {
        OptionSource::Services => {
            // Grouped: services of one category together, categories in order of first appearance.
            let mut categories: Vec<&str> = Vec::new();
            for service in catalog.services() {
                if !categories.contains(&service.category.as_str()) {
                    categories.push(&service.category);
                }
            }
            categories
                .iter()
                .flat_map(|category| {
                    catalog
                        .services()
                        .iter()
                        .filter(move |s| s.category == *category)
                })
                .filter(|service| {
                    // Only the services the customer's words fit, and those the person they asked
                    // for offers ("mechas con Lucía").
                    let only = &slots.wanted.services;
                    let named = only.is_empty() || only.iter().any(|id| id == service.id.as_str());
                    let offered = match slots.wanted.staff.as_deref() {
                        None | Some(ANYONE) => true,
                        Some(staff) => catalog
                            .staff_member(&StaffId::new(staff))
                            .is_none_or(|s| s.offers(&service.id)),
                    };
                    named && offered
                })
                .map(|service| {
                    let description = format!(
                        "{} · {}",
                        locale::money(language, currency, service.price),
                        locale::duration(language, service.duration_minutes)
                    );
                    row(
                        service.id.as_str(),
                        service.name.get(language),
                        Some(description),
                    )
                })
                .collect()
        }
        OptionSource::Staff => {
            let Some(service) = &slots.service else {
                return Vec::new();
            };
            let mut rows: Vec<Row> = catalog
                .staff_offering(&ServiceId::new(service.clone()))
                .map(|staff| row(staff.id.as_str(), staff.name.clone(), None))
                .collect();
            if rows.len() > 1 {
                let anyone = (view.templates)
                    .render(language, "row_anyone", &Default::default())
                    .unwrap_or_else(|| ANYONE.to_owned());
                rows.insert(0, row(ANYONE, anyone, None));
            }
            rows
        }
        OptionSource::Days => {
            let today = view.today();
            view.free_days(slots)
                .into_iter()
                .map(|day| {
                    row(
                        day.to_string(),
                        locale::day_short(language, day, today),
                        None,
                    )
                })
                .collect()
        }
        OptionSource::Times => {
            let Some(day) = slots.day else {
                return Vec::new();
            };
            let anyone = staff_choice(slots) == StaffChoice::Anyone;
            let free = view.free_slots(slots, day);
            // Keep to the part of the day the customer asked for ("por la tarde"), when it has any.
            let asked = |slot: &Slot| {
                let local = slot.start.with_timezone(&catalog.salon().time_zone).time();
                match slots.wanted.time {
                    Some(wish @ TimeWish::Between { .. }) => wish.admits(local),
                    _ => true,
                }
            };
            let within: Vec<&Slot> = free.iter().filter(|s| asked(s)).collect();
            let shown: Vec<&Slot> = if within.is_empty() {
                free.iter().collect()
            } else {
                within
            };
            shown
                .into_iter()
                .map(|slot| {
                    let description = anyone.then(|| {
                        catalog
                            .staff_member(&slot.staff)
                            .map(|s| s.name.clone())
                            .unwrap_or_default()
                    });
                    row(
                        time_row_id(slot),
                        view.local_time(language, slot.start),
                        description,
                    )
                })
                .collect()
        }
        OptionSource::Appointments => view
            .upcoming()
            .map(|a| {
                let service = catalog
                    .service(&ServiceId::new(a.service_id.clone()))
                    .map(|s| s.name.get(language).to_owned())
                    .unwrap_or_else(|| a.service_id.clone());
                let staff = catalog
                    .staff_member(&StaffId::new(a.staff_id.clone()))
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| a.staff_id.clone());
                let title = format!(
                    "{} {}",
                    locale::day_short(language, view.local_date(a.starts_at), view.today()),
                    view.local_time(language, a.starts_at)
                );
                row(
                    format!("a{}", a.id),
                    title,
                    Some(format!("{service} · {staff}")),
                )
            })
            .collect(),
    }
}

/// The rows of page `page` of a paged list holding at most `size` rows per message, paging rows
/// included: (rows, has earlier, has later). Pages never come out empty: a page past the end shows the
/// last one.
pub fn page_of(all: &[Row], size: u32, page: u32) -> (Vec<Row>, bool, bool) {
    let size = usize::try_from(size.max(3)).unwrap_or(10);
    if all.len() <= size {
        return (all.to_vec(), false, false);
    }
    // With more rows than fit, every page leaves room for both paging rows.
    let per_page = size - 2;
    let pages = all.len().div_ceil(per_page);
    let page = usize::try_from(page).unwrap_or(0).min(pages - 1);
    let start = page * per_page;
    let end = (start + per_page).min(all.len());
    (all[start..end].to_vec(), page > 0, end < all.len())
}

/// Which reads a step from `state` may need, so the caller loads only those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub availability: bool,
    pub appointments: bool,
}

impl Needs {
    fn add(&mut self, other: Needs) {
        self.availability |= other.availability;
        self.appointments |= other.appointments;
    }
}

fn needs_of_ui(state: &State) -> Needs {
    match &state.ui {
        Ui::List { options, .. } => Needs {
            availability: matches!(options, OptionSource::Days | OptionSource::Times),
            appointments: *options == OptionSource::Appointments,
        },
        _ => Needs::default(),
    }
}

fn needs_of_transition(flow: &Flow, transition: &Transition) -> Needs {
    let mut needs = Needs::default();
    if let Some(guard) = transition.when {
        needs.appointments |= matches!(
            guard,
            Guard::HasAppointments
                | Guard::NoAppointments
                | Guard::CanCancelFree
                | Guard::LateCancel
        );
    }
    if let Trigger::Choose(OptionSource::Appointments) = transition.trigger {
        needs.appointments = true;
    }
    if transition.actions.contains(&super::flow::Action::Refund) {
        needs.appointments = true;
    }
    if let Some(target) = transition.goto.as_ref().and_then(|g| flow.state(&g.name)) {
        needs.add(needs_of_ui(target));
    }
    needs
}

/// What a step may read when `input` arrives, so that a turn reads only what it can use: the
/// transitions the input can trigger (by its button id, its intent, or a row it may pick), the states
/// they lead to, and the current state (said again after a miss); free text that may move the
/// conversation ahead reads everything, as does anything else.
pub fn needs(
    flow: &Flow,
    templates: &Templates,
    catalog: &Catalog,
    conversation: &Conversation,
    input: &Input,
    now: DateTime<Utc>,
) -> Needs {
    let everything = Needs {
        availability: true,
        appointments: true,
    };
    let fresh = conversation.is_new() || conversation.idle_at(now);
    if let Input::Understood { .. } = input {
        // The model's reading may ask for anything (it is rare: read everything).
        return everything;
    }
    // Free text naming a service, a day or a time (or a wish still pending) may move the
    // conversation ahead through the days and times (`[[ahead]]`).
    if !flow.ahead.is_empty() {
        let pending = !fresh && !conversation.slots.wanted.is_empty();
        let jumps = match input {
            Input::Text(text) => {
                let context = understand::Context {
                    catalog,
                    now,
                    language: conversation.language,
                };
                understand::understand(text, &context).carries_slots()
            }
            Input::Choice { id, .. } => id.starts_with(super::step::TIME_BUTTON),
            _ => false,
        };
        if pending || jumps {
            return everything;
        }
    }
    let name = if fresh {
        flow.entry.name.as_str()
    } else {
        conversation.state.as_str()
    };
    // A state gone from the flow (a migration) is rare: read everything.
    let Some(state) = flow.state(name) else {
        return everything;
    };
    let (id, text) = match input {
        Input::Text(text) | Input::Understood { text, .. } => (None, text.as_str()),
        Input::Choice { id, title } => {
            if id.starts_with(super::step::REMINDER_CONFIRM)
                || id.starts_with(super::step::REMINDER_CANCEL)
            {
                return everything;
            }
            (Some(id.as_str()), title.as_str())
        }
        Input::Unsupported(_) => return needs_of_ui(state),
        _ => return everything,
    };
    let intent = id
        .and_then(|id| id.strip_prefix(super::step::INTENT_BUTTON))
        .and_then(Intent::from_name)
        .or_else(|| understand::intent(text));
    let language = conversation.language.unwrap_or(Language::Es);
    let picked = picked_button(state, templates, language, text);
    let mut needs = needs_of_ui(state);
    for transition in flow.globals.iter().chain(&state.on) {
        let relevant = match &transition.trigger {
            Trigger::Intent(i) => Some(*i) == intent,
            Trigger::Button(b) => !fresh && (id == Some(b.as_str()) || picked == Some(b.as_str())),
            Trigger::Choose(_) | Trigger::Text(_) => !fresh,
            Trigger::Event(_) => false,
        };
        if relevant {
            needs.add(needs_of_transition(flow, transition));
        }
    }
    needs
}

/// The button of `state` a typed text names, if any (its number or its title).
fn picked_button<'a>(
    state: &'a State,
    templates: &Templates,
    language: Language,
    text: &str,
) -> Option<&'a str> {
    let Ui::Buttons(buttons) = &state.ui else {
        return None;
    };
    let titles: Vec<String> = buttons
        .iter()
        .map(|b| {
            templates
                .render(language, &b.label.name, &Default::default())
                .unwrap_or_default()
        })
        .collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    understand::pick(text, &titles).and_then(|i| buttons.get(i).map(|b| b.id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| row(i.to_string(), i.to_string(), None))
            .collect()
    }

    #[test]
    fn pages_leave_room_for_the_paging_rows() {
        let all = rows(10);
        assert_eq!(page_of(&all, 10, 0), (all.clone(), false, false));
        let all = rows(20);
        let (first, earlier, later) = page_of(&all, 10, 0);
        assert_eq!((first.len(), earlier, later), (8, false, true));
        let (second, earlier, later) = page_of(&all, 10, 1);
        assert_eq!(second[0].id, "8");
        assert_eq!((second.len(), earlier, later), (8, true, true));
        let (last, earlier, later) = page_of(&all, 10, 2);
        assert_eq!((last.len(), earlier, later), (4, true, false));
        assert_eq!(page_of(&all, 10, 9).0, last, "past the end: the last page");
    }

    #[test]
    fn time_rows_round_trip() {
        let slot = Slot {
            staff: StaffId::new("lucia"),
            start: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            end: Utc.timestamp_opt(1_800_002_700, 0).unwrap(),
            occupies_until: Utc.timestamp_opt(1_800_002_700, 0).unwrap(),
        };
        let id = time_row_id(&slot);
        assert_eq!(id, "t1800000000.lucia");
        assert_eq!(parse_time_row(&id), Some((slot.start, "lucia".into())));
        assert_eq!(parse_time_row("x1.a"), None);
        assert_eq!(parse_appointment_row("a42"), Some(42));
    }
}
