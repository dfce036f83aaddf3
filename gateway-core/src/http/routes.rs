//! [`Routes`]: the controllers' routes as boot collects them, made into the axum router when
//! the app is assembled (so that versioning, enabled after boot, can choose among routes that
//! share a path). Without versioning the router is exactly the routes, one axum route each.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use tower_service::Service;

use super::version::{RequestedVersion, VersioningOptions};
use super::{route_not_found, RouteMeta, ShownUri};

/// The routes of the app's controllers, in mount order. `#[controller]` adds to it.
#[derive(Default)]
pub struct Routes {
    entries: Vec<Entry>,
}

struct Entry {
    path: &'static str,
    meta: &'static RouteMeta,
    route: MethodRouter,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (e.meta.method, e.meta.path)))
            .finish()
    }
}

impl Routes {
    /// Adds a route: `meta` describes it, `path` is its axum path, `route` its handler.
    pub fn add(
        mut self,
        meta: &'static RouteMeta,
        path: &'static str,
        route: MethodRouter,
    ) -> Self {
        self.entries.push(Entry { path, meta, route });
        self
    }

    /// Every route's description, in mount order.
    pub fn metas(&self) -> impl Iterator<Item = &'static RouteMeta> + '_ {
        self.entries.iter().map(|e| e.meta)
    }

    /// The axum router. Without `versioning`, one axum route per route (the first of routes
    /// that would overlap wins: versions are ignored, as Nest ignores them). With it, routes
    /// that share a path and method are tried in order, each behind its version filter.
    pub(crate) fn into_router(self, versioning: Option<&Arc<VersioningOptions>>) -> Router {
        let Some(versioning) = versioning else {
            let mut router = Router::new();
            let mut taken: Vec<(&str, &str)> = Vec::new();
            for entry in self.entries {
                let method = entry.meta.method;
                let overlaps = taken.iter().any(|(p, m)| {
                    *p == entry.path && (*m == method || *m == "ALL" || method == "ALL")
                });
                if !overlaps {
                    taken.push((entry.path, method));
                    router = router.route(entry.path, entry.route);
                }
            }
            return router;
        };
        // One handler per path: it picks the first route of the request's method whose
        // versions the request names (so `#[all]` and `#[get]` routes of one path coexist).
        let mut groups: Vec<(&'static str, Vec<Entry>)> = Vec::new();
        for entry in self.entries {
            match groups.iter_mut().find(|(path, _)| *path == entry.path) {
                Some((_, entries)) => entries.push(entry),
                None => groups.push((entry.path, vec![entry])),
            }
        }
        let mut router = Router::new();
        for (path, entries) in groups {
            let candidates: Arc<[Entry]> = entries.into();
            let versioning = versioning.clone();
            let dispatch = move |request: Request| {
                let (candidates, versioning) = (candidates.clone(), versioning.clone());
                async move { dispatch(&candidates, &versioning, request).await }
            };
            router = router.route(path, axum::routing::any(dispatch));
        }
        router
    }
}

/// Whether a route of `method` (`ALL` for every one) serves a request of `requested` (a GET
/// route serves HEAD too, as axum's and Express's do).
fn serves(method: &str, requested: &axum::http::Method) -> bool {
    method == "ALL"
        || method == requested.as_str()
        || (method == "GET" && requested == axum::http::Method::HEAD)
}

/// The first route whose versions the request names answers it; none: Nest's 404.
async fn dispatch(
    candidates: &[Entry],
    versioning: &VersioningOptions,
    request: Request,
) -> Response {
    let requested = request
        .extensions()
        .get::<RequestedVersion>()
        .map(|r| r.0.as_slice())
        .unwrap_or_default();
    let chosen = candidates.iter().find(|entry| {
        let versions = versioning.effective(entry.meta.versions, entry.meta.class_versions);
        serves(entry.meta.method, request.method()) && versioning.accepts(versions, requested)
    });
    match chosen {
        Some(entry) => {
            let mut route = entry.route.clone();
            let ready =
                std::future::poll_fn(|cx| Service::<Request>::poll_ready(&mut route, cx)).await;
            let Ok(()) = ready;
            match Service::<Request>::call(&mut route, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        None => {
            let (parts, _) = request.into_parts();
            let shown = parts
                .extensions
                .get::<ShownUri>()
                .cloned()
                .map(axum::Extension);
            route_not_found(parts.method, parts.uri, shown)
                .await
                .into_response()
        }
    }
}
