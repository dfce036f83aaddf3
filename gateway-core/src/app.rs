//! [`NestFactory`] and [`NestApplication`]: booting a module tree into an HTTP app.
//!
//! Boot does all the checking so requests do none: every controller and provider is built
//! (or the boot fails naming the class, field, token and module), routes that collide across
//! controllers are refused naming both handlers, a listed controller with no route and an app
//! with no route at all are refused, and the route table is logged as Nest logs it
//! (`Mapped {/users/:id, GET} route`).

use std::future::Future;

use axum::Router;
use axum::ServiceExt;
use tokio::net::{TcpListener, ToSocketAddrs};
use tower_http::normalize_path::NormalizePath;

use crate::di::{DiError, Module, ModuleBuilder, Registry, Resolver};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{self, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use axum::response::Response;

use crate::http::{
    global_filters, nest_defaults, nest_fallbacks, on_panic, BodyLimit, CanActivate, DynFilter,
    DynGuard, DynInterceptor, ExceptionFilter, GlobalGuards, GlobalInterceptors, MakeId,
    NestInterceptor, RouteMeta, ValidationOptions, REQUEST_ID_HEADER,
};
use crate::server::MessageRouter;
use crate::transport::tcp::{ServerError, TcpServer};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

/// Why an app could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The dependency graph could not be built.
    #[error(transparent)]
    Di(#[from] DiError),
    /// Two handlers serve the same method and path.
    #[error("duplicate route {method} {path}: served by both {first} and {second}")]
    DuplicateRoute {
        /// The method.
        method: &'static str,
        /// The path, in Nest syntax.
        path: &'static str,
        /// `Controller::handler` registered first.
        first: String,
        /// `Controller::handler` registered second.
        second: String,
    },
    /// Two routes at the same place name their parameters differently (the router cannot
    /// hold both).
    #[error("routes {first_path} ({first}) and {second_path} ({second}) are the same path with different parameter names: use the same names")]
    ConflictingRoutes {
        /// The first route's path.
        first_path: &'static str,
        /// Its handler.
        first: String,
        /// The second route's path.
        second_path: &'static str,
        /// Its handler.
        second: String,
    },
    /// A module lists a controller that has no route.
    #[error("{controller} is listed in {module} but has no route: mark its methods with #[get(..)], #[post(..)], ...")]
    EmptyController {
        /// The controller.
        controller: &'static str,
        /// The module listing it.
        module: &'static str,
    },
    /// Two message handlers share a pattern.
    #[error("the pattern {route} has more than one #[message_pattern] handler")]
    DuplicatePattern {
        /// The normalized pattern.
        route: String,
    },
    /// No module lists a controller with something to serve (routes for an HTTP app,
    /// patterns for a microservice).
    #[error("{module} and its imports list no controller with anything to serve")]
    NoRoutes {
        /// The root module.
        module: &'static str,
    },
    /// The address could not be bound, or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// Nest's `NestFactory`.
pub struct NestFactory;

impl NestFactory {
    /// Builds the app for `M`: resolves every provider and controller and mounts every route.
    /// Nothing is served until [`NestApplication::listen`].
    pub async fn create<M: Module>() -> Result<NestApplication, BootError> {
        let (router, _) = boot::<M>(Kind::Http)?;
        Ok(NestApplication {
            router,
            global_guards: Vec::new(),
            global_interceptors: Vec::new(),
            global_filters: Vec::new(),
            edge: Edge::default(),
        })
    }

    /// Builds a microservice for `M`: every `#[message_pattern]` and `#[event_pattern]` of
    /// its controllers, served over `transport` by [`NestMicroservice::listen`]. Nest's
    /// `NestFactory.createMicroservice(AppModule, { transport, options })`.
    pub async fn create_microservice<M: Module>(
        transport: Transport,
    ) -> Result<NestMicroservice, BootError> {
        let (_, router) = boot::<M>(Kind::Microservice)?;
        Ok(NestMicroservice { router, transport })
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Http,
    Microservice,
}

/// Collects the module tree, checks it, builds every controller.
fn boot<M: Module>(kind: Kind) -> Result<(Router, MessageRouter), BootError> {
    let mut registry = Registry::default();
    M::configure(&mut ModuleBuilder::root::<M>(&mut registry));
    if let Some(error) = registry.errors.first() {
        return Err(error.clone().into());
    }
    let controllers = std::mem::take(&mut registry.controllers);
    // The cross-check: a controller compiled into the binary that no module lists is
    // usually a forgotten `controllers = [..]` entry. One that another module lists belongs
    // to another app built from the same crate (a service beside its gateway): fine.
    for registered in crate::http::registered_controllers() {
        let type_name = (registered.type_name)();
        if controllers.iter().any(|c| c.type_name == type_name) {
            continue;
        }
        match crate::http::module_listing(type_name) {
            Some(other) => tracing::debug!(
                controller = registered.meta.name,
                module = other,
                root = M::NAME,
                "controller of a module this app does not import: not served here"
            ),
            None => tracing::warn!(
                controller = registered.meta.name,
                module = M::NAME,
                "{} is a #[controller] but no module lists it: its routes are not served (add it to a module's `controllers = [..]`)",
                registered.meta.name
            ),
        }
    }
    let serves = |c: &crate::di::ControllerEntry| match kind {
        Kind::Http => !c.meta.routes.is_empty(),
        Kind::Microservice => !c.meta.patterns.is_empty(),
    };
    if let Some(empty) = controllers
        .iter()
        .find(|c| c.meta.routes.is_empty() && c.meta.patterns.is_empty())
    {
        return Err(BootError::EmptyController {
            controller: empty.meta.name,
            module: empty.module,
        });
    }
    if !controllers.iter().any(serves) {
        return Err(BootError::NoRoutes { module: M::NAME });
    }
    if kind == Kind::Http {
        check_routes(
            controllers
                .iter()
                .flat_map(|c| c.meta.routes.iter().map(move |r| (c.meta.name, r))),
        )?;
    }

    let mut resolver = Resolver::new(&registry);
    let mut router = Router::new();
    let mut messages = MessageRouter::new();
    for entry in controllers {
        resolver.in_module(entry.module);
        (router, messages) = (entry.mount)(&mut resolver, router, messages)?;
        if kind == Kind::Http && !entry.meta.routes.is_empty() {
            let prefix = if entry.meta.prefix.is_empty() {
                "/"
            } else {
                entry.meta.prefix
            };
            tracing::info!(target: "RoutesResolver", "{} {{{prefix}}}:", entry.meta.name);
            for route in entry.meta.routes {
                tracing::info!(target: "RouterExplorer", "Mapped {{{}, {}}} route", route.path, route.method);
            }
        }
    }
    if let Some(route) = messages.duplicate_routes().first() {
        return Err(BootError::DuplicatePattern {
            route: route.clone(),
        });
    }
    Ok((router, messages))
}

/// Replaces `:name` segments with `:`, so routes that collide compare equal.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with(':') { ":" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn check_routes<'a>(
    routes: impl Iterator<Item = (&'static str, &'a RouteMeta)>,
) -> Result<(), BootError> {
    let mut seen: Vec<(&'static str, &RouteMeta, String)> = Vec::new();
    for (controller, route) in routes {
        let route_shape = shape(route.path);
        for (other_controller, other, other_shape) in &seen {
            if *other_shape != route_shape {
                continue;
            }
            let first = format!("{other_controller}::{}", other.handler);
            let second = format!("{controller}::{}", route.handler);
            if other.path != route.path {
                return Err(BootError::ConflictingRoutes {
                    first_path: other.path,
                    first,
                    second_path: route.path,
                    second,
                });
            }
            if other.method == route.method {
                return Err(BootError::DuplicateRoute {
                    method: route.method,
                    path: route.path,
                    first,
                    second,
                });
            }
        }
        seen.push((controller, route, route_shape));
    }
    Ok(())
}

/// A booted app. Nest's `INestApplication`.
pub struct NestApplication {
    router: Router,
    global_guards: Vec<Arc<dyn DynGuard>>,
    global_interceptors: Vec<Arc<dyn DynInterceptor>>,
    global_filters: Vec<Arc<dyn DynFilter>>,
    edge: Edge,
}

/// The app-wide HTTP settings (Nest's `app.enableCors()`, `app.use(compression())`,
/// `app.use(helmet())`, the body parser's limit).
#[derive(Default)]
struct Edge {
    cors: Option<CorsLayer>,
    compression: bool,
    security_headers: bool,
    body_limit: Option<usize>,
    request_id: bool,
    validation: Option<ValidationOptions>,
}

/// Helmet's default headers (helmet 7/8), set unless a route set its own.
const SECURITY_HEADERS: [(&str, &str); 12] = [
    ("content-security-policy", "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

impl std::fmt::Debug for NestApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestApplication").finish_non_exhaustive()
    }
}

impl NestApplication {
    /// The app as an axum `Router`, with Nest's handling of unknown routes and panics: to
    /// nest it in a bigger axum app or serve it yourself. (Serving it yourself, wrap it in
    /// `tower_http::normalize_path::NormalizePath::trim_trailing_slash` to keep Express's
    /// non-strict trailing slashes, as [`serve`](Self::serve) does.)
    pub fn into_router(self) -> Router {
        let (router, settings) = self.assemble(true);
        let settings = Arc::new(settings);
        router.layer(axum::middleware::from_fn(
            move |mut request: axum::extract::Request, next: axum::middleware::Next| {
                settings.insert_into(&mut request);
                next.run(request)
            },
        ))
    }

    /// The router with Nest's fallbacks and the edge layers, and the settings every request
    /// carries. With `panics_inside`, the panic layer is a route layer (inside the edge
    /// layers); otherwise the caller wraps the whole service in one.
    fn assemble(self, panics_inside: bool) -> (Router, RequestSettings) {
        let settings = RequestSettings {
            guards: (!self.global_guards.is_empty())
                .then(|| GlobalGuards(self.global_guards.into())),
            interceptors: (!self.global_interceptors.is_empty())
                .then(|| GlobalInterceptors(self.global_interceptors.into())),
            body_limit: self.edge.body_limit.map(BodyLimit),
            validation: self.edge.validation,
        };
        let mut router = if panics_inside || !self.global_filters.is_empty() {
            nest_defaults(self.router)
        } else {
            nest_fallbacks(self.router)
        };
        if !self.global_filters.is_empty() {
            let filters: Arc<[Arc<dyn DynFilter>]> = self.global_filters.into();
            router = router.layer(axum::middleware::from_fn_with_state(
                filters,
                global_filters,
            ));
        }
        if self.edge.security_headers {
            for (name, value) in SECURITY_HEADERS {
                router = router.layer(SetResponseHeaderLayer::if_not_present(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                ));
            }
        }
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

    /// gzip for responses over 1 kb when the client accepts it, as Express's `compression()`.
    pub fn enable_compression(&mut self) -> &mut Self {
        self.edge.compression = true;
        self
    }

    /// Helmet's default security headers on every response (a route's own value wins).
    pub fn use_security_headers(&mut self) -> &mut Self {
        self.edge.security_headers = true;
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

    /// Guards every route (before controller and route guards). Nest's
    /// `app.useGlobalGuards(..)`.
    pub fn use_global_guards(&mut self, guard: impl CanActivate) -> &mut Self {
        self.global_guards.push(Arc::new(guard));
        self
    }

    /// Serves on every interface at `port` (as Nest's `app.listen(port)` does) until Ctrl-C or
    /// SIGTERM, then lets in-flight requests finish.
    pub async fn listen(self, port: u16) -> Result<(), BootError> {
        let listener = bind(("0.0.0.0", port), port.to_string()).await?;
        self.serve(listener, crate::signal::shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), BootError> {
        let addr = listener.local_addr().ok();
        tracing::info!(target: "NestApplication", ?addr, "Nest application successfully started");
        let failed = |source| BootError::Serve {
            addr: addr.map_or_else(String::new, |a| a.to_string()),
            source,
        };
        // Express routes are not strict: `/users/42/` reaches `/users/42`. The path has to be
        // normalized before routing, so this wraps the router instead of being a layer in it.
        if !self.global_filters.is_empty() {
            // Global filters must see panics: the panic layer stays inside them.
            let app = NormalizePath::trim_trailing_slash(self.into_router());
            let make = ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                std::net::SocketAddr,
            >(app);
            return axum::serve(listener, make)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(failed);
        }
        // The settings and the panic catcher wrap the whole router once, instead of once per
        // route (a per-route layer costs a boxed future per request).
        let (router, settings) = self.assemble(false);
        let app = NormalizePath::trim_trailing_slash(WithSettings {
            inner: router,
            settings: Arc::new(settings),
        });
        let make = ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app);
        axum::serve(listener, make)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(failed)
    }
}

/// What every request carries from the app's settings (global guards and interceptors, body
/// limit, validation options), as request extensions.
#[derive(Clone, Default)]
struct RequestSettings {
    guards: Option<GlobalGuards>,
    interceptors: Option<GlobalInterceptors>,
    body_limit: Option<BodyLimit>,
    validation: Option<ValidationOptions>,
}

impl RequestSettings {
    fn insert_into(&self, request: &mut axum::extract::Request) {
        let extensions = request.extensions_mut();
        if let Some(guards) = &self.guards {
            extensions.insert(guards.clone());
        }
        if let Some(interceptors) = &self.interceptors {
            extensions.insert(interceptors.clone());
        }
        if let Some(limit) = self.body_limit {
            extensions.insert(limit);
        }
        if let Some(validation) = self.validation {
            extensions.insert(validation);
        }
    }
}

/// Puts the app's [`RequestSettings`] into each request and answers a panicking handler with
/// Nest's 500, around the whole router: what per-route layers did, without a boxed future per
/// layer per request.
#[derive(Clone)]
struct WithSettings<S> {
    inner: S,
    settings: Arc<RequestSettings>,
}

type Caught = std::thread::Result<Result<Response, std::convert::Infallible>>;

fn answer_panics(caught: Caught) -> Result<Response, std::convert::Infallible> {
    caught.unwrap_or_else(|panic| Ok(on_panic(panic)))
}

impl<S> tower_service::Service<axum::extract::Request> for WithSettings<S>
where
    S: tower_service::Service<
        axum::extract::Request,
        Response = Response,
        Error = std::convert::Infallible,
    >,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Map<
        futures_util::future::CatchUnwind<std::panic::AssertUnwindSafe<S::Future>>,
        fn(Caught) -> Result<Response, std::convert::Infallible>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: axum::extract::Request) -> Self::Future {
        use futures_util::FutureExt;
        self.settings.insert_into(&mut request);
        std::panic::AssertUnwindSafe(self.inner.call(request))
            .catch_unwind()
            .map(answer_panics as fn(Caught) -> Result<Response, std::convert::Infallible>)
    }
}

async fn bind(addr: impl ToSocketAddrs, shown: String) -> Result<TcpListener, BootError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| BootError::Serve {
            addr: shown,
            source,
        })
}

/// How a microservice is reached. Nest's `Transport` with its options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Transport {
    /// Nest's `Transport.TCP` on `host:port`.
    Tcp(String),
    /// Nest's `Transport.NATS` through the NATS at `url`, in queue group `queue` if set
    /// (feature `nats`).
    #[cfg(feature = "nats")]
    Nats {
        /// `nats://host:port`.
        url: String,
        /// The queue group (Nest's `queue` option): instances in one group share the load.
        queue: Option<String>,
    },
    /// Nest's `Transport.REDIS` through the Redis at `url` (feature `redis`).
    #[cfg(feature = "redis")]
    Redis(String),
    /// Nest's `Transport.MQTT` through the broker at `url` (feature `mqtt`).
    #[cfg(feature = "mqtt")]
    Mqtt(String),
    /// Nest's `Transport.RMQ`: the queue `queue` on the broker at `url` (feature `rmq`).
    #[cfg(feature = "rmq")]
    Rmq {
        /// `amqp://user:password@host:port`.
        url: String,
        /// The queue the service consumes.
        queue: String,
    },
}

impl Transport {
    /// `{ transport: Transport.TCP, options: { host, port } }`.
    pub fn tcp(addr: impl Into<String>) -> Self {
        Transport::Tcp(addr.into())
    }

    /// `{ transport: Transport.NATS, options: { servers: [url] } }`: every instance gets every
    /// message (Nest's default).
    #[cfg(feature = "nats")]
    pub fn nats(url: impl Into<String>) -> Self {
        Transport::Nats {
            url: url.into(),
            queue: None,
        }
    }

    /// `{ transport: Transport.RMQ, options: { urls: [url], queue } }`.
    #[cfg(feature = "rmq")]
    pub fn rmq(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Transport::Rmq {
            url: url.into(),
            queue: queue.into(),
        }
    }

    /// `{ transport: Transport.MQTT, options: { url } }`.
    #[cfg(feature = "mqtt")]
    pub fn mqtt(url: impl Into<String>) -> Self {
        Transport::Mqtt(url.into())
    }

    /// `{ transport: Transport.REDIS, options: { host, port } }`.
    #[cfg(feature = "redis")]
    pub fn redis(url: impl Into<String>) -> Self {
        Transport::Redis(url.into())
    }

    /// `{ transport: Transport.NATS, options: { servers: [url], queue } }`: instances share
    /// the messages, each handled once.
    #[cfg(feature = "nats")]
    pub fn nats_queue(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Transport::Nats {
            url: url.into(),
            queue: Some(queue.into()),
        }
    }
}

/// A booted microservice. Nest's `INestMicroservice`.
pub struct NestMicroservice {
    router: MessageRouter,
    transport: Transport,
}

impl std::fmt::Debug for NestMicroservice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestMicroservice")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// A microservice's server, bound or connected and ready to serve.
#[non_exhaustive]
pub enum MicroserviceServer {
    /// Listening on a TCP port.
    Tcp(TcpServer),
    /// Subscribed through NATS.
    #[cfg(feature = "nats")]
    Nats(crate::transport::nats::NatsServer),
    /// Subscribed through Redis.
    #[cfg(feature = "redis")]
    Redis(crate::transport::redis::RedisServer),
    /// Subscribed through MQTT.
    #[cfg(feature = "mqtt")]
    Mqtt(Box<crate::transport::mqtt::MqttServer>),
    /// Consuming a RabbitMQ queue.
    #[cfg(feature = "rmq")]
    Rmq(crate::transport::rmq::RmqServer),
}

impl MicroserviceServer {
    /// Serves until `signal` completes, then lets in-flight handlers finish.
    pub async fn serve_until(self, signal: impl Future<Output = ()>) {
        match self {
            MicroserviceServer::Tcp(server) => server.serve_until(signal).await,
            #[cfg(feature = "nats")]
            MicroserviceServer::Nats(server) => server.serve_until(signal).await,
            #[cfg(feature = "redis")]
            MicroserviceServer::Redis(server) => server.serve_until(signal).await,
            #[cfg(feature = "mqtt")]
            MicroserviceServer::Mqtt(server) => server.serve_until(signal).await,
            #[cfg(feature = "rmq")]
            MicroserviceServer::Rmq(server) => server.serve_until(signal).await,
        }
    }

    /// The TCP server, for its address and shutdown handle (`None` on a broker).
    pub fn tcp(&self) -> Option<&TcpServer> {
        match self {
            MicroserviceServer::Tcp(server) => Some(server),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

impl NestMicroservice {
    /// Binds a TCP transport without serving yet (to learn the address, or to serve with
    /// your own shutdown signal). For any transport, use [`start`](Self::start).
    ///
    /// # Panics
    /// If the transport is not TCP.
    pub async fn bind(self) -> Result<TcpServer, ServerError> {
        match self.start().await? {
            MicroserviceServer::Tcp(server) => Ok(server),
            #[allow(unreachable_patterns)]
            _ => panic!("NestMicroservice::bind is for TCP; use start() for a broker transport"),
        }
    }

    /// Binds or connects the transport, ready to serve.
    pub async fn start(self) -> Result<MicroserviceServer, ServerError> {
        match self.transport {
            Transport::Tcp(addr) => TcpServer::bind(addr, self.router)
                .await
                .map(MicroserviceServer::Tcp),
            #[cfg(feature = "nats")]
            Transport::Nats { url, queue } => {
                let options = crate::transport::nats::NatsServerOptions {
                    queue,
                    ..Default::default()
                };
                crate::transport::nats::NatsServer::connect(&url, self.router, options)
                    .await
                    .map(MicroserviceServer::Nats)
            }
            #[cfg(feature = "redis")]
            Transport::Redis(url) => {
                crate::transport::redis::RedisServer::connect(&url, self.router)
                    .await
                    .map(MicroserviceServer::Redis)
            }
            #[cfg(feature = "mqtt")]
            Transport::Mqtt(url) => crate::transport::mqtt::MqttServer::connect(&url, self.router)
                .await
                .map(|server| MicroserviceServer::Mqtt(Box::new(server))),
            #[cfg(feature = "rmq")]
            Transport::Rmq { url, queue } => {
                crate::transport::rmq::RmqServer::connect(&url, &queue, self.router)
                    .await
                    .map(MicroserviceServer::Rmq)
            }
        }
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight handlers finish.
    pub async fn listen(self) -> Result<(), ServerError> {
        let server = self.start().await?;
        server.serve_until(crate::signal::shutdown_signal()).await;
        Ok(())
    }
}
