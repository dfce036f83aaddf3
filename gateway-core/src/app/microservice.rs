//! [`NestMicroservice`]: a module tree's message patterns served over a [`Transport`].

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use super::BootError;
use crate::di::Container;
use crate::http::{CanActivate, ExceptionFilter, NestInterceptor, ValidationOptions};
use crate::lifecycle::HookList;
use crate::server::serving::serve_until;
use crate::server::{MessageRouter, RpcEdge, Server, ShutdownHandle, Transport};
use crate::transport::tcp::TcpServer;

/// A booted microservice. Nest's `INestMicroservice`.
pub struct NestMicroservice {
    router: MessageRouter,
    transport: Transport,
    container: Container,
    global: RpcEdge,
    validation: Option<ValidationOptions>,
}

impl std::fmt::Debug for NestMicroservice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestMicroservice")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// A microservice's server, bound or connected and ready to serve, on any transport.
pub struct MicroserviceServer {
    server: Box<dyn Server>,
    transport: String,
    hooks: HookList,
}

impl std::fmt::Debug for MicroserviceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroserviceServer")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl MicroserviceServer {
    /// Serves until stopped through [`shutdown_handle`](Self::shutdown_handle); then the
    /// lifecycle's shutdown hooks run (all of them after the stop: the handle gives no
    /// warning).
    pub async fn serve(self) {
        self.server.serve().await;
        self.hooks.before_stop(None).await;
        self.hooks.after_stop(None).await;
    }

    /// Serves until `signal` completes, then lets in-flight handlers finish; the lifecycle's
    /// shutdown hooks run around the stop (see [`lifecycle`](crate::lifecycle)).
    pub async fn serve_until(self, signal: impl Future<Output = ()>) {
        self.serve_until_signal(async {
            signal.await;
            None
        })
        .await;
    }

    async fn serve_until_signal(self, signal: impl Future<Output = Option<&'static str>>) {
        let stop = self.server.shutdown_handle();
        let name = std::sync::OnceLock::new();
        let hooks = &self.hooks;
        let stopping = async {
            let signal = signal.await;
            let _ = name.set(signal);
            hooks.before_stop(signal).await;
        };
        serve_until(&stop, self.server.serve(), stopping).await;
        hooks.after_stop(name.get().copied().flatten()).await;
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// The address the server listens on (TCP); `None` on a broker.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }

    /// The TCP server, for its address and shutdown handle (`None` on another transport).
    pub fn tcp(&self) -> Option<&TcpServer> {
        let server: &dyn Any = &*self.server;
        server.downcast_ref()
    }
}

impl NestMicroservice {
    pub(crate) fn new(router: MessageRouter, transport: Transport, container: Container) -> Self {
        NestMicroservice {
            router,
            transport,
            container,
            global: RpcEdge::default(),
            validation: None,
        }
    }

    /// Guards every message and event handler (before the controllers' and handlers' own):
    /// Nest's `app.useGlobalGuards(..)` on a microservice. A refused request is answered with
    /// Nest's `{"status":"error","message":"Forbidden resource"}`; a refused event is dropped.
    pub fn use_global_guards(&mut self, guard: impl CanActivate) -> &mut Self {
        self.global.guards.push(Arc::new(guard));
        self
    }

    /// Runs `interceptor` around every message and event handler (outside the controllers'
    /// and handlers' own, after every guard): Nest's `app.useGlobalInterceptors(..)` on a
    /// microservice. See [`NestInterceptor::intercept_rpc`].
    pub fn use_global_interceptors(&mut self, interceptor: impl NestInterceptor) -> &mut Self {
        self.global.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Asks `filter` about every exception a message or event handler ends with, after the
    /// controllers' and handlers' own filters: Nest's `app.useGlobalFilters(..)` on a
    /// microservice. See [`ExceptionFilter::catch_rpc`].
    pub fn use_global_filters(&mut self, filter: impl ExceptionFilter) -> &mut Self {
        self.global.filters.push(Arc::new(filter));
        self
    }

    /// Validation options for every `Valid<T>` payload of its message and event handlers:
    /// Nest's `app.useGlobalPipes(new ValidationPipe({ forbidNonWhitelisted: true }))` on a
    /// microservice.
    pub fn use_validation(&mut self, options: ValidationOptions) -> &mut Self {
        self.validation = Some(options);
        self
    }

    /// The app's container: Nest's `app.get(..)` is `app.container().get::<T>()` /
    /// `.get_token::<T>("TOKEN")`. It stays valid after the microservice starts.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Binds a TCP transport without serving yet (to learn the address, or to serve with
    /// your own shutdown signal). For any transport, use [`start`](Self::start); on another
    /// transport this is [`BootError::NotTcp`].
    pub async fn bind(self) -> Result<TcpServer, BootError> {
        let server = self.start().await?;
        let any: Box<dyn Any> = server.server;
        any.downcast::<TcpServer>()
            .map(|server| *server)
            .map_err(|_| BootError::NotTcp {
                transport: server.transport,
            })
    }

    /// Binds or connects the transport, ready to serve.
    pub async fn start(self) -> Result<MicroserviceServer, BootError> {
        let router = self
            .router
            .with_globals(&self.global)
            .with_validation(self.validation);
        let server = self.transport.start(router).await?;
        Ok(MicroserviceServer {
            server,
            transport: self.transport.describe(),
            hooks: self.container.hooks(),
        })
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight handlers finish; the shutdown hooks
    /// run with the signal's name.
    pub async fn listen(self) -> Result<(), BootError> {
        let server = self.start().await?;
        server
            .serve_until_signal(async { Some(crate::signal::shutdown_signal_name().await) })
            .await;
        #[cfg(feature = "otlp")]
        crate::otlp::flush_installed().await;
        Ok(())
    }
}

/// Nest's `HybridAppOptions`: how a connected microservice shares the app's settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HybridAppOptions {
    /// `inheritAppConfig`: the app's global guards, interceptors and filters apply to the
    /// microservice's handlers too (as the outermost ones).
    pub inherit_app_config: bool,
}

/// A microservice connected to a hybrid app ([`NestApplication::connect_microservice`]):
/// Nest's `INestMicroservice` that `app.connectMicroservice(..)` returns, to give it global
/// guards, interceptors and filters of its own (after the app's, when it inherits them).
///
/// [`NestApplication::connect_microservice`]: super::NestApplication::connect_microservice
pub struct ConnectedMicroservice {
    transport: Transport,
    options: HybridAppOptions,
    global: RpcEdge,
    validation: Option<ValidationOptions>,
}

impl std::fmt::Debug for ConnectedMicroservice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectedMicroservice")
            .field("transport", &self.transport)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ConnectedMicroservice {
    pub(crate) fn new(transport: Transport, options: HybridAppOptions) -> Self {
        ConnectedMicroservice {
            transport,
            options,
            global: RpcEdge::default(),
            validation: None,
        }
    }

    /// Guards every message and event handler of this microservice: Nest's
    /// `microservice.useGlobalGuards(..)`.
    pub fn use_global_guards(&mut self, guard: impl CanActivate) -> &mut Self {
        self.global.guards.push(Arc::new(guard));
        self
    }

    /// Runs `interceptor` around every message and event handler of this microservice:
    /// Nest's `microservice.useGlobalInterceptors(..)`.
    pub fn use_global_interceptors(&mut self, interceptor: impl NestInterceptor) -> &mut Self {
        self.global.interceptors.push(Arc::new(interceptor));
        self
    }

    /// Asks `filter` about every exception of this microservice's handlers: Nest's
    /// `microservice.useGlobalFilters(..)`.
    pub fn use_global_filters(&mut self, filter: impl ExceptionFilter) -> &mut Self {
        self.global.filters.push(Arc::new(filter));
        self
    }

    /// Validation options for every `Valid<T>` payload of this microservice's handlers
    /// (the app's own, from `app.use_validation`, when it inherits them).
    pub fn use_validation(&mut self, options: ValidationOptions) -> &mut Self {
        self.validation = Some(options);
        self
    }

    /// The transport, and the app's handlers with this microservice's globals (registered
    /// after the app's `app` ones, when it inherits them).
    pub(crate) fn router(
        self,
        messages: MessageRouter,
        app: RpcEdge,
        app_validation: Option<ValidationOptions>,
    ) -> (Transport, MessageRouter) {
        let inherit = self.options.inherit_app_config;
        let validation = self.validation.or(app_validation.filter(|_| inherit));
        let global = if inherit {
            RpcEdge {
                guards: [app.guards, self.global.guards].concat(),
                interceptors: [app.interceptors, self.global.interceptors].concat(),
                filters: [app.filters, self.global.filters].concat(),
            }
        } else {
            self.global
        };
        let router = messages.with_globals(&global).with_validation(validation);
        (self.transport, router)
    }
}
