//! Interceptors: Nest's `NestInterceptor`, code around a route's handler.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body as HttpBody;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{HandlerValue, HttpException, Reflector, RouteMeta, RpcContext};
use crate::server::{RpcException, RpcNext, RpcReply};

/// An interceptor: runs around a route's handler (after the guards), and may change the
/// response, answer in its place, or time it. Nest's `NestInterceptor`; `next.handle().await`
/// is Nest's `next.handle()`.
///
/// Apply one with `#[use_interceptors(..)]` on a controller or route, or to every route with
/// `app.use_global_interceptors(..)`. Global ones run outermost, then the controller's, then
/// the route's. In `#[use_interceptors]`, a type name is a provider resolved by DI (Nest's
/// `@UseInterceptors(AuditInterceptor)`); any other expression is an instance (Nest's
/// `@UseInterceptors(new TimeoutInterceptor(2000))`).
///
/// ```
/// use gateway_core::http::{CallContext, NestInterceptor, Next};
/// use gateway_core::axum::response::Response;
///
/// /// Adds `x-served-by` to every response.
/// struct ServedBy;
///
/// impl NestInterceptor for ServedBy {
///     async fn intercept(&self, _ctx: &CallContext, next: Next) -> Response {
///         let mut response = next.handle().await;
///         response.headers_mut().insert("x-served-by", "gateway".parse().unwrap());
///         response
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an interceptor",
    label = "this type does not implement `NestInterceptor`",
    note = "an interceptor implements `gateway_core::http::NestInterceptor`: `async fn intercept(&self, ctx: &CallContext, next: Next) -> Response`"
)]
pub trait NestInterceptor: Send + Sync + 'static {
    /// Runs around the rest of an HTTP route's chain: call `next.handle().await` to run it.
    fn intercept(&self, ctx: &CallContext, next: Next) -> impl Future<Output = Response> + Send;

    /// Runs around the rest of a message or event handler's chain (the interceptor applied to
    /// a controller with message handlers, or globally to a microservice): call
    /// `next.handle().await` to run it. By default the call goes through untouched, as a Nest
    /// interceptor that starts with `if (context.getType() !== 'http') return next.handle();`.
    fn intercept_rpc(
        &self,
        ctx: &RpcContext,
        next: RpcNext,
    ) -> impl Future<Output = RpcReply> + Send {
        let _ = ctx;
        next.handle()
    }
}

/// An interceptor behind a pointer, so interceptors of different types share one chain.
pub trait DynInterceptor: Send + Sync {
    /// [`NestInterceptor::intercept`], boxed.
    fn intercept_dyn<'a>(&'a self, ctx: &'a CallContext, next: Next) -> BoxFuture<'a, Response>;

    /// [`NestInterceptor::intercept_rpc`], boxed.
    fn intercept_rpc_dyn<'a>(
        &'a self,
        ctx: &'a RpcContext,
        next: RpcNext,
    ) -> BoxFuture<'a, RpcReply>;
}

impl<I: NestInterceptor> DynInterceptor for I {
    fn intercept_dyn<'a>(&'a self, ctx: &'a CallContext, next: Next) -> BoxFuture<'a, Response> {
        self.intercept(ctx, next).boxed()
    }

    fn intercept_rpc_dyn<'a>(
        &'a self,
        ctx: &'a RpcContext,
        next: RpcNext,
    ) -> BoxFuture<'a, RpcReply> {
        self.intercept_rpc(ctx, next).boxed()
    }
}

/// What an interceptor sees: the request head and the route. Nest's `ExecutionContext` in an
/// interceptor.
pub struct CallContext {
    method: Method,
    uri: Uri,
    shown: Option<Uri>,
    headers: HeaderMap,
    route: &'static RouteMeta,
    controller: &'static str,
}

impl CallContext {
    pub(crate) fn new(parts: &Parts, route: &'static RouteMeta, controller: &'static str) -> Self {
        CallContext {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            shown: parts
                .extensions
                .get::<super::ShownUri>()
                .map(|s| s.0.clone()),
            headers: parts.headers.clone(),
            route,
            controller,
        }
    }

    /// The path and query as the client sent them, before the app routed the request by
    /// another (its global prefix or URI version stripped): Express's `req.originalUrl`.
    pub fn original_url(&self) -> &str {
        let uri = self.shown.as_ref().unwrap_or(&self.uri);
        uri.path_and_query().map_or("/", |p| p.as_str())
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's URI (path and query).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request id (`x-request-id`), when the request has one (see
    /// [`NestApplication::enable_request_id`](crate::app::NestApplication::enable_request_id)).
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get(super::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
    }

    /// The route (method, Nest path, handler name).
    pub fn route(&self) -> &'static RouteMeta {
        self.route
    }

    /// The controller's name.
    pub fn controller(&self) -> &'static str {
        self.controller
    }

    /// The route's and controller's metadata. Nest's `Reflector`.
    pub fn reflector(&self) -> Reflector {
        self.route.reflector()
    }
}

/// The rest of the chain: the next interceptor, or the route's handler. Nest's `CallHandler`.
pub struct Next {
    chain: Vec<Arc<dyn DynInterceptor>>,
    index: usize,
    ctx: Arc<CallContext>,
    handler: BoxFuture<'static, Response>,
}

impl Next {
    pub(crate) fn new(
        chain: Vec<Arc<dyn DynInterceptor>>,
        ctx: CallContext,
        handler: BoxFuture<'static, Response>,
    ) -> Self {
        Next {
            chain,
            index: 0,
            ctx: Arc::new(ctx),
            handler,
        }
    }

    /// Runs the rest of the chain and gives its response. Not calling it answers without
    /// running the handler (a cache hit, say).
    pub fn handle(mut self) -> BoxFuture<'static, Response> {
        match self.chain.get(self.index).cloned() {
            Some(interceptor) => {
                self.index += 1;
                let ctx = Arc::clone(&self.ctx);
                Box::pin(async move { interceptor.intercept_dyn(&ctx, self).await })
            }
            None => self.handler,
        }
    }
}

/// The app's global interceptors, handed to every route through the request's extensions.
#[derive(Clone, Default)]
pub(crate) struct GlobalInterceptors(pub Arc<[Arc<dyn DynInterceptor>]>);

/// Logs every request it wraps through `tracing` (target `gateway::http`): method, path,
/// status, latency and request id. Errors (5xx) at `warn`, the rest at `info`. On message
/// handlers (target `gateway::rpc`): pattern, latency and the error, if any. Nest docs'
/// `LoggingInterceptor`. Headers, bodies and tokens are never logged.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggingInterceptor;

impl LoggingInterceptor {
    /// The interceptor.
    pub fn new() -> Self {
        LoggingInterceptor
    }
}

impl NestInterceptor for LoggingInterceptor {
    async fn intercept(&self, ctx: &CallContext, next: Next) -> Response {
        let started = Instant::now();
        let response = next.handle().await;
        let status = response.status().as_u16();
        let latency_us = started.elapsed().as_micros() as u64;
        let request_id = ctx.request_id().unwrap_or("-");
        let (method, path) = (ctx.method().as_str(), ctx.uri().path());
        if status >= 500 {
            tracing::warn!(target: "gateway::http", method, path, status, latency_us, request_id, "{method} {path} {status} {latency_us}us");
        } else {
            tracing::info!(target: "gateway::http", method, path, status, latency_us, request_id, "{method} {path} {status} {latency_us}us");
        }
        response
    }

    async fn intercept_rpc(&self, ctx: &RpcContext, next: RpcNext) -> RpcReply {
        let started = Instant::now();
        let reply = next.handle().await;
        let latency_us = started.elapsed().as_micros() as u64;
        let pattern = ctx.pattern();
        match reply.error() {
            Some(error) => {
                tracing::warn!(target: "gateway::rpc", pattern, latency_us, error = %error, "{pattern} failed {latency_us}us")
            }
            None => {
                tracing::info!(target: "gateway::rpc", pattern, latency_us, "{pattern} {latency_us}us")
            }
        }
        reply
    }
}

/// Answers 504 `{"message":"Gateway Timeout","statusCode":504}` when the rest of the chain
/// takes longer than its duration, and drops the handler (cancelling its downstream calls).
/// Nest docs' `TimeoutInterceptor` (which uses 408; a gateway's upstream timeout is a 504).
#[derive(Debug, Clone, Copy)]
pub struct TimeoutInterceptor {
    timeout: Duration,
}

impl TimeoutInterceptor {
    /// Times out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        TimeoutInterceptor { timeout }
    }
}

impl NestInterceptor for TimeoutInterceptor {
    async fn intercept(&self, ctx: &CallContext, next: Next) -> Response {
        match tokio::time::timeout(self.timeout, next.handle()).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    target: "gateway::http",
                    path = ctx.uri().path(),
                    timeout_ms = self.timeout.as_millis() as u64,
                    "route timed out"
                );
                HttpException::gateway_timeout(()).into_response()
            }
        }
    }

    /// On a message handler: the `err` `{"statusCode":504,"message":"Gateway Timeout"}`
    /// (which a gateway in front turns into its 504).
    async fn intercept_rpc(&self, ctx: &RpcContext, next: RpcNext) -> RpcReply {
        match tokio::time::timeout(self.timeout, next.handle()).await {
            Ok(reply) => reply,
            Err(_) => {
                tracing::warn!(
                    target: "gateway::rpc",
                    pattern = ctx.pattern(),
                    timeout_ms = self.timeout.as_millis() as u64,
                    "message handler timed out"
                );
                RpcReply::err(RpcException::new(serde_json::json!({
                    "statusCode": 504,
                    "message": "Gateway Timeout",
                })))
            }
        }
    }
}

/// Wraps every successful answer in `{"data": ..}`. Nest docs' `TransformInterceptor`
/// (`map(data => ({ data }))`): it maps the handler's value (see [`HandlerValue`]); a route
/// that answers nothing gives `{}`, and a string answer becomes a JSON string. A response the
/// handler built itself (an axum `Response`) has its JSON body spliced, not re-parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformInterceptor;

impl TransformInterceptor {
    /// The interceptor.
    pub fn new() -> Self {
        TransformInterceptor
    }
}

impl NestInterceptor for TransformInterceptor {
    async fn intercept(&self, _ctx: &CallContext, next: Next) -> Response {
        let response = next.handle().await;
        if !response.status().is_success() {
            return response;
        }
        if response.value().is_some() {
            return response.map_value(|data| match data {
                serde_json::Value::Null => serde_json::json!({}),
                data => serde_json::json!({ "data": data }),
            });
        }
        let (mut parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
            return HttpException::internal().into_response();
        };
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let wrapped = if bytes.is_empty() {
            b"{}".to_vec()
        } else if is_json {
            [&b"{\"data\":"[..], &bytes, b"}"].concat()
        } else {
            let text = String::from_utf8_lossy(&bytes);
            let mut out = b"{\"data\":".to_vec();
            serde_json::to_writer(&mut out, &text).expect("a string serializes");
            out.push(b'}');
            out
        };
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::ETAG);
        Response::from_parts(parts, HttpBody::from(wrapped))
    }

    /// On a message handler: each value `v` becomes `{"data": v}`.
    async fn intercept_rpc(&self, _ctx: &RpcContext, next: RpcNext) -> RpcReply {
        next.handle().await.map_value(|data| match data {
            serde_json::Value::Null => serde_json::json!({}),
            data => serde_json::json!({ "data": data }),
        })
    }
}
