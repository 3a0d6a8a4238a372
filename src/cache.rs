//! The optional Redis: dedup fast path, shared rate limits, (later) wake-ups across instances.
//!
//! Redis is never the authority for anything, so it must never fail or slow a webhook. Every call has
//! a short timeout; a failure is counted (`salonbot_redis_errors_total`), logged, and opens a breaker that
//! skips Redis for a moment, so a Redis that hangs costs one timeout per second, not one per request.
//!
//! All calls share one multiplexed connection (redis' `ConnectionManager`, which reconnects by itself):
//! the many small commands of concurrent webhooks are pipelined on one socket instead of each taking a
//! pooled connection, which on a busy 2-core machine is the difference between Redis costing a third of
//! the throughput and costing little.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use deadpool_redis::redis::{Client, RedisError};

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
    connection: ConnectionManager,
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
    /// Prepares the connection; none is made until the first call.
    pub fn new(url: &Secret, prefix: &str, metrics: Metrics) -> Result<Self, RedisConfigError> {
        let client = Client::open(url.expose()).map_err(|e| RedisConfigError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisConfigError(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                connection,
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
        let mut conn = self.inner.connection.clone();
        let attempt = async {
            deadpool_redis::redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        };
        matches!(tokio::time::timeout(OP_TIMEOUT, attempt).await, Ok(Some(_)))
    }

    /// Runs `f` on the shared connection within the timeout. `None` when Redis is skipped or failed: the
    /// caller carries on without it.
    pub async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if self.now_ms() < self.inner.open_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let attempt = f(self.inner.connection.clone());
        let error = match tokio::time::timeout(OP_TIMEOUT, attempt).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => e.to_string(),
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
