//! [`RedisStorage`]: one rate-limit budget shared by every gateway instance on a Redis.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::Script;

use super::{ThrottlerRecord, ThrottlerStorage};
use crate::redis_conn::LazyRedis;

/// Counts the hit and applies the block in one step, so concurrent gateways cannot both slip
/// under the limit. Returns `{hits, ms to window end, blocked, ms to block end}`.
const INCREMENT: &str = r"
local hits_key, block_key = KEYS[1], KEYS[2]
local ttl, limit, block = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = redis.call('PTTL', block_key)
if blocked > 0 then
  return {limit + 1, blocked, 1, blocked}
end
local hits = redis.call('INCR', hits_key)
local expire = redis.call('PTTL', hits_key)
if expire < 0 then
  redis.call('PEXPIRE', hits_key, ttl)
  expire = ttl
end
if hits > limit then
  redis.call('SET', block_key, '1', 'PX', block)
  redis.call('DEL', hits_key)
  return {hits, expire, 1, block}
end
return {hits, expire, 0, 0}
";

/// Throttler storage on Redis (feature `redis`): keys `<prefix><key>` and
/// `<prefix><key>:blocked`, which expire on their own. Nest's
/// `ThrottlerStorageRedisService`. The connection is made at the first request and remade
/// after a failure; while Redis is down the guard lets requests through and logs a warning.
pub struct RedisStorage {
    redis: LazyRedis,
    prefix: String,
    script: Script,
}

impl RedisStorage {
    /// A storage on the Redis at `url` (`redis://127.0.0.1:6379`), keys prefixed `throttler:`.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(RedisStorage {
            redis: LazyRedis::open(url)?,
            prefix: "throttler:".to_owned(),
            script: Script::new(INCREMENT),
        })
    }

    /// Prefixes every key with `prefix` instead (several apps on one Redis).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl ThrottlerStorage for RedisStorage {
    fn increment<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
        limit: u64,
        block: Duration,
    ) -> BoxFuture<'a, Result<ThrottlerRecord, String>> {
        Box::pin(
            self.redis
                .run(move |connection| self.count(connection, key, ttl, limit, block)),
        )
    }
}

impl RedisStorage {
    async fn count(
        &self,
        mut connection: redis::aio::ConnectionManager,
        key: &str,
        ttl: Duration,
        limit: u64,
        block: Duration,
    ) -> Result<ThrottlerRecord, String> {
        let hits_key = format!("{}{key}", self.prefix);
        let block_key = format!("{hits_key}:blocked");
        let reply: Vec<i64> = self
            .script
            .key(hits_key)
            .key(block_key)
            .arg(ttl.as_millis() as u64)
            .arg(limit)
            .arg(block.as_millis() as u64)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
        let [hits, expire, blocked, block_left] = reply[..] else {
            return Err(format!("unexpected script reply {reply:?}"));
        };
        let ms = |n: i64| Duration::from_millis(n.max(0) as u64);
        Ok(ThrottlerRecord {
            total_hits: hits.max(0) as u64,
            time_to_expire: ms(expire),
            is_blocked: blocked == 1,
            time_to_block_expire: ms(block_left),
        })
    }
}
