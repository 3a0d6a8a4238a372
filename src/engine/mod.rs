//! The conversation engine.
//!
//! Flows: the vocabulary, typed model and loader of a flow file ([`flow`]), the checker behind
//! `salonbot flows check` ([`check`]), the accepted-states lock ([`lock`]) and the Mermaid diagram
//! ([`graph`]); the format is specified in `docs/flows.md`. Running them: the pure [`step`] over a
//! conversation's [`state`], an [`input`] and a [`view`] of the world, deciding replies and
//! [`effect`]s; the customer's words read by [`understand`] (normalising, intents, language, picking
//! a row, what a message asks for), written back through the message [`templates`] (loaded at
//! start-up, like the flow), [`locale`] formats and [`answers`] from the catalog (prices, hours,
//! deposits).
//!
//! The engine does no I/O beyond reading flow and template files when asked to load them, and
//! imports no storage, provider, inbox or async code (`tests/api/boundaries.rs` checks): the worker
//! turns inbox events into its [`input::Input`], and the channel's limits reach the checker as data
//! ([`check::UiLimits`]).

pub mod answers;
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

pub use check::{TemplateSource, UiLimits, check, check_dir, check_dirs};
pub use flow::{Flow, FlowError, load_dir, parse};
pub use graph::mermaid;
pub use step::step;
pub use templates::Templates;

/// The name of the flow conversations run when `FLOWS_DIR` holds several.
pub const CONVERSATION_FLOW: &str = "booking";

/// The flow conversations run, with the message templates it was checked against.
#[derive(Debug, Clone)]
pub struct ConversationFlow {
    pub flow: Flow,
    pub templates: Templates,
}

/// Loads and checks the message templates in `templates_dir` and the flows in `flows_dir` against
/// them and the channel's `limits` (the checks of `salonbot flows check`), and returns the flow
/// conversations run, the one named [`CONVERSATION_FLOW`] or the only one, with the templates.
pub fn load_conversation_flow(
    flows_dir: &std::path::Path,
    templates_dir: &std::path::Path,
    limits: &UiLimits,
) -> anyhow::Result<ConversationFlow> {
    let (mut flows, templates) =
        check_dirs(flows_dir, templates_dir, limits).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "invalid flows in FLOWS_DIR ({}) or templates in TEMPLATES_DIR ({}):\n{}",
                flows_dir.display(),
                templates_dir.display(),
                lines.join("\n")
            )
        })?;
    let position = match flows.iter().position(|f| f.name == CONVERSATION_FLOW) {
        Some(i) => i,
        None if flows.len() == 1 => 0,
        None => anyhow::bail!(
            "FLOWS_DIR ({}) holds several flows and none is named {CONVERSATION_FLOW:?}",
            flows_dir.display()
        ),
    };
    Ok(ConversationFlow {
        flow: flows.swap_remove(position),
        templates,
    })
}
