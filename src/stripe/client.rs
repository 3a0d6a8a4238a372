//! The Stripe API client: `POST /v1/checkout/sessions`, `POST /v1/checkout/sessions/{id}/expire`,
//! `GET /v1/checkout/sessions/{id}` and `POST /v1/refunds`, against `STRIPE_API_BASE` (and
//! `GET /v1/balance`, for `salonbot doctor` to check the key).
//!
//! Each request carries `Authorization: Bearer <STRIPE_SECRET_KEY>` and the pinned `Stripe-Version`;
//! each POST an `Idempotency-Key` the caller derives from its outbox row, so that a retry (here, or
//! the outbox's after a crash) is answered with the first request's result instead of a second
//! session or refund (Stripe replays the first answer for 24 hours,
//! <https://docs.stripe.com/api/idempotent_requests>). Failures a retry may fix are retried at once
//! a few times with exponential backoff and jitter, as Stripe's libraries do (0.5 s doubling, at most
//! 5 s); the rest are handed back typed ([`StripeError`]) for the outbox to schedule or give up.
//! The key is never logged: requests are logged by path and idempotency key only.
//!
//! [`StripeApi::Sandbox`] stands in for Stripe where none is configured (`salonbot chat`): sessions
//! and refunds are kept in memory, links point nowhere, and [`Sandbox::pay`] marks a session paid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use super::API_VERSION;
use super::error::StripeError;
use super::form::Form;
use super::wire::{
    APPOINTMENT_KEY, ATTEMPT_KEY, BalanceIn, CheckoutSessionIn, CheckoutSessionOut, RefundIn,
    RefundOut,
};
use crate::config::{Secret, StripeConfig};
use crate::telemetry::Metrics;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Immediate retries of one request (the outbox retries later, with the same key, beyond these).
#[derive(Debug, Clone)]
pub struct RetryBudget {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; doubled per retry.
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            retries: 2,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
        }
    }
}

impl RetryBudget {
    /// The wait before retry `n` (1-based): doubling from `initial`, capped, with jitter in its
    /// upper half, never less than `initial` (stripe-node's `_getSleepTimeInMS`).
    fn wait(&self, n: u32) -> Duration {
        let exp = self
            .initial
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .min(self.max);
        let jittered = exp.mul_f64(0.5 * (1.0 + random_fraction()));
        jittered.max(self.initial)
    }
}

fn random_fraction() -> f64 {
    f64::from(uuid::Uuid::new_v4().as_u128() as u32) / (f64::from(u32::MAX) + 1.0)
}

/// A live client for one Stripe account.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    key: Secret,
    retry: RetryBudget,
    metrics: Metrics,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    pub fn new(
        base: &str,
        key: Secret,
        retry: RetryBudget,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        Self::build(base, key, retry, metrics, TIMEOUT)
    }

    /// A client for one quick check (`salonbot doctor`): each request given up after `timeout`,
    /// never retried.
    pub fn for_check(base: &str, key: Secret, timeout: Duration) -> Result<Self, reqwest::Error> {
        let retry = RetryBudget {
            retries: 0,
            ..RetryBudget::default()
        };
        Self::build(base, key, retry, Metrics::new(), timeout)
    }

    fn build(
        base: &str,
        key: Secret,
        retry: RetryBudget,
        metrics: Metrics,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("salonbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            retry,
            metrics,
        })
    }

    /// Creates a Checkout Session.
    pub async fn create_checkout_session(
        &self,
        session: &CheckoutSessionOut,
        idempotency_key: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        let form = session.form();
        self.call(
            "stripe_session_create",
            Method::POST,
            "/v1/checkout/sessions",
            Some((&form, idempotency_key)),
        )
        .await
    }

    /// Expires an open Checkout Session, so that it can no longer be paid; Stripe refuses (4xx) a
    /// session that is no longer open.
    pub async fn expire_checkout_session(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        let path = format!("/v1/checkout/sessions/{}/expire", path_id(id)?);
        self.call(
            "stripe_session_expire",
            Method::POST,
            &path,
            Some((&Form::new(), idempotency_key)),
        )
        .await
    }

    /// A Checkout Session as Stripe has it now.
    pub async fn retrieve_checkout_session(
        &self,
        id: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        let path = format!("/v1/checkout/sessions/{}", path_id(id)?);
        self.call("stripe_session_retrieve", Method::GET, &path, None)
            .await
    }

    /// The account's balance: whether the key works, and in which mode.
    pub async fn balance(&self) -> Result<BalanceIn, StripeError> {
        self.call("stripe_balance", Method::GET, "/v1/balance", None)
            .await
    }

    /// The full URL of `path` (`/v1/...`), as requests are sent to it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Refunds (part of) a payment.
    pub async fn create_refund(
        &self,
        refund: &RefundOut,
        idempotency_key: &str,
    ) -> Result<RefundIn, StripeError> {
        let form = refund.form();
        self.call(
            "stripe_refund",
            Method::POST,
            "/v1/refunds",
            Some((&form, idempotency_key)),
        )
        .await
    }

    /// One call, retried within the budget while Stripe says a retry may help.
    async fn call<T: DeserializeOwned>(
        &self,
        kind: &'static str,
        method: Method,
        path: &str,
        body: Option<(&Form, &str)>,
    ) -> Result<T, StripeError> {
        let started = Instant::now();
        let mut retries = 0;
        let result = loop {
            match self.once(method.clone(), path, body).await {
                Err(err) if err.is_retryable() && retries < self.retry.retries => {
                    retries += 1;
                    let wait = self.retry.wait(retries);
                    tracing::debug!(path, error = %err, wait_ms = wait.as_millis() as u64, "retrying Stripe request");
                    tokio::time::sleep(wait).await;
                }
                other => break other,
            }
        };
        let outcome = match &result {
            Ok(_) => "sent",
            Err(err) => err.label(),
        };
        self.metrics
            .outbound(kind, outcome, None, started.elapsed());
        let bytes = result?;
        serde_json::from_slice(&bytes).map_err(|e| StripeError::Unreadable(e.to_string()))
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        body: Option<(&Form, &str)>,
    ) -> Result<Vec<u8>, StripeError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.key.expose()))
            .header("Stripe-Version", API_VERSION);
        if let Some((form, key)) = body {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("Idempotency-Key", key)
                .body(form.encode());
        }
        let response = request
            .send()
            .await
            .map_err(|e| StripeError::Network(without_url(&e)))?;
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| StripeError::Network(without_url(&e)))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let err = StripeError::from_answer(status, should_retry, &bytes);
        tracing::warn!(
            path,
            status,
            request_id = request_id.as_deref().unwrap_or_default(),
            idempotency_key = body.map(|(_, key)| key).unwrap_or_default(),
            "Stripe request failed: {err}"
        );
        Err(err)
    }
}

/// A reqwest error's text without the URL (which holds nothing secret, but is noise in metrics).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(err) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

/// An object id as it may appear in a path: Stripe's ids are letters, digits and `_`.
fn path_id(id: &str) -> Result<&str, StripeError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(StripeError::Unreadable(format!("not a Stripe id: {id:?}")))
    }
}

/// Stripe, live or stood in for.
#[derive(Clone, Debug)]
pub enum StripeApi {
    Live(StripeClient),
    /// No Stripe: sessions and refunds kept in memory (`salonbot chat`).
    Sandbox(Sandbox),
}

impl StripeApi {
    /// The live client when `STRIPE_SECRET_KEY` is set.
    pub fn from_config(
        config: &StripeConfig,
        metrics: Metrics,
    ) -> Result<Option<Self>, reqwest::Error> {
        match &config.secret_key {
            Some(key) => Ok(Some(StripeApi::Live(StripeClient::new(
                &config.api_base,
                key.clone(),
                RetryBudget::default(),
                metrics,
            )?))),
            None => Ok(None),
        }
    }

    pub async fn create_checkout_session(
        &self,
        session: &CheckoutSessionOut,
        idempotency_key: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        match self {
            StripeApi::Live(c) => c.create_checkout_session(session, idempotency_key).await,
            StripeApi::Sandbox(s) => Ok(s.create(session, idempotency_key)),
        }
    }

    pub async fn expire_checkout_session(
        &self,
        id: &str,
        idempotency_key: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        match self {
            StripeApi::Live(c) => c.expire_checkout_session(id, idempotency_key).await,
            StripeApi::Sandbox(s) => s.expire(id),
        }
    }

    pub async fn retrieve_checkout_session(
        &self,
        id: &str,
    ) -> Result<CheckoutSessionIn, StripeError> {
        match self {
            StripeApi::Live(c) => c.retrieve_checkout_session(id).await,
            StripeApi::Sandbox(s) => s.retrieve(id),
        }
    }

    pub async fn create_refund(
        &self,
        refund: &RefundOut,
        idempotency_key: &str,
    ) -> Result<RefundIn, StripeError> {
        match self {
            StripeApi::Live(c) => c.create_refund(refund, idempotency_key).await,
            StripeApi::Sandbox(s) => Ok(s.refund(refund, idempotency_key)),
        }
    }
}

/// Stripe stood in for in memory: what `salonbot chat` uses, so that a salon can try the deposit
/// flow without an account. Cheap to clone (shared state).
#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    inner: Arc<Mutex<SandboxState>>,
}

#[derive(Debug, Default)]
struct SandboxState {
    sessions: HashMap<String, CheckoutSessionIn>,
    /// Idempotency key → the id of what it created, as Stripe replays a key's first answer.
    created: HashMap<String, String>,
    refunds: HashMap<String, RefundIn>,
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_owned()
}

impl Sandbox {
    fn state(&self) -> std::sync::MutexGuard<'_, SandboxState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(&self, out: &CheckoutSessionOut, key: &str) -> CheckoutSessionIn {
        let mut state = self.state();
        if let Some(session) = state.created.get(key).and_then(|id| state.sessions.get(id)) {
            return session.clone();
        }
        let id = format!("cs_sandbox_{}", short_id());
        let session = CheckoutSessionIn {
            id: id.clone(),
            status: Some("open".into()),
            payment_status: Some("unpaid".into()),
            url: Some(format!("https://sandbox.salonbot.invalid/pay/{id}")),
            expires_at: Some(out.expires_at),
            payment_intent: None,
            client_reference_id: Some(out.appointment_id.to_string()),
            amount_total: i64::try_from(out.amount).ok(),
            currency: Some(out.currency.clone()),
            metadata: [(
                APPOINTMENT_KEY.to_owned(),
                serde_json::Value::String(out.appointment_id.to_string()),
            )]
            .into(),
        };
        state.created.insert(key.to_owned(), id.clone());
        state.sessions.insert(id, session.clone());
        session
    }

    fn expire(&self, id: &str) -> Result<CheckoutSessionIn, StripeError> {
        let mut state = self.state();
        let session = state.sessions.get_mut(id).ok_or_else(|| missing(id))?;
        if session.status.as_deref() != Some("open") {
            return Err(StripeError::Api {
                status: 400,
                kind: "invalid_request_error".into(),
                code: None,
                decline_code: None,
                param: None,
                message: "Only Checkout Sessions with a status in [\"open\"] can be expired."
                    .into(),
                should_retry: None,
            });
        }
        session.status = Some("expired".into());
        session.url = None;
        Ok(session.clone())
    }

    fn retrieve(&self, id: &str) -> Result<CheckoutSessionIn, StripeError> {
        self.state()
            .sessions
            .get(id)
            .cloned()
            .ok_or_else(|| missing(id))
    }

    fn refund(&self, out: &RefundOut, key: &str) -> RefundIn {
        let mut state = self.state();
        if let Some(refund) = state.refunds.get(key) {
            return refund.clone();
        }
        let refund = RefundIn {
            id: format!("re_sandbox_{}", short_id()),
            amount: i64::try_from(out.amount).unwrap_or(i64::MAX),
            payment_intent: Some(out.payment_intent.clone()),
            status: Some("succeeded".into()),
            failure_reason: None,
            metadata: [
                (
                    APPOINTMENT_KEY.to_owned(),
                    serde_json::Value::String(out.appointment_id.to_string()),
                ),
                (
                    ATTEMPT_KEY.to_owned(),
                    serde_json::Value::String(out.attempt.to_string()),
                ),
            ]
            .into(),
        };
        state.refunds.insert(key.to_owned(), refund.clone());
        refund
    }

    /// Marks an open session paid, as a customer paying on Checkout would; the session as it is
    /// now, or `None` when there is no open session of that id.
    pub fn pay(&self, id: &str) -> Option<CheckoutSessionIn> {
        let mut state = self.state();
        let session = state.sessions.get_mut(id)?;
        if session.status.as_deref() != Some("open") {
            return None;
        }
        session.status = Some("complete".into());
        session.payment_status = Some("paid".into());
        session.url = None;
        session.payment_intent = Some(format!("pi_sandbox_{}", short_id()));
        Some(session.clone())
    }
}

fn missing(id: &str) -> StripeError {
    StripeError::Api {
        status: 404,
        kind: "invalid_request_error".into(),
        code: Some("resource_missing".into()),
        decline_code: None,
        param: Some("session".into()),
        message: format!("No such checkout.session: '{id}'"),
        should_retry: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_from_half_a_second_up_to_five() {
        let budget = RetryBudget::default();
        for (n, (low, high)) in [
            (1, (500, 500)),
            (2, (500, 1000)),
            (3, (1000, 2000)),
            (5, (2500, 5000)),
        ] {
            let wait = budget.wait(n).as_millis();
            assert!((low..=high).contains(&wait), "{n}: {wait}");
        }
    }

    #[test]
    fn ids_outside_stripes_alphabet_never_reach_a_path() {
        assert!(path_id("cs_test_a1YS1URl").is_ok());
        for bad in ["", "../v1/refunds", "cs_1?expand=x", "cs 1"] {
            assert!(path_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sandbox_answers_a_key_once_and_pays_only_open_sessions() {
        let sandbox = Sandbox::default();
        let out = CheckoutSessionOut {
            appointment_id: 3,
            amount: 1500,
            currency: "eur".into(),
            name: "Mechas".into(),
            locale: None,
            expires_at: 1,
            success_url: "https://wa.me/".into(),
            cancel_url: "https://wa.me/".into(),
        };
        let first = sandbox.create(&out, "k");
        assert_eq!(sandbox.create(&out, "k"), first);
        assert_eq!(first.appointment(), Some(3));
        let paid = sandbox.pay(&first.id).unwrap();
        assert_eq!(paid.payment_status.as_deref(), Some("paid"));
        assert!(sandbox.pay(&first.id).is_none());
        assert!(sandbox.expire(&first.id).is_err());
        let other = sandbox.create(&out, "k2");
        assert_eq!(
            sandbox.expire(&other.id).unwrap().status.as_deref(),
            Some("expired")
        );
    }
}
