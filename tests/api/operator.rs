//! The operator's commands: they never create a database, `config check` says what `serve` would
//! refuse, and a signed test webhook reaches a sandboxed bot whose reply is logged and listed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cli::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");

/// Runs `salonbot ARGS` in `dir` with only the salon's files and `env` set.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env(
            "SALON_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
        )
        .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn operator_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["inbox", "dead"][..], &["outbox", "list"][..]] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("no database at data/salonbot.db"),
            "{}",
            stderr(&out)
        );
        assert!(
            !dir.path().join("data").exists(),
            "{args:?} created a database"
        );
    }
    let typo = format!("sqlite://{}", dir.path().join("salonbto.db").display());
    let out = run(dir.path(), &["inbox", "dead"], &[("DATABASE_URL", &typo)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("salonbto.db"), "{}", stderr(&out));
    assert!(!dir.path().join("salonbto.db").exists());
}

#[test]
fn config_check_says_what_serve_would_refuse_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["config", "check"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("ok: salon Peluquería Malasaña"), "{stdout}");
    assert!(stdout.contains("ok: flow booking"), "{stdout}");
    assert!(stdout.contains("whatsapp webhooks: off"), "{stdout}");
    assert!(!dir.path().join("data").exists(), "no database was opened");

    // A flow mistake and an environment mistake: both exit 2, naming what to fix.
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/booking.toml"))
        .unwrap();
    std::fs::write(
        flows.join("booking.toml"),
        good.replacen("goto = \"pick_service\"", "goto = \"pick_servic\"", 1),
    )
    .unwrap();
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    let flows = flows.display().to_string();
    let out = run(
        dir.path(),
        &["config", "check"],
        &[("FLOWS_DIR", &flows), ("TEMPLATES_DIR", templates)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("booking.toml:"), "{}", stderr(&out));
    let out = run(
        dir.path(),
        &["config", "check"],
        &[("STORE_TIMEOUT_MS", "soon")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("STORE_TIMEOUT_MS"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_signed_test_webhook_reaches_a_sandboxed_bot_whose_reply_is_logged_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let secret = ("WHATSAPP_APP_SECRET", "test-webhook-secret");
    let mut server = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env(
            "SALON_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
        )
        .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
        .env("LISTEN_ADDR", &listen)
        .env("LOG_FORMAT", "json")
        .env(secret.0, secret.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    let reader = {
        let logs = logs.clone();
        let stdout = server.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                logs.lock().unwrap().push_str(&(line + "\n"));
            }
        })
    };
    let until = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "{what}: not within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("the server listens", &|| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let sent = run(
        dir.path(),
        &["send-test-webhook", "hola", "--phone", "+34600123456"],
        &[secret, ("LISTEN_ADDR", &listen)],
    );
    let said = String::from_utf8_lossy(&sent.stdout).into_owned();
    assert_eq!(sent.status.code(), Some(0), "{said}{}", stderr(&sent));
    assert!(said.contains("200"), "{said}");
    // The reply: fresh timestamp, so inside the 24-hour window; logged because it is sandboxed.
    until("the sandboxed reply in the log", &|| {
        logs.lock().unwrap().contains("Te damos la bienvenida")
    });
    let logged = logs.lock().unwrap().clone();
    let line = logged
        .lines()
        .find(|l| l.contains("sandbox: message recorded"))
        .unwrap_or_default();
    assert!(line.contains("Reservar cita"), "the choices too: {line}");
    assert!(!line.contains("600123456"), "the phone masked: {line}");

    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let _ = reader.join();
    let listed = run(dir.path(), &["outbox", "list", "--limit", "5"], &[]);
    let listed_out = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(
        listed_out.contains("Te damos la bienvenida"),
        "{listed_out}"
    );
    assert!(listed_out.contains("\tsent\t"), "{listed_out}");
}

#[test]
fn chat_refuses_the_servers_database_named_in_dot_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=sqlite://./server.db\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["chat", "--database-url", "sqlite://server.db"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("server's database"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("server.db").exists());
}

#[test]
fn stripe_reconcile_needs_a_key_and_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["stripe", "reconcile"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("STRIPE_SECRET_KEY is unset"),
        "{}",
        stderr(&out)
    );
    let out = run(
        dir.path(),
        &["stripe", "reconcile"],
        &[("STRIPE_SECRET_KEY", "sk_test_never_called")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no database at data/salonbot.db"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("data").exists(), "a database was created");
    assert!(!stderr(&out).contains("sk_test_never_called"));
}
