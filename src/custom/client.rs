//! The client of `CUSTOM_REPLY_URL`: POSTs a reply as JSON, signed with `X-Signature` (the hex
//! HMAC-SHA256 of the exact body under `CUSTOM_WEBHOOK_SECRET`), and says what came of it.
//!
//! One try per call: the outbox owns retries (backoff, ordering per conversation, dead letters), so
//! a failure is handed back classified ([`CustomError`]). A reply whose POST timed out after the
//! receiver took it is sent again with the same `message_id`, for the receiver to drop.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

use super::error::CustomError;
use super::wire::MessageOut;
use crate::config::{CustomConfig, Secret};
use crate::ingress::signature::sign_hex;
use crate::telemetry::Metrics;

/// Longest wait for the receiver's answer to one reply.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The `kind` label of the channel's replies in `salonbot_outbound_total`.
pub const KIND: &str = "custom.message";

/// A client for the configured reply URL.
#[derive(Clone)]
pub struct CustomClient {
    http: reqwest::Client,
    reply_url: reqwest::Url,
    secret: Secret,
    metrics: Metrics,
}

/// The host only: a URL may carry a credential (`?token=`, `user:pass@`), and the secret never shows.
impl std::fmt::Debug for CustomClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomClient")
            .field("reply_host", &self.reply_url.host_str().unwrap_or_default())
            .finish_non_exhaustive()
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("CUSTOM_REPLY_URL is not a URL")]
    Url,
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl CustomClient {
    /// The channel's client, when it is on (`CUSTOM_WEBHOOK_SECRET` and `CUSTOM_REPLY_URL` set).
    pub fn from_config(
        config: &CustomConfig,
        metrics: Metrics,
    ) -> Result<Option<Self>, ClientError> {
        match (&config.webhook_secret, &config.reply_url) {
            (Some(secret), Some(url)) => {
                Ok(Some(Self::new(url, secret.clone(), TIMEOUT, metrics)?))
            }
            _ => Ok(None),
        }
    }

    pub fn new(
        reply_url: &str,
        secret: Secret,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("salonbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            reply_url: reqwest::Url::parse(reply_url).map_err(|_| ClientError::Url)?,
            secret,
            metrics,
        })
    }

    /// POSTs one reply, signed; `Ok` when the receiver answered 2xx.
    pub async fn send(&self, message: &MessageOut) -> Result<(), CustomError> {
        let started = Instant::now();
        let result = self.post(message).await;
        let outcome = match &result {
            Ok(()) => "sent",
            Err(err) => err.label(),
        };
        self.metrics
            .outbound(KIND, outcome, None, started.elapsed());
        result
    }

    async fn post(&self, message: &MessageOut) -> Result<(), CustomError> {
        let body = message.body();
        let signature = sign_hex(self.secret.expose().as_bytes(), &body);
        let response = self
            .http
            .post(self.reply_url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("x-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    CustomError::Timeout
                } else {
                    // Without the URL: it may carry a credential.
                    CustomError::Unreachable(err.without_url().to_string())
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(CustomError::Status {
            status: status.as_u16(),
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_secret_nor_the_url_beyond_its_host() {
        let client = CustomClient::new(
            "https://gateway.example/replies?token=url-credential",
            Secret::new("the-secret"),
            TIMEOUT,
            Metrics::new(),
        )
        .unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains("gateway.example"), "{debug}");
        assert!(!debug.contains("the-secret"), "{debug}");
        assert!(!debug.contains("url-credential"), "{debug}");
    }
}
