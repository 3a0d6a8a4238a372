//! Compiles the message templates in `templates/<language>/<name>.txt` into the binary.
//!
//! For every language and name it writes an askama template struct to
//! `$OUT_DIR/message_templates.rs`, which `src/engine/templates.rs` includes. Every struct
//! dereferences to the shared `Vars`, so `{{ service }}` in a template reads `Vars::service`, and a
//! template that uses a variable `Vars` does not have fails to compile. The build also fails when a
//! language directory is missing or when the languages do not have the same template names.
//! It also asks cargo to rebuild when `migrations/` changes (see `run`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The languages every template must exist in, in the order they are compiled.
const LANGUAGES: [&str; 3] = ["es", "en", "pt"];

/// The generated file, in `OUT_DIR`.
const OUTPUT: &str = "message_templates.rs";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: message templates: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let root = manifest_dir.join("templates");

    println!("cargo::rerun-if-changed=templates");
    // `sqlx::migrate!` embeds `migrations/` at compile time, but cargo does not know the macro read
    // it: without this a new migration file is left out of an incremental build.
    println!("cargo::rerun-if-changed=migrations");
    for language in LANGUAGES {
        println!("cargo::rerun-if-changed=templates/{language}");
    }

    let mut names = BTreeMap::new();
    for language in LANGUAGES {
        names.insert(language, template_names(&root, language)?);
    }
    same_names(&names)?;

    let code = generate(&names);
    let output = out_dir.join(OUTPUT);
    // Write only when the text changes, so an unchanged file does not rebuild the crate.
    if fs::read_to_string(&output).ok().as_deref() != Some(code.as_str()) {
        fs::write(&output, code)
            .map_err(|error| format!("cannot write {}: {error}", output.display()))?;
    }
    Ok(())
}

fn env_path(name: &str) -> Result<PathBuf, String> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("the environment variable {name} is not set (run through cargo)"))
}

/// The template names (file names without `.txt`) in `<root>/<language>`, sorted. Hidden files and
/// files not ending in `.txt` are ignored.
fn template_names(root: &Path, language: &str) -> Result<BTreeSet<String>, String> {
    let dir = root.join(language);
    if !dir.is_dir() {
        return Err(format!(
            "the template directory {} is missing; every language ({}) needs templates/<language>/<name>.txt files",
            dir.display(),
            LANGUAGES.join(", ")
        ));
    }
    let entries =
        fs::read_dir(&dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut names = BTreeSet::new();
    for entry in entries {
        let path = entry
            .map_err(|error| format!("cannot read {}: {error}", dir.display()))?
            .path();
        if !path.is_file() || path.extension().is_none_or(|extension| extension != "txt") {
            continue;
        }
        let Some(stem) = path.file_stem() else {
            continue;
        };
        let Some(name) = stem.to_str() else {
            return Err(format!(
                "the template file name {} is not UTF-8; rename it",
                path.display()
            ));
        };
        if name.is_empty() || name.starts_with('.') {
            continue;
        }
        names.insert(name.to_owned());
    }
    Ok(names)
}

/// Fails, naming each gap, unless every language has the same template names.
fn same_names(names: &BTreeMap<&str, BTreeSet<String>>) -> Result<(), String> {
    let all: BTreeSet<&String> = names.values().flatten().collect();
    let mut gaps = Vec::new();
    for name in all {
        for language in LANGUAGES {
            if names
                .get(language)
                .is_none_or(|present| !present.contains(name))
            {
                let elsewhere: Vec<&str> = LANGUAGES
                    .into_iter()
                    .filter(|other| names.get(other).is_some_and(|set| set.contains(name)))
                    .collect();
                gaps.push(format!(
                    "templates/{language}/{name}.txt is missing (it exists in {})",
                    elsewhere.join(", ")
                ));
            }
        }
    }
    if gaps.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "every template must exist in every language:\n  {}",
            gaps.join("\n  ")
        ))
    }
}

/// A Rust type name for template `name` in `language`: the language and the name's ASCII letters
/// and digits in CamelCase (`es`, `appt_cancel` gives `EsApptCancel`); every other character only
/// separates words. Names that come out the same get a numeric suffix, so each is unique.
fn type_name(language: &str, name: &str, taken: &mut BTreeSet<String>) -> String {
    let mut ident = String::from("Tpl");
    for word in std::iter::once(language).chain(name.split(|c: char| !c.is_ascii_alphanumeric())) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            ident.push(first.to_ascii_uppercase());
            ident.extend(chars);
        }
    }
    let mut unique = ident.clone();
    let mut suffix = 2;
    while !taken.insert(unique.clone()) {
        unique = format!("{ident}N{suffix}");
        suffix += 1;
    }
    unique
}

/// The text of `$OUT_DIR/message_templates.rs`.
fn generate(names: &BTreeMap<&str, BTreeSet<String>>) -> String {
    let mut taken = BTreeSet::new();
    let mut templates = Vec::new();
    for language in LANGUAGES {
        for name in names.get(language).into_iter().flatten() {
            let ident = type_name(language, name, &mut taken);
            templates.push((language, name.as_str(), ident));
        }
    }

    let mut code = String::from(
        "// Compiled from templates/ by build.rs; included by src/engine/templates.rs.\n\n",
    );
    for (language, name, ident) in &templates {
        let path = format!("{language}/{name}.txt");
        // `{:?}` writes a valid Rust string literal for any name.
        let _ = writeln!(
            code,
            "/// Template {path:?}.\n\
             #[derive(askama::Template)]\n\
             #[template(path = {path:?}, escape = \"none\")]\n\
             struct {ident}<'a>(&'a Vars);\n\n\
             impl ::core::ops::Deref for {ident}<'_> {{\n\
             \x20   type Target = Vars;\n\n\
             \x20   fn deref(&self) -> &Vars {{\n\
             \x20       self.0\n\
             \x20   }}\n\
             }}\n"
        );
    }

    code.push_str(
        "/// Renders template `name` in `language`; `None` when there is no such template.\n\
         fn render_compiled(\n\
         \x20   language: &str,\n\
         \x20   name: &str,\n\
         \x20   vars: &Vars,\n\
         ) -> Option<Result<String, askama::Error>> {\n\
         \x20   use askama::Template as _;\n\
         \x20   Some(match (language, name) {\n",
    );
    for (language, name, ident) in &templates {
        let _ = writeln!(
            code,
            "        ({language:?}, {name:?}) => {ident}(vars).render(),"
        );
    }
    code.push_str("        _ => return None,\n    })\n}\n\n");

    code.push_str(
        "/// Every compiled template as (language, name).\nconst NAMES: &[(&str, &str)] = &[\n",
    );
    for (language, name, _) in &templates {
        let _ = writeln!(code, "    ({language:?}, {name:?}),");
    }
    code.push_str("];\n");
    code
}
