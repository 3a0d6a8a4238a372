//! One template's text: literal text with `{{ variable }}` placeholders, parsed once when the
//! templates are loaded and rendered on every reply.
//!
//! The syntax is the part of askama's (Jinja's) that messages use: `{{ name }}`, spaces inside the
//! braces optional, where `name` is one of [`Vars`]' fields. Anything else that askama would read as
//! code (`{% ... %}` blocks, `{# ... #}` comments, filters or expressions inside `{{ }}`, a `{{`
//! never closed) is refused with its line, so that no customer ever sees template syntax.

use super::vars::{Var, Vars};

/// A parsed template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Text {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// One problem of a template's text: its 1-based line and what is wrong.
pub(super) type Problem = (usize, String);

impl Text {
    /// Parses `source`, or gives every problem found in it.
    pub(super) fn parse(source: &str) -> Result<Text, Vec<Problem>> {
        let mut parts = Vec::new();
        let mut problems = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(open) = find_syntax(rest) {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let line = line_at(source, offset + open);
            let tail = &rest[open..];
            if !tail.starts_with("{{") {
                let what = if tail.starts_with("{%") {
                    "a block"
                } else {
                    "a comment"
                };
                problems.push((
                    line,
                    format!(
                        "{what} ({:?}) is not supported: a template is text with {{{{ variable }}}}s",
                        &tail[..2]
                    ),
                ));
                let skip = open + 2;
                offset += skip;
                rest = &rest[skip..];
                continue;
            }
            let Some(close) = tail.find("}}") else {
                problems.push((line, "\"{{\" is never closed with \"}}\"".to_owned()));
                rest = "";
                break;
            };
            let inner = tail[2..close].trim();
            match Var::named(inner) {
                Some(var) => parts.push(Part::Var(var)),
                None => problems.push((line, unknown_variable(inner))),
            }
            let skip = open + close + 2;
            offset += skip;
            rest = &rest[skip..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if problems.is_empty() {
            Ok(Text { parts })
        } else {
            Err(problems)
        }
    }

    /// The text with `vars` filled in, without the file's trailing newline(s).
    pub(super) fn render(&self, vars: &Vars) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => out.push_str(var.value(vars)),
            }
        }
        let end = out.trim_end_matches(['\r', '\n']).len();
        out.truncate(end);
        out
    }
}

/// Where the next `{{`, `{%` or `{#` starts.
fn find_syntax(text: &str) -> Option<usize> {
    text.match_indices('{')
        .map(|(at, _)| at)
        .find(|&at| matches!(text.as_bytes().get(at + 1), Some(b'{' | b'%' | b'#')))
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

fn unknown_variable(inner: &str) -> String {
    let known: Vec<&str> = Var::ALL.iter().map(|(name, _)| *name).collect();
    let is_name = !inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || c == '_');
    if is_name {
        format!("unknown variable {inner:?} (known: {})", known.join(", "))
    } else {
        format!(
            "\"{{{{ {inner} }}}}\" is not a variable: write one of {} between {{{{ }}}}",
            known.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            service: "Corte".into(),
            time: "17:30".into(),
            ..Vars::default()
        }
    }

    #[test]
    fn variables_are_filled_in_and_the_rest_kept_as_written() {
        let text =
            Text::parse("¡Hola! {{ service }} a las {{time}}, {no} } {{service}}\n\n").unwrap();
        assert_eq!(
            text.render(&vars()),
            "¡Hola! Corte a las 17:30, {no} } Corte"
        );
        assert_eq!(Text::parse("").unwrap().render(&vars()), "");
        assert_eq!(
            Text::parse("solo texto\r\n").unwrap().render(&vars()),
            "solo texto"
        );
    }

    #[test]
    fn an_unknown_variable_is_refused_with_its_line() {
        let problems =
            Text::parse("Hola\n{{ service }} con {{ stylist }}\n{{ nombre }}").unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, 2);
        assert!(
            problems[0].1.contains("unknown variable \"stylist\""),
            "{problems:?}"
        );
        assert!(
            problems[0].1.contains("known: salon, service, staff"),
            "{problems:?}"
        );
        assert_eq!(problems[1].0, 3);
    }

    #[test]
    fn template_code_is_refused_with_its_line() {
        let cases = [
            ("{% if service %}x{% endif %}", 1, "a block"),
            ("a\n{# note #}", 2, "a comment"),
            ("{{ service|upper }}", 1, "is not a variable"),
            ("{{ }}", 1, "is not a variable"),
            ("a\nb {{ service", 2, "never closed"),
        ];
        for (source, line, words) in cases {
            let problems = Text::parse(source).unwrap_err();
            assert_eq!(problems[0].0, line, "{source:?}: {problems:?}");
            assert!(problems[0].1.contains(words), "{source:?}: {problems:?}");
        }
    }
}
