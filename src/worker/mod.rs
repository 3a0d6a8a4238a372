//! Background work off the request path: the inbox consumer, the outbox dispatcher (and, from later
//! issues on, timers).

pub mod inbox;
pub mod outbox;
pub mod pacing;
