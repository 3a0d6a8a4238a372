//! The typed model of a flow file and its loader: TOML in, [`Flow`] out, or every problem found with
//! its `file:line`. Names from the closed vocabularies (intents, option sources, slot kinds, events,
//! guards, actions) are turned into enums here, so an unknown name never gets past loading. Cross-
//! references (gotos, templates, limits) are the checker's business ([`super::check`]).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// One problem in a flow file, displayed as `flows/booking.toml:42: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", located(file, *line))]
pub struct FlowError {
    /// The file as given to the loader (`flows/booking.toml`).
    pub file: String,
    /// The 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong, and where possible how to fix it.
    pub message: String,
}

impl FlowError {
    /// A problem at a line of `file`.
    pub fn at(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: Some(line),
            message: message.into(),
        }
    }

    /// A problem with `file` as a whole.
    pub fn whole(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            message: message.into(),
        }
    }
}

fn located(file: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}

/// Declares a closed vocabulary: an enum whose variants are spelled in flow files as the given names.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`")] $variant),+
        }

        impl $name {
            /// Every known name, in the documented order.
            pub const ALL: &[Self] = &[$(Self::$variant),+];
            /// What this vocabulary is called in messages.
            pub const WHAT: &str = $what;

            /// The name flow files use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The variant a flow file's name means, if it is a known one.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What the customer means, as the intent detector names it.
    Intent, "intent" {
        Menu = "menu", Cancel = "cancel", Help = "help", Human = "human", Book = "book",
        MyAppointments = "my_appointments", Yes = "yes", No = "no",
    }
}

vocabulary! {
    /// Where a list's rows come from at run time.
    OptionSource, "option source" {
        Services = "services", Staff = "staff", Days = "days", Times = "times",
        Appointments = "appointments",
    }
}

vocabulary! {
    /// How free text filling a slot is validated.
    SlotKind, "slot kind" { Name = "name", Date = "date", Time = "time", Free = "free" }
}

vocabulary! {
    /// Events from outside the conversation (payments, reminders).
    SystemEvent, "event" {
        PaymentSucceeded = "payment.succeeded", PaymentFailed = "payment.failed",
        PaymentRefunded = "payment.refunded", ReminderConfirm = "reminder.confirm",
        ReminderCancel = "reminder.cancel",
    }
}

vocabulary! {
    /// A condition on the conversation, tried with `when`.
    Guard, "guard" {
        DepositRequired = "deposit_required", NoDeposit = "no_deposit",
        HasAppointments = "has_appointments", NoAppointments = "no_appointments",
        CanCancelFree = "can_cancel_free", LateCancel = "late_cancel",
    }
}

vocabulary! {
    /// Something the engine does on a transition (`do`).
    Action, "action" {
        Hold = "hold", ReleaseHold = "release_hold", Confirm = "confirm", Cancel = "cancel",
        Refund = "refund", RequestDeposit = "request_deposit", Reschedule = "reschedule",
        Handoff = "handoff", ScheduleReminder = "schedule_reminder", PageEarlier = "page_earlier",
        PageLater = "page_later", Reset = "reset",
    }
}

/// The rows the engine adds to a paged list (`page = N`) when there is more before or after: their
/// ids, which `button` triggers of that state may name, and the templates of their titles.
pub const PAGING_ROWS: [(&str, &str); 2] = [("earlier", "row_earlier"), ("later", "row_later")];

/// One flow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The file it was read from, for messages.
    pub file: String,
    /// `flow.name`: also names the lock file (`<name>.lock`).
    pub name: String,
    /// `flow.version`, bumped when a state is removed or renamed.
    pub version: u32,
    /// The line of `version`.
    pub version_line: usize,
    /// Where new (and lost) conversations start.
    pub entry: StateRef,
    /// Removed state → the state its conversations move to.
    pub migrations: Vec<Migration>,
    /// Transitions tried in every state before its own.
    pub globals: Vec<Transition>,
    /// The states, in file order.
    pub states: Vec<State>,
}

impl Flow {
    /// The state called `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|state| state.name == name)
    }

    /// A problem at `line` of this flow's file.
    pub fn error(&self, line: usize, message: impl Into<String>) -> FlowError {
        FlowError::at(&self.file, line, message)
    }
}

/// A state name used as a reference (`entry`, `goto`, a migration target), with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRef {
    /// The state named.
    pub name: String,
    /// Where it is named.
    pub line: usize,
}

/// `old = "new"` under `[flow.migrations]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The state that no longer exists.
    pub from: String,
    /// Where its conversations go.
    pub to: StateRef,
}

/// A template name (in `templates/<lang>/<name>.txt`), with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    /// The template's name.
    pub name: String,
    /// Where it is named.
    pub line: usize,
}

/// A state of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Its name (lower-case letters, digits and `_`, starting with a letter).
    pub name: String,
    /// The line of its `[states.<name>]` header.
    pub line: usize,
    /// What it says on entry.
    pub say: TemplateRef,
    /// How the customer can answer besides free text.
    pub ui: Ui,
    /// Its own transitions, in order.
    pub on: Vec<Transition>,
    /// What happens after some minutes without input.
    pub timeout: Option<Timeout>,
}

/// The interactive part of what a state sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ui {
    /// Plain text.
    Text,
    /// Reply buttons.
    Buttons(Vec<Button>),
    /// A list whose rows come from `options` at run time.
    List {
        /// The template of the button that opens the list.
        label: TemplateRef,
        /// Where the rows come from.
        options: OptionSource,
        /// Rows per message (paged), if set.
        page: Option<u32>,
        /// The line of `list`.
        line: usize,
    },
    /// One call-to-action URL button.
    Cta {
        /// The template of its label.
        label: TemplateRef,
        /// The slot holding the URL.
        url_slot: String,
    },
}

/// A reply button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What comes back when it is tapped.
    pub id: String,
    /// The template of its title.
    pub label: TemplateRef,
    /// Where it is declared.
    pub line: usize,
}

/// What a transition answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A reply button (or a paging row) of the state, by id.
    Button(String),
    /// A row of the state's list.
    Choose(OptionSource),
    /// A recognised intent.
    Intent(Intent),
    /// Free text filling a slot of this kind.
    Text(SlotKind),
    /// A system event.
    Event(SystemEvent),
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Button(id) => write!(f, "button:{id}"),
            Self::Choose(source) => write!(f, "choose:{source}"),
            Self::Intent(intent) => write!(f, "intent:{intent}"),
            Self::Text(kind) => write!(f, "text:{kind}"),
            Self::Event(event) => write!(f, "event:{event}"),
        }
    }
}

/// One entry of `on` (or a `[[global]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// What it answers to.
    pub trigger: Trigger,
    /// The guard that must hold, if any.
    pub when: Option<Guard>,
    /// Actions run in order.
    pub actions: Vec<Action>,
    /// The slot the chosen value or text is stored in.
    pub set: Option<String>,
    /// The next state (absent: stay and say again).
    pub goto: Option<StateRef>,
    /// Where it is declared.
    pub line: usize,
}

/// A state's timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    /// Minutes without input before it fires (at least 1).
    pub minutes: u32,
    /// Actions run in order.
    pub actions: Vec<Action>,
    /// The next state (absent: stay and say again).
    pub goto: Option<StateRef>,
    /// Where it is declared.
    pub line: usize,
}

/// Reads and parses every `*.toml` file in `dir` (in name order), collecting every problem.
pub fn load_dir(dir: &Path) -> Result<Vec<Flow>, Vec<FlowError>> {
    let dir_name = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![FlowError::whole(
            &dir_name,
            format!("cannot read directory: {e}"),
        )]
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(vec![FlowError::whole(&dir_name, "no *.toml flow files")]);
    }
    let (mut flows, mut errors) = (Vec::new(), Vec::new());
    for path in paths {
        match load_file(&path) {
            Ok(flow) => flows.push(flow),
            Err(mut problems) => errors.append(&mut problems),
        }
    }
    if errors.is_empty() {
        Ok(flows)
    } else {
        Err(errors)
    }
}

fn load_file(path: &Path) -> Result<Flow, Vec<FlowError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![FlowError::whole(&file, format!("cannot read: {e}"))])?;
    parse(&file, &text)
}

/// Parses one flow file's text; `file_name` is used in messages only.
pub fn parse(file_name: &str, text: &str) -> Result<Flow, Vec<FlowError>> {
    let raw: RawFile =
        toml::from_str(text).map_err(|error| vec![syntax_error(file_name, text, &error)])?;
    let mut builder = Builder {
        file: file_name,
        text,
        errors: Vec::new(),
    };
    let flow = builder.flow(raw);
    if builder.errors.is_empty() {
        Ok(flow)
    } else {
        builder.errors.sort_by_key(|error| error.line);
        Err(builder.errors)
    }
}

/// Whether `name` is a valid state name: `[a-z][a-z0-9_]*`, at most 64 characters.
pub fn is_state_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

fn syntax_error(file: &str, text: &str, error: &toml::de::Error) -> FlowError {
    let line = error.span().and_then(|span| line_of(text, span.start));
    let message = error.message().trim().to_owned();
    FlowError {
        file: file.to_owned(),
        line,
        message,
    }
}

fn line_of(text: &str, offset: usize) -> Option<usize> {
    text.get(..offset)
        .map(|before| before.matches('\n').count() + 1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    flow: RawHeader,
    #[serde(default)]
    global: Vec<Spanned<RawTransition>>,
    #[serde(default)]
    states: BTreeMap<String, Spanned<RawState>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    version: Spanned<u32>,
    entry: Spanned<String>,
    #[serde(default)]
    migrations: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    say: Spanned<String>,
    buttons: Option<Spanned<Vec<Spanned<RawButton>>>>,
    list: Option<Spanned<RawList>>,
    cta: Option<Spanned<RawCta>>,
    #[serde(default)]
    on: Vec<Spanned<RawTransition>>,
    timeout: Option<Spanned<RawTimeout>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawButton {
    id: String,
    label: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    label: Spanned<String>,
    options: Spanned<String>,
    page: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCta {
    label: Spanned<String>,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransition {
    button: Option<String>,
    choose: Option<Spanned<String>>,
    intent: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    event: Option<Spanned<String>>,
    when: Option<Spanned<String>>,
    #[serde(rename = "do", default)]
    actions: Vec<Spanned<String>>,
    set: Option<String>,
    goto: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeout {
    minutes: u32,
    #[serde(rename = "do", default)]
    actions: Vec<Spanned<String>>,
    goto: Option<Spanned<String>>,
}

/// Turns the raw file into the model, collecting problems instead of stopping at the first.
struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FlowError>,
}

impl Builder<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start).unwrap_or(1)
    }

    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(FlowError::at(self.file, line, message));
    }

    fn flow(&mut self, raw: RawFile) -> Flow {
        let header = raw.flow;
        let migrations = header
            .migrations
            .into_iter()
            .map(|(from, to)| Migration {
                from,
                to: self.state_ref(to),
            })
            .collect();
        let globals = raw
            .global
            .into_iter()
            .filter_map(|raw| self.transition(raw))
            .collect();
        let mut raw_states: Vec<_> = raw.states.into_iter().collect();
        raw_states.sort_by_key(|(_, raw)| raw.span().start);
        let states = raw_states
            .into_iter()
            .map(|(name, raw)| self.state(name, raw))
            .collect();
        let name = self.flow_name(header.name);
        Flow {
            file: self.file.to_owned(),
            name,
            version: *header.version.get_ref(),
            version_line: self.line(header.version.span()),
            entry: self.state_ref(header.entry),
            migrations,
            globals,
            states,
        }
    }

    fn flow_name(&mut self, name: Spanned<String>) -> String {
        let line = self.line(name.span());
        let name = name.into_inner();
        if !is_state_name(&name) {
            self.error(
                line,
                format!("flow name {name:?} must be lower-case letters, digits and '_'"),
            );
        }
        name
    }

    fn state_ref(&self, name: Spanned<String>) -> StateRef {
        StateRef {
            line: self.line(name.span()),
            name: name.into_inner(),
        }
    }

    fn template(&self, name: Spanned<String>) -> TemplateRef {
        TemplateRef {
            line: self.line(name.span()),
            name: name.into_inner(),
        }
    }

    fn state(&mut self, name: String, raw: Spanned<RawState>) -> State {
        let line = self.line(raw.span());
        if !is_state_name(&name) {
            self.error(
                line,
                format!(
                    "state name {name:?} must start with a lower-case letter and use only \
                     lower-case letters, digits and '_'"
                ),
            );
        }
        let raw = raw.into_inner();
        let ui = self.ui(line, raw.buttons, raw.list, raw.cta);
        let on = raw
            .on
            .into_iter()
            .filter_map(|raw| self.transition(raw))
            .collect();
        let timeout = raw.timeout.and_then(|raw| self.timeout(raw));
        State {
            name,
            line,
            say: self.template(raw.say),
            ui,
            on,
            timeout,
        }
    }

    fn ui(
        &mut self,
        line: usize,
        buttons: Option<Spanned<Vec<Spanned<RawButton>>>>,
        list: Option<Spanned<RawList>>,
        cta: Option<Spanned<RawCta>>,
    ) -> Ui {
        let kinds = [buttons.is_some(), list.is_some(), cta.is_some()];
        if kinds.iter().filter(|present| **present).count() > 1 {
            self.error(
                line,
                "a state has at most one of `buttons`, `list` and `cta`",
            );
        }
        if let Some(buttons) = buttons {
            return Ui::Buttons(
                buttons
                    .into_inner()
                    .into_iter()
                    .map(|b| self.button(b))
                    .collect(),
            );
        }
        if let Some(list) = list {
            return self.list(list).unwrap_or(Ui::Text);
        }
        match cta {
            Some(cta) => {
                let cta = cta.into_inner();
                Ui::Cta {
                    label: self.template(cta.label),
                    url_slot: cta.url,
                }
            }
            None => Ui::Text,
        }
    }

    fn button(&self, raw: Spanned<RawButton>) -> Button {
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        Button {
            id: raw.id,
            label: self.template(raw.label),
            line,
        }
    }

    fn list(&mut self, raw: Spanned<RawList>) -> Option<Ui> {
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        let options = self.known::<OptionSource>(raw.options, OptionSource::from_name)?;
        Some(Ui::List {
            label: self.template(raw.label),
            options,
            page: raw.page,
            line,
        })
    }

    fn timeout(&mut self, raw: Spanned<RawTimeout>) -> Option<Timeout> {
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        if raw.minutes == 0 {
            self.error(line, "timeout minutes must be greater than 0");
        }
        Some(Timeout {
            minutes: raw.minutes,
            actions: self.actions(raw.actions),
            goto: raw.goto.map(|goto| self.state_ref(goto)),
            line,
        })
    }

    fn transition(&mut self, raw: Spanned<RawTransition>) -> Option<Transition> {
        let line = self.line(raw.span());
        let raw = raw.into_inner();
        let when = match raw.when {
            Some(guard) => Some(self.known::<Guard>(guard, Guard::from_name)?),
            None => None,
        };
        let actions = self.actions(raw.actions);
        let goto = raw.goto.map(|goto| self.state_ref(goto));
        let trigger = self.trigger(
            line, raw.button, raw.choose, raw.intent, raw.text, raw.event,
        )?;
        Some(Transition {
            trigger,
            when,
            actions,
            set: raw.set,
            goto,
            line,
        })
    }

    fn trigger(
        &mut self,
        line: usize,
        button: Option<String>,
        choose: Option<Spanned<String>>,
        intent: Option<Spanned<String>>,
        text: Option<Spanned<String>>,
        event: Option<Spanned<String>>,
    ) -> Option<Trigger> {
        let count = [
            button.is_some(),
            choose.is_some(),
            intent.is_some(),
            text.is_some(),
            event.is_some(),
        ]
        .iter()
        .filter(|present| **present)
        .count();
        if count != 1 {
            self.error(
                line,
                format!(
                    "a transition needs exactly one trigger (button, choose, intent, text or \
                     event), found {count}"
                ),
            );
            return None;
        }
        if let Some(id) = button {
            return Some(Trigger::Button(id));
        }
        if let Some(source) = choose {
            return self
                .known(source, OptionSource::from_name)
                .map(Trigger::Choose);
        }
        if let Some(intent) = intent {
            return self.known(intent, Intent::from_name).map(Trigger::Intent);
        }
        if let Some(kind) = text {
            return self.known(kind, SlotKind::from_name).map(Trigger::Text);
        }
        event.and_then(|event| {
            self.known(event, SystemEvent::from_name)
                .map(Trigger::Event)
        })
    }

    fn actions(&mut self, raw: Vec<Spanned<String>>) -> Vec<Action> {
        raw.into_iter()
            .filter_map(|action| self.known(action, Action::from_name))
            .collect()
    }

    /// Looks a name up in a closed vocabulary, reporting an unknown one with the known names.
    fn known<T: Vocabulary>(
        &mut self,
        name: Spanned<String>,
        lookup: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let found = lookup(name.get_ref());
        if found.is_none() {
            let line = self.line(name.span());
            let known: Vec<_> = T::names().collect();
            self.error(
                line,
                format!(
                    "unknown {} {:?} (known: {})",
                    T::what(),
                    name.get_ref(),
                    known.join(", ")
                ),
            );
        }
        found
    }
}

/// What the loader needs to know about a vocabulary to report an unknown name.
trait Vocabulary: Copy + 'static {
    fn what() -> &'static str;
    fn names() -> impl Iterator<Item = &'static str>;
}

macro_rules! impl_vocabulary {
    ($($name:ident),+) => {
        $(impl Vocabulary for $name {
            fn what() -> &'static str {
                Self::WHAT
            }
            fn names() -> impl Iterator<Item = &'static str> {
                Self::ALL.iter().map(|item| item.as_str())
            }
        })+
    };
}

impl_vocabulary!(Intent, OptionSource, SlotKind, SystemEvent, Guard, Action);

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"[flow]
name = "small"
version = 2
entry = "start"

[flow.migrations]
old = "start"

[[global]]
intent = "menu"
goto = "start"

[states.start]
say = "hello"
buttons = [
  { id = "a", label = "label_a" },
  { id = "b", label = "label_b" },
]
on = [
  { button = "a", when = "deposit_required", do = ["hold", "confirm"], goto = "next" },
]

[states.next]
say = "next"
list = { label = "pick", options = "times", page = 5 }
on = [{ choose = "times", set = "slot", goto = "start" }]
timeout = { minutes = 3, do = ["release_hold"], goto = "start" }
"#;

    #[test]
    fn parses_every_part_with_its_line() {
        let flow = parse("flows/small.toml", SMALL).unwrap();
        assert_eq!((flow.name.as_str(), flow.version), ("small", 2));
        assert_eq!(flow.version_line, 3);
        assert_eq!(flow.entry.line, 4);
        assert_eq!(flow.migrations[0].from, "old");
        assert_eq!(flow.migrations[0].to.line, 7);
        assert_eq!(flow.globals[0].line, 9);
        assert_eq!(flow.globals[0].trigger, Trigger::Intent(Intent::Menu));
        let names: Vec<_> = flow.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["start", "next"]);
        let start = &flow.states[0];
        assert_eq!(start.line, 13);
        let Ui::Buttons(buttons) = &start.ui else {
            panic!("{:?}", start.ui)
        };
        assert_eq!((buttons[1].id.as_str(), buttons[1].line), ("b", 17));
        assert_eq!(start.on[0].line, 20);
        assert_eq!(start.on[0].when, Some(Guard::DepositRequired));
        assert_eq!(start.on[0].actions, [Action::Hold, Action::Confirm]);
        let next = &flow.states[1];
        assert_eq!(next.line, 23);
        assert!(matches!(
            next.ui,
            Ui::List {
                options: OptionSource::Times,
                page: Some(5),
                line: 25,
                ..
            }
        ));
        let timeout = next.timeout.as_ref().unwrap();
        assert_eq!((timeout.minutes, timeout.line), (3, 27));
    }

    #[test]
    fn unknown_names_are_errors_with_their_line() {
        let text = SMALL
            .replace("\"deposit_required\"", "\"rich\"")
            .replace("\"release_hold\"", "\"dance\"");
        let errors = parse("flows/small.toml", &text).unwrap_err();
        let shown: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown[0].starts_with("flows/small.toml:20: unknown guard \"rich\""));
        assert!(shown[1].starts_with("flows/small.toml:27: unknown action \"dance\""));
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let text = SMALL.replace("version = 2", "version = \"two\"");
        let errors = parse("f.toml", &text).unwrap_err();
        assert_eq!(errors[0].line, Some(3), "{errors:?}");
        assert!(errors[0].to_string().starts_with("f.toml:3: "));
    }

    #[test]
    fn a_transition_needs_exactly_one_trigger() {
        let text = SMALL.replace(
            "{ choose = \"times\",",
            "{ choose = \"times\", intent = \"yes\",",
        );
        let errors = parse("f.toml", &text).unwrap_err();
        assert_eq!(errors[0].line, Some(26));
        assert!(errors[0].message.contains("exactly one trigger"));
    }
}
