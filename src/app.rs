//! The application: shared state, the router, and the background tasks, started and stopped together.
//!
//! `App::build` connects storage (and migrates it), starts the writers and workers; `App::serve` serves
//! HTTP until the shutdown future resolves, then stops accepting, lets in-flight requests finish, stops
//! the workers and flushes the audit trail.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::booking::catalog::Catalog;
use crate::cache::Redis;
use crate::config::Config;
use crate::ingress::audit::{self, AuditSink};
use crate::ingress::dedup::SeenCache;
use crate::ingress::ratelimit::RateLimiter;
use crate::store::writer::{InboxWriter, WriterOptions};
use crate::store::{Store, StoreOptions};
use crate::stripe::client::Sandbox;
use crate::telemetry::Metrics;
use crate::worker::housekeeping;
use crate::worker::inbox::WorkerOptions;
use crate::worker::outbox::SendingState;
use crate::worker::pacing::Pacer;
use crate::worker::pipeline::{Pipeline, Senders, Setup};
use crate::{admin, health, ingress};

/// Everything a handler may need; cheap to clone. Handlers destructure what they use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Group-commit writer of inbound events.
    pub inbox: InboxWriter,
    pub seen: SeenCache,
    pub limiter: Arc<RateLimiter>,
    /// `None` when `REDIS_URL` is unset.
    pub redis: Option<Redis>,
    pub audit: AuditSink,
    pub metrics: Metrics,
    /// The salon's catalog (`SALON_CONFIG`), validated at start-up.
    pub catalog: Arc<Catalog>,
    /// Whether WhatsApp sending is paused (token or account problem), for readiness.
    pub sending: Arc<SendingState>,
    /// The Stripe stand-in the simulated conversations' deposits go to (the simulator's "pay").
    pub stripe_sandbox: Sandbox,
    pub started: Instant,
}

/// Inbox workers per process: two, so a batch waiting on its slowest turn does not hold the next
/// events back; more only split the same events into smaller batches, each with its own claim and
/// commit (measured in docs/benchmarks.md).
const INBOX_WORKERS: usize = 2;
/// Outbox dispatchers per process.
const DISPATCHERS: usize = 2;

pub struct App {
    state: AppState,
    shutdown: watch::Sender<bool>,
    worker: JoinHandle<()>,
    dispatcher: JoinHandle<()>,
    audit_writer: JoinHandle<()>,
    housekeeping: Vec<JoinHandle<()>>,
}

impl App {
    /// Connects and migrates storage, and starts the background tasks.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // A catalog or flow mistake stops start-up before anything is connected.
        let setup = Setup::load(&config)?;
        let metrics = Metrics::new();
        let store_options = StoreOptions {
            // Leave the webhook time to answer 503 itself when the pool cannot give a connection.
            acquire_timeout: config.store_timeout,
            ..StoreOptions::default()
        };
        let store = Store::connect(&config.database_url, &store_options).await?;
        store.migrate().await?;

        let redis = match &config.redis_url {
            Some(url) => Some(Redis::new(url, &config.redis_prefix, metrics.clone())?),
            None => None,
        };
        let seen = match &redis {
            Some(r) => SeenCache::redis(r.clone(), config.dedup_ttl),
            None => SeenCache::local(config.dedup_ttl),
        };
        let limiter = Arc::new(RateLimiter::new(&config.rate_limit, redis.clone()));

        let committed = Arc::new(Notify::new());
        let inbox = InboxWriter::spawn(store.clone(), WriterOptions::default(), committed.clone());
        let (audit, audit_writer) = AuditSink::spawn(store.clone(), metrics.clone());

        let senders = Senders::from_config(&config, &metrics)?;
        let stripe_sandbox = senders.stripe_sandbox.clone();
        let pacer = Arc::new(Pacer::new(
            config
                .whatsapp
                .phone_number_id
                .as_deref()
                .unwrap_or("sandbox"),
            config.whatsapp.send_per_second,
            config.whatsapp.recipient_gap,
            redis.clone(),
        ));
        let pipeline = Pipeline::new(&setup, &config, store.clone(), senders, metrics.clone())
            .with_pacer(pacer);
        let (shutdown, shutdown_rx) = watch::channel(false);
        // Workers claim batches side by side (INBOX_WORKERS).
        let workers: Vec<_> = (0..INBOX_WORKERS)
            .map(|_| {
                let options = WorkerOptions {
                    batch: 64,
                    ..WorkerOptions::default()
                };
                pipeline
                    .inbox_worker(committed.clone(), options)
                    .run(shutdown_rx.clone())
            })
            .collect();
        let worker = tokio::spawn(async move {
            futures_util::future::join_all(workers).await;
        });
        // Two dispatchers side by side: while one waits on a batch's slowest call to Meta, the other
        // sends. Each recipient's messages still leave one at a time, in order (the claim rule).
        let dispatchers: Vec<_> = (0..DISPATCHERS)
            .map(|_| pipeline.dispatcher().run(shutdown_rx.clone()))
            .collect();
        let dispatcher = tokio::spawn(async move {
            futures_util::future::join_all(dispatchers).await;
        });
        let housekeeping = vec![
            tokio::spawn(housekeeping::fire_timers(
                store.clone(),
                committed,
                shutdown_rx.clone(),
            )),
            tokio::spawn(housekeeping::sweep_holds(
                store.clone(),
                shutdown_rx.clone(),
            )),
            tokio::spawn(housekeeping::keep_metrics(
                housekeeping::Watched {
                    store: store.clone(),
                    metrics: metrics.clone(),
                    sending: pipeline.sending(),
                    catalog: setup.catalog.clone(),
                    redis: redis.clone(),
                },
                shutdown_rx.clone(),
            )),
            tokio::spawn(housekeeping::prune_queues(
                store.clone(),
                config.queue_retention_days,
                shutdown_rx,
            )),
            audit::spawn_pruner(store.clone(), config.audit_retention_days),
        ];

        Ok(Self {
            state: AppState {
                config: Arc::new(config),
                store,
                inbox,
                seen,
                limiter,
                redis,
                audit,
                metrics,
                catalog: setup.catalog,
                sending: pipeline.sending(),
                stripe_sandbox,
                started: Instant::now(),
            },
            shutdown,
            worker,
            dispatcher,
            audit_writer,
            housekeeping,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops everything in order.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            state,
            shutdown: stop_workers,
            worker,
            dispatcher,
            audit_writer,
            housekeeping,
        } = self;
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;

        // Requests are finished; every handle to the audit sink is gone with the router.
        let _ = stop_workers.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), worker).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), dispatcher).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), audit_writer).await;
        for task in housekeeping {
            task.abort();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// All routes, with request ids, tracing and per-route metrics.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .merge(ingress::routes())
        .merge(health::routes())
        .merge(admin::routes(state.clone()))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            })
            // The service's only 5xx are its 503s: a webhook refused (logged with its reason as
            // "webhook refused", a storage failure also where it happened) and `/health/ready` while
            // not ready, which an orchestrator asks again and again. Neither is worth an error line
            // per request here; the counts are in `salonbot_http_requests_total{status}`.
            .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    state
        .metrics
        .http_request(&route, response.status().as_u16());
    response
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
}
