//! What can go wrong POSTing a reply to `CUSTOM_REPLY_URL`, classified for the outbox: tried again
//! later (the receiver is down, slow, throttling or failing), or given up (it refused the reply).
//! The messages name neither the URL (it may carry a credential) nor the secret.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomError {
    /// No answer within the client's timeout.
    #[error("the reply URL did not answer in time")]
    Timeout,
    /// The connection failed (refused, reset, DNS, TLS).
    #[error("the reply URL could not be reached: {0}")]
    Unreachable(String),
    /// The receiver answered with a status other than 2xx.
    #[error("the reply URL answered {status}")]
    Status {
        status: u16,
        /// Its `Retry-After`, in seconds, when it gave one.
        retry_after: Option<Duration>,
    },
    /// The stored reply could not be read back (a bug, or a row written by hand).
    #[error("unreadable reply: {0}")]
    Unreadable(String),
}

impl CustomError {
    /// Whether trying again later may work: no answer, or an answer saying "later" (408, 425, 429,
    /// 5xx). Any other status is the receiver refusing this reply, which a retry would not change.
    pub fn is_retryable(&self) -> bool {
        match self {
            CustomError::Timeout | CustomError::Unreachable(_) => true,
            CustomError::Status { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..=599).contains(status)
            }
            CustomError::Unreadable(_) => false,
        }
    }

    /// The receiver's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CustomError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The `outcome` label of `salonbot_outbound_total`.
    pub fn label(&self) -> &'static str {
        match self {
            CustomError::Timeout => "timeout",
            CustomError::Unreachable(_) => "unreachable",
            CustomError::Status { status: 429, .. } => "throttled",
            CustomError::Status { .. } if self.is_retryable() => "server_error",
            CustomError::Status { .. } => "rejected",
            CustomError::Unreadable(_) => "unreadable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> CustomError {
        CustomError::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn later_is_retried_and_a_refusal_is_not() {
        for retried in [408, 425, 429, 500, 502, 503, 504] {
            assert!(status(retried).is_retryable(), "{retried}");
        }
        for refused in [400, 401, 403, 404, 410, 413, 422] {
            assert!(!status(refused).is_retryable(), "{refused}");
            assert_eq!(status(refused).label(), "rejected");
        }
        assert!(CustomError::Timeout.is_retryable());
        assert!(CustomError::Unreachable("refused".into()).is_retryable());
        assert!(!CustomError::Unreadable("x".into()).is_retryable());
        assert_eq!(status(429).label(), "throttled");
        assert_eq!(status(500).label(), "server_error");
    }
}
