//! Load generator for the WhatsApp webhook (`POST /webhooks/whatsapp`).
//!
//! It sends realistic Meta text-message notifications (the shape of
//! `fixtures/whatsapp/01_text.json`), each signed with `X-Hub-Signature-256` exactly as Meta signs
//! them, and measures how fast the bot acknowledges them. Since every 200 means "committed"
//! (see ARCHITECTURE.md, "Ack means durable"), the numbers are durable-ingest throughput and latency.
//!
//! Usage (start the bot first, with the same app secret):
//!
//! ```text
//! WHATSAPP_APP_SECRET=loadgen-secret WHATSAPP_VERIFY_TOKEN=x cargo run --release -- serve &
//! cargo run --release --example loadgen -- --concurrency 64 --requests 100000
//! cargo run --release --example loadgen -- --duration-secs 30 --duplicates 0.05
//! ```
//!
//! What it does:
//! - `--warmup` requests are sent first and not counted (connections, caches, the SQLite file warm up).
//! - Then up to `--requests` requests are sent by `--concurrency` tasks that share one HTTP/1.1
//!   client (one keep-alive connection per task) and take request numbers from one atomic counter.
//!   With `--duration-secs` the run also stops when that time is up, whichever comes first.
//! - Each request carries a unique `wamid` (`wamid.LOADGEN.<run-id>.<n>`) from one of 10,000
//!   customers (`3460000xxxx`). With `--duplicates F`, a fraction F of requests re-send the exact
//!   body of an earlier request (same wamid), as Meta does when it retries a delivery; the bot must
//!   still answer 200 and store the event once.
//! - Latency (request sent until the response body is read) goes into an HDR histogram in
//!   microseconds. At the end it prints a human summary and, as the very last line, one JSON object
//!   that scripts can parse (`tail -n1`).
//!
//! Ctrl-C stops sending new requests; the requests in flight finish and the summary is printed.
//! The tool only ever sends to `--url` (meant to be a loopback address of a bot under test).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use salonbot::ingress::signature::sign_sha256_header;
use serde_json::json;

/// Number of distinct customers the requests are spread over.
const CUSTOMERS: u64 = 10_000;
/// Highest latency the histogram tracks exactly (60 s, in microseconds); slower ones saturate.
const HISTOGRAM_MAX_MICROS: u64 = 60_000_000;
/// How many transport error messages are kept for the report.
const ERROR_SAMPLES: usize = 5;

/// Command line of the load generator.
#[derive(Debug, Parser)]
#[command(about = "Load generator for salonbot's WhatsApp webhook")]
struct Args {
    /// Webhook URL to send to (only this URL is ever contacted).
    #[arg(long, default_value = "http://127.0.0.1:8080/webhooks/whatsapp")]
    url: String,

    /// App secret used to sign the bodies; must match the bot's WHATSAPP_APP_SECRET.
    #[arg(
        long,
        env = "WHATSAPP_APP_SECRET",
        default_value = "loadgen-secret",
        hide_env_values = true
    )]
    secret: String,

    /// Requests in flight at once (one task and one keep-alive connection each).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: u64,

    /// Measured requests to send in total (warm-up not included).
    #[arg(long, default_value_t = 50_000)]
    requests: u64,

    /// Stop the measured phase after this many seconds, even if `--requests` are not all sent.
    #[arg(long)]
    duration_secs: Option<u64>,

    /// Requests sent before measuring starts; not counted in the results.
    #[arg(long, default_value_t = 2_000)]
    warmup: u64,

    /// Fraction (0..=1) of requests that re-send an earlier request's body (same wamid).
    #[arg(long, default_value_t = 0.0, value_parser = parse_fraction)]
    duplicates: f64,

    /// Timeout of a single request, in seconds (a hung request is counted as an error).
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

/// Parses `--duplicates`: a finite number between 0 and 1.
fn parse_fraction(raw: &str) -> Result<f64, String> {
    let value: f64 = raw
        .parse()
        .map_err(|_| format!("'{raw}' is not a number"))?;
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("'{raw}' is not between 0 and 1"))
    }
}

/// Everything the worker tasks share, read-only except for the counters.
struct Shared {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: Vec<u8>,
    /// Distinguishes this run's wamids from any earlier run against the same database.
    run_id: String,
    /// Unix seconds put in every message's `timestamp` (fixed so a duplicate is byte-identical).
    timestamp: String,
    /// `--duplicates` as a threshold on a 64-bit hash: a request is a duplicate when hash < this.
    duplicate_threshold: u64,
    /// Requests that may be in flight at once; a duplicate only picks a request at least this far
    /// back, so the original has most likely been answered already.
    concurrency: u64,
    /// Set by Ctrl-C (and by the deadline) so that no task starts another request.
    stop: AtomicBool,
}

/// One phase of the run: request numbers `[start, end)` taken from `next`, until `deadline`.
struct Phase {
    next: AtomicU64,
    end: u64,
    deadline: Option<Instant>,
}

/// What one task observed; merged into the run's totals at the end.
struct TaskStats {
    latency: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    error_samples: Vec<String>,
    duplicates_sent: u64,
}

impl TaskStats {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)
                .context("creating the latency histogram")?,
            statuses: BTreeMap::new(),
            errors: 0,
            error_samples: Vec::new(),
            duplicates_sent: 0,
        })
    }

    fn merge(&mut self, other: TaskStats) -> anyhow::Result<()> {
        self.latency
            .add(&other.latency)
            .context("merging latency histograms")?;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(sample);
            }
        }
        self.duplicates_sent += other.duplicates_sent;
        Ok(())
    }

    fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors
    }
}

/// SplitMix64: a fast, well-mixed hash of a counter, so that the choice of customer and of
/// duplicates is reproducible per request number without a random number generator.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Shared {
    /// The earlier request number that request `n` repeats, or `n` itself when it is not a duplicate.
    fn pick_earlier(&self, n: u64) -> u64 {
        if self.duplicate_threshold == 0 || n < self.concurrency {
            return n;
        }
        if mix(n ^ 0xD1B5_4A32_D192_ED03) < self.duplicate_threshold {
            // Any request at least `concurrency` numbers back has been sent (and almost surely answered).
            mix(n ^ 0x8CB9_2BA7_2F3D_8DD7) % (n - self.concurrency + 1)
        } else {
            n
        }
    }

    /// The request number whose body request `n` sends: `n` itself, or for a duplicate the original
    /// it repeats. An earlier request may itself have been a duplicate (its own wamid never went
    /// out), so follow the chain down to a request that sent its own body; numbers strictly
    /// decrease along it, so this ends.
    fn source_of(&self, n: u64) -> u64 {
        let mut current = n;
        loop {
            let earlier = self.pick_earlier(current);
            if earlier == current {
                return current;
            }
            current = earlier;
        }
    }

    /// The notification body of request number `n`: the same `n` always gives the same bytes.
    fn body(&self, n: u64) -> anyhow::Result<Vec<u8>> {
        // 11 digits, a Spanish mobile in E.164 without '+': 34 600 00 xxxx.
        let phone = format!("3460000{:04}", mix(n) % CUSTOMERS);
        let notification = json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": "102290129340398",
                "changes": [{
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922"
                        },
                        "contacts": [{
                            "profile": { "name": format!("Loadgen Customer {}", mix(n) % CUSTOMERS) },
                            "wa_id": phone
                        }],
                        "messages": [{
                            "from": phone,
                            "id": format!("wamid.LOADGEN.{}.{n}", self.run_id),
                            "timestamp": self.timestamp,
                            "type": "text",
                            "text": { "body": "Hola, quiero pedir cita para un corte de pelo" }
                        }]
                    },
                    "field": "messages"
                }]
            }]
        });
        serde_json::to_vec(&notification).context("serializing a notification")
    }

    /// Sends request number `n` and records its outcome in `stats`.
    async fn send(&self, n: u64, stats: &mut TaskStats) -> anyhow::Result<()> {
        let source = self.source_of(n);
        if source != n {
            stats.duplicates_sent += 1;
        }
        let body = self.body(source)?;
        let signature = sign_sha256_header(&self.secret, &body);
        let started = Instant::now();
        let result = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Hub-Signature-256", signature)
            .body(body)
            .send()
            .await;
        // Read the whole answer so the connection goes back to the pool for the next request.
        let outcome = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|_| status)
            }
            Err(err) => Err(err),
        };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        stats.latency.saturating_record(micros.max(1));
        match outcome {
            Ok(status) => *stats.statuses.entry(status).or_default() += 1,
            Err(err) => {
                stats.errors += 1;
                if stats.error_samples.len() < ERROR_SAMPLES {
                    stats.error_samples.push(format!("{err:#}"));
                }
            }
        }
        Ok(())
    }
}

/// Runs one phase with `concurrency` tasks and returns the merged statistics and its duration.
async fn run_phase(shared: &Arc<Shared>, phase: Phase) -> anyhow::Result<(TaskStats, Duration)> {
    let phase = Arc::new(phase);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..shared.concurrency {
        let shared = Arc::clone(shared);
        let phase = Arc::clone(&phase);
        tasks.spawn(async move {
            let mut stats = TaskStats::new()?;
            loop {
                if shared.stop.load(Ordering::Relaxed)
                    || phase.deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                // Each number is taken by exactly one task; past `end` the phase is over.
                let n = phase.next.fetch_add(1, Ordering::Relaxed);
                if n >= phase.end {
                    break;
                }
                shared.send(n, &mut stats).await?;
            }
            anyhow::Ok(stats)
        });
    }
    let mut total = TaskStats::new()?;
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.context("a load task panicked")??;
        total.merge(stats)?;
    }
    Ok((total, started.elapsed()))
}

/// A latency quantile in milliseconds (the histogram holds whole microseconds).
fn quantile_ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    micros_to_ms(histogram.value_at_quantile(q))
}

fn micros_to_ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = reqwest::Url::parse(&args.url).with_context(|| format!("--url '{}'", args.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        bail!("--url must be http:// or https://, got '{}'", args.url);
    }

    // One client for all tasks: HTTP/1.1 keep-alive, enough idle connections for every task.
    let pool_size = usize::try_from(args.concurrency).context("--concurrency is too large")?;
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(pool_size)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()
        .context("building the HTTP client")?;

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let shared = Arc::new(Shared {
        client,
        url,
        secret: args.secret.into_bytes(),
        run_id: format!("{:x}{:x}", now.as_secs(), std::process::id()),
        timestamp: now.as_secs().to_string(),
        // The fraction scaled to the u64 range; 1.0 saturates to u64::MAX (every request eligible).
        duplicate_threshold: (args.duplicates * u64::MAX as f64) as u64,
        concurrency: args.concurrency,
        stop: AtomicBool::new(false),
    });

    // Ctrl-C: stop taking new request numbers and still print what was measured.
    {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: finishing the requests in flight");
                shared.stop.store(true, Ordering::Relaxed);
            }
        });
    }

    eprintln!(
        "loadgen: {} (run {}), concurrency {}, warm-up {}, requests {}{}, duplicates {}",
        shared.url,
        shared.run_id,
        args.concurrency,
        args.warmup,
        args.requests,
        args.duration_secs
            .map(|s| format!(" or {s} s"))
            .unwrap_or_default(),
        args.duplicates,
    );

    // Warm-up: request numbers [0, warmup); results thrown away except for a sanity check.
    if args.warmup > 0 {
        let (warm, elapsed) = run_phase(
            &shared,
            Phase {
                next: AtomicU64::new(0),
                end: args.warmup,
                deadline: None,
            },
        )
        .await?;
        let ok = warm.statuses.get(&200).copied().unwrap_or(0);
        eprintln!(
            "warm-up: {} requests in {:.2} s, {} answered 200",
            warm.total(),
            elapsed.as_secs_f64(),
            ok
        );
        if ok == 0 && warm.total() > 0 {
            eprintln!(
                "warning: no warm-up request got 200 (statuses {:?}, errors {}{}); is the secret right?",
                warm.statuses,
                warm.errors,
                warm.error_samples
                    .first()
                    .map(|e| format!(", e.g. {e}"))
                    .unwrap_or_default()
            );
        }
    }

    // Measured phase: request numbers continue after the warm-up, so every wamid stays unique.
    let end = args
        .warmup
        .checked_add(args.requests)
        .context("--warmup + --requests overflows")?;
    let (stats, elapsed) = run_phase(
        &shared,
        Phase {
            next: AtomicU64::new(args.warmup),
            end,
            deadline: args
                .duration_secs
                .map(|s| Instant::now() + Duration::from_secs(s)),
        },
    )
    .await?;

    let total = stats.total();
    let ok = stats.statuses.get(&200).copied().unwrap_or(0);
    let non_200: BTreeMap<String, u64> = stats
        .statuses
        .iter()
        .filter(|(status, _)| **status != 200)
        .map(|(status, count)| (status.to_string(), *count))
        .collect();
    let secs = elapsed.as_secs_f64();
    let rps = if secs > 0.0 { total as f64 / secs } else { 0.0 };
    let h = &stats.latency;
    let (p50, p90, p99, p999) = (
        quantile_ms(h, 0.50),
        quantile_ms(h, 0.90),
        quantile_ms(h, 0.99),
        quantile_ms(h, 0.999),
    );
    let max = micros_to_ms(h.max());
    let mean = h.mean().round() / 1000.0;

    println!("requests:    {total}");
    println!("200:         {ok}");
    for (status, count) in &non_200 {
        println!("{status}:         {count}");
    }
    if stats.errors > 0 {
        println!("errors:      {} (no HTTP answer)", stats.errors);
        for sample in &stats.error_samples {
            println!("  e.g. {sample}");
        }
    }
    println!("duplicates:  {} re-sent wamids", stats.duplicates_sent);
    println!("elapsed:     {secs:.3} s");
    println!("throughput:  {rps:.1} requests/s");
    println!(
        "latency ms:  p50 {p50:.3}  p90 {p90:.3}  p99 {p99:.3}  p99.9 {p999:.3}  max {max:.3}  (mean {mean:.3})"
    );
    let summary = json!({
        "requests": total,
        "ok": ok,
        "non_200": non_200,
        "errors": stats.errors,
        "duplicates_sent": stats.duplicates_sent,
        "concurrency": args.concurrency,
        "elapsed_s": (secs * 1000.0).round() / 1000.0,
        "rps": (rps * 10.0).round() / 10.0,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "p999_ms": p999,
        "max_ms": max,
        "mean_ms": mean,
    });
    // Last line: machine-readable summary.
    println!("{summary}");
    Ok(())
}
