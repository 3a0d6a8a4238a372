//! Meta's error answers, and what each one means for a message we tried to send.
//!
//! The Graph API answers a failed request with
//! `{"error": {"message", "type", "code", "error_subcode", "error_data": {"details"}, "fbtrace_id"}}`
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>). The same codes come
//! back later in `failed` status webhooks. `SendError::classify` turns a code into what the sender must do:
//! retry, fall back to a template, give up, or stop sending altogether.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// The `error` object of a Graph API answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetaError {
    #[serde(default)]
    pub message: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_data: Option<MetaErrorData>,
    /// Meta's trace id, to quote to their support.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetaErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: MetaError,
}

impl MetaError {
    /// Parses an error answer's body; `None` when it is not Meta's error shape.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error)
    }

    /// The most useful human text: the details when given, else the message.
    pub fn reason(&self) -> String {
        let details = self.error_data.as_ref().and_then(|d| d.details.as_deref());
        match details {
            Some(d) if !d.is_empty() => format!("{} ({})", self.message, d),
            _ => self.message.clone(),
        }
    }
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "meta error {}: {}", self.code, self.reason())?;
        if let Some(trace) = &self.fbtrace_id {
            write!(f, " [fbtrace_id {trace}]")?;
        }
        Ok(())
    }
}

/// Why a message was not sent, sorted by what the sender does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network trouble, timeouts, 5xx, throttling (codes 1, 2, 4, 80007, 130429,
    /// 131000, 131016). `retry_after` when Meta said how long to wait.
    #[error("temporary failure: {reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
        code: Option<i64>,
    },
    /// 131056: too many messages to this one customer; wait 4^n seconds before the n-th retry to them.
    #[error("pair rate limit reached for this recipient")]
    PairRateLimited,
    /// 131047: more than 24 hours since the customer's last message; only a template may be sent.
    #[error("outside the 24-hour customer service window")]
    OutsideWindow,
    /// 131026, 131049, 131050: the customer cannot or will not receive it; no retry.
    #[error("undeliverable ({code}): {reason}")]
    Undeliverable { code: i64, reason: String },
    /// 100, 132xxx and other refusals of the request itself: a bug or a template problem for operators.
    #[error("rejected ({code}): {reason}")]
    Rejected { code: i64, reason: String },
    /// 190: the access token expired or is invalid; nothing can be sent until it is replaced.
    #[error("access token invalid: {reason}")]
    TokenInvalid { reason: String },
    /// 368, 131031: the business account is restricted or locked; sending is paused.
    #[error("account restricted ({code}): {reason}")]
    AccountRestricted { code: i64, reason: String },
}

impl SendError {
    /// What an HTTP answer with `status` and an optional Meta error means.
    pub fn classify(status: u16, error: Option<&MetaError>, retry_after: Option<Duration>) -> Self {
        let Some(error) = error else {
            let reason = format!("HTTP {status} without a Meta error body");
            return if status == 429 || status >= 500 || status == 408 {
                SendError::Transient {
                    reason,
                    retry_after,
                    code: None,
                }
            } else if status == 401 {
                SendError::TokenInvalid { reason }
            } else {
                SendError::Rejected {
                    code: i64::from(status),
                    reason,
                }
            };
        };
        let reason = error.to_string();
        match error.code {
            190 => SendError::TokenInvalid { reason },
            368 | 131031 => SendError::AccountRestricted {
                code: error.code,
                reason,
            },
            131047 => SendError::OutsideWindow,
            131056 => SendError::PairRateLimited,
            131026 | 131049 | 131050 => SendError::Undeliverable {
                code: error.code,
                reason,
            },
            1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 => SendError::Transient {
                reason,
                retry_after,
                code: Some(error.code),
            },
            code if (132_000..133_000).contains(&code) || code == 100 => {
                SendError::Rejected { code, reason }
            }
            // Unknown codes: a server-side failure is worth another try, a refusal of the request is not.
            code if status >= 500 || status == 429 => SendError::Transient {
                reason,
                retry_after,
                code: Some(code),
            },
            code => SendError::Rejected { code, reason },
        }
    }

    /// A failure of the connection itself (refused, reset, timed out): always worth a retry.
    pub fn network(err: &reqwest::Error) -> Self {
        let what = if err.is_timeout() {
            "timed out"
        } else {
            "connection failed"
        };
        SendError::Transient {
            reason: format!("{what}: {err}"),
            retry_after: None,
            code: None,
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::Transient { .. } | SendError::PairRateLimited
        )
    }

    /// Whether the whole sender must stop until an operator acts (token, account).
    pub fn stops_sending(&self) -> bool {
        matches!(
            self,
            SendError::TokenInvalid { .. } | SendError::AccountRestricted { .. }
        )
    }

    /// Meta's code, for metrics and operators.
    pub fn code(&self) -> Option<i64> {
        match self {
            SendError::Transient { code, .. } => *code,
            SendError::PairRateLimited => Some(131056),
            SendError::OutsideWindow => Some(131047),
            SendError::Undeliverable { code, .. }
            | SendError::Rejected { code, .. }
            | SendError::AccountRestricted { code, .. } => Some(*code),
            SendError::TokenInvalid { .. } => Some(190),
        }
    }

    /// A short label for metrics: `transient`, `pair_rate_limited`, `outside_window`, ...
    pub fn label(&self) -> &'static str {
        match self {
            SendError::Transient { .. } => "transient",
            SendError::PairRateLimited => "pair_rate_limited",
            SendError::OutsideWindow => "outside_window",
            SendError::Undeliverable { .. } => "undeliverable",
            SendError::Rejected { .. } => "rejected",
            SendError::TokenInvalid { .. } => "token_invalid",
            SendError::AccountRestricted { .. } => "account_restricted",
        }
    }
}

/// Wait before the `n`-th retry (1-based) to a recipient after a pair rate limit: 4^n seconds, as Meta
/// advises, capped at an hour.
pub fn pair_rate_limit_delay(n: u32) -> Duration {
    Duration::from_secs(4u64.saturating_pow(n.clamp(1, 6)).min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(code: i64) -> MetaError {
        MetaError::from_body(
            format!(
                r#"{{"error":{{"message":"(#{code}) Something","type":"OAuthException","code":{code},
                    "error_data":{{"messaging_product":"whatsapp","details":"more"}},
                    "error_subcode":2494010,"fbtrace_id":"Az8or2yhqkZfEZ"}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn parses_meta_error_bodies() {
        let e = meta(131030);
        assert_eq!(e.code, 131030);
        assert_eq!(e.error_subcode, Some(2494010));
        assert_eq!(e.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ"));
        assert_eq!(e.reason(), "(#131030) Something (more)");
        assert!(e.to_string().contains("fbtrace_id Az8or2yhqkZfEZ"));
        assert!(MetaError::from_body(b"<html>bad gateway</html>").is_none());
    }

    #[test]
    fn codes_are_classified_as_the_sender_needs() {
        let class = |code, status| SendError::classify(status, Some(&meta(code)), None);
        for code in [1, 2, 4, 80007, 130429, 131000, 131016] {
            assert!(class(code, 400).is_retryable(), "{code}");
        }
        assert_eq!(class(131056, 400), SendError::PairRateLimited);
        assert_eq!(class(131047, 400), SendError::OutsideWindow);
        for code in [131026, 131049, 131050] {
            assert!(
                matches!(class(code, 400), SendError::Undeliverable { .. }),
                "{code}"
            );
        }
        for code in [100, 132000, 132001, 132012] {
            assert!(
                matches!(class(code, 400), SendError::Rejected { .. }),
                "{code}"
            );
        }
        assert!(matches!(class(190, 401), SendError::TokenInvalid { .. }));
        for code in [368, 131031] {
            let e = class(code, 403);
            assert!(e.stops_sending() && !e.is_retryable(), "{code}");
        }
        // Unknown codes: by HTTP status.
        assert!(class(999_999, 503).is_retryable());
        assert!(!class(999_999, 400).is_retryable());
    }

    #[test]
    fn answers_without_a_meta_body_are_classified_by_status() {
        assert!(SendError::classify(502, None, None).is_retryable());
        assert!(SendError::classify(429, None, Some(Duration::from_secs(3))).is_retryable());
        assert!(matches!(
            SendError::classify(401, None, None),
            SendError::TokenInvalid { .. }
        ));
        assert!(matches!(
            SendError::classify(404, None, None),
            SendError::Rejected { .. }
        ));
    }

    #[test]
    fn pair_rate_limit_waits_grow_by_four() {
        assert_eq!(pair_rate_limit_delay(1), Duration::from_secs(4));
        assert_eq!(pair_rate_limit_delay(2), Duration::from_secs(16));
        assert_eq!(pair_rate_limit_delay(3), Duration::from_secs(64));
        assert_eq!(pair_rate_limit_delay(10), Duration::from_secs(3600));
    }
}
