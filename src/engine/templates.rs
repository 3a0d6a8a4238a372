//! The bot's messages, compiled from `templates/<language>/<name>.txt` by `build.rs`.
//!
//! Each file is an askama template whose variables are the fields of [`Vars`]: `{{ service }}`
//! shows [`Vars::service`], and a template that uses any other variable does not compile. Flow
//! files name templates by string, so they are looked up here by language and name ([`render`],
//! [`has`], and [`Compiled`] for the flow checker).

use crate::booking::catalog::Language;

use super::check::TemplateSource;

include!(concat!(env!("OUT_DIR"), "/message_templates.rs"));

/// The values a message can show. Every field is already written for the customer's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// The salon's name.
    pub salon: String,
    /// The service's name.
    pub service: String,
    /// The staff member's name.
    pub staff: String,
    /// The appointment's day.
    pub day: String,
    /// The appointment's start time.
    pub time: String,
    /// The service's price.
    pub price: String,
    /// The deposit to pay.
    pub deposit: String,
    /// How many hours before the appointment cancelling is still free.
    pub free_until_hours: String,
}

/// Renders template `name` in `language`; None when no such template was compiled in. The text is
/// trimmed of the file's trailing newline(s).
pub fn render(language: Language, name: &str, vars: &Vars) -> Option<String> {
    render_str(language.as_str(), name, vars)
}

/// Whether template `name` exists in `language`.
pub fn has(language: Language, name: &str) -> bool {
    has_str(language.as_str(), name)
}

/// The compiled templates as a [`TemplateSource`] for the flow checker (`text` renders with empty
/// [`Vars`], enough for static labels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compiled;

impl TemplateSource for Compiled {
    fn has(&self, name: &str, language: &str) -> bool {
        has_str(language, name)
    }

    fn text(&self, name: &str, language: &str) -> Option<String> {
        render_str(language, name, &Vars::default())
    }
}

fn has_str(language: &str, name: &str) -> bool {
    NAMES.contains(&(language, name))
}

fn render_str(language: &str, name: &str, vars: &Vars) -> Option<String> {
    match render_compiled(language, name, vars)? {
        Ok(mut text) => {
            let end = text.trim_end_matches(['\r', '\n']).len();
            text.truncate(end);
            Some(text)
        }
        Err(error) => {
            tracing::error!(template = name, language, error = %error, "message template failed to render");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn sample() -> Vars {
        Vars {
            salon: "Salón Lucía".into(),
            service: "Mechas balayage".into(),
            staff: "Marta".into(),
            day: "martes 14".into(),
            time: "17:30".into(),
            price: "65 €".into(),
            deposit: "15 €".into(),
            free_until_hours: "24".into(),
        }
    }

    /// The (language, name) pairs of the `.txt` files under `templates/`.
    fn on_disk() -> BTreeSet<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut found = BTreeSet::new();
        for language in Language::ALL {
            let dir = root.join(language.as_str());
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|extension| extension == "txt") {
                    let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
                    if !name.starts_with('.') {
                        found.insert((language.as_str().to_owned(), name));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_file_is_compiled_in_and_nothing_else() {
        let disk = on_disk();
        assert!(!disk.is_empty());
        let compiled: BTreeSet<(String, String)> = NAMES
            .iter()
            .map(|&(language, name)| (language.to_owned(), name.to_owned()))
            .collect();
        assert_eq!(compiled.len(), NAMES.len(), "NAMES has duplicates");
        assert_eq!(disk, compiled);
        for language in Language::ALL {
            for (_, name) in disk.iter().filter(|(l, _)| l == language.as_str()) {
                assert!(has(language, name), "{language}/{name}");
                assert!(
                    render(language, name, &sample()).is_some(),
                    "{language}/{name}"
                );
            }
        }
    }

    #[test]
    fn confirm_shows_every_value_in_every_language() {
        let vars = sample();
        for language in Language::ALL {
            let text = render(language, "confirm", &vars).unwrap();
            for value in [
                &vars.service,
                &vars.staff,
                &vars.day,
                &vars.time,
                &vars.price,
            ] {
                assert!(text.contains(value.as_str()), "{language}: {text}");
            }
            assert!(!text.contains("{{"), "{language}: {text}");
        }
    }

    #[test]
    fn no_rendered_template_keeps_template_syntax() {
        let vars = sample();
        for &(language, name) in NAMES {
            let text = render_str(language, name, &vars).unwrap();
            for syntax in ["{{", "}}", "{%", "%}", "{#"] {
                assert!(!text.contains(syntax), "{language}/{name}: {text}");
            }
        }
    }

    #[test]
    fn unknown_names_are_absent() {
        for language in Language::ALL {
            assert!(!has(language, "no_such_template"));
            assert!(!has(language, ""));
            assert_eq!(render(language, "no_such_template", &sample()), None);
        }
        assert!(!Compiled.has("confirm", "fr"));
        assert_eq!(Compiled.text("confirm", "fr"), None);
    }

    #[test]
    fn compiled_answers_like_has() {
        let mut names: BTreeSet<&str> = NAMES.iter().map(|&(_, name)| name).collect();
        names.insert("no_such_template");
        for language in Language::ALL {
            for name in &names {
                assert_eq!(
                    Compiled.has(name, language.as_str()),
                    has(language, name),
                    "{language}/{name}"
                );
                assert_eq!(
                    Compiled.text(name, language.as_str()),
                    render(language, name, &Vars::default()),
                    "{language}/{name}"
                );
            }
        }
    }

    #[test]
    fn rendering_trims_the_trailing_newline() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for language in Language::ALL {
            let file =
                std::fs::read_to_string(root.join(language.as_str()).join("yes.txt")).unwrap();
            assert!(
                file.ends_with('\n'),
                "the fixture should end with a newline"
            );
            let text = render(language, "yes", &Vars::default()).unwrap();
            assert_eq!(text, file.trim_end());
            assert!(!text.ends_with('\n'));
        }
        for &(language, name) in NAMES {
            let text = render_str(language, name, &sample()).unwrap();
            assert!(
                !text.ends_with('\n') && !text.ends_with('\r'),
                "{language}/{name}"
            );
        }
    }
}
