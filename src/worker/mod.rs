//! Background work off the request path: the inbox consumer, conversation turns, and the outbox
//! dispatcher with its pacing.

pub mod inbox;
pub mod outbox;
pub mod pacing;
pub mod turn;
