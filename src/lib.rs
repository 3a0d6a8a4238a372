//! salonbot: a WhatsApp booking bot runtime for hair and beauty salons.
//!
//! Start reading at `main.rs` (command line, configuration, telemetry) and [`app`] (the router and the
//! background tasks). The path of one message is: [`ingress`] verifies, parses and stores it in the
//! [`store`]'s inbox before answering; a [`worker`] claims it, turns it into the [`engine`]'s input,
//! runs the pure step and commits the new state, the bookings and the replies in one transaction; a
//! dispatcher sends the replies from the outbox. `docs/architecture.md` follows that path step by step
//! and says what each module owns and may depend on.

/// The salon's web pages and the operator's JSON API, behind `ADMIN_TOKEN`.
pub mod admin;
/// The router, the shared state, and starting and stopping everything together.
pub mod app;
/// The booking domain: catalog, availability, appointment statuses (pure).
pub mod booking;
/// The optional Redis, with timeouts and a breaker so it can never fail a webhook.
pub mod cache;
/// `salonbot chat`: the terminal simulator, a customer talking to the bot through the real inbox path.
pub mod chat;
/// Chatwoot, the staff inbox: its webhook events and API bodies, and the API client; the only code
/// that talks to Chatwoot.
pub mod chatwoot;
/// The `salonbot` command line.
pub mod cli;
/// Configuration from the environment, with secrets that never print.
pub mod config;
/// Customer identifiers (E.164 phones, business-scoped ids) and conversation keys; masking for logs.
pub mod conversation;
/// The generic signed channel for gateways other than Meta's: its message shape both ways, the
/// plain-text rendering of replies, and the client of `CUSTOM_REPLY_URL`.
pub mod custom;
/// `salonbot doctor`: a deployment checked from the operator's side, one line per check.
pub mod doctor;
/// Conversation flows as data (the flow file model and loader, the checker, the Mermaid diagram) and
/// the pure step that runs them. Imports no storage, provider, inbox or I/O crate (a test checks).
pub mod engine;
/// The one HTTP error type and its mapping to status codes and JSON bodies.
pub mod error;
/// Inbox events, the shared shape of what ingress stores and the worker runs: who wrote a customer's
/// message and what, for the listings (`Said`); JSON as the store can keep it; a fired timer's payload.
pub mod event;
/// `/health`, `/health/live`, `/health/ready`.
pub mod health;
/// Webhook ingress: limits, signatures, dedup, rate limits, audit, durable acknowledgement.
pub mod ingress;
/// The optional language model for free text the rules do not understand: asked by the worker
/// outside the pure step, its answer validated against the catalog, recorded, and given to the turn.
pub mod language_model;
/// Persistence on PostgreSQL or SQLite behind one type, the only module that runs SQL: a file per
/// table, the turn commit, the group-commit writer.
pub mod store;
/// Stripe's wire formats (the Checkout Session and refund requests, the objects and events the
/// deposits act on) and the hand-written API client, with a sandbox standing in for it in the chat.
pub mod stripe;
/// Tracing setup and the Prometheus metrics of the public contract.
pub mod telemetry;
/// Text folded as the bot reads it (case, accents, punctuation), for the catalog and the messages.
pub mod text;
/// WhatsApp Cloud API wire types (webhook notifications split into typed events, outbound messages and
/// their limits) and the API client.
pub mod whatsapp;
/// Everything after the acknowledgement, built by one pipeline for `serve` and `chat`: the inbox
/// worker and its handler, conversation turns (inbox event to engine input, step, commit), the outbox
/// dispatcher, the 24-hour window, retries and the periodic loops.
pub mod worker;
