//! Conversation turns end to end: a signed WhatsApp webhook in, the bot's reply out at the Graph API.
//!
//! Starts the whole app in this process (`App::build` + `App::serve`, the same as `salonbot serve`) on
//! a fresh Postgres schema (or SQLite file), with a local stand-in for Meta's `/messages` endpoint, then
//! lets `--customers` customers chat with it at once. Each customer is a task that, turn after turn:
//!
//! 1. posts a notification signed like Meta's (`X-Hub-Signature-256` over the raw body): a text
//!    "hola", a tap on the greeting's `book` button, a text "menu", and again (a "hola" to the
//!    greeting is answered "not understood" and the greeting again: 1.3 messages per turn);
//! 2. waits until the fake Graph API has received the bot's answer to it (matched by recipient: the
//!    fake records each arrival per customer and wakes that customer's task). A turn is answered
//!    when its last message, the one with buttons or a list, has arrived;
//! 3. records the latency from sending the webhook to the first reply and to the whole answer.
//!
//! The path measured is everything of production: ingress (signature, parsing, dedup, group commit),
//! the inbox worker (claim, 24-hour window record, engine step, turn committed in one transaction with
//! its outbox rows), the outbox dispatcher (claim, HTTP call to the Graph API, settle). Send pacing is
//! turned off (`WHATSAPP_SEND_PER_SECOND=0`, `WHATSAPP_RECIPIENT_GAP_MS=0`): the benchmark measures
//! the bot, not Meta's limits.
//!
//! Without `--rate` the customers go as fast as they are answered (closed loop: maximum
//! throughput). With `--rate R`, turns are started on a fixed schedule of R per second spread over the
//! customers (open loop), and latency counts from the scheduled time, so a bot that falls behind is
//! charged for the wait.
//!
//! `--warmup-turns` turns of other customers go first and are not measured. Every run checks that
//! each turn was answered, that every webhook got 200, that the outbox rows settled as sent are as
//! many as the messages the fake received, and that every inbox event is done; the exit code is 1
//! otherwise. On Postgres it also prints the schema's table statistics per turn (pg_stat_user_tables)
//! and where the time went, from the rows' own timestamps.
//!
//! `--seed-conversations N` first stores N finished conversations with `--seed-history` inbound
//! events and outbound messages each (bulk `INSERT ... SELECT generate_series`, then VACUUM ANALYZE
//! and CHECKPOINT, Postgres only), so that the cost of a turn can be compared with and without
//! history. `--schema NAME --keep-schema` keeps a seeded schema for later runs (the previous run's
//! live customers are deleted first): a million conversations take minutes and about 5 GB.
//!
//! ```sh
//! cargo run --release --example turns_bench -- --customers 200 --turns 10
//! cargo run --release --example turns_bench -- --seed-conversations 10000
//! cargo run --release --example turns_bench -- --rate 1000 --turns 30
//! cargo run --release --example turns_bench -- --no-redis --database-url sqlite://
//! ```
//! Only loopback is contacted. The last line printed is a JSON summary.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use clap::Parser;
use hdrhistogram::Histogram;
use salonbot::app::App;
use salonbot::config::Config;
use salonbot::ingress::signature::sign_sha256_header;
use salonbot::store::{Store, StoreOptions};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use tokio::sync::{oneshot, watch};

const SECRET: &str = "turns-bench-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
/// Live customers are `+34 61 xxxxxxx` (warm-up ones `+34 62 ...`); seeded ones `+34 7xxxxxxxx`.
const LIVE_PREFIX: &str = "3461";
const WARMUP_PREFIX: &str = "3462";
const SEED_PREFIX: &str = "347";
/// Highest latency tracked exactly (60 s, in microseconds).
const HISTOGRAM_MAX_MICROS: u64 = 60_000_000;

#[derive(Parser, Debug)]
#[command(
    about = "Conversation turns end to end: signed webhook in, reply out at a fake Graph API"
)]
struct Args {
    /// postgres://... (a schema of its own is created in it and dropped at the end), or sqlite://PATH
    /// (`sqlite://` alone: a fresh temporary file).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database_url: String,
    /// Redis for dedup, rate limits and pacing counters.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Run without Redis (in-process dedup and limits).
    #[arg(long)]
    no_redis: bool,
    /// Customers chatting at once (one task and one keep-alive connection each).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    customers: u64,
    /// Measured turns per customer.
    #[arg(long, default_value_t = 10)]
    turns: u64,
    /// Turns per customer of a warm-up phase (other customers, not measured).
    #[arg(long, default_value_t = 2)]
    warmup_turns: u64,
    /// Open loop: start this many turns per second in all (latency counts from the scheduled time).
    /// Each customer then starts a turn every customers/rate seconds: give enough customers that
    /// this is longer than a turn takes. Without it, closed loop: each customer's next turn starts
    /// when the last one is answered.
    #[arg(long)]
    rate: Option<f64>,
    /// Stored conversations to seed before the run (Postgres only), e.g. 10000 or 1000000.
    #[arg(long, default_value_t = 0)]
    seed_conversations: u64,
    /// Inbound events and outbound messages of history per seeded conversation (each).
    #[arg(long, default_value_t = 3)]
    seed_history: u64,
    /// Postgres schema to use; created (and seeded) if missing, reused if it exists.
    #[arg(long)]
    schema: Option<String>,
    /// Leave the schema in place at the end (to run again on the same seeded history).
    #[arg(long)]
    keep_schema: bool,
    /// Longest wait for one turn's answer, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// The app's `QUEUE_RETENTION_DAYS`. The default keeps all seeded history (at most 31 days
    /// old); a smaller number has the retention job remove the older part while the turns run.
    #[arg(long, default_value_t = 3650)]
    queue_retention_days: u32,
}

// ---------------------------------------------------------------------------------------------------
// The fake Graph API.

/// One message the fake received.
struct Arrival {
    at: Instant,
    /// Buttons or a list: the last message of every answer in the turns sent here.
    interactive: bool,
}

/// What the fake received for one customer, and a way to wake that customer's task.
struct Inbox {
    arrivals: Mutex<Vec<Arrival>>,
    changed: watch::Sender<usize>,
}

impl Inbox {
    fn new() -> Self {
        Self {
            arrivals: Mutex::new(Vec::new()),
            changed: watch::Sender::new(0),
        }
    }

    fn len(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// The answer to a turn sent when `before` messages had arrived: (first arrival, arrival of the
    /// interactive message that ends it, messages in it), once that interactive message is here.
    fn answer_since(&self, before: usize) -> Option<(Instant, Instant, usize)> {
        let arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let new = arrivals.get(before..)?;
        let first = new.first()?.at;
        let end = new.iter().position(|a| a.interactive)?;
        Some((first, new[end].at, end + 1))
    }
}

struct Graph {
    /// By recipient digits (no `+`); fixed before the run starts.
    inboxes: HashMap<String, Arc<Inbox>>,
    received: AtomicU64,
    /// Messages to a recipient no customer task is waiting for.
    unknown: AtomicU64,
    ids: AtomicU64,
    run: String,
}

async fn messages(State(graph): State<Arc<Graph>>, Json(body): Json<Value>) -> Json<Value> {
    let to = body["to"].as_str().unwrap_or_default();
    graph.received.fetch_add(1, Ordering::Relaxed);
    match graph.inboxes.get(to.trim_start_matches('+')) {
        Some(inbox) => {
            let count = {
                let mut arrivals = inbox.arrivals.lock().unwrap_or_else(|p| p.into_inner());
                arrivals.push(Arrival {
                    at: Instant::now(),
                    interactive: body["type"] == "interactive",
                });
                arrivals.len()
            };
            inbox.changed.send_replace(count);
        }
        None => {
            graph.unknown.fetch_add(1, Ordering::Relaxed);
        }
    }
    let id = graph.ids.fetch_add(1, Ordering::Relaxed);
    // Meta's answer on success.
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
        "messages": [{"id": format!("wamid.turns.{}.{id}", graph.run)}]
    }))
}

async fn start_graph(graph: Arc<Graph>) -> anyhow::Result<String> {
    let app = Router::new()
        .route("/v21.0/{phone}/messages", post(messages))
        .with_state(graph);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v21.0"))
}

// ---------------------------------------------------------------------------------------------------
// Customers.

fn phone(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:07}")
}

/// The notification of turn `turn` of a customer: "hola", a tap on `book`, "menu", and again.
fn notification(phone: &str, wamid: &str, turn: u64) -> anyhow::Result<Vec<u8>> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?
        .as_secs()
        .to_string();
    let mut message = json!({"from": phone, "id": wamid, "timestamp": timestamp});
    match turn % 3 {
        0 => {
            message["type"] = json!("text");
            message["text"] = json!({"body": "hola"});
        }
        1 => {
            message["type"] = json!("interactive");
            message["interactive"] = json!({"type": "button_reply", "button_reply": {"id": "book", "title": "Reservar"}});
        }
        _ => {
            message["type"] = json!("text");
            message["text"] = json!({"body": "menu"});
        }
    }
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                    "contacts": [{"profile": {"name": format!("Cliente {phone}")}, "wa_id": phone}],
                    "messages": [message]
                },
                "field": "messages"
            }]
        }]
    });
    Ok(serde_json::to_vec(&body)?)
}

/// What one customer (or all of them, merged) observed. Latencies are kept as plain samples (µs) and
/// turned into histograms once, for the report: a histogram per customer would cost the load
/// generator hundreds of megabytes and the page faults to fill them, on the cores the bot runs on.
struct Stats {
    /// Webhook sent (or scheduled) → first reply at the Graph API.
    first_reply: Vec<u64>,
    /// Webhook sent (or scheduled) → the whole answer (its interactive message) at the Graph API.
    answered: Vec<u64>,
    /// Webhook sent → its HTTP answer (the event committed).
    ack: Vec<u64>,
    turns: u64,
    replies: u64,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    error_samples: Vec<String>,
    timeouts: u64,
    /// Open loop: turns that started after their scheduled time (the previous one was not answered).
    late_starts: u64,
}

impl Stats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            first_reply: Vec::new(),
            answered: Vec::new(),
            ack: Vec::new(),
            turns: 0,
            replies: 0,
            statuses: BTreeMap::new(),
            errors: 0,
            error_samples: Vec::new(),
            timeouts: 0,
            late_starts: 0,
        })
    }

    fn merge(&mut self, other: Stats) -> anyhow::Result<()> {
        self.first_reply.extend(other.first_reply);
        self.answered.extend(other.answered);
        self.ack.extend(other.ack);
        self.turns += other.turns;
        self.replies += other.replies;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(sample);
            }
        }
        self.timeouts += other.timeouts;
        self.late_starts += other.late_starts;
        Ok(())
    }

    fn non_200(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| **s != 200)
            .map(|(_, n)| n)
            .sum::<u64>()
            + self.errors
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

struct Phase {
    client: reqwest::Client,
    url: String,
    prefix: &'static str,
    turns: u64,
    customers: u64,
    rate: Option<f64>,
    timeout: Duration,
    run: String,
    graph: Arc<Graph>,
}

impl Phase {
    async fn customer(self: Arc<Self>, index: u64, started: Instant) -> anyhow::Result<Stats> {
        let mut stats = Stats::new()?;
        let phone = phone(self.prefix, index);
        let inbox = self
            .graph
            .inboxes
            .get(&phone)
            .cloned()
            .context("customer without an inbox at the fake Graph API")?;
        let mut changed = inbox.changed.subscribe();
        for turn in 0..self.turns {
            // Open loop: turn `turn` of customer `index` is due at (turn * customers + index) / rate.
            let scheduled = match self.rate {
                Some(rate) => {
                    let due = started
                        + Duration::from_secs_f64((turn * self.customers + index) as f64 / rate);
                    if Instant::now() > due + Duration::from_millis(1) {
                        stats.late_starts += 1;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    Some(due)
                }
                None => None,
            };
            let wamid = format!("wamid.TURNS.{}.{}.{index}.{turn}", self.run, self.prefix);
            let body = notification(&phone, &wamid, turn)?;
            let signature = sign_sha256_header(SECRET.as_bytes(), &body);
            let before = inbox.len();
            let sent = Instant::now();
            let from = scheduled.unwrap_or(sent);
            let response = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Hub-Signature-256", signature)
                .body(body)
                .send()
                .await;
            let status = match response {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.bytes().await.map(|_| status)
                }
                Err(err) => Err(err),
            };
            stats.ack.push(micros(sent.elapsed()));
            match status {
                Ok(200) => *stats.statuses.entry(200).or_default() += 1,
                Ok(other) => {
                    *stats.statuses.entry(other).or_default() += 1;
                    continue;
                }
                Err(err) => {
                    stats.errors += 1;
                    if stats.error_samples.len() < 5 {
                        stats.error_samples.push(format!("{err:#}"));
                    }
                    continue;
                }
            }
            // The watch's borrow is dropped at once: the fake Graph API writes to it.
            let answered = tokio::time::timeout(
                self.timeout,
                changed.wait_for(|_| inbox.answer_since(before).is_some()),
            )
            .await
            .is_ok_and(|waited| waited.is_ok());
            if !answered {
                // A late answer would be taken for the next turn's: this customer stops here.
                stats.timeouts += 1;
                break;
            }
            let Some((first, end, count)) = inbox.answer_since(before) else {
                bail!("an answer seen a moment ago is gone");
            };
            stats
                .first_reply
                .push(micros(first.saturating_duration_since(from)));
            stats
                .answered
                .push(micros(end.saturating_duration_since(from)));
            stats.turns += 1;
            stats.replies += count as u64;
        }
        Ok(stats)
    }

    async fn run(self: Arc<Self>) -> anyhow::Result<(Stats, Duration)> {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.customers {
            tasks.spawn(Arc::clone(&self).customer(index, started));
        }
        let mut total = Stats::new()?;
        while let Some(joined) = tasks.join_next().await {
            total.merge(joined.context("a customer task panicked")??)?;
        }
        Ok((total, started.elapsed()))
    }
}

// ---------------------------------------------------------------------------------------------------
// Postgres: schema, seeding, statistics.

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options[search_path]={schema}")
}

async fn schema_exists(conn: &mut PgConnection, schema: &str) -> anyhow::Result<bool> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(conn)
            .await?;
    Ok(exists)
}

/// Stores `n` finished conversations with `history` inbound events and outbound messages each, in
/// bulk. Returns the time it took (the inserts; then VACUUM ANALYZE and CHECKPOINT).
async fn seed(
    conn: &mut PgConnection,
    n: u64,
    history: u64,
) -> anyhow::Result<(Duration, Duration)> {
    let n = i64::try_from(n)?;
    let h = i64::try_from(history.max(1))?;
    let started = Instant::now();
    // Seeding is not what is measured: no need to wait for the WAL flush of each statement.
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    // History spread over the last 30 days, older for lower ids as in a database that grew with it;
    // event e = (c - 1) * h + j is message j of conversation c.
    let rows = "FROM (SELECT e, (e - 1) / $2 + 1 AS c, (e - 1) % $2 + 1 AS j FROM generate_series(1, $1 * $2) e) s, \
         LATERAL (SELECT $3 || lpad(c::text, 8, '0') AS phone, \
             now() - interval '1 day' - make_interval(mins => ((($1 - c) * 43200) / $1)::int) \
                 + make_interval(mins => j::int) AS t) x";
    let inbox = format!(
        "INSERT INTO inbox_events (id, provider, provider_event_id, business_id, conversation_key, kind, \
             payload, received_at, status, attempts, next_attempt_at, processed_at) \
         SELECT e, 'whatsapp', 'wamid.SEED.' || e, $4, 'whatsapp:' || $4 || ':+' || phone, 'message', \
             jsonb_build_object( \
                 'metadata', jsonb_build_object('display_phone_number', '15550783881', 'phone_number_id', $4), \
                 'contact', jsonb_build_object('profile', jsonb_build_object('name', 'Cliente ' || c), 'wa_id', phone), \
                 'message', jsonb_build_object('id', 'wamid.SEED.' || e, 'from', phone, \
                     'timestamp', extract(epoch FROM t)::bigint::text, 'type', 'text', \
                     'text', jsonb_build_object('body', (ARRAY['hola', 'quiero pedir cita', 'gracias'])[1 + (e % 3)::int]))), \
             t, 'done', 1, t, t + interval '40 milliseconds' {rows}"
    );
    sqlx::query(&inbox)
        .bind(n)
        .bind(h)
        .bind(SEED_PREFIX)
        .bind(PHONE_NUMBER_ID)
        .execute(&mut *conn)
        .await
        .context("seeding inbox_events")?;
    let outbox = format!(
        "INSERT INTO outbox (id, idempotency_key, business_id, conversation_key, recipient, kind, payload, \
             status, attempts, next_attempt_at, wamid, created_at, sent_at, status_at) \
         SELECT e, 'turn:' || e || ':0.0', $4, 'whatsapp:' || $4 || ':+' || phone, '+' || phone, 'interactive', \
             jsonb_build_object('messaging_product', 'whatsapp', 'recipient_type', 'individual', \
                 'to', '+' || phone, 'type', 'interactive', 'interactive', jsonb_build_object( \
                     'type', 'button', 'body', jsonb_build_object('text', '¡Hola! Bienvenida a Peluquería Malasaña. ¿Qué quieres hacer?'), \
                     'action', jsonb_build_object('buttons', jsonb_build_array( \
                         jsonb_build_object('type', 'reply', 'reply', jsonb_build_object('id', 'book', 'title', 'Reservar cita')), \
                         jsonb_build_object('type', 'reply', 'reply', jsonb_build_object('id', 'mine', 'title', 'Mis citas')), \
                         jsonb_build_object('type', 'reply', 'reply', jsonb_build_object('id', 'human', 'title', 'Hablar con alguien')))))), \
             (ARRAY['read', 'delivered', 'sent'])[1 + (e % 3)::int], 1, t, 'wamid.SEEDOUT.' || e, \
             t + interval '20 milliseconds', t + interval '60 milliseconds', t + interval '2 seconds' {rows}"
    );
    sqlx::query(&outbox)
        .bind(n)
        .bind(h)
        .bind(SEED_PREFIX)
        .bind(PHONE_NUMBER_ID)
        .execute(&mut *conn)
        .await
        .context("seeding outbox")?;
    sqlx::query(
        "INSERT INTO conversations (conversation_key, business_id, last_inbound_at, created_at, updated_at, \
             flow, state, language, human, last_event_id, turns) \
         SELECT 'whatsapp:' || $3 || ':+' || phone, $3, t, t - interval '10 minutes', t, 'booking', \
             jsonb_build_object('flow_version', 1, 'state', 'confirmed', 'language', 'es', \
                 'entered_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'slots', '{}'::jsonb), \
             'es', false, c * $2, $2 \
         FROM generate_series(1, $1) c, \
         LATERAL (SELECT $4 || lpad(c::text, 8, '0') AS phone, \
             now() - interval '1 day' - make_interval(mins => ((($1 - c) * 43200) / $1)::int) + make_interval(mins => $2::int) AS t) x",
    )
    .bind(n)
    .bind(h)
    .bind(PHONE_NUMBER_ID)
    .bind(SEED_PREFIX)
    .execute(&mut *conn)
    .await
    .context("seeding conversations")?;
    for table in ["inbox_events", "outbox"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        ))
        .execute(&mut *conn)
        .await?;
    }
    let inserted = started.elapsed();
    // A database with this much history has been vacuumed and analyzed by autovacuum long since, and
    // the bulk load's pages are on disk rather than flushed by a checkpoint during the run.
    let vacuum = Instant::now();
    sqlx::query("VACUUM ANALYZE inbox_events, outbox, conversations")
        .execute(&mut *conn)
        .await?;
    sqlx::query("CHECKPOINT").execute(&mut *conn).await?;
    sqlx::query("SET synchronous_commit = on")
        .execute(&mut *conn)
        .await?;
    Ok((inserted, vacuum.elapsed()))
}

/// Per-table counters of this schema (pg_stat_user_tables).
#[derive(Debug, Clone, Default, sqlx::FromRow)]
struct TableStats {
    relname: String,
    seq_scan: i64,
    seq_tup_read: i64,
    idx_scan: i64,
    idx_tup_fetch: i64,
    n_tup_ins: i64,
    n_tup_upd: i64,
    n_tup_hot_upd: i64,
    n_tup_del: i64,
}

async fn table_stats(conn: &mut PgConnection, schema: &str) -> anyhow::Result<Vec<TableStats>> {
    // Backends report their counters within a second of going idle.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_as(
        "SELECT relname::text AS relname, COALESCE(seq_scan, 0) AS seq_scan, \
             COALESCE(seq_tup_read, 0) AS seq_tup_read, COALESCE(idx_scan, 0) AS idx_scan, \
             COALESCE(idx_tup_fetch, 0) AS idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del \
         FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname",
    )
    .bind(schema)
    .fetch_all(conn)
    .await?)
}

fn print_table_stats(before: &[TableStats], after: &[TableStats], turns: u64) {
    let per = |v: i64| v as f64 / turns.max(1) as f64;
    println!(
        "table statistics per measured turn (pg_stat_user_tables):\n  {:<16} {:>9} {:>13} {:>9} {:>13} {:>7} {:>7} {:>7} {:>7}",
        "table",
        "seq_scan",
        "seq_tup_read",
        "idx_scan",
        "idx_tup_fetch",
        "ins",
        "upd",
        "hot_upd",
        "del"
    );
    for a in after {
        let b = before
            .iter()
            .find(|b| b.relname == a.relname)
            .cloned()
            .unwrap_or_default();
        let d = [
            a.seq_scan - b.seq_scan,
            a.seq_tup_read - b.seq_tup_read,
            a.idx_scan - b.idx_scan,
            a.idx_tup_fetch - b.idx_tup_fetch,
            a.n_tup_ins - b.n_tup_ins,
            a.n_tup_upd - b.n_tup_upd,
            a.n_tup_hot_upd - b.n_tup_hot_upd,
            a.n_tup_del - b.n_tup_del,
        ];
        if a.relname.starts_with('_') || d.iter().all(|v| *v == 0) {
            continue;
        }
        println!(
            "  {:<16} {:>9.2} {:>13.1} {:>9.2} {:>13.1} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
            a.relname,
            per(d[0]),
            per(d[1]),
            per(d[2]),
            per(d[3]),
            per(d[4]),
            per(d[5]),
            per(d[6]),
            per(d[7])
        );
    }
}

/// Where the time of the measured turns went, from the rows' own timestamps: the event received →
/// its turn started (inbox queue, claim, window record), and the turn started → its first reply
/// settled as sent (engine reads and commit, outbox queue, claim, Graph call, settle).
async fn stages(conn: &mut PgConnection, pattern: &str) -> anyhow::Result<()> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT (extract(epoch FROM e.processed_at - e.received_at) * 1e6)::bigint, \
                (extract(epoch FROM o.sent_at - o.created_at) * 1e6)::bigint \
         FROM inbox_events e JOIN outbox o ON o.idempotency_key = 'turn:' || e.id || ':0.0' \
         WHERE e.provider_event_id LIKE $1 AND o.sent_at IS NOT NULL",
    )
    .bind(pattern)
    .fetch_all(conn)
    .await?;
    let mut queued = Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)?;
    let mut to_sent = Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)?;
    for (q, s) in &rows {
        queued.saturating_record(u64::try_from(*q).unwrap_or(0).max(1));
        to_sent.saturating_record(u64::try_from(*s).unwrap_or(0).max(1));
    }
    println!(
        "stages (from stored timestamps, {} turns):\n  received → turn started:    {}\n  turn started → reply sent:  {}",
        rows.len(),
        quantiles(&queued),
        quantiles(&to_sent)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Reporting.

/// Starts the commit probe: a one-row insert, committed, every 20 ms until told to stop; returns the
/// commit times (µs).
async fn spawn_commit_probe(
    url: String,
) -> anyhow::Result<(
    watch::Sender<bool>,
    tokio::task::JoinHandle<anyhow::Result<Histogram<u64>>>,
)> {
    let mut conn = PgConnection::connect(&url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS commit_probe (at timestamptz NOT NULL)")
        .execute(&mut conn)
        .await?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut times = Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)?;
        let mut every = tokio::time::interval(Duration::from_millis(20));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stopped.borrow_and_update() {
            tokio::select! {
                _ = every.tick() => {}
                _ = stopped.changed() => break,
            }
            let started = Instant::now();
            sqlx::query("INSERT INTO commit_probe VALUES (now())")
                .execute(&mut conn)
                .await?;
            times.saturating_record(micros(started.elapsed()));
        }
        Ok(times)
    });
    Ok((stop, task))
}

fn histogram(samples: &[u64]) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)?;
    for v in samples {
        h.saturating_record(*v);
    }
    Ok(h)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(h, 0.5),
        ms(h, 0.95),
        ms(h, 0.99),
        h.max() as f64 / 1000.0
    )
}

/// The mean of a histogram of the app's metrics (`_sum` / `_count`), in milliseconds.
fn metric_mean(text: &str, name: &str) -> Option<(f64, f64)> {
    let value = |suffix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{suffix}")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let count = value("_count");
    (count > 0.0).then(|| (value("_sum") / count * 1000.0, count))
}

fn backend_name(args: &Args) -> String {
    let store = if args.database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    if args.no_redis {
        store.to_owned()
    } else {
        format!("{store}+redis")
    }
}

// ---------------------------------------------------------------------------------------------------

/// The allocator `salonbot` itself runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx::query=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let postgres = args.database_url.starts_with("postgres");
    if !postgres && args.seed_conversations > 0 {
        bail!("--seed-conversations needs Postgres");
    }
    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number of turns per second");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let run = format!("{:x}{:x}", now.as_secs(), std::process::id());

    // Storage.
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| format!("turns_bench_{}", uuid::Uuid::new_v4().simple()));
    let mut _sqlite_dir = None;
    let mut admin = None;
    let database_url = if postgres {
        let mut conn = PgConnection::connect(&args.database_url)
            .await
            .context("connecting to --database-url")?;
        if !schema_exists(&mut conn, &schema).await? {
            sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                .execute(&mut conn)
                .await?;
        }
        admin = Some(conn);
        with_search_path(&args.database_url, &schema)
    } else if args.database_url == "sqlite://" || args.database_url == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("salonbot.db").display());
        _sqlite_dir = Some(dir);
        url
    } else {
        args.database_url.clone()
    };

    let customers = args.customers;
    let warmup_customers = if args.warmup_turns > 0 { customers } else { 0 };
    let mut inboxes = HashMap::new();
    for i in 0..customers {
        inboxes.insert(phone(LIVE_PREFIX, i), Arc::new(Inbox::new()));
    }
    for i in 0..warmup_customers {
        inboxes.insert(phone(WARMUP_PREFIX, i), Arc::new(Inbox::new()));
    }
    let graph = Arc::new(Graph {
        inboxes,
        received: AtomicU64::new(0),
        unknown: AtomicU64::new(0),
        ids: AtomicU64::new(0),
        run: run.clone(),
    });
    let graph_base = start_graph(graph.clone()).await?;

    // The app, configured as `salonbot serve` would be from these variables.
    let root = env!("CARGO_MANIFEST_DIR");
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url.clone()),
        ("WHATSAPP_APP_SECRET", SECRET.to_owned()),
        ("WHATSAPP_VERIFY_TOKEN", "turns-bench".to_owned()),
        ("WHATSAPP_ACCESS_TOKEN", "turns-bench-token".to_owned()),
        ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID.to_owned()),
        ("WHATSAPP_API_BASE", graph_base),
        ("WHATSAPP_SEND_PER_SECOND", "0".to_owned()),
        ("WHATSAPP_RECIPIENT_GAP_MS", "0".to_owned()),
        ("SALON_CONFIG", format!("{root}/salon.toml")),
        ("FLOWS_DIR", format!("{root}/flows")),
        (
            "QUEUE_RETENTION_DAYS",
            args.queue_retention_days.to_string(),
        ),
    ]);
    if !args.no_redis {
        vars.insert("REDIS_URL", args.redis_url.clone());
    }
    let mut config = Config::from_lookup(|name| vars.get(name).cloned())?;
    let redis_prefix = format!("turns-bench:{run}:");
    config.redis_prefix = redis_prefix.clone();

    // The schema and its history, before the app starts (so seeding does not compete with it).
    let mut seeded = None;
    if let Some(conn) = admin.as_mut() {
        // Migrations through a throwaway store, so the seed has its tables.
        let store = Store::connect(&config.database_url, &StoreOptions::default()).await?;
        store.migrate().await?;
        drop(store);
        let mut conn_schema = PgConnection::connect(&database_url).await?;
        // A reused schema: forget the previous runs' live customers, keep the seeded history.
        for table in [
            "inbox_events",
            "outbox",
            "conversations",
            "timers",
            "appointments",
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE conversation_key NOT LIKE 'whatsapp:%:+{SEED_PREFIX}%'"
            ))
            .execute(&mut conn_schema)
            .await?;
        }
        let (existing,): (i64,) = sqlx::query_as("SELECT count(*) FROM conversations")
            .fetch_one(&mut conn_schema)
            .await?;
        let wanted = i64::try_from(args.seed_conversations)?;
        if existing == 0 && wanted > 0 {
            eprintln!(
                "seeding {} conversations with {} inbound events and {} outbound messages each ...",
                args.seed_conversations, args.seed_history, args.seed_history
            );
            let (inserted, vacuum) =
                seed(&mut conn_schema, args.seed_conversations, args.seed_history).await?;
            println!(
                "seeded: {} conversations, {} inbox events, {} outbox rows in {:.1} s (+ VACUUM ANALYZE and CHECKPOINT {:.1} s)",
                args.seed_conversations,
                args.seed_conversations * args.seed_history,
                args.seed_conversations * args.seed_history,
                inserted.as_secs_f64(),
                vacuum.as_secs_f64()
            );
        } else if existing != wanted {
            bail!(
                "schema {schema} holds {existing} seeded conversations, not {wanted}: use another --schema"
            );
        }
        let (existing,): (i64,) = sqlx::query_as("SELECT count(*) FROM conversations")
            .fetch_one(&mut conn_schema)
            .await?;
        let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM inbox_events")
            .fetch_one(&mut conn_schema)
            .await?;
        let (outbox,): (i64,) = sqlx::query_as("SELECT count(*) FROM outbox")
            .fetch_one(&mut conn_schema)
            .await?;
        let (size,): (String,) = sqlx::query_as(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
        )
        .bind(&schema)
        .fetch_one(&mut *conn)
        .await?;
        println!(
            "stored before the run: {existing} conversations, {events} inbox events, {outbox} outbox rows ({size} with indexes)"
        );
        seeded = Some(existing);
    }

    let app = App::build(config).await.context("building the app")?;
    let store = app.state().store.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(usize::try_from(customers)?)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()?;
    let url = format!("http://{addr}/webhooks/whatsapp");
    let timeout = Duration::from_secs(args.timeout_secs);
    eprintln!(
        "turns_bench: {} (run {run}), {customers} customers x {} turns, {}",
        backend_name(&args),
        args.turns,
        match args.rate {
            Some(r) => format!("open loop at {r} turns/s"),
            None => "closed loop".to_owned(),
        }
    );

    if warmup_customers > 0 {
        let warmup = Arc::new(Phase {
            client: client.clone(),
            url: url.clone(),
            prefix: WARMUP_PREFIX,
            turns: args.warmup_turns,
            customers: warmup_customers,
            rate: None,
            timeout,
            run: run.clone(),
            graph: graph.clone(),
        });
        let (w, elapsed) = warmup.run().await?;
        eprintln!(
            "warm-up: {} turns in {:.2} s, {} not answered 200, {} without an answer",
            w.turns,
            elapsed.as_secs_f64(),
            w.non_200(),
            w.timeouts
        );
    }

    let before = match admin.as_mut() {
        Some(conn) => table_stats(conn, &schema).await?,
        None => Vec::new(),
    };
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let phase = Arc::new(Phase {
        client: client.clone(),
        url,
        prefix: LIVE_PREFIX,
        turns: args.turns,
        customers,
        rate: args.rate,
        timeout,
        run: run.clone(),
        graph: graph.clone(),
    });
    // Beside the run, on its own connection: one-row durable commits every 20 ms. A disk that holds
    // every commit (seen on this machine: a flush taking hundreds of milliseconds) shows here, apart
    // from the bot.
    let probe = match admin.is_some() {
        true => Some(spawn_commit_probe(with_search_path(&args.database_url, &schema)).await?),
        false => None,
    };
    let (stats, elapsed) = phase.run().await?;
    let probe = match probe {
        Some((stop, task)) => {
            let _ = stop.send(true);
            Some(task.await.context("the commit probe panicked")??)
        }
        None => None,
    };
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // Before the checks below, whose own scans are not the app's.
    let after = match admin.as_mut() {
        Some(conn) => table_stats(conn, &schema).await?,
        None => Vec::new(),
    };

    // Sanity: every message the fake received is settled as sent in the outbox, nothing is left over.
    let live = format!("whatsapp:{PHONE_NUMBER_ID}:+346%");
    let received = graph.received.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    let by_status: BTreeMap<String, i64> = loop {
        let by_status = status_counts(&store, "outbox", &live).await?;
        let sent = by_status.get("sent").copied().unwrap_or(0);
        if u64::try_from(sent).unwrap_or(0) >= received || Instant::now() > deadline {
            break by_status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let inbox_by_status = status_counts(&store, "inbox_events", &live).await?;
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await?
        .text()
        .await?;

    let expected = args.customers * args.turns;
    let sent_rows = u64::try_from(by_status.get("sent").copied().unwrap_or(0)).unwrap_or(0);
    let inbox_done = u64::try_from(inbox_by_status.get("done").copied().unwrap_or(0)).unwrap_or(0);
    let mut problems = Vec::new();
    if stats.turns != expected {
        problems.push(format!("{} of {expected} turns answered", stats.turns));
    }
    if stats.non_200() > 0 {
        problems.push(format!(
            "webhooks not answered 200: {:?}, transport errors {}",
            stats.statuses, stats.errors
        ));
    }
    if sent_rows != received {
        problems.push(format!(
            "outbox rows sent {sent_rows} != messages at the fake Graph API {received}"
        ));
    }
    if by_status.keys().any(|s| s != "sent") {
        problems.push(format!("outbox rows not sent: {by_status:?}"));
    }
    if inbox_by_status.keys().any(|s| s != "done") {
        problems.push(format!("inbox events not done: {inbox_by_status:?}"));
    }
    let unknown = graph.unknown.load(Ordering::Relaxed);
    if unknown > 0 {
        problems.push(format!("{unknown} messages to unknown recipients"));
    }
    // Every message the fake received for a measured customer was part of a counted answer.
    let live_arrivals: u64 = (0..customers)
        .filter_map(|i| graph.inboxes.get(&phone(LIVE_PREFIX, i)))
        .map(|inbox| inbox.len() as u64)
        .sum();
    if live_arrivals != stats.replies {
        problems.push(format!(
            "{} messages arrived for measured customers, {} were counted in answers",
            live_arrivals, stats.replies
        ));
    }

    let secs = elapsed.as_secs_f64();
    let tps = stats.turns as f64 / secs;
    println!(
        "backend:     {}{}",
        backend_name(&args),
        seeded
            .map(|n| format!(", {n} seeded conversations"))
            .unwrap_or_default()
    );
    println!(
        "mode:        {}",
        match args.rate {
            Some(r) => format!(
                "open loop, {r} turns/s scheduled ({} turns started late)",
                stats.late_starts
            ),
            None => "closed loop".to_owned(),
        }
    );
    println!(
        "turns:       {} of {expected} in {secs:.2} s = {tps:.0} turns/s ({} customers x {} turns)",
        stats.turns, customers, args.turns
    );
    println!(
        "replies:     {} messages to measured customers ({:.2} per turn), {} at the fake Graph API in all",
        stats.replies,
        stats.replies as f64 / stats.turns.max(1) as f64,
        received
    );
    let ack = histogram(&stats.ack)?;
    let first_reply = histogram(&stats.first_reply)?;
    let answered = histogram(&stats.answered)?;
    if let Some(probe) = &probe {
        println!(
            "commit probe: {} one-row commits beside the run: {}; {} took 100 ms or more",
            probe.len(),
            quantiles(probe),
            probe.count_between(100_000, HISTOGRAM_MAX_MICROS)
        );
    }
    println!("webhook ack: {}", quantiles(&ack));
    println!("first reply: {}", quantiles(&first_reply));
    println!("answered:    {}", quantiles(&answered));
    if let Some((mean, n)) = metric_mean(&metrics, "salonbot_turn_duration_seconds") {
        println!("engine turn: mean {mean:.1} ms over {n} turns (load, step, commit; app metric)");
    }
    if let Some((mean, n)) = metric_mean(&metrics, "salonbot_outbound_latency_seconds") {
        println!("graph call:  mean {mean:.1} ms over {n} messages (app metric)");
    }
    println!("outbox:      {by_status:?}; inbox: {inbox_by_status:?} (measured customers)");
    println!(
        "load:        before {}  after {}",
        load_before.trim(),
        load_after.trim()
    );
    if admin.is_some() {
        print_table_stats(&before, &after, stats.turns);
        let mut conn_schema = PgConnection::connect(&database_url).await?;
        stages(
            &mut conn_schema,
            &format!("wamid.TURNS.{run}.{LIVE_PREFIX}.%"),
        )
        .await?;
    }
    let sanity = if problems.is_empty() {
        "ok".to_owned()
    } else {
        problems.join("; ")
    };
    println!("sanity:      {sanity}");
    let a = &answered;
    println!(
        "summary: {} seeded={} customers={} turns={} {} | {:.0} turns/s | answered p50 {:.1} p95 {:.1} p99 {:.1} max {:.1} ms | first reply p99 {:.1} ms | {:.2} msgs/turn | load {} | sanity {}",
        backend_name(&args),
        seeded.unwrap_or(0),
        customers,
        args.turns,
        args.rate
            .map(|r| format!("open-loop {r}/s"))
            .unwrap_or_else(|| "closed-loop".to_owned()),
        tps,
        ms(a, 0.5),
        ms(a, 0.95),
        ms(a, 0.99),
        a.max() as f64 / 1000.0,
        ms(&first_reply, 0.99),
        stats.replies as f64 / stats.turns.max(1) as f64,
        load_after.split_whitespace().next().unwrap_or("?"),
        if problems.is_empty() { "ok" } else { "FAILED" }
    );

    // Stop the app, then clean up: the schema (unless kept) and this run's Redis keys.
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    drop(store);
    if let Some(conn) = admin.as_mut()
        && !args.keep_schema
    {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(conn)
            .await?;
    }
    if !args.no_redis {
        let cleaned = clean_redis(&args.redis_url, &redis_prefix).await;
        if let Err(err) = cleaned {
            eprintln!("warning: Redis keys under {redis_prefix} not removed: {err:#}");
        }
    }
    let summary = json!({
        "backend": backend_name(&args),
        "seeded_conversations": seeded.unwrap_or(0),
        "customers": customers,
        "turns": stats.turns,
        "expected_turns": expected,
        "rate": args.rate,
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "turns_per_s": tps.round(),
        "answered_p50_ms": ms(a, 0.5),
        "answered_p95_ms": ms(a, 0.95),
        "answered_p99_ms": ms(a, 0.99),
        "answered_max_ms": a.max() as f64 / 1000.0,
        "first_reply_p99_ms": ms(&first_reply, 0.99),
        "ack_p99_ms": ms(&ack, 0.99),
        "probe_max_ms": probe.as_ref().map(|p| p.max() as f64 / 1000.0),
        "probe_slow": probe.as_ref().map(|p| p.count_between(100_000, HISTOGRAM_MAX_MICROS)),
        "replies_per_turn": stats.replies as f64 / stats.turns.max(1) as f64,
        "inbox_done": inbox_done,
        "sanity": sanity,
    });
    println!("{summary}");
    if !problems.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

/// Deletes this run's keys (dedup, rate limits, pacing) from Redis.
async fn clean_redis(url: &str, prefix: &str) -> anyhow::Result<()> {
    use deadpool_redis::redis::{self, AsyncCommands};
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut keys: Vec<String> = Vec::new();
    {
        let mut iter: redis::AsyncIter<String> = conn.scan_match(format!("{prefix}*")).await?;
        while let Some(key) = iter.next_item().await {
            keys.push(key?);
        }
    }
    for chunk in keys.chunks(1000) {
        let _: () = conn.del(chunk).await?;
    }
    Ok(())
}

/// Rows of `table` (`outbox` or `inbox_events`, never input) per status, for conversations matching the
/// `LIKE` pattern.
async fn status_counts(
    store: &Store,
    table: &'static str,
    like: &str,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = match store {
        Store::Postgres(s) => {
            let sql = format!(
                "SELECT status, count(*) FROM {table} WHERE conversation_key LIKE $1 GROUP BY status"
            );
            sqlx::query_as(&sql).bind(like).fetch_all(s.pool()).await?
        }
        Store::Sqlite(s) => {
            let sql = format!(
                "SELECT status, count(*) FROM {table} WHERE conversation_key LIKE ?1 GROUP BY status"
            );
            sqlx::query_as(&sql).bind(like).fetch_all(s.pool()).await?
        }
    };
    Ok(rows.into_iter().collect())
}
