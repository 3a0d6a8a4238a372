//! The Mermaid diagram of a flow (`salonbot flows check --graph`): a `stateDiagram-v2` with one edge
//! per transition, labelled by its trigger and guard (`:` written as the entity `#58;`), timeouts as
//! `timeout Nm`, and the globals drawn from a dashed pseudo-state `ANY` (state names are lower-case,
//! so it cannot clash with one).

use std::fmt::Write;

use super::flow::{Flow, Transition};

/// The id of the pseudo-state the global transitions leave from.
const ANY: &str = "ANY";

/// The flow as a Mermaid `stateDiagram-v2`.
pub fn mermaid(flow: &Flow) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    let _ = writeln!(out, "    [*] --> {}", flow.entry.name);
    for state in &flow.states {
        for transition in &state.on {
            edge(&mut out, &state.name, transition);
        }
        if let Some(timeout) = &state.timeout {
            let target = timeout.goto.as_ref().map_or(&state.name, |goto| &goto.name);
            let label = format!("timeout {}m", timeout.minutes);
            let _ = writeln!(out, "    {} --> {target} : {}", state.name, escape(&label));
        }
    }
    if !flow.globals.is_empty() {
        let _ = writeln!(out, "    state \"any state\" as {ANY}");
        for transition in &flow.globals {
            edge(&mut out, ANY, transition);
        }
        let _ = writeln!(out, "    classDef global stroke-dasharray: 5 5");
        let _ = writeln!(out, "    class {ANY} global");
    }
    out
}

fn edge(out: &mut String, from: &str, transition: &Transition) {
    let target = transition.goto.as_ref().map_or(from, |goto| &goto.name);
    let mut label = transition.trigger.to_string();
    if let Some(guard) = transition.when {
        let _ = write!(label, " if {guard}");
    }
    let _ = writeln!(out, "    {from} --> {target} : {}", escape(&label));
}

/// Keeps a label on one line and free of characters Mermaid gives a meaning to, as entity codes
/// (which Mermaid renders as the character): a transition label ends at `:` or `;`, so
/// `button:book` is written `button#58;book`.
fn escape(label: &str) -> String {
    label
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || " _.-".contains(c) => c.to_string(),
            c => format!("#{};", u32::from(c)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::flow::parse;

    #[test]
    fn draws_entry_transitions_timeouts_and_globals() {
        let flow = parse(
            "t.toml",
            r#"[flow]
name = "t"
version = 1
entry = "start"

[[global]]
intent = "menu"
goto = "start"

[states.start]
say = "s"
buttons = [{ id = "book", label = "b" }]
on = [
  { button = "book", when = "deposit_required", goto = "pay" },
  { intent = "help" },
]

[states.pay]
say = "p"
on = [{ event = "payment.succeeded", goto = "start" }]
timeout = { minutes = 10, do = ["release_hold"], goto = "start" }
"#,
        )
        .unwrap();
        let graph = mermaid(&flow);
        let lines: Vec<_> = graph.lines().map(str::trim).collect();
        assert_eq!(lines[0], "stateDiagram-v2");
        for expected in [
            "[*] --> start",
            "start --> pay : button#58;book if deposit_required",
            "start --> start : intent#58;help",
            "pay --> start : event#58;payment.succeeded",
            "pay --> start : timeout 10m",
            "ANY --> start : intent#58;menu",
            "class ANY global",
        ] {
            assert!(lines.contains(&expected), "{expected} not in\n{graph}");
        }
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape("a;b\n#"), "a#59;b#10;#35;");
        assert_eq!(escape("event:payment.failed"), "event#58;payment.failed");
    }
}
