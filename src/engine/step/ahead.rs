//! Moving ahead on free text (`[[ahead]]` in the flow file): a message that names a service, a
//! staff member, a day or a time fills those slots and passes, without a word, through the steps
//! it answered, taking each one's `choose` transition as if its row had been tapped; it stops at the
//! first step still open and says it. "quiero cortarme el pelo mañana a las 5" ends at the
//! confirmation of tomorrow's 17:00 (held like a tapped time), or at the time list with "17:00 is
//! taken, here are the nearest" when it is not free.
//!
//! What the message asks for is kept in [`Wanted`] until the step that asks for it: a staff member
//! once the service is known, a time once the day is, each checked against the catalog and the
//! availability then. From a step or a `keep_from` state the choices so far stay (a change of mind
//! changes only what it names, and a chosen time is tried again on a new day); from anywhere else
//! a booking starts afresh. An hour open in both halves of the day is asked about with two buttons
//! ([`TIME_BUTTON`]) rather than guessed.

use chrono::{Duration, NaiveTime};

use super::Stepper;
use crate::booking::catalog::{ServiceId, StaffId};
use crate::engine::effect::{Effect, Reply, ReplyUi};
use crate::engine::flow::{Ahead, OptionSource, Trigger, Ui};
use crate::engine::state::{ANYONE, Slots};
use crate::engine::templates::Vars;
use crate::engine::understand::{TimeWish, Understanding};
use crate::engine::{locale, view};

/// Buttons asking which half of the day an hour is: `time:HH:MM`, tapped from any state.
pub const TIME_BUTTON: &str = "time:";

/// The reading of a tapped [`TIME_BUTTON`]: that time, wanted.
pub(super) fn time_button(id: &str) -> Option<Understanding> {
    let time = NaiveTime::parse_from_str(id.strip_prefix(TIME_BUTTON)?, "%H:%M").ok()?;
    Some(Understanding {
        time: Some(TimeWish::At { time }),
        ..Understanding::default()
    })
}

/// What a step can do with what is wanted.
enum Fill {
    /// Its slot is answered: take its `choose` transition.
    Answered,
    /// Its slot is open: stop and say the step.
    Open,
    /// An hour could be either half of the day: stop and ask.
    AskHalf(NaiveTime, NaiveTime),
}

impl Stepper<'_, '_> {
    /// Moves ahead on what a message names. False when the flow has no `[[ahead]]`.
    pub(super) fn ahead(&mut self, reading: &Understanding) -> bool {
        let current = self.conv.state.clone();
        let covering = self.flow.ahead.iter().find(|a| a.covers(&current));
        let Some((ahead, keep)) = covering
            .map(|a| (a.clone(), true))
            .or_else(|| self.flow.ahead.first().map(|a| (a.clone(), false)))
        else {
            return false;
        };
        if !ahead.steps.iter().any(|s| s.name == current) {
            // Leaving the confirmation (or starting a booking): a time held meanwhile goes back on sale.
            self.effects.push(Effect::ReleaseHold);
        }
        if !keep {
            self.conv.slots = Slots::default();
        }
        self.want(reading);
        self.advance(&ahead);
        true
    }

    /// After a row was tapped with something still wanted: carry on through the steps.
    pub(super) fn carry_on(&mut self) {
        let current = self.conv.state.clone();
        match self.flow.ahead.iter().find(|a| a.covers(&current)).cloned() {
            Some(ahead) => self.advance(&ahead),
            None => self.say_current(),
        }
    }

    /// Records what the message names. A service, staff member or day that changes lets go of the
    /// choices that depended on it, keeping them as wishes to try again (the time of day, the day).
    fn want(&mut self, reading: &Understanding) {
        let catalog = self.view.catalog;
        let tz = catalog.salon().time_zone;
        let slots = &mut self.conv.slots;
        let old_time = slots.start.map(|s| s.with_timezone(&tz).time());
        let old_day = slots.day;
        let mut changed = false;
        if let Some(service) = reading.service() {
            if slots.service.as_deref() != Some(service.as_str()) {
                slots.service = Some(service.to_string());
                let offers = |staff: &str| {
                    staff == ANYONE
                        || catalog
                            .staff_member(&StaffId::new(staff))
                            .is_some_and(|s| s.offers(service))
                };
                if slots.staff.as_deref().is_some_and(|s| !offers(s)) {
                    slots.staff = None;
                }
                changed = true;
            }
            slots.wanted.services.clear();
        } else if reading.services.len() > 1 {
            let fits = slots
                .service
                .as_ref()
                .is_some_and(|s| reading.services.iter().any(|r| r.as_str() == s));
            if !fits {
                slots.service = None;
                slots.wanted.services = reading.services.iter().map(|s| s.to_string()).collect();
                changed = true;
            }
        }
        if let Some(staff) = &reading.staff
            && slots.staff.as_deref() != Some(staff.as_str())
        {
            slots.staff = None;
            slots.wanted.staff = Some(staff.to_string());
            changed = true;
        }
        if let Some(date) = reading.date {
            slots.wanted.date = Some(date);
            changed = true;
        }
        match (slots.wanted.time, reading.time) {
            // "a las 8" asked about, then "por la tarde": the reading in that part of the day.
            (
                Some(TimeWish::Either { morning, afternoon }),
                Some(TimeWish::Between { from, .. }),
            ) => {
                let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
                let time = if from >= noon { afternoon } else { morning };
                slots.wanted.time = Some(TimeWish::At { time });
            }
            (_, Some(time)) => slots.wanted.time = Some(time),
            _ => {}
        }
        if changed {
            if reading.date.is_none() && slots.wanted.date.is_none() {
                slots.wanted.date = old_day;
            }
            if reading.time.is_none() && slots.wanted.time.is_none() {
                slots.wanted.time = old_time.map(|time| TimeWish::At { time });
            }
            slots.day = None;
        }
        if changed || reading.time.is_some() {
            slots.start = None;
            slots.slot_staff = None;
            slots.page = 0;
        }
    }

    /// Passes through the steps whose slot is answered, from the first, and says the first one
    /// still open (or where the last `choose` led, such as the confirmation).
    fn advance(&mut self, ahead: &Ahead) {
        let Some(first) = ahead.steps.first() else {
            return;
        };
        self.quiet = true;
        self.enter(&first.name.clone());
        let mut ask = None;
        for _ in 0..=ahead.steps.len() {
            let Some(state) = self.state().cloned() else {
                break;
            };
            if !ahead.steps.iter().any(|s| s.name == state.name) {
                break;
            }
            let Ui::List { options, page, .. } = state.ui else {
                break;
            };
            match self.fill(options, page) {
                Fill::Answered => {}
                Fill::Open => break,
                Fill::AskHalf(morning, afternoon) => {
                    ask = Some((morning, afternoon));
                    break;
                }
            }
            match self.find_own(|t| t.trigger == Trigger::Choose(options)) {
                Some(transition) => self.take(&transition),
                None => break,
            }
        }
        self.quiet = false;
        match ask {
            Some((morning, afternoon)) => self.ask_half(morning, afternoon),
            None => self.say_current(),
        }
    }

    /// Whether the step of `source` is answered, answering it from what is wanted when that fits.
    fn fill(&mut self, source: OptionSource, page: Option<u32>) -> Fill {
        let catalog = self.view.catalog;
        match source {
            OptionSource::Services => {
                if self.conv.slots.service.is_some() {
                    Fill::Answered
                } else {
                    Fill::Open
                }
            }
            OptionSource::Staff => {
                let slots = &mut self.conv.slots;
                if slots.staff.is_some() {
                    return Fill::Answered;
                }
                let Some(service) = slots.service.clone().map(ServiceId::new) else {
                    return Fill::Open;
                };
                if let Some(wanted) = slots.wanted.staff.take() {
                    let offers = wanted == ANYONE
                        || catalog
                            .staff_member(&StaffId::new(wanted.clone()))
                            .is_some_and(|s| s.offers(&service));
                    if offers {
                        slots.staff = Some(wanted);
                        return Fill::Answered;
                    }
                    return Fill::Open;
                }
                if slots.wanted.date.is_some() || slots.wanted.time.is_some() {
                    // A day or a time was asked for, not a person: whoever is free then.
                    slots.staff = Some(ANYONE.to_owned());
                    return Fill::Answered;
                }
                Fill::Open
            }
            OptionSource::Days => self.fill_day(),
            OptionSource::Times => self.fill_time(page),
            OptionSource::Appointments => Fill::Open,
        }
    }

    fn fill_day(&mut self) -> Fill {
        if self.conv.slots.day.is_some() {
            return Fill::Answered;
        }
        if let Some(staff) = self.conv.slots.wanted.staff.take() {
            // A step list without a staff step (rescheduling): the person named applies at once.
            self.conv.slots.staff = Some(staff);
        }
        let Some(date) = self.conv.slots.wanted.date.take() else {
            return Fill::Open;
        };
        let salon = self.view.catalog.salon();
        let today = self.view.today();
        let last = today + Duration::days(i64::from(salon.horizon_days.saturating_sub(1)));
        let mut probe = self.conv.slots.clone();
        probe.day = Some(date);
        if date < today || date > last {
            self.note("ahead_day_out_of_reach", Some(date), None);
            return Fill::Open;
        }
        if self.view.free_slots(&probe, date).is_empty() {
            self.note("ahead_day_full", Some(date), None);
            return Fill::Open;
        }
        self.conv.slots.day = Some(date);
        Fill::Answered
    }

    fn fill_time(&mut self, page: Option<u32>) -> Fill {
        let slots = &self.conv.slots;
        if slots.start.is_some() {
            return Fill::Answered;
        }
        let (Some(day), Some(wish)) = (slots.day, slots.wanted.time) else {
            return Fill::Open;
        };
        let tz = self.view.catalog.salon().time_zone;
        let free = self.view.free_slots(slots, day);
        let local =
            |slot: &crate::booking::availability::Slot| slot.start.with_timezone(&tz).time();
        match wish {
            TimeWish::At { time } => {
                if let Some(slot) = free.iter().find(|s| local(s) == time) {
                    let slots = &mut self.conv.slots;
                    slots.start = Some(slot.start);
                    slots.slot_staff = Some(slot.staff.to_string());
                    slots.wanted.time = None;
                    return Fill::Answered;
                }
                self.conv.slots.wanted.time = None;
                self.note("ahead_time_taken", Some(day), Some(time));
                self.page_to_nearest(time, page);
                Fill::Open
            }
            TimeWish::Between { .. } => {
                if !free.iter().any(|s| wish.admits(local(s))) {
                    self.conv.slots.wanted.time = None;
                    self.note("ahead_no_times_then", Some(day), None);
                }
                Fill::Open
            }
            TimeWish::Either { morning, afternoon } => Fill::AskHalf(morning, afternoon),
        }
    }

    /// Shows the page of the time list holding the free time nearest to `time`.
    fn page_to_nearest(&mut self, time: NaiveTime, page: Option<u32>) {
        let Some(size) = page else {
            return;
        };
        let language = self.language();
        let rows = view::options(self.view, language, OptionSource::Times, &self.conv.slots);
        let minutes = |t: NaiveTime| i64::from(t.hour() * 60 + t.minute());
        let nearest = rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| {
                let (start, _) = view::parse_time_row(&row.id)?;
                let local = start
                    .with_timezone(&self.view.catalog.salon().time_zone)
                    .time();
                Some((i, (minutes(local) - minutes(time)).abs()))
            })
            .min_by_key(|(_, distance)| *distance)
            .map(|(i, _)| i);
        let size = usize::try_from(size.max(3)).unwrap_or(10);
        if let Some(index) = nearest
            && rows.len() > size
        {
            self.conv.slots.page = u32::try_from(index / (size - 2)).unwrap_or(0);
        }
    }

    /// Says a short note before the step (the day asked for is full, the time is taken ...).
    fn note(&mut self, template: &str, day: Option<chrono::NaiveDate>, time: Option<NaiveTime>) {
        let language = self.language();
        let mut vars = self.vars();
        if let Some(day) = day {
            vars.day = locale::day(language, day);
        }
        if let Some(time) = time {
            vars.time = locale::time(language, time);
        }
        if let Some(text) = self.view.templates.render(language, template, &vars) {
            self.replies.push(Reply::text(text));
        }
    }

    /// Asks which half of the day an hour is, with one button for each reading.
    fn ask_half(&mut self, morning: NaiveTime, afternoon: NaiveTime) {
        let language = self.language();
        let hour = if morning.minute() == 0 {
            morning.hour().to_string()
        } else {
            format!("{}:{:02}", morning.hour(), morning.minute())
        };
        let vars = Vars {
            time: hour,
            ..self.vars()
        };
        let Some(text) = self.view.templates.render(language, "ask_half", &vars) else {
            return;
        };
        let buttons = [morning, afternoon]
            .iter()
            .map(|t| {
                (
                    format!("{TIME_BUTTON}{}", t.format("%H:%M")),
                    locale::time(language, *t),
                )
            })
            .collect();
        self.replies
            .push(Reply::with(text, ReplyUi::Buttons(buttons)));
    }
}

use chrono::Timelike;
