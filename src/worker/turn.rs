//! A conversation turn: one inbox event through the engine. Loads the conversation and what the step
//! may look at, runs the pure [`step`], and commits the new state, the appointment changes, the
//! replies (outbox rows) and the timers together with the event's completion, in one transaction.
//!
//! When the store refuses a booking change (the time was taken a moment earlier, or the hold ran
//! out), nothing of the turn is written: the step runs again from the same state with that news and a
//! fresh view, so the customer hears "that time was just taken" with other times, never an error.
//!
//! A deposit's news takes the same path: what it changes is decided first (`worker::payments`,
//! `booking::payment`), and the engine is told only what the customer is to hear; the deposit
//! effects of a step (asking for a deposit, a refund, a hold given up) are added to its commit the
//! same way. A late payment whose time was taken meanwhile is planned again as refunded.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Notify;

use crate::booking::availability::Busy;
use crate::booking::catalog::Catalog;
use crate::conversation::{ConversationKey, Masked};
use crate::engine::effect::{Effect, Reply, ReplyUi, SlotRequest, TimerRequest, Turn};
use crate::engine::input::Input;
use crate::engine::state::Conversation;
use crate::engine::step::step;
use crate::engine::view::{self, View};
use crate::engine::{Flow, Templates};
use crate::event::{EventKind, Provider};
use crate::store::{
    Appointment, BookingOp, Committed, InboxEvent, NewHold, NewOutbound, NewTimer, Store,
    StoreError, StoredConversation, TurnCommit, TurnError, TurnTimer,
};
use crate::telemetry::Metrics;
use crate::whatsapp::messages::{
    ListRow, ListSection, MediaSource, MessageBody, OutboundMessage, Recipient, ReplyButton,
    TemplateComponent, TemplateParameter,
};
use crate::worker::custom_replies;
use crate::worker::error::WorkerError;
use crate::worker::input::{NoInput, input_of, timer_payload};
use crate::worker::outbox::rows_for;
use crate::worker::payments::{self, Deposits, PaymentCounts};
use crate::worker::staff::{self, ChatwootCall, HUMAN_IDLE, StaffSettings};

/// Times a turn is planned again after the store refused a booking change.
const REPLANS: usize = 3;

/// Runs conversation turns: the bridge between the inbox and the pure engine.
pub struct TurnRunner {
    store: Store,
    flow: Arc<Flow>,
    templates: Arc<Templates>,
    catalog: Arc<Catalog>,
    settings: TurnSettings,
    metrics: Metrics,
    /// Woken when a turn wrote replies, so the dispatcher sends them at once rather than at its next poll.
    outbox_wake: Option<Arc<Notify>>,
    deposits: Deposits,
}

/// What the operator configured for the turns.
#[derive(Debug, Clone)]
pub struct TurnSettings {
    /// Deposits can be taken (a payment provider is configured).
    pub deposits: bool,
    /// The approved WhatsApp template for reminders, if any.
    pub reminder_template: Option<String>,
    /// The optional language model for free text the rules do not understand.
    pub model: Option<crate::language_model::ModelReader>,
    /// Where Checkout sends the customer after paying, and after giving up.
    pub return_urls: (String, String),
    /// The staff inbox (Chatwoot): agents' replies to send, the mirror, the idle time of human mode.
    pub staff: Option<StaffSettings>,
    /// The salon's calendar, where every channel's bookings go (see [`TurnSettings::calendar`]):
    /// [`crate::config::Config::salon_business`].
    pub salon_calendar: Option<String>,
}

impl Default for TurnSettings {
    fn default() -> Self {
        Self {
            deposits: false,
            reminder_template: None,
            return_urls: ("https://wa.me/".into(), "https://wa.me/".into()),
            model: None,
            staff: None,
            salon_calendar: None,
        }
    }
}

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    /// The turn was committed (the event is marked done with it).
    Committed,
    /// Not a conversation event (or its claim was lost): the caller settles it.
    Skipped,
}

impl TurnSettings {
    /// What the configuration says; `deposits` when a payment provider takes them (Stripe
    /// configured, or its sandbox in the simulator), `staff` when a staff inbox is plugged in.
    pub fn from_config(
        config: &crate::config::Config,
        catalog: &Catalog,
        deposits: bool,
        staff: Option<StaffSettings>,
    ) -> Self {
        Self {
            deposits,
            reminder_template: config.whatsapp.reminder_template.clone(),
            model: crate::language_model::ModelReader::from_config(&config.openai),
            return_urls: payments::return_urls(&config.stripe, catalog),
            staff,
            salon_calendar: config.salon_business(),
        }
    }

    /// The business id a conversation's bookings are kept under, and their availability read from.
    /// One salon has one set of staff whatever channel a customer writes on: with the salon's
    /// business id configured (its WhatsApp business number, or Chatwoot's account in channel
    /// mode), every channel's bookings go in its calendar, so that the database keeps them apart as
    /// it keeps two WhatsApp bookings apart. Without one, the conversation's own business number. The simulated
    /// customer's bookings stay in a calendar of their own.
    pub fn calendar(&self, business_id: &str) -> String {
        match &self.salon_calendar {
            Some(salon) if !crate::chat::is_simulated(business_id) => salon.clone(),
            _ => business_id.to_owned(),
        }
    }
}

/// A turn planned: what to commit, and what to count once it is.
struct Planned {
    commit: TurnCommit,
    counts: PaymentCounts,
}

impl TurnRunner {
    pub fn new(
        store: Store,
        flow: Arc<Flow>,
        templates: Arc<Templates>,
        catalog: Arc<Catalog>,
        settings: TurnSettings,
        metrics: Metrics,
    ) -> Self {
        let deposits = Deposits::new(store.clone(), catalog.clone(), settings.return_urls.clone());
        Self {
            store,
            flow,
            templates,
            catalog,
            settings,
            metrics,
            outbox_wake: None,
            deposits,
        }
    }

    /// Wakes the dispatcher through `wake` whenever a turn wrote replies.
    pub fn with_outbox_wake(mut self, wake: Arc<Notify>) -> Self {
        self.outbox_wake = Some(wake);
        self
    }

    /// Applies one inbox event.
    pub async fn handle(&self, event: &InboxEvent) -> Result<TurnOutcome, WorkerError> {
        self.handle_batch(&[event])
            .await
            .pop()
            .unwrap_or(Ok(TurnOutcome::Skipped))
    }

    /// Applies a batch of inbox events, each of a different conversation: their conversations are
    /// read in one go, every turn is planned (read, step), then all are committed at once
    /// ([`Store::commit_turns`]); a turn whose booking change the store refused is planned again
    /// with that news. One outcome per event, in order.
    pub async fn handle_batch(
        &self,
        events: &[&InboxEvent],
    ) -> Vec<Result<TurnOutcome, WorkerError>> {
        let keys: Vec<String> = events.iter().map(|e| e.conversation_key.clone()).collect();
        let stored = match self.store.conversation_states(&keys).await {
            Ok(stored) => stored,
            Err(err) => {
                let err = WorkerError::from(err);
                return events.iter().map(|_| Err(err.clone())).collect();
            }
        };
        let mut outcomes: Vec<Option<Result<TurnOutcome, WorkerError>>> = vec![None; events.len()];
        let planned = futures_util::future::join_all(
            events
                .iter()
                .map(|event| self.plan_first(event, stored.get(&event.conversation_key))),
        )
        .await;
        let mut turns = Vec::new();
        let mut commits = Vec::new();
        for (i, plan) in planned.into_iter().enumerate() {
            match plan {
                Ok((cx, planned)) => {
                    turns.push((i, cx, planned.counts));
                    commits.push(planned.commit);
                }
                Err(outcome) => outcomes[i] = Some(outcome),
            }
        }
        let results = self.store.commit_turns(&commits, Utc::now()).await;
        let mut again = Vec::new();
        for (((i, cx, counts), commit), result) in turns.into_iter().zip(&commits).zip(results) {
            match result {
                Ok(committed) => {
                    outcomes[i] = Some(Ok(self.committed(&cx, commit, &committed, &counts)))
                }
                Err(TurnError::SlotTaken) => again.push((i, cx, Input::SlotTaken)),
                Err(TurnError::HoldLost) => again.push((i, cx, Input::HoldLost)),
                Err(TurnError::Stale) => outcomes[i] = Some(Ok(TurnOutcome::Skipped)),
                Err(err) => outcomes[i] = Some(Err(err.into())),
            }
        }
        let replanned = futures_util::future::join_all(
            again
                .iter()
                .map(|(_, cx, input)| self.replan(cx, input.clone())),
        )
        .await;
        for ((i, _, _), outcome) in again.iter().zip(replanned) {
            outcomes[*i] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Ok(TurnOutcome::Skipped)))
            .collect()
    }

    /// Reads an event's conversation and plans its turn; `Err` is the event's outcome when there is
    /// no turn to take.
    async fn plan_first<'e>(
        &self,
        event: &'e InboxEvent,
        stored: Option<&StoredConversation>,
    ) -> Result<(TurnContext<'e>, Planned), Result<TurnOutcome, WorkerError>> {
        let started = Instant::now();
        let payment = Deposits::is_news(event);
        let input = if payment {
            // Decided first, in `plan`: the engine hears only what the customer is told.
            None
        } else {
            match input_of(event) {
                Ok(found) => Some(found),
                Err(NoInput::NotConversational) => return Err(Ok(TurnOutcome::Skipped)),
                Err(err @ NoInput::Unreadable(_)) => return Err(Err(err.into())),
            }
        };
        let Some(recipient) = Recipient::of_conversation(&event.conversation_key) else {
            tracing::warn!(conversation = %Masked(&event.conversation_key), "no one to answer: conversation key without a phone or user id");
            return Err(Ok(TurnOutcome::Skipped));
        };
        let conversation: Conversation = match stored.and_then(|s| s.state.as_ref()) {
            Some(state) => Conversation::deserialize(state).unwrap_or_else(|err| {
                tracing::warn!(error = %err, conversation = %Masked(&event.conversation_key), "unreadable conversation state: starting again");
                Conversation::default()
            }),
            None => Conversation::default(),
        };
        let phone = match &recipient {
            Recipient::Phone(phone) => Some(phone.clone()),
            Recipient::BusinessScopedUser(_) => None,
        };
        // On the generic channel a typed number answers the options of the last reply, as a tap does.
        let input = match input {
            Some(Input::Text(text)) if event.provider == Provider::Custom => Some(
                custom_replies::typed(&self.store, event, text)
                    .await
                    .map_err(|e| Err(e.into()))?,
            ),
            input => input,
        };
        // A deposit's news has no input of the customer's; their words may be read by the model.
        let input = match (&self.settings.model, input) {
            (Some(model), Some(input)) => Some(
                crate::worker::reading::with_model(
                    model,
                    &self.store,
                    &self.catalog,
                    event,
                    input,
                    conversation.language,
                    Utc::now(),
                )
                .await
                .map_err(|e| Err(e.into()))?,
            ),
            (_, input) => input,
        };
        let cx = TurnContext {
            event,
            recipient,
            phone,
            conversation,
            started,
            payment,
        };
        match self.plan(&cx, input.as_ref(), true, Utc::now()).await {
            Ok(Some(planned)) => Ok((cx, planned)),
            Ok(None) => Err(Ok(TurnOutcome::Skipped)),
            Err(err) => Err(Err(err)),
        }
    }

    /// Reads what the step needs, runs it, and puts its outcome in the store's form, with the
    /// deposit side of the turn. A deposit's news is decided first (`slot_free`: whether a late
    /// payment's time may still be free) and gives the step its input, or none when the customer
    /// is told nothing; `None` when the news changes nothing at all.
    async fn plan(
        &self,
        cx: &TurnContext<'_>,
        input: Option<&Input>,
        slot_free: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Planned>, WorkerError> {
        let news = if cx.payment {
            match self.deposits.plan_news(cx.event, slot_free, now).await? {
                Some(news) => Some(news),
                None => return Ok(None),
            }
        } else {
            None
        };
        let input = news.as_ref().and_then(|n| n.input.as_ref()).or(input);
        let turn = match input {
            Some(input) => {
                let reads = self.read(cx.event, &cx.conversation, input, now).await?;
                let view = View {
                    catalog: &self.catalog,
                    templates: &self.templates,
                    now,
                    busy: &reads.busy,
                    appointments: &reads.appointments,
                    deposits: self.settings.deposits,
                    phone: cx.phone.as_deref(),
                };
                step(&self.flow, &cx.conversation, input, &view)
            }
            // News the customer is not told of: the conversation stays as it is.
            None => Turn {
                state: cx.conversation.clone(),
                replies: Vec::new(),
                effects: Vec::new(),
            },
        };
        let mut commit = self.commit_of(cx.event, &cx.recipient, &turn, now);
        // The staff inbox serves WhatsApp's conversations: an agent's reply could not reach a
        // customer of the generic channel, so its conversations are not mirrored. The simulated
        // customer's conversation stays on this machine: no mirror, and its replies are WhatsApp's
        // (sandboxed) even in channel mode.
        let on_custom =
            ConversationKey::parse(&cx.event.conversation_key).is_some_and(|key| key.is_custom());
        let staff = self.settings.staff.filter(|_| !on_custom).map(|staff| {
            if crate::chat::is_simulated(&cx.event.business_id) {
                StaffSettings {
                    mirror: false,
                    channel: false,
                    ..staff
                }
            } else {
                staff
            }
        });
        if let Some(staff) = staff {
            self.staff_side(cx, input, &turn, &mut commit, staff, now)
                .await?;
        }
        let effects = self
            .deposits
            .plan_effects(cx.event, &cx.conversation, &turn, now)
            .await?;
        let mut counts = PaymentCounts::default();
        for plan in news.into_iter().chain([effects]) {
            // The deposit's change first: the step's own (a reminder set, a hold let go) follow it.
            let mut booking = plan.booking;
            booking.append(&mut commit.booking);
            commit.booking = booking;
            commit.outbox.extend(plan.calls);
            commit.timers.extend(plan.timers);
            counts.payments.extend(plan.counts.payments);
            counts.refunds.extend(plan.counts.refunds);
        }
        Ok(Some(Planned { commit, counts }))
    }

    /// The staff inbox's side of a turn: an agent's reply goes to the customer; in mirror mode the
    /// customer's message, the bot's replies and a hand-off (with its note) become Chatwoot rows, in
    /// that order; human mode (re)started sets its idle timer.
    async fn staff_side(
        &self,
        cx: &TurnContext<'_>,
        input: Option<&Input>,
        turn: &Turn,
        commit: &mut TurnCommit,
        staff: StaffSettings,
        now: DateTime<Utc>,
    ) -> Result<(), WorkerError> {
        let event = cx.event;
        let key = &event.conversation_key;
        let parsed = (event.kind == EventKind::Staff)
            .then(|| crate::chatwoot::wire::EventIn::deserialize(&event.payload).ok())
            .flatten();
        if staff.channel {
            self.channel_side(cx, input, parsed.as_ref(), turn, commit, now)
                .await?;
        } else if let Some((text, attachments)) = parsed.as_ref().and_then(staff::agent_reply) {
            let mut bodies = Vec::new();
            if !text.trim().is_empty() {
                bodies.push(MessageBody::text(text));
            }
            for (kind, url) in attachments {
                let media = MediaSource::Link(url);
                bodies.push(match kind.as_str() {
                    "image" => MessageBody::Image {
                        media,
                        caption: None,
                    },
                    _ => MessageBody::Document {
                        media,
                        caption: None,
                        filename: None,
                    },
                });
            }
            for (i, body) in bodies.into_iter().enumerate() {
                let message = OutboundMessage::new(cx.recipient.clone(), body);
                let (rows, _) = rows_for(
                    message,
                    &format!("staff:{}:{i}", event.id),
                    &event.business_id,
                    key,
                    now,
                );
                commit.outbox.extend(rows);
            }
        }
        if staff.mirror {
            let row = |call: ChatwootCall, local: String| {
                call.row(
                    format!("chatwoot:{}:{local}", event.id),
                    &event.business_id,
                    key,
                    now,
                )
            };
            if event.provider == Provider::WhatsApp
                && event.kind == EventKind::Message
                && let Some(input) = input
            {
                let content = staff::customer_text(input);
                commit.outbox.push(row(
                    ChatwootCall::Mirror {
                        incoming: true,
                        content,
                        name: crate::whatsapp::webhook::MessageEvent::profile_name_of(
                            &event.payload,
                        ),
                    },
                    "in".into(),
                ));
            }
            for (i, reply) in turn.replies.iter().enumerate() {
                commit.outbox.push(row(
                    ChatwootCall::Mirror {
                        incoming: false,
                        content: staff::reply_text(reply),
                        name: None,
                    },
                    format!("out:{i}"),
                ));
            }
            if turn.effects.contains(&Effect::Handoff) {
                let note = self.handoff_note(key, input, turn).await?;
                commit
                    .outbox
                    .push(row(ChatwootCall::Handoff { note }, "handoff".into()));
            }
        }
        if turn.state.human
            && turn.state.human_since != cx.conversation.human_since
            && let Some(since) = turn.state.human_since
        {
            commit.timers.push(TurnTimer {
                timer: NewTimer {
                    key: format!("{key}/{}", staff::HUMAN_IDLE),
                    business_id: event.business_id.clone(),
                    conversation_key: key.clone(),
                    kind: staff::HUMAN_IDLE.to_owned(),
                    payload: timer_payload(&crate::engine::input::Timer::HumanIdle { since }),
                    due_at: since + staff.human_idle,
                },
                of_confirmed: false,
            });
        }
        Ok(())
    }

    /// Channel mode: the customer's Chatwoot conversation remembered (Chatwoot opens a new one when a
    /// resolved one is written to again), the replies posted into it instead of sent to WhatsApp, and
    /// a hand-off made there.
    async fn channel_side(
        &self,
        cx: &TurnContext<'_>,
        input: Option<&Input>,
        parsed: Option<&crate::chatwoot::wire::EventIn>,
        turn: &Turn,
        commit: &mut TurnCommit,
        now: DateTime<Utc>,
    ) -> Result<(), WorkerError> {
        let event = cx.event;
        let key = &event.conversation_key;
        if let Some(id) = parsed.and_then(|p| p.conversation_id()) {
            self.store
                .set_chatwoot_conversation(key, &event.business_id, id, now)
                .await?;
        }
        commit
            .outbox
            .retain(|row| row.provider != Provider::WhatsApp);
        let row = |call: ChatwootCall, local: String| {
            call.row(
                format!("chatwoot:{}:{local}", event.id),
                &event.business_id,
                key,
                now,
            )
        };
        for (i, reply) in turn.replies.iter().enumerate() {
            commit
                .outbox
                .push(row(staff::channel_reply(reply), format!("reply:{i}")));
        }
        if turn.effects.contains(&Effect::Handoff) {
            let note = self.handoff_note(key, input, turn).await?;
            commit
                .outbox
                .push(row(ChatwootCall::Handoff { note }, "handoff".into()));
        }
        // The staff's note `/bot`: the conversation back to `pending`, where the bot acts again.
        if parsed.map(|p| p.meaning(crate::chatwoot::wire::Reading::Channel))
            == Some(crate::chatwoot::wire::Meaning::HandBack { why: "note" })
        {
            commit.outbox.push(row(
                ChatwootCall::Status {
                    status: "pending".into(),
                },
                "pending".into(),
            ));
        }
        Ok(())
    }

    /// The hand-off's private note, with the conversation's live appointments and their deposits.
    async fn handoff_note(
        &self,
        key: &str,
        input: Option<&Input>,
        turn: &Turn,
    ) -> Result<String, WorkerError> {
        let mut appointments = Vec::new();
        for appointment in self.store.conversation_appointments(key).await? {
            if !appointment.status.is_live() {
                continue;
            }
            let payment = if appointment.deposit_minor > 0 {
                self.store.payment(appointment.id).await?
            } else {
                None
            };
            appointments.push((appointment, payment));
        }
        let said = input.map(staff::customer_text).unwrap_or_default();
        Ok(staff::handoff_note(
            &self.catalog,
            &turn.state,
            &said,
            &appointments,
        ))
    }

    /// Plans and commits a turn on its own after the store refused its booking change, with that
    /// news and a fresh view, up to [`REPLANS`] times. A deposit's news whose late payment found
    /// its time taken is planned again as such (refunded).
    async fn replan(
        &self,
        cx: &TurnContext<'_>,
        mut input: Input,
    ) -> Result<TurnOutcome, WorkerError> {
        let mut slot_free = true;
        for _ in 0..REPLANS {
            let now = Utc::now();
            if input == Input::SlotTaken {
                slot_free = false;
            }
            let engine_input = (!cx.payment).then_some(&input);
            let Some(planned) = self.plan(cx, engine_input, slot_free, now).await? else {
                return Ok(TurnOutcome::Skipped);
            };
            match self.store.commit_turn(&planned.commit, now).await {
                Ok(committed) => {
                    return Ok(self.committed(cx, &planned.commit, &committed, &planned.counts));
                }
                Err(TurnError::SlotTaken) => input = Input::SlotTaken,
                Err(TurnError::HoldLost) => input = Input::HoldLost,
                Err(TurnError::Stale) => return Ok(TurnOutcome::Skipped),
                Err(err) => return Err(err.into()),
            }
        }
        Err(WorkerError::BookingKeptChanging)
    }

    /// Counts a committed turn, and wakes the dispatcher when it wrote replies or calls.
    fn committed(
        &self,
        cx: &TurnContext<'_>,
        commit: &TurnCommit,
        committed: &Committed,
        counts: &PaymentCounts,
    ) -> TurnOutcome {
        if let (Some(wake), false) = (&self.outbox_wake, commit.outbox.is_empty()) {
            wake.notify_one();
        }
        self.metrics.turn(cx.started.elapsed());
        if let Some(reason) = human_mode_change(cx, commit.human) {
            self.metrics.human_mode(reason);
        }
        self.count_appointments(&commit.booking, committed.confirmed);
        counts.count(&self.metrics);
        TurnOutcome::Committed
    }

    /// Reads what a step from this state may look at.
    async fn read(
        &self,
        event: &InboxEvent,
        conversation: &Conversation,
        input: &Input,
        now: DateTime<Utc>,
    ) -> Result<Reads, StoreError> {
        let needs = view::needs(
            &self.flow,
            &self.templates,
            &self.catalog,
            conversation,
            input,
            now,
        );
        let mut reads = Reads::default();
        // The customer's own appointments come with availability: their holds do not block them.
        if needs.appointments || needs.availability {
            reads.appointments = self
                .store
                .conversation_appointments(&event.conversation_key)
                .await?;
        }
        if needs.availability {
            let horizon = i64::from(self.catalog.salon().horizon_days) + 1;
            reads.busy = self
                .store
                .busy_times(
                    &self.settings.calendar(&event.business_id),
                    now - Duration::days(1),
                    now + Duration::days(horizon),
                    now,
                )
                .await?
                .into_iter()
                .map(Busy::from)
                .collect();
        }
        Ok(reads)
    }

    /// The store's form of a step's outcome.
    fn commit_of(
        &self,
        event: &InboxEvent,
        recipient: &Recipient,
        turn: &Turn,
        now: DateTime<Utc>,
    ) -> TurnCommit {
        let key = &event.conversation_key;
        let scoped = |local: &str| format!("{key}/{local}");
        let mut booking = Vec::new();
        let mut timers = Vec::new();
        let mut cancel_timers = Vec::new();
        for effect in &turn.effects {
            match effect {
                Effect::Hold(hold) => booking.push(BookingOp::Hold(NewHold {
                    hold_expires_at: hold.expires_at,
                    deposit_minor: i64::try_from(hold.deposit).unwrap_or(i64::MAX),
                    ..new_hold(event, &hold.slot, &self.settings)
                })),
                Effect::ReleaseHold => booking.push(BookingOp::ReleaseHold),
                Effect::Confirm => booking.push(BookingOp::Confirm),
                // The deposit effects need the store's word first (`Deposits::plan_effects`).
                Effect::RequestDeposit | Effect::Refund(_) => {}
                Effect::Cancel(id) => booking.push(BookingOp::Cancel(*id)),
                Effect::Reschedule { appointment, to } => booking.push(BookingOp::Reschedule(
                    *appointment,
                    new_hold(event, to, &self.settings),
                )),
                Effect::Handoff => {
                    tracing::info!(conversation = %Masked(key), "conversation handed to the salon's staff");
                }
                Effect::Schedule {
                    key: local,
                    due_at,
                    timer,
                } => {
                    let (payload, of_confirmed, kind, local) = match timer {
                        TimerRequest::Ready(timer) => (
                            timer_payload(timer),
                            false,
                            timer_kind(timer),
                            local.clone(),
                        ),
                        TimerRequest::ReminderOfConfirmed { start } => (
                            serde_json::json!({"timer": "reminder", "appointment": 0, "start": start}),
                            true,
                            "reminder",
                            format!("{local}:{{appointment}}"),
                        ),
                    };
                    timers.push(TurnTimer {
                        timer: NewTimer {
                            key: scoped(&local),
                            business_id: event.business_id.clone(),
                            conversation_key: key.clone(),
                            kind: kind.to_owned(),
                            payload,
                            due_at: *due_at,
                        },
                        of_confirmed,
                    });
                }
                Effect::CancelTimer(local) => cancel_timers.push(scoped(local)),
            }
        }
        let language = turn.state.language;
        let mut outbox: Vec<NewOutbound> = Vec::new();
        // The generic channel's conversations are answered in plain text, through its reply URL.
        let custom = ConversationKey::parse(key).filter(ConversationKey::is_custom);
        for (i, reply) in turn.replies.iter().enumerate() {
            if let Some(conversation) = &custom {
                let idempotency_key = format!("turn:{}:{i}", event.id);
                outbox.extend(custom_replies::row(
                    reply,
                    idempotency_key,
                    conversation,
                    now,
                ));
                continue;
            }
            let body = self.body_of(reply, language.map(|l| l.as_str()));
            let message = OutboundMessage::new(recipient.clone(), body);
            let (rows, _) = rows_for(
                message,
                &format!("turn:{}:{i}", event.id),
                &event.business_id,
                key,
                now,
            );
            outbox.extend(rows);
        }
        TurnCommit {
            event_id: event.id,
            attempt: event.attempts,
            business_id: event.business_id.clone(),
            conversation_key: key.clone(),
            flow: self.flow.name.clone(),
            state: serde_json::to_value(&turn.state).unwrap_or(Value::Null),
            language: language.map(|l| l.as_str().to_owned()),
            human: turn.state.human,
            booking,
            outbox,
            timers,
            cancel_timers,
        }
    }

    /// The WhatsApp message of a reply.
    fn body_of(&self, reply: &Reply, language: Option<&str>) -> MessageBody {
        if let (Some(template), Some(name)) = (&reply.template, &self.settings.reminder_template)
            && template.purpose == "reminder"
        {
            let params = template
                .params
                .iter()
                .map(|p| TemplateParameter::Text(p.clone()))
                .collect();
            let mut components = vec![TemplateComponent::body(params)];
            for (i, payload) in template.payloads.iter().enumerate() {
                components.push(TemplateComponent::quick_reply(
                    u8::try_from(i).unwrap_or(u8::MAX),
                    payload.clone(),
                ));
            }
            return MessageBody::Template {
                name: name.clone(),
                language_code: language.unwrap_or("es").to_owned(),
                components,
            };
        }
        body_of(reply)
    }

    fn count_appointments(&self, booking: &[BookingOp], confirmed: Option<i64>) {
        for op in booking {
            let status = match op {
                BookingOp::Hold(_) => "held",
                BookingOp::ReleaseHold => "released",
                BookingOp::Confirm if confirmed.is_some() => "confirmed",
                BookingOp::Confirm => continue,
                BookingOp::RequestDeposit(_) => "pending_payment",
                BookingOp::Cancel(_) => "cancelled",
                BookingOp::Payment(change) => match change.appointment {
                    Some((_, to)) => to.as_str(),
                    None => continue,
                },
                BookingOp::Reschedule(..) => "rescheduled",
            };
            self.metrics.appointment(status);
        }
    }
}

/// What planning a turn again needs: the event, whom it answers, and the state it started from.
struct TurnContext<'e> {
    event: &'e InboxEvent,
    recipient: Recipient,
    phone: Option<String>,
    conversation: Conversation,
    started: Instant,
    /// The event is a deposit's news (decided before the step).
    payment: bool,
}

/// Why a turn put its conversation in human mode or took it out, if it did.
fn human_mode_change(cx: &TurnContext<'_>, human: bool) -> Option<&'static str> {
    let staff = cx.event.kind == EventKind::Staff;
    match (cx.conversation.human, human) {
        (false, true) if staff => Some("agent_reply"),
        (false, true) => Some("handoff"),
        (true, false) if staff => Some(
            match crate::chatwoot::wire::EventIn::deserialize(&cx.event.payload)
                .map(|e| e.meaning(crate::chatwoot::wire::Reading::Stored))
            {
                Ok(crate::chatwoot::wire::Meaning::HandBack { why }) => why,
                _ => "resolved",
            },
        ),
        (true, false) if cx.event.kind == EventKind::Timer => Some("idle"),
        (true, false) => Some("customer"),
        _ => None,
    }
}

/// The reads a step needed.
#[derive(Default)]
struct Reads {
    busy: Vec<Busy>,
    appointments: Vec<Appointment>,
}

fn new_hold(event: &InboxEvent, slot: &SlotRequest, settings: &TurnSettings) -> NewHold {
    NewHold {
        business_id: settings.calendar(&event.business_id),
        conversation_key: event.conversation_key.clone(),
        service_id: slot.service.clone(),
        staff_id: slot.staff.clone(),
        starts_at: slot.start,
        ends_at: slot.end,
        occupied_until: slot.occupied_until,
        hold_expires_at: slot.start,
        deposit_minor: 0,
    }
}

fn timer_kind(timer: &crate::engine::input::Timer) -> &'static str {
    match timer {
        crate::engine::input::Timer::StateTimeout { .. } => "state_timeout",
        crate::engine::input::Timer::Reminder { .. } => "reminder",
        crate::engine::input::Timer::HumanIdle { .. } => HUMAN_IDLE,
    }
}

/// A reply as a WhatsApp message body.
pub fn body_of(reply: &Reply) -> MessageBody {
    match &reply.ui {
        ReplyUi::None => MessageBody::text(reply.text.clone()),
        ReplyUi::Buttons(buttons) => MessageBody::Buttons {
            header: None,
            body: reply.text.clone(),
            footer: None,
            buttons: buttons
                .iter()
                .map(|(id, title)| ReplyButton::new(id.clone(), title.clone()))
                .collect(),
        },
        ReplyUi::List { button, rows } => MessageBody::List {
            header: None,
            body: reply.text.clone(),
            footer: None,
            button_label: button.clone(),
            sections: vec![ListSection::untitled(
                rows.iter()
                    .map(|row| {
                        let list_row = ListRow::new(row.id.clone(), row.title.clone());
                        match &row.description {
                            Some(d) => list_row.with_description(d.clone()),
                            None => list_row,
                        }
                    })
                    .collect(),
            )],
        },
        ReplyUi::Cta { label, url } => MessageBody::CtaUrl {
            header: None,
            body: reply.text.clone(),
            footer: None,
            display_text: label.clone(),
            url: url.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_go_to_the_customer_of_the_key() {
        let recipient_of = Recipient::of_conversation;
        assert_eq!(
            recipient_of("whatsapp:1065:+34600111222"),
            Some(Recipient::phone("+34600111222"))
        );
        assert_eq!(
            recipient_of("whatsapp:1065:user:US.13491208655302741918"),
            Some(Recipient::business_scoped_user("US.13491208655302741918"))
        );
        assert_eq!(recipient_of("whatsapp:1065:raw:abc"), None);
        assert_eq!(recipient_of("whatsapp:1065:system"), None);
    }

    #[test]
    fn a_reminder_reply_keeps_its_buttons_when_no_template_is_configured() {
        let reply = Reply::with(
            "Te recordamos tu cita",
            ReplyUi::Buttons(vec![(
                format!("{}7", crate::engine::step::REMINDER_CONFIRM),
                "Confirmar".into(),
            )]),
        );
        let MessageBody::Buttons { buttons, .. } = body_of(&reply) else {
            panic!("buttons expected");
        };
        assert_eq!(buttons[0].id, "reminder.confirm:7");
    }
}
