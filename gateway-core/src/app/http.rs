//! [`NestApplication`]: the HTTP application, its app-wide settings (Nest's `app.use..`
//! calls) and its serve path.

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, Method};

use axum::Router;
use tokio::net::{TcpListener, ToSocketAddrs};
#[cfg(feature = "compression")]
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
#[cfg(feature = "compression")]
use tower_http::compression::CompressionLayer;
use tower_http::cors::{self, CorsLayer};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::edge::{Edge, SECURITY_HEADERS};
use super::microservice::ConnectedMicroservice;
use super::prefix::{GlobalPrefix, GlobalPrefixOptions};
use super::serve::HttpLimits;
use super::settings::{RequestSettings, WithSettings};
use super::{BootError, HybridAppOptions};
use crate::di::Container;
use crate::http::{
    global_filters, nest_defaults, nest_fallbacks, ApiVersion, BodyLimit, CanActivate, DynFilter,
    DynGuard, DynInterceptor, ExceptionFilter, GlobalGuards, GlobalInterceptors, MakeId,
    NestInterceptor, Routes, TrustProxy, ValidationOptions, VersioningOptions, REQUEST_ID_HEADER,
};
use crate::server::{MessageRouter, RpcEdge, ShutdownHandle, Transport};

/// A booted app. Nest's `INestApplication`.
pub struct NestApplication {
    routes: Routes,
    /// Plain axum routes merged in ([`merge`](Self::merge)).
    merged: Router,
    versioning: Option<Arc<VersioningOptions>>,
    /// The message handlers of the app's controllers, for connected microservices.
    messages: MessageRouter,
    container: Container,
    microservices: Vec<ConnectedMicroservice>,
    running: Vec<(ShutdownHandle, tokio::task::JoinHandle<()>)>,
    global_guards: Vec<Arc<dyn DynGuard>>,
    global_interceptors: Vec<Arc<dyn DynInterceptor>>,
    global_filters: Vec<Arc<dyn DynFilter>>,
    layers: Vec<UserLayer>,
    edge: Edge,
    prefix: Option<GlobalPrefix>,
    limits: HttpLimits,
}

/// A user's tower layer, applied to the router at assembly.
type UserLayer = Box<dyn FnOnce(Router) -> Router + Send>;

impl std::fmt::Debug for NestApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestApplication").finish_non_exhaustive()
    }
}

impl NestApplication {
    pub(crate) fn new(routes: Routes, messages: MessageRouter, container: Container) -> Self {
        NestApplication {
            routes,
            merged: Router::new(),
            versioning: None,
            messages,
            container,
            microservices: Vec::new(),
            running: Vec::new(),
            global_guards: Vec::new(),
            global_interceptors: Vec::new(),
            global_filters: Vec::new(),
            layers: Vec::new(),
            edge: Edge::default(),
            prefix: None,
            limits: HttpLimits::default(),
        }
    }

    /// The routes, the global guards and where each route is served: what the OpenAPI
    /// document describes.
    #[cfg(feature = "openapi")]
    pub(crate) fn documented(&self) -> crate::openapi::Served<'_> {
        crate::openapi::Served {
            routes: &self.routes,
            global_guards: !self.global_guards.is_empty(),
            versioning: self.versioning.as_deref(),
            prefix: self.prefix.as_ref(),
        }
    }

    /// The app's container: Nest's `app.get(UsersService)` is
    /// `app.container().get::<Arc<UsersService>>()`, `app.get('USERS_SERVICE')` is
    /// `.get_token::<ClientProxy>("USERS_SERVICE")`.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Serves the app's `#[message_pattern]` and `#[event_pattern]` handlers over `transport`
    /// too, once [`start_all_microservices`](Self::start_all_microservices) is called: a
    /// hybrid application, one process and one container for HTTP routes and message handlers
    /// (in one controller if you like). Nest's `app.connectMicroservice(options)`; call it once
    /// per transport. As in Nest, the app's global guards, interceptors and filters do not
    /// apply to the message handlers unless asked
    /// ([`connect_microservice_with`](Self::connect_microservice_with)); controller and handler
    /// ones always do, and the microservice takes global ones of its own.
    pub fn connect_microservice(&mut self, transport: Transport) -> &mut ConnectedMicroservice {
        self.connect_microservice_with(transport, HybridAppOptions::default())
    }

    /// [`connect_microservice`](Self::connect_microservice) with Nest's hybrid options:
    /// `app.connectMicroservice(options, { inheritAppConfig: true })` is
    /// `app.connect_microservice_with(transport, HybridAppOptions { inherit_app_config: true })`.
    pub fn connect_microservice_with(
        &mut self,
        transport: Transport,
        options: HybridAppOptions,
    ) -> &mut ConnectedMicroservice {
        self.microservices
            .push(ConnectedMicroservice::new(transport, options));
        self.microservices.last_mut().expect("just pushed")
    }

    /// Binds or connects every connected microservice and starts serving it in the background
    /// (Nest's `await app.startAllMicroservices()`). They stop, gracefully, when the app's
    /// [`serve`](Self::serve) or [`listen`](Self::listen) ends.
    pub async fn start_all_microservices(&mut self) -> Result<(), BootError> {
        for connected in std::mem::take(&mut self.microservices) {
            let app = RpcEdge {
                guards: self.global_guards.clone(),
                interceptors: self.global_interceptors.clone(),
                filters: self.global_filters.clone(),
            };
            let validation = self.edge.validation;
            let (transport, messages) = connected.router(self.messages.clone(), app, validation);
            let server = transport.start(messages).await?;
            tracing::info!(target: "NestMicroservice", transport = %transport.describe(), "Nest microservice successfully started");
            let stop = server.shutdown_handle();
            self.running.push((stop, tokio::spawn(server.serve())));
        }
        Ok(())
    }

    /// The app as an axum `Router`, with Nest's handling of unknown routes, panics and
    /// trailing slashes: to nest it in a bigger axum app or serve it yourself. It is the same
    /// service [`serve`](Self::serve) runs, wrapped once (its routes carry no per-route
    /// layer of ours). Served this way, nothing tells the app when it stops, so its shutdown
    /// hooks (see [`lifecycle`](crate::lifecycle)) do not run; [`serve`](Self::serve) and
    /// [`listen`](Self::listen) run them.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self.into_service())
    }

    /// Merges plain axum routes into the app (`Router::merge`): they are served on the same
    /// path as the controllers' routes, with Nest's fallbacks, panics, app-wide settings and
    /// [`layer`](Self::layer)s. (Guards, interceptors and filters run on controllers' routes;
    /// a plain axum handler is its own pipeline.)
    pub fn merge(&mut self, router: Router) -> &mut Self {
        self.merged = std::mem::take(&mut self.merged).merge(router);
        self
    }

    /// Records Prometheus metrics (feature `metrics`) for every route and every client call
    /// of the process, served at `GET /metrics` (public: outside the guards, as an
    /// orchestrator's scraper has no token). See [`metrics`](crate::metrics).
    #[cfg(feature = "metrics")]
    pub fn enable_metrics(&mut self) -> Result<&mut Self, crate::metrics::MetricsError> {
        let handle = crate::metrics::enable()?;
        Ok(self.merge(crate::metrics::route(handle)))
    }

    /// [`enable_metrics`](Self::enable_metrics), with `GET /metrics` served on `listener`, a
    /// port of its own (kept off the public one), until the app stops.
    #[cfg(feature = "metrics")]
    pub fn enable_metrics_on(
        &mut self,
        listener: TcpListener,
    ) -> Result<&mut Self, crate::metrics::MetricsError> {
        let handle = crate::metrics::enable()?;
        let stop = ShutdownHandle::default();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, crate::metrics::route(handle))
                .with_graceful_shutdown(async move { stopped.stopping().await });
            if let Err(error) = served.await {
                tracing::error!(%error, "the metrics port stopped");
            }
        });
        self.running.push((stop, task));
        Ok(self)
    }

    /// Adds a tower layer around every route (axum's `Router::layer`), inside the app-wide
    /// CORS, compression, request-id and security-header layers, outside the global filters.
    pub fn layer<L>(&mut self, layer: L) -> &mut Self
    where
        L: tower_layer::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower_service::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower_service::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Box::new(move |router: Router| router.layer(layer)));
        self
    }

    /// The whole app as one tower service: what [`serve`](Self::serve) runs and
    /// [`into_router`](Self::into_router) wraps. The settings and the panic catcher wrap the
    /// whole router once, instead of once per route (a per-route layer costs a boxed future
    /// per request); Express routes are not strict, so `/users/42/` reaches `/users/42`
    /// (one slash trimmed before routing, as Express 5 allows).
    fn into_service(self) -> WithSettings<Router> {
        let (router, settings) = self.assemble();
        WithSettings {
            inner: router,
            settings: Arc::new(settings),
        }
    }

    /// The router with Nest's fallbacks and the edge layers, and the settings every request
    /// carries. Global filters must see panics: with any, the panic layer sits inside them
    /// (per route); otherwise [`WithSettings`] alone catches them, around the whole router.
    fn assemble(self) -> (Router, RequestSettings) {
        let panics_inside = !self.global_filters.is_empty();
        let settings = RequestSettings {
            guards: (!self.global_guards.is_empty())
                .then(|| GlobalGuards(self.global_guards.into())),
            interceptors: (!self.global_interceptors.is_empty())
                .then(|| GlobalInterceptors(self.global_interceptors.into())),
            body_limit: self.edge.body_limit.map(BodyLimit),
            body_read_timeout: (self.limits.body_read_timeout
                != crate::http::DEFAULT_BODY_READ_TIMEOUT)
                .then_some(crate::http::BodyReadTimeout(self.limits.body_read_timeout)),
            validation: self.edge.validation,
            trust_proxy: self.edge.trust_proxy.map(TrustProxy),
        };
        let versions = self.versioning.as_ref().map(|v| {
            let mut known: Vec<String> = Vec::new();
            for meta in self.routes.metas() {
                for version in v.effective(meta.versions, meta.class_versions) {
                    if let ApiVersion::Is(name) = version {
                        if !known.iter().any(|k| k == name) {
                            known.push(name.to_string());
                        }
                    }
                }
            }
            (v.clone(), known)
        });
        let routes = self
            .routes
            .into_router(self.versioning.as_ref())
            .merge(self.merged);
        let mut router = if panics_inside {
            nest_defaults(routes)
        } else {
            nest_fallbacks(routes)
        };
        if let Some((options, known)) = versions {
            router = crate::http::version::apply(router, options, known);
        }
        if let Some(prefix) = self.prefix {
            router = prefix.apply(router);
        }
        if !self.global_filters.is_empty() {
            // The last registered is asked first, as Nest asks them.
            let filters: Arc<[Arc<dyn DynFilter>]> =
                self.global_filters.into_iter().rev().collect();
            router = router.layer(axum::middleware::from_fn_with_state(
                filters,
                global_filters,
            ));
        }
        for layer in self.layers {
            router = layer(router);
        }
        if self.edge.security_headers {
            for (name, value) in SECURITY_HEADERS {
                router = router.layer(SetResponseHeaderLayer::if_not_present(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                ));
            }
        }
        #[cfg(feature = "compression")]
        if self.edge.compression {
            let when = SizeAbove::new(1024)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE);
            router = router.layer(CompressionLayer::new().compress_when(when));
        }
        if self.edge.request_id {
            router = router
                .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
                .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeId::new()));
        }
        if let Some(cors) = self.edge.cors {
            router = router.layer(cors);
        }
        (router, settings)
    }

    /// CORS with the defaults Nest's `app.enableCors()` gets from the `cors` package: any
    /// origin, methods GET, HEAD, PUT, PATCH, POST, DELETE, and the request's headers allowed.
    pub fn enable_cors(&mut self) -> &mut Self {
        let cors = CorsLayer::new()
            .allow_origin(cors::Any)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::PATCH,
                Method::POST,
                Method::DELETE,
            ])
            .allow_headers(cors::AllowHeaders::mirror_request());
        self.enable_cors_with(cors)
    }

    /// CORS configured with tower-http's [`CorsLayer`] (origins, credentials, max age...).
    pub fn enable_cors_with(&mut self, cors: CorsLayer) -> &mut Self {
        self.edge.cors = Some(cors);
        self
    }

    /// gzip for responses over 1 kb when the client accepts it, as Express's `compression()`
    /// (feature `compression`).
    #[cfg(feature = "compression")]
    pub fn enable_compression(&mut self) -> &mut Self {
        self.edge.compression = true;
        self
    }

    /// Helmet's default security headers on every response (a route's own value wins).
    pub fn use_security_headers(&mut self) -> &mut Self {
        self.edge.security_headers = true;
        self
    }

    /// The HTTP server's limits: the header deadline (slowloris and idle keep-alive), the
    /// largest head (431 above), the most headers, the most open connections. See
    /// [`HttpLimits`] for the defaults and Node's.
    pub fn set_http_limits(&mut self, limits: HttpLimits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The largest JSON body a `#[body]` accepts (default 100 kb, as Nest's body parser);
    /// larger is 413 `{"statusCode":413,"message":"request entity too large"}`.
    pub fn set_body_limit(&mut self, bytes: usize) -> &mut Self {
        self.edge.body_limit = Some(bytes);
        self
    }

    /// Request ids: a request's `x-request-id` is kept (or one is made), returned on the
    /// response, logged by [`LoggingInterceptor`](crate::http::LoggingInterceptor), and given
    /// to routes that take a [`RequestId`](crate::http::RequestId) argument, to pass
    /// downstream.
    pub fn enable_request_id(&mut self) -> &mut Self {
        self.edge.request_id = true;
        self
    }

    /// Validation options for every `Valid<T>` body. Nest's
    /// `app.useGlobalPipes(new ValidationPipe({ forbidNonWhitelisted: true }))`.
    pub fn use_validation(&mut self, options: ValidationOptions) -> &mut Self {
        self.edge.validation = Some(options);
        self
    }

    /// Runs `interceptor` around every route (outside controller and route interceptors).
    /// Nest's `app.useGlobalInterceptors(..)`.
    pub fn use_global_interceptors(&mut self, interceptor: impl NestInterceptor) -> &mut Self {
        self.global_interceptors.push(Arc::new(interceptor));
        self
    }

    /// Offers every error response's exception to `filter` (after route and controller
    /// filters; unknown routes and panics included). Nest's `app.useGlobalFilters(..)`.
    pub fn use_global_filters(&mut self, filter: impl ExceptionFilter) -> &mut Self {
        self.global_filters.push(Arc::new(filter));
        self
    }

    /// `app.enableVersioning({ type, defaultVersion })`: routes and controllers marked
    /// `#[version("1")]` serve the requests that name that version (`/v1/users`, a header, the
    /// `Accept` media type, or a function of the request: see [`VersioningOptions`]); two
    /// routes may then share a path when their versions differ. Without it, versions are
    /// ignored, as Nest ignores them.
    pub fn enable_versioning(&mut self, options: VersioningOptions) -> &mut Self {
        self.versioning = Some(Arc::new(options));
        self
    }

    /// Express's `app.set('trust proxy', hops)`: behind `hops` proxies (a load balancer is
    /// one), the client's address is read from `X-Forwarded-For`, so the throttler counts
    /// clients, not the balancer. Trust only as many hops as you run: a client can write any
    /// `X-Forwarded-For` of its own.
    pub fn set_trust_proxy(&mut self, hops: u32) -> &mut Self {
        self.edge.trust_proxy = Some(hops);
        self
    }

    /// `app.setGlobalPrefix('api')`: every route under `/api` (`GET /api/users/42`); the route
    /// table logged at boot shows the controllers' paths, and `Cannot GET` messages the path
    /// as requested.
    pub fn set_global_prefix(&mut self, prefix: &str) -> &mut Self {
        self.set_global_prefix_with(prefix, GlobalPrefixOptions::default())
    }

    /// `app.setGlobalPrefix('api', { exclude: ['health'] })`: the excluded routes are served
    /// without the prefix, and only there.
    pub fn set_global_prefix_with(
        &mut self,
        prefix: &str,
        options: GlobalPrefixOptions,
    ) -> &mut Self {
        self.prefix = Some(GlobalPrefix::new(prefix, options));
        self
    }

    /// Guards every route (before controller and route guards), and the message handlers of
    /// microservices connected with `inherit_app_config`. Nest's `app.useGlobalGuards(..)`.
    pub fn use_global_guards(&mut self, guard: impl CanActivate) -> &mut Self {
        self.global_guards.push(Arc::new(guard));
        self
    }

    /// Serves on every interface at `port` (as Nest's `app.listen(port)` does) until Ctrl-C or
    /// SIGTERM, then lets in-flight requests finish. The lifecycle's shutdown hooks run with
    /// the signal's name (Nest's `app.enableShutdownHooks()`, always on here).
    pub async fn listen(self, port: u16) -> Result<(), BootError> {
        let listener = bind(("0.0.0.0", port), port.to_string()).await?;
        let served = self
            .serve_until_signal(listener, async {
                Some(crate::signal::shutdown_signal_name().await)
            })
            .await;
        #[cfg(feature = "otlp")]
        crate::otlp::flush_installed().await;
        served
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish.
    /// Around the stop, the lifecycle's shutdown hooks run (see [`lifecycle`](crate::lifecycle)),
    /// with no signal.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BootError> {
        self.serve_until_signal(listener, async {
            shutdown.await;
            None
        })
        .await
    }

    /// Nest's `app.enableShutdownHooks()`: here the shutdown hooks always run when the app
    /// stops (on `listen`'s SIGINT/SIGTERM, `serve`'s shutdown future, or [`close`](Self::close)),
    /// so this only says so.
    pub fn enable_shutdown_hooks(&mut self) -> &mut Self {
        self
    }

    /// Nest's `app.close()`, for an app that is not served (or whose serving was given up):
    /// the shutdown hooks run, and the microservices started with
    /// [`start_all_microservices`](Self::start_all_microservices) stop and drain.
    pub async fn close(mut self) {
        let hooks = self.container.hooks();
        hooks.before_stop(None).await;
        stop_all(std::mem::take(&mut self.running)).await;
        hooks.after_stop(None).await;
    }

    async fn serve_until_signal(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = Option<&'static str>> + Send + 'static,
    ) -> Result<(), BootError> {
        let addr = listener.local_addr().ok();
        tracing::info!(target: "NestApplication", ?addr, "Nest application successfully started");
        let running = std::mem::take(&mut self.running);
        let hooks = self.container.hooks();
        let signal = Arc::new(std::sync::OnceLock::<Option<&'static str>>::new());
        let limits = self.limits.clone();
        let service = self.into_service();
        let stopping = {
            let (hooks, signal) = (hooks.clone(), signal.clone());
            async move {
                let name = shutdown.await;
                let _ = signal.set(name);
                // Nest: destroy and before-shutdown hooks, then the server stops.
                hooks.before_stop(name).await;
            }
        };
        super::serve::serve(listener, service, limits, stopping).await;
        stop_all(running).await;
        hooks.after_stop(signal.get().copied().flatten()).await;
        Ok(())
    }
}

/// Stops the started microservices and waits until they have drained.
async fn stop_all(running: Vec<(ShutdownHandle, tokio::task::JoinHandle<()>)>) {
    for (stop, _) in &running {
        stop.shutdown();
    }
    for (_, task) in running {
        let _ = task.await;
    }
}

/// A listener on `addr` with the server's listen queue (see [`HttpLimits`]), for
/// [`NestApplication::serve`]: what [`listen`](NestApplication::listen) binds. (tokio's
/// `TcpListener::bind` asks for a queue of 1024.)
pub async fn bind_listener(
    addr: impl ToSocketAddrs + std::fmt::Display,
) -> Result<TcpListener, BootError> {
    let shown = addr.to_string();
    bind(addr, shown).await
}

async fn bind(addr: impl ToSocketAddrs, shown: String) -> Result<TcpListener, BootError> {
    let failed = |source| BootError::Serve {
        addr: shown.clone(),
        source,
    };
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await.map_err(failed)? {
        match super::serve::bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some(error),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind")
    })))
}
