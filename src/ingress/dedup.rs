//! The fast path for "seen already": skips the database for deliveries we know are duplicates.
//!
//! Only an optimisation. The database's unique key decides what is new; a key is remembered here only
//! after its event is committed, so a crash between commit and remember at worst costs one database
//! round trip on the retry, and never an event. With Redis configured the memory is shared by all
//! instances (`SET NX EX`); without, it is an in-process cache. A Redis failure makes this say "not
//! seen", and the database dedups alone.

use std::time::Duration;

use deadpool_redis::redis;
use moka::sync::Cache;

use crate::cache::Redis;
use crate::store::Provider;

#[derive(Clone)]
pub enum SeenCache {
    Local(Cache<(Provider, String), ()>),
    Redis { redis: Redis, ttl: Duration },
}

impl SeenCache {
    pub fn local(ttl: Duration) -> Self {
        SeenCache::Local(
            Cache::builder()
                .max_capacity(200_000)
                .time_to_live(ttl)
                .build(),
        )
    }

    pub fn redis(redis: Redis, ttl: Duration) -> Self {
        SeenCache::Redis { redis, ttl }
    }

    fn key(redis: &Redis, provider: Provider, id: &str) -> String {
        redis.key(&format!("seen:{}:{id}", provider.as_str()))
    }

    /// True when every id is known to be stored already.
    pub async fn all_seen(&self, provider: Provider, ids: &[&str]) -> bool {
        if ids.is_empty() {
            return false;
        }
        match self {
            SeenCache::Local(cache) => ids
                .iter()
                .all(|id| cache.contains_key(&(provider, (*id).to_owned()))),
            SeenCache::Redis { redis, .. } => {
                let keys: Vec<String> = ids
                    .iter()
                    .map(|id| Self::key(redis, provider, id))
                    .collect();
                let count = keys.len();
                let found = redis
                    .run("dedup_check", |mut conn| async move {
                        redis::cmd("EXISTS")
                            .arg(&keys)
                            .query_async::<usize>(&mut conn)
                            .await
                    })
                    .await;
                found == Some(count)
            }
        }
    }

    /// Remembers ids whose events are committed.
    pub async fn remember(&self, provider: Provider, ids: &[&str]) {
        if ids.is_empty() {
            return;
        }
        match self {
            SeenCache::Local(cache) => {
                for id in ids {
                    cache.insert((provider, (*id).to_owned()), ());
                }
            }
            SeenCache::Redis { redis, ttl } => {
                let mut pipe = redis::pipe();
                for id in ids {
                    pipe.cmd("SET")
                        .arg(Self::key(redis, provider, id))
                        .arg(1)
                        .arg("NX")
                        .arg("EX")
                        .arg(ttl.as_secs().max(1))
                        .ignore();
                }
                redis
                    .run("dedup_remember", |mut conn| async move {
                        pipe.query_async::<()>(&mut conn).await
                    })
                    .await;
            }
        }
    }
}
