//! The engine's core: `step(flow, conversation, input, view) -> Turn`. Pure: no I/O, no clock, no
//! randomness; everything comes in through its arguments, so a turn can be replayed and tested to the
//! letter. The caller (`worker::turn`) carries out the effects and sends the replies in one transaction.
//!
//! How input is matched in a state, first match wins:
//! 1. a tapped button or row of the state (by id); a number or title typed instead counts the same;
//! 2. a recognised intent: the global transitions first, then the state's own (saying yes, no or
//!    hello gives way to 3);
//! 3. free text naming a service, staff member, day or time moves the conversation ahead through the
//!    flow's `[[ahead]]` steps, asking only for what is missing (`step/ahead.rs`);
//! 4. free text filling a `text` slot;
//! 5. otherwise a miss: "sorry" and the state's question again; the third miss in a row offers a person.
//!
//! A number or title typed instead of a tap does not count as one when the message names a day or
//! a time: "a las 5" is five o'clock, not the fifth row.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::effect::{
    Effect, HoldRequest, Reply, ReplyUi, Row, SlotRequest, TemplateReply, TimerRequest, Turn,
};
use super::flow::{
    Action, Flow, Intent, OptionSource, PAGING_ROWS, SlotKind, State, SystemEvent, Transition,
    Trigger, Ui, paging_rows,
};
use super::input::{Input, Staff, Timer};
use super::state::{ANYONE, Conversation};
use super::templates::Vars;
use super::understand::Understanding;
use super::view::{self, View};
use super::{answers, locale, understand};
use crate::booking::catalog::{Language, ServiceId, StaffId};

mod ahead;

pub use ahead::TIME_BUTTON;

/// Button ids that stand for an intent wherever they are tapped (`intent:human`, `intent:menu`).
pub const INTENT_BUTTON: &str = "intent:";

/// Quick-reply payloads of the reminder template: `reminder.confirm:<appointment id>`.
pub const REMINDER_CONFIRM: &str = "reminder.confirm:";
/// See [`REMINDER_CONFIRM`].
pub const REMINDER_CANCEL: &str = "reminder.cancel:";

/// Templates the engine says on its own (not named by flows); every language must have them.
pub const ENGINE_TEMPLATES: &[&str] = &[
    "not_understood",
    "offer_human",
    "unsupported",
    "slot_taken",
    "no_slots",
    "flow_changed",
    "row_anyone",
    "reminder",
    "reminder_confirm",
    "reminder_cancel",
    "menu_human",
    "back_to_menu",
    "ahead_time_taken",
    "ahead_day_full",
    "ahead_day_out_of_reach",
    "ahead_no_times_then",
    "ask_half",
    "salon_cancelled",
];

/// Misses in a row after which the bot offers a person.
pub const MISSES_BEFORE_HANDOFF: u32 = 3;

/// A customer who writes after this long a silence starts again at the entry state (and leaves human
/// mode): yesterday's half-finished booking is not where today's "hola" belongs.
pub const IDLE_RESET: Duration = Duration::hours(12);

/// Runs one input through the flow.
pub fn step(flow: &Flow, conversation: &Conversation, input: &Input, view: &View<'_>) -> Turn {
    let mut stepper = Stepper {
        flow,
        view,
        conv: conversation.clone(),
        replies: Vec::new(),
        effects: Vec::new(),
        quiet: false,
        about: Vec::new(),
    };
    stepper.run(input);
    Turn {
        state: stepper.conv,
        replies: stepper.replies,
        effects: stepper.effects,
    }
}

struct Stepper<'a, 'v> {
    flow: &'a Flow,
    view: &'a View<'v>,
    conv: Conversation,
    replies: Vec<Reply>,
    effects: Vec<Effect>,
    /// Passing through states without saying them (moving ahead over steps free text answered).
    quiet: bool,
    /// The services the message names, for answers about them ("¿cuánto cuesta el tinte?").
    about: Vec<ServiceId>,
}

impl Stepper<'_, '_> {
    fn language(&self) -> Language {
        self.conv
            .language
            .unwrap_or(self.view.catalog.salon().default_language)
    }

    fn now(&self) -> DateTime<Utc> {
        self.view.now
    }

    fn state(&self) -> Option<&State> {
        self.flow.state(&self.conv.state)
    }

    fn run(&mut self, input: &Input) {
        if let Input::Staff(staff) = input {
            self.staff(*staff);
            return;
        }
        if let Input::SalonCancel {
            appointment,
            refund,
        } = input
        {
            self.salon_cancel(*appointment, *refund);
            return;
        }
        let from_customer = matches!(
            input,
            Input::Text(_)
                | Input::Understood { .. }
                | Input::Choice { .. }
                | Input::Unsupported(_)
        );
        // Free text is read once: by the rules, or as the language model read it (recorded).
        let reading = match input {
            Input::Text(text) => Some(self.read(text)),
            Input::Understood { reading, .. } => Some(reading.clone()),
            _ => None,
        };
        let reading = reading.as_ref();
        if self.conv.is_new() && !from_customer {
            // A timer or outside event for a conversation that never started: nothing to say.
            return;
        }
        if self.conv.language.is_none() {
            self.conv.language = Some(self.choose_language(reading));
        } else if let Some(said) = reading.and_then(|r| r.language) {
            // Each message that tells its language sets it: a customer may switch.
            self.conv.language = Some(said);
        }
        let idle = from_customer && self.conv.idle_at(self.now());
        if from_customer {
            self.conv.last_seen = Some(self.now());
        }
        if idle && !self.conv.is_new() {
            // Nothing is said about it: the customer simply finds the bot at the start again.
            self.effects.push(Effect::ReleaseHold);
            let keep = (self.conv.language, self.conv.last_seen);
            self.conv = Conversation {
                language: keep.0,
                last_seen: keep.1,
                ..Conversation::default()
            };
        }
        if self.conv.is_new() {
            self.start(input, reading);
            return;
        }
        if self.state().is_none() {
            if !self.migrate() {
                return;
            }
        } else {
            self.conv.flow_version = self.flow.version;
        }
        if self.conv.human && !self.is_way_back(input, reading) {
            // A person has the conversation; only timers and outside events still count.
            match input {
                Input::Timer(_) | Input::System(_) | Input::Payment { .. } => {}
                _ => return,
            }
        }
        self.input_read(input, reading);
    }

    /// The staff's doings: a person's reply makes the conversation theirs (the bot says nothing: the
    /// person's message goes out as it is); handing it back returns it to the bot.
    fn staff(&mut self, staff: Staff) {
        match staff {
            Staff::Replied => {
                if self.conv.is_new() {
                    // The salon wrote first: the conversation starts, in the staff's hands.
                    self.conv.flow_version = self.flow.version;
                    self.conv.state = self.flow.entry.name.clone();
                    self.conv.entered_at = Some(self.now());
                }
                self.conv.human = true;
                self.conv.human_since = Some(self.now());
            }
            Staff::HandBack => self.hand_back(),
        }
    }

    /// The salon cancelled one of the customer's appointments: the same effects as the customer's
    /// own cancellation (cancel, then refund when the salon gives the deposit back), and the customer
    /// told, in human mode too (it is the salon's own news). Nothing for an appointment that is not
    /// this conversation's or can no longer be cancelled; nothing is said in a conversation that
    /// never started (a walk-in's), and the state stays where it was.
    fn salon_cancel(&mut self, id: i64, refund: bool) {
        use crate::booking::appointment::AppointmentStatus;
        let Some(appointment) = self.view.appointments.iter().find(|a| a.id == id) else {
            return;
        };
        if !appointment.status.can_become(AppointmentStatus::Cancelled) {
            return;
        }
        let refunded = refund && appointment.deposit_minor > 0 && self.view.deposits;
        self.effects.push(Effect::Cancel(id));
        if refunded {
            self.effects.push(Effect::Refund(id));
        }
        if self.conv.is_new() {
            return;
        }
        // The message names the appointment; what the conversation was doing stays as it was.
        let kept = self.conv.slots.clone();
        self.fill_from_appointment(id);
        self.say_template(if refunded {
            "cancelled_by_salon"
        } else {
            "salon_cancelled"
        });
        self.conv.slots = kept;
        if self.conv.slots.appointment == Some(id) {
            self.conv.slots.appointment = None;
        }
    }

    /// Leaves human mode: the bot resumes at the flow's entry without saying it (the person may
    /// just have said goodbye or hello), so the customer's next message is read from there.
    fn hand_back(&mut self) {
        if !self.conv.human {
            return;
        }
        self.conv.human = false;
        self.conv.human_since = None;
        self.conv.misses = 0;
        self.conv.slots = Default::default();
        self.conv.flow_version = self.flow.version;
        self.conv.state = self.flow.entry.name.clone();
        self.conv.entered_at = Some(self.now());
    }

    /// First message, then the phone's country, then the salon's default.
    fn choose_language(&self, reading: Option<&Understanding>) -> Language {
        reading
            .and_then(|r| r.language)
            .or_else(|| self.view.phone.and_then(understand::language_for_phone))
            .unwrap_or(self.view.catalog.salon().default_language)
    }

    /// A new conversation: greet, unless the first message already asks for something the entry
    /// state (or a global) answers.
    fn start(&mut self, input: &Input, reading: Option<&Understanding>) {
        self.conv.flow_version = self.flow.version;
        self.conv.state = self.flow.entry.name.clone();
        self.conv.entered_at = Some(self.now());
        let asks = reading.and_then(|r| r.intent).filter(|intent| {
            // Yes, no, book and hello give way to what the message names.
            let moves_ahead = reading.is_some_and(Understanding::carries_slots)
                && matches!(
                    intent,
                    Intent::Book | Intent::Yes | Intent::No | Intent::Greeting
                );
            *intent != Intent::Menu && !moves_ahead && self.intent_transition(*intent).is_some()
        });
        if let Input::Unsupported(_) = input {
            self.conv.told_unsupported = true;
            self.say_template("unsupported");
        }
        if let (Some(reading), None) = (reading, asks)
            && reading.carries_slots()
            && self.ahead(reading)
        {
            return;
        }
        match asks {
            Some(intent) => {
                self.take_intent(intent);
            }
            None => self.say_current(),
        }
    }

    /// The conversation's state is gone from the flow: follow the migration map, else apologise and
    /// start again. Returns whether the input should still be handled.
    fn migrate(&mut self) -> bool {
        self.conv.flow_version = self.flow.version;
        let mapped = self
            .flow
            .migrations
            .iter()
            .find(|m| m.from == self.conv.state)
            .and_then(|m| self.flow.state(&m.to.name))
            .map(|s| s.name.clone());
        match mapped {
            Some(state) => {
                self.conv.state = state;
                self.conv.entered_at = Some(self.now());
                true
            }
            None => {
                self.effects.push(Effect::ReleaseHold);
                self.conv.slots = Default::default();
                self.conv.human = false;
                self.say_template("flow_changed");
                self.enter(&self.flow.entry.name.clone());
                false
            }
        }
    }

    fn is_way_back(&self, input: &Input, reading: Option<&Understanding>) -> bool {
        match input {
            Input::Choice { id, .. } => id == "intent:menu",
            _ => reading.is_some_and(|r| r.intent == Some(Intent::Menu)),
        }
    }

    fn input(&mut self, input: &Input) {
        self.input_read(input, None);
    }

    /// Handles an input, with the reading of its text when it is free text.
    fn input_read(&mut self, input: &Input, reading: Option<&Understanding>) {
        match input {
            Input::Text(text) | Input::Understood { text, .. } => match reading {
                Some(reading) => self.text(text, reading),
                None => {
                    let reading = self.read(text);
                    self.text(text, &reading)
                }
            },
            Input::Choice { id, title } => self.choice(id, title),
            Input::Unsupported(_) => {
                if self.conv.told_unsupported {
                    self.miss();
                } else {
                    self.conv.told_unsupported = true;
                    self.say_template("unsupported");
                    self.say_current();
                }
            }
            Input::Timer(Timer::StateTimeout { state, entered_at }) => {
                if *state == self.conv.state && Some(*entered_at) == self.conv.entered_at {
                    self.timeout();
                }
            }
            Input::Timer(Timer::Reminder { appointment, start }) => {
                self.remind(*appointment, *start)
            }
            Input::Timer(Timer::HumanIdle { since }) => {
                if self.conv.human && self.conv.human_since == Some(*since) {
                    self.hand_back();
                }
            }
            Input::Staff(staff) => self.staff(*staff),
            Input::SalonCancel {
                appointment,
                refund,
            } => self.salon_cancel(*appointment, *refund),
            Input::System(event) => {
                let found = self.find(|t| t.trigger == Trigger::Event(*event));
                if let Some(transition) = found {
                    self.take(&transition);
                }
            }
            Input::Payment {
                event,
                appointment,
                link,
            } => {
                // The news is about this appointment, whatever the conversation was doing.
                self.conv.slots.appointment = Some(*appointment);
                self.fill_from_appointment(*appointment);
                if let Some(link) = link {
                    self.conv.slots.deposit_url = Some(link.clone());
                }
                self.conv.slots.deposit_pending = *event == SystemEvent::PaymentLink;
                let found = self.find(|t| t.trigger == Trigger::Event(*event));
                if let Some(transition) = found {
                    self.take(&transition);
                }
            }
            Input::SlotTaken => {
                self.say_template("slot_taken");
                self.conv.slots.start = None;
                self.say_current();
            }
            Input::HoldLost => {
                self.conv.slots.start = None;
                if !self.timeout() {
                    self.enter(&self.flow.entry.name.clone());
                }
            }
        }
    }

    /// Takes the current state's timeout transition; false when it has none.
    fn timeout(&mut self) -> bool {
        let Some(timeout) = self.state().and_then(|s| s.timeout.clone()) else {
            return false;
        };
        self.apply(
            &timeout.actions,
            timeout.goto.as_ref().map(|g| g.name.clone()),
        );
        true
    }

    /// The first transition of the globals, then the state, that matches and whose guard holds.
    fn find(&self, matches: impl Fn(&Transition) -> bool) -> Option<Transition> {
        let state = self.state()?;
        self.flow
            .globals
            .iter()
            .chain(&state.on)
            .find(|t| matches(t) && t.when.is_none_or(|g| self.view.guard(g, &self.conv.slots)))
            .cloned()
    }

    /// Like [`Self::find`], the state's own transitions only.
    fn find_own(&self, matches: impl Fn(&Transition) -> bool) -> Option<Transition> {
        self.state()?
            .on
            .iter()
            .find(|t| matches(t) && t.when.is_none_or(|g| self.view.guard(g, &self.conv.slots)))
            .cloned()
    }

    fn intent_transition(&self, intent: Intent) -> Option<Transition> {
        self.find(|t| t.trigger == Trigger::Intent(intent))
    }

    fn take_intent(&mut self, intent: Intent) -> bool {
        match self.intent_transition(intent) {
            Some(transition) => {
                self.take(&transition);
                true
            }
            None => false,
        }
    }

    /// The rules' reading of a message, against the catalog and the clock.
    fn read(&self, text: &str) -> Understanding {
        let context = understand::Context {
            catalog: self.view.catalog,
            now: self.now(),
            language: self.conv.language,
        };
        understand::understand(text, &context)
    }

    fn text(&mut self, text: &str, reading: &Understanding) {
        self.about = reading.services.clone();
        let when = reading.date.is_some() || reading.time.is_some();
        // A number or the title of one of the state's buttons or rows.
        if !when
            && let Some(id) = self.picked(text)
            && self.choose(&id)
        {
            return;
        }
        // Yes, no and hello give way to what the message names: "no, mejor el jueves".
        let yields = |intent: Intent| {
            matches!(
                intent,
                Intent::Book | Intent::Yes | Intent::No | Intent::Greeting
            )
        };
        if let Some(intent) = reading.intent
            && !yields(intent)
            && self.take_intent(intent)
        {
            return;
        }
        if reading.carries_slots() && self.ahead(reading) {
            return;
        }
        if let Some(intent) = reading.intent
            && self.take_intent(intent)
        {
            return;
        }
        let slot = self.state().and_then(|s| {
            s.on.iter().find_map(|t| match t.trigger {
                Trigger::Text(kind) if valid_text(kind, text) => Some(t.clone()),
                _ => None,
            })
        });
        if let Some(transition) = slot {
            if let Some(name) = &transition.set {
                self.conv
                    .slots
                    .text
                    .insert(name.clone(), text.trim().to_owned());
            }
            self.take(&transition);
            return;
        }
        self.miss();
    }

    /// Which of the state's choices a typed text names, by id.
    fn picked(&self, text: &str) -> Option<String> {
        let choices = self.choices();
        let titles: Vec<&str> = choices.iter().map(|(_, title)| title.as_str()).collect();
        understand::pick(text, &titles).and_then(|i| choices.get(i).map(|(id, _)| id.clone()))
    }

    /// The state's buttons or current list rows (paging rows included), as (id, title).
    fn choices(&self) -> Vec<(String, String)> {
        match self.ui() {
            ReplyUi::Buttons(buttons) => buttons,
            ReplyUi::List { rows, .. } => rows.into_iter().map(|r| (r.id, r.title)).collect(),
            _ => Vec::new(),
        }
    }

    fn choice(&mut self, id: &str, title: &str) {
        if let Some(intent) = id.strip_prefix(INTENT_BUTTON).and_then(Intent::from_name) {
            if !self.take_intent(intent) {
                self.miss();
            }
            return;
        }
        if let Some(time) = ahead::time_button(id) {
            self.ahead(&time);
            return;
        }
        if let Some(reminder) = self.reminder_answer(id) {
            let (event, appointment) = reminder;
            self.conv.slots.appointment = Some(appointment);
            self.fill_from_appointment(appointment);
            match self.find(|t| t.trigger == Trigger::Event(event)) {
                Some(transition) => self.take(&transition),
                None => self.say_current(),
            }
            return;
        }
        if self.choose(id) {
            return;
        }
        // A button of an older message: read its title as if typed.
        let reading = self.read(title);
        self.text(title, &reading);
    }

    fn reminder_answer(&self, id: &str) -> Option<(SystemEvent, i64)> {
        if let Some(rest) = id.strip_prefix(REMINDER_CONFIRM) {
            return Some((SystemEvent::ReminderConfirm, rest.parse().ok()?));
        }
        let rest = id.strip_prefix(REMINDER_CANCEL)?;
        Some((SystemEvent::ReminderCancel, rest.parse().ok()?))
    }

    /// A button id or row id of the current state; false when it is neither (or no longer valid,
    /// which has been answered already).
    fn choose(&mut self, id: &str) -> bool {
        let Some(state) = self.state().cloned() else {
            return false;
        };
        match &state.ui {
            Ui::Buttons(buttons) if buttons.iter().any(|b| b.id == id) => {
                match self.find_own(|t| t.trigger == Trigger::Button(id.to_owned())) {
                    Some(transition) => self.take(&transition),
                    None => self.miss(),
                }
                true
            }
            Ui::List { options, page, .. } => {
                if page.is_some() && PAGING_ROWS.iter().any(|(paging, _)| *paging == id) {
                    match self.find_own(|t| t.trigger == Trigger::Button(id.to_owned())) {
                        Some(transition) => self.take(&transition),
                        None => self.miss(),
                    }
                    return true;
                }
                self.choose_row(*options, id)
            }
            _ => false,
        }
    }

    /// A row of a list of `source`: checked against the view, stored in its slot, and the `choose`
    /// transition taken.
    fn choose_row(&mut self, source: OptionSource, id: &str) -> bool {
        let catalog = self.view.catalog;
        let slots = &mut self.conv.slots;
        match source {
            OptionSource::Services => {
                if catalog.service(&ServiceId::new(id)).is_none() {
                    return false;
                }
                slots.service = Some(id.to_owned());
                slots.staff = None;
                slots.slot_staff = None;
                slots.day = None;
                slots.start = None;
            }
            OptionSource::Staff => {
                let offered = slots.service.as_ref().is_some_and(|service| {
                    catalog
                        .staff_member(&StaffId::new(id))
                        .is_some_and(|s| s.offers(&ServiceId::new(service.clone())))
                });
                if id != ANYONE && !offered {
                    return false;
                }
                slots.staff = Some(id.to_owned());
                slots.slot_staff = None;
                slots.day = None;
                slots.start = None;
            }
            OptionSource::Days => {
                let Ok(day) = id.parse::<NaiveDate>() else {
                    return false;
                };
                let mut probe = slots.clone();
                probe.day = Some(day);
                if self.view.free_slots(&probe, day).is_empty() {
                    // Fully booked since the list was sent: say so and show the days again.
                    self.say_template("slot_taken");
                    self.say_current();
                    return true;
                }
                let slots = &mut self.conv.slots;
                slots.day = Some(day);
                slots.start = None;
                slots.page = 0;
            }
            OptionSource::Times => {
                let Some((start, staff)) = view::parse_time_row(id) else {
                    return false;
                };
                let day = self.view.local_date(start);
                let mut probe = slots.clone();
                probe.day = Some(day);
                let free = self
                    .view
                    .free_slots(&probe, day)
                    .into_iter()
                    .any(|s| s.start == start && s.staff.as_str() == staff);
                if !free {
                    self.input(&Input::SlotTaken);
                    return true;
                }
                let slots = &mut self.conv.slots;
                slots.day = Some(day);
                slots.start = Some(start);
                slots.slot_staff = Some(staff);
            }
            OptionSource::Appointments => {
                let Some(appointment) = view::parse_appointment_row(id) else {
                    return false;
                };
                if self.view.upcoming_one(appointment).is_none() {
                    return false;
                }
                self.conv.slots.appointment = Some(appointment);
                self.fill_from_appointment(appointment);
            }
        }
        self.conv.slots.wanted.forget(source);
        match self.find_own(|t| t.trigger == Trigger::Choose(source)) {
            Some(transition) if !self.conv.slots.wanted.is_empty() => {
                // What the customer asked for earlier ("mañana a las 5") carries on from here.
                self.quiet = true;
                self.take(&transition);
                self.quiet = false;
                self.carry_on();
            }
            Some(transition) => self.take(&transition),
            None => self.miss(),
        }
        true
    }

    /// Puts an appointment's service, staff and time into the slots (to show, cancel or move it).
    fn fill_from_appointment(&mut self, id: i64) {
        let Some(appointment) = self.view.appointments.iter().find(|a| a.id == id) else {
            return;
        };
        let day = self.view.local_date(appointment.starts_at);
        let slots = &mut self.conv.slots;
        slots.service = Some(appointment.service_id.clone());
        slots.staff = Some(appointment.staff_id.clone());
        slots.slot_staff = Some(appointment.staff_id.clone());
        slots.day = Some(day);
        slots.start = Some(appointment.starts_at);
        slots.page = 0;
    }

    fn miss(&mut self) {
        self.conv.misses += 1;
        if self.conv.misses >= MISSES_BEFORE_HANDOFF {
            self.conv.misses = 0;
            let language = self.language();
            let templates = self.view.templates;
            let label = |name: &str| templates.render(language, name, &Vars::default());
            let buttons = [
                ("intent:human", "menu_human"),
                ("intent:menu", "back_to_menu"),
            ]
            .iter()
            .filter_map(|(id, name)| label(name).map(|title| ((*id).to_owned(), title)))
            .collect();
            if let Some(text) = self.render("offer_human") {
                self.replies
                    .push(Reply::with(text, ReplyUi::Buttons(buttons)));
            }
        } else {
            self.say_template("not_understood");
            self.say_current();
        }
    }

    /// Takes a transition: its answer (`say`), its actions in order, then its `goto` (or the state
    /// says itself again). An answer without a `goto` leaves the conversation where it was, and
    /// asks the state's question again only when it has one (buttons or a list).
    fn take(&mut self, transition: &Transition) {
        if let Some(answer) = &transition.say {
            self.say_template(&answer.name);
            if transition.goto.is_none() {
                for action in &transition.actions {
                    self.act(*action);
                }
                self.conv.misses = 0;
                let asks = self
                    .state()
                    .is_some_and(|s| matches!(s.ui, Ui::Buttons(_) | Ui::List { .. }));
                if asks {
                    self.say_current();
                }
                return;
            }
        }
        self.apply(
            &transition.actions,
            transition.goto.as_ref().map(|g| g.name.clone()),
        );
    }

    fn apply(&mut self, actions: &[Action], goto: Option<String>) {
        for action in actions {
            self.act(*action);
        }
        if !actions.contains(&Action::Handoff) {
            self.conv.human = false;
        }
        match goto {
            Some(goto) => self.enter(&goto),
            None => {
                self.conv.misses = 0;
                self.say_current();
            }
        }
    }

    fn act(&mut self, action: Action) {
        let now = self.now();
        let salon = self.view.catalog.salon();
        match action {
            Action::Hold => {
                self.conv.slots.deposit_pending = false;
                if let Some(slot) = self.slot_request() {
                    let deposit = if self.view.deposits {
                        self.service().map_or(0, |s| s.deposit)
                    } else {
                        0
                    };
                    self.conv.slots.appointment = None;
                    // One held time per customer: a new hold lets the previous one go.
                    self.effects.push(Effect::ReleaseHold);
                    self.effects.push(Effect::Hold(HoldRequest {
                        slot,
                        expires_at: now + Duration::minutes(i64::from(salon.hold_minutes)),
                        deposit,
                    }));
                }
            }
            Action::ReleaseHold => {
                self.conv.slots.deposit_pending = false;
                self.effects.push(Effect::ReleaseHold);
            }
            Action::Confirm => self.effects.push(Effect::Confirm),
            Action::RequestDeposit => {
                self.conv.slots.deposit_pending = true;
                self.effects.push(Effect::RequestDeposit);
            }
            Action::Cancel => {
                if let Some(id) = self.conv.slots.appointment {
                    self.effects.push(Effect::Cancel(id));
                }
            }
            Action::Refund => {
                let refundable = self.conv.slots.appointment.and_then(|id| {
                    self.view
                        .appointments
                        .iter()
                        .find(|a| a.id == id && a.deposit_minor > 0)
                });
                if let Some(appointment) = refundable
                    && self.view.deposits
                {
                    self.effects.push(Effect::Refund(appointment.id));
                }
            }
            Action::Reschedule => {
                if let (Some(id), Some(slot)) = (self.conv.slots.appointment, self.slot_request()) {
                    self.effects.push(Effect::Reschedule {
                        appointment: id,
                        to: slot,
                    });
                }
            }
            Action::Handoff => {
                self.conv.human = true;
                self.conv.human_since = Some(now);
                self.effects.push(Effect::Handoff);
            }
            Action::ScheduleReminder => {
                let (Some(start), hours) = (self.conv.slots.start, salon.reminder_hours) else {
                    return;
                };
                let due_at = start - Duration::hours(i64::from(hours));
                if hours == 0 || due_at <= now {
                    return;
                }
                let timer = match self.conv.slots.appointment {
                    Some(appointment) => {
                        TimerRequest::Ready(Timer::Reminder { appointment, start })
                    }
                    None => TimerRequest::ReminderOfConfirmed { start },
                };
                self.effects.push(Effect::Schedule {
                    key: format!("reminder:{}", start.timestamp()),
                    due_at,
                    timer,
                });
            }
            Action::PageEarlier => self.conv.slots.page = self.conv.slots.page.saturating_sub(1),
            Action::PageLater => self.conv.slots.page += 1,
            Action::Reset => self.conv.slots = Default::default(),
        }
    }

    fn service(&self) -> Option<&crate::booking::catalog::Service> {
        let id = self.conv.slots.service.as_ref()?;
        self.view.catalog.service(&ServiceId::new(id.clone()))
    }

    /// The chosen time as a request to the store.
    fn slot_request(&self) -> Option<SlotRequest> {
        let slots = &self.conv.slots;
        let service = self.service()?;
        let start = slots.start?;
        let end = start + Duration::minutes(i64::from(service.duration_minutes));
        Some(SlotRequest {
            service: service.id.to_string(),
            staff: slots.slot_staff.clone()?,
            start,
            end,
            occupied_until: end + Duration::minutes(i64::from(service.buffer_after_minutes)),
        })
    }

    /// Moves to `name` and says it. Leaving a state drops its pending timeout; entering one with a
    /// timeout sets it.
    fn enter(&mut self, name: &str) {
        let had_timeout = self.state().is_some_and(|s| s.timeout.is_some());
        if let (true, Some(entered_at)) = (had_timeout, self.conv.entered_at) {
            self.effects.push(Effect::CancelTimer(timeout_key(
                &self.conv.state,
                entered_at,
            )));
        }
        if name != self.conv.state {
            self.conv.slots.page = 0;
        }
        if !self.flow.ahead.iter().any(|a| a.covers(name)) {
            // Out of the booking: what was asked for ahead of it no longer applies.
            self.conv.slots.wanted = Default::default();
        }
        self.conv.state = name.to_owned();
        self.conv.entered_at = Some(self.now());
        self.conv.misses = 0;
        if let Some(timeout) = self.state().and_then(|s| s.timeout.as_ref()) {
            let now = self.now();
            // Entered while a time is held for the customer: the wait lasts as long as the hold
            // (salon.toml's hold_minutes), whatever the flow says, so the two never disagree.
            let holding = self
                .effects
                .iter()
                .any(|e| matches!(e, Effect::Hold(_) | Effect::RequestDeposit));
            let minutes = if holding {
                self.view.catalog.salon().hold_minutes
            } else {
                timeout.minutes
            };
            self.effects.push(Effect::Schedule {
                key: timeout_key(name, now),
                due_at: now + Duration::minutes(i64::from(minutes)),
                timer: TimerRequest::Ready(Timer::StateTimeout {
                    state: name.to_owned(),
                    entered_at: now,
                }),
            });
        }
        self.say_current();
    }

    fn vars(&self) -> Vars {
        let language = self.language();
        let catalog = self.view.catalog;
        let salon = catalog.salon();
        let slots = &self.conv.slots;
        let service = self.service();
        let staff_id = slots.slot_staff.as_ref().or(slots.staff.as_ref());
        let staff = match staff_id.map(String::as_str) {
            Some(ANYONE) | None => (self.view.templates)
                .render(language, "row_anyone", &Vars::default())
                .unwrap_or_default(),
            Some(id) => catalog
                .staff_member(&StaffId::new(id))
                .map(|s| s.name.clone())
                .unwrap_or_default(),
        };
        let day = slots
            .start
            .map(|start| self.view.local_date(start))
            .or(slots.day);
        Vars {
            salon: salon.name.clone(),
            service: service
                .map(|s| s.name.get(language).to_owned())
                .unwrap_or_default(),
            staff,
            day: day.map(|d| locale::day(language, d)).unwrap_or_default(),
            time: slots
                .start
                .map(|start| self.view.local_time(language, start))
                .unwrap_or_default(),
            price: service
                .map(|s| locale::money(language, &salon.currency, s.price))
                .unwrap_or_default(),
            deposit: service
                .map(|s| locale::money(language, &salon.currency, s.deposit))
                .unwrap_or_default(),
            free_until_hours: salon.cancellation.free_until_hours.to_string(),
            address: salon.address.clone(),
            ..Vars::default()
        }
    }

    /// A message template with every variable, the answers from the catalog included.
    fn render(&self, name: &str) -> Option<String> {
        let language = self.language();
        let catalog = self.view.catalog;
        let vars = Vars {
            address: catalog.salon().address.clone(),
            opening_hours: answers::opening_hours(catalog, language),
            price_list: answers::price_list(catalog, language, &self.about),
            deposit_list: answers::deposit_list(catalog, language),
            ..self.vars()
        };
        self.view.templates.render(language, name, &vars)
    }

    fn say_template(&mut self, name: &str) {
        if let Some(text) = self.render(name) {
            self.replies.push(Reply::text(text));
        }
    }

    /// The current state's interactive part, built from the view.
    fn ui(&self) -> ReplyUi {
        let Some(state) = self.state() else {
            return ReplyUi::None;
        };
        let language = self.language();
        let label = |name: &str| {
            (self.view.templates)
                .render(language, name, &self.vars())
                .unwrap_or_else(|| name.to_owned())
        };
        match &state.ui {
            Ui::Text => ReplyUi::None,
            Ui::Buttons(buttons) => ReplyUi::Buttons(
                buttons
                    .iter()
                    .map(|b| (b.id.clone(), label(&b.label.name)))
                    .collect(),
            ),
            Ui::List {
                label: button,
                options,
                page,
                ..
            } => {
                let all = view::options(self.view, language, *options, &self.conv.slots);
                let mut rows = all.clone();
                if let Some(size) = page {
                    let (shown, earlier, later) = view::page_of(&all, *size, self.conv.slots.page);
                    rows = shown;
                    let paging = |id: &str, template: &str| Row {
                        id: id.to_owned(),
                        title: label(template),
                        description: None,
                    };
                    let [before, after] = paging_rows(*options);
                    if earlier {
                        rows.insert(0, paging(before.0, before.1));
                    }
                    if later {
                        rows.push(paging(after.0, after.1));
                    }
                }
                ReplyUi::List {
                    button: label(&button.name),
                    rows,
                }
            }
            Ui::Cta {
                label: text,
                url_slot,
            } => match self.url_slot(url_slot) {
                Some(url) => ReplyUi::Cta {
                    label: label(&text.name),
                    url,
                },
                None => ReplyUi::None,
            },
        }
    }

    fn url_slot(&self, name: &str) -> Option<String> {
        match name {
            "deposit_url" => self.conv.slots.deposit_url.clone(),
            other => self.conv.slots.text.get(other).cloned(),
        }
    }

    /// Says the current state's message with its buttons or list. A list with nothing to offer says
    /// so and goes back to the entry state instead.
    fn say_current(&mut self) {
        if self.quiet {
            return;
        }
        let Some(state) = self.state().cloned() else {
            return;
        };
        let ui = self.ui();
        if let ReplyUi::List { rows, .. } = &ui
            && rows.is_empty()
        {
            self.say_template("no_slots");
            if state.name != self.flow.entry.name {
                self.enter(&self.flow.entry.name.clone());
            }
            return;
        }
        if let Some(text) = self.render(&state.say.name) {
            self.replies.push(Reply::with(text, ui));
        }
    }

    /// The reminder of an appointment, if it still starts then and is booked.
    fn remind(&mut self, appointment: i64, start: DateTime<Utc>) {
        let Some(booked) = self
            .view
            .upcoming()
            .find(|a| a.id == appointment && a.starts_at == start)
            .cloned()
        else {
            return;
        };
        // The reminder talks about its appointment, whatever the conversation is doing.
        let saved = self.conv.slots.clone();
        self.conv.slots.appointment = Some(booked.id);
        self.fill_from_appointment(booked.id);
        let text = self.render("reminder");
        let vars = self.vars();
        let language = self.language();
        let payloads = [
            format!("{REMINDER_CONFIRM}{}", booked.id),
            format!("{REMINDER_CANCEL}{}", booked.id),
        ];
        let buttons = payloads
            .iter()
            .zip(["reminder_confirm", "reminder_cancel"])
            .filter_map(|(id, name)| {
                (self.view.templates)
                    .render(language, name, &Vars::default())
                    .map(|title| (id.clone(), title))
            })
            .collect();
        self.conv.slots = saved;
        if let Some(text) = text {
            let mut reply = Reply::with(text, ReplyUi::Buttons(buttons));
            reply.template = Some(TemplateReply {
                purpose: "reminder",
                params: vec![vars.service, vars.day, vars.time],
                payloads: payloads.to_vec(),
            });
            self.replies.push(reply);
        }
    }
}

/// The key of a state's timeout timer (scoped to the conversation by the caller).
pub fn timeout_key(state: &str, entered_at: DateTime<Utc>) -> String {
    format!("timeout:{state}:{}", entered_at.timestamp_millis())
}

/// Whether free text fits a `text` slot of this kind.
fn valid_text(kind: SlotKind, text: &str) -> bool {
    let text = text.trim();
    match kind {
        SlotKind::Free => !text.is_empty(),
        SlotKind::Name => {
            let letters = text.chars().filter(|c| c.is_alphabetic()).count();
            (2..=60).contains(&text.chars().count())
                && letters >= 2
                && text
                    .chars()
                    .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\'' || c == '.')
        }
        SlotKind::Date => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
                || NaiveDate::parse_from_str(text, "%d/%m/%Y").is_ok()
        }
        SlotKind::Time => chrono::NaiveTime::parse_from_str(text, "%H:%M").is_ok(),
    }
}
