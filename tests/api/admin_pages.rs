//! The staff pages over HTTP as a browser without JavaScript uses them: the login form and its
//! session cookie, CSRF tokens on every form, each page rendered, and the simulator's test customer
//! booking through the real path.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use salonbot::booking::appointment::AppointmentStatus;

use crate::admin::{TOKEN, admin_app, customer_says, execute};
use crate::both_backends;
use crate::helpers::{AppBuilder, Backend, TestApp};

/// A cookie jar and a client that does not follow redirects, so that each answer is seen.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn answer(&mut self, response: reqwest::Response) -> Answer {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let response = self
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let response = self
            .client
            .post(self.app.url(path))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    /// Logs in with the admin token through the login form.
    pub async fn log_in(&mut self) {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        let done = self
            .post("/admin/login", &[("csrf", &csrf), ("token", TOKEN)])
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert_eq!(done.location(), "/admin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_a_strict_http_only_session_and_logout_ends_it() {
    let app = admin_app(Backend::Sqlite).await;
    let mut browser = Browser::new(&app);
    let first = browser.get("/admin").await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location(), "/admin/login");

    let form = browser.get("/admin/login").await;
    let csrf = form.csrf();
    let done = browser
        .post("/admin/login", &[("csrf", &csrf), ("token", TOKEN)])
        .await;
    assert_eq!(done.status, 303);
    let session = done
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("salonbot_admin="))
        .unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
        "Path=/admin",
    ] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    assert!(!session.contains(TOKEN), "the token is not the cookie");

    let day = browser.get("/admin").await;
    assert_eq!(day.status, 200);
    assert!(day.body.contains("No appointments on this day."));
    let csrf = day.csrf();
    let out = browser.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(browser.get("/admin").await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_at_login_is_refused_and_spends_the_budget() {
    let app = AppBuilder::new(Backend::Sqlite)
        .var("ADMIN_TOKEN", TOKEN)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "2")
        .spawn()
        .await;
    let mut browser = Browser::new(&app);
    for _ in 0..2 {
        let form = browser.get("/admin/login").await;
        let csrf = form.csrf();
        let refused = browser
            .post("/admin/login", &[("csrf", &csrf), ("token", "guess")])
            .await;
        assert_eq!(refused.status, 401);
        assert!(refused.body.contains("That is not the admin token."));
        assert!(!browser.cookies.contains_key("salonbot_admin"));
    }
    let form = browser.get("/admin/login").await;
    let csrf = form.csrf();
    let throttled = browser
        .post("/admin/login", &[("csrf", &csrf), ("token", TOKEN)])
        .await;
    assert_eq!(throttled.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let app = admin_app(Backend::Sqlite).await;
    let id = customer_says(&app, "wamid.page.c1", "34600000031", "hola").await;
    execute(
        &app.store,
        "UPDATE inbox_events SET status = 'dead', last_error = 'boom' WHERE id = $1",
        id,
    )
    .await;
    let mut browser = Browser::new(&app);
    // The login form itself needs its token.
    let _ = browser.get("/admin/login").await;
    let no_token = browser.post("/admin/login", &[("token", TOKEN)]).await;
    assert_eq!(no_token.status, 403);

    browser.log_in().await;
    let path = format!("/admin/dead-letters/inbox-{id}/discard");
    for csrf in [None, Some("0123abcd"), Some("")] {
        let form: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
        let refused = browser.post(&path, &form).await;
        assert_eq!(refused.status, 403, "{csrf:?}");
    }
    let still = app.store.inbox_event(id).await.unwrap().unwrap();
    assert_eq!(still.status, salonbot::store::InboxStatus::Dead);

    // Another session's token is no good either.
    let mut other = Browser::new(&app);
    other.log_in().await;
    let theirs = other.get("/admin/dead-letters").await.csrf();
    assert_eq!(browser.post(&path, &[("csrf", &theirs)]).await.status, 403);

    let page = browser.get("/admin/dead-letters").await;
    assert!(page.body.contains(&format!("inbox-{id}")));
    assert!(page.body.contains("boom"));
    let done = browser.post(&path, &[("csrf", &page.csrf())]).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), "/admin/dead-letters?note=discarded");
    let after = browser.get(done.location()).await;
    assert!(after.body.contains("Discarded."));
    assert!(!after.body.contains(&format!("inbox-{id}")));
}

async fn every_page_renders(backend: Backend) {
    let app = admin_app(backend).await;
    customer_says(&app, "wamid.page.r1", "34600000041", "hola").await;
    let _ = app.audit_records(1).await;
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    for (path, expected) in [
        ("/admin", "Times in Europe/Madrid"),
        ("/admin?date=2026-03-02", "2026-03-03"),
        ("/admin/conversations", "********0041"),
        (
            "/admin/conversations/whatsapp:106540352242922:%2B34600000041",
            "hola",
        ),
        ("/admin/dead-letters", "Inbox events (0)"),
        ("/admin/webhooks?provider=whatsapp", "accepted"),
        ("/admin/simulator", "+34600000000"),
        ("/admin/stats", "<svg"),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains(expected), "{path}: {}", page.body);
        assert!(page.body.contains("name=\"viewport\""), "{path}");
    }
    let bad = browser.get("/admin?date=tomorrow").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("'date'"));

    // Hand the conversation to a person and back, from its page.
    let path = "/admin/conversations/whatsapp:106540352242922:%2B34600000041";
    let page = browser.get(path).await;
    assert!(page.body.contains("Hand to a person"));
    let done = browser
        .post(&format!("{path}/human"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(done.status, 303);
    let page = browser.get(done.location()).await;
    assert!(page.body.contains("Give back to the bot"), "{}", page.body);
    let done = browser
        .post(&format!("{path}/bot"), &[("csrf", &page.csrf())])
        .await;
    let page = browser.get(done.location()).await;
    assert!(page.body.contains("Hand to a person"), "{}", page.body);
}
both_backends!(
    every_staff_page_renders_for_a_signed_in_session,
    every_page_renders
);

/// Taps the `n`-th choice (from 0) the simulator page offers, and says its title.
async fn tap(browser: &mut Browser<'_>, n: usize) -> String {
    let page = browser.get("/admin/simulator").await;
    let marker = format!("name=\"choice\" value=\"{n}\">");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no choice {n} in {}", page.body));
    let rest = &page.body[at + marker.len()..];
    let title = rest[..rest.find("</button>").unwrap()].to_owned();
    let done = browser
        .post(
            "/admin/simulator",
            &[("csrf", &page.csrf()), ("choice", &n.to_string())],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    title
}

/// Writes `text` as the simulator's test customer and returns the page that follows.
pub async fn simulator_says(browser: &mut Browser<'_>, text: &str) -> Answer {
    let page = browser.get("/admin/simulator").await;
    let sent = browser
        .post(
            "/admin/simulator",
            &[("csrf", &page.csrf()), ("text", text)],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    browser.get("/admin/simulator").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_books_through_the_real_path_and_the_day_view_cancels_it() {
    let app = admin_app(Backend::Sqlite).await;
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    let page = simulator_says(&mut browser, "hola").await;
    assert!(page.body.contains("bubble in"), "{}", page.body);
    assert!(page.body.contains("bubble out"), "{}", page.body);

    // Book, service, anyone, the second day offered (today may have no time left), its first
    // time, confirm.
    let mut taps = Vec::new();
    for n in [0, 0, 0, 1, 0, 0] {
        taps.push(tap(&mut browser, n).await);
    }
    let key = "whatsapp:simulator:+34600000000";
    let booked = app.store.conversation_appointments(key).await.unwrap();
    assert_eq!(booked.len(), 1, "{taps:?}");
    let appointment = &booked[0];
    assert_eq!(
        appointment.status,
        salonbot::booking::appointment::AppointmentStatus::Confirmed,
        "{taps:?}"
    );
    let day = appointment
        .starts_at
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();
    let view = browser.get(&format!("/admin?date={day}")).await;
    let card = format!("id=\"appointment-{}\"", appointment.id);
    assert!(view.body.contains(&card), "{}", view.body);
    assert!(view.body.contains("Corte y peinado mujer"), "{}", view.body);
    assert!(view.body.contains("s-confirmed"));
    assert!(view.body.contains("********0000"));

    let cancelled = browser
        .post(
            &format!("/admin/appointments/{}/status", appointment.id),
            &[
                ("csrf", &view.csrf()),
                ("date", &day.to_string()),
                ("status", "cancelled"),
            ],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let view = browser.get(cancelled.location()).await;
    assert!(view.body.contains("Appointment cancelled."));
    assert!(view.body.contains("s-cancelled"));
    let stored = app
        .store
        .appointment(appointment.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.status,
        salonbot::booking::appointment::AppointmentStatus::Cancelled
    );
    // The simulated customer's replies were recorded, never sent: sandbox ids.
    let sent = app.store.recent_outbox(Some(key), 50).await.unwrap();
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .filter_map(|o| o.wamid.as_deref())
            .all(|w| w.starts_with("sandbox."))
    );
}

/// The simulator takes a deposit as a customer's booking would, but in the Stripe sandbox: with the
/// salon's Stripe configured, nothing reaches it; the page offers to pay the link, and paying it
/// confirms the booking through the same news as a real payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_deposit_is_paid_in_the_sandbox_never_at_the_salons_stripe() {
    let stripe = crate::fake_stripe::FakeStripe::start().await;
    let app = AppBuilder::new(Backend::Sqlite)
        .var("ADMIN_TOKEN", TOKEN)
        .var("WHATSAPP_RECIPIENT_GAP_MS", "0")
        .var("STRIPE_SECRET_KEY", crate::fake_stripe::KEY)
        .var("STRIPE_API_BASE", &stripe.base())
        .var("STRIPE_WEBHOOK_SECRET", "whsec_simulator_test")
        .spawn()
        .await;
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    simulator_says(&mut browser, "quiero mechas").await;
    // Lucía, the second day offered, its first time, confirm.
    let mut taps = Vec::new();
    for n in [0, 1, 0, 0] {
        taps.push(tap(&mut browser, n).await);
    }
    let key = "whatsapp:simulator:+34600000000";
    let booked = app.store.conversation_appointments(key).await.unwrap();
    assert_eq!(booked.len(), 1, "{taps:?}");
    assert_eq!(
        booked[0].status,
        AppointmentStatus::PendingPayment,
        "{taps:?}"
    );
    let page = browser.get("/admin/simulator").await;
    assert!(
        page.body
            .contains("sandbox.salonbot.invalid/pay/cs_sandbox_"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"pay\""), "{}", page.body);

    let paid = browser
        .post("/admin/simulator", &[("csrf", &page.csrf()), ("pay", "1")])
        .await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    let stored = app.store.appointment(booked[0].id).await.unwrap().unwrap();
    assert_eq!(stored.status, AppointmentStatus::Confirmed);
    let page = browser.get("/admin/simulator").await;
    assert!(page.body.contains("Pago recibido"), "{}", page.body);
    assert!(!page.body.contains("name=\"pay\""), "{}", page.body);
    assert!(
        stripe.requests().is_empty(),
        "the salon's Stripe was called: {:?}",
        stripe.requests()
    );
}

async fn walk_ins_are_booked_with_the_bots_availability(backend: Backend) {
    let app = AppBuilder::new(backend)
        .var("ADMIN_TOKEN", TOKEN)
        .var("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
        .spawn()
        .await;
    let (day, slot, time) = a_free_cut();

    let mut browser = Browser::new(&app);
    browser.log_in().await;
    let view = browser.get(&format!("/admin?date={day}")).await;
    let form = [
        ("csrf", view.csrf()),
        ("date", day.to_string()),
        ("service", "cut-women".to_owned()),
        ("staff", slot.staff.as_str().to_owned()),
        ("time", time.clone()),
        ("phone", "+34600000061".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let booked = browser.post("/admin/walk-ins", &form).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let view = browser.get(booked.location()).await;
    assert!(view.body.contains("Booked."), "{}", view.body);
    assert!(view.body.contains("s-confirmed"));
    assert!(
        view.body.contains(&format!("<strong>{time}")),
        "{}",
        view.body
    );
    let key = "whatsapp:106540352242922:+34600000061";
    let stored = app.store.conversation_appointments(key).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].starts_at, slot.start);

    // The same person at the same time is no longer free.
    let again = browser.post("/admin/walk-ins", &form).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let mut bad = form.clone();
    bad[4] = ("time", "25:00");
    let refused = browser.post("/admin/walk-ins", &bad).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("'time'"));
    assert!(
        refused.body.starts_with("<!doctype html>"),
        "{}",
        refused.body
    );

    // The operator API lists it with names, the masked phone and no deposit.
    let (status, listed) = crate::admin::api(&app, &format!("/api/appointments?date={day}")).await;
    assert_eq!(status, 200);
    let first = &listed["data"][0];
    assert_eq!(first["service"], "Corte y peinado mujer");
    assert_eq!(first["staff_id"], slot.staff.as_str());
    assert_eq!(first["status"], "confirmed");
    assert_eq!(first["customer"], "********0061");
    assert_eq!(first["deposit"], "none");
    assert_eq!(first["start"], time);

    // Cancelled from the day view through its conversation, which never started: cancelled, and
    // nobody written to.
    let shown = cancel_from_the_day_view(&mut browser, &stored[0], None).await;
    assert!(!shown.body.contains("customer is told"), "{}", shown.body);
    let after = app.store.appointment(stored[0].id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Cancelled);
    assert!(
        app.store
            .recent_outbox(Some(key), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
both_backends!(
    walk_ins_are_booked_with_the_same_availability_and_guarantee_as_the_bot,
    walk_ins_are_booked_with_the_bots_availability
);

/// The salon's cancellation from the day view, of `appointment` on its day, with the deposit
/// `choice` (`refund`, `keep`, or none: as the policy says); the day view it lands on.
async fn cancel_from_the_day_view(
    browser: &mut Browser<'_>,
    appointment: &salonbot::store::Appointment,
    choice: Option<&str>,
) -> Answer {
    let day = appointment
        .starts_at
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive()
        .to_string();
    let view = browser.get(&format!("/admin?date={day}")).await;
    assert!(
        view.body
            .contains(&format!("id=\"appointment-{}\"", appointment.id)),
        "{}",
        view.body
    );
    let path = format!("/admin/appointments/{}/status", appointment.id);
    let csrf = view.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("date", day.as_str()),
        ("status", "cancelled"),
    ];
    if let Some(choice) = choice {
        form.push(("deposit", choice));
    }
    // Without the session's CSRF token nothing is cancelled.
    let forged = browser
        .post(&path, &[("csrf", "forged"), ("status", "cancelled")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let done = browser.post(&path, &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let shown = browser.get(done.location()).await;
    assert!(
        shown.body.contains("Appointment cancelled."),
        "{}",
        shown.body
    );
    shown
}

/// Cancels `booked` from the day view with the policy's choice, and returns what the customer is
/// told, once the page said they would be: the salon's cancellation.
async fn told_of_the_salons_cancel(
    browser: &mut Browser<'_>,
    customer: &mut crate::conversations::Customer<'_>,
    booked: &salonbot::store::Appointment,
) -> (serde_json::Value, String) {
    let shown = cancel_from_the_day_view(browser, booked, None).await;
    assert!(
        shown.body.contains("The customer is told."),
        "{}",
        shown.body
    );
    let told = customer.wait_for(1).await.remove(0);
    let text = crate::conversations::text_of(&told).to_owned();
    assert!(
        text.contains("El salón ha tenido que cancelar tu cita"),
        "{told}"
    );
    (told, text)
}

/// A booking without a deposit cancelled from the day view: cancelled in the customer's
/// conversation, the customer told that the salon cancelled it, no deposit spoken of.
async fn the_day_view_cancels_through_the_conversation(backend: Backend) {
    let graph = crate::fake_graph::FakeGraph::start().await;
    let app = crate::conversations::builder(backend, &graph)
        .var("ADMIN_TOKEN", TOKEN)
        .spawn()
        .await;
    let mut ana = crate::conversations::Customer::new(&app, &graph, "34600333041");
    crate::conversations::up_to_confirm(&mut ana, "cut-women", "lucia", 1).await;
    ana.tap("yes").await;
    let booked = ana.appointments().await.remove(0);
    assert_eq!(booked.status, AppointmentStatus::Confirmed);
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    let (told, text) = told_of_the_salons_cancel(&mut browser, &mut ana, &booked).await;
    assert!(!text.contains("señal"), "{told}");
    let after = app.store.appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Cancelled);
    // Stored in the conversation's lane and handled there, like the customer's own messages.
    let events = app
        .store
        .conversation_events(&ana.conversation_key())
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == salonbot::event::EventKind::Staff
                && e.status == salonbot::store::InboxStatus::Done),
        "{events:?}"
    );
    // Once cancelled there is nothing more to cancel.
    let page = browser.get("/admin").await;
    let again = browser
        .post(
            &format!("/admin/appointments/{}/status", booked.id),
            &[("csrf", &page.csrf()), ("status", "cancelled")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
}
both_backends!(
    admin_cancel_without_deposit,
    the_day_view_cancels_through_the_conversation
);

/// A paid deposit in the free window: the day view offers both ways, refunding as the policy's;
/// cancelled with the refund, Stripe is asked for it with the PaymentIntent and the amount, the
/// customer hears that the salon refunded the deposit and cancelled, and the appointment is
/// `refunded` once Stripe confirms; Stripe's own webhook of the refund changes nothing more.
async fn the_day_view_cancels_and_refunds_a_paid_deposit(backend: Backend) {
    let (app, graph, stripe, _salon) =
        crate::deposits::app_with_policy_and(backend, 24, "keep", &[("ADMIN_TOKEN", TOKEN)]).await;
    let mut ana = crate::conversations::Customer::new(&app, &graph, "34600333042");
    let (booked, intent) = crate::deposits::book_and_pay(&app, &mut ana, &stripe).await;
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    let day = booked
        .starts_at
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();
    let view = browser.get(&format!("/admin?date={day}")).await;
    assert!(
        view.body.contains("Cancel and refund the deposit"),
        "{}",
        view.body
    );
    assert!(view.body.contains("Cancel and keep the deposit"));
    assert!(view.body.contains("policy: refund (more than 24 h before)"));

    let shown = cancel_from_the_day_view(&mut browser, &booked, Some("refund")).await;
    assert!(
        shown.body.contains("The deposit is being refunded"),
        "{}",
        shown.body
    );
    let told = ana.wait_for(1).await.remove(0);
    assert!(
        crate::conversations::text_of(&told)
            .contains("El salón te ha devuelto la señal de 20 € y ha cancelado tu cita"),
        "{told}"
    );
    crate::deposits::settled(&app, &ana).await;
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1, "one refund");
    assert_eq!(refunds[0]["amount"], 2000);
    assert_eq!(refunds[0]["payment_intent"], intent.as_str());
    let after = app.store.appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Refunded);
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        payment.refund_status,
        Some(salonbot::booking::payment::RefundStatus::Succeeded)
    );

    let refunded = crate::deposits::charge_event(
        "charge.refunded",
        &intent,
        &[("amount_refunded", 2000.into()), ("refunded", true.into())],
    );
    let before = graph.delivered_to(&ana.phone()).len();
    assert_eq!(
        crate::stripe_ingress::post_event(&app, &refunded)
            .await
            .status(),
        200
    );
    crate::deposits::settled(&app, &ana).await;
    assert_eq!(stripe.refunds().len(), 1);
    let after = app.store.appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Refunded);
    let said: Vec<String> = graph.delivered_to(&ana.phone())[before..]
        .iter()
        .map(|m| crate::conversations::text_of(m).to_owned())
        .collect();
    assert!(
        said.iter().all(|t| !t.contains("El salón")),
        "told once: {said:?}"
    );
}
both_backends!(
    admin_cancel_refunded,
    the_day_view_cancels_and_refunds_a_paid_deposit
);

/// A paid deposit cancelled late, the policy keeping it: the day view says so, the salon keeps
/// it, nothing is asked of Stripe, and the customer hears the salon cancelled without a word of a
/// refund.
async fn the_day_view_cancels_and_keeps_a_late_deposit(backend: Backend) {
    // Every bookable time is inside 2,000 hours: every cancellation is late.
    let (app, graph, stripe, _salon) =
        crate::deposits::app_with_policy_and(backend, 2000, "keep", &[("ADMIN_TOKEN", TOKEN)])
            .await;
    let mut ana = crate::conversations::Customer::new(&app, &graph, "34600333043");
    let (booked, _) = crate::deposits::book_and_pay(&app, &mut ana, &stripe).await;
    let mut browser = Browser::new(&app);
    browser.log_in().await;
    let day = booked
        .starts_at
        .with_timezone(&chrono_tz::Europe::Madrid)
        .date_naive();
    let view = browser.get(&format!("/admin?date={day}")).await;
    assert!(
        view.body
            .contains("policy: keep (late, under 2000 h before)"),
        "{}",
        view.body
    );
    // No choice sent: the policy's.
    let (told, text) = told_of_the_salons_cancel(&mut browser, &mut ana, &booked).await;
    assert!(!text.contains("devuelto"), "{told}");
    crate::deposits::settled(&app, &ana).await;
    assert!(stripe.refunds().is_empty(), "the deposit is kept");
    let after = app.store.appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Cancelled);
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        (payment.status, payment.refund_status),
        (salonbot::booking::payment::PaymentStatus::Paid, None)
    );
}
both_backends!(
    admin_cancel_kept,
    the_day_view_cancels_and_keeps_a_late_deposit
);

/// The first free time for a women's cut within a week (from tomorrow: today may have none left),
/// with nothing booked: its day, the slot, and its time in the salon's zone.
fn a_free_cut() -> (
    chrono::NaiveDate,
    salonbot::booking::availability::Slot,
    String,
) {
    use salonbot::booking::availability::{StaffChoice, free_slots};
    use salonbot::booking::catalog::ServiceId;
    let catalog = salonbot::booking::catalog::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/salon.toml"
    )))
    .unwrap();
    let tz = catalog.salon().time_zone;
    let now = chrono::Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let service = ServiceId::new("cut-women");
    let (day, slot) = (1..8)
        .map(|d| today + chrono::Duration::days(d))
        .find_map(|day| {
            free_slots(&catalog, &service, StaffChoice::Anyone, day, now, &[])
                .into_iter()
                .next()
                .map(|slot| (day, slot))
        })
        .expect("a free time within a week");
    let time = slot.start.with_timezone(&tz).format("%H:%M").to_string();
    (day, slot, time)
}

/// Books a walk-in from the day view of `day`, as a signed-in member of the staff.
async fn book_walk_in(app: &TestApp, day: chrono::NaiveDate, staff: &str, time: &str) -> Answer {
    let mut browser = Browser::new(app);
    browser.log_in().await;
    let view = browser.get(&format!("/admin?date={day}")).await;
    let day = day.to_string();
    let csrf = view.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("date", day.as_str()),
        ("service", "cut-women"),
        ("staff", staff),
        ("time", time),
        ("phone", "+34600000062"),
    ];
    browser.post("/admin/walk-ins", &form).await
}

/// A walk-in is booked in the salon's calendar: under Chatwoot's account in channel mode without a
/// WhatsApp number of the bot's own (where the customers' bookings are too), and refused with what
/// to set when the configuration names no salon business at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_in_goes_in_the_salons_calendar_or_says_what_names_it() {
    let (day, slot, time) = a_free_cut();
    let walk_in = |app| book_walk_in(app, day, slot.staff.as_str(), &time);
    let channel = AppBuilder::new(Backend::Sqlite)
        .var("ADMIN_TOKEN", TOKEN)
        .var("CHATWOOT_MODE", "channel")
        .var("CHATWOOT_BASE_URL", "http://127.0.0.1:9")
        .var("CHATWOOT_API_TOKEN", "bot-token")
        .var("CHATWOOT_ACCOUNT_ID", "7")
        .var("CHATWOOT_WEBHOOK_SECRET", "cw-secret")
        .spawn()
        .await;
    let booked = walk_in(&channel).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let stored = channel
        .store
        .conversation_appointments("whatsapp:chatwoot-7:+34600000062")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].business_id, "chatwoot-7");

    let unnamed = AppBuilder::new(Backend::Sqlite)
        .var("ADMIN_TOKEN", TOKEN)
        .spawn()
        .await;
    let refused = walk_in(&unnamed).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("WHATSAPP_PHONE_NUMBER_ID"),
        "{}",
        refused.body
    );
}
