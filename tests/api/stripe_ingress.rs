//! `POST /webhooks/stripe` through the real app: Stripe's signature checked as Stripe documents it
//! (the signer here is written from the documented algorithm, not the app's code), every verified
//! event stored once and acknowledged after the commit, in the lane of the conversation whose
//! deposit it concerns, and the events the deposits do not act on stored and marked ignored with
//! the reason, never refused.

use std::time::Duration;

use chrono::{Duration as Span, Utc};
use hmac::{Hmac, Mac};
use salonbot::store::{InboxStatus, NewHold, NewPayment, Provider, Store};
use serde_json::Value;
use sha2::Sha256;

use crate::both_backends;
use crate::helpers::{AppBuilder, Backend, TestApp, wait_until};

pub const WEBHOOK_SECRET: &str = "whsec_test_endpoint";
const BUSINESS: &str = "106540352242922";

/// `t=<now>,v1=<HMAC-SHA256 of "{t}.{body}" keyed with the whole secret>`, per secret: Stripe's
/// documented scheme (<https://docs.stripe.com/webhooks#verify-manually>).
pub fn sign(secrets: &[&str], t: i64, body: &str) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        header.push_str(&format!(",v1={}", hex::encode(mac.finalize().into_bytes())));
    }
    header
}

pub fn stripe_builder(backend: Backend) -> AppBuilder {
    AppBuilder::new(backend).var("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
}

/// A fixture from `tests/fixtures/stripe/`, as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

/// The fixture `name` as an event of its own (`id`), about `appointment`'s deposit.
pub fn event(name: &str, id: &str, appointment: i64) -> Value {
    let mut event = fixture(name);
    event["id"] = Value::from(id);
    let object = &mut event["data"]["object"];
    if object
        .get("metadata")
        .is_some_and(|m| m.get("appointment_id").is_some())
    {
        object["metadata"]["appointment_id"] = Value::from(appointment.to_string());
    }
    if object.get("client_reference_id").is_some() {
        object["client_reference_id"] = Value::from(appointment.to_string());
    }
    event
}

pub async fn post_signed(
    app: &TestApp,
    path: &str,
    body: &str,
    header: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("stripe-signature", header);
    }
    request.send().await.unwrap()
}

/// Posts an event signed with the endpoint's secret, now.
pub async fn post_event(app: &TestApp, event: &Value) -> reqwest::Response {
    let body = event.to_string();
    let header = sign(&[WEBHOOK_SECRET], Utc::now().timestamp(), &body);
    post_signed(app, "/webhooks/stripe", &body, Some(&header)).await
}

/// A held time of `customer` waiting for a deposit of 20 EUR; its appointment id.
pub async fn deposit(store: &Store, customer: &str) -> i64 {
    let now = Utc::now();
    let start = now + Span::days(2);
    let conversation_key = format!("whatsapp:{BUSINESS}:{customer}");
    let held = store
        .hold_slot(
            &NewHold {
                business_id: BUSINESS.into(),
                conversation_key: conversation_key.clone(),
                service_id: "highlights".into(),
                staff_id: format!("staff-{customer}"),
                starts_at: start,
                ends_at: start + Span::minutes(90),
                occupied_until: start + Span::minutes(90),
                hold_expires_at: now + Span::minutes(30),
                deposit_minor: 2000,
            },
            now,
        )
        .await
        .unwrap();
    store
        .insert_payment(
            &NewPayment {
                appointment_id: held.id,
                business_id: BUSINESS.into(),
                conversation_key,
                amount_minor: 2000,
                currency: "EUR".into(),
            },
            now,
        )
        .await
        .unwrap();
    held.id
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

async fn an_event_about_a_deposit_is_stored_once_in_its_conversations_lane(backend: Backend) {
    let app = stripe_builder(backend).spawn().await;
    let appointment = deposit(&app.store, "+34600000001").await;
    let id = unique("evt");
    let body = event("checkout.session.completed", &id, appointment);
    for _ in 0..3 {
        let res = post_event(&app, &body).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "received");
    }
    let stored = app
        .store
        .find_inbox_event(Provider::Stripe, &id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.conversation_key,
        format!("whatsapp:{BUSINESS}:+34600000001")
    );
    assert_eq!(stored.business_id, BUSINESS);
    assert_eq!(stored.kind.as_str(), "payment");
    assert_eq!(stored.payload, body, "stored as Stripe sent it");
    let events = app
        .store
        .conversation_events(&stored.conversation_key)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "three deliveries, one event");
    // The alias path of older receivers takes the same events.
    let other = event("checkout.session.expired", &unique("evt"), appointment);
    let body = other.to_string();
    let header = sign(&[WEBHOOK_SECRET], Utc::now().timestamp(), &body);
    let res = post_signed(&app, "/webhook/stripe", &body, Some(&header)).await;
    assert_eq!(res.status(), 200);
}
both_backends!(
    routed,
    an_event_about_a_deposit_is_stored_once_in_its_conversations_lane
);

async fn events_the_deposits_do_not_act_on_are_stored_and_marked_ignored_with_the_reason(
    backend: Backend,
) {
    let app = stripe_builder(backend).spawn().await;
    let cases = [
        (
            event("customer.created", &unique("evt"), 1),
            "event type customer.created is not one",
        ),
        // Another integration's session on the same account: no deposit of ours has it.
        (
            event("checkout.session.completed", &unique("evt"), 999_999),
            "no deposit of this bot has Checkout Session",
        ),
    ];
    for (body, reason) in cases {
        let res = post_event(&app, &body).await;
        assert_eq!(
            res.status(),
            200,
            "never refused: Stripe would retry for days"
        );
        let id = body["id"].as_str().unwrap().to_owned();
        let event = wait_until(Duration::from_secs(10), "the event settled", || async {
            app.store
                .find_inbox_event(Provider::Stripe, &id)
                .await
                .unwrap()
                .filter(|e| e.status == InboxStatus::Done)
        })
        .await;
        let note = event.last_error.unwrap_or_default();
        assert!(
            note.starts_with("ignored: ") && note.contains(reason),
            "{note}"
        );
    }
}
both_backends!(
    ignored,
    events_the_deposits_do_not_act_on_are_stored_and_marked_ignored_with_the_reason
);

async fn an_event_about_a_payment_not_known_yet_waits_in_a_lane_of_its_own(backend: Backend) {
    let app = stripe_builder(backend).spawn().await;
    let id = unique("evt");
    let body = event("charge.refunded", &id, 1);
    assert_eq!(post_event(&app, &body).await.status(), 200);
    let stored = wait_until(Duration::from_secs(10), "the event deferred", || async {
        app.store
            .find_inbox_event(Provider::Stripe, &id)
            .await
            .unwrap()
            .filter(|e| e.attempts >= 1 && e.status == InboxStatus::Pending)
    })
    .await;
    assert_eq!(stored.conversation_key, format!("stripe:{id}"));
    assert!(stored.next_attempt_at > Utc::now());
    assert!(
        stored
            .last_error
            .unwrap_or_default()
            .contains("no deposit known to be paid by pi_1PgafyB7WZ01zgkWSjxsAJo3"),
    );
}
both_backends!(
    waiting,
    an_event_about_a_payment_not_known_yet_waits_in_a_lane_of_its_own
);

#[tokio::test]
async fn without_a_webhook_secret_nothing_is_accepted() {
    let app = AppBuilder::new(Backend::Sqlite).spawn().await;
    let body = event("checkout.session.completed", "evt_x", 1).to_string();
    let header = sign(&[WEBHOOK_SECRET], Utc::now().timestamp(), &body);
    let res = post_signed(&app, "/webhooks/stripe", &body, Some(&header)).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "not_configured"
    );
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
}

#[tokio::test]
async fn bad_missing_stale_and_future_signatures_are_refused_before_parsing() {
    let app = stripe_builder(Backend::Sqlite)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "100")
        .spawn()
        .await;
    let body = event("checkout.session.completed", "evt_sig", 1).to_string();
    let now = Utc::now().timestamp();
    let mut changed = body.clone();
    changed.push(' ');
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("missing header", body.clone(), None),
        (
            "wrong secret",
            body.clone(),
            Some(sign(&["whsec_other"], now, &body)),
        ),
        (
            "changed body",
            changed,
            Some(sign(&[WEBHOOK_SECRET], now, &body)),
        ),
        (
            "stale",
            body.clone(),
            Some(sign(&[WEBHOOK_SECRET], now - 301, &body)),
        ),
        (
            "future",
            body.clone(),
            Some(sign(&[WEBHOOK_SECRET], now + 301, &body)),
        ),
        (
            "only v0",
            body.clone(),
            Some(sign(&[WEBHOOK_SECRET], now, &body).replace("v1=", "v0=")),
        ),
        ("garbage", body.clone(), Some("t=now,v1=zz".into())),
    ];
    for (case, body, header) in cases {
        let res = post_signed(&app, "/webhooks/stripe", &body, header.as_deref()).await;
        assert_eq!(res.status(), 401, "{case}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_signature",
            "{case}"
        );
    }
    // Not parsed: an unsigned body that is not even JSON is a 401 too, not a 400.
    let res = post_signed(&app, "/webhooks/stripe", "not json", None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(app.store.count_inbox().await.unwrap(), 0);
    // Inside the tolerance, in either direction, it is accepted.
    for skew in [-290, 290] {
        let body = event("customer.created", &unique("evt"), 1).to_string();
        let header = sign(&[WEBHOOK_SECRET], now + skew, &body);
        let res = post_signed(&app, "/webhooks/stripe", &body, Some(&header)).await;
        assert_eq!(res.status(), 200, "skew {skew}");
    }
}

#[tokio::test]
async fn refusals_spend_the_invalid_authentication_budget() {
    let app = stripe_builder(Backend::Sqlite)
        .var("RATE_LIMIT_INVALID_PER_MINUTE", "2")
        .spawn()
        .await;
    let body = event("customer.created", "evt_budget", 1).to_string();
    let forged = sign(&["whsec_forged"], Utc::now().timestamp(), &body);
    for remaining in ["1", "0"] {
        let res = post_signed(&app, "/webhooks/stripe", &body, Some(&forged)).await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["x-ratelimit-remaining"], remaining);
    }
    let good = sign(&[WEBHOOK_SECRET], Utc::now().timestamp(), &body);
    let res = post_signed(&app, "/webhooks/stripe", &body, Some(&good)).await;
    assert_eq!(
        res.status(),
        429,
        "budget spent: throttled before any signature work"
    );
}

#[tokio::test]
async fn during_a_roll_any_v1_and_any_configured_secret_is_enough() {
    let app = AppBuilder::new(Backend::Sqlite)
        .var("STRIPE_WEBHOOK_SECRET", "whsec_new,whsec_old")
        .spawn()
        .await;
    let now = Utc::now().timestamp();
    // Stripe signs with both secrets while the old one is still active: one v1 each.
    let body = event("customer.created", &unique("evt"), 1).to_string();
    // The matching v1 first: a verifier keeping only the last v1 refuses this delivery.
    let both = sign(&["whsec_old", "whsec_unknown"], now, &body);
    assert_eq!(
        post_signed(&app, "/webhooks/stripe", &body, Some(&both))
            .await
            .status(),
        200
    );
    for secret in ["whsec_new", "whsec_old"] {
        let body = event("customer.created", &unique("evt"), 1).to_string();
        let header = sign(&[secret], now, &body);
        assert_eq!(
            post_signed(&app, "/webhooks/stripe", &body, Some(&header))
                .await
                .status(),
            200,
            "{secret}"
        );
    }
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_refused_with_their_codes() {
    let app = stripe_builder(Backend::Sqlite)
        .var("WEBHOOK_MAX_BODY_BYTES", "2048")
        .spawn()
        .await;
    let now = Utc::now().timestamp();
    let body = r#"{"object":"event"}"#;
    let res = post_signed(
        &app,
        "/webhooks/stripe",
        body,
        Some(&sign(&[WEBHOOK_SECRET], now, body)),
    )
    .await;
    assert_eq!(res.status(), 400, "signed, but not an event");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "malformed");
    let big = event("checkout.session.completed", "evt_big", 1).to_string();
    assert!(big.len() > 2048);
    let res = post_signed(
        &app,
        "/webhooks/stripe",
        &big,
        Some(&sign(&[WEBHOOK_SECRET], now, &big)),
    )
    .await;
    assert_eq!(res.status(), 413);
}

#[test]
fn the_signer_here_agrees_with_the_documented_vector() {
    let body = r#"{"id":"evt_test","object":"event","type":"checkout.session.completed"}"#;
    assert_eq!(
        sign(&["whsec_test"], 1_776_680_000, body),
        "t=1776680000,v1=4ed9e232af1f6f3f7c920d18a3b979b24763ff4927a73b42e9ecae6dbd2a1ea6"
    );
}
