//! The staff pages in a real browser: headless Chromium driven over chromedriver (Debian's
//! `chromium` and `chromium-driver`). At a phone's width a member of staff logs in, books as a test
//! customer through the simulator page, finds the booking in the day view and cancels it, and
//! retries a dead letter; at a desktop's width the same pages are seen again. Screenshots of each
//! page are saved under `target/screenshots/`.
//!
//! Without Chromium or chromedriver the test says so and passes, except in CI (`CI=true`), where
//! `.ci/run` installs them and the test must run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use salonbot::booking::appointment::AppointmentStatus;
use salonbot::store::InboxStatus;
use serde_json::json;

use crate::admin::{TOKEN, admin_app, customer_says, execute};
use crate::helpers::{Backend, TestApp, wait_until};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let status = format!("http://127.0.0.1:{port}/status");
    wait_until(Duration::from_secs(20), "chromedriver ready", || async {
        reqwest::get(&status)
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    driver
}

/// A fresh headless Chromium of `width` x `height`, with a user-data folder of its own.
async fn browser(driver: &Driver, profile: &Path, width: u32, height: u32) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                format!("--window-size={width},{height}"),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session");
    client.set_window_size(width, height).await.unwrap();
    client
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the page's source contains `text`.
async fn page_shows(client: &Client, text: &str) -> String {
    wait_until(Duration::from_secs(20), text, || async {
        client.source().await.ok().filter(|s| s.contains(text))
    })
    .await
}

async fn log_in(client: &Client, app: &TestApp) {
    client.goto(&app.url("/admin")).await.unwrap();
    let token = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    token.send_keys(TOKEN).await.unwrap();
    client
        .find(Locator::Css("main form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_shows(client, "Times in Europe/Madrid").await;
}

/// Whether the browser test can run here; outside CI a missing browser is a reason to skip.
fn chromium_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        println!(
            "skipped: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
    }
    present
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_work_in_headless_chromium_at_phone_and_desktop_widths() {
    if !chromium_present() {
        return;
    }
    let app = admin_app(Backend::Sqlite).await;
    let dead = customer_says(&app, "wamid.browser.d1", "34600000051", "hola").await;
    execute(
        &app.store,
        "UPDATE inbox_events SET status = 'dead', last_error = 'boom' WHERE id = $1",
        dead,
    )
    .await;
    let driver = start_driver().await;
    let profiles = tempfile::tempdir().unwrap();

    // A phone: log in, book through the simulator, cancel from the day view, retry a dead letter.
    let phone = browser(&driver, &profiles.path().join("phone"), 390, 844).await;
    log_in(&phone, &app).await;
    phone.goto(&app.url("/admin/simulator")).await.unwrap();
    let text = phone
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("input[name=text]"))
        .await
        .unwrap();
    text.send_keys("hola").await.unwrap();
    phone
        .find(Locator::Css("button.primary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_shows(&phone, "name=\"choice\"").await;
    // Book, the first service, anyone, the second day offered, its first time, confirm.
    for n in [0, 0, 0, 1, 0, 0] {
        let before = phone.source().await.unwrap().matches("bubble out").count();
        phone
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&format!("button[name=choice][value=\"{n}\"]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_until(Duration::from_secs(20), "the bot's answer", || async {
            let source = phone.source().await.ok()?;
            (source.matches("bubble out").count() > before).then_some(())
        })
        .await;
    }
    shoot(&phone, "phone-simulator").await;
    let key = "whatsapp:simulator:+34600000000";
    let booked = app.store.conversation_appointments(key).await.unwrap();
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].status, AppointmentStatus::Confirmed);
    let id = booked[0].id;
    let day = booked[0]
        .starts_at
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();

    // The day view, reached with its date picker.
    phone.goto(&app.url("/admin")).await.unwrap();
    phone
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("input[type=date]"))
        .await
        .unwrap();
    phone
        .execute(
            "const picker = document.querySelector('input[type=date]'); \
             picker.value = arguments[0]; picker.form.submit();",
            vec![json!(day.to_string())],
        )
        .await
        .unwrap();
    page_shows(&phone, &format!("appointment-{id}")).await;
    let card = phone
        .find(Locator::Id(&format!("appointment-{id}")))
        .await
        .unwrap();
    assert!(card.text().await.unwrap().contains("Corte y peinado mujer"));
    shoot(&phone, "phone-day").await;
    card.find(Locator::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_shows(&phone, "Appointment cancelled.").await;
    let stored = app.store.appointment(id).await.unwrap().unwrap();
    assert_eq!(stored.status, AppointmentStatus::Cancelled);

    phone
        .goto(&app.url(&format!("/admin/conversations/{}", key.replace('+', "%2B"))))
        .await
        .unwrap();
    page_shows(&phone, "Hand to a person").await;
    shoot(&phone, "phone-conversation").await;

    phone.goto(&app.url("/admin/dead-letters")).await.unwrap();
    let row = phone
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id(&format!("inbox-{dead}")))
        .await
        .unwrap();
    shoot(&phone, "phone-dead-letters").await;
    row.find(Locator::Css("button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    page_shows(&phone, "Sent back to be handled again.").await;
    wait_until(
        Duration::from_secs(20),
        "the dead letter handled",
        || async {
            let e = app.store.inbox_event(dead).await.unwrap().unwrap();
            (e.status == InboxStatus::Done).then_some(())
        },
    )
    .await;
    phone.close().await.unwrap();

    // A desktop: the same pages, wide.
    let desktop = browser(&driver, &profiles.path().join("desktop"), 1280, 900).await;
    log_in(&desktop, &app).await;
    desktop
        .goto(&app.url(&format!("/admin?date={day}")))
        .await
        .unwrap();
    page_shows(&desktop, &format!("appointment-{id}")).await;
    shoot(&desktop, "desktop-day").await;
    desktop
        .goto(&app.url(&format!("/admin/conversations/{}", key.replace('+', "%2B"))))
        .await
        .unwrap();
    page_shows(&desktop, "Transcript").await;
    shoot(&desktop, "desktop-conversation").await;
    desktop.goto(&app.url("/admin/webhooks")).await.unwrap();
    page_shows(&desktop, "Webhook log").await;
    shoot(&desktop, "desktop-webhooks").await;
    desktop.goto(&app.url("/admin/stats")).await.unwrap();
    page_shows(&desktop, "<svg").await;
    shoot(&desktop, "desktop-stats").await;
    desktop.close().await.unwrap();
    for name in ["phone-day", "phone-conversation", "desktop-day"] {
        assert!(screenshots().join(format!("{name}.png")).exists());
    }
}
