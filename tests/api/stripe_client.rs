//! The Stripe client against the local fake of Stripe's API: the exact requests (path, form fields
//! in bracket notation, bearer key, pinned version, idempotency key), the answers read into typed
//! values, which failures are retried with the same key, and Stripe's errors typed.

use std::time::Duration;

use salonbot::config::Secret;
use salonbot::stripe::client::RetryBudget;
use salonbot::stripe::wire::{CheckoutSessionOut, RefundOut};
use salonbot::stripe::{StripeClient, StripeError};
use salonbot::telemetry::Metrics;

use crate::fake_stripe::{self, Answer, FakeStripe};

fn client(fake: &FakeStripe) -> StripeClient {
    client_with_key(fake, fake_stripe::KEY)
}

fn client_with_key(fake: &FakeStripe, key: &str) -> StripeClient {
    let retry = RetryBudget {
        retries: 2,
        initial: Duration::from_millis(10),
        max: Duration::from_millis(40),
    };
    StripeClient::new(&fake.base(), Secret::new(key), retry, Metrics::new()).unwrap()
}

fn session_request(appointment_id: i64) -> CheckoutSessionOut {
    CheckoutSessionOut {
        appointment_id,
        amount: 2000,
        currency: "eur".into(),
        name: "Mechas y color".into(),
        locale: Some("es".into()),
        expires_at: chrono::Utc::now().timestamp() + 31 * 60,
        success_url: "https://wa.me/34910000000".into(),
        cancel_url: "https://wa.me/34910000000?text=cancel".into(),
    }
}

#[tokio::test]
async fn a_checkout_session_is_created_with_stripes_form_headers_and_idempotency_key() {
    let fake = FakeStripe::start().await;
    let session = client(&fake)
        .create_checkout_session(&session_request(42), "stripe.session.42")
        .await
        .unwrap();
    assert!(session.id.starts_with("cs_test_fake"));
    assert_eq!(session.status.as_deref(), Some("open"));
    assert_eq!(session.appointment(), Some(42));
    assert!(
        session
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(r.authorization.as_deref(), Some("Bearer sk_test_fake_key"));
    assert_eq!(r.version.as_deref(), Some(fake_stripe::VERSION));
    assert_eq!(r.idempotency_key.as_deref(), Some("stripe.session.42"));
    for (key, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "2000"),
        (
            "line_items[0][price_data][product_data][name]",
            "Mechas y color",
        ),
        ("line_items[0][quantity]", "1"),
        ("metadata[appointment_id]", "42"),
        ("payment_intent_data[metadata][appointment_id]", "42"),
        ("client_reference_id", "42"),
        ("locale", "es"),
        ("cancel_url", "https://wa.me/34910000000?text=cancel"),
    ] {
        assert_eq!(r.field(key), Some(value), "{key}");
    }
}

#[tokio::test]
async fn server_errors_and_conflicts_are_retried_with_the_same_key_and_create_one_session() {
    let fake = FakeStripe::start().await;
    fake.script([
        Answer::server_error(),
        Answer::Error {
            status: 409,
            kind: "idempotency_error",
            should_retry: None,
        },
    ]);
    let session = client(&fake)
        .create_checkout_session(&session_request(7), "stripe.session.7")
        .await
        .unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|r| r.idempotency_key.as_deref() == Some("stripe.session.7"))
    );
    assert_eq!(fake.sessions().len(), 1);
    assert_eq!(fake.sessions()[0]["id"], session.id.as_str());
}

#[tokio::test]
async fn stripes_retry_header_is_obeyed_either_way() {
    let fake = FakeStripe::start().await;
    fake.script([Answer::Error {
        status: 429,
        kind: "rate_limit_error",
        should_retry: Some(true),
    }]);
    let c = client(&fake);
    c.create_checkout_session(&session_request(1), "k1")
        .await
        .unwrap();
    assert_eq!(
        fake.requests().len(),
        2,
        "429 with Stripe-Should-Retry: true is retried"
    );

    fake.script([Answer::Error {
        status: 500,
        kind: "api_error",
        should_retry: Some(false),
    }]);
    let err = c
        .create_checkout_session(&session_request(2), "k2")
        .await
        .unwrap_err();
    assert_eq!(
        fake.requests().len(),
        3,
        "500 with Stripe-Should-Retry: false is not"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn client_errors_are_not_retried_and_come_back_typed() {
    let fake = FakeStripe::start().await;
    let mut request = session_request(3);
    request.expires_at = chrono::Utc::now().timestamp() + 60;
    let err = client(&fake)
        .create_checkout_session(&request, "k3")
        .await
        .unwrap_err();
    assert_eq!(fake.requests().len(), 1);
    let StripeError::Api {
        status,
        kind,
        code,
        param,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert_eq!(kind, "invalid_request_error");
    assert_eq!(code.as_deref(), Some("parameter_invalid_integer"));
    assert_eq!(param.as_deref(), Some("expires_at"));

    let err = client_with_key(&fake, "sk_test_wrong")
        .retrieve_checkout_session("cs_test_x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StripeError::Api { status: 401, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("sk_test_wrong"));
}

#[tokio::test]
async fn a_repeated_key_is_answered_with_the_first_session_not_a_second() {
    let fake = FakeStripe::start().await;
    let c = client(&fake);
    let request = session_request(5);
    let first = c
        .create_checkout_session(&request, "stripe.session.5")
        .await
        .unwrap();
    let again = c
        .create_checkout_session(&request, "stripe.session.5")
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(fake.sessions().len(), 1);
}

#[tokio::test]
async fn sessions_are_retrieved_and_expired_and_refunds_made() {
    let fake = FakeStripe::start().await;
    let c = client(&fake);
    let session = c
        .create_checkout_session(&session_request(9), "s9")
        .await
        .unwrap();
    let got = c.retrieve_checkout_session(&session.id).await.unwrap();
    assert_eq!(got.status.as_deref(), Some("open"));
    let expired = c.expire_checkout_session(&session.id, "x9").await.unwrap();
    assert_eq!(expired.status.as_deref(), Some("expired"));
    // Expiring what is no longer open is refused (and not retried).
    let err = c
        .expire_checkout_session(&session.id, "x9b")
        .await
        .unwrap_err();
    assert!(matches!(err, StripeError::Api { status: 400, .. }));

    let paid = c
        .create_checkout_session(&session_request(10), "s10")
        .await
        .unwrap();
    let intent = fake.pay(&paid.id);
    let refund = c
        .create_refund(
            &RefundOut {
                appointment_id: 10,
                payment_intent: intent.clone(),
                amount: 1500,
                attempt: 1,
            },
            "stripe.refund.10",
        )
        .await
        .unwrap();
    assert_eq!(refund.status.as_deref(), Some("succeeded"));
    assert_eq!(refund.amount, 1500);
    let requests = fake.requests();
    let get = requests.iter().find(|r| r.method == "GET").unwrap();
    assert_eq!(get.path, format!("/v1/checkout/sessions/{}", session.id));
    assert_eq!(get.idempotency_key, None, "GETs carry no idempotency key");
    let post = requests.iter().find(|r| r.path == "/v1/refunds").unwrap();
    assert_eq!(post.field("payment_intent"), Some(intent.as_str()));
    assert_eq!(post.field("amount"), Some("1500"));
    assert_eq!(post.field("reason"), Some("requested_by_customer"));
    assert_eq!(post.field("metadata[appointment_id]"), Some("10"));
    assert_eq!(post.idempotency_key.as_deref(), Some("stripe.refund.10"));
}

#[test]
fn the_client_never_shows_its_key() {
    let c = StripeClient::new(
        "https://api.stripe.com",
        Secret::new("sk_live_secret"),
        RetryBudget::default(),
        Metrics::new(),
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("sk_live_secret"));
}
