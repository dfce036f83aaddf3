//! Caching: Nest's `CacheModule` (`@nestjs/cache-manager`). A [`Cache`] (Nest's
//! `CACHE_MANAGER`) over a store, in memory ([`MemoryStore`]) or on Redis (`RedisStore`,
//! feature `redis`, shared by every gateway on it), and [`CacheInterceptor`], which answers
//! GET routes from the cache.
//!
//! ```
//! use gateway_core::cache::{Cache, CacheInterceptor, CacheModule};
//! use gateway_core::prelude::*;
//! use std::time::Duration;
//!
//! #[injectable]
//! struct UsersController {
//!     cache: Cache,
//! }
//!
//! #[controller("users")]
//! #[use_interceptors(CacheInterceptor)]
//! impl UsersController {
//!     /// Cached under its URL (`/users?page=2` apart from `/users`) for 30 s.
//!     #[get("")]
//!     #[cache_ttl("30s")]
//!     async fn list(&self) -> Vec<String> {
//!         vec!["Ada".into()]
//!     }
//!
//!     /// Emptied by hand.
//!     #[post("refresh")]
//!     async fn refresh(&self) -> Result<(), HttpException> {
//!         self.cache.clear().await.map_err(|_| HttpException::internal())
//!     }
//! }
//!
//! #[module(
//!     imports = [CacheModule::register().ttl(Duration::from_secs(5))],
//!     controllers = [UsersController],
//! )]
//! struct UsersModule;
//! ```
//!
//! What is cached is the handler's value (see [`HandlerValue`](crate::http::HandlerValue)),
//! as JSON: a hit answers it as the handler would have, with `X-Cache: HIT` (`MISS` when the
//! handler ran), as Nest's interceptor does. Errors, `null`, responses a handler built itself
//! and streamed files are never cached. A store that fails (Redis down) is skipped: the
//! handler answers.

mod interceptor;
mod memory;
#[cfg(feature = "redis")]
mod redis_store;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::di::{Exportable, Import, ModuleBuilder, Provider};

pub use interceptor::CacheInterceptor;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;

/// The metadata key of `#[cache_ttl]` (Nest's `CACHE_TTL_METADATA`): the TTL in ms.
pub const CACHE_TTL_METADATA: &str = "cache_module:cache_ttl";
/// The metadata key of `#[cache_key]` (Nest's `CACHE_KEY_METADATA`).
pub const CACHE_KEY_METADATA: &str = "cache_module:cache_key";
/// The token the [`Cache`] is also provided under: Nest's `CACHE_MANAGER`, for
/// `#[inject("CACHE_MANAGER")] cache: Cache`.
pub const CACHE_MANAGER: &str = "CACHE_MANAGER";

/// Why a cache operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The store failed (Redis unreachable, timed out, ...).
    #[error("the cache store failed: {0}")]
    Store(String),
    /// A value could not be written as JSON, or a cached one read as the type asked for.
    #[error("a cached value could not be converted: {0}")]
    Json(String),
}

/// Where cached values live: JSON bytes under string keys, each with its own expiry. Nest's
/// cache-manager stores (Keyv). Implement it for another backend.
pub trait CacheStore: Send + Sync + 'static {
    /// The value under `key`, if there is one that has not expired.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>>;

    /// Stores `value` under `key`, for `ttl` (forever when `None`).
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Removes `key`.
    fn del<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Removes every key of this cache.
    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>>;
}

/// A cache: Nest's `Cache` from `CACHE_MANAGER` (`cache.get`, `cache.set`, `cache.del`,
/// `cache.clear`). Cheap to clone; clones share the store. Values are stored as JSON.
#[derive(Clone)]
pub struct Cache {
    store: Arc<dyn CacheStore>,
    ttl: Option<Duration>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// A cache over `store`, whose entries last `ttl` unless said otherwise (forever when
    /// `None`).
    pub fn new(store: impl CacheStore, ttl: Option<Duration>) -> Self {
        Cache {
            store: Arc::new(store),
            ttl,
        }
    }

    /// The default time to live of entries.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// The value under `key`, read as `T`: Nest's `await cache.get(key)`. `None` when there
    /// is none (or it expired).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, CacheError> {
        match self.store.get(key).await? {
            Some(json) => serde_json::from_slice(&json)
                .map(Some)
                .map_err(|e| CacheError::Json(e.to_string())),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key` for the cache's TTL: Nest's `await cache.set(key, value)`.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), CacheError> {
        self.store.set(key, to_json(value)?, self.ttl).await
    }

    /// Stores `value` under `key` for `ttl` (`Duration::ZERO`: forever): Nest's
    /// `await cache.set(key, value, ttl)`.
    pub async fn set_with_ttl<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let ttl = (!ttl.is_zero()).then_some(ttl);
        self.store.set(key, to_json(value)?, ttl).await
    }

    /// Removes `key`: Nest's `await cache.del(key)`.
    pub async fn del(&self, key: &str) -> Result<(), CacheError> {
        self.store.del(key).await
    }

    /// Removes every entry: Nest's `await cache.clear()`.
    pub async fn clear(&self) -> Result<(), CacheError> {
        self.store.clear().await
    }

    /// The raw JSON under `key`.
    pub(crate) async fn get_json(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        self.store.get(key).await
    }

    /// Stores raw JSON under `key` for `ttl` (the cache's own when `None`; `Duration::ZERO`:
    /// forever).
    pub(crate) async fn set_json(
        &self,
        key: &str,
        json: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let ttl = match ttl {
            Some(ttl) => (!ttl.is_zero()).then_some(ttl),
            None => self.ttl,
        };
        self.store.set(key, json, ttl).await
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CacheError> {
    serde_json::to_vec(value).map_err(|e| CacheError::Json(e.to_string()))
}

/// Nest's `CacheModule.register({ ttl, store, isGlobal })`: a module providing the [`Cache`]
/// (by type, and as `CACHE_MANAGER`) and [`CacheInterceptor`]. In memory unless given a
/// store; entries never expire unless given a TTL (as Nest's, since cache-manager 6).
pub struct CacheModule {
    ttl: Option<Duration>,
    store: Option<Arc<dyn CacheStore>>,
    max: usize,
    global: bool,
}

impl CacheModule {
    /// `CacheModule.register()`: an in-memory cache of at most
    /// [`MemoryStore::DEFAULT_MAX`] entries.
    pub fn register() -> Self {
        CacheModule {
            ttl: None,
            store: None,
            max: MemoryStore::DEFAULT_MAX,
            global: false,
        }
    }

    /// `ttl`: how long entries last unless a route's `#[cache_ttl]` or a `set_with_ttl` says
    /// otherwise.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = (!ttl.is_zero()).then_some(ttl);
        self
    }

    /// The most entries the in-memory store keeps (the oldest go first).
    pub fn max(mut self, max: usize) -> Self {
        self.max = max.max(1);
        self
    }

    /// `stores: [..]`: keep entries in `store` (a `RedisStore`, to share them between
    /// gateways) instead of memory.
    pub fn store(mut self, store: impl CacheStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// `isGlobal: true`: the cache is visible to every module.
    pub fn is_global(mut self) -> Self {
        self.global = true;
        self
    }
}

impl Import for CacheModule {
    /// A module of its own, named `CacheModule`, exporting the [`Cache`], `CACHE_MANAGER` and
    /// [`CacheInterceptor`].
    fn import(self, into: &mut ModuleBuilder<'_>) {
        into.import_dynamic("CacheModule", move |module| {
            let store = self
                .store
                .unwrap_or_else(|| Arc::new(MemoryStore::new(self.max)));
            let cache = Cache {
                store,
                ttl: self.ttl,
            };
            module.provide(Provider::value(CACHE_MANAGER, cache.clone()));
            module.provide(Provider::typed(cache));
            module.provider::<CacheInterceptor>();
            module.export_all();
            if self.global {
                module.global();
            }
        });
    }
}

impl Exportable for CacheModule {
    /// `exports: [CacheModule]`: the importing module's `CacheModule`, re-exported.
    fn export(module: &mut ModuleBuilder<'_>) {
        module.export_dynamic("CacheModule");
    }
}
