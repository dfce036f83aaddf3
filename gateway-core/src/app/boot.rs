//! Boot: the module tree becomes a container, controllers, and the HTTP and message routers.

use std::any::{type_name, TypeId};
use std::sync::Arc;

use super::BootError;
use crate::di::{
    Container, DiError, Injectable, Module, ModuleBuilder, ModuleId, ModuleReplacement, Provider,
    Registry, Resolver,
};
use crate::http::{ApiVersion, Controller, ControllerMeta, RouteMeta, Routes};
use crate::server::MessageRouter;

/// What is being booted: which of a controller's faces gets mounted.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// Routes on the HTTP router, and the message handlers of controllers that have any, for
    /// a hybrid app's `connect_microservice`.
    Http,
    /// Message and event handlers on the message router.
    Microservice,
}

/// Builds a controller once the container is ready, then mounts its routes or registers its
/// message handlers.
type Mount = Box<
    dyn FnOnce(
            &mut Resolver<'_>,
            Kind,
            Routes,
            MessageRouter,
        ) -> Result<(Routes, MessageRouter), DiError>
        + Send
        + Sync,
>;

/// One controller a module lists, as the container keeps it for boot.
struct ControllerMount {
    module: ModuleId,
    module_name: &'static str,
    type_name: &'static str,
    meta: ControllerMeta,
    mount: Mount,
}

impl ModuleBuilder<'_> {
    /// A controller: built with its dependencies at boot, then its routes mounted (HTTP app)
    /// or its message handlers registered (microservice). What `#[module(controllers = [..])]`
    /// calls.
    pub fn controller<C: Controller + Injectable>(&mut self) {
        let mount: Mount = Box::new(|resolver, kind, router, messages| {
            let controller = Arc::new(resolver.build::<C>()?);
            resolver.hooks.push(C::NAME, C::hooks(&controller));
            Ok(match kind {
                Kind::Http if C::META.patterns.is_empty() => {
                    (C::mount(controller, router, resolver)?, messages)
                }
                Kind::Http => {
                    let router = C::mount(controller.clone(), router, resolver)?;
                    (router, C::register(controller, messages, resolver)?)
                }
                Kind::Microservice => (router, C::register(controller, messages, resolver)?),
            })
        });
        self.push_controller(Box::new(ControllerMount {
            module: 0,
            module_name: "",
            type_name: type_name::<C>(),
            meta: C::META,
            mount,
        }));
    }
}

/// What a testing module changes in the tree before it boots: modules configured by others,
/// providers replaced once the tree is configured.
#[derive(Default)]
pub(crate) struct Overrides {
    pub modules: Vec<(TypeId, ModuleReplacement)>,
    pub providers: Vec<Provider>,
    /// A testing module: a tree with message handlers and no route boots as an HTTP app too.
    pub testing: bool,
}

/// What boot makes: the HTTP routes, the message handlers, the container.
pub(crate) type Booted = (Routes, MessageRouter, Container);

/// Collects the module tree, checks it, builds every controller.
pub(super) async fn boot<M: Module>(kind: Kind) -> Result<Booted, BootError> {
    boot_with(kind, Overrides::default(), Root::of::<M>()).await
}

/// The root of the tree to boot: a module, or a testing module's list.
pub(crate) struct Root {
    pub name: &'static str,
    pub id: Option<TypeId>,
    pub configure: Box<dyn FnOnce(&mut ModuleBuilder<'_>) + Send>,
}

impl Root {
    /// The module `M`.
    pub fn of<M: Module>() -> Self {
        Root {
            name: M::NAME,
            id: Some(TypeId::of::<M>()),
            configure: Box::new(M::configure),
        }
    }
}

/// [`boot`] with a testing module's overrides.
pub(crate) async fn boot_with(
    kind: Kind,
    overrides: Overrides,
    root: Root,
) -> Result<Booted, BootError> {
    let testing = overrides.testing;
    let mut registry = Registry::default();
    registry.replacements.extend(overrides.modules);
    (root.configure)(&mut ModuleBuilder::root(&mut registry, root.name, root.id));
    if let Some(error) = registry.errors.first() {
        return Err(error.clone().into());
    }
    for provider in overrides.providers {
        registry.override_provider(provider);
    }
    // Async factories first, awaited one by one: the classes built below see their values.
    let built = registry.build_async().await?;
    let controllers: Vec<ControllerMount> = std::mem::take(&mut registry.controllers)
        .into_iter()
        .map(|listed| ControllerMount {
            module: listed.module,
            module_name: listed.module_name,
            ..*listed
                .entry
                .downcast::<ControllerMount>()
                .expect("only ModuleBuilder::controller lists controllers")
        })
        .collect();
    cross_check(root.name, &controllers);
    let serves = |c: &ControllerMount| match kind {
        Kind::Http => !c.meta.routes.is_empty() || (testing && !c.meta.patterns.is_empty()),
        Kind::Microservice => !c.meta.patterns.is_empty(),
    };
    if let Some(empty) = controllers
        .iter()
        .find(|c| c.meta.routes.is_empty() && c.meta.patterns.is_empty())
    {
        return Err(BootError::EmptyController {
            controller: empty.meta.name,
            module: empty.module_name,
        });
    }
    if !controllers.iter().any(serves) {
        return Err(BootError::NoRoutes { module: root.name });
    }
    if kind == Kind::Http {
        check_routes(
            controllers
                .iter()
                .flat_map(|c| c.meta.routes.iter().map(move |r| (c.meta.name, r))),
        )?;
    }

    let mut resolver = Resolver::from_parts(&registry, built);
    let mut router = Routes::default();
    let mut messages = MessageRouter::new();
    for entry in controllers {
        resolver.in_module(entry.module);
        (router, messages) = (entry.mount)(&mut resolver, kind, router, messages)?;
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
    let finished = resolver.finish();
    Ok((router, messages, Container::new(registry, finished)))
}

/// The cross-check: a controller compiled into the binary that no module lists is usually a
/// forgotten `controllers = [..]` entry. One that another module lists belongs to another app
/// built from the same crate (a service beside its gateway): fine.
fn cross_check(root: &'static str, controllers: &[ControllerMount]) {
    for registered in crate::http::registered_controllers() {
        let type_name = (registered.type_name)();
        if controllers.iter().any(|c| c.type_name == type_name) {
            continue;
        }
        match crate::http::module_listing(type_name) {
            Some(other) => tracing::debug!(
                controller = registered.meta.name,
                module = other,
                root,
                "controller of a module this app does not import: not served here"
            ),
            None => tracing::warn!(
                controller = registered.meta.name,
                module = root,
                "{} is a #[controller] but no module lists it: its routes are not served (add it to a module's `controllers = [..]`)",
                registered.meta.name
            ),
        }
    }
}

/// Replaces `:name` segments with `:`, so routes that collide compare equal.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| match s.as_bytes().first() {
            Some(b':') => ":",
            Some(b'*') => "*",
            _ => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Two routes that name versions (their own or their controller's) and share none.
fn versions_apart(a: &RouteMeta, b: &RouteMeta) -> bool {
    let of = |r: &RouteMeta| -> &'static [ApiVersion] {
        if r.versions.is_empty() {
            r.class_versions
        } else {
            r.versions
        }
    };
    let (a, b) = (of(a), of(b));
    !a.is_empty() && !b.is_empty() && !a.iter().any(|v| b.contains(v))
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
            // `#[all]` serves every method: it collides with any route on its path, unless
            // both name versions and share none (versioning tells them apart).
            let methods_overlap =
                other.method == route.method || other.method == "ALL" || route.method == "ALL";
            if methods_overlap && !versions_apart(other, route) {
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
