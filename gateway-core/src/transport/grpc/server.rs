//! The server side: [`Transport::grpc`] serving a router's `#[grpc_method]` handlers.

use std::future::Future as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use tonic::server::{
    ClientStreamingService, ServerStreamingService, StreamingService, UnaryService,
};
use tonic_prost::ProstCodec;

use super::client::DEFAULT_MAX_MESSAGE;
use super::health::{Health, HealthCheckRequest, HealthCheckResponse, ServingStatus};
use super::{status_of, GrpcMethod, GrpcRequests};
use crate::app::Transport;
use crate::server::dispatch::request as run_request;
use crate::server::reply::HandlerReply;
use crate::server::{
    check_router, MessageContext, MessageRouter, Server, ServerError, ShutdownHandle,
    DEFAULT_GRACE_PERIOD,
};

/// A `#[grpc_method]` handler's place on the wire: its path and how to serve it.
#[derive(Clone)]
pub(crate) struct GrpcRoute {
    pub path: &'static str,
    /// The router's route of the handler (Nest's `{"rpc":..,"service":..,"streaming":..}`).
    pub route: &'static str,
    serve: fn(
        Arc<Shared>,
        &'static str,
        axum::extract::Request,
    ) -> BoxFuture<'static, axum::response::Response>,
}

impl GrpcRoute {
    /// The route of method `M`, handled by the router's handler of `route`.
    pub(crate) fn of<M: GrpcMethod>(route: &'static str) -> Self {
        GrpcRoute {
            path: M::PATH,
            route,
            serve: |shared, route, request| serve::<M>(shared, route, request).boxed(),
        }
    }
}

/// A gRPC server's settings: Nest's `GrpcOptions` that are not about loading the proto.
#[derive(Debug, Clone)]
pub struct GrpcServerOptions {
    max_receive_message_length: usize,
    max_send_message_length: usize,
    keepalive: Option<Duration>,
    grace_period: Duration,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsOptions>,
}

impl Default for GrpcServerOptions {
    fn default() -> Self {
        GrpcServerOptions {
            max_receive_message_length: DEFAULT_MAX_MESSAGE,
            max_send_message_length: DEFAULT_MAX_MESSAGE,
            keepalive: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl GrpcServerOptions {
    /// The largest message accepted (Nest's `maxReceiveMessageLength`, default 4 MiB); a
    /// larger one is refused with `RESOURCE_EXHAUSTED`.
    pub fn max_receive_message_length(mut self, bytes: usize) -> Self {
        self.max_receive_message_length = bytes;
        self
    }

    /// The largest message sent (Nest's `maxSendMessageLength`, default 4 MiB).
    pub fn max_send_message_length(mut self, bytes: usize) -> Self {
        self.max_send_message_length = bytes;
        self
    }

    /// HTTP/2 pings every `interval` on each connection (Nest's `keepalive.keepaliveTimeMs`).
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = Some(interval);
        self
    }

    /// How long a graceful shutdown waits for calls in flight (default 10 s).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// Serves over TLS (feature `tls`): Nest's `credentials: ServerCredentials.createSsl(..)`.
    /// `cert_pem` is the server's; with `ca_pem`, clients must show a certificate it signs.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }
}

impl Transport {
    /// `{ transport: Transport.GRPC, options: { url } }`: the router's `#[grpc_method]`
    /// handlers served at `url` (`0.0.0.0:5000`, Nest's default `localhost:5000`).
    pub fn grpc(url: impl Into<String>) -> Self {
        Self::grpc_with(url, GrpcServerOptions::default())
    }

    /// gRPC with every option ([`GrpcServerOptions`]).
    pub fn grpc_with(url: impl Into<String>, options: GrpcServerOptions) -> Self {
        let url: String = url.into();
        Transport::from_fn(format!("grpc://{url}"), move |router| {
            let (url, options) = (url.clone(), options.clone());
            async move { GrpcServer::bind(&url, router, options).await }
        })
    }
}

/// What every call of a server reads.
struct Shared {
    router: MessageRouter,
    options: GrpcServerOptions,
    /// The full names of the services served (`math.Math`), for the health service.
    services: Vec<String>,
    /// `true` until the server begins to shut down (the health service's `SERVING`).
    serving: tokio::sync::watch::Sender<bool>,
}

/// A bound gRPC server, ready to serve: what [`Transport::grpc`](crate::app::Transport::grpc)
/// starts, or a router served on its own.
///
/// ```no_run
/// # use gateway_core::grpc::{GrpcServer, GrpcServerOptions};
/// # use gateway_core::server::MessageRouter;
/// # async fn run(router: MessageRouter) -> Result<(), Box<dyn std::error::Error>> {
/// let server = GrpcServer::bind("0.0.0.0:5000", router, GrpcServerOptions::default()).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct GrpcServer {
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: ShutdownHandle,
}

impl std::fmt::Debug for GrpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcServer")
            .field("local_addr", &self.local_addr)
            .field("services", &self.shared.services)
            .finish_non_exhaustive()
    }
}

impl GrpcServer {
    /// Binds `url` (`0.0.0.0:5000`, `localhost:5000`) to serve `router`'s gRPC methods. Fails
    /// if the address is taken, the TLS settings are not usable, or a pattern is registered
    /// twice.
    pub async fn bind(
        url: &str,
        router: MessageRouter,
        options: GrpcServerOptions,
    ) -> Result<Self, ServerError> {
        check_router(&router)?;
        let url = url.strip_prefix("http://").unwrap_or(url);
        let url = match url.strip_prefix("localhost:") {
            Some(port) => format!("127.0.0.1:{port}"),
            None => url.to_owned(),
        };
        let listener = tokio::net::TcpListener::bind(&url)
            .await
            .map_err(|source| ServerError::Bind {
                addr: url.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: url.clone(),
            source,
        })?;
        #[cfg(feature = "tls")]
        let tls = match &options.tls {
            None => None,
            Some(tls) => {
                let mut config = (*tls.server_config().map_err(|error| ServerError::Bind {
                    addr: url.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, error),
                })?)
                .clone();
                config.alpn_protocols = vec![b"h2".to_vec()];
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
            }
        };
        Ok(GrpcServer {
            #[cfg(feature = "tls")]
            tls,
            listener,
            local_addr,
            shared: Arc::new(Shared {
                services: served_services(&router),
                router,
                options,
                serving: tokio::sync::watch::Sender::new(true),
            }),
            stop: ShutdownHandle::default(),
        })
    }

    /// The address bound (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        let stop = self.stop.clone();
        crate::server::serving::serve_until(&stop, Box::new(self).serve(), signal).await;
    }
}

impl Server for GrpcServer {
    fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local_addr)
    }

    fn serve(self: Box<Self>) -> BoxFuture<'static, ()> {
        #[cfg(feature = "tls")]
        let tls = self.tls.clone();
        #[cfg(not(feature = "tls"))]
        let tls = None::<()>;
        let GrpcServer {
            listener,
            shared,
            stop,
            ..
        } = *self;
        Box::pin(async move {
            let mut app = axum::Router::new();
            for route in shared.router.grpc_routes() {
                let (shared, serve, name) = (Arc::clone(&shared), route.serve, route.route);
                let handler = move |request: axum::extract::Request| serve(shared, name, request);
                app = app.route(route.path, axum::routing::post(handler));
            }
            let health = Arc::clone(&shared);
            app = app.route(
                Health::Check::PATH,
                axum::routing::post(move |request| health_check(health, request)),
            );
            let health = Arc::clone(&shared);
            app = app.route(
                Health::Watch::PATH,
                axum::routing::post(move |request| health_watch(health, request)),
            );
            let mut builder = tonic::transport::Server::builder();
            if let Some(interval) = shared.options.keepalive {
                builder = builder.http2_keepalive_interval(Some(interval));
            }
            let incoming = accept(listener, tls, stop.clone());
            let serving = builder
                .add_routes(tonic::service::Routes::from(app))
                .serve_with_incoming_shutdown(incoming, stop.stopping());
            let grace = shared.options.grace_period;
            // Stopping: the health service says NOT_SERVING (and its watches end), calls in
            // flight have the grace period.
            let stopping = async {
                stop.stopping().await;
                shared.serving.send_replace(false);
                tokio::time::sleep(grace).await
            };
            tokio::select! {
                result = serving => {
                    if let Err(error) = result {
                        tracing::error!(%error, "gRPC server failed");
                    }
                }
                () = stopping => {
                    tracing::warn!(?grace, "gRPC calls still running after the grace period were dropped");
                    // Their connections live in tasks of their own: cut them.
                    stop.kill();
                }
                () = stop.killed() => {}
            }
        })
    }
}

/// The context a handler sees: the method's path and the call's ASCII metadata as headers.
fn context_of<T>(route: &str, request: &tonic::Request<T>) -> MessageContext {
    let headers = request
        .metadata()
        .iter()
        .filter_map(|entry| match entry {
            tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                Some((key.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            }
            tonic::metadata::KeyAndValueRef::Binary(..) => None,
        })
        .collect();
    MessageContext::new(route, headers)
}

/// The handler's reply for `request`, through its pipeline.
async fn handle<M: GrpcMethod>(
    shared: &Shared,
    route: &'static str,
    request: tonic::Request<M::Request>,
) -> Result<Reply, tonic::Status> {
    let context = context_of(M::PATH, &request);
    let data = serde_json::to_vec(request.get_ref())
        .map_err(|error| tonic::Status::internal(format!("request not representable: {error}")))?;
    let handler = shared
        .router
        .message_by_route(route)
        .ok_or_else(|| tonic::Status::unimplemented(format!("no handler for {}", M::PATH)))?;
    let make = || {
        run_request(
            &shared.router,
            handler,
            Bytes::from(data),
            Some(&context),
            M::PATH,
        )
    };
    Ok(within(Call::default(), make).await)
}

tokio::task_local! {
    /// What the running handler's call holds beside its payload: its request stream (what
    /// `#[grpc_stream_method]` handlers take) and the reply metadata the handler sets.
    static CALL: CallCell;
}

type CallCell = Arc<std::sync::Mutex<Call>>;

#[derive(Default)]
struct Call {
    requests: Option<Box<dyn std::any::Any + Send>>,
    reply_metadata: Vec<(String, String)>,
}

/// The request stream of the running `#[grpc_stream_method]` handler's call (empty if it is
/// taken twice, or outside a call).
pub(crate) fn take_requests<M: GrpcMethod>() -> GrpcRequests<M::Request> {
    CALL.try_with(|cell| cell.lock().ok()?.requests.take())
        .ok()
        .flatten()
        .and_then(|requests| requests.downcast::<GrpcRequests<M::Request>>().ok())
        .map_or_else(GrpcRequests::empty, |requests| *requests)
}

/// Adds `key: value` to the metadata of the reply of the gRPC call whose handler runs: see
/// [`set_reply_metadata`](super::set_reply_metadata).
pub(crate) fn add_reply_metadata(key: String, value: String) -> bool {
    CALL.try_with(|cell| {
        cell.lock()
            .map(|mut call| call.reply_metadata.push((key, value)))
            .is_ok()
    })
    .unwrap_or(false)
}

/// A handler's reply and the metadata it set for it.
struct Reply {
    reply: HandlerReply,
    metadata: Vec<(String, String)>,
}

fn add_metadata(map: &mut tonic::metadata::MetadataMap, entries: &[(String, String)]) {
    for (key, value) in entries {
        let parsed = tonic::metadata::MetadataKey::from_bytes(key.as_bytes());
        match (parsed, value.parse()) {
            (Ok(key), Ok(value)) => {
                map.append(key, value);
            }
            _ => tracing::warn!(%key, "reply metadata that is not ASCII left out"),
        }
    }
}

/// Runs the handler's reply `make` makes within `call` (set while it is made, for a stream
/// handler, and while it is awaited, for an `async fn`).
async fn within(call: Call, make: impl FnOnce() -> BoxFuture<'static, HandlerReply>) -> Reply {
    let cell: CallCell = Arc::new(std::sync::Mutex::new(call));
    let reply = CALL.sync_scope(Arc::clone(&cell), make);
    let reply = CALL.scope(Arc::clone(&cell), reply).await;
    let metadata = cell
        .lock()
        .map(|mut call| std::mem::take(&mut call.reply_metadata))
        .unwrap_or_default();
    Reply { reply, metadata }
}

/// The handler's reply for a call with a request stream, through its pipeline: the handler
/// takes the stream with [`take_requests`]; guards and interceptors see a `null` payload.
async fn handle_requests<M: GrpcMethod>(
    shared: &Shared,
    route: &'static str,
    request: tonic::Request<tonic::Streaming<M::Request>>,
) -> Result<Reply, tonic::Status> {
    let context = context_of(M::PATH, &request);
    let handler = shared
        .router
        .message_by_route(route)
        .ok_or_else(|| tonic::Status::unimplemented(format!("no handler for {}", M::PATH)))?;
    let call = Call {
        requests: Some(Box::new(GrpcRequests::new(request.into_inner()))),
        reply_metadata: Vec::new(),
    };
    let null = Bytes::from_static(b"null");
    let make = || run_request(&shared.router, handler, null, Some(&context), M::PATH);
    Ok(within(call, make).await)
}

/// A handler's reply as one response message (a stream's first value), with its metadata.
async fn one_response<M: GrpcMethod>(
    reply: Reply,
) -> Result<tonic::Response<M::Response>, tonic::Status> {
    let Reply { reply, metadata } = reply;
    let message = match reply {
        HandlerReply::One(Ok(json)) => response_of::<M>(&json),
        HandlerReply::One(Err(exception)) => Err(status_of(&exception)),
        HandlerReply::Stream(mut items) => match items.next().await {
            Some(Ok(json)) => response_of::<M>(&json),
            Some(Err(exception)) => Err(status_of(&exception)),
            None => Err(tonic::Status::internal("the handler sent no reply")),
        },
    };
    match message {
        Ok(message) => {
            let mut response = tonic::Response::new(message);
            add_metadata(response.metadata_mut(), &metadata);
            Ok(response)
        }
        Err(mut status) => {
            add_metadata(status.metadata_mut(), &metadata);
            Err(status)
        }
    }
}

/// A server stream's messages, the last item an error if it ends with one.
type Responses<M> = BoxStream<'static, Result<<M as GrpcMethod>::Response, tonic::Status>>;

/// A handler's reply as a stream of response messages, ended by its error if any, with its
/// metadata.
fn response_stream<M: GrpcMethod>(
    reply: Reply,
) -> Result<tonic::Response<Responses<M>>, tonic::Status> {
    let Reply { reply, metadata } = reply;
    let items = match reply {
        HandlerReply::One(Ok(json)) => {
            futures_util::stream::iter([response_of::<M>(&json)]).boxed()
        }
        HandlerReply::One(Err(exception)) => {
            let mut status = status_of(&exception);
            add_metadata(status.metadata_mut(), &metadata);
            return Err(status);
        }
        HandlerReply::Stream(items) => items
            .map(|item| match item {
                Ok(json) => response_of::<M>(&json),
                Err(exception) => Err(status_of(&exception)),
            })
            .boxed(),
    };
    let mut response = tonic::Response::new(items);
    add_metadata(response.metadata_mut(), &metadata);
    Ok(response)
}

/// A handler's JSON value as the method's response message.
fn response_of<M: GrpcMethod>(json: &[u8]) -> Result<M::Response, tonic::Status> {
    serde_json::from_slice(json).map_err(|error| {
        tracing::error!(path = M::PATH, %error, "a handler's reply is not the method's response message");
        tonic::Status::internal("Internal server error")
    })
}

fn grpc<M: GrpcMethod>(
    shared: &Shared,
) -> tonic::server::Grpc<ProstCodec<M::Response, M::Request>> {
    tonic::server::Grpc::new(ProstCodec::default()).apply_max_message_size_config(
        Some(shared.options.max_receive_message_length),
        Some(shared.options.max_send_message_length),
    )
}

struct Method<M> {
    shared: Arc<Shared>,
    route: &'static str,
    _method: std::marker::PhantomData<fn() -> M>,
}

/// One call of method `M`, as its kind of streaming says.
async fn serve<M: GrpcMethod>(
    shared: Arc<Shared>,
    route: &'static str,
    request: axum::extract::Request,
) -> axum::response::Response {
    let mut grpc = grpc::<M>(&shared);
    let method = Method::<M> {
        shared,
        route,
        _method: std::marker::PhantomData,
    };
    let response = match (M::CLIENT_STREAMING, M::SERVER_STREAMING) {
        (false, false) => grpc.unary(method, request).await,
        (false, true) => grpc.server_streaming(method, request).await,
        (true, false) => grpc.client_streaming(method, request).await,
        (true, true) => grpc.streaming(method, request).await,
    };
    too_large_is_resource_exhausted(response.map(axum::body::Body::new))
}

impl<M: GrpcMethod> UnaryService<M::Request> for Method<M> {
    type Response = M::Response;
    type Future = BoxFuture<'static, Result<tonic::Response<M::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<M::Request>) -> Self::Future {
        let (shared, route) = (Arc::clone(&self.shared), self.route);
        Box::pin(
            async move { one_response::<M>(handle::<M>(&shared, route, request).await?).await },
        )
    }
}

impl<M: GrpcMethod> ServerStreamingService<M::Request> for Method<M> {
    type Response = M::Response;
    type ResponseStream = BoxStream<'static, Result<M::Response, tonic::Status>>;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<M::Request>) -> Self::Future {
        let (shared, route) = (Arc::clone(&self.shared), self.route);
        Box::pin(async move { response_stream::<M>(handle::<M>(&shared, route, request).await?) })
    }
}

impl<M: GrpcMethod> ClientStreamingService<M::Request> for Method<M> {
    type Response = M::Response;
    type Future = BoxFuture<'static, Result<tonic::Response<M::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<M::Request>>) -> Self::Future {
        let (shared, route) = (Arc::clone(&self.shared), self.route);
        Box::pin(async move {
            one_response::<M>(handle_requests::<M>(&shared, route, request).await?).await
        })
    }
}

impl<M: GrpcMethod> StreamingService<M::Request> for Method<M> {
    type Response = M::Response;
    type ResponseStream = BoxStream<'static, Result<M::Response, tonic::Status>>;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<M::Request>>) -> Self::Future {
        let (shared, route) = (Arc::clone(&self.shared), self.route);
        Box::pin(async move {
            response_stream::<M>(handle_requests::<M>(&shared, route, request).await?)
        })
    }
}

/// The full names of the services whose methods `router` serves.
fn served_services(router: &MessageRouter) -> Vec<String> {
    let mut services: Vec<String> = router
        .grpc_routes()
        .iter()
        .filter_map(|route| route.path.strip_prefix('/')?.split_once('/'))
        .map(|(service, _)| service.to_owned())
        .collect();
    services.sort_unstable();
    services.dedup();
    services
}

impl Shared {
    /// The health of `service` (`""`: the server's), or `None` for a service not served.
    fn health_of(&self, service: &str) -> Option<ServingStatus> {
        let known = service.is_empty()
            || service == Health::NAME
            || self
                .services
                .binary_search_by(|s| s.as_str().cmp(service))
                .is_ok();
        known.then(|| match *self.serving.borrow() {
            true => ServingStatus::Serving,
            false => ServingStatus::NotServing,
        })
    }
}

struct HealthService(Arc<Shared>);

async fn health_check(
    shared: Arc<Shared>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let mut grpc =
        tonic::server::Grpc::new(ProstCodec::<HealthCheckResponse, HealthCheckRequest>::default());
    grpc.unary(HealthService(shared), request)
        .await
        .map(axum::body::Body::new)
}

impl UnaryService<HealthCheckRequest> for HealthService {
    type Response = HealthCheckResponse;
    type Future = std::future::Ready<Result<tonic::Response<HealthCheckResponse>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<HealthCheckRequest>) -> Self::Future {
        let service = &request.get_ref().service;
        std::future::ready(match self.0.health_of(service) {
            Some(status) => Ok(tonic::Response::new(HealthCheckResponse {
                status: status as i32,
            })),
            None => Err(tonic::Status::not_found(format!(
                "unknown service {service}"
            ))),
        })
    }
}

async fn health_watch(
    shared: Arc<Shared>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let mut grpc =
        tonic::server::Grpc::new(ProstCodec::<HealthCheckResponse, HealthCheckRequest>::default());
    grpc.server_streaming(HealthService(shared), request)
        .await
        .map(axum::body::Body::new)
}

impl ServerStreamingService<HealthCheckRequest> for HealthService {
    type Response = HealthCheckResponse;
    type ResponseStream = BoxStream<'static, Result<HealthCheckResponse, tonic::Status>>;
    type Future = std::future::Ready<Result<tonic::Response<Self::ResponseStream>, tonic::Status>>;

    /// The state now, then each change; a service not served is `SERVICE_UNKNOWN` (and the
    /// stream stays open, as the protocol says). The stream ends once the server stops
    /// serving, so a watcher does not hold a shutdown up.
    fn call(&mut self, request: tonic::Request<HealthCheckRequest>) -> Self::Future {
        let shared = Arc::clone(&self.0);
        let service = request.into_inner().service;
        let changes = shared.serving.subscribe();
        let states = futures_util::stream::unfold(
            (shared, changes, service, true),
            |(shared, mut changes, service, first)| async move {
                if !first {
                    if !*changes.borrow_and_update() {
                        return None;
                    }
                    changes.changed().await.ok()?;
                }
                changes.borrow_and_update();
                let status = shared
                    .health_of(&service)
                    .unwrap_or(ServingStatus::ServiceUnknown);
                let reply = HealthCheckResponse {
                    status: status as i32,
                };
                Some((Ok(reply), (shared, changes, service, false)))
            },
        );
        std::future::ready(Ok(tonic::Response::new(states.boxed())))
    }
}

/// A request over the size limit is `RESOURCE_EXHAUSTED`, as grpc-js (Nest) and the gRPC
/// spec say; tonic's decoder says `OUT_OF_RANGE`. Its answer carries the status in its
/// headers (no message was read), where this rewrites it.
fn too_large_is_resource_exhausted(
    mut response: axum::response::Response,
) -> axum::response::Response {
    let headers = response.headers_mut();
    let too_large = headers.get("grpc-status").is_some_and(|s| s == "11")
        && headers
            .get("grpc-message")
            .map(|m| percent_encoding::percent_decode(m.as_bytes()).decode_utf8_lossy())
            .is_some_and(|m| m.starts_with("Error, decoded message length too large"));
    if too_large {
        headers.insert("grpc-status", axum::http::HeaderValue::from_static("8"));
    }
    response
}

/// The connections of `listener`, each ready for HTTP/2 (after its TLS handshake, made
/// beside the accept loop so a slow client holds up no one), until the server stops.
fn accept(
    listener: tokio::net::TcpListener,
    #[cfg(feature = "tls")] tls: Option<tokio_rustls::TlsAcceptor>,
    #[cfg(not(feature = "tls"))] _tls: Option<()>,
    stop: ShutdownHandle,
) -> impl futures_core::Stream<Item = std::io::Result<Killable>> {
    let (ready, connections) = tokio::sync::mpsc::channel::<Killable>(64);
    tokio::spawn(async move {
        loop {
            let (socket, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors and the like: wait a moment, as tonic does.
                        tracing::warn!(%error, "gRPC server cannot accept");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stop.stopping() => return,
            };
            let _ = socket.set_nodelay(true);
            let hard = stop.hard_token().clone();
            #[cfg(feature = "tls")]
            if let Some(acceptor) = tls.clone() {
                let ready = ready.clone();
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(socket));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            let io = Io::Tls(Box::new(stream));
                            let _ = ready.send(Killable::new(io, hard)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, "gRPC TLS handshake failed"),
                        Err(_) => tracing::debug!("gRPC TLS handshake timed out"),
                    }
                });
                continue;
            }
            if ready
                .send(Killable::new(Io::Plain(socket), hard))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    futures_util::stream::unfold(connections, |mut connections| async move {
        let connection = connections.recv().await?;
        Some((Ok(connection), connections))
    })
}

/// How long a client has for its TLS handshake.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// A connection's socket, plain or TLS.
enum Io {
    Plain(tokio::net::TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>),
}

impl Io {
    fn tcp(&self) -> &tokio::net::TcpStream {
        match self {
            Io::Plain(socket) => socket,
            #[cfg(feature = "tls")]
            Io::Tls(stream) => stream.get_ref().0,
        }
    }
}

/// One body for each `AsyncRead`/`AsyncWrite` method over both kinds of socket.
macro_rules! either {
    ($io:expr, $socket:ident => $call:expr) => {
        match $io {
            Io::Plain($socket) => $call,
            #[cfg(feature = "tls")]
            Io::Tls($socket) => $call,
        }
    };
}

/// A connection that fails its reads and writes once the server is killed, so its task (which
/// tonic spawns, beyond the reach of the serve future) ends and the socket closes at once, as
/// if the process had died.
struct Killable {
    io: Io,
    killed: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl Killable {
    fn new(io: Io, hard: tokio_util::sync::CancellationToken) -> Self {
        Killable {
            io,
            killed: Box::pin(hard.cancelled_owned()),
        }
    }

    fn check(&mut self, cx: &mut std::task::Context<'_>) -> std::io::Result<()> {
        match self.killed.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => Err(std::io::ErrorKind::ConnectionReset.into()),
            std::task::Poll::Pending => Ok(()),
        }
    }
}

impl tokio::io::AsyncRead for Killable {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if let Err(error) = self.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        either!(&mut self.io, io => std::pin::Pin::new(io).poll_read(cx, buf))
    }
}

impl tokio::io::AsyncWrite for Killable {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if let Err(error) = self.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        either!(&mut self.io, io => std::pin::Pin::new(io).poll_write(cx, buf))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        either!(&mut self.io, io => std::pin::Pin::new(io).poll_flush(cx))
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        either!(&mut self.io, io => std::pin::Pin::new(io).poll_shutdown(cx))
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if let Err(error) = self.check(cx) {
            return std::task::Poll::Ready(Err(error));
        }
        either!(&mut self.io, io => std::pin::Pin::new(io).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        either!(&self.io, io => io.is_write_vectored())
    }
}

impl tonic::transport::server::Connected for Killable {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.tcp().connect_info()
    }
}
