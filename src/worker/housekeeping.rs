//! The periodic background loops: due timers fired into the inbox, run-out holds expired, and the
//! metrics (the gauges the shipped alert rules read) kept fresh. Each runs until `shutdown` turns true.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::booking::catalog::Catalog;
use crate::cache::Redis;
use crate::store::{Pruned, Store, StoreError};
use crate::telemetry::Metrics;
use crate::worker::outbox::SendingState;

/// Timers fired per round at most.
const TIMERS_PER_ROUND: u32 = 500;

/// Every second, turns due timers into inbox events of their conversation (once, whichever instance
/// fires them) and wakes the inbox workers through `wake` when any fired.
pub async fn fire_timers(store: Store, wake: Arc<Notify>, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(1), shutdown, || async {
        match store
            .fire_due_timers(chrono::Utc::now(), TIMERS_PER_ROUND)
            .await
        {
            Ok(0) => {}
            Ok(_) => wake.notify_one(),
            Err(err) => tracing::warn!(error = %err, "timers could not fire"),
        }
    })
    .await;
}

/// Every 30 seconds, expires the holds that ran out, freeing their slots (booking re-checks
/// anyway; this keeps the appointments' statuses true).
pub async fn sweep_holds(store: Store, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(30), shutdown, || async {
        match store.expire_holds(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired appointment holds"),
            Err(err) => tracing::warn!(error = %err, "hold sweeper failed"),
        }
    })
    .await;
}

/// Rows a retention round looks at.
const PRUNE_WINDOW: u32 = 500;
/// The shortest pause between two rounds.
const PRUNE_PAUSE: Duration = Duration::from_millis(200);
/// The pause after a round is this many times the round's own time (within `PRUNE_PAUSE` and
/// `PRUNE_PAUSE_MAX`): the job keeps the database busy a tenth of the time at most, and slows down
/// by itself when the database is slow.
const PRUNE_YIELD: u32 = 9;
/// The longest pause (so a stop is never held up for long).
const PRUNE_PAUSE_MAX: Duration = Duration::from_secs(2);

/// Every hour, removes done inbox events and settled outbox messages older than `retention_days`
/// (`QUEUE_RETENTION_DAYS`), in small rounds with pauses between them, so that the tables (and
/// their indexes, which every claim and commit touches) stop growing for ever.
pub async fn prune_queues(store: Store, retention_days: u32, shutdown: watch::Receiver<bool>) {
    let stop = shutdown.clone();
    every(Duration::from_secs(3600), shutdown, || async {
        let before = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
        let inbox = prune_rounds("inbox", &stop, |after| {
            store.prune_inbox(after, PRUNE_WINDOW, before)
        })
        .await;
        let outbox = prune_rounds("outbox", &stop, |after| {
            store.prune_outbox(after, PRUNE_WINDOW, before)
        })
        .await;
        if inbox + outbox > 0 {
            tracing::info!(inbox, outbox, days = retention_days, "queues pruned");
        }
    })
    .await;
}

/// Runs retention rounds over one table from its first id until a round says it is done, an error
/// (logged; the next hour tries again) or `stop`; the rows removed.
async fn prune_rounds<F, Fut>(table: &str, stop: &watch::Receiver<bool>, mut round: F) -> u64
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Pruned, StoreError>>,
{
    let mut removed = 0;
    let mut cursor = Some(0);
    while let Some(after) = cursor.filter(|_| !*stop.borrow()) {
        let started = std::time::Instant::now();
        match round(after).await {
            Ok(done) => (removed, cursor) = (removed + done.removed, done.next),
            Err(err) => {
                tracing::warn!(error = %err, table, "retention failed");
                break;
            }
        }
        let pause = (started.elapsed() * PRUNE_YIELD).clamp(PRUNE_PAUSE, PRUNE_PAUSE_MAX);
        tokio::time::sleep(pause).await;
    }
    removed
}

/// What the metrics loop looks at.
pub struct Watched {
    pub store: Store,
    pub metrics: Metrics,
    pub sending: Arc<SendingState>,
    pub catalog: Arc<Catalog>,
    pub redis: Option<Redis>,
}

/// Every 5 seconds, folds the histograms' samples and refreshes the gauges the alerts read: the
/// queues' backlog, whether sending is paused, whether the database and Redis answer, and whether the
/// salon is open (so that "no webhooks for a while" alerts only in opening hours).
pub async fn keep_metrics(watched: Watched, shutdown: watch::Receiver<bool>) {
    let Watched {
        store,
        metrics,
        sending,
        catalog,
        redis,
    } = watched;
    every(Duration::from_secs(5), shutdown, || async {
        metrics.upkeep();
        let now = chrono::Utc::now();
        let database = match store.count_outbox_pending().await {
            Ok(pending) => {
                metrics.outbox_pending(pending);
                true
            }
            Err(_) => false,
        };
        if let Ok(backlog) = store.backlog().await {
            let age = |since: Option<chrono::DateTime<chrono::Utc>>| {
                since
                    .and_then(|at| (now - at).to_std().ok())
                    .unwrap_or_default()
            };
            metrics.backlog(
                backlog.inbox_open,
                age(backlog.inbox_oldest),
                age(backlog.outbox_oldest),
            );
        }
        let redis_up = match &redis {
            Some(redis) => Some(redis.ping().await),
            None => None,
        };
        metrics.storage_up(database, redis_up);
        metrics.sending_paused(sending.paused().is_some());
        let salon = catalog.salon();
        let local = now.with_timezone(&salon.time_zone).naive_local();
        metrics.salon_open(salon.hours.contains(local));
    })
    .await;
}

/// Runs `round` at once and then every `period`, until `shutdown` turns true.
async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticks.tick() => round().await,
            // A dropped sender stops the loop too.
            changed = shutdown.changed() => if changed.is_err() { return },
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
