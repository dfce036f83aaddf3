//! Rate limiting like `@nestjs/throttler`: a global guard with per-route overrides.
//!
//! ```
//! use std::time::Duration;
//! use gateway_core::throttle::ThrottlerGuard;
//! // ThrottlerModule.forRoot([{ ttl: 60000, limit: 10 }]) + APP_GUARD ThrottlerGuard:
//! let guard = ThrottlerGuard::new(10, Duration::from_secs(60));
//! ```
//!
//! Routes change it with `#[throttle(limit = 3, ttl = "10s")]` (Nest's `@Throttle`) or opt out
//! with `#[skip_throttle]` (Nest's `@SkipThrottle()`), on the route or its controller.
//! Every answer carries Nest's `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds); past the limit the client is blocked for the block duration
//! (the ttl unless set) with 429 `{"statusCode":429,"message":"ThrottlerException: Too Many Requests"}`
//! and `Retry-After` (seconds).
//!
//! Storage is in memory by default (one gateway); `RedisStorage` (feature `redis`) shares
//! one budget between gateway instances, atomically (one Lua script per request).

#[cfg(feature = "redis")]
mod redis_storage;
#[cfg(feature = "redis")]
pub use redis_storage::RedisStorage;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};
use futures_util::future::BoxFuture;

use crate::http::{
    CanActivate, ContextType, ExecutionContext, HttpException, MetaValue, SKIP_THROTTLE_KEY,
    THROTTLE_KEY,
};

/// What a storage says after counting one hit. Nest's `ThrottlerStorageRecord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlerRecord {
    /// Hits in the current window, this one included.
    pub total_hits: u64,
    /// Until the window ends.
    pub time_to_expire: Duration,
    /// Whether the key is blocked (over the limit).
    pub is_blocked: bool,
    /// Until the block ends.
    pub time_to_block_expire: Duration,
}

/// Where hits are counted. Nest's `ThrottlerStorage`.
pub trait ThrottlerStorage: Send + Sync + 'static {
    /// Counts a hit on `key` (windows of `ttl`, `limit` hits, then blocked for `block`).
    fn increment<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
        limit: u64,
        block: Duration,
    ) -> BoxFuture<'a, Result<ThrottlerRecord, String>>;
}

struct Entry {
    hits: u64,
    expires: Instant,
    blocked_until: Option<Instant>,
}

/// In-process storage (the default): fixed windows per key, swept as they expire.
#[derive(Default)]
pub struct MemoryStorage {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// The size at which expired entries are swept next: twice what a sweep leaves (at least
    /// 10 000), so many live clients cost one sweep per doubling, not one per request.
    sweep_at: usize,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn hit(&self, key: &str, ttl: Duration, limit: u64, block: Duration) -> ThrottlerRecord {
        let now = Instant::now();
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut *guard;
        if entries.map.len() >= entries.sweep_at.max(10_000) {
            entries
                .map
                .retain(|_, e| e.expires > now || e.blocked_until.is_some_and(|b| b > now));
            entries.sweep_at = entries.map.len() * 2;
        }
        let entry = entries.map.entry(key.to_owned()).or_insert(Entry {
            hits: 0,
            expires: now + ttl,
            blocked_until: None,
        });
        if let Some(until) = entry.blocked_until {
            if until > now {
                return ThrottlerRecord {
                    total_hits: entry.hits,
                    time_to_expire: entry.expires.saturating_duration_since(now),
                    is_blocked: true,
                    time_to_block_expire: until - now,
                };
            }
            entry.blocked_until = None;
            entry.hits = 0;
            entry.expires = now + ttl;
        }
        if entry.expires <= now {
            entry.hits = 0;
            entry.expires = now + ttl;
        }
        entry.hits += 1;
        let mut record = ThrottlerRecord {
            total_hits: entry.hits,
            time_to_expire: entry.expires - now,
            is_blocked: false,
            time_to_block_expire: Duration::ZERO,
        };
        if entry.hits > limit {
            entry.blocked_until = Some(now + block);
            record.is_blocked = true;
            record.time_to_block_expire = block;
        }
        record
    }
}

impl ThrottlerStorage for MemoryStorage {
    fn increment<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
        limit: u64,
        block: Duration,
    ) -> BoxFuture<'a, Result<ThrottlerRecord, String>> {
        let record = self.hit(key, ttl, limit, block);
        Box::pin(async move { Ok(record) })
    }
}

type Tracker = dyn Fn(&ExecutionContext<'_>) -> Option<String> + Send + Sync;

/// The rate-limiting guard. Nest's `ThrottlerGuard` with `ThrottlerModule.forRoot(..)`'s
/// options; use it as a global guard (`app.use_global_guards(..)`) or with `#[guard(..)]`.
pub struct ThrottlerGuard {
    limit: u64,
    ttl: Duration,
    block: Option<Duration>,
    storage: Arc<dyn ThrottlerStorage>,
    tracker: Option<Arc<Tracker>>,
}

impl ThrottlerGuard {
    /// `limit` requests per `ttl` for each client, counted in memory.
    pub fn new(limit: u64, ttl: Duration) -> Self {
        ThrottlerGuard {
            limit,
            ttl,
            block: None,
            storage: Arc::new(MemoryStorage::new()),
            tracker: None,
        }
    }

    /// Counts in `storage` instead (e.g. `RedisStorage`, feature `redis`, to share the budget).
    pub fn storage(mut self, storage: impl ThrottlerStorage) -> Self {
        self.storage = Arc::new(storage);
        self
    }

    /// Blocks a client that went over the limit for `block` (default: the ttl). Nest's
    /// `blockDuration`.
    pub fn block_duration(mut self, block: Duration) -> Self {
        self.block = Some(block);
        self
    }

    /// Counts per what `tracker` returns (a user id, an API key) instead of per client IP;
    /// `None` falls back to the IP. Nest's `getTracker`. Runs after the guards registered
    /// before this one, so it can read their user.
    pub fn tracker(
        mut self,
        tracker: impl Fn(&ExecutionContext<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.tracker = Some(Arc::new(tracker));
        self
    }
}

/// The default tracker: the IP, an IPv6 address reduced to its /64 (as Nest's throttler does,
/// so one client cannot dodge the limit by rotating through its own prefix).
fn tracker_of_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().expect("checked").to_string(),
        v4 => v4.to_string(),
    }
}

/// Rounded up to whole seconds, as Nest reports them.
fn seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

fn header_value(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

impl CanActivate for ThrottlerGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let reflector = ctx.reflector();
        if reflector
            .get_all_and_override(SKIP_THROTTLE_KEY)
            .and_then(MetaValue::as_bool)
            .unwrap_or(false)
        {
            return Ok(true);
        }
        let (mut limit, mut ttl, mut block) = (self.limit, self.ttl, self.block);
        if let Some([MetaValue::Int(l), MetaValue::Int(t), MetaValue::Int(b)]) = reflector
            .get_all_and_override(THROTTLE_KEY)
            .and_then(MetaValue::as_list)
        {
            limit = *l as u64;
            ttl = Duration::from_millis(*t as u64);
            block = (*b > 0).then(|| Duration::from_millis(*b as u64)).or(block);
        }
        let block = block.unwrap_or(ttl);
        let tracker = match self
            .tracker
            .as_ref()
            .and_then(|t| t(ctx))
            .or_else(|| ctx.client_ip().map(tracker_of_ip))
        {
            Some(tracker) => tracker,
            // A message has no client address: throttled only by a custom tracker (which
            // may read `ctx.switch_to_rpc()`), never all callers as one.
            None if ctx.get_type() == ContextType::Rpc => return Ok(true),
            None => "unknown".to_owned(),
        };
        let key = format!("{}-{}-default-{tracker}", ctx.controller(), ctx.handler());
        let record = match self.storage.increment(&key, ttl, limit, block).await {
            Ok(record) => record,
            Err(error) => {
                // Fail open: a broken store must not take the gateway down with it.
                tracing::warn!(target: "gateway::throttle", %error, "throttler storage failed; request let through");
                return Ok(true);
            }
        };
        if record.is_blocked {
            ctx.set_response_header(
                HeaderName::from_static("retry-after"),
                header_value(seconds(record.time_to_block_expire).max(1)),
            );
            return Err(HttpException::new(
                "ThrottlerException: Too Many Requests",
                429,
            ));
        }
        ctx.set_response_header(
            HeaderName::from_static("x-ratelimit-limit"),
            header_value(limit),
        );
        ctx.set_response_header(
            HeaderName::from_static("x-ratelimit-remaining"),
            header_value(limit.saturating_sub(record.total_hits)),
        );
        ctx.set_response_header(
            HeaderName::from_static("x-ratelimit-reset"),
            header_value(seconds(record.time_to_expire)),
        );
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64_prefix() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(tracker_of_ip(a), tracker_of_ip(b));
        assert_eq!(
            tracker_of_ip("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1"
        );
        assert_eq!(tracker_of_ip("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn expired_windows_are_swept_and_live_ones_do_not_cost_a_sweep_per_hit() {
        let s = MemoryStorage::new();
        let short = Duration::from_millis(1);
        for i in 0..10_000 {
            s.hit(&format!("old-{i}"), short, 5, short);
        }
        std::thread::sleep(Duration::from_millis(5));
        s.hit("new", Duration::from_secs(60), 5, Duration::from_secs(60));
        let entries = s.entries.lock().unwrap();
        assert_eq!(entries.map.len(), 1, "the expired windows are gone");
        // Live entries set the next sweep to twice their number (at least 10 000).
        assert_eq!(entries.sweep_at, 0);
        drop(entries);
        let long = Duration::from_secs(60);
        for i in 0..10_001 {
            s.hit(&format!("live-{i}"), long, 5, long);
        }
        let entries = s.entries.lock().unwrap();
        assert_eq!(
            entries.sweep_at, 20_000,
            "one sweep, then none until the size doubles"
        );
    }

    #[test]
    fn memory_windows_block_and_recover() {
        let s = MemoryStorage::new();
        let (ttl, block) = (Duration::from_millis(300), Duration::from_millis(150));
        for hit in 1..=3 {
            let r = s.hit("k", ttl, 3, block);
            assert_eq!((r.total_hits, r.is_blocked), (hit, false));
        }
        let r = s.hit("k", ttl, 3, block);
        assert!(r.is_blocked);
        assert!(r.time_to_block_expire <= block);
        assert!(s.hit("k", ttl, 3, block).is_blocked, "still blocked");
        assert!(
            !s.hit("other", ttl, 3, block).is_blocked,
            "keys are separate"
        );
        std::thread::sleep(block + Duration::from_millis(20));
        let r = s.hit("k", ttl, 3, block);
        assert_eq!((r.total_hits, r.is_blocked), (1, false), "a new window");
    }
}
