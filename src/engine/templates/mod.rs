//! The bot's messages: `<TEMPLATES_DIR>/<language>/<name>.txt`, read and checked once at start-up
//! ([`load`]) into an in-memory [`Templates`] set that the step renders from. Editing a text takes a
//! restart, not a rebuild, and a new state's templates are found wherever its flow is checked.
//!
//! A template is text with `{{ variable }}` placeholders whose names are the fields of [`Vars`]:
//! `{{ service }}` shows [`Vars::service`], and a template that uses any other name is refused when
//! it is loaded, with its `file:line`. Flow files name templates by string, so they are looked up
//! here by language and name ([`Templates::render`], [`Templates::has`], and the
//! [`TemplateSource`] the flow checker reads).
//!
//! Each part lives in a submodule: `vars` (the values and their names), `text` (one template's text,
//! parsed and rendered), `load` (reading the folder, with every check).

mod load;
mod text;
mod vars;

use std::collections::{BTreeMap, HashMap};

pub use load::load;
pub use vars::Vars;

use super::check::TemplateSource;
use crate::booking::catalog::Language;
use text::Text;

/// Every message template in every language, loaded by [`load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    by_language: BTreeMap<Language, HashMap<String, Text>>,
}

impl Templates {
    /// Renders template `name` in `language`; None when there is no such template. The text is
    /// trimmed of the file's trailing newline(s).
    pub fn render(&self, language: Language, name: &str, vars: &Vars) -> Option<String> {
        Some(self.by_language.get(&language)?.get(name)?.render(vars))
    }

    /// Whether template `name` exists in `language`.
    pub fn has(&self, language: Language, name: &str) -> bool {
        self.by_language
            .get(&language)
            .is_some_and(|texts| texts.contains_key(name))
    }

    /// Every template as (language, name), in language order then by name.
    pub fn names(&self) -> Vec<(Language, &str)> {
        let mut names: Vec<(Language, &str)> = self
            .by_language
            .iter()
            .flat_map(|(language, texts)| texts.keys().map(|name| (*language, name.as_str())))
            .collect();
        names.sort();
        names
    }
}

/// The loaded templates as the flow checker reads them (`text` renders with empty [`Vars`], enough
/// for static labels).
impl TemplateSource for Templates {
    fn has(&self, name: &str, language: &str) -> bool {
        language_named(language).is_some_and(|language| Templates::has(self, language, name))
    }

    fn text(&self, name: &str, language: &str) -> Option<String> {
        self.render(language_named(language)?, name, &Vars::default())
    }
}

fn language_named(code: &str) -> Option<Language> {
    Language::ALL
        .into_iter()
        .find(|language| language.as_str() == code)
}

/// The shipped templates, loaded once for the engine's unit tests.
#[cfg(test)]
pub(crate) fn shipped() -> &'static Templates {
    static SHIPPED: std::sync::LazyLock<Templates> = std::sync::LazyLock::new(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let (templates, errors) = load(&dir);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(shown.is_empty(), "{}", shown.join("\n"));
        templates
    });
    &SHIPPED
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
            address: "Calle Mayor 1".into(),
            ..Vars::default()
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
    fn every_file_is_loaded_and_nothing_else() {
        let disk = on_disk();
        assert!(!disk.is_empty());
        let names = shipped().names();
        let loaded: BTreeSet<(String, String)> = names
            .iter()
            .map(|&(language, name)| (language.as_str().to_owned(), name.to_owned()))
            .collect();
        assert_eq!(loaded.len(), names.len(), "names has duplicates");
        assert_eq!(disk, loaded);
        for language in Language::ALL {
            for (_, name) in disk.iter().filter(|(l, _)| l == language.as_str()) {
                assert!(shipped().has(language, name), "{language}/{name}");
                assert!(
                    shipped().render(language, name, &sample()).is_some(),
                    "{language}/{name}"
                );
            }
        }
    }

    #[test]
    fn confirm_shows_every_value_in_every_language() {
        let vars = sample();
        for language in Language::ALL {
            let text = shipped().render(language, "confirm", &vars).unwrap();
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
        for (language, name) in shipped().names() {
            let text = shipped().render(language, name, &vars).unwrap();
            for syntax in ["{{", "}}", "{%", "%}", "{#"] {
                assert!(!text.contains(syntax), "{language}/{name}: {text}");
            }
        }
    }

    #[test]
    fn unknown_names_are_absent() {
        for language in Language::ALL {
            assert!(!shipped().has(language, "no_such_template"));
            assert!(!shipped().has(language, ""));
            assert_eq!(
                shipped().render(language, "no_such_template", &sample()),
                None
            );
        }
        assert!(!TemplateSource::has(shipped(), "confirm", "fr"));
        assert_eq!(shipped().text("confirm", "fr"), None);
    }

    #[test]
    fn the_checkers_source_answers_like_has() {
        let mut names: BTreeSet<&str> = shipped()
            .names()
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        names.insert("no_such_template");
        for language in Language::ALL {
            for name in &names {
                assert_eq!(
                    TemplateSource::has(shipped(), name, language.as_str()),
                    shipped().has(language, name),
                    "{language}/{name}"
                );
                assert_eq!(
                    shipped().text(name, language.as_str()),
                    shipped().render(language, name, &Vars::default()),
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
            let text = shipped().render(language, "yes", &Vars::default()).unwrap();
            assert_eq!(text, file.trim_end());
            assert!(!text.ends_with('\n'));
        }
        for (language, name) in shipped().names() {
            let text = shipped().render(language, name, &sample()).unwrap();
            assert!(
                !text.ends_with('\n') && !text.ends_with('\r'),
                "{language}/{name}"
            );
        }
    }
}
