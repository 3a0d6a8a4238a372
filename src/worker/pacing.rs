//! Send pacing: how fast messages may leave, per business number and per customer.
//!
//! - **Per number**: Meta lets a business number send about 80 messages a second by default
//!   (`WHATSAPP_SEND_PER_SECOND`); the budget is counted in one-second windows, in Redis when it is
//!   configured so that every instance shares it, else in process. A send that finds the budget spent
//!   waits for the next second.
//! - **Per customer**: several messages of one turn leave a moment apart (`WHATSAPP_RECIPIENT_GAP_MS`)
//!   rather than all at once, so they arrive in order and read like a person typing; and no more than
//!   Meta's pair rate limit allows (bursts of 45, one per 6 s on average), counted per customer in
//!   windows of 45 × 6 s. A message that comes too soon is put back until its turn. Should Meta still
//!   answer 131056, the dispatcher's 4^n-second waits apply on top.
//!
//! Redis trouble never stops sending: the pacer falls back to its own counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deadpool_redis::redis;

use crate::cache::Redis;

pub struct Pacer {
    per_second: u32,
    gap: Duration,
    number: String,
    redis: Option<Redis>,
    local: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    second: u64,
    count: u32,
    last_send: HashMap<String, Instant>,
    /// recipient -> (pair window, messages in it)
    pair: HashMap<String, (u64, u32)>,
}

/// Meta's pair rate limit: about one message per 6 s to one customer on average, in bursts of up to 45.
/// Counted here as at most `PAIR_BURST` messages per window of `PAIR_BURST` × 6 s.
pub const PAIR_BURST: u32 = 45;
const PAIR_WINDOW_SECS: u64 = 45 * 6;

impl Pacer {
    /// `per_second` 0 and `gap` zero turn either limit off.
    pub fn new(number: &str, per_second: u32, gap: Duration, redis: Option<Redis>) -> Self {
        Self {
            per_second,
            gap,
            number: number.to_owned(),
            redis,
            local: Mutex::new(Local::default()),
        }
    }

    /// No pacing at all.
    pub fn off() -> Self {
        Self::new("", 0, Duration::ZERO, None)
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the business number may send one more message this second.
    pub async fn acquire(&self) {
        if self.per_second == 0 {
            return;
        }
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let second = now.as_secs();
            let count = match self.shared_count(second).await {
                Some(count) => count,
                None => {
                    let mut local = self.local();
                    if local.second != second {
                        local.second = second;
                        local.count = 0;
                    }
                    local.count += 1;
                    local.count
                }
            };
            if count <= self.per_second {
                return;
            }
            let to_next = Duration::from_secs(1)
                .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos())));
            tokio::time::sleep(to_next + Duration::from_millis(1)).await;
        }
    }

    async fn shared_count(&self, second: u64) -> Option<u32> {
        let redis = self.redis.as_ref()?;
        let key = redis.key(&format!("pace:number:{}:{second}", self.number));
        redis
            .run("pace_number", |mut conn| async move {
                let (count,): (u32,) = redis::pipe()
                    .cmd("INCR")
                    .arg(&key)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(5)
                    .ignore()
                    .query_async(&mut conn)
                    .await?;
                Ok(count)
            })
            .await
    }

    /// Whether a message may go to `recipient` now (and if so, books the slot); else how long to wait.
    /// Checks the gap between one customer's messages first (a message that must wait for it spends
    /// nothing of the pair budget), then Meta's pair rate limit budget.
    pub async fn recipient_ready(&self, recipient: &str) -> Result<(), Duration> {
        self.gap_ready(recipient).await?;
        if self.per_second > 0 {
            self.pair_budget(recipient).await?;
        }
        Ok(())
    }

    /// At most `PAIR_BURST` messages to one customer per `PAIR_WINDOW_SECS`, shared through Redis.
    async fn pair_budget(&self, recipient: &str) -> Result<(), Duration> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let window = now / PAIR_WINDOW_SECS;
        let wait = Duration::from_secs(PAIR_WINDOW_SECS - now % PAIR_WINDOW_SECS);
        let shared = match &self.redis {
            Some(redis) => {
                let key = redis.key(&format!("pace:pair:{recipient}:{window}"));
                redis
                    .run("pace_pair", |mut conn| async move {
                        let (count,): (u32,) = redis::pipe()
                            .cmd("INCR")
                            .arg(&key)
                            .cmd("EXPIRE")
                            .arg(&key)
                            .arg(PAIR_WINDOW_SECS * 2)
                            .ignore()
                            .query_async(&mut conn)
                            .await?;
                        Ok(count)
                    })
                    .await
            }
            None => None,
        };
        let count = shared.unwrap_or_else(|| {
            let mut local = self.local();
            if local.pair.len() > 100_000 {
                local.pair.retain(|_, (w, _)| *w == window);
            }
            let entry = local
                .pair
                .entry(recipient.to_owned())
                .or_insert((window, 0));
            if entry.0 != window {
                *entry = (window, 0);
            }
            entry.1 += 1;
            entry.1
        });
        if count > PAIR_BURST {
            Err(wait)
        } else {
            Ok(())
        }
    }

    async fn gap_ready(&self, recipient: &str) -> Result<(), Duration> {
        if self.gap.is_zero() {
            return Ok(());
        }
        if let Some(redis) = &self.redis {
            let key = redis.key(&format!("pace:recipient:{recipient}"));
            let gap_ms = u64::try_from(self.gap.as_millis()).unwrap_or(u64::MAX);
            let booked = redis
                .run("pace_recipient", |mut conn| async move {
                    let set: Option<String> = redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(gap_ms)
                        .query_async(&mut conn)
                        .await?;
                    if set.is_some() {
                        return Ok(None);
                    }
                    let left: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
                    Ok(Some(Duration::from_millis(
                        u64::try_from(left).unwrap_or(0).max(1),
                    )))
                })
                .await;
            if let Some(wait) = booked {
                return wait.map_or(Ok(()), Err);
            }
        }
        let mut local = self.local();
        let now = Instant::now();
        if local.last_send.len() > 100_000 {
            let gap = self.gap;
            local
                .last_send
                .retain(|_, at| now.duration_since(*at) < gap);
        }
        match local.last_send.get(recipient) {
            Some(at) if now.duration_since(*at) < self.gap => {
                Err(self.gap - now.duration_since(*at))
            }
            _ => {
                local.last_send.insert(recipient.to_owned(), now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_customers_messages_are_spaced_by_the_gap() {
        let pacer = Pacer::new("n", 0, Duration::from_millis(200), None);
        assert_eq!(pacer.recipient_ready("+34600000001").await, Ok(()));
        let wait = pacer.recipient_ready("+34600000001").await.unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert_eq!(
            pacer.recipient_ready("+34600000002").await,
            Ok(()),
            "others unaffected"
        );
        tokio::time::sleep(Duration::from_millis(210)).await;
        assert_eq!(pacer.recipient_ready("+34600000001").await, Ok(()));
    }

    #[tokio::test]
    async fn a_customer_gets_at_most_a_burst_of_45_per_pair_window() {
        let pacer = Pacer::new("n", 80, Duration::ZERO, None);
        for _ in 0..PAIR_BURST {
            assert_eq!(pacer.recipient_ready("+34600000009").await, Ok(()));
        }
        let wait = pacer.recipient_ready("+34600000009").await.unwrap_err();
        assert!(wait <= Duration::from_secs(PAIR_WINDOW_SECS) && wait > Duration::ZERO);
        assert_eq!(
            pacer.recipient_ready("+34600000010").await,
            Ok(()),
            "per customer"
        );
    }

    #[tokio::test]
    async fn the_number_budget_holds_within_a_second() {
        let pacer = Pacer::new("n", 5, Duration::ZERO, None);
        let started = Instant::now();
        for _ in 0..11 {
            pacer.acquire().await;
        }
        // 11 sends at 5 a second need at least two second boundaries.
        assert!(
            started.elapsed() >= Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
    }
}
