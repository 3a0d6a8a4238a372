//! The periodic background loops: due timers fired into the inbox, run-out holds expired, and the
//! metrics kept fresh. Each runs until `shutdown` turns true.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::store::Store;
use crate::telemetry::Metrics;

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

/// Every 5 seconds, folds the histograms' samples and refreshes the outbox gauge.
pub async fn keep_metrics(store: Store, metrics: Metrics, shutdown: watch::Receiver<bool>) {
    every(Duration::from_secs(5), shutdown, || async {
        metrics.upkeep();
        if let Ok(pending) = store.count_outbox_pending().await {
            metrics.outbox_pending(pending);
        }
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
