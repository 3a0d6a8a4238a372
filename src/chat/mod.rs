//! `salonbot chat`: talk to the bot in the terminal as a WhatsApp customer would.
//!
//! Each line typed becomes a WhatsApp webhook notification, split into inbox events by the same code as
//! the real webhook (`ingress::whatsapp::inbox_events`) and stored in the inbox. From there on everything
//! is the production path: the inbox worker runs the conversation engine, which commits the state, the
//! outbox rows and the timers in one transaction; the outbox dispatcher "sends" the rows with the
//! sandbox sender (recorded as sent, nothing leaves the machine). The rows that reached `sent` are
//! printed: text as text, reply buttons and list rows as numbered choices, call-to-action links as
//! `[label] url`, templates as `[template name (language)]` and their parameters. Typing the number of a choice of
//! the bot's last message sends what WhatsApp sends for a tap (`interactive` with a `button_reply` or a
//! `list_reply`, or a template's quick-reply `button`); anything else is sent as text.
//!
//! Deposits are taken by Stripe's sandbox (`stripe::client::Sandbox`): the payment link is printed
//! like any call-to-action, and `/pay` pays the conversation's open link as a customer paying on
//! Checkout would; the sandbox is then asked about it as `salonbot stripe reconcile` asks Stripe
//! (`worker::reconcile`), so the payment reaches the conversation as Stripe's news does.
//!
//! Storage is the embedded SQLite store in a throwaway file per session, or the database given with
//! `--database-url` to keep the conversation across runs. Due timers (hold expiry, reminders) fire
//! from a background tick every second, so a hold that runs out shows up while the prompt waits.
//!
//! Input and output are plain lines on stdin and stdout (no raw terminal mode), so a pipe can drive it.
//! Logs go to stderr, warnings only unless `RUST_LOG` (or `LOG_LEVEL`) says otherwise.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tracing::instrument::WithSubscriber;

use crate::config::{Config, DatabaseUrl};
use crate::conversation::{ConversationKey, CustomerId, E164};
use crate::engine::understand::language_for_phone;
use crate::store::{
    EventKind, InboxStatus, NewInboxEvent, Outbound, OutboundStatus, Provider, Store, StoreOptions,
};
use crate::stripe::StripeApi;
use crate::stripe::client::Sandbox;
use crate::telemetry::Metrics;
use crate::whatsapp::client::WhatsAppSender;
use crate::whatsapp::webhook::NotificationIn;
use crate::worker::inbox::{InboxHandler, InboxWorker, WorkerOptions};
use crate::worker::outbox::Dispatcher;
use crate::worker::pipeline::{Pipeline, Senders, Setup};
use crate::worker::staff::StaffSettings;

mod inbound;

pub use crate::whatsapp::messages::render::{Choice, ChoiceKind, Rendered, render};
pub use inbound::{notification, notification_to, tap_message, text_message};

/// The simulated business number's id (WhatsApp's `phone_number_id`): the conversation key is
/// `whatsapp:simulator:<phone>`.
pub const BUSINESS_ID: &str = "simulator";

/// Pays a simulated conversation's open payment links in the Stripe sandbox, as the customer would
/// on Checkout, and puts the news in the conversation's lane as reconciliation does for Stripe's
/// (the bot hears of it as of a real payment). How many were paid.
pub async fn pay_open_links(
    store: &Store,
    sandbox: &Sandbox,
    conversation_key: &str,
    now: chrono::DateTime<Utc>,
) -> Result<usize, crate::store::StoreError> {
    let mut paid = 0;
    for payment in store.unsettled_payments().await? {
        if payment.conversation_key == conversation_key
            && let Some(session) = payment.session_id.as_deref()
            && sandbox.pay(session).is_some()
        {
            paid += 1;
        }
    }
    if paid > 0 {
        let api = StripeApi::Sandbox(sandbox.clone());
        crate::worker::reconcile::reconcile_conversation(store, &api, conversation_key, now)
            .await?;
    }
    Ok(paid)
}

/// Whether a conversation's business number is the simulated one (`salonbot chat` and the staff
/// pages' simulator): its replies, deposits and refunds stay on this machine (the WhatsApp and
/// Stripe sandboxes) and it is not mirrored into the staff inbox, whatever is configured.
pub fn is_simulated(business_id: &str) -> bool {
    business_id == BUSINESS_ID
}
/// The customer's phone when neither `--phone` nor `--lang` is given.
pub const DEFAULT_PHONE: &str = "+34600000000";
/// How often due timers fire (and failed events are retried) while the prompt waits.
const TICK: Duration = Duration::from_secs(1);
/// Most worker or dispatcher rounds per pump; each round handles at least one event or message, so
/// this bounds a pump without ever being reached in practice.
const MAX_ROUNDS: usize = 1000;

/// What `salonbot chat` was asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct ChatOptions {
    /// The customer's phone (E.164); default [`DEFAULT_PHONE`], or a phone of `lang`'s country.
    pub phone: Option<String>,
    /// `es`, `en` or `pt`: chooses a phone whose country suggests that language.
    pub lang: Option<String>,
    /// Keep the conversation in this database instead of a throwaway SQLite file.
    pub database_url: Option<String>,
}

/// A phone whose country calling code makes the engine choose `lang` when the first message does not
/// tell (Spain, the United Kingdom, Portugal).
pub fn phone_for_language(lang: &str) -> Option<&'static str> {
    match lang {
        "es" => Some("+34600000000"),
        "en" => Some("+447700900000"),
        "pt" => Some("+351912345678"),
        _ => None,
    }
}

/// Runs the simulator until `/quit`, end of input (Ctrl-D), SIGINT or SIGTERM.
pub async fn run(config: Config, options: ChatOptions) -> anyhow::Result<()> {
    // The process-wide subscriber writes to stdout at info; the conversation owns stdout here, so
    // everything this session logs goes to stderr instead, warnings only unless asked for more.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(crate::telemetry::log_filter(&config, "warn"))
        .with_writer(std::io::stderr)
        .finish();
    session(config, options).with_subscriber(subscriber).await
}

async fn session(config: Config, options: ChatOptions) -> anyhow::Result<()> {
    let phone = choose_phone(&options)?;
    let setup = Setup::load(&config)?;

    // Declared before the store, so that it is dropped (and the file removed) after the store.
    let mut scratch = None;
    let database = match &options.database_url {
        Some(raw) => {
            // Its error names DATABASE_URL; here the flag is what was wrong.
            let url = DatabaseUrl::parse(raw)
                .map_err(|e| anyhow::anyhow!("--database-url: {}", e.reason))?;
            if same_database(&url, &config.database_url) {
                anyhow::bail!(
                    "--database-url is the server's database (DATABASE_URL): the simulator would \
                     handle its customers' messages; give it a database of its own"
                );
            }
            url
        }
        None => {
            let dir = ScratchDir::create()?;
            let url = DatabaseUrl::Sqlite(dir.path().join("chat.db"));
            scratch = Some(dir);
            url
        }
    };
    let store = Store::connect(&database, &StoreOptions::default()).await?;
    store.migrate().await?;

    let salon = setup.catalog.salon().name.clone();
    // Always the sandboxes, whatever the environment holds: the simulated customer's phone is not
    // someone to write to, and no money changes hands (deposits are taken by the Stripe sandbox,
    // which `/pay` pays).
    let stripe = Sandbox::default();
    let senders = Senders {
        whatsapp: WhatsAppSender::Sandbox,
        stripe: Some(StripeApi::Sandbox(stripe.clone())),
        stripe_sandbox: stripe.clone(),
        // No Chatwoot: `/agent` and `/resolve` stand in for the staff inbox.
        chatwoot: None,
        staff: Some(StaffSettings {
            mirror: false,
            channel: false,
            human_idle: chrono::Duration::from_std(config.chatwoot.human_idle)
                .unwrap_or(chrono::Duration::hours(12)),
        }),
        custom: None,
    };
    let pipeline = Pipeline::new(&setup, &config, store.clone(), senders, Metrics::new());
    let worker = pipeline.inbox_worker(Arc::new(Notify::new()), WorkerOptions::default());
    let dispatcher = pipeline.dispatcher();
    let mut chat = Chat::new(store, worker, dispatcher, stripe, phone);
    chat.resume().await?;

    let storage = match &scratch {
        Some(_) => format!("{}, discarded on exit", database.describe()),
        None => database.describe(),
    };
    chat.header(
        &salon,
        &storage,
        options.lang.is_some() && options.phone.is_some(),
    );
    chat.converse().await?;
    drop(chat);
    drop(scratch);
    Ok(())
}

/// The customer's phone: `--phone`, else one of `--lang`'s country, else [`DEFAULT_PHONE`].
fn choose_phone(options: &ChatOptions) -> anyhow::Result<E164> {
    let raw = match (&options.phone, &options.lang) {
        (Some(phone), _) => phone.as_str(),
        (None, Some(lang)) => phone_for_language(lang)
            .with_context(|| format!("--lang: expected es, en or pt, got '{lang}'"))?,
        (None, None) => DEFAULT_PHONE,
    };
    E164::parse(raw).with_context(|| {
        format!("--phone: expected an international number such as {DEFAULT_PHONE}, got '{raw}'")
    })
}

/// Whether two URLs name the same database (SQLite files compared by their resolved paths).
fn same_database(a: &DatabaseUrl, b: &DatabaseUrl) -> bool {
    match (a, b) {
        (DatabaseUrl::Sqlite(a), DatabaseUrl::Sqlite(b)) => resolved(a) == resolved(b),
        (DatabaseUrl::Postgres(a), DatabaseUrl::Postgres(b)) => a.expose() == b.expose(),
        _ => false,
    }
}

/// An absolute, lexically normalised form of a path that may not exist yet (symbolic links are
/// resolved when it does).
fn resolved(path: &Path) -> PathBuf {
    if let Ok(path) = path.canonicalize() {
        return path;
    }
    let absolute = std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("salonbot-chat-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The choices of the bot's last message, which a typed number taps.
struct Shown {
    choices: Vec<Choice>,
    /// The `wamid` of the message the choices are in (the context of a tap).
    wamid: Option<String>,
}

/// One simulated customer's conversation.
struct Chat {
    store: Store,
    worker: InboxWorker<InboxHandler>,
    dispatcher: Dispatcher,
    /// Stripe's stand-in, whose links `/pay` pays.
    stripe: Sandbox,
    phone: E164,
    conversation_key: String,
    /// Outbox rows already printed (or there before the session began).
    printed: HashSet<i64>,
    last: Shown,
    /// Whether a person is typing (a prompt is shown) rather than a pipe.
    terminal: bool,
    /// A prompt is on the screen, waiting: output must start on a fresh line.
    prompted: bool,
}

impl Chat {
    fn new(
        store: Store,
        worker: InboxWorker<InboxHandler>,
        dispatcher: Dispatcher,
        stripe: Sandbox,
        phone: E164,
    ) -> Self {
        let conversation_key =
            ConversationKey::whatsapp(BUSINESS_ID, CustomerId::Phone(phone.clone())).to_string();
        Self {
            store,
            worker,
            dispatcher,
            stripe,
            phone,
            conversation_key,
            printed: HashSet::new(),
            last: Shown {
                choices: Vec::new(),
                wamid: None,
            },
            terminal: std::io::stdin().is_terminal(),
            prompted: false,
        }
    }

    /// Takes over what a kept database already holds: earlier replies are not printed again, and the
    /// choices of the last one can still be tapped.
    async fn resume(&mut self) -> anyhow::Result<()> {
        let earlier = self.rows().await?;
        if let Some(row) = earlier.iter().rev().find(|r| delivered(r.status)) {
            self.last = Shown {
                choices: render(&row.payload).choices,
                wamid: row.wamid.clone(),
            };
        }
        // Replies not out yet (waiting for the 24-hour window, retried) are printed once they are.
        self.printed.extend(
            earlier
                .iter()
                .filter(|r| delivered(r.status) || given_up(r.status))
                .map(|r| r.id),
        );
        Ok(())
    }

    fn header(&self, salon: &str, storage: &str, both_given: bool) {
        if both_given {
            eprintln!(
                "warning: --lang only chooses a phone when --phone is not given; the language now \
                 comes from your first message, else from the phone's country"
            );
        }
        let language = language_for_phone(self.phone.as_str())
            .map(|l| {
                format!(
                    " (the bot answers in {l} unless your first message is in another language)"
                )
            })
            .unwrap_or_default();
        println!("salonbot chat: {salon}");
        println!("customer {}{language}", self.phone);
        println!("storage: {storage}; sending: sandbox, nothing leaves this machine");
        println!(
            "a number taps that choice of the bot's last message; /help for help, /quit or Ctrl-D to leave"
        );
    }

    /// Reads lines until `/quit`, end of input or a signal, answering each; fires due timers meanwhile.
    async fn converse(&mut self) -> anyhow::Result<()> {
        let mut lines = stdin_lines()?;
        let stop = crate::cli::shutdown_signal();
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.prompt();
        loop {
            tokio::select! {
                line = lines.recv() => {
                    self.prompted = false;
                    let Some(line) = line.transpose().context("cannot read stdin")? else {
                        if self.terminal {
                            println!();
                        }
                        return Ok(());
                    };
                    if !self.terminal {
                        // Echoed, so that a piped session reads as a transcript.
                        println!("> {line}");
                    }
                    if !self.line(line.trim()).await? {
                        return Ok(());
                    }
                    self.prompt();
                }
                _ = tick.tick() => {
                    if self.pump().await? {
                        self.prompt();
                    }
                }
                () = &mut stop => {
                    if self.prompted {
                        println!();
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Handles one typed line; `false` to stop.
    async fn line(&mut self, line: &str) -> anyhow::Result<bool> {
        match line {
            "/quit" | "/exit" => return Ok(false),
            "/help" => {
                println!("{HELP}");
                return Ok(true);
            }
            "/pay" => {
                self.pay().await?;
                return Ok(true);
            }
            "" => {
                self.pump().await?;
                return Ok(true);
            }
            "/resolve" => {
                self.staff(json!({"event": "conversation_status_changed", "id": 0,
                                  "status": "resolved"}))
                    .await?;
                println!("  (the staff resolved the conversation: the bot has it again)");
                return Ok(true);
            }
            _ => {}
        }
        if let Some(text) = line.strip_prefix("/agent ") {
            let id = i64::from(uuid::Uuid::new_v4().as_u128() as u32);
            self.staff(
                json!({"event": "message_created", "id": id, "content": text.trim(),
                              "message_type": "outgoing", "private": false,
                              "sender": {"id": 1, "name": "staff", "type": "user"}}),
            )
            .await?;
            return Ok(true);
        }
        let from = self.phone.as_str().trim_start_matches('+').to_owned();
        let id = format!("wamid.sim.{}", uuid::Uuid::new_v4().simple());
        let now = Utc::now();
        let tapped = line
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.last.choices.get(i))
            .cloned();
        let message = match &tapped {
            Some(choice) => {
                println!("  (tap: {})", choice.title);
                tap_message(
                    &from,
                    &id,
                    now.timestamp(),
                    choice,
                    self.last.wamid.as_deref(),
                )
            }
            None => text_message(&from, &id, now.timestamp(), line),
        };
        let simulated = serde_json::from_value::<NotificationIn>(notification(&from, message))
            .context("simulated notification")?;
        let events = crate::ingress::whatsapp::inbox_events(simulated, now)
            .context("simulated notification")?;
        self.store.record_inbound(&events).await?;
        self.pump().await?;
        if let Some(event) = self
            .store
            .find_inbox_event(Provider::WhatsApp, &id)
            .await?
            .filter(|e| matches!(e.status, InboxStatus::Failed | InboxStatus::Dead))
        {
            let error = event.last_error.unwrap_or_default();
            let retry = if event.status == InboxStatus::Dead {
                "given up"
            } else {
                "retried shortly"
            };
            println!("(the bot failed on this message, {retry}: {error})");
        }
        Ok(true)
    }

    /// `/pay`: pays the conversation's open payment links in the sandbox, as the customer would on
    /// Checkout, and lets the bot hear of it as it hears of Stripe's (reconciliation's news).
    async fn pay(&mut self) -> anyhow::Result<()> {
        // The link may still be on its way (the session's news not applied yet).
        self.pump().await?;
        if pay_open_links(
            &self.store,
            &self.stripe,
            &self.conversation_key,
            Utc::now(),
        )
        .await?
            == 0
        {
            println!("(no payment link is open to pay)");
            return Ok(());
        }
        println!("  (paid on the sandbox's Checkout)");
        self.pump().await?;
        Ok(())
    }

    /// Stores what the staff did, as the staff inbox's webhook would, and runs it.
    async fn staff(&mut self, payload: Value) -> anyhow::Result<()> {
        let event = NewInboxEvent {
            said: None,
            provider: Provider::Chatwoot,
            provider_event_id: format!("sim:{}", uuid::Uuid::new_v4().simple()),
            business_id: BUSINESS_ID.to_owned(),
            conversation_key: self.conversation_key.clone(),
            kind: EventKind::Staff,
            payload: payload.to_string(),
            received_at: Utc::now(),
        };
        self.store.record_inbound(&[event]).await?;
        self.pump().await?;
        Ok(())
    }

    /// Fires due timers, runs the inbox and the outbox until both are idle (what one makes, such
    /// as a call's news or a reply, the other takes), and prints the replies that went out. `true`
    /// if something was printed.
    async fn pump(&mut self) -> anyhow::Result<bool> {
        let mut moved = self.store.fire_due_timers(Utc::now(), 100).await? > 0;
        for _ in 0..MAX_ROUNDS {
            let handled = self.worker.run_once().await?;
            let sent = self.dispatcher.run_once().await?;
            if handled == 0 && sent == 0 {
                break;
            }
            moved = true;
        }
        if !moved {
            // Nothing fired, handled or sent: no reply can have gone out (this process is the
            // store's only user).
            return Ok(false);
        }
        let rows = self.rows().await?;
        let mut out = std::io::stdout().lock();
        let mut printed = false;
        for row in rows {
            if self.printed.contains(&row.id) {
                continue;
            }
            let note = if delivered(row.status) {
                None
            } else if given_up(row.status) {
                Some(format!(
                    "(not delivered: {})",
                    row.last_error.as_deref().unwrap_or("no reason given")
                ))
            } else {
                // Not out yet (retried, or waiting for the 24-hour window): printed once it is.
                continue;
            };
            self.printed.insert(row.id);
            if self.prompted {
                // The bot speaks while the prompt waits (a timer): start on a fresh line.
                writeln!(out)?;
                self.prompted = false;
            }
            printed = true;
            let rendered = render(&row.payload);
            // A person's message (`/agent`) is the staff's, not the bot's.
            let who = if row.idempotency_key.starts_with("staff:") {
                "staff: "
            } else {
                "bot: "
            };
            for (i, line) in rendered.lines.iter().enumerate() {
                let prefix = if i == 0 { who } else { "     " };
                writeln!(out, "{prefix}{line}")?;
            }
            if let Some(note) = note {
                writeln!(out, "     {note}")?;
                continue;
            }
            // The last message that arrived decides what a number taps.
            self.last = Shown {
                choices: rendered.choices,
                wamid: row.wamid.clone(),
            };
        }
        out.flush()?;
        Ok(printed)
    }

    /// This conversation's outbox rows, oldest first.
    async fn rows(&self) -> anyhow::Result<Vec<Outbound>> {
        Ok(self
            .store
            .outbox_for_recipient(self.phone.as_str())
            .await?
            .into_iter()
            .filter(|r| r.conversation_key == self.conversation_key)
            .collect())
    }

    fn prompt(&mut self) {
        if self.terminal {
            print!("> ");
            let _ = std::io::stdout().flush();
            self.prompted = true;
        }
    }
}

/// The lines of stdin, read by a thread of their own: a read that never ends (no one types again)
/// must not keep the process from exiting, as a pending read on the runtime's blocking pool would.
fn stdin_lines() -> anyhow::Result<mpsc::Receiver<std::io::Result<String>>> {
    let (lines, received) = mpsc::channel(1);
    std::thread::Builder::new()
        .name("chat-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if lines.blocking_send(line).is_err() {
                    return;
                }
            }
        })
        .context("cannot start reading stdin")?;
    Ok(received)
}

const HELP: &str = "\
Type as a customer would: each line is sent to the bot as a WhatsApp message.
A number taps that choice (button or list row) of the bot's last message; anything else is text.
Timers (such as a hold running out) fire on their own while you wait.
A payment link (a deposit) is paid with /pay, as if on Stripe's page; nothing is charged.
/agent TEXT speaks to the customer as the salon's staff would from Chatwoot: the conversation is then
in human mode (the bot stays silent); /resolve hands it back to the bot.
Commands: /help, /pay, /agent TEXT, /resolve, /quit (or Ctrl-D).";

/// The reply reached WhatsApp.
fn delivered(status: OutboundStatus) -> bool {
    matches!(
        status,
        OutboundStatus::Sent | OutboundStatus::Delivered | OutboundStatus::Read
    )
}

/// The reply will not be sent.
fn given_up(status: OutboundStatus) -> bool {
    matches!(status, OutboundStatus::Failed | OutboundStatus::Dead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::messages::{
        ListRow, ListSection, MessageBody, OutboundMessage, Recipient, ReplyButton,
        TemplateComponent, TemplateParameter,
    };
    use crate::whatsapp::webhook::{MessageContent, MessageEvent};
    use serde_json::Value;

    fn payload(body: MessageBody) -> Value {
        OutboundMessage::new(Recipient::phone("+34600000000"), body).to_json()
    }

    #[test]
    fn text_is_printed_line_by_line() {
        let r = render(&payload(MessageBody::text("Hola\nQué tal")));
        assert_eq!(r.lines, ["Hola", "Qué tal"]);
        assert!(r.choices.is_empty());
    }

    #[test]
    fn buttons_are_numbered_choices() {
        let r = render(&payload(MessageBody::Buttons {
            header: None,
            body: "¿Qué quieres hacer?".into(),
            footer: None,
            buttons: vec![
                ReplyButton::new("menu.book", "Reservar"),
                ReplyButton::new("menu.mine", "Mis citas"),
            ],
        }));
        assert_eq!(
            r.lines,
            ["¿Qué quieres hacer?", "  1) Reservar", "  2) Mis citas"]
        );
        assert_eq!(r.choices[1].id, "menu.mine");
        assert_eq!(r.choices[1].kind, ChoiceKind::Button);
    }

    #[test]
    fn lists_show_their_button_and_rows_with_descriptions() {
        let r = render(&payload(MessageBody::List {
            header: None,
            body: "Elige servicio".into(),
            footer: None,
            button_label: "Servicios".into(),
            sections: vec![ListSection::untitled(vec![
                ListRow::new("svc.cut", "Corte").with_description("30 min · 20 €"),
                ListRow::new("svc.dye", "Tinte"),
            ])],
        }));
        assert_eq!(
            r.lines,
            [
                "Elige servicio",
                "[Servicios]",
                "  1) Corte — 30 min · 20 €",
                "  2) Tinte"
            ]
        );
        assert_eq!(r.choices[0].kind, ChoiceKind::Row);
        assert_eq!(r.choices[0].description.as_deref(), Some("30 min · 20 €"));
    }

    #[test]
    fn links_and_templates_are_labelled() {
        let r = render(&payload(MessageBody::CtaUrl {
            header: None,
            body: "Paga la señal".into(),
            footer: None,
            display_text: "Pagar".into(),
            url: "https://pay.example/x".into(),
        }));
        assert_eq!(r.lines, ["Paga la señal", "[Pagar] https://pay.example/x"]);
        let r = render(&payload(MessageBody::Template {
            name: "reminder".into(),
            language_code: "es".into(),
            components: vec![
                TemplateComponent::body(vec![
                    TemplateParameter::Text("Ana".into()),
                    TemplateParameter::Text("10:00".into()),
                ]),
                TemplateComponent::quick_reply(0, "reminder.confirm:7"),
            ],
        }));
        assert_eq!(
            r.lines,
            [
                "[template reminder (es)] Ana | 10:00",
                "  1) [quick reply] reminder.confirm:7"
            ]
        );
        assert_eq!(r.choices[0].kind, ChoiceKind::QuickReply);
    }

    fn stored(message: Value) -> MessageEvent {
        let events = serde_json::from_value::<NotificationIn>(notification("34600000000", message))
            .unwrap()
            .into_events()
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].conversation_key,
            "whatsapp:simulator:+34600000000"
        );
        serde_json::from_str(&events[0].payload).unwrap()
    }

    #[test]
    fn typed_text_and_taps_arrive_as_whatsapp_sends_them() {
        let event = stored(text_message("34600000000", "wamid.a", 1, "hola"));
        assert!(matches!(
            event.message.content(),
            MessageContent::Text("hola")
        ));

        let button = Choice {
            kind: ChoiceKind::Button,
            id: "menu.book".into(),
            title: "Reservar".into(),
            description: None,
        };
        let event = stored(tap_message(
            "34600000000",
            "wamid.b",
            1,
            &button,
            Some("sandbox.1"),
        ));
        assert!(matches!(
            event.message.content(),
            MessageContent::Choice {
                id: "menu.book",
                title: "Reservar"
            }
        ));
        assert_eq!(
            event.message.context.unwrap().id.as_deref(),
            Some("sandbox.1")
        );

        let row = Choice {
            kind: ChoiceKind::Row,
            ..button.clone()
        };
        let event = stored(tap_message("34600000000", "wamid.c", 1, &row, None));
        assert!(event.message.interactive.unwrap().list_reply.is_some());

        let quick = Choice {
            kind: ChoiceKind::QuickReply,
            ..button
        };
        let event = stored(tap_message("34600000000", "wamid.d", 1, &quick, None));
        assert!(matches!(
            event.message.content(),
            MessageContent::QuickReply {
                payload: "menu.book",
                ..
            }
        ));
    }

    #[test]
    fn lang_chooses_a_phone_of_its_country() {
        for lang in ["es", "en", "pt"] {
            let phone = phone_for_language(lang).unwrap();
            let language = language_for_phone(phone).unwrap();
            assert_eq!(language.as_str(), lang);
        }
        let options = ChatOptions {
            phone: Some("+16505551234".into()),
            lang: Some("pt".into()),
            database_url: None,
        };
        assert_eq!(choose_phone(&options).unwrap().as_str(), "+16505551234");
        assert!(
            choose_phone(&ChatOptions {
                phone: Some("hello".into()),
                ..ChatOptions::default()
            })
            .is_err()
        );
    }

    #[test]
    fn the_servers_database_is_recognised() {
        let a = DatabaseUrl::parse("sqlite://data/salonbot.db").unwrap();
        let b = DatabaseUrl::parse("sqlite://./data/salonbot.db").unwrap();
        let c = DatabaseUrl::parse("sqlite://data/other.db").unwrap();
        assert!(same_database(&a, &b));
        assert!(!same_database(&a, &c));
    }
}
