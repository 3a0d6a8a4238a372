//! The module boundaries the architecture promises, checked on the source: the engine and the booking
//! domain are pure (no storage, no provider, no async runtime, no HTTP client), so that they can be
//! unit-tested exhaustively, replayed and run by the simulator; and the inbox event types stay
//! neutral ground that names no storage or provider.
//!
//! The check reads the files as text: comments and string literals are blanked out, then a
//! forbidden name counts when it is a path segment (`crate::store::X`, `super::super::store`,
//! `sqlx::query`) or anywhere in a `use` declaration (`use crate::{booking, store};`).

use std::path::{Path, PathBuf};

/// Crates that do I/O, forbidden by any name.
const IO_CRATES: &[&str] = &["sqlx", "tokio", "reqwest"];

/// The crate's modules that do I/O or speak a provider's wire format.
const IO_MODULES: &[&str] = &[
    "store", "whatsapp", "stripe", "ingress", "worker", "app", "chat", "cli", "cache", "health",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, or `dir` itself when it is a file.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The source with comments, string and char literals replaced by spaces (newlines kept, so line
/// numbers still match). Good enough for this crate's code: raw strings and nested block comments
/// are handled, and a lifetime is not mistaken for a char literal.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let end = match literal_or_comment_end(&chars, i) {
            Some(end) => end.min(chars.len()),
            None => {
                out.push(chars[i]);
                i += 1;
                continue;
            }
        };
        out.extend(
            chars[i..end]
                .iter()
                .map(|&c| if c == '\n' { '\n' } else { ' ' }),
        );
        i = end;
    }
    out
}

/// When a comment or a string or char literal starts at `i`, the index just past its end.
fn literal_or_comment_end(chars: &[char], i: usize) -> Option<usize> {
    let at = |k: usize| chars.get(k).copied();
    let find = |from: usize, what: &[char]| {
        (from..chars.len())
            .find(|&k| chars[k..].starts_with(what))
            .map_or(chars.len(), |k| k + what.len())
    };
    match (at(i)?, at(i + 1)) {
        ('/', Some('/')) => Some(find(i, &['\n'])),
        ('/', Some('*')) => {
            let mut depth = 0;
            let mut k = i;
            while k < chars.len() {
                if chars[k..].starts_with(&['/', '*']) {
                    depth += 1;
                    k += 2;
                } else if chars[k..].starts_with(&['*', '/']) {
                    depth -= 1;
                    k += 2;
                    if depth == 0 {
                        return Some(k);
                    }
                } else {
                    k += 1;
                }
            }
            Some(k)
        }
        ('r', Some('"' | '#')) if !ident_before(chars, i) => {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if at(i + 1 + hashes) != Some('"') {
                return None;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            Some(find(i + 2 + hashes, &close))
        }
        ('"', _) => {
            let mut k = i + 1;
            while k < chars.len() && chars[k] != '"' {
                k += if chars[k] == '\\' { 2 } else { 1 };
            }
            Some(k + 1)
        }
        // A char literal (`'a'`, `'\n'`, `'\u{1F44D}'`), not a lifetime (`'a`, `'static`).
        ('\'', Some('\\')) => Some(find(i + 3, &['\''])),
        ('\'', Some(_)) if at(i + 2) == Some('\'') => Some(i + 3),
        _ => None,
    }
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Where `code` names one of `forbidden`: `(line, name)` for each.
fn forbidden_names(code: &str, forbidden: &[&str]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_use = false;
    for (index, line) in code.lines().enumerate() {
        let words = words_of(line);
        for (start, word) in &words {
            if *word == "use" && words_before_are_visibility(line, *start) {
                in_use = true;
            }
            if !forbidden.contains(word) {
                continue;
            }
            let before = line[..*start].trim_end();
            let after = line[start + word.len()..].trim_start();
            let is_path = before.ends_with("::") || after.starts_with("::");
            if in_use || is_path {
                found.push((index + 1, (*word).to_owned()));
            }
        }
        if in_use && line.contains(';') {
            in_use = false;
        }
    }
    found
}

/// Whether only `pub`, `pub(crate)`, `pub(super)` and the like stand before byte `start` of `line`.
fn words_before_are_visibility(line: &str, start: usize) -> bool {
    let before = line[..start].trim();
    before.is_empty() || before.starts_with("pub") && !before.contains(['=', '{', ';'])
}

/// The identifiers of a line with their byte offsets.
fn words_of(line: &str) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut start = None;
    for (offset, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        let part_of_word = c.is_alphanumeric() || c == '_';
        match (part_of_word, start) {
            (true, None) => start = Some(offset),
            (false, Some(from)) => {
                words.push((from, &line[from..offset]));
                start = None;
            }
            _ => {}
        }
    }
    words
}

/// Every forbidden name in the Rust files under `src/<part>`, as `file:line: name`.
fn violations(part: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(&root().join(part)) {
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for (line, name) in forbidden_names(&code, forbidden) {
            found.push(format!("{}:{line}: {name}", file.display()));
        }
    }
    found
}

/// The I/O modules and crates, and `more`.
fn forbidden(more: &[&'static str]) -> Vec<&'static str> {
    IO_MODULES
        .iter()
        .chain(IO_CRATES)
        .chain(more)
        .copied()
        .collect()
}

/// Fails, listing each, when `src/<part>` names a forbidden module or crate.
fn assert_none_in(part: &str, more: &[&'static str]) {
    let found = violations(part, &forbidden(more));
    assert!(
        found.is_empty(),
        "src/{part} must not depend on these:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_engine_imports_no_storage_provider_inbox_or_io_crate() {
    assert_none_in("engine", &["event"]);
}

#[test]
fn the_booking_domain_imports_no_storage_provider_engine_or_io_crate() {
    assert_none_in("booking", &["event", "engine"]);
}

#[test]
fn inbox_event_types_name_no_storage_or_provider() {
    assert_none_in("event.rs", &["engine"]);
}

#[test]
fn the_check_sees_imports_in_every_form() {
    let forbidden = forbidden(&["event"]);
    let caught = [
        "use crate::store::Store;",
        "use crate::whatsapp::webhook::MessageEvent;",
        "use super::super::store;",
        "use crate::{booking::catalog, store::StoreError};",
        "use crate::{\n    booking,\n    store,\n};",
        "pub(crate) use crate::event::InboxEvent;",
        "fn f() { let _ = sqlx::query(\"\"); }",
        "async fn f() { tokio::time::sleep(d).await; }",
        "fn f() -> reqwest::Client { todo!() }",
        "fn f(e: &crate::event::InboxEvent) {}",
        "use sqlx;",
    ];
    for source in caught {
        let code = code_only(source);
        assert!(
            !forbidden_names(&code, &forbidden).is_empty(),
            "not caught: {source}"
        );
    }
    let allowed = [
        "// crate::store::Store is where this is kept",
        "/// Like `tokio::time::sleep`, but pure.",
        "let key = \"whatsapp:1:+34600000000\";",
        "let raw = r#\"use crate::store;\"#;",
        "let store = Vec::new(); store.push(1);",
        "fn event(&self) -> &SystemEvent { &self.event }",
        "use crate::booking::catalog::Language;",
        "let c = '\"'; let s: &'static str = \"tokio::spawn\";",
    ];
    for source in allowed {
        let code = code_only(source);
        assert_eq!(
            forbidden_names(&code, &forbidden),
            [],
            "wrongly caught: {source}"
        );
    }
}
