//! The contract between `#[controller]` and the runtime.

use std::sync::Arc;

use axum::Router;

use crate::di::{DiError, Resolver};

/// A controller: a set of routes bound to one shared instance. `#[controller]` implements it;
/// the app mounts every controller a module lists.
pub trait Controller: Send + Sync + Sized + 'static {
    /// What the controller serves, known at compile time (for the route table, duplicate
    /// checks across controllers, and tooling).
    const META: ControllerMeta;

    /// Adds this controller's routes to `router`, each bound to `this`; the guards its
    /// routes use are taken from `resolver` (they are providers).
    fn mount(
        this: Arc<Self>,
        router: Router,
        resolver: &mut Resolver<'_>,
    ) -> Result<Router, DiError>;
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
}

/// One route's compile-time description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMeta {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The full path in Nest syntax, as Nest logs it (`/api/users/:id`).
    pub path: &'static str,
    /// The method implementing it.
    pub handler: &'static str,
}
