//! [`Routes`]: the controllers' routes as boot collects them, made into the axum router when
//! the app is assembled (so that versioning, enabled after boot, can choose among routes that
//! share a path). Without versioning the router is exactly the routes, one axum route each.

use std::collections::HashMap;
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
        let mut groups: Vec<((&'static str, &'static str), Vec<Entry>)> = Vec::new();
        let mut index: HashMap<(&'static str, &'static str), usize> = HashMap::new();
        for entry in self.entries {
            let key = (entry.path, entry.meta.method);
            match index.get(&key) {
                Some(&i) => groups[i].1.push(entry),
                None => {
                    index.insert(key, groups.len());
                    groups.push((key, vec![entry]));
                }
            }
        }
        let mut router = Router::new();
        for ((path, method), entries) in groups {
            let candidates: Arc<[Entry]> = entries.into();
            let versioning = versioning.clone();
            let dispatch = move |request: Request| {
                let (candidates, versioning) = (candidates.clone(), versioning.clone());
                async move { dispatch(&candidates, &versioning, request).await }
            };
            router = router.route(path, on(method, dispatch));
        }
        router
    }
}

/// The handler for `method` (Nest's `@All` is every method).
fn on<H, T>(method: &str, handler: H) -> MethodRouter
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    use axum::routing;
    match method {
        "GET" => routing::get(handler),
        "POST" => routing::post(handler),
        "PUT" => routing::put(handler),
        "PATCH" => routing::patch(handler),
        "DELETE" => routing::delete(handler),
        "HEAD" => routing::head(handler),
        "OPTIONS" => routing::options(handler),
        _ => routing::any(handler),
    }
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
        versioning.accepts(versions, requested)
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
