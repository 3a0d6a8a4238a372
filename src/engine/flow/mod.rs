//! Flow files as data: the typed model of a flow file and its loader: TOML in, [`Flow`] out, or
//! every problem found with its `file:line`. Names from the closed vocabularies (intents, option
//! sources, slot kinds, events, guards, actions) are turned into enums while loading, so an unknown
//! name never gets past it. Cross-references (gotos, templates, limits) are the checker's business
//! ([`super::check`]).
//!
//! Each part lives in a submodule, and everything public is re-exported here:
//! - `vocabulary`: the closed sets of names a flow file may use ([`Intent`], [`OptionSource`],
//!   [`SlotKind`], [`SystemEvent`], [`Guard`], [`Action`]) and the [`PAGING_ROWS`];
//! - `model`: the typed flow ([`Flow`], [`State`], [`Ui`], [`Transition`], [`Trigger`], [`Ahead`]
//!   ...);
//! - `error`: [`FlowError`], a problem with its `file:line`;
//! - `raw`: the file's shape, as TOML deserialises it;
//! - `loader`: from files to the model ([`load_dir`], [`parse`], [`is_state_name`]).

mod error;
mod loader;
mod model;
mod raw;
mod vocabulary;

pub use error::FlowError;
pub use loader::{is_state_name, load_dir, parse};
pub use model::{
    Ahead, Button, Flow, Migration, State, StateRef, TemplateRef, Timeout, Transition, Trigger, Ui,
};
pub use vocabulary::{
    Action, Guard, Intent, OptionSource, PAGING_DAY_ROWS, PAGING_ROWS, SlotKind, SystemEvent,
    paging_rows,
};
