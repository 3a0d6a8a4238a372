//! The typed model of a flow, as the loader builds it and the checker and the step read it: a
//! [`Flow`] of [`State`]s, each saying a template with a [`Ui`], answering [`Transition`]s, and
//! perhaps a [`Timeout`]. Names from the vocabularies are enums by now; references (gotos,
//! templates) keep their line for the checker's messages.

use std::fmt;

use super::error::FlowError;
use super::vocabulary::{Action, Guard, Intent, OptionSource, SlotKind, SystemEvent};

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
    /// `[[ahead]]`: how free text carrying slots moves a conversation ahead.
    pub ahead: Vec<Ahead>,
}

/// `[[ahead]]`: states that each ask for one slot with a list (`steps`, in order). Free text that
/// names what they ask for ("quiero cortarme el pelo mañana a las 5") fills those slots and skips
/// them, taking each one's `choose` transition as if its row had been tapped, and stops at the
/// first still open. From a state of `steps` or `keep_from` the slots chosen so far are kept (a
/// change of mind: "mejor el jueves" changes the day and keeps the rest); from any other state the
/// first `[[ahead]]` starts afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ahead {
    /// The states asking for one slot each, in order.
    pub steps: Vec<StateRef>,
    /// States after the steps where the same booking is still under way.
    pub keep_from: Vec<StateRef>,
    /// Where it is declared.
    pub line: usize,
}

impl Ahead {
    /// Whether this entry applies in `state` (it is one of its steps or keeps from it).
    pub fn covers(&self, state: &str) -> bool {
        self.steps
            .iter()
            .chain(&self.keep_from)
            .any(|s| s.name == state)
    }
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
    /// A template said before moving on (an answer: "our prices are ..."); without a `goto` the
    /// state's question is asked again after it, when the state asks one.
    pub say: Option<TemplateRef>,
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
