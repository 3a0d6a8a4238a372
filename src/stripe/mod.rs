//! Stripe: the wire formats of the calls and events the deposits use, and the API client.
//!
//! Hand-written on reqwest rather than a generated SDK: three calls and a handful of event types
//! are the whole surface, and a generated crate compiles megabytes of code for them. Requests are
//! form-encoded in Stripe's bracket notation ([`form`]), authenticated with the secret key as a
//! bearer token, pinned to one API version ([`API_VERSION`]) so that payload shapes do not move
//! with the account's default, and every POST carries an `Idempotency-Key` taken from its outbox
//! row ([`client`]). Stripe's error JSON is read into typed errors ([`error`]); the objects and
//! events are read leniently (unknown fields ignored, missing ones defaulted) into [`wire`] types.
//! Only this module speaks Stripe's formats: the ingress and the worker see its typed values.

pub mod client;
pub mod error;
pub mod form;
pub mod wire;

pub use client::{StripeApi, StripeClient};
pub use error::StripeError;

/// The API version every request is pinned to (`Stripe-Version`). Webhook payloads follow the
/// endpoint's own version, set when the endpoint is created: create it with this one.
pub const API_VERSION: &str = "2026-07-29.dahlia";
