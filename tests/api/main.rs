//! The one integration-test binary: the real app over a real socket, real PostgreSQL and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_graph;
mod fake_openai;
mod fake_stripe;
mod helpers;
mod proxy;

mod appointments;
mod boundaries;
mod chat;
mod cli;
mod conversations;
mod custom_channel;
mod deploy;
mod deposits;
mod dispatcher;
mod doctor;
mod engine_properties;
mod flows;
mod health;
mod language_model;
mod operator;
mod outbox;
mod statuses;
mod storage_failures;
mod store_contract;
mod stripe_client;
mod stripe_ingress;
mod timers;
mod whatsapp_client;
mod whatsapp_ingress;
mod whatsapp_verify;
mod worker;
