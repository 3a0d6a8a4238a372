//! Logs (tracing) and metrics (Prometheus).
//!
//! Metric names are part of the public contract (ARCHITECTURE.md, "Metrics") and are defined here only.
//! Each `App` owns its own recorder rather than a process-global one, so that several apps in one process
//! (the test suite) count separately; `GET /metrics` renders it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::EitherWriter;

use crate::config::{Config, LogFormat};

/// The configured log filter (`RUST_LOG`), else `default`.
pub fn log_filter(config: &Config, default: &str) -> EnvFilter {
    config
        .log_filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok()) // validated by `Config`
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// Where the logs go: a server's on stdout (what a container platform collects); a command's on
/// stderr, so that what it prints on stdout (a diagram, a listing, the chat) stays clean when piped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stdout,
    Stderr,
}

/// Installs the global tracing subscriber: JSON lines, or human-readable output when `output` is a
/// terminal.
pub fn init_tracing(config: &Config, output: LogOutput) {
    let filter = log_filter(config, "info,sqlx=warn");
    let terminal = match output {
        LogOutput::Stdout => std::io::stdout().is_terminal(),
        LogOutput::Stderr => std::io::stderr().is_terminal(),
    };
    let format = config.log_format.unwrap_or(if terminal {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || match output {
            LogOutput::Stdout => EitherWriter::A(std::io::stdout()),
            LogOutput::Stderr => EitherWriter::B(std::io::stderr()),
        });
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = result;
}

const WEBHOOKS_TOTAL: &str = "salonbot_webhooks_total";
const WEBHOOK_DURATION: &str = "salonbot_webhook_duration_seconds";
const INBOX_EVENTS_TOTAL: &str = "salonbot_inbox_events_total";
const HTTP_REQUESTS_TOTAL: &str = "salonbot_http_requests_total";
const REDIS_ERRORS_TOTAL: &str = "salonbot_redis_errors_total";
const AUDIT_DROPPED_TOTAL: &str = "salonbot_audit_dropped_total";
const OUTBOUND_TOTAL: &str = "salonbot_outbound_total";
const OUTBOUND_LATENCY: &str = "salonbot_outbound_latency_seconds";
const OUTBOUND_ERRORS_TOTAL: &str = "salonbot_outbound_errors_total";
const OUTBOX_PENDING: &str = "salonbot_outbox_pending";
const TURNS_TOTAL: &str = "salonbot_turns_total";
const TURN_DURATION: &str = "salonbot_turn_duration_seconds";
const APPOINTMENTS_TOTAL: &str = "salonbot_appointments_total";
const STATUSES_UNMATCHED_TOTAL: &str = "salonbot_delivery_statuses_unmatched_total";
const PAYMENTS_TOTAL: &str = "salonbot_payments_total";
const REFUNDS_TOTAL: &str = "salonbot_refunds_total";
const HUMAN_MODE_TOTAL: &str = "salonbot_human_mode_total";
const DEAD_LETTERS_TOTAL: &str = "salonbot_dead_letters_total";
const INBOX_PENDING: &str = "salonbot_inbox_pending";
const INBOX_OLDEST_PENDING: &str = "salonbot_inbox_oldest_pending_seconds";
const OUTBOX_OLDEST_PENDING: &str = "salonbot_outbox_oldest_pending_seconds";
const SENDING_PAUSED: &str = "salonbot_sending_paused";
const DATABASE_UP: &str = "salonbot_database_up";
const REDIS_UP: &str = "salonbot_redis_up";
const SALON_OPEN: &str = "salonbot_salon_open";

/// Every metric this binary exports (histograms also as `_bucket`, `_sum` and `_count`): what the
/// shipped alert rules and dashboard under `deploy/` may use, and a test holds them to it.
pub const METRIC_NAMES: &[&str] = &[
    WEBHOOKS_TOTAL,
    WEBHOOK_DURATION,
    INBOX_EVENTS_TOTAL,
    HTTP_REQUESTS_TOTAL,
    REDIS_ERRORS_TOTAL,
    AUDIT_DROPPED_TOTAL,
    OUTBOUND_TOTAL,
    OUTBOUND_LATENCY,
    OUTBOUND_ERRORS_TOTAL,
    OUTBOX_PENDING,
    TURNS_TOTAL,
    TURN_DURATION,
    APPOINTMENTS_TOTAL,
    STATUSES_UNMATCHED_TOTAL,
    DEAD_LETTERS_TOTAL,
    INBOX_PENDING,
    INBOX_OLDEST_PENDING,
    OUTBOX_OLDEST_PENDING,
    SENDING_PAUSED,
    DATABASE_UP,
    REDIS_UP,
    SALON_OPEN,
    PAYMENTS_TOTAL,
    REFUNDS_TOTAL,
    HUMAN_MODE_TOTAL,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The app's metrics, with one method per thing worth counting.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // Latency buckets from 0.5 ms to 10 s: Meta wants a median under 250 ms and almost nothing over 1 s.
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let describe = |name: &'static str, unit: Option<Unit>, text: &'static str| {
            recorder.describe_counter(name.into(), unit, text.into());
        };
        describe(
            WEBHOOKS_TOTAL,
            None,
            "Webhook requests by provider and outcome (one outcome per request).",
        );
        describe(
            INBOX_EVENTS_TOTAL,
            None,
            "Events inside webhook requests, new or duplicate.",
        );
        describe(
            HTTP_REQUESTS_TOTAL,
            None,
            "HTTP requests by route and status.",
        );
        describe(
            REDIS_ERRORS_TOTAL,
            None,
            "Redis operations that failed or timed out; the database carried on alone.",
        );
        describe(
            AUDIT_DROPPED_TOTAL,
            None,
            "Audit records dropped because the audit queue was full.",
        );
        describe(
            OUTBOUND_TOTAL,
            None,
            "Outbound provider requests by kind and outcome (sent, or the failure class).",
        );
        describe(
            OUTBOUND_ERRORS_TOTAL,
            None,
            "Failed outbound requests by the provider's error code.",
        );
        describe(
            TURNS_TOTAL,
            None,
            "Conversation turns committed (one inbox event through the engine).",
        );
        describe(
            APPOINTMENTS_TOTAL,
            None,
            "Appointment changes made by conversations, by the status they reached.",
        );
        describe(
            STATUSES_UNMATCHED_TOTAL,
            None,
            "Delivery statuses let go because no message the bot sent has their id (sent by other means).",
        );
        describe(
            DEAD_LETTERS_TOTAL,
            None,
            "Events (queue=inbox) and messages (queue=outbox) that gave up after their retries.",
        );
        let gauge = |name: &'static str, unit: Option<Unit>, text: &'static str| {
            recorder.describe_gauge(name.into(), unit, text.into());
        };
        gauge(
            INBOX_PENDING,
            None,
            "Inbox events not handled yet (pending, being handled, or waiting for a retry).",
        );
        gauge(
            INBOX_OLDEST_PENDING,
            Some(Unit::Seconds),
            "Age of the oldest inbox event not handled yet (0 when none).",
        );
        gauge(
            OUTBOX_OLDEST_PENDING,
            Some(Unit::Seconds),
            "Age of the oldest outbound message not handed to the provider yet (0 when none).",
        );
        gauge(
            SENDING_PAUSED,
            None,
            "1 while WhatsApp sending is paused by a token, policy or account error.",
        );
        gauge(
            DATABASE_UP,
            None,
            "1 when the database answered the last check.",
        );
        gauge(
            REDIS_UP,
            None,
            "1 when Redis answered the last check (absent without REDIS_URL).",
        );
        gauge(
            SALON_OPEN,
            None,
            "1 while the salon is open by its catalog's hours, in its time zone.",
        );
        describe(
            PAYMENTS_TOTAL,
            None,
            "Deposits by what happened: requested, link, paid, late_paid, late_refunded, expired, failed, disputed.",
        );
        describe(
            REFUNDS_TOTAL,
            None,
            "Deposit refunds by what happened: requested, succeeded, failed, given_up (the last attempt failed too), by_salon, partial.",
        );
        describe(
            HUMAN_MODE_TOTAL,
            None,
            "Conversations entering human mode (agent_reply, handoff) or leaving it (resolved, note, idle, customer).",
        );
        recorder.describe_histogram(
            TURN_DURATION.into(),
            Some(Unit::Seconds),
            "Time of one conversation turn: load, step and commit.".into(),
        );
        recorder.describe_gauge(
            OUTBOX_PENDING.into(),
            None,
            "Outbound messages not yet handed to the provider.".into(),
        );
        recorder.describe_histogram(
            OUTBOUND_LATENCY.into(),
            Some(Unit::Seconds),
            "Time to send one outbound message, retries included, by kind.".into(),
        );
        recorder.describe_histogram(
            WEBHOOK_DURATION.into(),
            Some(Unit::Seconds),
            "Time from request to answer of webhooks, by provider.".into(),
        );
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
            .increment(by);
    }

    /// One webhook request answered, with its outcome and latency.
    pub fn webhook(&self, provider: &str, outcome: &str, elapsed: Duration) {
        self.counter(
            WEBHOOKS_TOTAL,
            &[("provider", provider), ("outcome", outcome)],
            1,
        );
        self.recorder
            .register_histogram(
                &Key::from_parts(
                    WEBHOOK_DURATION,
                    vec![Label::new("provider", provider.to_owned())],
                ),
                &METADATA,
            )
            .record(elapsed.as_secs_f64());
    }

    /// Events found in a webhook request: `outcome` is `new` or `duplicate`.
    pub fn inbox_events(&self, provider: &str, outcome: &str, count: u64) {
        if count > 0 {
            self.counter(
                INBOX_EVENTS_TOTAL,
                &[("provider", provider), ("outcome", outcome)],
                count,
            );
        }
    }

    pub fn http_request(&self, route: &str, status: u16) {
        let status = status.to_string();
        self.counter(
            HTTP_REQUESTS_TOTAL,
            &[("route", route), ("status", &status)],
            1,
        );
    }

    /// A Redis call failed (`op` names it); the caller fell back to the database or local state.
    pub fn redis_error(&self, op: &str) {
        self.counter(REDIS_ERRORS_TOTAL, &[("op", op)], 1);
    }

    /// One outbound message or call: `outcome` is `sent` or the failure class, `code` Meta's error code.
    pub fn outbound(&self, kind: &str, outcome: &str, code: Option<i64>, elapsed: Duration) {
        self.counter(OUTBOUND_TOTAL, &[("kind", kind), ("outcome", outcome)], 1);
        if let Some(code) = code {
            let code = code.to_string();
            self.counter(OUTBOUND_ERRORS_TOTAL, &[("code", &code)], 1);
        }
        self.recorder
            .register_histogram(
                &Key::from_parts(OUTBOUND_LATENCY, vec![Label::new("kind", kind.to_owned())]),
                &METADATA,
            )
            .record(elapsed.as_secs_f64());
    }

    /// Messages waiting in the outbox (pending or being sent).
    pub fn outbox_pending(&self, count: i64) {
        self.gauge(OUTBOX_PENDING, count as f64);
    }

    fn gauge(&self, name: &'static str, value: f64) {
        self.recorder
            .register_gauge(&Key::from_name(name), &METADATA)
            .set(value);
    }

    /// What waits in the queues: inbox events not handled yet, and the ages of the oldest inbox event
    /// and outbound message still waiting.
    pub fn backlog(&self, inbox_pending: i64, inbox_oldest: Duration, outbox_oldest: Duration) {
        self.gauge(INBOX_PENDING, inbox_pending as f64);
        self.gauge(INBOX_OLDEST_PENDING, inbox_oldest.as_secs_f64());
        self.gauge(OUTBOX_OLDEST_PENDING, outbox_oldest.as_secs_f64());
    }

    /// An event (`queue` = `inbox`) or a message (`outbox`) gave up after its retries.
    pub fn dead_letter(&self, queue: &str) {
        self.counter(DEAD_LETTERS_TOTAL, &[("queue", queue)], 1);
    }

    /// Whether WhatsApp sending is paused.
    pub fn sending_paused(&self, paused: bool) {
        self.gauge(SENDING_PAUSED, f64::from(u8::from(paused)));
    }

    /// Whether the database, and Redis when configured, answered the last check.
    pub fn storage_up(&self, database: bool, redis: Option<bool>) {
        self.gauge(DATABASE_UP, f64::from(u8::from(database)));
        if let Some(redis) = redis {
            self.gauge(REDIS_UP, f64::from(u8::from(redis)));
        }
    }

    /// Whether the salon is open now.
    pub fn salon_open(&self, open: bool) {
        self.gauge(SALON_OPEN, f64::from(u8::from(open)));
    }

    /// One conversation turn committed, and how long it took.
    pub fn turn(&self, elapsed: Duration) {
        self.counter(TURNS_TOTAL, &[], 1);
        self.recorder
            .register_histogram(&Key::from_name(TURN_DURATION), &METADATA)
            .record(elapsed.as_secs_f64());
    }

    /// An appointment reached `status` (held, confirmed, cancelled ...).
    pub fn appointment(&self, status: &str) {
        self.counter(APPOINTMENTS_TOTAL, &[("status", status)], 1);
    }

    /// Something happened to a deposit (`outcome`: requested, link, paid, late_paid, ...).
    pub fn payment(&self, outcome: &str) {
        self.counter(PAYMENTS_TOTAL, &[("outcome", outcome)], 1);
    }

    /// Something happened to a deposit's refund (`outcome`: requested, succeeded, failed, ...).
    pub fn refund(&self, outcome: &str) {
        self.counter(REFUNDS_TOTAL, &[("outcome", outcome)], 1);
    }

    /// A conversation entered or left human mode, and why.
    pub fn human_mode(&self, reason: &str) {
        self.counter(HUMAN_MODE_TOTAL, &[("reason", reason)], 1);
    }

    /// A delivery status matched no message the bot sent, and was let go.
    pub fn status_unmatched(&self) {
        self.counter(STATUSES_UNMATCHED_TOTAL, &[], 1);
    }

    pub fn audit_dropped(&self) {
        self.counter(AUDIT_DROPPED_TOTAL, &[], 1);
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded histogram samples into their buckets; run periodically so memory stays flat
    /// between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}
