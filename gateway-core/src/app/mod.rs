//! [`NestFactory`]: booting a module tree into an HTTP app ([`NestApplication`]) or a
//! microservice ([`NestMicroservice`]).
//!
//! - `boot`: the module tree becomes a container, controllers and routers. Boot does all the
//!   checking so requests do none: every controller and provider is built (or the boot fails
//!   naming the class, field, token and module), routes that collide across controllers are
//!   refused naming both handlers, a listed controller with no route and an app with no route
//!   at all are refused, and the route table is logged as Nest logs it
//!   (`Mapped {/users/:id, GET} route`).
//! - `http`: the HTTP application and its app-wide settings.
//! - `microservice`: serving message patterns over a [`Transport`].

pub(crate) mod boot;
mod edge;
mod http;
mod microservice;
mod prefix;
mod serve;
mod settings;

pub use crate::server::Transport;
pub use http::{bind_listener, NestApplication};
pub use microservice::{
    ConnectedMicroservice, HybridAppOptions, MicroserviceServer, NestMicroservice,
};
#[cfg(feature = "openapi")]
pub(crate) use prefix::GlobalPrefix;
pub use prefix::{ExcludedRoute, GlobalPrefixOptions};
pub use serve::HttpLimits;

use crate::di::{DiError, Factory, Module};
use crate::server::ServerError;
use boot::{boot, Kind};

/// Why an app could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The dependency graph could not be built.
    #[error(transparent)]
    Di(#[from] DiError),
    /// The OpenAPI document would have holes (feature `openapi`).
    #[cfg(feature = "openapi")]
    #[error(transparent)]
    OpenApi(#[from] crate::openapi::MissingSchemas),
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
    /// A microservice's server could not start (address taken, broker unreachable).
    #[error(transparent)]
    Server(#[from] ServerError),
    /// [`NestMicroservice::bind`] was asked for a TCP server of a microservice on another
    /// transport.
    #[error("{transport} is not a TCP transport: use start() instead of bind()")]
    NotTcp {
        /// The transport the microservice was created with.
        transport: String,
    },
    /// A class's boot hook (`on_module_init`, `on_application_bootstrap`) failed.
    #[error("{class}.{hook} failed: {message}")]
    Lifecycle {
        /// The class.
        class: &'static str,
        /// The hook, by Nest's name.
        hook: &'static str,
        /// The hook's error.
        message: String,
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
        let (router, messages, container) = boot::<M>(Kind::Http).await?;
        run_boot_hooks(&container).await?;
        Ok(NestApplication::new(router, messages, container))
    }

    /// Builds a microservice for `M`: every `#[message_pattern]` and `#[event_pattern]` of
    /// its controllers, served over `transport` by [`NestMicroservice::listen`]. Nest's
    /// `NestFactory.createMicroservice(AppModule, { transport, options })`.
    pub async fn create_microservice<M: Module>(
        transport: Transport,
    ) -> Result<NestMicroservice, BootError> {
        let (_, router, container) = boot::<M>(Kind::Microservice).await?;
        run_boot_hooks(&container).await?;
        Ok(NestMicroservice::new(router, transport, container))
    }

    /// A microservice whose transport is made from the module's providers, once they are
    /// built: Nest's `NestFactory.createMicroservice(AppModule, { useFactory, inject })`.
    /// `factory`'s arguments are providers resolved by type (`Arc<ConfigService>`), as in
    /// [`Provider::factory`](crate::di::Provider::factory).
    pub async fn create_microservice_async<M: Module, Args, F>(
        factory: F,
    ) -> Result<NestMicroservice, BootError>
    where
        F: Factory<Args, Output = Transport>,
    {
        let (_, router, container) = boot::<M>(Kind::Microservice).await?;
        let transport = container.call(factory)?;
        run_boot_hooks(&container).await?;
        Ok(NestMicroservice::new(router, transport, container))
    }
}

/// Every class's `on_module_init`, then `on_application_bootstrap` (see
/// [`lifecycle`](crate::lifecycle)); the first that fails fails the boot.
pub(crate) async fn run_boot_hooks(container: &crate::di::Container) -> Result<(), BootError> {
    container
        .hooks()
        .boot()
        .await
        .map_err(|failure| BootError::Lifecycle {
            class: failure.class,
            hook: failure.hook,
            message: failure.error.to_string(),
        })
}
