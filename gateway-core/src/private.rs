//! What macro-generated code calls. Not a public API: names and signatures change freely.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http::{
    nest_response, parse_param, run_guards, AuthUser, Body, CanActivate, DynGuard, HttpException,
    RouteMeta,
};

pub use axum;
pub use inventory;

/// The payload type of a message handler that takes none.
pub type IgnoredPayload = serde::de::IgnoredAny;

/// Runs the app's global guards and the route's, before its arguments are read.
pub async fn guard(
    parts: &mut Parts,
    route: &'static RouteMeta,
    controller: &'static str,
    guards: &[&dyn DynGuard],
) -> Result<(), HttpException> {
    run_guards(parts, route, controller, guards).await
}

/// The user a guard attached (`#[user]`); none attached is a 401.
pub fn user<T: Clone + 'static>(parts: &Parts) -> Result<T, HttpException> {
    parts
        .extensions
        .get::<AuthUser>()
        .and_then(|u| u.0.downcast_ref::<T>().cloned())
        .ok_or_else(|| HttpException::unauthorized(()))
}

/// A guard instance as the routes hold it. The bound is the compile-time check that
/// `#[guard(G)]` names a guard; the macro spans this call on `G`, so the error lands there.
pub fn guard_instance<G: CanActivate>(guard: Arc<G>) -> Arc<dyn DynGuard> {
    guard
}

/// The route's path parameters.
pub async fn raw_path(parts: &mut Parts) -> Result<RawPathParams, Response> {
    RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(IntoResponse::into_response)
}

/// One typed path parameter (`#[param] id: u64`), with Nest's parse-pipe 400.
pub fn path_param<T: FromStr>(
    params: &RawPathParams,
    name: &str,
    expected: &str,
) -> Result<T, HttpException> {
    let raw = params
        .iter()
        .find_map(|(key, value)| (key == name).then_some(value))
        .unwrap_or_default();
    parse_param(raw, expected)
}

/// The query string as `T` (`#[query]`); a mismatch is a 400 with Nest's shape.
pub fn query<T: DeserializeOwned>(parts: &Parts) -> Result<T, HttpException> {
    Query::<T>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .map_err(|rejection| HttpException::bad_request(rejection.body_text()))
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

/// The JSON body (`#[body]`), with Nest's 400/413.
pub async fn body<T: DeserializeOwned>(parts: Parts, body: HttpBody) -> Result<T, Response> {
    Body::<T>::from_request(Request::from_parts(parts, body), &())
        .await
        .map(|b| b.0)
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

/// A status code known to be valid (checked by the macro).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("the macro checked the status code")
}
