//! Stripe's errors, typed from its error JSON (`{"error": {"type", "code", "decline_code", "param",
//! "message"}}`, <https://docs.stripe.com/api/errors>), and which of them a retry may fix.
//!
//! The retry rule is stripe-node's (`RequestSender._shouldRetry`): no answer at all (a connection
//! error or a timeout), a `Stripe-Should-Retry: true` header, a 409 (a concurrent request with the
//! same idempotency key) and any 5xx are retried; `Stripe-Should-Retry: false` and every other 4xx
//! are not. Retrying is safe because every POST carries the same idempotency key each time.

use serde::Deserialize;

/// Why a Stripe call failed. Its `Display` never contains the secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error object.
    #[error("stripe {status} {kind}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Api {
        status: u16,
        /// `type`: `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`, ...
        kind: String,
        /// `code`, such as `resource_missing` or `checkout_session_expired`.
        code: Option<String>,
        /// `decline_code` of a card error.
        decline_code: Option<String>,
        /// The parameter the error is about.
        param: Option<String>,
        message: String,
        /// Stripe's `Stripe-Should-Retry` header, when it sent one.
        should_retry: Option<bool>,
    },
    /// No answer: the connection failed or timed out.
    #[error("no answer from Stripe: {0}")]
    Network(String),
    /// An answer that is not what Stripe sends.
    #[error("unreadable answer from Stripe: {0}")]
    Unreadable(String),
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorIn,
}

#[derive(Deserialize)]
struct ErrorIn {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    decline_code: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl StripeError {
    /// The error of a non-2xx answer: its body read as Stripe's error JSON, or the status alone.
    pub fn from_answer(status: u16, should_retry: Option<bool>, body: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .map(|b| b.error);
        let kind = parsed
            .as_ref()
            .and_then(|e| e.kind.clone())
            .unwrap_or_else(|| match status {
                500.. => "api_error".to_owned(),
                _ => "unknown".to_owned(),
            });
        match parsed {
            Some(e) => StripeError::Api {
                status,
                kind,
                code: e.code,
                decline_code: e.decline_code,
                param: e.param,
                message: e.message.unwrap_or_default(),
                should_retry,
            },
            None => StripeError::Api {
                status,
                kind,
                code: None,
                decline_code: None,
                param: None,
                message: format!("HTTP {status} without Stripe's error body"),
                should_retry,
            },
        }
    }

    /// Whether trying the same request again (with the same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Network(_) => true,
            StripeError::Unreadable(_) => false,
            StripeError::Api {
                status,
                should_retry,
                ..
            } => match should_retry {
                Some(advice) => *advice,
                None => *status == 409 || *status >= 500,
            },
        }
    }

    /// Stripe's `code`, if it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The parameter Stripe's error is about, if it named one.
    pub fn param(&self) -> Option<&str> {
        match self {
            StripeError::Api { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    /// A short name for metrics and logs: Stripe's error type, or `network` / `unreadable`.
    pub fn label(&self) -> &str {
        match self {
            StripeError::Api { kind, .. } => kind,
            StripeError::Network(_) => "network",
            StripeError::Unreadable(_) => "unreadable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, should_retry: Option<bool>) -> StripeError {
        StripeError::from_answer(
            status,
            should_retry,
            br#"{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer",
                "param":"expires_at","message":"Invalid integer","doc_url":"https://stripe.com"}}"#,
        )
    }

    #[test]
    fn errors_are_read_from_stripes_error_json() {
        let err = api(400, None);
        assert_eq!(
            err,
            StripeError::Api {
                status: 400,
                kind: "invalid_request_error".into(),
                code: Some("parameter_invalid_integer".into()),
                decline_code: None,
                param: Some("expires_at".into()),
                message: "Invalid integer".into(),
                should_retry: None,
            }
        );
        assert_eq!(
            err.to_string(),
            "stripe 400 invalid_request_error (parameter_invalid_integer): Invalid integer"
        );
        assert_eq!(err.label(), "invalid_request_error");
        let bare = StripeError::from_answer(502, None, b"<html>bad gateway</html>");
        assert_eq!(bare.label(), "api_error");
        assert!(bare.is_retryable());
    }

    #[test]
    fn retried_as_stripes_libraries_retry() {
        assert!(StripeError::Network("reset".into()).is_retryable());
        assert!(api(409, None).is_retryable());
        assert!(api(500, None).is_retryable());
        assert!(api(503, None).is_retryable());
        assert!(!api(400, None).is_retryable());
        assert!(!api(402, None).is_retryable());
        assert!(!api(429, None).is_retryable());
        assert!(api(429, Some(true)).is_retryable());
        assert!(!api(500, Some(false)).is_retryable());
        assert!(!StripeError::Unreadable("x".into()).is_retryable());
    }
}
