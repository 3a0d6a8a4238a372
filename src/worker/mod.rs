//! Background work off the request path, put together by [`pipeline`] for `serve` and `chat` alike:
//! the inbox consumer and its handler ([`inbox`]), conversation turns ([`turn`], with the translation
//! of an inbox event into the engine's input in [`input`] and the optional language model's reading
//! of free text in [`reading`]), the outbox dispatcher ([`outbox`]) with its pacing ([`pacing`]),
//! WhatsApp's 24-hour window ([`window`]), deposits ([`payments`]: Stripe's events led to their
//! conversation; [`reconcile`]: Stripe asked about every open session), when failures are tried
//! again ([`retry`]), why they failed ([`error`]), and the periodic loops ([`housekeeping`]).

pub mod custom_replies;
pub mod error;
pub mod housekeeping;
pub mod inbox;
pub mod input;
pub mod outbox;
pub mod pacing;
pub mod payment_calls;
pub mod payments;
pub mod pipeline;
pub mod reading;
pub mod reconcile;
pub mod retry;
pub mod staff;
pub mod turn;
pub mod window;

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
