//! Nest's `app.setGlobalPrefix(prefix, { exclude })`: every route under one prefix, but the
//! excluded ones, which stay where their controllers put them.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::http::{route_by, route_not_found};

/// What [`NestApplication::set_global_prefix_with`](super::NestApplication::set_global_prefix_with)
/// takes: Nest's `GlobalPrefixOptions`.
#[derive(Debug, Clone, Default)]
pub struct GlobalPrefixOptions {
    exclude: Vec<ExcludedRoute>,
}

impl GlobalPrefixOptions {
    /// `{ exclude: ['health', { path: 'metrics', method: RequestMethod.GET }] }`: routes
    /// served without the prefix (only there).
    pub fn exclude<R: Into<ExcludedRoute>>(routes: impl IntoIterator<Item = R>) -> Self {
        GlobalPrefixOptions {
            exclude: routes.into_iter().map(Into::into).collect(),
        }
    }
}

/// One excluded route: a path in Nest's syntax (`health`, `users/:id`, `docs/*splat`), for
/// every method or one.
#[derive(Debug, Clone)]
pub struct ExcludedRoute {
    method: Option<Method>,
    segments: Vec<String>,
}

impl ExcludedRoute {
    /// `{ path, method }`: `path` for `method` only.
    pub fn new(method: Method, path: &str) -> Self {
        ExcludedRoute {
            method: Some(method),
            ..ExcludedRoute::from(path)
        }
    }

    /// Whether a request for `method` and `segments` (a path without the prefix) is this
    /// route.
    fn matches(&self, method: &Method, segments: &[&str]) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        for (i, pattern) in self.segments.iter().enumerate() {
            if is_rest(pattern) {
                // `{*splat}` may be empty; `*splat` takes one segment or more.
                return pattern.starts_with('{') || segments.len() > i;
            }
            match segments.get(i) {
                Some(segment) if pattern.starts_with(':') || pattern == segment => {}
                _ => return false,
            }
        }
        segments.len() == self.segments.len()
    }
}

/// A catch-all segment: Nest 11's `*splat` / `{*splat}`, and the older `*` and `(.*)`.
fn is_rest(pattern: &str) -> bool {
    pattern.starts_with('*') || pattern.starts_with("{*") || pattern == "(.*)"
}

impl From<&str> for ExcludedRoute {
    /// The path, for every method.
    fn from(path: &str) -> Self {
        ExcludedRoute {
            method: None,
            segments: segments(path).map(str::to_owned).collect(),
        }
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// A prefix and its exclusions, as the app applies them.
#[derive(Debug)]
pub(crate) struct GlobalPrefix {
    /// `/api` (a leading slash, none at the end).
    prefix: String,
    exclude: Vec<ExcludedRoute>,
}

impl GlobalPrefix {
    pub(crate) fn new(prefix: &str, options: GlobalPrefixOptions) -> Self {
        let prefix: Vec<&str> = segments(prefix).collect();
        GlobalPrefix {
            prefix: format!("/{}", prefix.join("/")),
            exclude: options.exclude,
        }
    }

    fn excluded(&self, method: &Method, path: &str) -> bool {
        let segments: Vec<&str> = segments(path).collect();
        self.exclude.iter().any(|r| r.matches(method, &segments))
    }

    /// The path the routes know a request by: without the prefix, or as is for an excluded
    /// route; `None` when no route can take it (an excluded route asked with the prefix, any
    /// other without).
    fn route<'a>(&self, method: &Method, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.prefix.as_str());
        match rest {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let rest = if rest.is_empty() { "/" } else { rest };
                (!self.excluded(method, rest)).then_some(rest)
            }
            _ => self.excluded(method, path).then_some(path),
        }
    }

    /// The path a route of `method` at `path` is served at: behind the prefix, unless
    /// excluded.
    #[cfg(feature = "openapi")]
    pub(crate) fn served(&self, method: &str, path: &str) -> String {
        let excluded =
            Method::from_bytes(method.as_bytes()).is_ok_and(|method| self.excluded(&method, path));
        if self.prefix == "/" || excluded {
            path.to_owned()
        } else {
            format!("{}{}", self.prefix, if path == "/" { "" } else { path })
        }
    }

    /// `router` behind the prefix.
    pub(crate) fn apply(self, router: Router) -> Router {
        if self.prefix == "/" {
            return router; // no prefix: nothing to strip, nothing to exclude from
        }
        tracing::info!(target: "NestApplication", prefix = %self.prefix, "global prefix");
        Router::new()
            .fallback_service(router)
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(self),
                rewrite,
            ))
    }
}

/// Strips the prefix before the routes see the request; unknown paths answer Nest's 404 with
/// the path as requested.
async fn rewrite(
    State(prefix): State<Arc<GlobalPrefix>>,
    mut request: Request,
    next: Next,
) -> Response {
    let original = request.uri().clone();
    let Some(path) = prefix.route(request.method(), original.path()) else {
        let method = request.method().clone();
        return route_not_found(method, original, None)
            .await
            .into_response();
    };
    if path != original.path() {
        route_by(&mut request, path);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_lose_the_prefix_and_excluded_ones_keep_their_path() {
        let prefix = GlobalPrefix::new(
            "/api/",
            GlobalPrefixOptions::exclude([
                ExcludedRoute::from("health"),
                ExcludedRoute::new(Method::GET, "users/:id/avatar"),
                ExcludedRoute::from("docs/*splat"),
            ]),
        );
        let get = Method::GET;
        assert_eq!(prefix.route(&get, "/api/users/42"), Some("/users/42"));
        assert_eq!(prefix.route(&get, "/api"), Some("/"));
        assert_eq!(prefix.route(&get, "/apiusers"), None);
        assert_eq!(prefix.route(&get, "/users/42"), None);
        assert_eq!(prefix.route(&get, "/health"), Some("/health"));
        assert_eq!(prefix.route(&get, "/api/health"), None);
        assert_eq!(
            prefix.route(&get, "/users/7/avatar"),
            Some("/users/7/avatar")
        );
        assert_eq!(prefix.route(&Method::POST, "/users/7/avatar"), None);
        assert_eq!(
            prefix.route(&Method::POST, "/api/users/7/avatar"),
            Some("/users/7/avatar")
        );
        assert_eq!(prefix.route(&get, "/docs/a/b.css"), Some("/docs/a/b.css"));
        assert_eq!(prefix.route(&get, "/docs"), None);
    }
}
