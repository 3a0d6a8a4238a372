//! What can go wrong when talking to Chatwoot, typed so that the outbox knows whether to retry.

/// A failed call to Chatwoot's API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatwootError {
    /// 401: the token is wrong, or a bot token was used where Chatwoot wants a user's.
    #[error("chatwoot refused the token (401): {0}")]
    Unauthorized(String),
    /// 403 or 404: the account, inbox or conversation is not there for this token.
    #[error("chatwoot has no such resource ({status}): {message}")]
    NotFound { status: u16, message: String },
    /// 422: Chatwoot refused the body (a phone number already taken, an invalid field).
    #[error("chatwoot refused the request (422): {0}")]
    Unprocessable(String),
    /// 429.
    #[error("chatwoot is rate limiting (429)")]
    RateLimited,
    /// 5xx.
    #[error("chatwoot failed ({0})")]
    Server(u16),
    /// Any other status.
    #[error("chatwoot answered {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer: connection refused, timeout.
    #[error("chatwoot unreachable: {0}")]
    Network(String),
    /// An answer of an unexpected shape.
    #[error("chatwoot answer unreadable: {0}")]
    Decode(String),
    /// The call needs a setting that is missing (`CHATWOOT_INBOX_ID`).
    #[error("chatwoot is not configured: {0}")]
    NotConfigured(&'static str),
}

impl ChatwootError {
    /// Whether the same call may succeed later: Chatwoot down, slow or busy.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ChatwootError::RateLimited | ChatwootError::Server(_) | ChatwootError::Network(_)
        )
    }

    /// The error of an answer with `status` and body `message` (Chatwoot's `{"error": ...}` or
    /// `{"message": ...}`, shortened).
    pub fn of_status(status: u16, body: &str) -> Self {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("error"))
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
            })
            .unwrap_or_else(|| body.chars().take(200).collect());
        match status {
            401 => ChatwootError::Unauthorized(message),
            403 | 404 => ChatwootError::NotFound { status, message },
            422 => ChatwootError::Unprocessable(message),
            429 => ChatwootError::RateLimited,
            500..=599 => ChatwootError::Server(status),
            _ => ChatwootError::Status { status, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_retried_and_refusals_are_not() {
        assert!(ChatwootError::of_status(503, "").is_retryable());
        assert!(ChatwootError::of_status(429, "").is_retryable());
        assert!(
            !ChatwootError::of_status(401, r#"{"error":"Invalid Access Token"}"#).is_retryable()
        );
        assert_eq!(
            ChatwootError::of_status(422, r#"{"message":"Phone number has already been taken"}"#),
            ChatwootError::Unprocessable("Phone number has already been taken".into())
        );
    }
}
