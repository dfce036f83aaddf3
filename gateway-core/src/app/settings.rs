//! What every request carries from the app's settings, and the service that puts it there.

use std::sync::Arc;

use axum::response::Response;

use crate::http::on_panic;
pub(super) use crate::http::RequestSettings;
use crate::http::RequestState;

/// Puts the app's [`RequestSettings`] into each request and answers a panicking handler with
/// Nest's 500, around the whole router: what per-route layers did, without a boxed future per
/// layer per request.
#[derive(Clone)]
pub(super) struct WithSettings<S> {
    pub inner: S,
    pub settings: Arc<RequestSettings>,
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
        trim_trailing_slash(request.uri_mut());
        request.extensions_mut().insert(RequestState {
            settings: self.settings.clone(),
            user: None,
        });
        std::panic::AssertUnwindSafe(self.inner.call(request))
            .catch_unwind()
            .map(answer_panics as fn(Caught) -> Result<Response, std::convert::Infallible>)
    }
}

/// Express's non-strict routing: `/users/42/` is `/users/42`. One slash only, as Express 5
/// (path-to-regexp 8) allows: `/users/42//` and `//users/42` match nothing (404), where
/// tower-http's `NormalizePath` would trim them all.
fn trim_trailing_slash(uri: &mut axum::http::Uri) {
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let mut trimmed = String::with_capacity(uri.path_and_query().map_or(0, |p| p.as_str().len()));
    trimmed.push_str(&path[..path.len() - 1]);
    if let Some(query) = uri.query() {
        trimmed.push('?');
        trimmed.push_str(query);
    }
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = trimmed.parse().ok();
    if let Ok(new) = axum::http::Uri::from_parts(parts) {
        *uri = new;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_trailing_slash_is_trimmed_as_express_5_does() {
        for (given, served) in [
            ("/users/42/", "/users/42"),
            ("/users/42/?a=1", "/users/42?a=1"),
            ("/users/42//", "/users/42/"),
            ("//users/42", "//users/42"),
            ("/", "/"),
            ("/users", "/users"),
            ("http://h/x/?q", "http://h/x?q"),
        ] {
            let mut uri: axum::http::Uri = given.parse().unwrap();
            super::trim_trailing_slash(&mut uri);
            assert_eq!(uri.to_string(), served, "{given}");
        }
    }
}
