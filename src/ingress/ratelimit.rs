//! Per-address throttling in fixed one-minute windows.
//!
//! Two budgets. Failed authentications (bad signature, wrong verify token) spend a small one
//! (`RATE_LIMIT_INVALID_PER_MINUTE`); once it is spent the address gets 429 *before* any signature work
//! until the window ends, so a flood of forgeries costs us almost nothing. Verified traffic is throttled
//! only when `RATE_LIMIT_PER_MINUTE` is set: Meta's bursts come from a few addresses.
//!
//! Counters live in Redis when configured (shared by every instance: `INCR` + `EXPIRE`), else in
//! process. Whether an address is blocked is answered from process memory, set when this instance sees
//! the shared counter cross the budget, so verified traffic pays no Redis round trip for it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use deadpool_redis::redis;

use crate::cache::Redis;
use crate::config::RateLimitConfig;

const WINDOW_SECS: u64 = 60;

/// The budget after this request, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
}

/// Refused: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: u64,
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Budget {
    Invalid,
    All,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Budget::Invalid => "invalid",
            Budget::All => "all",
        }
    }
}

pub struct RateLimiter {
    invalid_limit: u32,
    per_minute: Option<u32>,
    redis: Option<Redis>,
    /// (address, budget) -> (window, count); used without Redis, or when Redis fails.
    local: Mutex<HashMap<(IpAddr, Budget), (u64, u32)>>,
    /// address -> window in which its invalid budget is spent.
    blocked: Mutex<HashMap<IpAddr, u64>>,
}

fn window(now_unix: u64) -> (u64, u64) {
    (now_unix / WINDOW_SECS, WINDOW_SECS - now_unix % WINDOW_SECS)
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig, redis: Option<Redis>) -> Self {
        Self {
            invalid_limit: config.invalid_per_minute,
            per_minute: config.per_minute,
            redis,
            local: Mutex::new(HashMap::new()),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// 429 for an address whose failed-authentication budget is spent in this window.
    pub fn check_blocked(&self, ip: IpAddr, now_unix: u64) -> Result<(), Throttled> {
        let (current, retry_after_secs) = window(now_unix);
        let throttled = Throttled {
            retry_after_secs,
            limit: self.invalid_limit,
        };
        if self.invalid_limit == 0 {
            return Err(throttled);
        }
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&ip) {
            Some(w) if *w == current => Err(throttled),
            _ => Ok(()),
        }
    }

    /// Spends one unit of the failed-authentication budget.
    pub async fn note_invalid(&self, ip: IpAddr, now_unix: u64) -> Quota {
        let (current, _) = window(now_unix);
        let count = self.increment(Budget::Invalid, ip, current).await;
        if count >= self.invalid_limit {
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            blocked.retain(|_, w| *w == current);
            blocked.insert(ip, current);
        }
        Quota {
            limit: self.invalid_limit,
            remaining: self.invalid_limit.saturating_sub(count),
        }
    }

    /// The general per-address limit, when configured: `Ok(None)` when there is none.
    pub async fn check_request(
        &self,
        ip: IpAddr,
        now_unix: u64,
    ) -> Result<Option<Quota>, Throttled> {
        let Some(limit) = self.per_minute else {
            return Ok(None);
        };
        let (current, retry_after_secs) = window(now_unix);
        let count = self.increment(Budget::All, ip, current).await;
        if count > limit {
            return Err(Throttled {
                retry_after_secs,
                limit,
            });
        }
        Ok(Some(Quota {
            limit,
            remaining: limit - count,
        }))
    }

    async fn increment(&self, budget: Budget, ip: IpAddr, current: u64) -> u32 {
        if let Some(redis) = &self.redis {
            let key = redis.key(&format!("rl:{}:{ip}:{current}", budget.name()));
            let shared = redis
                .run("rate_limit", |mut conn| async move {
                    let (count,): (u32,) = redis::pipe()
                        .cmd("INCR")
                        .arg(&key)
                        .cmd("EXPIRE")
                        .arg(&key)
                        .arg(WINDOW_SECS * 2)
                        .ignore()
                        .query_async(&mut conn)
                        .await?;
                    Ok(count)
                })
                .await;
            if let Some(count) = shared {
                // Kept locally too, for the headers of this address's later answers.
                self.local_count(budget, ip, current, |c| *c = (*c).max(count));
                return count;
            }
        }
        self.local_count(budget, ip, current, |c| *c += 1)
    }

    /// Applies `change` to this window's local count of `(ip, budget)` and returns the new count.
    fn local_count(
        &self,
        budget: Budget,
        ip: IpAddr,
        current: u64,
        change: impl FnOnce(&mut u32),
    ) -> u32 {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() > 100_000 {
            local.retain(|_, (w, _)| *w == current);
        }
        let entry = local.entry((ip, budget)).or_insert((current, 0));
        if entry.0 != current {
            *entry = (current, 0);
        }
        change(&mut entry.1);
        entry.1
    }

    /// What is left of an address's failed-authentication budget in this window, as far as this
    /// instance knows (with Redis, other instances' failures are counted from this instance's last
    /// increment on).
    pub fn invalid_quota(&self, ip: IpAddr, now_unix: u64) -> Quota {
        let (current, _) = window(now_unix);
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let used = match local.get(&(ip, Budget::Invalid)) {
            Some((w, count)) if *w == current => *count,
            _ => 0,
        };
        Quota {
            limit: self.invalid_limit,
            remaining: self.invalid_limit.saturating_sub(used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(invalid: u32, all: Option<u32>) -> RateLimiter {
        RateLimiter::new(
            &RateLimitConfig {
                trusted_proxies: vec![],
                invalid_per_minute: invalid,
                per_minute: all,
            },
            None,
        )
    }

    #[tokio::test]
    async fn invalid_budget_blocks_until_the_window_ends() {
        let l = limiter(3, None);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t = 6_000_010; // 10 s into a window
        for expected in [2, 1, 0] {
            assert!(l.check_blocked(ip, t).is_ok());
            assert_eq!(l.note_invalid(ip, t).await.remaining, expected);
        }
        assert_eq!(
            l.check_blocked(ip, t + 5),
            Err(Throttled {
                retry_after_secs: 45,
                limit: 3
            })
        );
        assert_eq!(l.invalid_quota(ip, t).remaining, 0);
        assert_eq!(
            l.invalid_quota("203.0.113.10".parse().unwrap(), t)
                .remaining,
            3
        );
        // Other addresses are not affected; the next window starts afresh.
        assert!(l.check_blocked("203.0.113.10".parse().unwrap(), t).is_ok());
        assert!(l.check_blocked(ip, t + 50).is_ok());
    }

    #[tokio::test]
    async fn general_limit_applies_only_when_configured() {
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(limiter(30, None).check_request(ip, 0).await, Ok(None));
        let l = limiter(30, Some(2));
        assert_eq!(
            l.check_request(ip, 0).await,
            Ok(Some(Quota {
                limit: 2,
                remaining: 1
            }))
        );
        assert!(l.check_request(ip, 1).await.is_ok());
        assert_eq!(
            l.check_request(ip, 2).await.unwrap_err().retry_after_secs,
            58
        );
        assert!(l.check_request(ip, 60).await.is_ok());
    }
}
