//! [`RedisStore`]: cache entries on Redis, shared by every gateway that uses it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::AsyncCommands;

use super::{CacheError, CacheStore};
use crate::redis_conn::LazyRedis;

/// Cache entries on Redis (feature `redis`), so several gateways share them: one answers from
/// what another cached. Keys are `<prefix><key>` (prefix `cache:` unless set), values the
/// JSON, expiring on their own (`PX`). Nest's `CacheModule.register({ stores: [new
/// KeyvRedis(..)] })`. The connection is made at the first use and remade after a failure;
/// every command is bounded in time, so a Redis that is down costs a request a second at most
/// and [`CacheInterceptor`](super::CacheInterceptor) lets the handler answer.
pub struct RedisStore {
    redis: LazyRedis,
    prefix: String,
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://127.0.0.1:6379`), keys prefixed `cache:`.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(RedisStore {
            redis: LazyRedis::open(url)?,
            prefix: "cache:".to_owned(),
        })
    }

    /// Prefixes every key with `prefix` instead (several apps on one Redis); `clear` removes
    /// the keys with this prefix only.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn store_error(error: String) -> CacheError {
    CacheError::Store(error)
}

impl CacheStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let key = self.key(key);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move { c.get(key).await.map_err(|e| e.to_string()) })
                .await
                .map_err(store_error)
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        let key = self.key(key);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move {
                    let ms = ttl.map(|t| t.as_millis().clamp(1, u64::MAX as u128) as u64);
                    match ms {
                        Some(ms) => c.pset_ex::<_, _, ()>(key, value, ms).await,
                        None => c.set::<_, _, ()>(key, value).await,
                    }
                    .map_err(|e| e.to_string())
                })
                .await
                .map_err(store_error)
        })
    }

    fn del<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        let key = self.key(key);
        Box::pin(async move {
            self.redis
                .run(|mut c| async move { c.del::<_, ()>(key).await.map_err(|e| e.to_string()) })
                .await
                .map_err(store_error)
        })
    }

    /// Removes the keys under this store's prefix, a batch at a time (`SCAN`, then `UNLINK`).
    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        Box::pin(async move {
            let mut cursor: u64 = 0;
            loop {
                let pattern = pattern.clone();
                let (next, keys): (u64, Vec<String>) = self
                    .redis
                    .run(|mut c| async move {
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(pattern)
                            .arg("COUNT")
                            .arg(500)
                            .query_async(&mut c)
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await
                    .map_err(store_error)?;
                if !keys.is_empty() {
                    self.redis
                        .run(|mut c| async move {
                            redis::cmd("UNLINK")
                                .arg(keys)
                                .query_async::<()>(&mut c)
                                .await
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .map_err(store_error)?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })
    }
}

/// `prefix` with Redis's glob characters escaped, for `SCAN MATCH`.
fn glob_escape(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
