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
pub use body_args::{body, body_from_bytes, raw_body, raw_body_as};

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
    parts
        .extensions
        .get::<AuthUser>()
        .and_then(|u| u.0.downcast_ref::<T>().cloned())
        .ok_or_else(|| HttpException::unauthorized(()))
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

/// Puts a controller's and a handler's guards in front of the handler just registered.
pub fn guard_handler(
    router: crate::server::MessageRouter,
    handler: &'static crate::http::PatternMeta,
    controller: &'static str,
    guards: Vec<Arc<dyn DynGuard>>,
) -> crate::server::MessageRouter {
    router.guard(handler, controller, guards)
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
    expected: impl FnOnce() -> std::borrow::Cow<'static, str>,
) -> Result<T, HttpException> {
    let raw = params
        .iter()
        .find_map(|(key, value)| (key == name).then_some(value))
        .unwrap_or_default();
    // The phrase is only made when the parameter does not parse.
    raw.parse()
        .map_err(|_| HttpException::bad_request(format!("Validation failed ({})", expected())))
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

/// How a route's, handler's or parameter's type is handled, chosen by the type's traits at
/// compile time, never by how the type is spelled (an alias of `Result` works). Generated code
/// calls `(&&&&&&Out::of(&value)).pick()`: method resolution tries the most specific impl
/// first (the most references), so a type that is both `Serialize` and `IntoResponse` (a
/// `String`) is sent as Nest sends it.
pub mod pick {
    use std::borrow::Cow;
    use std::marker::PhantomData;

    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use serde::Serialize;

    use crate::http::{nest_response, HttpException, BOOLEAN_EXPECTED, NUMERIC_EXPECTED};
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
        pub fn respond(self, _: StatusCode, response: Response) -> Response {
            response
        }
    }

    impl AsIsOrError {
        /// The response.
        pub fn respond<E: std::convert::Into<HttpException>>(
            self,
            _: StatusCode,
            result: Result<Response, E>,
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
        ) -> Response {
            match result {
                Ok(value) => nest_response(status, &value),
                Err(error) => error.into().into_response(),
            }
        }
    }

    impl Json {
        /// The response.
        pub fn respond<T: Serialize>(self, status: StatusCode, value: T) -> Response {
            nest_response(status, &value)
        }
    }

    impl IntoOrError {
        /// The response.
        pub fn respond<T: IntoResponse, E: std::convert::Into<HttpException>>(
            self,
            _: StatusCode,
            result: Result<T, E>,
        ) -> Response {
            match result {
                Ok(value) => value.into_response(),
                Err(error) => error.into().into_response(),
            }
        }
    }

    impl Into {
        /// The response.
        pub fn respond<T: IntoResponse>(self, _: StatusCode, value: T) -> Response {
            value.into_response()
        }
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
}
