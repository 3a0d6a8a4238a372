//! `salonbot flows check`: the shipped flows pass, a broken copy fails with `file:line`, `--graph`
//! prints Mermaid.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn flows_check(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["flows", "check"])
        .arg(dir)
        .args(args)
        .current_dir(ROOT)
        .env_clear()
        .env("LOG_FORMAT", "json")
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
        stdout.contains("awaiting_payment --> confirmed : event#58;payment.succeeded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("confirm --> hold_expired : timeout 10m"),
        "{stdout}"
    );
}
