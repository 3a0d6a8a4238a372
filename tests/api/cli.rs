//! The binary itself: start-up errors, migrate, and graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");

#[test]
fn invalid_configuration_stops_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("WEBHOOK_MAX_BODY_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("WEBHOOK_MAX_BODY_BYTES"), "{stderr}");
}

#[test]
fn a_catalog_mistake_stops_start_up_naming_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("salon.toml");
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml")).unwrap();
    std::fs::write(
        &bad,
        good.replace(
            "time_zone = \"Europe/Madrid\"",
            "time_zone = \"Europe/Atlantis\"",
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a configuration problem, as for the environment"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("SALON_CONFIG"), "{stderr}");
    assert!(
        stderr.contains("time_zone") && stderr.contains("Atlantis"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_flow_stops_start_up_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).unwrap();
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/booking.toml"))
        .unwrap();
    std::fs::write(
        flows.join("booking.toml"),
        good.replacen("goto = \"pick_service\"", "goto = \"pick_servic\"", 1),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env(
            "SALON_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
        )
        .env("FLOWS_DIR", &flows)
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a configuration problem, as for the environment"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("booking.toml:"), "{stderr}");
    assert!(stderr.contains("pick_servic"), "{stderr}");
}

#[test]
fn migrate_creates_the_embedded_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("migrate")
        .current_dir(dir.path())
        .env_clear()
        .env("LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("data/salonbot.db").exists());
    // A command logs on stderr and keeps stdout for what it prints (nothing, for migrate).
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("migrations applied"), "{stderr}");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_runs_on_the_embedded_default_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "SALON_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
        )
        .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
        .env("LOG_FORMAT", "json")
        .env("WHATSAPP_APP_SECRET", "s3cr3t-value")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "the server listens");
    // Not ready (WHATSAPP_VERIFY_TOKEN unset): a 503 an orchestrator probes for again and again, so
    // not an error in the log each time.
    let ready = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .write_all(b"GET /health/ready HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));

    let mut logs = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains(&format!("127.0.0.1:{port}")),
        "says where it listens: {logs}"
    );
    assert!(
        logs.contains("whatsapp sending"),
        "says which integrations are on: {logs}"
    );
    assert!(!logs.contains("s3cr3t-value"), "never logs a secret");
    assert!(
        !logs.contains("\"level\":\"ERROR\""),
        "no error logged: {logs}"
    );
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON log lines");
    }
    assert!(dir.path().join("data/salonbot.db").exists());
}

/// Runs `salonbot ARGS` in `dir` on the database at `url`, with nothing else set.
fn on_database(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

#[test]
fn inbox_commands_do_not_migrate_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.db").display());
    let run = |args: &[&str]| on_database(dir.path(), &url, args);
    // Twice: had the first run migrated, the second would list.
    for _ in 0..2 {
        let out = run(&["inbox", "dead"]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("run `salonbot migrate`"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert!(run(&["migrate"]).status.success());
    let listed = run(&["inbox", "dead"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(
        String::from_utf8(listed.stdout).unwrap(),
        "no dead events\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_dead_lists_failed_events_and_replay_puts_them_back() {
    use salonbot::store::{EventKind, InboxStatus, NewInboxEvent, Provider, Store, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ops.db");
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect(
        &salonbot::config::DatabaseUrl::parse(&url).unwrap(),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
        .record_inbound(&[NewInboxEvent {
            said: None,
            provider: Provider::WhatsApp,
            provider_event_id: "wamid.ops".into(),
            business_id: "b".into(),
            conversation_key: "whatsapp:b:+34600123456".into(),
            kind: EventKind::Message,
            payload: "{}".into(),
            received_at: chrono::Utc::now(),
        }])
        .await
        .unwrap();
    let claimed = store
        .claim_inbox(chrono::Utc::now(), Duration::from_secs(60), 10)
        .await
        .unwrap();
    store
        .fail_inbox(
            claimed[0].id,
            claimed[0].attempts,
            "payload: missing field",
            None,
        )
        .await
        .unwrap();
    let run = |args: &[&str]| on_database(dir.path(), &url, args);
    let listed = run(&["inbox", "dead"]);
    assert!(listed.status.success());
    let stdout = String::from_utf8(listed.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{}\t", claimed[0].id)))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("payload: missing field"), "{line}");
    assert!(
        line.contains("********3456"),
        "the customer is masked: {line}"
    );

    let id = claimed[0].id.to_string();
    let replayed = run(&["inbox", "replay", &id]);
    assert!(replayed.status.success(), "{replayed:?}");
    let event = store
        .find_inbox_event(Provider::WhatsApp, "wamid.ops")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((event.status, event.attempts), (InboxStatus::Pending, 0));
    let again = run(&["inbox", "replay", &id]);
    assert!(!again.status.success(), "only dead events are replayed");
    assert!(String::from_utf8(again.stderr).unwrap().contains(&id));
}

#[test]
fn understand_prints_what_the_rules_read_from_a_message_as_one_json_object() {
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("understand")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    // Monday 23 November 2026, 10:00 in Madrid.
    let now = "2026-11-23T10:00:00+01:00";
    let read = run(&["quiero mechas con Lucía mañana a las 5", "--now", now]);
    assert_eq!(
        read,
        serde_json::json!({
            "language": "es", "intent": "book", "service": "highlights", "staff": "lucia",
            "date": "2026-11-24", "time_from": "17:00", "time_to": null,
            "service_options": [], "time_options": []
        })
    );
    let read = run(&["can I come thursday afternoon?", "--now", now]);
    assert_eq!(read["date"], "2026-11-26");
    assert_eq!(
        (&read["time_from"], &read["time_to"]),
        (&"12:00".into(), &"18:00".into())
    );
    assert_eq!(read["service"], serde_json::Value::Null);
    let read = run(&["ok", "--lang", "pt", "--now", now]);
    assert_eq!(read["intent"], "yes");
    assert_eq!(read["language"], serde_json::Value::Null);
    let read = run(&["quanto custa o corte?", "--now", now]);
    assert_eq!(read["intent"], "prices");
    assert_eq!(read["service"], serde_json::Value::Null);
    assert_eq!(
        read["service_options"],
        serde_json::json!(["cut-women", "cut-men"])
    );
}

#[test]
fn understand_refuses_a_time_that_is_not_rfc_3339() {
    let out = Command::new(BIN)
        .args(["understand", "hola", "--now", "tomorrow"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}
