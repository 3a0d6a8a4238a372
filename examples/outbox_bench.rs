//! Outbox throughput: how fast the dispatcher hands stored messages to the Graph API.
//!
//! Starts a local stand-in for Meta's `/messages` endpoint (answers at once, as Meta does on success),
//! stores messages in the outbox of a fresh Postgres schema (or SQLite file), runs dispatchers, and
//! reports:
//! 1. drain: a backlog of `--messages` to `--recipients` customers, sent as fast as possible (messages/s);
//! 2. steady: messages committed at `--rate` per second while the dispatchers run, with the latency from
//!    the commit to the moment the fake Graph API received each message (p50/p99).
//!
//! ```sh
//! cargo run --release --example outbox_bench -- \
//!   --database-url postgres://postgres@127.0.0.1:5432/test --messages 30000 --recipients 3000
//! ```
//! Only loopback is contacted. Each run works in a schema of its own, dropped at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use clap::Parser;
use hdrhistogram::Histogram;
use salonbot::config::{DatabaseUrl, Secret};
use salonbot::store::{NewOutbound, Store, StoreOptions};
use salonbot::telemetry::Metrics;
use salonbot::whatsapp::client::{RetryBudget, WhatsAppClient, WhatsAppSender};
use salonbot::worker::outbox::{DispatchOptions, Dispatcher, SendingState};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::{Notify, watch};

#[derive(Parser, Debug)]
struct Args {
    /// postgres://... (a schema is created in it) or sqlite://path.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// Messages in the drain phase.
    #[arg(long, default_value_t = 30_000)]
    messages: u64,
    /// Distinct recipients.
    #[arg(long, default_value_t = 3_000)]
    recipients: u64,
    /// Dispatcher tasks.
    #[arg(long, default_value_t = 2)]
    dispatchers: usize,
    /// Messages per claim.
    #[arg(long, default_value_t = 64)]
    batch: u32,
    /// Messages per second committed in the steady phase.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
    /// Length of the steady phase, in seconds.
    #[arg(long, default_value_t = 10)]
    steady_secs: u64,
}

/// Arrival instants at the fake Graph API, by message sequence number.
#[derive(Default)]
struct Arrivals {
    count: AtomicU64,
    at: Mutex<HashMap<u64, Instant>>,
}

async fn fake_graph(arrivals: Arc<Arrivals>) -> anyhow::Result<String> {
    let ids = Arc::new(AtomicU64::new(0));
    let app = Router::new().route(
        "/v21.0/{phone}/messages",
        post(move |Json(body): Json<Value>| {
            let arrivals = arrivals.clone();
            let ids = ids.clone();
            async move {
                if let Some(seq) = body["text"]["body"]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    arrivals
                        .at
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(seq, Instant::now());
                }
                arrivals.count.fetch_add(1, Ordering::Relaxed);
                let id = ids.fetch_add(1, Ordering::Relaxed);
                Json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": format!("wamid.bench.{id}")}]
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v21.0"))
}

fn message(seq: u64, recipients: u64) -> NewOutbound {
    let recipient = format!("+3461{:07}", seq % recipients);
    NewOutbound {
        idempotency_key: format!("bench.{seq}"),
        provider: salonbot::store::Provider::WhatsApp,
        business_id: "106540352242922".into(),
        conversation_key: format!("whatsapp:106540352242922:{recipient}"),
        recipient: recipient.clone(),
        kind: "text".into(),
        payload: json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient,
                        "type": "text", "text": {"preview_url": false, "body": seq.to_string()}}),
        created_at: Utc::now(),
    }
}

async fn wait_for(arrivals: &Arrivals, n: u64, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while arrivals.count.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "messages not all sent within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// The allocator `salonbot` itself runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let schema = format!("outbox_bench_{}", uuid::Uuid::new_v4().simple());
    let url = if args.database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&args.database_url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        let sep = if args.database_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}options[search_path]={schema}", args.database_url)
    } else {
        args.database_url.clone()
    };
    let store = Store::connect(&DatabaseUrl::parse(&url)?, &StoreOptions::default()).await?;
    store.migrate().await?;

    let arrivals = Arc::new(Arrivals::default());
    let base = fake_graph(arrivals.clone()).await?;
    let sender = WhatsAppSender::Live(WhatsAppClient::new(
        &base,
        "106540352242922",
        Secret::new("bench-token"),
        Duration::from_secs(10),
        RetryBudget::default(),
        Metrics::new(),
    )?);

    // Phase 1: drain a backlog.
    for chunk in (0..args.messages).collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<NewOutbound> = chunk.iter().map(|s| message(*s, args.recipients)).collect();
        store.enqueue_outbox(&rows).await?;
    }
    let (stop, stop_rx) = watch::channel(false);
    let options = DispatchOptions {
        batch: args.batch,
        poll: Duration::from_millis(5),
        ..DispatchOptions::default()
    };
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.dispatchers)
        .map(|_| {
            let d = Dispatcher::new(
                store.clone(),
                sender.clone(),
                Arc::new(SendingState::default()),
                Arc::new(Notify::new()),
                options.clone(),
            );
            tokio::spawn(d.run(stop_rx.clone()))
        })
        .collect();
    wait_for(&arrivals, args.messages, Duration::from_secs(600)).await?;
    let drain = started.elapsed();
    println!(
        "drain: {} messages to {} recipients in {:.2} s = {:.0} messages/s ({} dispatchers, batch {})",
        args.messages,
        args.recipients,
        drain.as_secs_f64(),
        args.messages as f64 / drain.as_secs_f64(),
        args.dispatchers,
        args.batch
    );

    // Phase 2: a steady rate, latency from commit to arrival.
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    let first = args.messages;
    let total = args.rate * args.steady_secs;
    let per_tick = (args.rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut seq = first;
    while seq < first + total {
        tick.tick().await;
        let rows: Vec<NewOutbound> = (seq..(seq + per_tick).min(first + total))
            .map(|s| message(s, args.recipients))
            .collect();
        store.enqueue_outbox(&rows).await?;
        let now = Instant::now();
        for s in seq..seq + rows.len() as u64 {
            committed.insert(s, now);
        }
        seq += rows.len() as u64;
    }
    wait_for(&arrivals, first + total, Duration::from_secs(120)).await?;
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let mut latency = Histogram::<u64>::new(3)?;
    {
        let at = arrivals.at.lock().unwrap_or_else(|p| p.into_inner());
        for (s, c) in &committed {
            if let Some(a) = at.get(s) {
                latency.record(a.saturating_duration_since(*c).as_micros() as u64)?;
            }
        }
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "steady: {} messages/s for {} s, commit to send: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        args.rate,
        args.steady_secs,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        latency.max() as f64 / 1000.0
    );

    if args.database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&args.database_url).await?;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
