//! The generic signed channel, for gateways other than Meta's (SMS gateways, web chats, the older
//! receivers' integrations): one JSON shape both ways, `{"message_id","from","to","ts","text"}`,
//! signed with `X-Signature: <hex HMAC-SHA256 of the raw body>` under `CUSTOM_WEBHOOK_SECRET`.
//!
//! Messages come in through `POST /webhooks/custom` (`crate::ingress::custom`) and join the same
//! inbox, lanes and engine as WhatsApp's, in a conversation keyed by channel `custom`, the salon's
//! number (their `to`) and the customer's. Replies leave through the outbox (retries with backoff,
//! one conversation's replies in order, dead letters) and are POSTed to `CUSTOM_REPLY_URL` by
//! [`client::CustomClient`], the only code that talks to it. The channel is plain text: buttons and
//! lists go as numbered options ([`text`]), and the customer answers with the number. WhatsApp's
//! 24-hour window does not apply.

pub mod client;
pub mod error;
pub mod text;
pub mod wire;

pub use client::CustomClient;
pub use error::CustomError;
