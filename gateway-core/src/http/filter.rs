//! Exception filters: Nest's `ExceptionFilter`, a last word on error responses.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::middleware::Next as MiddlewareNext;
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{ExceptionCause, HttpException, RouteMeta, RpcContext};
use crate::server::{RpcException, RpcReply};

/// An exception filter: sees every [`HttpException`] a route (its guards, pipes, handler or a
/// downstream call) ends with, and answers in its place or passes it on. Nest's
/// `ExceptionFilter`.
///
/// Return `Ok(response)` to answer, or `Err(exception)` to pass it (possibly changed) to the
/// next filter; when none answers, the exception's own body is sent (Nest's default filter).
/// What to catch is a `match` in `catch`: on [`HttpException::status`], on
/// [`HttpException::rpc_error`] for failed downstream calls (Nest's `@Catch(RpcException)`
/// side), or on nothing for everything (`@Catch()`, including panics, see
/// [`HttpException::panic_message`]).
///
/// Apply one with `#[use_filters(..)]` on a controller or route (route filters are asked
/// first, then the controller's), or to every response with `app.use_global_filters(..)`
/// (asked last; they also see unknown routes' 404s). At each level the filter listed (or
/// registered) last is asked first, as Nest asks them: `#[use_filters(A, B)]` asks `B`,
/// then `A`. In `#[use_filters]`, a type name is a
/// provider resolved by DI and any other expression is an instance.
///
/// ```
/// use gateway_core::http::{ArgumentsHost, ExceptionFilter, HttpException};
/// use gateway_core::axum::response::{IntoResponse, Response};
/// use serde_json::json;
///
/// /// Answers downstream failures with a problem+json body; leaves the rest to Nest's.
/// struct DownstreamFilter;
///
/// impl ExceptionFilter for DownstreamFilter {
///     async fn catch(&self, e: HttpException, host: &ArgumentsHost) -> Result<Response, HttpException> {
///         if e.rpc_error().is_none() {
///             return Err(e);
///         }
///         let body = json!({ "status": e.status(), "path": host.uri().path() });
///         Ok((axum::http::StatusCode::BAD_GATEWAY, axum::Json(body)).into_response())
///     }
/// }
/// # use gateway_core::axum;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an exception filter",
    label = "this type does not implement `ExceptionFilter`",
    note = "a filter implements `gateway_core::http::ExceptionFilter`: `async fn catch(&self, exception: HttpException, host: &ArgumentsHost) -> Result<Response, HttpException>`"
)]
pub trait ExceptionFilter: Send + Sync + 'static {
    /// Answers `exception`, or passes it on with `Err`.
    fn catch(
        &self,
        exception: HttpException,
        host: &ArgumentsHost,
    ) -> impl Future<Output = Result<Response, HttpException>> + Send;

    /// Answers the `exception` a message or event handler (its guards, interceptors or
    /// itself) ended with, or passes it on with `Err`: Nest's `RpcExceptionFilter`, for a
    /// filter applied to a controller with message handlers or globally to a microservice.
    /// `Ok(reply)` is sent instead (a value, or another exception with
    /// [`RpcReply::err`]). By default the exception is passed on, as a Nest filter whose
    /// `@Catch` does not name it.
    fn catch_rpc(
        &self,
        exception: RpcException,
        ctx: &RpcContext,
    ) -> impl Future<Output = Result<RpcReply, RpcException>> + Send {
        let _ = ctx;
        std::future::ready(Err(exception))
    }
}

/// A filter behind a pointer, so filters of different types share one list.
pub trait DynFilter: Send + Sync {
    /// [`ExceptionFilter::catch`], boxed.
    fn catch_dyn<'a>(
        &'a self,
        exception: HttpException,
        host: &'a ArgumentsHost,
    ) -> BoxFuture<'a, Result<Response, HttpException>>;

    /// [`ExceptionFilter::catch_rpc`], boxed.
    fn catch_rpc_dyn<'a>(
        &'a self,
        exception: RpcException,
        ctx: &'a RpcContext,
    ) -> BoxFuture<'a, Result<RpcReply, RpcException>>;
}

impl<F: ExceptionFilter> DynFilter for F {
    fn catch_dyn<'a>(
        &'a self,
        exception: HttpException,
        host: &'a ArgumentsHost,
    ) -> BoxFuture<'a, Result<Response, HttpException>> {
        self.catch(exception, host).boxed()
    }

    fn catch_rpc_dyn<'a>(
        &'a self,
        exception: RpcException,
        ctx: &'a RpcContext,
    ) -> BoxFuture<'a, Result<RpcReply, RpcException>> {
        self.catch_rpc(exception, ctx).boxed()
    }
}

/// What a filter knows of the request. Nest's `ArgumentsHost`.
#[derive(Debug, Clone)]
pub struct ArgumentsHost {
    method: Method,
    uri: Uri,
    route: Option<&'static RouteMeta>,
    controller: Option<&'static str>,
}

impl ArgumentsHost {
    pub(crate) fn new(
        parts: &Parts,
        route: Option<&'static RouteMeta>,
        controller: Option<&'static str>,
    ) -> Self {
        ArgumentsHost {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            route,
            controller,
        }
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The route, for route and controller filters (a global filter may see a request that
    /// matched no route).
    pub fn route(&self) -> Option<&'static RouteMeta> {
        self.route
    }

    /// The controller's name, for route and controller filters.
    pub fn controller(&self) -> Option<&'static str> {
        self.controller
    }
}

/// Offers the exception a response carries (if any) to `filters`, in order.
pub(crate) async fn run_filters(
    response: Response,
    filters: &[Arc<dyn DynFilter>],
    host: &ArgumentsHost,
) -> Response {
    let mut response = response;
    let Some(mut exception) = response.extensions_mut().remove::<HttpException>() else {
        return response;
    };
    for filter in filters {
        match filter.catch_dyn(exception, host).await {
            Ok(answer) => return answer,
            Err(passed) => exception = passed,
        }
    }
    // Nobody answered: the (possibly changed) exception's own body, keeping the headers
    // the original response had (e.g. `Allow`).
    let headers = std::mem::take(response.headers_mut());
    let mut answer = exception.into_response();
    for (name, value) in headers.iter() {
        if !answer.headers().contains_key(name) {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// Runs a handler future; a panic becomes Nest's 500 carrying the panic message, so route
/// filters see it.
pub(crate) async fn catch_unwind(
    handler: impl Future<Output = Response> + Send + 'static,
) -> Response {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => panic_response(panic.as_ref()),
    }
}

/// Nest's 500 for a panic, logged, carrying the message for filters.
pub(crate) fn panic_response(panic: &(dyn std::any::Any + Send)) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a route handler panicked");
    HttpException::internal()
        .with_cause(ExceptionCause::Panic(message.to_owned()))
        .into_response()
}

/// The app's global filters, as a middleware around the whole router.
pub(crate) async fn global_filters(
    State(filters): State<Arc<[Arc<dyn DynFilter>]>>,
    request: Request,
    next: MiddlewareNext,
) -> Response {
    let (parts, body) = request.into_parts();
    let host = ArgumentsHost::new(&parts, None, None);
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.extensions().get::<HttpException>().is_none() {
        return response;
    }
    run_filters(response, &filters, &host).await
}
