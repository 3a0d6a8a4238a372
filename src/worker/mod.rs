//! Background work off the request path: the inbox consumer, conversation turns, and the outbox
//! dispatcher with its pacing.

pub mod inbox;
pub mod outbox;
pub mod pacing;
pub mod turn;

use tokio::sync::watch;
use tokio::time::Instant;

/// Waits until `until` (or shutdown) before a worker's next claim: after a part-full batch, the inbox
/// workers and outbox dispatchers let the next batch gather instead of claiming as fast as the CPU
/// allows (`gather` in their options).
pub(crate) async fn gather(until: Instant, shutdown: &mut watch::Receiver<bool>) {
    if until > Instant::now() {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = shutdown.changed() => {}
        }
    }
}
