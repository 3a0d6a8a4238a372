//! Chatwoot, the staff inbox: its webhook events and API bodies ([`wire`]), the API client
//! ([`client`]) and its errors ([`error`]). The only code that talks to Chatwoot.
//!
//! Two ways to run it (`CHATWOOT_MODE`): `mirror`, where the bot owns the WhatsApp number and every
//! message of a conversation is mirrored into a Chatwoot API-channel inbox for the staff to read and
//! answer; and `channel`, where Chatwoot owns the number and the bot is its agent bot.

pub mod client;
pub mod error;
pub mod wire;

pub use client::ChatwootApi;
pub use error::ChatwootError;
