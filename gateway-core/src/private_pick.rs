//! How a route's, handler's or parameter's type is handled, chosen by the type's traits at
//! compile time, never by how the type is spelled (an alias of `Result` works). Generated code
//! calls `(&&&&&&Out::of(&value)).pick()`: method resolution tries the most specific impl
//! first (the most references), so a type that is both `Serialize` and `IntoResponse` (a
//! `String`) is sent as Nest sends it.

use std::borrow::Cow;
use std::marker::PhantomData;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::{
    kept_response, nest_response, HttpException, BOOLEAN_EXPECTED, NUMERIC_EXPECTED,
};
use crate::server::{EventResult, RpcException};

/// A type, carried to the pick.
pub struct Out<T>(PhantomData<fn() -> T>);

impl<T> Out<T> {
    /// The `Out` of `value`'s type.
    pub fn of(_: &T) -> Self {
        Out(PhantomData)
    }

    /// The `Out` of `T`.
    pub fn new() -> Self {
        Out(PhantomData)
    }
}

impl<T> Default for Out<T> {
    fn default() -> Self {
        Self::new()
    }
}

// Routes: what a method returns becomes the response.

/// `Response`: as is.
pub struct AsIs;
/// `Result<Response, E>`: as is, or the error.
pub struct AsIsOrError;
/// `Result<T: Serialize, E>`: as Nest sends the value, or the error.
pub struct JsonOrError;
/// `T: Serialize` (`()` too): as Nest sends it.
pub struct Json;
/// `Result<T: IntoResponse, E>`: axum's response, or the error.
pub struct IntoOrError;
/// `T: IntoResponse` (`impl IntoResponse`): axum's response.
pub struct Into;

/// Picks [`AsIs`].
pub trait PickAsIs {
    /// The pick.
    fn pick(&self) -> AsIs {
        AsIs
    }
}
impl PickAsIs for &&&&&Out<Response> {}

/// Picks [`AsIsOrError`].
pub trait PickAsIsOrError {
    /// The pick.
    fn pick(&self) -> AsIsOrError {
        AsIsOrError
    }
}
impl<E: std::convert::Into<HttpException>> PickAsIsOrError for &&&&Out<Result<Response, E>> {}

/// Picks [`JsonOrError`].
pub trait PickJsonOrError {
    /// The pick.
    fn pick(&self) -> JsonOrError {
        JsonOrError
    }
}
impl<T: Serialize, E: std::convert::Into<HttpException>> PickJsonOrError for &&&Out<Result<T, E>> {}

/// Picks [`Json`].
pub trait PickJson {
    /// The pick.
    fn pick(&self) -> Json {
        Json
    }
}
impl<T: Serialize> PickJson for &&Out<T> {}

/// Picks [`IntoOrError`].
pub trait PickIntoOrError {
    /// The pick.
    fn pick(&self) -> IntoOrError {
        IntoOrError
    }
}
impl<T: IntoResponse, E: std::convert::Into<HttpException>> PickIntoOrError for &Out<Result<T, E>> {}

/// Picks [`Into`].
pub trait PickInto {
    /// The pick.
    fn pick(&self) -> Into {
        Into
    }
}
impl<T: IntoResponse> PickInto for Out<T> {}

impl AsIs {
    /// The response.
    pub fn respond(self, _: StatusCode, response: Response, _: bool) -> Response {
        response
    }
}

impl AsIsOrError {
    /// The response.
    pub fn respond<E: std::convert::Into<HttpException>>(
        self,
        _: StatusCode,
        result: Result<Response, E>,
        _: bool,
    ) -> Response {
        result.unwrap_or_else(|error| error.into().into_response())
    }
}

impl JsonOrError {
    /// The response.
    pub fn respond<T: Serialize, E: std::convert::Into<HttpException>>(
        self,
        status: StatusCode,
        result: Result<T, E>,
        keep: bool,
    ) -> Response {
        match result {
            Ok(value) if keep => kept_response(status, &value),
            Ok(value) => nest_response(status, &value),
            Err(error) => error.into().into_response(),
        }
    }
}

impl Json {
    /// The response.
    pub fn respond<T: Serialize>(self, status: StatusCode, value: T, keep: bool) -> Response {
        if keep {
            kept_response(status, &value)
        } else {
            nest_response(status, &value)
        }
    }
}

impl IntoOrError {
    /// The response.
    pub fn respond<T: IntoResponse, E: std::convert::Into<HttpException>>(
        self,
        status: StatusCode,
        result: Result<T, E>,
        _: bool,
    ) -> Response {
        match result {
            Ok(value) => with_route_status(value.into_response(), status),
            Err(error) => error.into().into_response(),
        }
    }
}

impl Into {
    /// The response.
    pub fn respond<T: IntoResponse>(self, status: StatusCode, value: T, _: bool) -> Response {
        with_route_status(value.into_response(), status)
    }
}

/// `response`, with the route's `status` if it asks for it (a `StreamableFile`).
fn with_route_status(mut response: Response, status: StatusCode) -> Response {
    if response
        .extensions_mut()
        .remove::<crate::http::RouteStatus>()
        .is_some()
    {
        *response.status_mut() = status;
    }
    response
}

// Message handlers: what a method returns becomes the reply.

/// `Result<T, E>` with `E` an `RpcException`: as is.
pub struct Reply;
/// `T: Serialize`: a successful reply.
pub struct ReplyOk;

/// Picks [`Reply`].
pub trait PickReply {
    /// The pick.
    fn pick_reply(&self) -> Reply {
        Reply
    }
}
impl<T: Serialize, E: std::convert::Into<RpcException>> PickReply for &Out<Result<T, E>> {}

/// Picks [`ReplyOk`].
pub trait PickReplyOk {
    /// The pick.
    fn pick_reply(&self) -> ReplyOk {
        ReplyOk
    }
}
impl<T: Serialize> PickReplyOk for Out<T> {}

impl Reply {
    /// The reply.
    pub fn reply<T, E>(self, result: Result<T, E>) -> Result<T, E> {
        result
    }
}

impl ReplyOk {
    /// The reply.
    pub fn reply<T>(self, value: T) -> Result<T, RpcException> {
        Ok(value)
    }
}

// Event handlers: a failure is logged, any other value dropped.

/// `()` or `Result<(), E>`: reported.
pub struct Report;
/// Anything else: dropped.
pub struct Drop;

/// Picks [`Report`].
pub trait PickReport {
    /// The pick.
    fn pick_event(&self) -> Report {
        Report
    }
}
impl<T: EventResult> PickReport for &Out<T> {}

/// Picks [`Drop`].
pub trait PickDrop {
    /// The pick.
    fn pick_event(&self) -> Drop {
        Drop
    }
}
impl<T> PickDrop for Out<T> {}

impl Report {
    /// What the event handler returns.
    pub fn finish<T: EventResult>(self, value: T) -> T {
        value
    }
}

impl Drop {
    /// What the event handler returns.
    pub fn finish<T>(self, _: T) {}
}

// Path parameters: the phrase of Nest's parse pipe for the type.

/// Numbers: Nest's `ParseIntPipe` / `ParseFloatPipe`.
pub struct Numeric;
/// `bool`: Nest's `ParseBoolPipe`.
pub struct Boolean;
/// Anything else: named by its type (`uuid is expected` for a `Uuid`).
pub struct Named;

/// A number type.
pub trait IsNumeric {}
macro_rules! numeric {
    ($($t:ty),*) => {$(impl IsNumeric for $t {})*};
}
numeric!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

/// Picks [`Numeric`].
pub trait PickNumeric {
    /// The pick.
    fn pick_param(&self) -> Numeric {
        Numeric
    }
}
impl<T: IsNumeric> PickNumeric for &&Out<T> {}

/// Picks [`Boolean`].
pub trait PickBoolean {
    /// The pick.
    fn pick_param(&self) -> Boolean {
        Boolean
    }
}
impl PickBoolean for &Out<bool> {}

/// Picks [`Named`].
pub trait PickNamed {
    /// The pick.
    fn pick_param(&self) -> Named {
        Named
    }
}
impl<T> PickNamed for Out<T> {}

impl Numeric {
    /// The phrase.
    pub fn expected<T>(self, _: Out<T>) -> Cow<'static, str> {
        Cow::Borrowed(NUMERIC_EXPECTED)
    }
}

impl Boolean {
    /// The phrase.
    pub fn expected<T>(self, _: Out<T>) -> Cow<'static, str> {
        Cow::Borrowed(BOOLEAN_EXPECTED)
    }
}

impl Named {
    /// The phrase.
    pub fn expected<T>(self, _: Out<T>) -> Cow<'static, str> {
        // The type's own name, without its module path (`uuid::Uuid` is `Uuid`).
        let full = std::any::type_name::<T>();
        let (outer, generics) = full.split_at(full.find('<').unwrap_or(full.len()));
        let name = outer.rsplit("::").next().unwrap_or(outer);
        if name == "Uuid" {
            return Cow::Borrowed(crate::http::UUID_EXPECTED);
        }
        Cow::Owned(format!("a valid {name}{generics} is expected"))
    }
}
