//! Why handling an inbox event failed: the error a failed event is retried with, and whose text is
//! kept in its `last_error` for operators.

use std::sync::Arc;

use crate::store::{StoreError, TurnError};
use crate::worker::input::NoInput;

/// Why an event was not handled (it is retried, and dead after the retry budget). Cloneable, so that
/// one failure of a batch-wide step (recording the batch's customer messages) is every event's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The turn could not be committed.
    #[error(transparent)]
    Turn(Arc<TurnError>),
    /// The stored event cannot be read as what its kind says.
    #[error(transparent)]
    Input(#[from] NoInput),
    /// A delivery status whose message has no `wamid` stored yet (Meta can be faster than the
    /// dispatcher's settling): tried again shortly.
    #[error("no outbound message with wamid {0} yet")]
    UnknownMessage(String),
    /// The time the customer chose was taken again and again while the turn was planned.
    #[error("the booking kept changing under the turn")]
    BookingKeptChanging,
    /// A handler's own reason.
    #[error("{0}")]
    Handler(String),
}

impl From<StoreError> for WorkerError {
    fn from(err: StoreError) -> Self {
        WorkerError::Store(Arc::new(err))
    }
}

impl From<TurnError> for WorkerError {
    fn from(err: TurnError) -> Self {
        match err {
            TurnError::Store(err) => WorkerError::from(err),
            err => WorkerError::Turn(Arc::new(err)),
        }
    }
}

impl From<String> for WorkerError {
    fn from(reason: String) -> Self {
        WorkerError::Handler(reason)
    }
}

impl From<&str> for WorkerError {
    fn from(reason: &str) -> Self {
        WorkerError::Handler(reason.to_owned())
    }
}
