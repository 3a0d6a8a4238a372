//! The conversation engine's flows: the typed model of a flow file and its loader ([`flow`]), the
//! checker behind `salonbot flows check` ([`check`]), the accepted-states lock ([`lock`]) and the
//! Mermaid diagram ([`graph`]). The flow file format is specified in `docs/flows.md`.

pub mod check;
pub mod flow;
pub mod graph;
pub mod lock;

pub use check::{TemplateDir, TemplateSource, check, check_dir};
pub use flow::{Flow, FlowError, load_dir, parse};
pub use graph::mermaid;
