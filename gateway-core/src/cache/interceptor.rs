//! [`CacheInterceptor`]: answers routes from the cache, as Nest's does.

use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::{Cache, CACHE_KEY_METADATA, CACHE_TTL_METADATA};
use crate::di::{DiError, Injectable, Resolver};
use crate::http::{
    value_response, CallContext, HandlerValue, NestInterceptor, Next, Reflector, RpcContext,
};
use crate::server::{RpcNext, RpcReply};

/// Answers a route from the [`Cache`] when it can, else runs it and caches its value: Nest's
/// `CacheInterceptor`. Apply it with `#[use_interceptors(CacheInterceptor)]` (it comes with
/// [`CacheModule`](super::CacheModule)), or to every route with
/// `app.use_global_interceptors(CacheInterceptor::new(cache))`.
///
/// - The key: the route's `#[cache_key("..")]`, else, for a GET, the URL as the client sent
///   it (path and query); other methods are not cached unless they have a `#[cache_key]`.
/// - The TTL: the route's `#[cache_ttl(..)]`, else its controller's, else the cache's.
/// - `X-Cache: HIT` when answered from the cache, `MISS` when the handler ran.
/// - Only the handler's value is cached: not an error, not `null`, not a response the
///   handler built itself (a redirect, a file, an axum `Response`).
/// - If the store fails, the handler answers, as if there were no cache.
///
/// On message handlers only a `#[cache_key]` makes a key (as in Nest), and only single values
/// are cached, not streams or errors.
#[derive(Clone, Debug)]
pub struct CacheInterceptor {
    cache: Cache,
}

impl CacheInterceptor {
    /// The interceptor over `cache`.
    pub fn new(cache: Cache) -> Self {
        CacheInterceptor { cache }
    }

    /// The entry's TTL: the handler's `#[cache_ttl]`, else its controller's (`None`: the
    /// cache's own).
    fn ttl(reflector: &Reflector) -> Option<Duration> {
        let ms = reflector
            .get_all_and_override(CACHE_TTL_METADATA)?
            .as_int()?;
        Some(Duration::from_millis(ms.max(0) as u64))
    }
}

impl Injectable for CacheInterceptor {
    const NAME: &'static str = "CacheInterceptor";

    fn construct(resolver: &mut Resolver<'_>) -> Result<Self, DiError> {
        Ok(CacheInterceptor {
            cache: resolver.typed::<Cache>(Self::NAME, "cache")?,
        })
    }
}

fn x_cache(mut response: Response, hit: bool) -> Response {
    let value = HeaderValue::from_static(if hit { "HIT" } else { "MISS" });
    response.headers_mut().insert("x-cache", value);
    response
}

impl NestInterceptor for CacheInterceptor {
    async fn intercept(&self, ctx: &CallContext, next: Next) -> Response {
        let reflector = ctx.reflector();
        let key = match reflector.get(CACHE_KEY_METADATA).and_then(|v| v.as_str()) {
            Some(key) => key.to_owned(),
            None if ctx.method() == Method::GET => ctx.original_url().to_owned(),
            None => return next.handle().await,
        };
        let cached = match self.cache.get_json(&key).await {
            Ok(cached) => cached,
            Err(error) => {
                tracing::warn!(target: "gateway::cache", key, %error, "the cache could not be read: the handler answers");
                return next.handle().await;
            }
        };
        let cached =
            cached.and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
        if let Some(value) = cached.filter(|v| !v.is_null()) {
            let status = StatusCode::from_u16(ctx.route().status).unwrap_or(StatusCode::OK);
            return x_cache(value_response(status, &value), true);
        }
        let response = next.handle().await;
        if response.status().is_success() {
            if let Some(value) = response.value().filter(|v| !v.is_null()) {
                let json = serde_json::to_vec(&value).expect("a Value serializes");
                if let Err(error) = self.cache.set_json(&key, json, Self::ttl(&reflector)).await {
                    tracing::warn!(target: "gateway::cache", key, %error, "an answer could not be cached");
                }
            }
        }
        x_cache(response, false)
    }

    async fn intercept_rpc(&self, ctx: &RpcContext, next: RpcNext) -> RpcReply {
        let reflector = ctx.reflector();
        let Some(key) = reflector.get(CACHE_KEY_METADATA).and_then(|v| v.as_str()) else {
            return next.handle().await;
        };
        match self.cache.get::<serde_json::Value>(key).await {
            Ok(Some(value)) if !value.is_null() => return RpcReply::ok(&value),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(target: "gateway::cache", key, %error, "the cache could not be read: the handler answers");
                return next.handle().await;
            }
        }
        let reply = next.handle().await;
        if let Some(value) = reply.value().filter(|v| !v.is_null()) {
            let json = serde_json::to_vec(&value).expect("a Value serializes");
            if let Err(error) = self.cache.set_json(key, json, Self::ttl(&reflector)).await {
                tracing::warn!(target: "gateway::cache", key, %error, "a reply could not be cached");
            }
        }
        reply
    }
}
