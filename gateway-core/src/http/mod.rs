//! The HTTP side of a gateway: Nest's HTTP contract.
//!
//! - [`HttpException`]: Nest's exception family with byte-identical JSON bodies, and the
//!   conversion from [`RpcError`](crate::client::RpcError) (`?` in a handler).
//! - [`nest_response`]: success responses as Express sends them (201 for POST, strings as
//!   `text/html`, `null` as an empty body).
//! - [`Body`] and [`parse_param`]: request bodies (JSON, and forms as Express's extended
//!   parser reads them, in `form`) and typed params, with Nest's 400 and 413 bodies;
//!   [`FromRawBody`] for `#[raw_body]`.
//! - [`Routes`]: the controllers' routes, made into the axum router when the app is
//!   assembled; `version`: Nest's versioning ([`VersioningOptions`], [`ApiVersion`]).
//! - `pipeline`: one request through a route (guards → interceptors → pipes and handler →
//!   filters), the code every generated route calls.
//! - [`CanActivate`] and [`ExecutionContext`]: guards, on routes and (through
//!   [`RpcContext`]) on message handlers; [`NestInterceptor`]: interceptors;
//!   [`ExceptionFilter`]: filters.
//! - [`route_not_found`] and [`nest_defaults`]: unknown routes and methods (`Cannot GET /path`).
//! - [`catch_panic_layer`]: a panicking handler answers Nest's 500 instead of dropping the
//!   connection.
//!
//! Not for: routing or the app builder (they sit on top of this).

mod controller;
mod exception;
mod extract;
mod filter;
pub(crate) mod form;
pub(crate) mod guard;
mod interceptor;
pub(crate) mod json_syntax;
mod metadata;
mod multipart;
pub(crate) mod pipeline;
mod redirect;
mod request_id;
mod respond;
mod routes;
mod settings;
mod sse;
mod streamable;
#[cfg(feature = "validation")]
mod valid;
pub(crate) mod validate;
mod value;
pub(crate) mod version;

use std::any::Any;

use axum::http::{Method, Uri};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;

pub use controller::{
    module_listing, registered_controllers, ApiDocFn, Controller, ControllerMeta, PatternMeta,
    RegisteredController, RegisteredModule, RouteDocs, RouteMeta,
};
pub use exception::{ExceptionCause, ExceptionMessage, HttpException};
pub(crate) use extract::{json_of, json_text, read_body};
pub use extract::{
    parse_param, Body, BodyLimit, BodyReadTimeout, FromRawBody, BOOLEAN_EXPECTED,
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_READ_TIMEOUT, NUMERIC_EXPECTED, UUID_EXPECTED,
};
pub(crate) use filter::{catch_unwind, global_filters, run_filters};
pub use filter::{ArgumentsHost, DynFilter, ExceptionFilter};
pub(crate) use form::pairs_to_json as form_pairs_to_json;
pub(crate) use guard::{run_guards, AuthUser, GlobalGuards, PendingHeaders};

pub(crate) use guard::TrustProxy;
pub use guard::{CanActivate, ContextType, DynGuard, ExecutionContext, ParamDecorator, RpcContext};
pub(crate) use interceptor::GlobalInterceptors;
pub use interceptor::{
    CallContext, DynInterceptor, LoggingInterceptor, NestInterceptor, Next, TimeoutInterceptor,
    TransformInterceptor,
};
pub use metadata::{
    Decorator, MetaValue, Metadata, Reflector, IS_PUBLIC_KEY, ROLES_KEY, SKIP_THROTTLE_KEY,
    THROTTLE_KEY,
};
pub use multipart::{FileField, FromUpload, Multipart, UploadedFile, DEFAULT_MAX_FILE_SIZE};
pub use redirect::{redirect_response, HttpRedirect, IntoRedirect};
pub(crate) use request_id::MakeId;
pub use request_id::{RequestId, REQUEST_ID_HEADER};
pub use respond::{default_status, nest_response};
pub use routes::Routes;
pub(crate) use settings::{RequestSettings, RequestState};
pub use sse::{sse_response, MessageEvent, SseItem};
pub(crate) use streamable::RouteStatus;
pub use streamable::StreamableFile;
#[cfg(feature = "validation")]
pub use valid::Valid;
pub use validate::{FromJsonBody, FromQuery, ValidationOptions};
pub(crate) use value::{keeps_value, kept_response};
pub use value::{value_response, HandlerValue};
pub use version::{ApiVersion, VersioningOptions, VersioningType, VERSION_NEUTRAL};

/// The fallback handler for unknown routes: Nest's 404
/// `{"message":"Cannot GET /path","error":"Not Found","statusCode":404}`. The path keeps its
/// query string, as Express's `originalUrl` does, and the app's global prefix. (Nested under
/// a prefix in a bigger axum app, the path shown is the nested one.)
pub async fn route_not_found(
    method: Method,
    uri: Uri,
    shown: Option<axum::Extension<ShownUri>>,
) -> HttpException {
    let uri = shown.map_or(uri, |shown| shown.0 .0);
    let url = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    HttpException::route_not_found(method.as_str(), url)
}

/// The URI a request was sent to, when the app routes it by another (its global prefix
/// stripped): what Nest's messages show.
#[derive(Debug, Clone)]
pub struct ShownUri(pub Uri);

/// Routes `request` by `path` instead of its own, the query kept; messages keep showing the
/// URI as it was sent ([`ShownUri`]). What the global prefix and URI versioning do.
pub(crate) fn route_by(request: &mut axum::extract::Request, path: &str) {
    let original = request.uri().clone();
    let path_and_query = match original.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = original.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
        if request.extensions().get::<ShownUri>().is_none() {
            request.extensions_mut().insert(ShownUri(original));
        }
    }
}

/// Nest's behaviour around the routes of a finished router: an unknown path *or* an unserved
/// method on a known path is 404 `Cannot <METHOD> <url>` (Express has no 405), and a panic
/// is a 500 with Nest's body. Call it after every route is mounted.
pub fn nest_defaults(router: axum::Router) -> axum::Router {
    router
        .method_not_allowed_fallback(route_not_found)
        .fallback(route_not_found)
        .layer(catch_panic_layer())
}

/// The type of [`catch_panic_layer`].
pub type CatchPanic = CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response>;

/// A layer that turns a panic in a handler into Nest's 500
/// `{"statusCode":500,"message":"Internal server error"}` (logged with the panic message).
pub fn catch_panic_layer() -> CatchPanic {
    CatchPanicLayer::custom(on_panic as fn(Box<dyn Any + Send + 'static>) -> Response)
}

/// Nest's 500 for a panic (logged, and carrying the message for exception filters).
pub(crate) fn on_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    filter::panic_response(panic.as_ref())
}

/// [`nest_defaults`] without the panic layer, for an app that catches panics around the whole
/// router (one wrapper instead of one per route).
pub(crate) fn nest_fallbacks(router: axum::Router) -> axum::Router {
    router
        .method_not_allowed_fallback(route_not_found)
        .fallback(route_not_found)
}
