//! One pipeline for `salonbot serve` and `salonbot chat`: everything an event meets after ingress,
//! built in one place, so that the simulator is the real path by construction.
//!
//! [`Setup::load`] reads and checks what the salon configured (its catalog, message templates and
//! conversation flow) and
//! stops start-up with one clear error when something is wrong; [`Pipeline::new`] puts together the
//! turn runner, the inbox handler and the dispatchers' parts over a store. The [`Senders`] are the
//! one difference between the two commands: the configured WhatsApp sender, Stripe and the generic
//! channel's reply URL for `serve`, the sandboxes of the first two for `chat`. A sender per
//! provider: the dispatcher hands each outbox row to its provider's (a further one, the staff
//! inbox, plugs in the same way: a field here, a `provider` of its rows, a branch in
//! `Dispatcher::run_once`).

use std::sync::Arc;

use tokio::sync::Notify;

use crate::booking::catalog::{self, Catalog};
use crate::chatwoot::ChatwootApi;
use crate::config::Config;
use crate::custom::CustomClient;
use crate::custom::client::ClientError;
use crate::engine::templates::Templates;
use crate::engine::{self, ConversationFlow, Flow};
use crate::store::Store;
use crate::stripe::StripeApi;
use crate::stripe::client::Sandbox;
use crate::telemetry::Metrics;
use crate::whatsapp::client::WhatsAppSender;
use crate::whatsapp::messages::limits;
use crate::worker::custom_replies::CustomSender;
use crate::worker::inbox::{InboxHandler, InboxWorker, WorkerOptions};
use crate::worker::outbox::{DispatchOptions, Dispatcher, SendingState};
use crate::worker::pacing::Pacer;
use crate::worker::payment_calls::PaymentSender;
use crate::worker::staff::{StaffSender, StaffSettings};
use crate::worker::turn::{TurnRunner, TurnSettings};
use crate::worker::window::Window;

/// What the salon configured for its conversations, loaded and checked.
#[derive(Debug, Clone)]
pub struct Setup {
    pub catalog: Arc<Catalog>,
    pub flow: Arc<Flow>,
    /// The message templates (`TEMPLATES_DIR`), read at start-up.
    pub templates: Arc<Templates>,
}

impl Setup {
    /// Reads the catalog (`SALON_CONFIG`), the message templates (`TEMPLATES_DIR`) and the
    /// conversation flow (`FLOWS_DIR`), checked as `salonbot flows check` does. A mistake stops
    /// start-up here, naming the file and line, not at a customer's booking.
    pub fn load(config: &Config) -> Result<Self, SetupError> {
        let catalog = catalog::load(&config.salon_config).map_err(|e| {
            SetupError(anyhow::anyhow!(
                "SALON_CONFIG ({}): {e}",
                config.salon_config.display()
            ))
        })?;
        let ConversationFlow { flow, templates } = engine::load_conversation_flow(
            &config.flows_dir,
            &config.templates_dir_for(&config.flows_dir),
            &limits::UI_LIMITS,
        )
        .map_err(SetupError)?;
        Ok(Self {
            catalog: Arc::new(catalog),
            flow: Arc::new(flow),
            templates: Arc::new(templates),
        })
    }
}

/// The salon's own files (catalog, flows, templates) are wrong: an operator must fix a file. Commands
/// exit with code 2 for it, as for an invalid environment.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct SetupError(pub(crate) anyhow::Error);

/// Who carries out the outbox's rows, one per provider.
#[derive(Debug, Clone)]
pub struct Senders {
    pub whatsapp: WhatsAppSender,
    /// Stripe, when deposits are taken; `None`: services with a deposit are booked without one.
    pub stripe: Option<StripeApi>,
    /// Where the simulated conversations' deposits go instead ([`crate::chat::is_simulated`]).
    pub stripe_sandbox: Sandbox,
    /// Chatwoot, the staff inbox, when configured.
    pub chatwoot: Option<ChatwootApi>,
    /// What the turns do for the staff inbox (agents' replies, the mirror, the idle time); `None`
    /// without one.
    pub staff: Option<StaffSettings>,
    /// The generic signed channel's reply URL, when the channel is on.
    pub custom: Option<CustomClient>,
}

impl Senders {
    /// The configured senders: WhatsApp live or sandbox, Stripe when `STRIPE_SECRET_KEY` is set, the
    /// generic channel when `CUSTOM_WEBHOOK_SECRET` is.
    pub fn from_config(config: &Config, metrics: &Metrics) -> Result<Self, ClientError> {
        Ok(Self {
            whatsapp: WhatsAppSender::from_config(&config.whatsapp, metrics.clone())?,
            stripe: StripeApi::from_config(&config.stripe, metrics.clone())?,
            stripe_sandbox: Sandbox::default(),
            chatwoot: ChatwootApi::from_config(&config.chatwoot, metrics.clone())?,
            staff: StaffSettings::from_config(&config.chatwoot),
            custom: CustomClient::from_config(&config.custom, metrics.clone())?,
        })
    }
}

/// The path of an event after ingress: inbox handler (with the turn runner) and dispatchers.
pub struct Pipeline {
    store: Store,
    metrics: Metrics,
    handler: Arc<InboxHandler>,
    sender: WhatsAppSender,
    payments: PaymentSender,
    staff: StaffSender,
    custom: CustomSender,
    sending: Arc<SendingState>,
    /// Woken by a turn that wrote replies, so a dispatcher sends them at once.
    outbox_wake: Arc<Notify>,
    dispatch: DispatchOptions,
    pacer: Arc<Pacer>,
}

impl Pipeline {
    pub fn new(
        setup: &Setup,
        config: &Config,
        store: Store,
        senders: Senders,
        metrics: Metrics,
    ) -> Self {
        let reengagement = config.whatsapp.reengagement.clone();
        let outbox_wake = Arc::new(Notify::new());
        let turns = TurnRunner::new(
            store.clone(),
            setup.flow.clone(),
            setup.templates.clone(),
            setup.catalog.clone(),
            TurnSettings::from_config(
                config,
                &setup.catalog,
                senders.stripe.is_some(),
                senders.staff,
            ),
            metrics.clone(),
        )
        .with_outbox_wake(outbox_wake.clone());
        let window = Window::new(store.clone(), reengagement.clone());
        let handler = InboxHandler::new(store.clone(), window, Arc::new(turns), metrics.clone());
        Self {
            payments: PaymentSender::new(store.clone(), senders.stripe, senders.stripe_sandbox),
            staff: StaffSender::new(store.clone(), senders.chatwoot),
            custom: CustomSender::new(store.clone(), senders.custom, metrics.clone()),
            store,
            metrics,
            handler: Arc::new(handler),
            sender: senders.whatsapp,
            sending: Arc::new(SendingState::default()),
            outbox_wake,
            dispatch: DispatchOptions {
                reengagement,
                max_attempts: config.outbox_retry.max_attempts,
                base_retry_delay: config.outbox_retry.base_delay,
                max_retry_delay: config.outbox_retry.max_delay,
                ..DispatchOptions::default()
            },
            pacer: Arc::new(Pacer::off()),
        }
    }

    /// Paces the dispatchers' sends (per business number and per customer).
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// An inbox worker over the shared handler, woken by `wake` (new events committed).
    pub fn inbox_worker(
        &self,
        wake: Arc<Notify>,
        options: WorkerOptions,
    ) -> InboxWorker<InboxHandler> {
        InboxWorker::shared(self.store.clone(), self.handler.clone(), wake, options)
            .with_metrics(self.metrics.clone())
    }

    /// A dispatcher with the pipeline's sender, sending state and pacing.
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(
            self.store.clone(),
            self.sender.clone(),
            self.sending.clone(),
            self.outbox_wake.clone(),
            self.dispatch.clone(),
        )
        .with_pacer(self.pacer.clone())
        .with_payments(self.payments.clone())
        .with_staff(self.staff.clone())
        .with_custom(self.custom.clone())
    }

    /// Whether sending is paused, and why (for readiness).
    pub fn sending(&self) -> Arc<SendingState> {
        self.sending.clone()
    }
}
