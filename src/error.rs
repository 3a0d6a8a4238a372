//! The one HTTP error type: every refusal the service gives, with its status code, its JSON body
//! (`{"error": "<code>", "message": "..."}`) and the metric outcome it counts as. Internal details are
//! logged where they happen and never sent to the caller.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ingress::ratelimit::Throttled;
use crate::ingress::signature::SignatureError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The route's integration is not configured (the named variable is unset).
    #[error("{0} is not set")]
    NotConfigured(&'static str),
    #[error("too many requests")]
    Throttled(Throttled),
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    InvalidSignature(SignatureError),
    #[error("verification refused")]
    VerificationRefused,
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Well-formed, but a field is missing or cannot be right; the body names it (`"field"`).
    #[error("invalid field {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// Storage could not commit in time: the provider should retry.
    #[error("storage unavailable")]
    Unavailable,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotConfigured(_) | AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::InvalidSignature(_) => StatusCode::UNAUTHORIZED,
            AppError::VerificationRefused => StatusCode::FORBIDDEN,
            AppError::Malformed(_) => StatusCode::BAD_REQUEST,
            AppError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The `error` field of the body.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotConfigured(_) => "not_configured",
            AppError::Throttled(_) => "throttled",
            AppError::TooLarge { .. } => "too_large",
            AppError::InvalidSignature(_) => "invalid_signature",
            AppError::VerificationRefused => "verification_refused",
            AppError::Malformed(_) => "malformed",
            AppError::InvalidField { .. } => "invalid_field",
            AppError::Unavailable => "unavailable",
        }
    }

    /// The `outcome` label of `salonbot_webhooks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            AppError::NotConfigured(_) | AppError::Unavailable => "unavailable",
            AppError::Throttled(_) => "throttled",
            AppError::TooLarge { .. } => "too_large",
            AppError::InvalidSignature(_) | AppError::VerificationRefused => "invalid_signature",
            AppError::Malformed(_) | AppError::InvalidField { .. } => "malformed",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let AppError::InvalidField { field, .. } = &self {
            body["field"] = json!(field);
        }
        let body = Json(body);
        let mut response = (self.status(), body).into_response();
        if let AppError::Throttled(t) = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(t.retry_after_secs));
        }
        response
    }
}
