//! When a failed event or message is tried again: one rule for the inbox and the outbox.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Exponential backoff: `base * 2^(attempt-1)`, capped at `max`, plus up to `jitter` of itself at
/// random (so that many failures of one moment do not all come back at once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    /// A share of the delay, 0 to 1.
    pub jitter: f64,
}

impl RetryPolicy {
    /// The delay before the retry that follows attempt `attempt` (1-based).
    pub fn delay(&self, attempt: i32) -> Duration {
        let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max);
        if self.jitter > 0.0 {
            delay + delay.mul_f64(random_fraction() * self.jitter)
        } else {
            delay
        }
    }

    /// The time of that retry, counted from `now`.
    pub fn next(&self, attempt: i32, now: DateTime<Utc>) -> DateTime<Utc> {
        after(now, self.delay(attempt))
    }
}

/// `now` plus `wait` (an hour when `wait` does not fit).
pub fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

/// A number in [0, 1) that is different each call; good enough for jitter.
fn random_fraction() -> f64 {
    f64::from(uuid::Uuid::new_v4().as_u128() as u32) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_jitter_delays_double_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            jitter: 0.0,
        };
        assert_eq!(policy.delay(1), Duration::from_secs(1));
        assert_eq!(policy.delay(2), Duration::from_secs(2));
        assert_eq!(policy.delay(4), Duration::from_secs(8));
        assert_eq!(policy.delay(30), Duration::from_secs(300));
    }

    #[test]
    fn jitter_adds_at_most_its_share() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(600),
            jitter: 0.25,
        };
        for (attempt, base) in [(1, 2), (2, 4), (3, 8), (20, 600)] {
            let d = policy.delay(attempt);
            let base = Duration::from_secs(base);
            assert!(d >= base && d <= base.mul_f64(1.25), "{attempt}: {d:?}");
        }
    }
}
