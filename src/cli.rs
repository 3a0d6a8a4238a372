//! The `salonbot` command line: `serve`, `migrate`, `config check`, `doctor`, `flows check`, `chat`,
//! `inbox`, `outbox`, `stripe reconcile`, `send-test-webhook` and `understand`.
//!
//! Operator commands (`inbox`, `outbox`, `stripe`) open the configured database as it is: they never create
//! one (a mistyped path or an unset `DATABASE_URL` is refused) nor migrate it.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::App;
use crate::chat::{self, ChatOptions};
use crate::config::Config;
use crate::doctor::{DoctorOptions, Level};
use crate::engine::check::check_dirs;
use crate::engine::{Flow, FlowError, lock, mermaid};
use crate::store::{Store, StoreError, StoreOptions};
use crate::whatsapp::messages::limits::UI_LIMITS;
use crate::whatsapp::messages::render::render;
use crate::worker::pipeline::Setup;

#[derive(Debug, Parser)]
#[command(name = "salonbot", version, about = "WhatsApp booking bot for salons")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve webhooks, workers and operations endpoints.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Work with the conversation flows (`flows/*.toml`).
    Flows {
        #[command(subcommand)]
        command: FlowsCommand,
    },
    /// Talk to the bot in the terminal as a WhatsApp customer would (nothing is sent).
    ///
    /// Each line goes through the inbox, the engine and the outbox like a real message; buttons and
    /// list rows are shown numbered, and typing a number taps it. /quit or Ctrl-D to leave.
    Chat {
        /// The customer's phone, in international form [default: +34600000000].
        #[arg(long)]
        phone: Option<String>,
        /// The customer's language when the first message does not tell: picks a phone of that
        /// country (+34, +44, +351); ignored when --phone is given.
        #[arg(long, value_parser = ["es", "en", "pt"])]
        lang: Option<String>,
        /// Keep the conversation in this database (sqlite://path or postgres://...) across runs
        /// [default: a throwaway SQLite file].
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Inspect the inbox: events that gave up, and putting them back.
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    /// Inspect the outbox: what the bot sent, or would send in the sandbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Work with Stripe, which takes the deposits.
    Stripe {
        #[command(subcommand)]
        command: StripeCommand,
    },
    /// Check a deployment: configuration, database, Redis, the WhatsApp token, number and templates,
    /// and with --public-url the webhook handshake from outside. One line per check; exit 0 only
    /// when nothing failed.
    Doctor {
        /// The bot's public base URL (for example https://bot.example.com): checks that Meta's
        /// verification handshake works against it.
        #[arg(long)]
        public_url: Option<String>,
        /// How long one remote check may take, in seconds.
        #[arg(long, default_value_t = 5)]
        timeout_seconds: u64,
    },
    /// Check the configuration without starting anything.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Post a signed WhatsApp text message, as Meta would, to a running bot (a fresh timestamp, so the
    /// bot may answer within the 24-hour window); signed with WHATSAPP_APP_SECRET.
    SendTestWebhook {
        /// The customer's text.
        text: String,
        /// The customer's phone.
        #[arg(long, default_value = "+34600000000")]
        phone: String,
        /// The webhook URL [default: http://LISTEN_ADDR/webhooks/whatsapp].
        #[arg(long)]
        url: Option<String>,
    },
    /// Print, as one JSON object, what the rules understand from a customer's message (language,
    /// intent, service, staff, date, time) against the salon's catalog (SALON_CONFIG): to check
    /// the synonyms in salon.toml.
    Understand {
        /// The message, as a customer would write it.
        text: String,
        /// The conversation's language, used when the message does not tell its own.
        #[arg(long, value_parser = ["es", "en", "pt"])]
        lang: Option<String>,
        /// When the message arrives, RFC 3339 (dates such as "mañana" count from it)
        /// [default: now].
        #[arg(long)]
        now: Option<String>,
    },
}

/// `salonbot outbox …`
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List messages, newest first: when, status, to whom, and what they say.
    List {
        /// Only this conversation (`whatsapp:<phone_number_id>:<customer>`).
        #[arg(long)]
        conversation: Option<String>,
        /// How many to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// `salonbot stripe …`
#[derive(Debug, Subcommand)]
pub enum StripeCommand {
    /// Ask Stripe about every deposit whose Checkout Session is still open here, and apply what it
    /// says: a payment whose webhook never came confirms its booking, an expired page lets the time
    /// go. The news joins each conversation's lane; the running bot applies it.
    Reconcile,
}

/// `salonbot config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the environment, the salon file, the flows and the templates; exit 2 if anything is wrong.
    Check,
}

/// `salonbot inbox …`
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List the events that failed every retry (newest first), with their error.
    Dead {
        /// How many to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Put dead events back in their conversation's lane with a fresh retry budget; they are handled
    /// against the conversation as it is now.
    Replay {
        /// The events' ids (from `inbox dead`).
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

/// `salonbot flows …`
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Check every flow file (with `file:line` errors); exit non-zero if any is invalid.
    Check {
        /// The flows directory (default: FLOWS_DIR). Templates are read from TEMPLATES_DIR, or else
        /// from `<DIR>/../templates`.
        dir: Option<PathBuf>,
        /// Print each flow as a Mermaid state diagram on stdout (the `ok:` lines go to stderr).
        #[arg(long)]
        graph: bool,
        /// After a successful check, record each flow's states as accepted (`<DIR>/<name>.lock`).
        #[arg(long)]
        accept: bool,
    },
}

impl Cli {
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Flows {
                command: FlowsCommand::Check { dir, graph, accept },
            } => {
                let dir = dir.unwrap_or_else(|| config.flows_dir.clone());
                flows_check(&dir, &config.templates_dir_for(&dir), graph, accept)
            }
            Command::Chat {
                phone,
                lang,
                database_url,
            } => {
                let options = ChatOptions {
                    phone,
                    lang,
                    database_url,
                };
                chat::run(config, options).await
            }
            Command::Inbox { command } => inbox(config, command).await,
            Command::Outbox {
                command:
                    OutboxCommand::List {
                        conversation,
                        limit,
                    },
            } => outbox_list(config, conversation.as_deref(), limit).await,
            Command::Config {
                command: ConfigCommand::Check,
            } => config_check(&config),
            Command::Stripe {
                command: StripeCommand::Reconcile,
            } => stripe_reconcile(&config).await,
            Command::Doctor {
                public_url,
                timeout_seconds,
            } => {
                let options = DoctorOptions {
                    public_url,
                    timeout: std::time::Duration::from_secs(timeout_seconds),
                };
                doctor(&config, &options).await
            }
            Command::SendTestWebhook { text, phone, url } => {
                send_test_webhook(&config, &text, &phone, url).await
            }
            Command::Understand { text, lang, now } => {
                understand(&config, &text, lang.as_deref(), now.as_deref())
            }
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for signals before anything else, so one that arrives while starting up still stops
    // the server cleanly once it runs, instead of killing it half-started.
    let shutdown = shutdown_signal();
    let listener = TcpListener::bind(config.listen_addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {} (LISTEN_ADDR): {e}", config.listen_addr)
    })?;
    let storage = config.database_url.describe();
    let integrations = config.integrations();
    let app = App::build(config).await?;
    tracing::info!(
        address = %listener.local_addr()?,
        storage = %storage,
        salon = %app.state().catalog.salon().name,
        version = env!("CARGO_PKG_VERSION"),
        "salonbot listening on http://{}",
        listener.local_addr()?
    );
    for (name, state) in integrations {
        tracing::info!(integration = name, state, "{name}: {state}");
    }
    app.serve(listener, shutdown).await
}

/// The configured database as it is, for operator commands: never created (a mistyped path or an unset
/// `DATABASE_URL` must not leave an empty database behind) nor migrated (a newer binary run by an
/// operator must not change the schema under the servers that run on it).
async fn existing_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        create: false,
        ..StoreOptions::default()
    };
    let store = match Store::connect(&config.database_url, &options).await {
        Err(StoreError::Missing(path)) => anyhow::bail!(
            "no database at {path}: point DATABASE_URL at the servers' database (unset, it is the \
             embedded default), or run `salonbot migrate` to create this one"
        ),
        other => other?,
    };
    let pending = store.pending_migrations().await?;
    if let Some(first) = pending.first() {
        anyhow::bail!(
            "the database ({}) lacks {} of this binary's migrations (from {first:04}): run `salonbot migrate` \
             first, or use the binary the servers run",
            config.database_url.describe(),
            pending.len()
        );
    }
    Ok(store)
}

/// `inbox dead` / `inbox replay`, on the configured database as it is.
async fn inbox(config: Config, command: InboxCommand) -> anyhow::Result<()> {
    let store = existing_store(&config).await?;
    match command {
        InboxCommand::Dead { limit } => {
            let dead = store.dead_inbox(limit).await?;
            if dead.is_empty() {
                println!("no dead events");
            }
            for event in dead {
                println!(
                    "{}\t{}\t{}/{}\t{}\tattempts {}\t{}",
                    event.id,
                    event.received_at.to_rfc3339(),
                    event.provider.as_str(),
                    event.kind.as_str(),
                    crate::conversation::Masked(&event.conversation_key),
                    event.attempts,
                    event.last_error.unwrap_or_default()
                );
            }
        }
        InboxCommand::Replay { ids } => {
            let mut missing = Vec::new();
            for id in ids {
                if store.replay_inbox(id, chrono::Utc::now()).await? {
                    println!("replayed {id}");
                } else {
                    missing.push(id.to_string());
                }
            }
            if !missing.is_empty() {
                anyhow::bail!("not dead (or no such event): {}", missing.join(", "));
            }
        }
    }
    Ok(())
}

/// `outbox list`: newest first, one line each: id, time, status, recipient (masked), kind, and the
/// message as a person reads it.
async fn outbox_list(config: Config, conversation: Option<&str>, limit: u32) -> anyhow::Result<()> {
    let store = existing_store(&config).await?;
    let messages = store.recent_outbox(conversation, limit).await?;
    if messages.is_empty() {
        println!("no messages");
    }
    for m in messages {
        // The generic channel's replies are plain text already (their options numbered).
        let text = match m.provider {
            crate::store::Provider::Custom => m.payload["text"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" / "),
            _ => render(&m.payload).one_line(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            m.id,
            m.created_at.to_rfc3339(),
            m.status.as_str(),
            crate::conversation::Masked(&m.recipient),
            m.kind,
            text
        );
    }
    Ok(())
}

/// `stripe reconcile`: one line per deposit asked about, then a summary; an error (exit 1) when
/// Stripe could not answer for one of them.
async fn stripe_reconcile(config: &Config) -> anyhow::Result<()> {
    use crate::worker::reconcile::{Found, reconcile};

    let api =
        crate::stripe::StripeApi::from_config(&config.stripe, crate::telemetry::Metrics::new())?
            .ok_or_else(|| {
                crate::worker::pipeline::SetupError(anyhow::anyhow!(
                    "STRIPE_SECRET_KEY is unset: there is no Stripe account to ask"
                ))
            })?;
    let store = existing_store(config).await?;
    let report = reconcile(&store, &api, chrono::Utc::now()).await?;
    let (mut settled, mut open, mut failed) = (0, 0, 0);
    for line in &report {
        let what = match &line.found {
            Found::Open { expires_at } => {
                open += 1;
                match expires_at {
                    Some(at) => format!("still open until {}", at.to_rfc3339()),
                    None => "still open".to_owned(),
                }
            }
            Found::Settled {
                status,
                payment_status,
                new,
            } => {
                settled += 1;
                let applied = if *new {
                    "news put in its conversation's lane"
                } else {
                    "known already"
                };
                format!("{status}, {payment_status}: {applied}")
            }
            Found::Failed(error) => {
                failed += 1;
                format!("Stripe did not answer: {error}")
            }
        };
        println!(
            "appointment {}\t{}\t{what}",
            line.appointment_id, line.session_id
        );
    }
    println!(
        "asked Stripe about {} open session(s): {settled} no longer open, {open} still open, {failed} not answered",
        report.len()
    );
    if failed > 0 {
        anyhow::bail!("Stripe did not answer for {failed} session(s): run it again later");
    }
    Ok(())
}

/// `doctor`: the report on stdout; an error (exit 1) when a check failed.
async fn doctor(config: &Config, options: &DoctorOptions) -> anyhow::Result<()> {
    let report = crate::doctor::run(config, options).await;
    for line in &report {
        println!("{line}");
    }
    let failed = report.iter().filter(|c| c.level == Level::Fail).count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    Ok(())
}

/// `config check`: what `serve` would refuse, without starting anything. The environment was read
/// (and checked) before any command ran.
fn config_check(config: &Config) -> anyhow::Result<()> {
    let setup = Setup::load(config)?;
    let salon = setup.catalog.salon();
    println!("ok: environment ({})", config.database_url.describe());
    println!(
        "ok: salon {} ({}; {} services, {} staff)",
        salon.name,
        config.salon_config.display(),
        setup.catalog.services().len(),
        setup.catalog.staff().len()
    );
    println!(
        "ok: flow {} v{} ({}) and its templates ({})",
        setup.flow.name,
        setup.flow.version,
        config.flows_dir.display(),
        config.templates_dir_for(&config.flows_dir).display()
    );
    for (name, state) in config.integrations() {
        println!("{name}: {state}");
    }
    Ok(())
}

/// `send-test-webhook`: a text message notification signed as Meta signs them, with the current
/// time, posted to a running bot.
async fn send_test_webhook(
    config: &Config,
    text: &str,
    phone: &str,
    url: Option<String>,
) -> anyhow::Result<()> {
    let secret = config.whatsapp.app_secret.as_ref().ok_or_else(|| {
        anyhow::anyhow!("WHATSAPP_APP_SECRET is unset: the bot refuses unsigned webhooks")
    })?;
    let phone = crate::conversation::E164::parse(phone).ok_or_else(|| {
        anyhow::anyhow!("--phone: expected an international number, got '{phone}'")
    })?;
    let business = config
        .whatsapp
        .phone_number_id
        .clone()
        .unwrap_or_else(|| "106540352242922".to_owned());
    let wamid = format!("wamid.test.{}", uuid::Uuid::new_v4().simple());
    let from = phone.as_str().trim_start_matches('+');
    let message = crate::chat::text_message(from, &wamid, chrono::Utc::now().timestamp(), text);
    let body = crate::chat::notification_to(&business, from, message).to_string();
    let url = url.unwrap_or_else(|| format!("http://{}/webhooks/whatsapp", config.listen_addr));
    let signature =
        crate::ingress::signature::sign_sha256_header(secret.expose().as_bytes(), body.as_bytes());
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    println!("{url}: {status} {answer}");
    if !status.is_success() {
        anyhow::bail!("the bot answered {status}");
    }
    println!(
        "sent {wamid} from {phone}: see the reply with `salonbot outbox list --conversation whatsapp:{business}:{phone}`"
    );
    Ok(())
}

/// `understand`: the rules' reading of one message as the contract's JSON object, on stdout.
fn understand(
    config: &Config,
    text: &str,
    lang: Option<&str>,
    now: Option<&str>,
) -> anyhow::Result<()> {
    let catalog = crate::booking::catalog::load(&config.salon_config).map_err(|e| {
        crate::worker::pipeline::SetupError(anyhow::anyhow!(
            "SALON_CONFIG ({}): {e}",
            config.salon_config.display()
        ))
    })?;
    let now = match now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| anyhow::anyhow!("--now {text:?}: not an RFC 3339 time ({e})"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let language = lang.and_then(|code| {
        crate::booking::catalog::Language::ALL
            .into_iter()
            .find(|l| l.as_str() == code)
    });
    let context = crate::engine::understand::Context {
        catalog: &catalog,
        now,
        language,
    };
    let report = crate::engine::understand::understand(text, &context).report();
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url, &StoreOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(storage = %config.database_url.describe(), "migrations applied");
    Ok(())
}

/// `flows check`: every problem one per line on stderr (and an error), or one `ok:` line per flow.
fn flows_check(dir: &Path, templates: &Path, graph: bool, accept: bool) -> anyhow::Result<()> {
    let (flows, _) =
        check_dirs(dir, templates, &UI_LIMITS).map_err(|errors| report(dir, templates, &errors))?;
    for flow in &flows {
        let line = format!(
            "ok: {} ({} v{}, {} states)",
            flow.file,
            flow.name,
            flow.version,
            flow.states.len()
        );
        if graph {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if accept {
        accept_all(dir, &flows)?;
    }
    if graph {
        let diagrams: Vec<_> = flows.iter().map(mermaid).collect();
        print!("{}", diagrams.join("\n"));
    }
    Ok(())
}

fn report(dir: &Path, templates: &Path, errors: &[FlowError]) -> anyhow::Error {
    for error in errors {
        eprintln!("{error}");
    }
    anyhow::anyhow!(
        "{} problem(s) in the flows of {} and their templates in {}",
        errors.len(),
        dir.display(),
        templates.display()
    )
}

fn accept_all(dir: &Path, flows: &[Flow]) -> anyhow::Result<()> {
    for flow in flows {
        let path = lock::accept(dir, flow)
            .map_err(|e| anyhow::anyhow!("cannot write the lock of flow {}: {e}", flow.name))?;
        eprintln!(
            "accepted: {} ({} v{})",
            path.display(),
            flow.name,
            flow.version
        );
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container platforms send). The handlers are installed
/// when this is called, not when the future is first polled.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {}
                _ = wait(terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
