//! Background work off the request path: the inbox consumer (and, from later issues on, the outbox
//! dispatcher and timers).

pub mod inbox;
