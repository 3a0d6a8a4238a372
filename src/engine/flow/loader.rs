//! Reading flow files: TOML in, [`Flow`] out, or every problem found with its `file:line`. Names
//! from the closed vocabularies are looked up here, so an unknown name never gets past loading;
//! cross-references (gotos, templates, limits) are the checker's business (`engine::check`).

use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::error::FlowError;
use super::model::{
    Ahead, Button, Flow, Migration, State, StateRef, TemplateRef, Timeout, Transition, Trigger, Ui,
};
use super::raw::{RawButton, RawCta, RawFile, RawList, RawState, RawTimeout, RawTransition};
use super::vocabulary::{Action, Guard, Intent, OptionSource, SlotKind, SystemEvent, Vocabulary};

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
        let ahead = raw
            .ahead
            .into_iter()
            .map(|raw| {
                let line = self.line(raw.span());
                let raw = raw.into_inner();
                Ahead {
                    steps: raw.steps.into_iter().map(|s| self.state_ref(s)).collect(),
                    keep_from: raw
                        .keep_from
                        .into_iter()
                        .map(|s| self.state_ref(s))
                        .collect(),
                    line,
                }
            })
            .collect();
        Flow {
            file: self.file.to_owned(),
            name,
            version: *header.version.get_ref(),
            version_line: self.line(header.version.span()),
            entry: self.state_ref(header.entry),
            migrations,
            globals,
            states,
            ahead,
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
            say: raw.say.map(|say| self.template(say)),
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
