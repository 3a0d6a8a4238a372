//! WhatsApp Cloud API: wire types of what Meta sends us (`webhook`), of what we send (`messages`), the
//! client that sends it (`client`) and Meta's error codes (`error`).

pub mod client;
pub mod error;
pub mod messages;
pub mod webhook;
