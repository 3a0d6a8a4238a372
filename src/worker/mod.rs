//! Background work off the request path: the inbox consumer, conversation turns (with the
//! translation of an inbox event into the engine's input), and the outbox dispatcher with its pacing.

pub mod inbox;
pub mod input;
pub mod outbox;
pub mod pacing;
pub mod turn;

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// After a batch of `claimed` rows out of a possible `batch`, claimed at `started`: a part-full batch
/// means the queue is nearly drained, so the worker waits until `gather` after that claim (or
/// shutdown) and lets the next batch gather, instead of claiming as fast as the CPU allows. A full
/// batch is followed at once. Shared by the inbox workers and the outbox dispatchers (`gather` in
/// their options).
pub(crate) async fn gather(
    claimed: usize,
    batch: u32,
    started: Instant,
    gather: Duration,
    shutdown: &mut watch::Receiver<bool>,
) {
    let until = started + gather;
    if claimed < batch as usize && until > Instant::now() {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = shutdown.changed() => {}
        }
    }
}
