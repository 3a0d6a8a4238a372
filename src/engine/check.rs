//! The flow checker behind `salonbot flows check`: every rule of "What `flows check` refuses" in
//! `docs/flows.md` that needs more than one element to judge (state references, reachability, dead
//! ends, templates in every language, WhatsApp's limits, triggers against the state's interface).
//! Unknown vocabulary is refused earlier, by the loader ([`super::flow`]); the version/lock rule lives
//! in [`super::lock`], and [`check_dir`] runs all of them over a directory; [`check_dirs`] loads the
//! message templates first and checks the flows against them.
//!
//! The channel's limits (how many buttons, how long a label) are data the caller passes in
//! ([`UiLimits`]; WhatsApp's are `whatsapp::messages::limits::UI_LIMITS`), so the engine names no
//! provider.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;

use super::flow::{
    Flow, FlowError, OptionSource, PAGING_ROWS, State, TemplateRef, Transition, Trigger, Ui,
    paging_rows,
};
use super::lock;
use super::templates::{self, Templates};

/// The languages every template must exist in.
pub const LANGUAGES: [&str; 3] = ["es", "en", "pt"];

/// What the messaging channel allows in a state's interactive part, as the checker enforces it:
/// counts, and lengths in characters (Unicode scalar values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiLimits {
    /// Reply buttons in one message.
    pub reply_buttons: usize,
    /// A reply button's title.
    pub button_title: usize,
    /// A reply button's id.
    pub button_id: usize,
    /// The label of the button that opens a list.
    pub list_button_label: usize,
    /// A list row's title.
    pub row_title: usize,
    /// Rows across all sections of one list (the largest page).
    pub list_rows_total: usize,
    /// The label of a call-to-action URL button.
    pub cta_display_text: usize,
}

/// Where templates come from.
pub trait TemplateSource {
    /// Whether template `name` exists in `language`.
    fn has(&self, name: &str, language: &str) -> bool;

    /// The template's text, when the source can tell (used to check static labels' lengths).
    fn text(&self, _name: &str, _language: &str) -> Option<String> {
        None
    }
}

/// Loads the message templates in `templates_dir` ([`templates::load`]) and every flow in
/// `flows_dir`, and checks the flows against those templates and the channel's `limits`: the checks
/// of `salonbot flows check` and of start-up. Returns the flows and the templates when nothing is
/// wrong, else every problem of both (the flows are checked even when some templates are broken,
/// against those that could be read, so that one run shows everything to fix).
pub fn check_dirs(
    flows_dir: &Path,
    templates_dir: &Path,
    limits: &UiLimits,
) -> Result<(Vec<Flow>, Templates), Vec<FlowError>> {
    let (templates, mut errors) = templates::load(templates_dir);
    match check_dir(flows_dir, &templates, limits) {
        Ok(flows) if errors.is_empty() => Ok((flows, templates)),
        Ok(_) => Err(errors),
        Err(problems) => {
            errors.extend(problems);
            Err(errors)
        }
    }
}

/// Loads every flow in `dir` and checks each against `templates`, the channel's `limits` and its
/// lock file (`<dir>/<name>.lock`, if any). Returns the flows when nothing is wrong, else every problem.
pub fn check_dir(
    dir: &Path,
    templates: &dyn TemplateSource,
    limits: &UiLimits,
) -> Result<Vec<Flow>, Vec<FlowError>> {
    let flows = super::flow::load_dir(dir)?;
    let mut errors = duplicate_names(&flows);
    for flow in &flows {
        errors.extend(check(flow, templates, limits));
        match lock::read(&lock::path_for(dir, &flow.name)) {
            Ok(Some(accepted)) => errors.extend(lock::check(flow, &accepted)),
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(flows)
    } else {
        Err(errors)
    }
}

fn duplicate_names(flows: &[Flow]) -> Vec<FlowError> {
    let mut seen = HashSet::new();
    flows
        .iter()
        .filter(|flow| !seen.insert(flow.name.as_str()))
        .map(|flow| FlowError::whole(&flow.file, format!("another file is flow {:?}", flow.name)))
        .collect()
}

/// Every problem of one flow, in line order (empty when it is valid).
pub fn check(flow: &Flow, templates: &dyn TemplateSource, limits: &UiLimits) -> Vec<FlowError> {
    let mut errors = Vec::new();
    errors.extend(missing_states(flow));
    errors.extend(unreachable_states(flow));
    errors.extend(dead_ends(flow));
    errors.extend(missing_templates(flow, templates));
    errors.extend(limit_violations(flow, templates, limits));
    errors.extend(trigger_mismatches(flow));
    errors.extend(ahead_problems(flow));
    errors.sort_by_key(|error| error.line);
    errors
}

/// Every transition of the flow: globals, then each state's own and its timeout's target.
fn gotos(flow: &Flow) -> impl Iterator<Item = &super::flow::StateRef> {
    let own = flow.states.iter().flat_map(state_gotos);
    flow.globals
        .iter()
        .filter_map(|t| t.goto.as_ref())
        .chain(own)
}

fn state_gotos(state: &State) -> impl Iterator<Item = &super::flow::StateRef> {
    let timeout = state.timeout.as_ref().and_then(|t| t.goto.as_ref());
    state
        .on
        .iter()
        .filter_map(|t| t.goto.as_ref())
        .chain(timeout)
}

/// `entry`, `goto`s and migration targets naming states that do not exist.
fn missing_states(flow: &Flow) -> Vec<FlowError> {
    let ahead = flow
        .ahead
        .iter()
        .flat_map(|a| a.steps.iter().chain(&a.keep_from));
    let targets = std::iter::once(&flow.entry)
        .chain(flow.migrations.iter().map(|m| &m.to))
        .chain(gotos(flow))
        .chain(ahead);
    targets
        .filter(|target| flow.state(&target.name).is_none())
        .map(|target| flow.error(target.line, format!("no state {:?}", target.name)))
        .collect()
}

/// States no path of `goto`s (globals included) leads to from `entry`.
fn unreachable_states(flow: &Flow) -> Vec<FlowError> {
    let Some(entry) = flow.state(&flow.entry.name) else {
        return Vec::new();
    };
    let mut reached: HashSet<&str> = HashSet::from([entry.name.as_str()]);
    reached.extend(
        flow.globals
            .iter()
            .filter_map(|t| Some(t.goto.as_ref()?.name.as_str())),
    );
    let mut queue: VecDeque<&str> = reached.iter().copied().collect();
    while let Some(name) = queue.pop_front() {
        let Some(state) = flow.state(name) else {
            continue;
        };
        for target in state_gotos(state) {
            if reached.insert(target.name.as_str()) {
                queue.push_back(target.name.as_str());
            }
        }
    }
    flow.states
        .iter()
        .filter(|state| !reached.contains(state.name.as_str()))
        .map(|state| {
            let message = format!(
                "state {:?} cannot be reached from entry {:?}",
                state.name, flow.entry.name
            );
            flow.error(state.line, message)
        })
        .collect()
}

/// States with no `goto` to another state: not in their transitions, timeout, or the globals.
fn dead_ends(flow: &Flow) -> Vec<FlowError> {
    flow.states
        .iter()
        .filter(|state| {
            let leaves = |target: &super::flow::StateRef| target.name != state.name;
            let global = flow.globals.iter().filter_map(|t| t.goto.as_ref());
            !state_gotos(state).chain(global).any(leaves)
        })
        .map(|state| {
            let message = format!(
                "state {:?} is a dead end: no transition, timeout or global leads to another state",
                state.name
            );
            flow.error(state.line, message)
        })
        .collect()
}

/// Every template a state names: what it says, and its static labels.
fn state_templates(state: &State) -> Vec<&TemplateRef> {
    let mut names = vec![&state.say];
    match &state.ui {
        Ui::Text => {}
        Ui::Buttons(buttons) => names.extend(buttons.iter().map(|b| &b.label)),
        Ui::List { label, .. } | Ui::Cta { label, .. } => names.push(label),
    }
    names
}

/// Templates of paging rows a state's list needs, with the line of the list.
fn paging_templates(state: &State) -> Vec<TemplateRef> {
    match &state.ui {
        Ui::List {
            page: Some(_),
            line,
            options,
            ..
        } => paging_rows(*options)
            .iter()
            .map(|(_, name)| TemplateRef {
                name: (*name).to_owned(),
                line: *line,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Template names that are not plain names, or that miss a language.
fn missing_templates(flow: &Flow, templates: &dyn TemplateSource) -> Vec<FlowError> {
    let mut errors = Vec::new();
    for state in &flow.states {
        let paging = paging_templates(state);
        for template in state_templates(state).into_iter().chain(&paging) {
            errors.extend(template_problem(flow, template, templates));
        }
    }
    let answers = flow
        .globals
        .iter()
        .chain(flow.states.iter().flat_map(|s| &s.on))
        .filter_map(|t| t.say.as_ref());
    for template in answers {
        errors.extend(template_problem(flow, template, templates));
    }
    errors
}

fn template_problem(
    flow: &Flow,
    template: &TemplateRef,
    templates: &dyn TemplateSource,
) -> Option<FlowError> {
    if !super::flow::is_state_name(&template.name) {
        let message = format!(
            "template name {:?} must be lower-case letters, digits and '_'",
            template.name
        );
        return Some(flow.error(template.line, message));
    }
    let missing: Vec<_> = LANGUAGES
        .iter()
        .filter(|language| !templates.has(&template.name, language))
        .map(|language| format!("{language}/{}.txt", template.name))
        .collect();
    (!missing.is_empty()).then(|| {
        let message = format!(
            "template {:?} is missing: {}",
            template.name,
            missing.join(", ")
        );
        flow.error(template.line, message)
    })
}

/// The channel's limits: button count, ids and labels; list labels and page size; the CTA label.
fn limit_violations(
    flow: &Flow,
    templates: &dyn TemplateSource,
    limits: &UiLimits,
) -> Vec<FlowError> {
    let mut errors = Vec::new();
    for state in &flow.states {
        match &state.ui {
            Ui::Text => {}
            Ui::Buttons(buttons) => {
                errors.extend(button_problems(flow, state, templates, limits, buttons))
            }
            Ui::List {
                label, page, line, ..
            } => {
                errors.extend(label_too_long(
                    flow,
                    templates,
                    label,
                    limits.list_button_label,
                ));
                errors.extend(page_problem(flow, limits, *page, *line));
                for row in paging_templates(state) {
                    errors.extend(label_too_long(flow, templates, &row, limits.row_title));
                }
            }
            Ui::Cta { label, .. } => {
                errors.extend(label_too_long(
                    flow,
                    templates,
                    label,
                    limits.cta_display_text,
                ));
            }
        }
    }
    errors
}

fn button_problems(
    flow: &Flow,
    state: &State,
    templates: &dyn TemplateSource,
    limits: &UiLimits,
    buttons: &[super::flow::Button],
) -> Vec<FlowError> {
    let mut errors = Vec::new();
    if buttons.is_empty() {
        errors.push(flow.error(state.line, "`buttons` needs at least one button"));
    }
    if let Some(extra) = buttons.get(limits.reply_buttons) {
        let message = format!(
            "{} buttons: WhatsApp allows at most {}",
            buttons.len(),
            limits.reply_buttons
        );
        errors.push(flow.error(extra.line, message));
    }
    let mut seen = HashSet::new();
    for button in buttons {
        if !seen.insert(button.id.as_str()) {
            errors.push(flow.error(button.line, format!("button id {:?} repeated", button.id)));
        }
        let length = button.id.chars().count();
        if length == 0 || length > limits.button_id {
            let message = format!("button id must be 1 to {} characters", limits.button_id);
            errors.push(flow.error(button.line, message));
        }
        errors.extend(label_too_long(
            flow,
            templates,
            &button.label,
            limits.button_title,
        ));
    }
    errors
}

/// A static label whose text (trimmed) is longer than `limit` in some language.
fn label_too_long(
    flow: &Flow,
    templates: &dyn TemplateSource,
    label: &TemplateRef,
    limit: usize,
) -> Vec<FlowError> {
    LANGUAGES
        .iter()
        .filter_map(|language| {
            let text = templates.text(&label.name, language)?;
            let length = text.trim().chars().count();
            (length > limit).then(|| {
                let message = format!(
                    "label {:?} is {length} characters in {language} ({:?}): WhatsApp allows at \
                     most {limit}",
                    label.name,
                    text.trim()
                );
                flow.error(label.line, message)
            })
        })
        .collect()
}

fn page_problem(
    flow: &Flow,
    limits: &UiLimits,
    page: Option<u32>,
    line: usize,
) -> Option<FlowError> {
    let page = page?;
    let most = limits.list_rows_total;
    (page == 0 || page as usize > most)
        .then(|| flow.error(line, format!("list page {page}: must be 1 to {most} rows")))
}

/// `button` triggers naming a button the state lacks, `choose` without a list of that source, and
/// either in a global (which applies to states with different buttons and lists).
fn trigger_mismatches(flow: &Flow) -> Vec<FlowError> {
    let globals = flow
        .globals
        .iter()
        .filter(|transition| matches!(transition.trigger, Trigger::Button(_) | Trigger::Choose(_)))
        .map(|transition| {
            let message = format!(
                "a global cannot use {}: buttons and lists belong to states",
                transition.trigger
            );
            flow.error(transition.line, message)
        });
    let own = flow.states.iter().flat_map(|state| {
        state
            .on
            .iter()
            .filter_map(move |transition| trigger_mismatch(flow, state, transition))
    });
    globals.chain(own).collect()
}

fn trigger_mismatch(flow: &Flow, state: &State, transition: &Transition) -> Option<FlowError> {
    let message = match (&transition.trigger, &state.ui) {
        (Trigger::Button(id), ui) if !button_ids(ui).contains(id.as_str()) => {
            let known: Vec<_> = button_ids(ui).into_iter().collect();
            format!(
                "state {:?} has no button {id:?} (its buttons: {})",
                state.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        }
        (Trigger::Choose(source), Ui::List { options, .. }) if source == options => return None,
        (Trigger::Choose(source), _) => {
            format!("state {:?} has no list of {source}", state.name)
        }
        _ => return None,
    };
    Some(flow.error(transition.line, message))
}

/// `[[ahead]]` entries the engine could not follow: a step without a list of services, staff,
/// days or times, or without a `choose` transition for it (it could not be skipped); a state in
/// two entries, or twice in one.
fn ahead_problems(flow: &Flow) -> Vec<FlowError> {
    let mut errors = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for ahead in &flow.ahead {
        if ahead.steps.is_empty() {
            errors.push(flow.error(ahead.line, "`[[ahead]]` needs at least one step"));
        }
        for named in ahead.steps.iter().chain(&ahead.keep_from) {
            if !seen.insert(named.name.as_str()) {
                let message = format!("state {:?} is named twice in `[[ahead]]`", named.name);
                errors.push(flow.error(named.line, message));
            }
        }
        for step in &ahead.steps {
            let Some(state) = flow.state(&step.name) else {
                continue;
            };
            let source = match &state.ui {
                Ui::List { options, .. } if *options != OptionSource::Appointments => *options,
                _ => {
                    let message = format!(
                        "`[[ahead]]` step {:?} must show a list of services, staff, days or times",
                        step.name
                    );
                    errors.push(flow.error(step.line, message));
                    continue;
                }
            };
            let chosen = state
                .on
                .iter()
                .any(|t| t.trigger == Trigger::Choose(source) && t.goto.is_some());
            if !chosen {
                let message = format!(
                    "`[[ahead]]` step {:?} needs a `choose = \"{source}\"` transition with a goto",
                    step.name
                );
                errors.push(flow.error(step.line, message));
            }
        }
    }
    errors
}

/// The ids a state's customer can tap: its buttons, or the paging rows of a paged list.
fn button_ids(ui: &Ui) -> BTreeSet<&str> {
    match ui {
        Ui::Buttons(buttons) => buttons.iter().map(|b| b.id.as_str()).collect(),
        Ui::List { page: Some(_), .. } => PAGING_ROWS.iter().map(|(id, _)| *id).collect(),
        _ => BTreeSet::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::engine::flow::parse;

    /// WhatsApp's limits (`whatsapp::messages::limits::UI_LIMITS`, which the engine may not name),
    /// the numbers the assertions below speak of.
    const LIMITS: UiLimits = UiLimits {
        reply_buttons: 3,
        button_title: 20,
        button_id: 256,
        list_button_label: 20,
        row_title: 24,
        list_rows_total: 10,
        cta_display_text: 20,
    };

    /// Templates in memory: every name exists in every language unless listed as missing.
    #[derive(Default)]
    struct Fake {
        missing: Vec<(&'static str, &'static str)>,
        texts: HashMap<&'static str, &'static str>,
    }

    impl TemplateSource for Fake {
        fn has(&self, name: &str, language: &str) -> bool {
            !self.missing.contains(&(name, language))
        }
        fn text(&self, name: &str, _language: &str) -> Option<String> {
            self.texts.get(name).map(|text| (*text).to_owned())
        }
    }

    const VALID: &str = r#"[flow]
name = "t"
version = 1
entry = "start"

[[global]]
intent = "menu"
goto = "start"

[states.start]
say = "hello"
buttons = [
  { id = "go", label = "go" },
]
on = [
  { button = "go", goto = "pick" },
]

[states.pick]
say = "pick"
list = { label = "list_times", options = "times", page = 10 }
on = [
  { button = "earlier", do = ["page_earlier"] },
  { choose = "times", set = "slot", goto = "start" },
]
"#;

    fn problems_with(text: &str, templates: &Fake) -> Vec<FlowError> {
        match parse("flows/t.toml", text) {
            Ok(flow) => check(&flow, templates, &LIMITS),
            Err(errors) => errors,
        }
    }

    fn problems(text: &str) -> Vec<FlowError> {
        problems_with(text, &Fake::default())
    }

    /// Asserts exactly one problem, at `line`, whose message contains `words`.
    fn assert_one(errors: &[FlowError], line: usize, words: &str) {
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].line, Some(line), "{errors:#?}");
        assert!(errors[0].message.contains(words), "{errors:#?}");
        let prefix = format!("flows/t.toml:{line}: ");
        assert!(errors[0].to_string().starts_with(&prefix), "{}", errors[0]);
    }

    #[test]
    fn the_valid_flow_passes() {
        assert_eq!(problems(VALID), []);
    }

    #[test]
    fn ahead_steps_must_exist_show_a_list_and_be_chosen() {
        let ok = format!("{VALID}\n[[ahead]]\nsteps = [\"pick\"]\n");
        assert_eq!(problems(&ok), []);

        let missing = format!("{VALID}\n[[ahead]]\nsteps = [\"pik\"]\n");
        assert_one(&problems(&missing), 28, "no state \"pik\"");

        let no_list = format!("{VALID}\n[[ahead]]\nsteps = [\"start\"]\n");
        assert_one(&problems(&no_list), 28, "must show a list");

        let unchosen = ok.replace(
            "  { choose = \"times\", set = \"slot\", goto = \"start\" },\n",
            "",
        );
        let errors = problems(&unchosen);
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("needs a `choose = \"times\"`")),
            "{errors:#?}"
        );

        let twice = format!("{VALID}\n[[ahead]]\nsteps = [\"pick\"]\nkeep_from = [\"pick\"]\n");
        assert_one(&problems(&twice), 29, "named twice");
    }

    #[test]
    fn an_answer_said_by_a_transition_needs_its_template() {
        let text = VALID.replace(
            "intent = \"menu\"\ngoto = \"start\"",
            "intent = \"prices\"\nsay = \"Prices!\"",
        );
        let errors = problems(&text);
        assert_one(&errors, 8, "template name \"Prices!\"");
    }

    #[test]
    fn a_goto_to_a_missing_state() {
        let text = VALID.replace("goto = \"pick\"", "goto = \"pik\"");
        let errors = problems(&text);
        // `pick` is then unreachable too.
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(errors[0].line, Some(16));
        assert!(errors[0].message.contains("no state \"pik\""));
        assert_eq!(errors[1].line, Some(19));
    }

    #[test]
    fn a_missing_entry_or_migration_target() {
        let text = VALID
            .replace("entry = \"start\"", "entry = \"begin\"")
            .replace(
                "[[global]]",
                "[flow.migrations]\nold = \"gone\"\n\n[[global]]",
            );
        let errors = problems(&text);
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(4), Some(7)], "{errors:#?}");
        assert!(errors.iter().all(|e| e.message.starts_with("no state")));
    }

    #[test]
    fn an_unreachable_state() {
        let text = format!(
            "{VALID}\n[states.lost]\nsay = \"lost\"\non = [{{ intent = \"yes\", goto = \"start\" }}]\n"
        );
        assert_one(&problems(&text), 27, "cannot be reached");
    }

    #[test]
    fn a_state_reached_only_through_a_global_is_reachable() {
        let text = format!(
            "{VALID}\n[[global]]\nintent = \"help\"\ngoto = \"help\"\n\n[states.help]\nsay = \"help\"\n"
        );
        assert_eq!(problems(&text), []);
    }

    #[test]
    fn a_dead_end() {
        let text = VALID
            .replace("[[global]]\nintent = \"menu\"\ngoto = \"start\"\n", "")
            .replace("goto = \"start\" }", "goto = \"pick\" }");
        assert_one(&problems(&text), 16, "dead end");
    }

    #[test]
    fn a_template_missing_in_a_language() {
        let templates = Fake {
            missing: vec![("list_times", "pt")],
            ..Fake::default()
        };
        let errors = problems_with(VALID, &templates);
        assert_one(
            &errors,
            21,
            "template \"list_times\" is missing: pt/list_times.txt",
        );
    }

    #[test]
    fn a_paged_list_needs_its_paging_row_templates() {
        let templates = Fake {
            missing: vec![("row_later", "es")],
            ..Fake::default()
        };
        assert_one(&problems_with(VALID, &templates), 21, "row_later");
    }

    #[test]
    fn more_than_three_buttons() {
        let text = VALID.replace(
            "  { id = \"go\", label = \"go\" },\n",
            "  { id = \"go\", label = \"go\" },\n  { id = \"b\", label = \"b\" },\n  { id = \"c\", label = \"c\" },\n  { id = \"d\", label = \"d\" },\n",
        );
        assert_one(&problems(&text), 16, "at most 3");
    }

    #[test]
    fn a_repeated_button_id() {
        let text = VALID.replace(
            "  { id = \"go\", label = \"go\" },\n",
            "  { id = \"go\", label = \"go\" },\n  { id = \"go\", label = \"again\" },\n",
        );
        assert_one(&problems(&text), 14, "repeated");
    }

    #[test]
    fn a_label_longer_than_whatsapp_allows() {
        let templates = Fake {
            texts: HashMap::from([("go", "  Reservar una cita ahora mismo \n")]),
            ..Fake::default()
        };
        let errors = problems_with(VALID, &templates);
        // The fake gives every language the same text: one error per language.
        assert_eq!(errors.len(), LANGUAGES.len(), "{errors:#?}");
        for (error, language) in errors.iter().zip(LANGUAGES) {
            assert_eq!(error.line, Some(13));
            let words = format!("label \"go\" is 29 characters in {language}");
            assert!(error.message.contains(&words), "{error}");
            assert!(error.message.contains("at most 20"), "{error}");
        }
        let short = Fake {
            texts: HashMap::from([("go", "Reservar cita\n")]),
            ..Fake::default()
        };
        assert_eq!(problems_with(VALID, &short), []);
    }

    #[test]
    fn a_list_page_larger_than_ten() {
        let text = VALID.replace("page = 10", "page = 11");
        assert_one(&problems(&text), 21, "list page 11");
    }

    #[test]
    fn a_button_trigger_without_that_button() {
        let text = VALID.replace("{ button = \"go\", goto", "{ button = \"gone\", goto");
        let errors = problems(&text);
        // `pick` is then unreachable too (the goto hangs on the broken trigger's line).
        assert_eq!(errors[0].line, Some(16), "{errors:#?}");
        assert!(errors[0].message.contains("no button \"gone\""));
    }

    #[test]
    fn a_paging_button_needs_a_paged_list() {
        let text = VALID.replace(", page = 10", "");
        let errors = problems(&text);
        // Without a page there are no paging rows (and no paging templates to check).
        assert_one(&errors, 23, "no button \"earlier\"");
    }

    #[test]
    fn a_choose_without_a_list_of_that_source() {
        let text = VALID.replace("{ choose = \"times\"", "{ choose = \"days\"");
        assert_one(&problems(&text), 24, "no list of days");
    }

    #[test]
    fn a_global_cannot_tap_a_button() {
        let text = VALID.replace("intent = \"menu\"", "button = \"go\"");
        assert_one(&problems(&text), 6, "a global cannot use button:go");
    }

    #[test]
    fn unknown_vocabulary_is_refused_with_its_line() {
        let cases = [
            (
                "intent = \"menu\"",
                "intent = \"dance\"",
                7,
                "unknown intent \"dance\"",
            ),
            (
                "options = \"times\"",
                "options = \"hats\"",
                21,
                "unknown option source",
            ),
            (
                "do = [\"page_earlier\"]",
                "do = [\"jump\"]",
                23,
                "unknown action \"jump\"",
            ),
            (
                "{ button = \"earlier\",",
                "{ text = \"shoe\",",
                23,
                "unknown slot kind",
            ),
            (
                "{ button = \"earlier\",",
                "{ event = \"rain\",",
                23,
                "unknown event \"rain\"",
            ),
            (
                "{ button = \"go\",",
                "{ button = \"go\", when = \"sunny\",",
                16,
                "unknown guard",
            ),
        ];
        for (from, to, line, words) in cases {
            let errors = problems(&VALID.replace(from, to));
            let shown: Vec<_> = errors.iter().map(ToString::to_string).collect();
            assert!(
                errors
                    .iter()
                    .any(|e| e.line == Some(line) && e.message.contains(words)),
                "{from} → {to}: {shown:#?}"
            );
        }
    }

    fn repo_path(relative: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
    }

    #[test]
    fn the_shipped_booking_flow_passes_with_the_shipped_templates() {
        let (flows, templates) = check_dirs(&repo_path("flows"), &repo_path("templates"), &LIMITS)
            .unwrap_or_else(|errors| {
                let shown: Vec<_> = errors.iter().map(ToString::to_string).collect();
                panic!("{}", shown.join("\n"))
            });
        assert!(flows.iter().any(|flow| flow.name == "booking"));
        assert_eq!(&templates, crate::engine::templates::shipped());
    }
}
