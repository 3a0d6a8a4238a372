//! salonbot: a WhatsApp booking bot runtime for hair and beauty salons.
//!
//! Start reading at `main.rs` (command line, configuration, telemetry) and [`app`] (the router and the
//! background tasks). The path of one message is: [`ingress`] verifies, parses and stores it in the
//! [`store`]'s inbox before answering; a [`worker`] claims it and (from the engine issue on) runs the
//! conversation; replies leave through an outbox.

/// The router, the shared state, and starting and stopping everything together.
pub mod app;
/// The booking domain: catalog, availability, appointment statuses (pure).
pub mod booking;
/// The optional Redis, with timeouts and a breaker so it can never fail a webhook.
pub mod cache;
/// `salonbot chat`: the terminal simulator, a customer talking to the bot through the real inbox path.
pub mod chat;
/// The `salonbot` command line.
pub mod cli;
/// Configuration from the environment, with secrets that never print.
pub mod config;
/// Customer identifiers (E.164 phones, business-scoped ids) and conversation keys; masking for logs.
pub mod conversation;
/// Conversation flows as data (the flow file model and loader, the checker, the Mermaid diagram) and
/// the pure step that runs them. Imports no storage, provider, inbox or I/O crate (a test checks).
pub mod engine;
/// The one HTTP error type and its mapping to status codes and JSON bodies.
pub mod error;
/// Inbox events, the shared shape of what ingress stores and the worker runs.
pub mod event;
/// `/health`, `/health/live`, `/health/ready`.
pub mod health;
/// Webhook ingress: limits, signatures, dedup, rate limits, audit, durable acknowledgement.
pub mod ingress;
/// Persistence on PostgreSQL or SQLite behind one type; the group-commit writer.
pub mod store;
/// Tracing setup and the Prometheus metrics of the public contract.
pub mod telemetry;
/// WhatsApp Cloud API wire types (webhook notifications split into typed events, outbound messages and
/// their limits) and the API client.
pub mod whatsapp;
/// Background consumers: the inbox worker, conversation turns (inbox event to engine input, step,
/// commit) and the outbox dispatcher.
pub mod worker;
