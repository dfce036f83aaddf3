//! [`NestFactory`] and [`NestApplication`]: booting a module tree into an HTTP app.
//!
//! Boot does all the checking so requests do none: every controller and provider is built
//! (or the boot fails naming the class, field, token and module), routes that collide across
//! controllers are refused naming both handlers, a listed controller with no route and an app
//! with no route at all are refused, and the route table is logged as Nest logs it
//! (`Mapped {/users/:id, GET} route`).

use std::future::Future;

use axum::Router;
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::di::{DiError, Module, ModuleBuilder, Registry, Resolver};
use std::sync::Arc;

use crate::http::{nest_defaults, CanActivate, DynGuard, GlobalGuards, RouteMeta};

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
    /// No module lists any controller.
    #[error("{module} and its imports list no controller: there is nothing to serve")]
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
        let mut registry = Registry::default();
        M::configure(&mut ModuleBuilder::root::<M>(&mut registry));
        if let Some(error) = registry.errors.first() {
            return Err(error.clone().into());
        }
        let controllers = std::mem::take(&mut registry.controllers);
        if controllers.is_empty() {
            return Err(BootError::NoRoutes { module: M::NAME });
        }
        check_routes(
            controllers
                .iter()
                .flat_map(|c| c.meta.routes.iter().map(move |r| (c.meta.name, r))),
        )?;

        let mut resolver = Resolver::new(&registry);
        let mut router = Router::new();
        for entry in controllers {
            if entry.meta.routes.is_empty() {
                return Err(BootError::EmptyController {
                    controller: entry.meta.name,
                    module: entry.module,
                });
            }
            resolver.in_module(entry.module);
            router = (entry.mount)(&mut resolver, router)?;
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
        Ok(NestApplication {
            router,
            global_guards: Vec::new(),
        })
    }
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
}

impl std::fmt::Debug for NestApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NestApplication").finish_non_exhaustive()
    }
}

impl NestApplication {
    /// The app as an axum `Router`, with Nest's handling of unknown routes and panics: to
    /// nest it in a bigger axum app or serve it yourself.
    pub fn into_router(self) -> Router {
        let router = if self.global_guards.is_empty() {
            self.router
        } else {
            let guards = GlobalGuards(self.global_guards.into());
            self.router.layer(axum::Extension(guards))
        };
        nest_defaults(router)
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
        axum::serve(listener, self.into_router())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| BootError::Serve {
                addr: addr.map_or_else(String::new, |a| a.to_string()),
                source,
            })
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
