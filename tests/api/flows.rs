//! `salonbot flows check`: the shipped flows pass, a broken copy fails with `file:line`, `--graph`
//! prints Mermaid.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn flows_check(dir: &Path, args: &[&str]) -> Output {
    flows_check_with(dir, args, &[])
}

/// `flows check DIR ARGS` with the variables `env` set (and no others but `LOG_FORMAT`).
fn flows_check_with(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    Command::new(BIN)
        .args(["flows", "check"])
        .arg(dir)
        .args(args)
        .current_dir(ROOT)
        .env_clear()
        .env("LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Copies a directory tree (templates are two levels deep).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_shipped_flows_pass() {
    let out = flows_check(Path::new("flows"), &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: flows/booking.toml (booking v"),
        "{stdout}"
    );
}

#[test]
fn a_broken_flow_fails_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &Path::new(ROOT).join("templates"),
        &dir.path().join("templates"),
    );
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    let good = std::fs::read_to_string(Path::new(ROOT).join("flows/booking.toml")).unwrap();
    let broken = good.replacen("goto = \"pick_staff\"", "goto = \"pick_stuff\"", 1);
    assert_ne!(good, broken);
    let line = good
        .lines()
        .position(|line| line.contains("goto = \"pick_staff\""))
        .unwrap()
        + 1;
    std::fs::write(flows.join("booking.toml"), broken).unwrap();

    let out = flows_check(&flows, &[]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success(), "{stderr}");
    // A command's stdout is its output: the error is not logged there too (LOG_FORMAT=json here).
    assert!(!stdout.contains("\"level\""), "{stdout}");
    assert_eq!(
        stderr.matches("no state \"pick_stuff\"").count(),
        1,
        "{stderr}"
    );
    let expected = format!("booking.toml:{line}: no state \"pick_stuff\"");
    assert!(stderr.contains(&expected), "{expected} not in\n{stderr}");
    // pick_staff is no longer reachable: one line per problem.
    assert!(
        stderr.contains("state \"pick_staff\" cannot be reached"),
        "{stderr}"
    );
}

#[test]
fn graph_prints_a_mermaid_state_diagram() {
    let out = flows_check(Path::new("flows"), &["--graph"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("stateDiagram-v2\n"), "{stdout}");
    assert!(stdout.contains("[*] --> greeting"), "{stdout}");
    assert!(
        stdout.contains("pick_service --> pick_staff : choose#58;services"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ANY --> paid : event#58;payment.succeeded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("confirm --> hold_expired : timeout 10m"),
        "{stdout}"
    );
}

/// The shipped flows in `<dir>/flows`, with a new state `choose_staff` between the services and
/// the staff, and the shipped templates plus that state's in `<dir>/messages`: a folder not beside
/// the flows, found only through `TEMPLATES_DIR`.
fn flows_with_a_new_state(dir: &Path) -> (PathBuf, PathBuf) {
    let flows = dir.join("flows");
    copy_tree(&Path::new(ROOT).join("flows"), &flows);
    let good = std::fs::read_to_string(flows.join("booking.toml")).unwrap();
    let from = "{ choose = \"services\", set = \"service\", goto = \"pick_staff\" }";
    assert!(good.contains(from));
    let changed = good.replacen(
        from,
        "{ choose = \"services\", set = \"service\", goto = \"choose_staff\" }",
        1,
    ) + "\n[states.choose_staff]\nsay = \"choose_staff\"\non = [{ intent = \"yes\", goto = \"pick_staff\" }]\n";
    std::fs::write(flows.join("booking.toml"), changed).unwrap();
    let templates = dir.join("messages");
    copy_tree(&Path::new(ROOT).join("templates"), &templates);
    for (language, text) in [
        ("es", "¿Te atiende cualquiera?"),
        ("en", "Anyone all right?"),
        ("pt", "Pode ser qualquer pessoa?"),
    ] {
        std::fs::write(templates.join(language).join("choose_staff.txt"), text).unwrap();
    }
    (flows, templates)
}

#[test]
fn a_new_state_with_its_templates_in_templates_dir_passes_the_check_and_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (flows, templates) = flows_with_a_new_state(dir.path());

    let out = flows_check_with(&flows, &[], &[("TEMPLATES_DIR", &templates)]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("booking.toml (booking v"), "{stdout}");

    // What `serve` and `chat` load at start-up.
    let loaded = salonbot::engine::load_conversation_flow(
        &flows,
        &templates,
        &salonbot::whatsapp::messages::limits::UI_LIMITS,
    )
    .unwrap_or_else(|error| panic!("{error:#}"));
    assert!(loaded.flow.state("choose_staff").is_some());
    assert_eq!(
        loaded.templates.render(
            salonbot::booking::catalog::Language::En,
            "choose_staff",
            &Default::default()
        ),
        Some("Anyone all right?".to_owned())
    );
}

#[test]
fn a_template_missing_in_a_language_or_with_an_unknown_variable_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (flows, templates) = flows_with_a_new_state(dir.path());
    std::fs::remove_file(templates.join("pt").join("choose_staff.txt")).unwrap();
    let greeting = templates.join("en").join("greeting.txt");
    std::fs::write(&greeting, "Hi!\nWelcome to {{ salon_name }}.\n").unwrap();

    let out = flows_check_with(&flows, &[], &[("TEMPLATES_DIR", &templates)]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stderr}");
    let variable = format!("{}:2: unknown variable \"salon_name\"", greeting.display());
    assert!(stderr.contains(&variable), "{variable} not in\n{stderr}");
    let missing = templates.join("pt").join("choose_staff.txt");
    assert!(
        stderr.contains(&format!("{}: missing", missing.display())),
        "{stderr}"
    );
    // The flow that names it says where, too.
    assert!(
        stderr.contains("template \"choose_staff\" is missing: pt/choose_staff.txt"),
        "{stderr}"
    );

    let error = salonbot::engine::load_conversation_flow(
        &flows,
        &templates,
        &salonbot::whatsapp::messages::limits::UI_LIMITS,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains(&variable), "{error}");
}
