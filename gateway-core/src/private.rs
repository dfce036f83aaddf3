//! What macro-generated code calls. Not a public API: names and signatures change freely.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The request pipeline every route runs (see `http/pipeline.rs`).
pub use crate::http::pipeline::run as handle;
use crate::http::FromQuery;
use crate::http::{
    nest_response, AuthUser, CanActivate, DynFilter, DynGuard, DynInterceptor, ExceptionFilter,
    HttpException, NestInterceptor,
};
pub use crate::http::{Decorator, MetaValue, Metadata};

#[path = "private_body.rs"]
mod body_args;
pub use body_args::{
    body, body_from_bytes, body_from_fields, multipart, raw_body, raw_body_as, uploaded,
};

pub use axum;
pub use inventory;

/// The payload type of a message handler that takes none.
pub type IgnoredPayload = serde::de::IgnoredAny;

/// An interceptor instance from `#[use_interceptors(expr)]`. The bound is the compile-time
/// check; the macro spans this call on the expression.
pub fn interceptor_value<I: NestInterceptor>(interceptor: I) -> Arc<dyn DynInterceptor> {
    Arc::new(interceptor)
}

/// An interceptor resolved by DI from `#[use_interceptors(Type)]`.
pub fn interceptor_instance<I: NestInterceptor>(interceptor: Arc<I>) -> Arc<dyn DynInterceptor> {
    interceptor
}

/// A filter instance from `#[use_filters(expr)]`.
pub fn filter_value<F: ExceptionFilter>(filter: F) -> Arc<dyn DynFilter> {
    Arc::new(filter)
}

/// A filter resolved by DI from `#[use_filters(Type)]`.
pub fn filter_instance<F: ExceptionFilter>(filter: Arc<F>) -> Arc<dyn DynFilter> {
    filter
}

/// The metadata of `#[apply_decorators(D)]`; the bound is the check that `D` is a decorator.
pub const fn decorator<D: Decorator>() -> &'static [Metadata] {
    D::METADATA
}

/// The user a guard attached (`#[user]`); none attached is a 401.
pub fn user<T: Clone + 'static>(parts: &Parts) -> Result<T, HttpException> {
    AuthUser::of(&parts.extensions)
        .and_then(|u| u.0.downcast_ref::<T>().cloned())
        .ok_or_else(|| HttpException::unauthorized(()))
}

/// Whether the route's handler value is kept for its interceptors (see
/// [`HandlerValue`](crate::http::HandlerValue)).
pub fn keeps_value(parts: &Parts) -> bool {
    crate::http::keeps_value(parts)
}

/// A `#[context]` argument: the decorator's value from the route's execution context.
pub fn decorated<T: crate::http::ParamDecorator>(
    parts: &mut Parts,
    route: &'static crate::http::RouteMeta,
    controller: &'static str,
    data: Option<&'static str>,
) -> Result<T, HttpException> {
    let ctx = crate::http::ExecutionContext::new(parts, route, controller);
    T::create(data, &ctx)
}

/// Puts a controller's and a handler's guards, interceptors and filters around the handler
/// just registered.
pub fn edge_handler(
    router: crate::server::MessageRouter,
    handler: &'static crate::http::PatternMeta,
    controller: &'static str,
    guards: Vec<Arc<dyn DynGuard>>,
    interceptors: &[Arc<dyn crate::http::DynInterceptor>],
    filters: &[Arc<dyn crate::http::DynFilter>],
) -> crate::server::MessageRouter {
    let edge = crate::server::RpcEdge {
        guards,
        interceptors: interceptors.to_vec(),
        filters: filters.to_vec(),
    };
    router.edge(handler, controller, edge)
}

/// A guard instance as the routes hold it. The bound is the compile-time check that
/// `#[guard(G)]` names a guard; the macro spans this call on `G`, so the error lands there.
pub fn guard_instance<G: CanActivate>(guard: Arc<G>) -> Arc<dyn DynGuard> {
    guard
}

/// The route's path parameters. One that is not UTF-8 once decoded (`/users/%FF`) is
/// Express's 400 `Failed to decode param '%FF'`, in Nest's JSON.
pub async fn raw_path(parts: &mut Parts) -> Result<RawPathParams, Response> {
    RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|rejection| {
            let segment = parts
                .uri
                .path()
                .split('/')
                .find(|s| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .is_err()
                })
                .unwrap_or_default();
            tracing::debug!(%rejection, "a path parameter does not decode");
            HttpException::bad_request(format!("Failed to decode param '{segment}'"))
                .into_response()
        })
}

/// One typed path parameter (`#[param] id: u64`), with Nest's parse-pipe 400.
pub fn path_param<T: FromStr>(
    params: &RawPathParams,
    name: &str,
    expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
) -> Result<T, HttpException> {
    parse_param(raw_param(params, name).unwrap_or_default(), expected)
}

/// The parameter of a path's optional group (`users{/:id}`): `None` when the request has
/// none. Its argument is an `Option`.
pub fn optional_path_param<T: OptionalParam>(
    params: &RawPathParams,
    name: &str,
    expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
) -> Result<T, HttpException> {
    T::from_param(raw_param(params, name), expected)
}

/// The value of path parameter `name`, if the route matched one.
fn raw_param<'a>(params: &'a RawPathParams, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// `raw` parsed, or Nest's parse-pipe 400 (the phrase is only made when it does not parse).
fn parse_param<T: FromStr>(
    raw: &str,
    expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
) -> Result<T, HttpException> {
    raw.parse()
        .map_err(|_| HttpException::bad_request(format!("Validation failed ({})", expected())))
}

/// What an optional path parameter can be: `Option<T>` of a type that parses.
#[diagnostic::on_unimplemented(
    message = "the path's optional group can be absent: take its parameter as `Option<{Self}>`",
    label = "an optional path parameter (`users{{/:id}}`) is an `Option`"
)]
pub trait OptionalParam: Sized {
    /// The type a present parameter parses into.
    type Inner;

    /// The argument from the parameter, if the request has one.
    fn from_param(
        raw: Option<&str>,
        expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
    ) -> Result<Self, HttpException>;
}

impl<T: FromStr> OptionalParam for Option<T> {
    type Inner = T;

    fn from_param(
        raw: Option<&str>,
        expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
    ) -> Result<Self, HttpException> {
        raw.map(|raw| parse_param(raw, expected)).transpose()
    }
}

/// The query string as `T` (`#[query]`), or a validated `Valid<T>`; a mismatch is a 400 with
/// Nest's shape.
pub fn query<T: FromQuery>(parts: &Parts) -> Result<T, HttpException> {
    T::from_query(parts.uri.query())
}

/// A header as the argument's type: `Option<String>` (absent: `None`) or `String` (absent:
/// 400, naming the header).
pub trait HeaderArg: Sized {
    /// Builds the argument from the header's value, if any.
    fn from_header(name: &str, value: Option<&str>) -> Result<Self, HttpException>;
}

impl HeaderArg for Option<String> {
    fn from_header(_: &str, value: Option<&str>) -> Result<Self, HttpException> {
        Ok(value.map(str::to_owned))
    }
}

impl HeaderArg for String {
    fn from_header(name: &str, value: Option<&str>) -> Result<Self, HttpException> {
        value
            .map(str::to_owned)
            .ok_or_else(|| HttpException::bad_request(format!("Missing header {name}")))
    }
}

/// One header (`#[header("x-name")]`).
pub fn header<T: HeaderArg>(parts: &Parts, name: &str) -> Result<T, HttpException> {
    let value = parts.headers.get(name).and_then(|v| v.to_str().ok());
    T::from_header(name, value)
}

/// Any axum extractor that reads the request head, as a plain argument.
pub async fn extract<T: FromRequestParts<()>>(parts: &mut Parts) -> Result<T, Response> {
    T::from_request_parts(parts, &())
        .await
        .map_err(IntoResponse::into_response)
}

/// A route's `T: Serialize` result, sent as Nest sends it.
pub fn respond_value<T: Serialize>(status: StatusCode, value: &T) -> Response {
    nest_response(status, value)
}

/// A route's `Result<T, E>`: the value as Nest sends it, or the error as an `HttpException`.
pub fn respond_result<T: Serialize, E: Into<HttpException>>(
    status: StatusCode,
    result: Result<T, E>,
) -> Response {
    match result {
        Ok(value) => nest_response(status, &value),
        Err(error) => error.into().into_response(),
    }
}

/// A route's `Result<Response, E>`: the response as is, or the error as an `HttpException`.
pub fn respond_raw_result<E: Into<HttpException>>(result: Result<Response, E>) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => error.into().into_response(),
    }
}

/// A status code known to be valid (checked by the macro).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("the macro checked the status code")
}

#[path = "private_pick.rs"]
pub mod pick;

/// What `#[grpc_method]` checks at compile time, each error at the token it is about.
#[cfg(feature = "grpc")]
pub mod grpc {
    use crate::grpc::GrpcMethod;

    /// The running `#[grpc_stream_method]` handler's request stream.
    pub fn take_requests<M: GrpcMethod>() -> crate::grpc::GrpcRequests<M::Request> {
        crate::transport::grpc::take_requests::<M>()
    }

    /// The handler's payload is the method's request message.
    pub const fn request_is<M: GrpcMethod<Request = T>, T>() {}

    /// The handler answers `Result<response message, E>`.
    pub fn reply_is<M: GrpcMethod<Response = T>, T, E>(_: &Result<T, E>) {}

    /// The handler's stream yields `Result<response message, E>`.
    pub fn stream_is<M: GrpcMethod<Response = T>, S, T, E>(_: &S)
    where
        S: futures_core::Stream<Item = Result<T, E>>,
    {
    }
}
