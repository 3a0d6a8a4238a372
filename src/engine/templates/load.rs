//! Reading `TEMPLATES_DIR` into a [`Templates`] set, with every check that used to fail the build
//! when the texts were compiled in: every language has its folder, every template exists in every
//! language, every variable exists, and the templates the engine says on its own are there. Each
//! problem names its file (and line, for a variable), like the flow checker's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::Templates;
use super::text::Text;
use crate::booking::catalog::Language;
use crate::engine::flow::FlowError;
use crate::engine::step::ENGINE_TEMPLATES;

/// Reads and checks `<dir>/<language>/<name>.txt` for every language. Hidden files and files not
/// ending in `.txt` are ignored. Returns every template that could be read, and every problem: the
/// set is only fit to run with when there is none, but the flows can still be checked against it,
/// so that one run of `flows check` shows everything to fix.
pub fn load(dir: &Path) -> (Templates, Vec<FlowError>) {
    let mut errors = Vec::new();
    let mut by_language = BTreeMap::new();
    // The names of the files found, readable or not: a broken file is one problem, not also a gap.
    let mut found = BTreeMap::new();
    for language in Language::ALL {
        if let Some((names, texts)) = read_language(dir, language, &mut errors) {
            found.insert(language, names);
            by_language.insert(language, texts);
        }
    }
    if found.len() == Language::ALL.len() {
        errors.extend(gaps(dir, &found));
        errors.extend(engine_gaps(dir, &found));
    }
    (Templates { by_language }, errors)
}

/// The template names found in one language's folder and the templates read from them, or None
/// (with the problem) when the folder is missing.
fn read_language(
    dir: &Path,
    language: Language,
    errors: &mut Vec<FlowError>,
) -> Option<(BTreeSet<String>, HashMap<String, Text>)> {
    let folder = dir.join(language.as_str());
    if !folder.is_dir() {
        let languages: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
        errors.push(FlowError::whole(
            &folder.display().to_string(),
            format!(
                "the template folder is missing; every language ({}) needs <language>/<name>.txt files",
                languages.join(", ")
            ),
        ));
        return None;
    }
    let files = template_files(&folder, errors);
    let names = files.keys().cloned().collect();
    let mut texts = HashMap::new();
    for (name, path) in files {
        let file = path.display().to_string();
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(error) => {
                errors.push(FlowError::whole(&file, format!("cannot read: {error}")));
                continue;
            }
        };
        match Text::parse(&source) {
            Ok(text) => {
                texts.insert(name, text);
            }
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|(line, message)| FlowError::at(&file, line, message)),
            ),
        }
    }
    Some((names, texts))
}

/// The `.txt` files of a language's folder by template name, in name order.
fn template_files(folder: &Path, errors: &mut Vec<FlowError>) -> BTreeMap<String, PathBuf> {
    let shown = folder.display().to_string();
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) => {
            errors.push(FlowError::whole(&shown, format!("cannot read: {error}")));
            return BTreeMap::new();
        }
    };
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(error) => {
                errors.push(FlowError::whole(&shown, format!("cannot read: {error}")));
                continue;
            }
        };
        if !path.is_file() || path.extension().is_none_or(|extension| extension != "txt") {
            continue;
        }
        let Some(stem) = path.file_stem() else {
            continue;
        };
        let Some(name) = stem.to_str() else {
            let file = path.display().to_string();
            errors.push(FlowError::whole(
                &file,
                "the file name is not UTF-8; rename it",
            ));
            continue;
        };
        if name.is_empty() || name.starts_with('.') {
            continue;
        }
        files.insert(name.to_owned(), path);
    }
    files
}

/// A template that exists in some language but not in another.
fn gaps(dir: &Path, found: &BTreeMap<Language, BTreeSet<String>>) -> Vec<FlowError> {
    let all: BTreeSet<&String> = found.values().flatten().collect();
    let mut errors = Vec::new();
    for name in all {
        let (present, missing): (Vec<Language>, Vec<Language>) =
            Language::ALL.into_iter().partition(|language| {
                found
                    .get(language)
                    .is_some_and(|names| names.contains(name))
            });
        let elsewhere: Vec<&str> = present.iter().map(|l| l.as_str()).collect();
        for language in missing {
            errors.push(FlowError::whole(
                &file_of(dir, language, name),
                format!(
                    "missing: every template must exist in every language (it exists in {})",
                    elsewhere.join(", ")
                ),
            ));
        }
    }
    errors
}

/// A template the engine says on its own (not named by any flow) that no language has.
fn engine_gaps(dir: &Path, found: &BTreeMap<Language, BTreeSet<String>>) -> Vec<FlowError> {
    ENGINE_TEMPLATES
        .iter()
        .filter(|name| found.values().all(|names| !names.contains(**name)))
        .map(|name| {
            FlowError::whole(
                &file_of(dir, Language::ALL[0], name),
                format!("missing: the bot says {name:?} on its own, so every language needs it"),
            )
        })
        .collect()
}

fn file_of(dir: &Path, language: Language, name: &str) -> String {
    dir.join(language.as_str())
        .join(format!("{name}.txt"))
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped templates copied into a temporary folder, to break on purpose.
    fn copy_of_shipped() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for language in Language::ALL {
            let to = dir.path().join(language.as_str());
            std::fs::create_dir(&to).unwrap();
            for entry in std::fs::read_dir(shipped.join(language.as_str())).unwrap() {
                let path = entry.unwrap().path();
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
        dir
    }

    fn shown(errors: &[FlowError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_shipped_templates_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let (templates, errors) = load(&dir);
        assert_eq!(shown(&errors), Vec::<String>::new());
        assert!(templates.has(Language::Pt, "greeting"));
    }

    #[test]
    fn an_unknown_variable_names_its_file_and_line() {
        let dir = copy_of_shipped();
        let file = dir.path().join("en").join("greeting.txt");
        std::fs::write(&file, "Hi!\nWelcome to {{ salon_name }}.\n").unwrap();
        let (_, errors) = load(dir.path());
        let shown = shown(&errors);
        assert_eq!(shown.len(), 1, "{shown:#?}");
        let expected = format!("{}:2: unknown variable \"salon_name\"", file.display());
        assert!(shown[0].starts_with(&expected), "{shown:#?}");
    }

    #[test]
    fn a_template_missing_in_one_language_is_named() {
        let dir = copy_of_shipped();
        std::fs::write(
            dir.path().join("es").join("choose_staff.txt"),
            "¿Con quién?\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("en").join("choose_staff.txt"),
            "With whom?\n",
        )
        .unwrap();
        let (_, errors) = load(dir.path());
        let shown = shown(&errors);
        assert_eq!(shown.len(), 1, "{shown:#?}");
        let missing = dir.path().join("pt").join("choose_staff.txt");
        assert!(
            shown[0].starts_with(&format!("{}: missing", missing.display())),
            "{shown:#?}"
        );
        assert!(shown[0].contains("it exists in es, en"), "{shown:#?}");
    }

    #[test]
    fn a_missing_language_folder_is_named() {
        let dir = copy_of_shipped();
        std::fs::remove_dir_all(dir.path().join("pt")).unwrap();
        let (templates, errors) = load(dir.path());
        let shown = shown(&errors);
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(
            shown[0].starts_with(&format!(
                "{}: the template folder is missing",
                dir.path().join("pt").display()
            )),
            "{shown:#?}"
        );
        // What could be read is kept, for the flows to be checked against.
        assert!(templates.has(Language::Es, "greeting"));
    }

    #[test]
    fn a_template_the_engine_says_on_its_own_cannot_go() {
        let dir = copy_of_shipped();
        for language in Language::ALL {
            std::fs::remove_file(
                dir.path()
                    .join(language.as_str())
                    .join("not_understood.txt"),
            )
            .unwrap();
        }
        let (_, errors) = load(dir.path());
        let shown = shown(&errors);
        assert_eq!(shown.len(), 1, "{shown:#?}");
        assert!(shown[0].contains("not_understood"), "{shown:#?}");
    }

    #[test]
    fn hidden_and_other_files_are_ignored() {
        let dir = copy_of_shipped();
        std::fs::write(dir.path().join("es").join(".draft.txt"), "{{ nope }}").unwrap();
        std::fs::write(dir.path().join("es").join("notes.md"), "{{ nope }}").unwrap();
        assert_eq!(shown(&load(dir.path()).1), Vec::<String>::new());
    }
}
