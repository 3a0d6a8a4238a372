//! `salonbot doctor` against a migrated database, the fake Graph API, a running bot's handshake, and a
//! Graph API that hangs: one line per check, the right verdicts, exit 0 only when nothing failed,
//! no secret printed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::fake_graph::{FakeGraph, PHONE_NUMBER_ID, TOKEN};
use crate::helpers::{Backend, VERIFY_TOKEN, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_salonbot");

fn doctor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let out = Command::new(BIN)
        .arg("doctor")
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
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|l| l[6..].starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} line in:\n{report}"))
}

fn migrated(dir: &Path) -> String {
    let url = format!("sqlite://{}", dir.join("bot.db").display());
    migrate(&url);
    url
}

fn migrate(url: &str) {
    let out = Command::new(BIN)
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sound_deployment_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let url = migrated(dir.path());
    let graph = FakeGraph::start().await;
    graph.set_templates(&[
        ("recordatorio", "es", "APPROVED"),
        ("recordatorio", "en", "APPROVED"),
        ("hola_de_nuevo", "es", "APPROVED"),
        ("hola_de_nuevo_v2", "es", "REJECTED"),
    ]);
    let app = spawn_app(Backend::Sqlite).await;
    let base = graph.base();
    let public = app.url("");
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &["--public-url", &public],
            &[
                ("DATABASE_URL", &url),
                ("WHATSAPP_APP_SECRET", "a-secret"),
                ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
                ("WHATSAPP_ACCESS_TOKEN", TOKEN),
                ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
                ("WHATSAPP_API_BASE", &base),
                ("WHATSAPP_BUSINESS_ACCOUNT_ID", "102290129340398"),
                ("WHATSAPP_REMINDER_TEMPLATE", "recordatorio"),
                ("WHATSAPP_REENGAGEMENT_TEMPLATE", "hola_de_nuevo"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!report.contains("FAIL"), "{report}");
    assert!(
        line(&report, "database").contains("is migrated"),
        "{report}"
    );
    assert!(
        line(&report, "whatsapp sending").contains("Peluquería Malasaña"),
        "{report}"
    );
    assert!(
        line(&report, "whatsapp sending").contains("TIER_1K"),
        "{report}"
    );
    assert!(
        report.contains("recordatorio approved in es, en"),
        "{report}"
    );
    assert!(report.contains("hola_de_nuevo approved in es"), "{report}");
    assert!(
        line(&report, "webhook handshake").contains("answers Meta's challenge"),
        "{report}"
    );
    for secret in [TOKEN, VERIFY_TOKEN, "a-secret"] {
        assert!(!report.contains(secret), "a secret printed: {report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_problem_fails_its_check_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let graph = FakeGraph::start().await;
    graph.set_templates(&[("recordatorio", "es", "PENDING")]);
    let app = spawn_app(Backend::Sqlite).await;
    let base = graph.base();
    let public = app.url("");
    let missing_db = format!("sqlite://{}", dir.path().join("nope.db").display());
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &["--public-url", &public],
            &[
                ("DATABASE_URL", &missing_db),
                ("WHATSAPP_APP_SECRET", "a-secret"),
                ("WHATSAPP_VERIFY_TOKEN", "not-the-bots-token"),
                ("WHATSAPP_ACCESS_TOKEN", "EAAG-expired"),
                ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
                ("WHATSAPP_API_BASE", &base),
                ("WHATSAPP_BUSINESS_ACCOUNT_ID", "102290129340398"),
                ("WHATSAPP_REMINDER_TEMPLATE", "recordatorio"),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(line(&report, "database").starts_with("FAIL"), "{report}");
    assert!(
        line(&report, "database").contains("no database at"),
        "{report}"
    );
    let sending = line(&report, "whatsapp sending");
    assert!(
        sending.starts_with("FAIL") && sending.contains("new token"),
        "{report}"
    );
    assert!(
        line(&report, "whatsapp templates").starts_with("FAIL"),
        "{report}"
    );
    let handshake = line(&report, "webhook handshake");
    assert!(
        handshake.starts_with("FAIL") && handshake.contains("403"),
        "{report}"
    );
    assert!(!report.contains("EAAG-expired") && !report.contains("not-the-bots-token"));

    // A pending template with a working token: named as not approved.
    let dir = tempfile::tempdir().unwrap();
    let base = graph.base();
    let (_, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &[],
            &[
                ("WHATSAPP_ACCESS_TOKEN", TOKEN),
                ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
                ("WHATSAPP_API_BASE", &base),
                ("WHATSAPP_BUSINESS_ACCOUNT_ID", "102290129340398"),
                ("WHATSAPP_REMINDER_TEMPLATE", "recordatorio"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        line(&report, "whatsapp templates").contains("recordatorio is not approved: es PENDING"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_api_that_hangs_fails_within_the_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://{addr}/v21.0");
    let started = std::time::Instant::now();
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &["--timeout-seconds", "1"],
            &[
                ("WHATSAPP_ACCESS_TOKEN", TOKEN),
                ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
                ("WHATSAPP_API_BASE", &base),
            ],
        )
    })
    .await
    .unwrap();
    held.abort();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let sending = line(&report, "whatsapp sending");
    assert!(sending.starts_with("FAIL"), "{report}");
    assert!(
        sending.contains(&addr.to_string()),
        "names the URL it called: {report}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the check gave up on its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_is_checked_with_the_key_and_its_mode_said_plainly() {
    use crate::fake_stripe::{FakeStripe, KEY};

    let stripe = FakeStripe::start().await;
    let base = stripe.base();
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &[],
            &[
                ("STRIPE_SECRET_KEY", KEY),
                ("STRIPE_API_BASE", &base),
                ("STRIPE_WEBHOOK_SECRET", "whsec_doctor_one,whsec_doctor_two"),
            ],
        )
    })
    .await
    .unwrap();
    let key = line(&report, "stripe");
    assert!(key.starts_with("ok"), "{report}");
    assert!(key.contains("the key works, test mode"), "{report}");
    assert!(
        key.contains(&format!("GET {}/v1/balance", stripe.base())),
        "names the URL it called: {report}"
    );
    let webhook = line(&report, "stripe webhook");
    assert!(
        webhook.starts_with("ok") && webhook.contains("2 secret(s)"),
        "{report}"
    );
    let asked = stripe.requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        (asked[0].method.as_str(), asked[0].path.as_str()),
        ("GET", "/v1/balance")
    );
    for secret in [KEY, "whsec_doctor_one", "whsec_doctor_two"] {
        assert!(!report.contains(secret), "a secret printed: {report}");
    }

    // A key Stripe does not know (401), and no webhook secret: both fail, saying what to do.
    let dir = tempfile::tempdir().unwrap();
    let base = stripe.base();
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &[],
            &[
                ("STRIPE_SECRET_KEY", "sk_test_revoked_key"),
                ("STRIPE_API_BASE", &base),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let key = line(&report, "stripe");
    assert!(
        key.starts_with("FAIL") && key.contains("401") && key.contains("not a valid key"),
        "{report}"
    );
    let webhook = line(&report, "stripe webhook");
    assert!(
        webhook.starts_with("FAIL") && webhook.contains("STRIPE_WEBHOOK_SECRET unset"),
        "{report}"
    );
    assert!(!report.contains("sk_test_revoked_key"), "{report}");

    // No Stripe at all: deposits off, said as such.
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = tokio::task::spawn_blocking(move || doctor(dir.path(), &[], &[]))
        .await
        .unwrap();
    let off = line(&report, "stripe");
    assert!(
        off.starts_with("ok") && off.contains("STRIPE_SECRET_KEY unset"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_api_that_hangs_fails_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let base = format!("http://{addr}");
    let started = std::time::Instant::now();
    let (out, report) = tokio::task::spawn_blocking(move || {
        doctor(
            dir.path(),
            &["--timeout-seconds", "1"],
            &[
                ("STRIPE_SECRET_KEY", crate::fake_stripe::KEY),
                ("STRIPE_API_BASE", &base),
                ("STRIPE_WEBHOOK_SECRET", "whsec_doctor"),
            ],
        )
    })
    .await
    .unwrap();
    held.abort();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let stripe = line(&report, "stripe");
    assert!(stripe.starts_with("FAIL"), "{report}");
    assert!(stripe.contains("no answer within 1s"), "{report}");
    assert!(
        stripe.contains(&format!("GET http://{addr}/v1/balance")),
        "names the URL it called: {report}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the check gave up on its own"
    );
}

/// The `chatwoot` line of a doctor run against Chatwoot at `base` with `token` and `inbox`.
async fn chatwoot_line(base: String, token: &str, inbox: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (token, inbox) = (token.to_owned(), inbox.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let (_, report) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        doctor(
            dir.path(),
            &args,
            &[
                ("CHATWOOT_BASE_URL", &base),
                ("CHATWOOT_API_TOKEN", &token),
                ("CHATWOOT_ACCOUNT_ID", crate::fake_chatwoot::ACCOUNT),
                ("CHATWOOT_INBOX_ID", &inbox),
                ("CHATWOOT_WEBHOOK_SECRET", "cw-secret-not-to-print"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        line(&report, "chatwoot webhook").starts_with("ok"),
        "{report}"
    );
    assert!(!report.contains("cw-secret-not-to-print"), "{report}");
    line(&report, "chatwoot").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatwoot_token_and_inbox_are_checked_without_printing_secrets() {
    use crate::fake_chatwoot::{BOT_TOKEN, FakeChatwoot, INBOX, USER_TOKEN};
    let chatwoot = FakeChatwoot::start().await;
    let inbox = INBOX.to_string();
    let cases = [
        (
            "a user's token and the inbox",
            USER_TOKEN,
            inbox.as_str(),
            "ok",
            "exists",
        ),
        (
            "a wrong token",
            "cw-wrong-token",
            inbox.as_str(),
            "FAIL",
            "401",
        ),
        (
            "an agent bot's token",
            BOT_TOKEN,
            inbox.as_str(),
            "FAIL",
            "user's access token",
        ),
        ("a missing inbox", USER_TOKEN, "99", "FAIL", "no inbox 99"),
    ];
    for (case, token, inbox, level, says) in cases {
        let line = chatwoot_line(chatwoot.base(), token, inbox, &[]).await;
        assert!(line.starts_with(level), "{case}: {line}");
        assert!(line.contains(says), "{case}: {line}");
        assert!(
            line.contains(&chatwoot.base()),
            "{case}: names the URL: {line}"
        );
        assert!(!line.contains(token), "{case}: no token printed: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatwoot_that_hangs_fails_within_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let line = chatwoot_line(
        format!("http://{addr}"),
        crate::fake_chatwoot::USER_TOKEN,
        "3",
        &["--timeout-seconds", "1"],
    )
    .await;
    held.abort();
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains(&addr.to_string()), "names the URL: {line}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "gave up on its own"
    );
}

/// On Postgres the database check names the extension the migrations create, installed; and with
/// the salon's business configured, the calendar check finds bookings made outside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_extension_and_the_calendar_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::TestDb::new(Backend::Postgres).await;
    let url = db.url.clone();
    migrate(&url);
    let run = |url: String, dir: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            doctor(
                &dir,
                &[],
                &[
                    ("DATABASE_URL", &url),
                    ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
                ],
            )
            .1
        })
    };
    let report = run(url.clone(), dir.path().to_owned()).await.unwrap();
    assert!(
        line(&report, "database").contains("is migrated"),
        "{report}"
    );
    assert!(
        line(&report, "btree_gist").starts_with("ok") && report.contains("(no double booking)"),
        "{report}"
    );
    assert!(line(&report, "calendar").starts_with("ok"), "{report}");

    // A booking of the generic channel's made under its own number, as before every channel
    // shared the salon's calendar.
    let store = salonbot::store::Store::connect(
        &salonbot::config::DatabaseUrl::parse(&url).unwrap(),
        &salonbot::store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    let hold = salonbot::store::NewHold {
        business_id: "+34910000000".into(),
        conversation_key: "custom:+34910000000:+34600111222".into(),
        service_id: "cut-women".into(),
        staff_id: "lucia".into(),
        starts_at: start,
        ends_at: start + chrono::Duration::minutes(45),
        occupied_until: start + chrono::Duration::minutes(45),
        hold_expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        deposit_minor: 0,
    };
    store.hold_slot(&hold, chrono::Utc::now()).await.unwrap();
    let report = run(url, dir.path().to_owned()).await.unwrap();
    let calendar = line(&report, "calendar");
    assert!(
        calendar.starts_with("warn") && calendar.contains("1 upcoming booking(s)"),
        "{report}"
    );
}
