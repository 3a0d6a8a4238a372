//! The conversation engine.
//!
//! Flows: the vocabulary, typed model and loader of a flow file ([`flow`]), the checker behind
//! `salonbot flows check` ([`check`]), the accepted-states lock ([`lock`]) and the Mermaid diagram
//! ([`graph`]); the format is specified in `docs/flows.md`. Running them: the pure [`step`] over a
//! conversation's [`state`], an [`input`] and a [`view`] of the world, deciding replies and
//! [`effect`]s; the customer's words read by [`understand`] (normalising, intents, language, picking
//! a row), written back through the compiled message [`templates`] and [`locale`] formats.
//!
//! The engine does no I/O beyond reading flow and template files when asked to load them, and
//! imports no storage, provider, inbox or async code (`tests/api/boundaries.rs` checks): the worker
//! turns inbox events into its [`input::Input`], and the channel's limits reach the checker as data
//! ([`check::UiLimits`]).

#[cfg(test)]
mod booking_flow_tests;
pub mod check;
pub mod effect;
pub mod flow;
pub mod graph;
pub mod input;
pub mod locale;
pub mod lock;
pub mod state;
pub mod step;
pub mod templates;
pub mod understand;
pub mod view;

pub use check::{TemplateDir, TemplateSource, UiLimits, check, check_dir};
pub use flow::{Flow, FlowError, load_dir, parse};
pub use graph::mermaid;
pub use step::step;

/// The name of the flow conversations run when `FLOWS_DIR` holds several.
pub const CONVERSATION_FLOW: &str = "booking";

/// Loads and checks the flows in `dir` against the channel's `limits` (the checks of `salonbot flows
/// check`, and every template compiled into this binary), and returns the one conversations run: the
/// flow named [`CONVERSATION_FLOW`], or the only one.
pub fn load_conversation_flow(dir: &std::path::Path, limits: &UiLimits) -> anyhow::Result<Flow> {
    let shown = |errors: &[FlowError]| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "invalid flows in FLOWS_DIR ({}):\n{}",
            dir.display(),
            lines.join("\n")
        )
    };
    let mut flows = check_dir(dir, &TemplateDir::next_to(dir), limits).map_err(|e| shown(&e))?;
    let compiled: Vec<FlowError> = flows
        .iter()
        .flat_map(|flow| check(flow, &templates::Compiled, limits))
        .collect();
    if !compiled.is_empty() {
        return Err(shown(&compiled));
    }
    let position = match flows.iter().position(|f| f.name == CONVERSATION_FLOW) {
        Some(i) => i,
        None if flows.len() == 1 => 0,
        None => anyhow::bail!(
            "FLOWS_DIR ({}) holds several flows and none is named {CONVERSATION_FLOW:?}",
            dir.display()
        ),
    };
    Ok(flows.swap_remove(position))
}
