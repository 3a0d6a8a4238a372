//! Deposits end to end: signed WhatsApp webhooks into the real app, the Checkout Session created at
//! the local fake of Stripe's API by the outbox, its link sent to the customer as a call-to-action
//! button, Stripe's signed events through `/webhooks/stripe`, and what the customer hears and the
//! appointment becomes.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use salonbot::booking::appointment::AppointmentStatus;
use salonbot::booking::payment::PaymentStatus;
use salonbot::store::{Appointment, InboxStatus, NewHold, NewPayment, OutboundStatus, Provider};
use serde_json::Value;

use crate::both_backends;
use crate::conversations::{Customer, builder, button_ids, text_of, up_to_confirm};
use crate::fake_graph::FakeGraph;
use crate::fake_stripe::{self, Answer, FakeStripe};
use crate::helpers::{Backend, TestApp, wait_until};
use crate::stripe_ingress::{WEBHOOK_SECRET, fixture, post_event};

/// An app answering through the fake Graph API and taking deposits at the fake Stripe.
async fn app(backend: Backend) -> (TestApp, FakeGraph, FakeStripe) {
    let graph = FakeGraph::start().await;
    let stripe = FakeStripe::start().await;
    let app = builder(backend, &graph)
        .var("STRIPE_SECRET_KEY", fake_stripe::KEY)
        .var("STRIPE_API_BASE", &stripe.base())
        .var("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .spawn()
        .await;
    (app, graph, stripe)
}

/// A Stripe event of type `kind` about the session as the fake has it now.
fn session_event(stripe: &FakeStripe, kind: &str, session: &str) -> Value {
    let mut event = fixture("checkout.session.completed");
    event["id"] = Value::from(format!("evt_{}", uuid::Uuid::new_v4().simple()));
    event["type"] = Value::from(kind);
    event["data"]["object"] = stripe.session(session).expect("a session of the fake");
    event
}

/// Messages the bot sends from `so_far` on, until one says `text`; all of them.
async fn until_said(customer: &mut Customer<'_>, mut so_far: Vec<Value>, text: &str) -> Vec<Value> {
    while !so_far.iter().any(|m| text_of(m).contains(text)) {
        so_far.extend(customer.wait_for(1).await);
    }
    so_far
}

/// The customer's deposit appointment and its session at the fake, once the link is out.
async fn book_until_the_link(
    ana: &mut Customer<'_>,
    stripe: &FakeStripe,
) -> (Appointment, String, Value) {
    up_to_confirm(ana, "highlights", "lucia", 2).await;
    // "One moment", then the link (which may come before the first is acknowledged).
    let mut said = ana.tap("yes").await;
    while said.len() < 2 {
        said.extend(ana.wait_for(1).await);
    }
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(text_of(&said[0]).contains("señal de 20 €"), "{}", said[0]);
    let link = said.remove(1);
    let appointment = ana.appointments().await.remove(0);
    let id = appointment.id.to_string();
    let sessions: Vec<Value> = stripe
        .sessions()
        .into_iter()
        .filter(|s| s["metadata"]["appointment_id"] == id.as_str())
        .collect();
    assert_eq!(sessions.len(), 1, "one session");
    (
        appointment,
        sessions[0]["id"].as_str().unwrap().to_owned(),
        link,
    )
}

async fn books_pays_and_is_confirmed(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222001");
    let (held, session_id, link) = book_until_the_link(&mut ana, &stripe).await;

    // The hold waits for its deposit, as long as the payment page lasts.
    assert_eq!(held.status, AppointmentStatus::PendingPayment);
    assert_eq!(held.deposit_minor, 2000);
    let session = stripe.session(&session_id).unwrap();
    let expires_at = session["expires_at"].as_i64().unwrap();
    assert!(expires_at >= Utc::now().timestamp() + 29 * 60, "{session}");
    assert_eq!(
        held.hold_expires_at.map(|t| t.timestamp()),
        Some(expires_at)
    );
    // The session as the issue asks for it.
    let create = stripe
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/checkout/sessions")
        .unwrap();
    let id = held.id.to_string();
    for (key, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "2000"),
        ("line_items[0][price_data][product_data][name]", "Mechas"),
        ("metadata[appointment_id]", id.as_str()),
        ("payment_intent_data[metadata][appointment_id]", id.as_str()),
        ("client_reference_id", id.as_str()),
        ("locale", "es"),
        ("success_url", "https://wa.me/34910000000"),
        ("cancel_url", "https://wa.me/34910000000"),
    ] {
        assert_eq!(create.field(key), Some(value), "{key}");
    }
    assert_eq!(create.idempotency_key, Some(format!("stripe.session.{id}")));
    // The link reaches the customer as a call-to-action button.
    assert_eq!(link["interactive"]["type"], "cta_url", "{link}");
    assert_eq!(
        link["interactive"]["action"]["parameters"]["url"], session["url"],
        "{link}"
    );
    assert!(text_of(&link).contains("20 €"), "{link}");
    // Stripe is asked again when the page runs out.
    let check = format!("{}/payment_check:{}", ana.conversation_key(), held.id);
    assert_eq!(
        app.store
            .timer_due(&check)
            .await
            .unwrap()
            .map(|t| t.timestamp()),
        Some(expires_at)
    );

    // The customer pays on Checkout; Stripe's signed event arrives.
    let intent = stripe.pay(&session_id);
    let completed = session_event(&stripe, "checkout.session.completed", &session_id);
    assert_eq!(post_event(&app, &completed).await.status(), 200);
    let confirmation = ana.wait_for(1).await.remove(0);
    let text = text_of(&confirmation);
    for expected in ["20 €", "Mechas", "Lucía", "Calle del Espíritu Santo 12"] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    let booked = ana.appointments().await.remove(0);
    assert_eq!(
        (booked.id, booked.status),
        (held.id, AppointmentStatus::Confirmed)
    );
    let payment = app.store.payment(held.id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Paid);
    assert_eq!(payment.payment_intent.as_deref(), Some(intent.as_str()));
    assert_eq!(payment.session_id.as_deref(), Some(session_id.as_str()));
    // The reminder is set, as for any booking.
    let reminder = format!(
        "{}/reminder:{}",
        ana.conversation_key(),
        booked.starts_at.timestamp()
    );
    assert_eq!(
        app.store.timer_due(&reminder).await.unwrap(),
        Some(booked.starts_at - Span::hours(24))
    );
    // The same news again, as another event: applied, and it changes nothing and says nothing.
    let written = app
        .store
        .outbox_for_recipient(&ana.phone())
        .await
        .unwrap()
        .len();
    let again = session_event(
        &stripe,
        "checkout.session.async_payment_succeeded",
        &session_id,
    );
    assert_eq!(post_event(&app, &again).await.status(), 200);
    let id = again["id"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(10), "the news applied", || async {
        app.store
            .find_inbox_event(Provider::Stripe, &id)
            .await
            .unwrap()
            .filter(|e| e.status == InboxStatus::Done)
    })
    .await;
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::Confirmed
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_payments_total{outcome="paid"} 1"#),
        "{metrics}"
    );
    let now_written = app
        .store
        .outbox_for_recipient(&ana.phone())
        .await
        .unwrap()
        .len();
    assert_eq!(now_written, written, "nothing more is said");
}
both_backends!(paid, books_pays_and_is_confirmed);

async fn stripe_down_while_the_session_is_asked_for_creates_it_once_when_back(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    // Three answers of 500: the client's immediate retries are spent, the outbox tries again.
    stripe.script([
        Answer::server_error(),
        Answer::server_error(),
        Answer::server_error(),
    ]);
    let mut ana = Customer::new(&app, &graph, "34600222002");
    let (held, session_id, _) = book_until_the_link(&mut ana, &stripe).await;
    let creates: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/checkout/sessions")
        .collect();
    assert!(creates.len() >= 4, "{} requests", creates.len());
    let key = format!("stripe.session.{}", held.id);
    assert!(
        creates
            .iter()
            .all(|r| r.idempotency_key.as_deref() == Some(key.as_str()))
    );
    assert_eq!(stripe.sessions().len(), 1);
    let payment = app.store.payment(held.id).await.unwrap().unwrap();
    assert_eq!(payment.session_id.as_deref(), Some(session_id.as_str()));
    assert_eq!(payment.status, PaymentStatus::Open);
}
both_backends!(
    stripe_down,
    stripe_down_while_the_session_is_asked_for_creates_it_once_when_back
);

/// A held appointment with its deposit, and the outbox row that asks Stripe for its Checkout
/// Session, written at `written`.
struct SessionRow {
    _db: crate::helpers::TestDb,
    store: salonbot::store::Store,
    stripe: FakeStripe,
    client: salonbot::stripe::StripeClient,
    appointment: i64,
    row_key: String,
}

const SESSION_CONVERSATION: &str = "whatsapp:106540352242922:+34600222003";

async fn session_row(backend: Backend, written: chrono::DateTime<Utc>) -> SessionRow {
    use salonbot::stripe::StripeClient;
    use salonbot::stripe::client::RetryBudget;
    use salonbot::worker::payment_calls::PaymentCall;

    let db = crate::helpers::TestDb::new(backend).await;
    let store = db.store().await;
    let stripe = FakeStripe::start().await;
    let now = Utc::now();
    let key = SESSION_CONVERSATION;
    let start = now + Span::days(3);
    let held = store
        .hold_slot(
            &NewHold {
                business_id: "106540352242922".into(),
                conversation_key: key.into(),
                service_id: "highlights".into(),
                staff_id: "lucia".into(),
                starts_at: start,
                ends_at: start + Span::minutes(90),
                occupied_until: start + Span::minutes(90),
                hold_expires_at: written + Span::minutes(10),
                deposit_minor: 2000,
            },
            written,
        )
        .await
        .unwrap();
    store
        .insert_payment(
            &NewPayment {
                appointment_id: held.id,
                business_id: "106540352242922".into(),
                conversation_key: key.into(),
                amount_minor: 2000,
                currency: "EUR".into(),
            },
            written,
        )
        .await
        .unwrap();
    let call = PaymentCall::CreateSession {
        appointment_id: held.id,
        amount: 2000,
        currency: "eur".into(),
        name: "Mechas".into(),
        locale: Some("es".into()),
        hold_until: written + Span::minutes(10),
        success_url: "https://wa.me/34910000000".into(),
        cancel_url: "https://wa.me/34910000000".into(),
    };
    let row_key = format!("stripe.session.{}", held.id);
    store
        .enqueue_outbox(&[call.row(row_key.clone(), "106540352242922", key, written)])
        .await
        .unwrap();
    let client = StripeClient::new(
        &stripe.base(),
        salonbot::config::Secret::new(fake_stripe::KEY),
        RetryBudget::default(),
        salonbot::telemetry::Metrics::new(),
    )
    .unwrap();
    SessionRow {
        _db: db,
        store,
        stripe,
        client,
        appointment: held.id,
        row_key,
    }
}

impl SessionRow {
    /// The checkout session request exactly as the row's first try makes it.
    fn first_try(&self, expires_at: i64) -> salonbot::stripe::wire::CheckoutSessionOut {
        salonbot::stripe::wire::CheckoutSessionOut {
            appointment_id: self.appointment,
            amount: 2000,
            currency: "eur".into(),
            name: "Mechas".into(),
            locale: Some("es".into()),
            expires_at,
            success_url: "https://wa.me/34910000000".into(),
            cancel_url: "https://wa.me/34910000000".into(),
        }
    }

    /// Claims the row at `at` and sends it through the payment sender.
    async fn send(&self, at: chrono::DateTime<Utc>) {
        use salonbot::stripe::StripeApi;
        use salonbot::worker::payment_calls::PaymentSender;
        use salonbot::worker::retry::RetryPolicy;

        let claimed = self
            .store
            .claim_outbox(at, at + Span::minutes(2), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the row is claimed");
        let sender = PaymentSender::new(
            self.store.clone(),
            Some(StripeApi::Live(self.client.clone())),
            Default::default(),
        );
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(1),
            jitter: 0.0,
        };
        sender.send(&claimed[0], 10, policy).await.unwrap();
    }

    /// The row is sent, Stripe's session is recorded for the appointment and its news waits in
    /// the conversation's lane; returns the session's id.
    async fn assert_settled(&self) -> String {
        let payment = self.store.payment(self.appointment).await.unwrap().unwrap();
        let session = payment.session_id.expect("the session recorded");
        let row = self
            .store
            .outbox_for_recipient(&format!("stripe:{SESSION_CONVERSATION}"))
            .await
            .unwrap();
        assert_eq!(row[0].status, OutboundStatus::Sent);
        let news = self
            .store
            .find_inbox_event(Provider::Stripe, &format!("salonbot:{}", self.row_key))
            .await
            .unwrap()
            .expect("the session's news in the conversation's lane");
        assert_eq!(news.conversation_key, SESSION_CONVERSATION);
        assert_eq!(news.status, InboxStatus::Pending);
        assert_eq!(news.payload["data"]["object"]["id"], session.as_str());
        session
    }
}

/// A crash between Stripe's answer and the commit that records it: the call is made (its answer
/// lost), and the row, whose claim then ends, is made again with the same key, seconds later:
/// it repeats the first try's parameters, so Stripe answers with the same session, and no second
/// one exists.
async fn a_crash_between_the_call_and_its_settling_makes_no_second_session(backend: Backend) {
    let now = Utc::now();
    let written = now - Span::seconds(10);
    let case = session_row(backend, written).await;
    // The first try: Stripe creates the session; the process dies before recording it.
    let lost = case
        .client
        .create_checkout_session(
            &case.first_try((written + Span::minutes(31)).timestamp()),
            &case.row_key,
        )
        .await
        .unwrap();
    // Its claim ends; another dispatcher takes the row and makes the call again.
    case.send(now + Span::minutes(2) + Span::seconds(1)).await;

    assert_eq!(case.stripe.sessions().len(), 1, "no second session");
    assert_eq!(case.assert_settled().await, lost.id);
}
both_backends!(
    crash,
    a_crash_between_the_call_and_its_settling_makes_no_second_session
);

/// A row sent long after it was written (Stripe was down, say): the expiry worked out from its
/// writing has come too close for Stripe, which refuses it and keeps nothing for the key; the
/// session is then asked for with an expiry from now, under the same key, and made once.
async fn a_session_asked_for_late_gets_an_expiry_from_now(backend: Backend) {
    let now = Utc::now();
    let case = session_row(backend, now - Span::minutes(5)).await;
    case.send(now).await;

    let sessions = case.stripe.sessions();
    assert_eq!(sessions.len(), 1, "one session");
    let expires = sessions[0]["expires_at"].as_i64().unwrap();
    let from_now = expires - Utc::now().timestamp();
    assert!(
        (30 * 60..=32 * 60).contains(&from_now),
        "expires {from_now} s from now"
    );
    assert_eq!(
        case.assert_settled().await,
        sessions[0]["id"].as_str().unwrap()
    );
    let asked: Vec<String> = case
        .stripe
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/checkout/sessions")
        .filter_map(|r| {
            r.form
                .iter()
                .find(|(name, _)| name == "expires_at")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        asked,
        vec![
            ((now - Span::minutes(5)) + Span::minutes(31))
                .timestamp()
                .to_string(),
            expires.to_string()
        ],
        "the expiry from the row's writing refused, then one from now"
    );
}
both_backends!(
    late_session,
    a_session_asked_for_late_gets_an_expiry_from_now
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stripe_a_deposit_service_books_without_one() {
    let graph = FakeGraph::start().await;
    let app = builder(Backend::Sqlite, &graph).spawn().await;
    let mut ana = Customer::new(&app, &graph, "34600222004");
    up_to_confirm(&mut ana, "highlights", "lucia", 2).await;
    let confirmed = ana.tap("yes").await;
    assert!(
        text_of(&confirmed[0]).starts_with("¡Listo!"),
        "{}",
        confirmed[0]
    );
    assert_eq!(button_ids(&confirmed[0]), Vec::<String>::new());
    let booked = ana.appointments().await.remove(0);
    assert_eq!(booked.status, AppointmentStatus::Confirmed);
    assert_eq!(booked.deposit_minor, 0);
    assert!(app.store.payment(booked.id).await.unwrap().is_none());
}

/// Waits until the inbox holds no open event of the conversation (its news applied) and no
/// message or call of it is left to make.
pub(crate) async fn settled(app: &TestApp, customer: &Customer<'_>) {
    let key = customer.conversation_key();
    // The conversation's Stripe calls and messages, as (id, status).
    let rows = || async {
        let calls = app
            .store
            .outbox_for_recipient(&format!("stripe:{key}"))
            .await
            .unwrap();
        let messages = app
            .store
            .outbox_for_recipient(&customer.phone())
            .await
            .unwrap();
        calls
            .into_iter()
            .chain(messages)
            .map(|m| (m.id, m.status))
            .collect::<Vec<_>>()
    };
    wait_until(
        Duration::from_secs(30),
        "the conversation settled",
        || async {
            // Rows, events, rows again: a settled Stripe call stores its news in the same
            // transaction, and a turn its replies with the event's end, so nothing can slip
            // between the reads when the rows read the same on both sides.
            let before = rows().await;
            let events = app.store.conversation_events(&key).await.unwrap();
            let after = rows().await;
            let open_rows = after.iter().any(|(_, status)| {
                matches!(status, OutboundStatus::Pending | OutboundStatus::Sending)
            });
            let open_events = events
                .iter()
                .any(|e| !matches!(e.status, InboxStatus::Done | InboxStatus::Dead));
            (before == after && !open_events && !open_rows).then_some(())
        },
    )
    .await;
}

/// Moves the check of the deposit's session to now, as if its time were up.
async fn page_runs_out(app: &TestApp, customer: &Customer<'_>, appointment: i64) {
    let key = format!(
        "{}/payment_check:{appointment}",
        customer.conversation_key()
    );
    let payment = app.store.payment(appointment).await.unwrap().unwrap();
    app.store
        .schedule_timer(
            &salonbot::store::NewTimer {
                key,
                business_id: payment.business_id,
                conversation_key: payment.conversation_key,
                kind: "payment_check".into(),
                payload: serde_json::json!({"timer": "payment_check", "appointment": appointment}),
                due_at: Utc::now(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
}

async fn an_expired_page_lets_the_time_go_and_offers_another(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222011");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    stripe.expire(&session);
    let expired = session_event(&stripe, "checkout.session.expired", &session);
    assert_eq!(post_event(&app, &expired).await.status(), 200);
    let told = ana.wait_for(1).await.remove(0);
    assert!(text_of(&told).contains("liberado la hora"), "{told}");
    assert_eq!(button_ids(&told), ["again", "menu"]);
    let after = ana.appointments().await.remove(0);
    assert_eq!(
        (after.id, after.status),
        (held.id, AppointmentStatus::Expired)
    );
    let payment = app.store.payment(held.id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Expired);
    // Offered to try again: service and staff are kept, the days are offered.
    let days = ana.tap("again").await;
    assert!(!crate::conversations::choices(&days).is_empty());
}
both_backends!(expired, an_expired_page_lets_the_time_go_and_offers_another);

async fn a_slow_method_keeps_the_time_until_it_settles_either_way(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    // Settles: confirmed.
    let mut ana = Customer::new(&app, &graph, "34600222012");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    let mut unpaid = session_event(&stripe, "checkout.session.completed", &session);
    unpaid["data"]["object"]["status"] = "complete".into();
    unpaid["data"]["object"]["payment_status"] = "unpaid".into();
    assert_eq!(post_event(&app, &unpaid).await.status(), 200);
    settled(&app, &ana).await;
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::PendingPayment
    );
    assert_eq!(
        app.store.payment(held.id).await.unwrap().unwrap().status,
        PaymentStatus::Processing
    );
    stripe.pay(&session);
    let succeeded = session_event(
        &stripe,
        "checkout.session.async_payment_succeeded",
        &session,
    );
    assert_eq!(post_event(&app, &succeeded).await.status(), 200);
    let told = ana.wait_for(1).await.remove(0);
    assert!(text_of(&told).starts_with("¡Pago recibido"), "{told}");
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::Confirmed
    );

    // Fails: the time is let go, the customer told.
    let mut bea = Customer::new(&app, &graph, "34600222013");
    let (held, session, _) = book_until_the_link(&mut bea, &stripe).await;
    let mut failed = session_event(&stripe, "checkout.session.async_payment_failed", &session);
    failed["data"]["object"]["status"] = "complete".into();
    assert_eq!(post_event(&app, &failed).await.status(), 200);
    let told = bea.wait_for(1).await.remove(0);
    assert!(text_of(&told).contains("liberado la hora"), "{told}");
    let after = bea.appointments().await.remove(0);
    assert_eq!(
        (after.id, after.status),
        (held.id, AppointmentStatus::Expired)
    );
    assert_eq!(
        app.store.payment(held.id).await.unwrap().unwrap().status,
        PaymentStatus::Failed
    );
}
both_backends!(
    slow_method,
    a_slow_method_keeps_the_time_until_it_settles_either_way
);

async fn a_held_time_given_up_has_its_page_closed_at_stripe(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222014");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    let menu = ana.say("menú").await;
    assert!(
        text_of(&menu[0]).contains("Peluquería Malasaña"),
        "{}",
        menu[0]
    );
    settled(&app, &ana).await;
    assert_eq!(stripe.session(&session).unwrap()["status"], "expired");
    let expire = stripe
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/expire"))
        .expect("the session expired at Stripe");
    assert!(
        expire
            .idempotency_key
            .unwrap()
            .starts_with(&format!("stripe.expire.{}.", held.id))
    );
    let after = ana.appointments().await.remove(0);
    assert_eq!(after.status, AppointmentStatus::Cancelled);
    assert_eq!(
        app.store.payment(held.id).await.unwrap().unwrap().status,
        PaymentStatus::Expired
    );
    assert!(
        !graph
            .delivered_to(&ana.phone())
            .iter()
            .any(|m| text_of(m).contains("liberado")),
        "the customer chose to leave: nothing more is said"
    );
}
both_backends!(given_up, a_held_time_given_up_has_its_page_closed_at_stripe);

/// The customer paid, and then (before the news was applied) gave the time up: closing the page
/// finds it paid, which is a payment; the time is still free, so the booking stands.
async fn paid_just_before_giving_up_is_a_late_payment_that_confirms_while_free(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222015");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    let intent = stripe.pay(&session);
    let menu = ana.say("menú").await;
    let told = until_said(&mut ana, menu, "Pago recibido").await;
    assert!(
        text_of(told.last().unwrap()).starts_with("¡Pago recibido"),
        "{told:?}"
    );
    let after = ana.appointments().await.remove(0);
    assert_eq!(
        (after.id, after.status),
        (held.id, AppointmentStatus::Confirmed)
    );
    let payment = app.store.payment(held.id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Paid);
    assert_eq!(payment.payment_intent.as_deref(), Some(intent.as_str()));
    assert!(stripe.refunds().is_empty());
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"salonbot_payments_total{outcome="late_paid"} 1"#),
        "{metrics}"
    );
}
both_backends!(
    late_free,
    paid_just_before_giving_up_is_a_late_payment_that_confirms_while_free
);

/// Paid after the time was let go and someone else booked it: refunded exactly once, whatever
/// Stripe repeats, and the nearest free times of that day offered.
async fn paid_late_for_a_time_someone_took_is_refunded_once(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222016");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    ana.say("menú").await;
    settled(&app, &ana).await;
    // Bea takes the time Ana let go.
    let mut bea = Customer::new(&app, &graph, "34600222017");
    up_to_confirm(&mut bea, "highlights", "lucia", 2).await;
    let bea_hold = bea.appointments().await.remove(0);
    assert_eq!(bea_hold.starts_at, held.starts_at, "the same time");
    // Ana's payment went through at the last moment; its news arrives now, twice.
    stripe.pay(&session);
    let completed = session_event(&stripe, "checkout.session.completed", &session);
    assert_eq!(post_event(&app, &completed).await.status(), 200);
    let succeeded = session_event(
        &stripe,
        "checkout.session.async_payment_succeeded",
        &session,
    );
    assert_eq!(post_event(&app, &succeeded).await.status(), 200);
    let told = ana.wait_for(2).await;
    assert!(
        text_of(&told[0]).contains("otra persona la ha reservado"),
        "{}",
        told[0]
    );
    assert_eq!(button_ids(&told[0]), ["again", "menu"]);
    assert!(
        text_of(&told[1]).contains("Te hemos devuelto la señal de 20 €"),
        "{}",
        told[1]
    );
    settled(&app, &ana).await;
    // The nearest free times, from there.
    let days = ana.tap("again").await;
    assert!(!crate::conversations::choices(&days).is_empty(), "{days:?}");
    assert_eq!(stripe.refunds().len(), 1, "exactly one refund");
    let refund = &stripe.refunds()[0];
    assert_eq!(refund["amount"], 2000);
    let payment = app.store.payment(held.id).await.unwrap().unwrap();
    assert_eq!(
        refund["payment_intent"].as_str(),
        payment.payment_intent.as_deref()
    );
    assert_eq!(
        payment.refund_status,
        Some(salonbot::booking::payment::RefundStatus::Succeeded)
    );
    let after = app.store.appointment(held.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Refunded);
    assert_eq!(
        app.store
            .appointment(bea_hold.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Held,
        "Bea keeps the time"
    );
}
both_backends!(
    late_taken,
    paid_late_for_a_time_someone_took_is_refunded_once
);

/// When the page's time is up Stripe is asked before the time is let go: still open, it is closed
/// and the time let go; paid meanwhile (its webhook lost), the booking is confirmed.
async fn at_the_pages_end_stripe_is_asked_before_the_time_is_let_go(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222018");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    page_runs_out(&app, &ana, held.id).await;
    let told = ana.wait_for(1).await.remove(0);
    assert!(text_of(&told).contains("liberado la hora"), "{told}");
    assert_eq!(stripe.session(&session).unwrap()["status"], "expired");
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::Expired
    );

    let mut bea = Customer::new(&app, &graph, "34600222019");
    let (held, session, _) = book_until_the_link(&mut bea, &stripe).await;
    stripe.pay(&session);
    // No webhook: Stripe's news of the payment was lost.
    page_runs_out(&app, &bea, held.id).await;
    let told = bea.wait_for(1).await.remove(0);
    assert!(text_of(&told).starts_with("¡Pago recibido"), "{told}");
    assert_eq!(
        bea.appointments().await[0].status,
        AppointmentStatus::Confirmed
    );
    let asked = stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/v1/checkout/sessions/{session}"))
        .count();
    assert_eq!(
        asked, 1,
        "closing found it paid, and Stripe was asked what it is"
    );
}
both_backends!(
    page_end,
    at_the_pages_end_stripe_is_asked_before_the_time_is_let_go
);

/// An app like [`app`]'s whose salon's cancellation policy is `free_until_hours` and
/// `late_deposit` (the rest of `salon.toml` as it is).
async fn app_with_policy(
    backend: Backend,
    free_until_hours: u32,
    late_deposit: &str,
) -> (TestApp, FakeGraph, FakeStripe, tempfile::TempDir) {
    app_with_policy_and(backend, free_until_hours, late_deposit, &[]).await
}

/// [`app_with_policy`] with more variables set (`ADMIN_TOKEN` for the staff pages).
pub(crate) async fn app_with_policy_and(
    backend: Backend,
    free_until_hours: u32,
    late_deposit: &str,
    vars: &[(&str, &str)],
) -> (TestApp, FakeGraph, FakeStripe, tempfile::TempDir) {
    let salon = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"))
        .unwrap()
        .replace(
            "free_until_hours = 24",
            &format!("free_until_hours = {free_until_hours}"),
        )
        .replace(
            "late_deposit = \"keep\"",
            &format!("late_deposit = \"{late_deposit}\""),
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salon.toml");
    std::fs::write(&path, salon).unwrap();
    let graph = FakeGraph::start().await;
    let stripe = FakeStripe::start().await;
    let mut builder = builder(backend, &graph)
        .var("SALON_CONFIG", path.to_str().unwrap())
        .var("STRIPE_SECRET_KEY", fake_stripe::KEY)
        .var("STRIPE_API_BASE", &stripe.base())
        .var("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET);
    for (name, value) in vars {
        builder = builder.var(name, value);
    }
    let app = builder.spawn().await;
    (app, graph, stripe, dir)
}

/// Books a deposit service and pays it through Stripe's signed event: the confirmed appointment
/// and the PaymentIntent that paid it.
pub(crate) async fn book_and_pay(
    app: &TestApp,
    customer: &mut Customer<'_>,
    stripe: &FakeStripe,
) -> (Appointment, String) {
    let (held, session, _) = book_until_the_link(customer, stripe).await;
    let intent = stripe.pay(&session);
    let completed = session_event(stripe, "checkout.session.completed", &session);
    assert_eq!(post_event(app, &completed).await.status(), 200);
    let told = customer.wait_for(1).await.remove(0);
    assert!(text_of(&told).starts_with("¡Pago recibido"), "{told}");
    let booked = app.store.appointment(held.id).await.unwrap().unwrap();
    assert_eq!(booked.status, AppointmentStatus::Confirmed);
    (booked, intent)
}

/// From "mis citas" to the question before cancelling `appointment`: what the customer is told.
async fn ask_to_cancel(customer: &mut Customer<'_>, appointment: i64) -> Value {
    let mine = customer.say("mis citas").await;
    let rows = crate::conversations::choices(&mine);
    assert_eq!(rows, [format!("a{appointment}")]);
    customer.choose(&rows[0]).await;
    let ask = customer.tap("cancel").await.remove(0);
    assert_eq!(button_ids(&ask), ["yes", "no"], "{ask}");
    ask
}

/// A Stripe event about a charge of `intent`: `kind` from its fixture, with `fields` of the object
/// set, and an id of its own.
pub(crate) fn charge_event(kind: &str, intent: &str, fields: &[(&str, Value)]) -> Value {
    let mut event = fixture(kind);
    event["id"] = Value::from(format!("evt_{}", uuid::Uuid::new_v4().simple()));
    event["data"]["object"]["payment_intent"] = Value::from(intent);
    for (key, value) in fields {
        event["data"]["object"][*key] = value.clone();
    }
    event
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// Cancelling in the free window: told before saying yes that the deposit comes back; the refund
/// asked of Stripe with the PaymentIntent and the whole deposit; the appointment `refunded` once
/// Stripe says so, and the customer told once, whatever Stripe's own events repeat.
async fn cancelling_in_the_free_window_refunds_the_deposit(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222031");
    let (booked, intent) = book_and_pay(&app, &mut ana, &stripe).await;

    let ask = ask_to_cancel(&mut ana, booked.id).await;
    assert!(text_of(&ask).contains("te la devolvemos"), "{ask}");
    assert!(
        stripe.refunds().is_empty(),
        "nothing before the customer says yes"
    );
    let done = ana.tap("yes").await;
    let told = until_said(&mut ana, done, "Te hemos devuelto la señal de 20 €").await;
    assert!(text_of(&told[0]).contains("cancelada"), "{}", told[0]);
    settled(&app, &ana).await;

    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1, "one refund");
    assert_eq!(refunds[0]["amount"], 2000);
    assert_eq!(refunds[0]["payment_intent"], intent.as_str());
    let asked = stripe
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/refunds")
        .unwrap();
    assert_eq!(
        asked.idempotency_key,
        Some(format!("stripe.refund.{}.1", booked.id))
    );
    assert_eq!(
        asked.field("metadata[appointment_id]"),
        Some(booked.id.to_string().as_str())
    );
    let after = app.store.appointment(booked.id).await.unwrap().unwrap();
    assert_eq!(after.status, AppointmentStatus::Refunded);
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        payment.refund_status,
        Some(salonbot::booking::payment::RefundStatus::Succeeded)
    );
    assert_eq!(payment.refund_requested, 2000);

    // Stripe's own news of the same refund: nothing changes, nothing more is said.
    let said = graph.delivered_to(&ana.phone()).len();
    let refunded = charge_event(
        "charge.refunded",
        &intent,
        &[("amount_refunded", 2000.into()), ("refunded", true.into())],
    );
    assert_eq!(post_event(&app, &refunded).await.status(), 200);
    let mut updated = fixture("refund.updated");
    updated["id"] = Value::from(format!("evt_{}", uuid::Uuid::new_v4().simple()));
    updated["data"]["object"]["payment_intent"] = Value::from(intent.as_str());
    updated["data"]["object"]["status"] = "succeeded".into();
    updated["data"]["object"]["metadata"] =
        serde_json::json!({"appointment_id": booked.id.to_string()});
    assert_eq!(post_event(&app, &updated).await.status(), 200);
    settled(&app, &ana).await;
    assert_eq!(graph.delivered_to(&ana.phone()).len(), said);
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Refunded
    );
    let metrics = metrics(&app).await;
    for line in [
        r#"salonbot_refunds_total{outcome="requested"} 1"#,
        r#"salonbot_refunds_total{outcome="succeeded"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    assert!(!metrics.contains(r#"outcome="by_salon""#), "{metrics}");
}
both_backends!(
    cancel_free,
    cancelling_in_the_free_window_refunds_the_deposit
);

/// Cancelling later than the free window, with `late_deposit = "keep"`: the customer is told the
/// deposit is kept before saying yes, and nothing is refunded; with `"refund"` it is.
async fn cancelling_late_keeps_or_refunds_the_deposit_as_the_policy_says(backend: Backend) {
    // Every bookable time is inside 2,000 hours: every cancellation is late.
    let (app, graph, stripe, _salon) = app_with_policy(backend, 2000, "keep").await;
    let mut ana = Customer::new(&app, &graph, "34600222032");
    let (booked, _) = book_and_pay(&app, &mut ana, &stripe).await;
    let ask = ask_to_cancel(&mut ana, booked.id).await;
    assert!(
        text_of(&ask).contains("no podemos devolverte la señal"),
        "{ask}"
    );
    let done = ana.tap("yes").await;
    assert!(text_of(&done[0]).contains("cancelada"), "{}", done[0]);
    settled(&app, &ana).await;
    assert!(stripe.refunds().is_empty(), "the deposit is kept");
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        (payment.status, payment.refund_status),
        (PaymentStatus::Paid, None)
    );
    drop(app);

    let (app, graph, stripe, _salon) = app_with_policy(backend, 2000, "refund").await;
    let mut bea = Customer::new(&app, &graph, "34600222033");
    let (booked, intent) = book_and_pay(&app, &mut bea, &stripe).await;
    let ask = ask_to_cancel(&mut bea, booked.id).await;
    assert!(text_of(&ask).contains("te la devolvemos"), "{ask}");
    let done = bea.tap("yes").await;
    until_said(&mut bea, done, "Te hemos devuelto la señal").await;
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (
            refunds[0]["amount"].as_i64(),
            refunds[0]["payment_intent"].as_str()
        ),
        (Some(2000), Some(intent.as_str()))
    );
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Refunded
    );
}
both_backends!(
    cancel_late,
    cancelling_late_keeps_or_refunds_the_deposit_as_the_policy_says
);

/// A refund Stripe reports failed stays visible (the deposit's refund status, the metric) and is
/// asked for again later, under a key of its own; the appointment stays cancelled, not refunded.
async fn a_failed_refund_stays_visible_and_is_asked_for_again(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222034");
    let (booked, _) = book_and_pay(&app, &mut ana, &stripe).await;
    stripe.refund_with("failed");
    ask_to_cancel(&mut ana, booked.id).await;
    ana.tap("yes").await;
    // The next attempt waits an hour: the conversation never settles meanwhile.
    wait_until(
        Duration::from_secs(30),
        "the refund's failure applied",
        || async {
            app.store
                .payment(booked.id)
                .await
                .unwrap()
                .filter(|p| p.refund_attempts == 2)
        },
    )
    .await;

    assert_eq!(stripe.refunds().len(), 1);
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(
        payment.refund_status,
        Some(salonbot::booking::payment::RefundStatus::Failed)
    );
    assert_eq!(payment.refund_attempts, 2);
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    let again = app
        .store
        .outbox_for_recipient(&format!("stripe:{}", ana.conversation_key()))
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.idempotency_key == format!("stripe.refund.{}.2", booked.id))
        .expect("the refund asked for again");
    assert_eq!(again.status, OutboundStatus::Pending);
    assert!(
        again.next_attempt_at > Utc::now() + Span::minutes(50),
        "later, not at once: {}",
        again.next_attempt_at
    );
    assert!(
        !graph
            .delivered_to(&ana.phone())
            .iter()
            .any(|m| text_of(m).contains("devuelto")),
        "nobody is told of a refund that has not happened"
    );
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"salonbot_refunds_total{outcome="failed"} 1"#),
        "{metrics}"
    );

    // Time passes (each row claimed as a dispatcher would then): the second attempt fails too and
    // a third is asked for, two hours later; that one goes through.
    let client = salonbot::stripe::StripeClient::new(
        &stripe.base(),
        salonbot::config::Secret::new(fake_stripe::KEY),
        salonbot::stripe::client::RetryBudget::default(),
        salonbot::telemetry::Metrics::new(),
    )
    .unwrap();
    let sender = salonbot::worker::payment_calls::PaymentSender::new(
        app.store.clone(),
        Some(salonbot::stripe::StripeApi::Live(client)),
        Default::default(),
    );
    let policy = salonbot::worker::retry::RetryPolicy {
        base: Duration::from_secs(1),
        max: Duration::from_secs(1),
        jitter: 0.0,
    };
    for (attempt, after) in [(2, Span::minutes(61)), (3, Span::minutes(200))] {
        if attempt == 3 {
            stripe.refund_with("succeeded");
        }
        let later = Utc::now() + after;
        let due = app
            .store
            .claim_outbox(later, later + Span::minutes(2), 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(
            due[0].idempotency_key,
            format!("stripe.refund.{}.{attempt}", booked.id)
        );
        sender.send(&due[0], 10, policy).await.unwrap();
        if attempt == 2 {
            wait_until(
                Duration::from_secs(30),
                "the third attempt asked for",
                || async {
                    app.store
                        .payment(booked.id)
                        .await
                        .unwrap()
                        .filter(|p| p.refund_attempts == 3)
                },
            )
            .await;
        }
    }
    let told = until_said(&mut ana, Vec::new(), "Te hemos devuelto la señal de 20 €").await;
    assert_eq!(told.len(), 1, "{told:?}");
    settled(&app, &ana).await;
    let asked: Vec<_> = stripe
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/refunds")
        .collect();
    assert_eq!(asked.len(), 3);
    for (n, request) in asked.iter().enumerate() {
        let attempt = (n + 1).to_string();
        assert_eq!(request.field("metadata[attempt]"), Some(attempt.as_str()));
        assert_eq!(
            request.idempotency_key,
            Some(format!("stripe.refund.{}.{attempt}", booked.id))
        );
    }
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Refunded
    );
    assert_eq!(
        app.store
            .payment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .refund_status,
        Some(salonbot::booking::payment::RefundStatus::Succeeded)
    );
}
both_backends!(
    refund_failed,
    a_failed_refund_stays_visible_and_is_asked_for_again
);

/// Refunds made by the salon in Stripe's dashboard and a dispute, through the signed webhook: a
/// partial refund is recorded and the booking stands; a dispute flags the deposit; the full refund
/// cancels the appointment and the customer is told.
async fn the_salons_own_refunds_and_a_dispute_through_the_webhook(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222035");
    let (booked, intent) = book_and_pay(&app, &mut ana, &stripe).await;
    let said = graph.delivered_to(&ana.phone()).len();

    let partial = charge_event(
        "charge.refunded",
        &intent,
        &[("amount_refunded", 500.into()), ("refunded", false.into())],
    );
    assert_eq!(post_event(&app, &partial).await.status(), 200);
    settled(&app, &ana).await;
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Confirmed
    );
    assert_eq!(
        app.store
            .payment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .amount_refunded,
        500
    );

    let dispute = charge_event("charge.dispute.created", &intent, &[]);
    assert_eq!(post_event(&app, &dispute).await.status(), 200);
    settled(&app, &ana).await;
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert!(payment.disputed);
    assert_eq!(payment.last_error.as_deref(), Some("general"));
    assert_eq!(
        graph.delivered_to(&ana.phone()).len(),
        said,
        "neither is said to the customer"
    );

    let full = charge_event(
        "charge.refunded",
        &intent,
        &[("amount_refunded", 2000.into()), ("refunded", true.into())],
    );
    assert_eq!(post_event(&app, &full).await.status(), 200);
    let told = ana.wait_for(1).await.remove(0);
    assert!(
        text_of(&told).contains("El salón te ha devuelto la señal de 20 €"),
        "{told}"
    );
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Refunded
    );
    assert!(
        stripe.refunds().is_empty(),
        "the salon refunded, not the bot"
    );
    let metrics = metrics(&app).await;
    for line in [
        r#"salonbot_refunds_total{outcome="partial"} 1"#,
        r#"salonbot_refunds_total{outcome="by_salon"} 1"#,
        r#"salonbot_payments_total{outcome="disputed"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
}
both_backends!(
    salon_refunds,
    the_salons_own_refunds_and_a_dispute_through_the_webhook
);

/// Moving a paid appointment keeps its deposit: the same appointment, still paid, no new session
/// and no refund.
async fn rescheduling_keeps_the_deposit(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222036");
    let (booked, intent) = book_and_pay(&app, &mut ana, &stripe).await;
    let mine = ana.say("mis citas").await;
    ana.choose(&crate::conversations::choices(&mine)[0]).await;
    let days = ana.tap("reschedule").await;
    let day = crate::conversations::choices(&days)[1].clone();
    let times = ana.choose(&day).await;
    let time = crate::conversations::choices(&times)[0].clone();
    let moved = ana.choose(&time).await;
    assert!(text_of(&moved[0]).starts_with("¡Cambiada!"), "{}", moved[0]);
    settled(&app, &ana).await;

    let after = ana.appointments().await;
    assert_eq!(after.len(), 1, "the same appointment, moved");
    assert_eq!(
        (after[0].id, after[0].status, after[0].deposit_minor),
        (booked.id, AppointmentStatus::Confirmed, 2000)
    );
    assert_ne!(after[0].starts_at, booked.starts_at);
    let payment = app.store.payment(booked.id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Paid);
    assert_eq!(payment.payment_intent.as_deref(), Some(intent.as_str()));
    assert_eq!(stripe.sessions().len(), 1, "no second session");
    assert!(stripe.refunds().is_empty());
}
both_backends!(reschedule, rescheduling_keeps_the_deposit);

/// `salonbot stripe reconcile` beside the running app, on its database and the fake Stripe.
async fn reconcile(app: &TestApp, stripe: &FakeStripe) -> (std::process::Output, String) {
    let database = app.database_url();
    let base = stripe.base();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_salonbot"))
            .args(["stripe", "reconcile"])
            .env_clear()
            .env(
                "SALON_CONFIG",
                concat!(env!("CARGO_MANIFEST_DIR"), "/salon.toml"),
            )
            .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
            .env("DATABASE_URL", database)
            .env("STRIPE_SECRET_KEY", fake_stripe::KEY)
            .env("STRIPE_API_BASE", base)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out, stdout)
    })
    .await
    .unwrap()
}

/// Stripe's webhooks never came (an endpoint misconfigured): reconciliation asks Stripe about
/// every open session and the bot acts on what it says: a paid one confirms its booking, an
/// expired one lets its time go, an open one is left alone; a second run finds nothing new.
async fn a_lost_webhook_is_caught_by_reconciliation(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222041");
    let (paid, paid_session, _) = book_until_the_link(&mut ana, &stripe).await;
    let mut bea = Customer::new(&app, &graph, "34600222042");
    let (open, open_session, _) = book_until_the_link(&mut bea, &stripe).await;
    let mut carla = Customer::new(&app, &graph, "34600222043");
    let (expired, expired_session, _) = book_until_the_link(&mut carla, &stripe).await;
    let intent = stripe.pay(&paid_session);
    stripe.expire(&expired_session);

    let (out, stdout) = reconcile(&app, &stripe).await;
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (appointment, session, what) in [
        (paid.id, &paid_session, "complete, paid: news put in"),
        (open.id, &open_session, "still open until"),
        (expired.id, &expired_session, "expired, unpaid: news put in"),
    ] {
        let line = format!("appointment {appointment}\t{session}\t{what}");
        assert!(stdout.contains(&line), "{line}: {stdout}");
    }
    assert!(
        stdout.contains("asked Stripe about 3 open session(s): 2 no longer open, 1 still open"),
        "{stdout}"
    );

    let told = ana.wait_for(1).await.remove(0);
    assert!(text_of(&told).starts_with("¡Pago recibido"), "{told}");
    let payment = app.store.payment(paid.id).await.unwrap().unwrap();
    assert_eq!(payment.status, PaymentStatus::Paid);
    assert_eq!(payment.payment_intent.as_deref(), Some(intent.as_str()));
    assert_eq!(
        ana.appointments().await[0].status,
        AppointmentStatus::Confirmed
    );
    let told = carla.wait_for(1).await.remove(0);
    assert!(text_of(&told).contains("liberado la hora"), "{told}");
    assert_eq!(
        carla.appointments().await[0].status,
        AppointmentStatus::Expired
    );
    settled(&app, &bea).await;
    assert_eq!(
        bea.appointments().await[0].status,
        AppointmentStatus::PendingPayment
    );
    assert_eq!(stripe.session(&open_session).unwrap()["status"], "open");

    // Again: only the open one is asked about, and nothing more is said.
    settled(&app, &ana).await;
    let said = graph.delivered_to(&ana.phone()).len();
    let (out, stdout) = reconcile(&app, &stripe).await;
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("asked Stripe about 1 open session(s): 0 no longer open, 1 still open"),
        "{stdout}"
    );
    settled(&app, &ana).await;
    assert_eq!(graph.delivered_to(&ana.phone()).len(), said);
}
both_backends!(reconciliation, a_lost_webhook_is_caught_by_reconciliation);

/// Asking for one's appointments while the payment link is out gives the time up, as the menu
/// does: its page is closed at Stripe, nothing is refunded, and the unpaid time is not listed as
/// an appointment (it was let go in the same step).
async fn asking_for_ones_appointments_before_paying_closes_the_page(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222037");
    let (held, session, _) = book_until_the_link(&mut ana, &stripe).await;
    let mine = ana.say("mis citas").await;
    assert!(
        text_of(&mine[0]).contains("no tienes ninguna cita"),
        "{}",
        mine[0]
    );
    settled(&app, &ana).await;
    assert_eq!(stripe.session(&session).unwrap()["status"], "expired");
    assert!(stripe.refunds().is_empty());
    assert_eq!(
        app.store
            .appointment(held.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    assert_eq!(
        app.store.payment(held.id).await.unwrap().unwrap().status,
        PaymentStatus::Expired
    );
}
both_backends!(
    mine_unpaid,
    asking_for_ones_appointments_before_paying_closes_the_page
);

/// Stripe keeps no order: news of one deposit in either order, through the webhook, ends alike,
/// and the customer's last message says where it ended. An expiry after the completion changes
/// nothing; a completion after the expiry takes the (still free) time back. The salon's full
/// refund arriving before the completion it refunds waits for it, then cancels, as it does after.
async fn news_in_either_order_ends_alike_through_the_webhook(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ends = Vec::new();
    for (phone, expiry_first) in [("34600222051", false), ("34600222052", true)] {
        let mut customer = Customer::new(&app, &graph, phone);
        let (held, session, _) = book_until_the_link(&mut customer, &stripe).await;
        let mut expired = session_event(&stripe, "checkout.session.expired", &session);
        expired["data"]["object"]["status"] = "expired".into();
        stripe.pay(&session);
        let completed = session_event(&stripe, "checkout.session.completed", &session);
        let order = if expiry_first {
            [&expired, &completed]
        } else {
            [&completed, &expired]
        };
        for event in order {
            assert_eq!(post_event(&app, event).await.status(), 200);
            settled(&app, &customer).await;
        }
        let said: Vec<String> = graph
            .delivered_to(&customer.phone())
            .iter()
            .map(|m| text_of(m).to_owned())
            .collect();
        let last = said.last().unwrap();
        assert!(last.starts_with("¡Pago recibido"), "{said:?}");
        assert_eq!(
            said.iter()
                .filter(|t| t.starts_with("¡Pago recibido"))
                .count(),
            1,
            "{said:?}"
        );
        let appointment = app.store.appointment(held.id).await.unwrap().unwrap();
        let payment = app.store.payment(held.id).await.unwrap().unwrap();
        ends.push((appointment.status, payment.status));
    }
    assert_eq!(ends[0], ends[1]);
    assert_eq!(ends[0], (AppointmentStatus::Confirmed, PaymentStatus::Paid));

    let mut ends = Vec::new();
    for (phone, refund_first) in [("34600222053", false), ("34600222054", true)] {
        let mut customer = Customer::new(&app, &graph, phone);
        let (held, session, _) = book_until_the_link(&mut customer, &stripe).await;
        let intent = stripe.pay(&session);
        let completed = session_event(&stripe, "checkout.session.completed", &session);
        let refunded = charge_event(
            "charge.refunded",
            &intent,
            &[("amount_refunded", 2000.into()), ("refunded", true.into())],
        );
        let order = if refund_first {
            [&refunded, &completed]
        } else {
            [&completed, &refunded]
        };
        for event in order {
            assert_eq!(post_event(&app, event).await.status(), 200);
        }
        let id = refunded["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(60), "the refund applied", || async {
            app.store
                .find_inbox_event(Provider::Stripe, &format!("{id}@routed"))
                .await
                .unwrap()
                .or(app
                    .store
                    .find_inbox_event(Provider::Stripe, &id)
                    .await
                    .unwrap())
                .filter(|e| e.status == InboxStatus::Done)
        })
        .await;
        settled(&app, &customer).await;
        let said: Vec<String> = graph
            .delivered_to(&customer.phone())
            .iter()
            .map(|m| text_of(m).to_owned())
            .collect();
        assert!(
            said.last()
                .unwrap()
                .contains("El salón te ha devuelto la señal"),
            "{said:?}"
        );
        let appointment = app.store.appointment(held.id).await.unwrap().unwrap();
        let payment = app.store.payment(held.id).await.unwrap().unwrap();
        ends.push((appointment.status, payment.status, payment.amount_refunded));
    }
    assert_eq!(ends[0], ends[1]);
    assert_eq!(
        ends[0],
        (AppointmentStatus::Refunded, PaymentStatus::Paid, 2000)
    );
}
both_backends!(
    either_order,
    news_in_either_order_ends_alike_through_the_webhook
);

/// Cancelling in the customer's own words and language: "I need to cancel my appointment" lists
/// it in English, the question says the deposit comes back, and it does.
async fn cancelling_in_english_from_free_text_refunds_the_deposit(backend: Backend) {
    let (app, graph, stripe) = app(backend).await;
    let mut ana = Customer::new(&app, &graph, "34600222038");
    let (booked, intent) = book_and_pay(&app, &mut ana, &stripe).await;
    let mine = ana.say("hi, I need to cancel my appointment").await;
    let rows = crate::conversations::choices(&mine);
    assert_eq!(rows, [format!("a{}", booked.id)]);
    ana.choose(&rows[0]).await;
    let ask = ana.tap("cancel").await.remove(0);
    assert!(
        text_of(&ask).contains("If you paid a deposit, we'll refund it"),
        "{ask}"
    );
    let done = ana.tap("yes").await;
    let told = until_said(&mut ana, done, "deposit has been refunded").await;
    assert!(
        text_of(&told[0]).contains("your appointment is cancelled"),
        "{}",
        told[0]
    );
    settled(&app, &ana).await;
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["payment_intent"], intent.as_str());
    assert_eq!(
        app.store
            .appointment(booked.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        AppointmentStatus::Refunded
    );
}
both_backends!(
    cancel_english,
    cancelling_in_english_from_free_text_refunds_the_deposit
);
