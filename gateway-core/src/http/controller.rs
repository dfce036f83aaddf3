//! The contract between `#[controller]` and the runtime.

use std::sync::Arc;

use super::routes::Routes;
use super::version::ApiVersion;

use super::metadata::{Metadata, Reflector};
use crate::di::{DiError, Resolver};
use crate::server::MessageRouter;

/// A controller: a set of routes bound to one shared instance. `#[controller]` implements it;
/// the app mounts every controller a module lists.
pub trait Controller: Send + Sync + Sized + 'static {
    /// What the controller serves, known at compile time (for the route table, duplicate
    /// checks across controllers, and tooling).
    const META: ControllerMeta;

    /// Adds this controller's routes to `routes`, each bound to `this`; the guards its
    /// routes use are taken from `resolver` (they are providers).
    fn mount(
        this: Arc<Self>,
        routes: Routes,
        resolver: &mut Resolver<'_>,
    ) -> Result<Routes, DiError>;

    /// Adds this controller's `#[message_pattern]` and `#[event_pattern]` handlers to
    /// `router`, each bound to `this` and behind the guards of the controller and of the
    /// handler, taken from `resolver`.
    fn register(
        this: Arc<Self>,
        router: MessageRouter,
        resolver: &mut Resolver<'_>,
    ) -> Result<MessageRouter, DiError>;
}

/// A controller's compile-time description.
#[derive(Debug, Clone, Copy)]
pub struct ControllerMeta {
    /// The type's name.
    pub name: &'static str,
    /// The `#[controller("prefix")]`, normalized (`/api`, or `` for none).
    pub prefix: &'static str,
    /// Every route, in source order.
    pub routes: &'static [RouteMeta],
    /// Every message and event pattern, in source order.
    pub patterns: &'static [PatternMeta],
}

/// One `#[message_pattern]` or `#[event_pattern]` handler's compile-time description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternMeta {
    /// `true` for `#[event_pattern]`.
    pub event: bool,
    /// The normalized pattern (Nest's route string).
    pub route: &'static str,
    /// The method implementing it.
    pub handler: &'static str,
    /// The handler's own metadata (`#[set_metadata]`, `#[roles]`, ...), one slice per
    /// attribute.
    pub metadata: &'static [&'static [Metadata]],
    /// The controller's metadata, for [`Reflector`]'s class lookups.
    pub class_metadata: &'static [&'static [Metadata]],
}

impl PatternMeta {
    /// The handler's [`Reflector`]: its metadata, then its controller's.
    pub fn reflector(&self) -> Reflector {
        Reflector::new(self.metadata, self.class_metadata)
    }
}

/// One route's compile-time description.
#[derive(Debug, Clone, Copy)]
pub struct RouteMeta {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The full path in Nest syntax, as Nest logs it (`/api/users/:id`).
    pub path: &'static str,
    /// The method implementing it.
    pub handler: &'static str,
    /// The status a success answers with: `#[http_code]`'s, else Nest's default (201 for
    /// POST, 200 for the rest).
    pub status: u16,
    /// The route's own metadata (`#[set_metadata]`, `#[roles]`, ...), one slice per attribute.
    pub metadata: &'static [&'static [Metadata]],
    /// The controller's metadata, for [`Reflector`]'s class lookups.
    pub class_metadata: &'static [&'static [Metadata]],
    /// `#[version(..)]` on the route (empty: none).
    pub versions: &'static [ApiVersion],
    /// `#[version(..)]` on its controller (empty: none).
    pub class_versions: &'static [ApiVersion],
    /// How the route describes itself in the OpenAPI document: written by `#[controller]`,
    /// kept with the `openapi` feature (`None` without it).
    pub api: Option<ApiDocFn>,
}

/// A route's OpenAPI description (see [`RouteMeta::api`]).
pub type ApiDocFn = fn(&mut RouteDocs);

/// What a route's OpenAPI description writes to: `openapi::RouteDocs` with the `openapi`
/// feature, nothing without it.
#[cfg(not(feature = "openapi"))]
#[derive(Debug)]
pub struct RouteDocs {
    _private: (),
}

#[cfg(feature = "openapi")]
pub use crate::openapi::RouteDocs;

/// Keeps a route's OpenAPI description (a closure written by `#[controller]`) with the
/// `openapi` feature; drops it, unchecked, without.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __api_doc {
    ($describe:expr) => {
        ::core::option::Option::Some($describe as $crate::http::ApiDocFn)
    };
}

/// Keeps a route's OpenAPI description (a closure written by `#[controller]`) with the
/// `openapi` feature; drops it, unchecked, without.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __api_doc {
    ($describe:expr) => {
        ::core::option::Option::None
    };
}

impl RouteMeta {
    /// The route's [`Reflector`]: its metadata, then its controller's.
    pub fn reflector(&self) -> Reflector {
        Reflector::new(self.metadata, self.class_metadata)
    }
}

/// What every `#[controller]` submits to `inventory`, for tooling and the boot cross-check.
/// Modules, not this list, decide what is mounted: inventory entries can vanish when nothing
/// links a crate, and arrive in link order.
#[derive(Debug)]
pub struct RegisteredController {
    /// The controller's metadata.
    pub meta: &'static ControllerMeta,
    /// `std::any::type_name` of the controller (a function: it is not `const`), to tell
    /// same-named types apart.
    pub type_name: fn() -> &'static str,
}

inventory::collect!(RegisteredController);

/// What every `#[module]` submits to `inventory`: its name and the controllers it lists. The
/// boot cross-check uses it to tell a forgotten controller (no module lists it) from one that
/// belongs to another app built from the same crate (another module lists it).
#[derive(Debug)]
pub struct RegisteredModule {
    /// The module's name.
    pub name: &'static str,
    /// `std::any::type_name` of each controller in its `controllers = [..]`.
    pub controllers: &'static [fn() -> &'static str],
}

inventory::collect!(RegisteredModule);

/// The module linked into this binary that lists the controller named `type_name`, if any.
pub fn module_listing(type_name: &str) -> Option<&'static str> {
    inventory::iter::<RegisteredModule>
        .into_iter()
        .find(|m| m.controllers.iter().any(|c| c() == type_name))
        .map(|m| m.name)
}

/// Every `#[controller]` linked into this binary, sorted by type name.
pub fn registered_controllers() -> Vec<&'static RegisteredController> {
    let mut all: Vec<_> = inventory::iter::<RegisteredController>
        .into_iter()
        .collect();
    all.sort_by_key(|c| (c.type_name)());
    all
}
