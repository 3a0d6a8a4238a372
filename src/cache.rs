//! The optional Redis: dedup fast path, shared rate limits, (later) wake-ups across instances.
//!
//! Redis is never the authority for anything, so it must never fail or slow a webhook. Every call has
//! a short timeout; a failure is counted (`salonbot_redis_errors_total`), logged, and opens a breaker that
//! skips Redis for a moment, so a Redis that hangs costs one timeout per second, not one per request.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::RedisError;
use deadpool_redis::{Config as PoolConfig, Connection, Pool, Runtime};

use crate::config::Secret;
use crate::telemetry::Metrics;

/// Longest a Redis call may take on a request path.
const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is skipped after a failure.
const BREAKER_OPEN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    prefix: String,
    started: Instant,
    /// Milliseconds since `started` until which calls are skipped.
    open_until_ms: AtomicU64,
    metrics: Metrics,
}

#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL: {0}")]
pub struct RedisConfigError(String);

impl Redis {
    /// Builds the pool; no connection is made until the first call.
    pub fn new(url: &Secret, prefix: &str, metrics: Metrics) -> Result<Self, RedisConfigError> {
        let pool = PoolConfig::from_url(url.expose())
            .builder()
            .map_err(|e| RedisConfigError(e.to_string()))?
            .max_size(32)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| RedisConfigError(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                prefix: prefix.to_owned(),
                started: Instant::now(),
                open_until_ms: AtomicU64::new(0),
                metrics,
            }),
        })
    }

    /// The full key for `suffix`, under this deployment's prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.inner.prefix, suffix)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether Redis answers a PING now (breaker ignored): for `/health`.
    pub async fn ping(&self) -> bool {
        let attempt = async {
            let mut conn = self.inner.pool.get().await.ok()?;
            deadpool_redis::redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        };
        matches!(tokio::time::timeout(OP_TIMEOUT, attempt).await, Ok(Some(_)))
    }

    /// Runs `f` on a pooled connection within the timeout. `None` when Redis is skipped or failed: the
    /// caller carries on without it.
    pub async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Option<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if self.now_ms() < self.inner.open_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let attempt = async {
            let conn = self.inner.pool.get().await.map_err(|e| e.to_string())?;
            f(conn).await.map_err(|e| e.to_string())
        };
        let error = match tokio::time::timeout(OP_TIMEOUT, attempt).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => e,
            Err(_) => "timed out".to_owned(),
        };
        self.inner.metrics.redis_error(op);
        let until = self.now_ms() + u64::try_from(BREAKER_OPEN.as_millis()).unwrap_or(1000);
        let previous = self.inner.open_until_ms.swap(until, Ordering::Relaxed);
        if previous < self.now_ms() {
            tracing::warn!(op, error = %error, "redis unavailable; carrying on without it");
        }
        None
    }
}
