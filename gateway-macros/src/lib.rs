//! Macros for `gateway-core`, which re-exports them; depend on `gateway-core`, not on this
//! crate.
//!
//! | macro | what it does |
//! | --- | --- |
//! | [`pattern!`] | a message pattern literal, normalized at compile time |
//! | [`controller`] | an impl block of route methods becomes axum routes |
//! | [`injectable`] | a struct the DI container builds (`#[inject("TOKEN")]` fields, or by type) |
//! | [`module`] | a module: `imports`, `controllers`, `providers` |
//! | [`get`], [`post`], [`put`], [`patch`], [`delete`], [`http_code`] | route markers inside a `#[controller]` block |

mod attrs;
mod controller;
mod diag;
mod injectable;
mod module;
mod pattern;

use proc_macro::TokenStream;

/// A message pattern literal, parsed and normalized at compile time.
///
/// Write patterns as you would in Nest: a string (`pattern!("user_created")`), a number, or a
/// JavaScript-style object (`pattern!({ cmd: "get_user" })`, keys bare or quoted, values
/// strings, numbers, `true`, `false`, `null`, nested objects and arrays). The expansion is a
/// `Pattern` holding two `&'static str`: the JSON as written (what a TCP request carries)
/// and Nest's normalized route (keys sorted as JavaScript's `localeCompare` sorts them; what a
/// TCP event, a NATS subject or a Redis channel carries). No work is left for run time.
///
/// ```
/// use gateway_core::pattern;
/// let p = pattern!({ role: "user", cmd: "get" });
/// assert_eq!(p.route(), r#"{"cmd":"get","role":"user"}"#);
/// assert_eq!(pattern!("user_created").route(), "user_created");
/// ```
///
/// Mistakes are compile errors on the offending token: a value that is not a literal, a
/// duplicate key, a non-ASCII key (Nest's ICU key order is only reproduced for ASCII), or a
/// pattern deeper than 5 levels or wider than 20 keys (Nest would truncate it, so different
/// patterns would collide).
#[proc_macro]
pub fn pattern(input: TokenStream) -> TokenStream {
    pattern::expand(input.into()).into()
}

/// Turns an impl block into a controller: every method marked `#[get("path")]`, `#[post]`,
/// `#[put]`, `#[patch]` or `#[delete]` becomes an axum route bound to the shared instance.
///
/// Paths use Nest's syntax (`users/:id`) and are checked and converted to axum's at compile
/// time; `#[controller("api")]` prefixes every route. Arguments after `&self`:
///
/// | argument | from |
/// | --- | --- |
/// | `#[param] id: u64`, `#[param("id")] user_id: String` | a `:id` path segment, parsed (`FromStr`); a bad value is Nest's 400 `Validation failed (numeric string is expected)` |
/// | `#[body] dto: T` | the JSON body (`Deserialize`), with Nest's 400 and 413 answers |
/// | `#[query] q: T` | the query string (`Deserialize`) |
/// | `#[header("x-name")] v: Option<String>` (or `String`: required) | one header |
/// | `#[headers] h: HeaderMap`, `#[req] parts: Parts` | all headers, the request head |
/// | `#[user] user: T` | what a guard attached with `ExecutionContext::set_user` (none: 401) |
/// | `#[raw_body] raw: Bytes` | the body's bytes as received (beside a `#[body]`, for signatures) |
/// | `#[context] v: T`, `#[context("data")]` | a custom parameter decorator (`ParamDecorator`) |
/// | `#[uploaded_file("file", max_size = 1_000_000, file_type = "image/png")] f: UploadedFile` | a multipart form's file, as Nest's `FileInterceptor` + `@UploadedFile(ParseFilePipe)`: over `max_size`, 413 `File too large`; a missing file, 400 `File is required` (`Option<UploadedFile>`: optional); a content of another type, 400 `Validation failed (..)`; a `#[body]` beside it is the form's text fields |
/// | `#[uploaded_files("photos", max_count = 3)] fs: Vec<UploadedFile>` | the field's files (`FilesInterceptor`); one too many, 400 `Unexpected file field - photos` |
/// | any other type | an axum extractor that reads the request head (`FromRequestParts`) |
///
/// The return value: `T: Serialize` is sent as Nest sends it (objects as JSON, strings as
/// text), `Result<T, E>` with `E: Into<HttpException>` (so `RpcError` works with `?`),
/// `impl IntoResponse` or `Response` as is. POST answers 201, every other method 200;
/// `#[http_code(204)]` overrides.
///
/// `#[guard(AuthGuard)]` under `#[controller]` guards every route; on a method, that route.
/// The other edge attributes work the same way (controller: every route; method: that one):
/// `#[use_interceptors(..)]`, `#[use_filters(..)]` (a type name is a provider built by DI,
/// any other expression an instance), and metadata read by guards and interceptors through
/// `Reflector`: `#[set_metadata("key", value)]`, `#[public]`, `#[roles("admin")]`,
/// `#[throttle(limit = 10, ttl = "60s")]`, `#[skip_throttle]`, `#[cache_ttl("30s")]`,
/// `#[cache_key("k")]`, `#[apply_decorators(D)]`.
/// A request runs global guards, controller guards, route guards, then interceptors (global,
/// controller, route) around the argument pipes and the handler; route then controller
/// filters see the exception a request ends with.
///
/// The microservice side lives in the same block: `#[message_pattern({ cmd: "get_user" })]`
/// on `async fn get_user(&self, #[payload] req: GetUser) -> Result<User, RpcException>` (a
/// plain `fn` returning `impl Stream` streams its reply), `#[event_pattern("order_created")]`
/// on an `async fn` returning `()` or `Result<(), E>`. Pattern literals are checked and
/// normalized at compile time as in `pattern!`.
/// Guard types must implement `CanActivate` and be listed in a module's `providers`.
///
/// ```
/// use gateway_core::prelude::*;
///
/// struct UsersController;
///
/// #[controller("api")]
/// impl UsersController {
///     #[get("users/:id")]
///     async fn get_user(&self, #[param] id: u64) -> Result<serde_json::Value, HttpException> {
///         if id == 42 { Ok(serde_json::json!({ "id": 42 })) } else { Err(HttpException::not_found(())) }
///     }
/// }
///
/// assert_eq!(UsersController::META.routes[0].path, "/api/users/:id");
/// ```
#[proc_macro_attribute]
pub fn controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    controller::expand(attr.into(), item.into()).into()
}

macro_rules! route_marker {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        #[proc_macro_attribute]
        pub fn $name(attr: TokenStream, item: TokenStream) -> TokenStream {
            controller::misplaced(stringify!($name), attr.into(), item.into()).into()
        }
    )*};
}

route_marker! {
    /// `#[get("path")]`: a GET route, inside a [`macro@controller`] block.
    get,
    /// `#[post("path")]`: a POST route (201 by default), inside a [`macro@controller`] block.
    post,
    /// `#[put("path")]`: a PUT route, inside a [`macro@controller`] block.
    put,
    /// `#[patch("path")]`: a PATCH route, inside a [`macro@controller`] block.
    patch,
    /// `#[delete("path")]`: a DELETE route, inside a [`macro@controller`] block.
    delete,
    /// `#[head("path")]`: a HEAD route (a GET route answers HEAD too), inside a [`macro@controller`] block.
    head,
    /// `#[options("path")]`: an OPTIONS route, inside a [`macro@controller`] block.
    options,
    /// `#[all("path")]`: every method (Nest's `@All`), inside a [`macro@controller`] block.
    all,
    /// `#[redirect("url", 301)]`: the route redirects (Nest's `@Redirect`); it may return an `HttpRedirect` instead.
    redirect,
    /// `#[sse("path")]`: a GET route of server-sent events (Nest's `@Sse`): the handler returns a `Stream` of `MessageEvent`s.
    sse,
    /// `#[http_code(204)]`: the route's success status, inside a [`macro@controller`] block.
    http_code,
    /// `#[version("1")]`, `#[version("1", "2")]`, `#[version(neutral)]`: the versions a route
    /// (or every route of the controller) serves, once `app.enable_versioning(..)` is on.
    version,
    /// `#[guard(AuthGuard)]`: under `#[controller]` (every route and handler) or on a route or handler method.
    guard,
    /// `#[message_pattern({ cmd: "get_user" })]`: a request handler, inside a [`macro@controller`] block.
    message_pattern,
    /// `#[event_pattern("order_created")]`: an event handler, inside a [`macro@controller`] block.
    event_pattern,
    /// `#[grpc_method(hero::HeroesService)]` or `#[grpc_method(hero::HeroesService, "FindOne")]`:
    /// a gRPC method's handler (Nest's `@GrpcMethod`), inside a [`macro@controller`] block.
    grpc_method,
    /// `#[grpc_stream_method(hero::HeroesService)]`: a handler of a gRPC method that takes a
    /// stream of requests (Nest's `@GrpcStreamMethod`): its payload is a `GrpcRequests<T>`.
    grpc_stream_method,
    /// `#[set_metadata("key", value)]`: route or controller metadata for guards and interceptors (Nest's `@SetMetadata`).
    set_metadata,
    /// `#[public]`: the route (or controller) needs no authentication (`isPublic` metadata).
    public,
    /// `#[roles("admin")]`: the roles the roles guard requires (`roles` metadata).
    roles,
    /// `#[throttle(limit = 10, ttl = "60s")]`: this route's rate limit (Nest's `@Throttle`).
    throttle,
    /// `#[skip_throttle]`: no rate limit here (Nest's `@SkipThrottle()`).
    skip_throttle,
    /// `#[apply_decorators(AdminOnly)]`: the metadata of `Decorator` types (Nest's `applyDecorators`).
    apply_decorators,
    /// `#[use_interceptors(..)]`: interceptors around the routes (Nest's `@UseInterceptors`).
    use_interceptors,
    /// `#[use_filters(..)]`: exception filters for the routes (Nest's `@UseFilters`).
    use_filters,
    /// `#[cache_ttl("30s")]`: how long `CacheInterceptor` keeps this route's answer (Nest's `@CacheTTL`).
    cache_ttl,
    /// `#[cache_key("all_users")]`: the key `CacheInterceptor` caches this answer under (Nest's `@CacheKey`).
    cache_key,
    /// `#[api_tags("users")]`: the OpenAPI tags of a controller's or a route's operations (Nest's `@ApiTags`).
    api_tags,
    /// `#[api_operation(summary = "..", description = "..")]`: an operation's summary (Nest's `@ApiOperation`).
    api_operation,
    /// `#[api_response(status = 404, description = "..", body = T)]`: a documented response (Nest's `@ApiResponse`).
    api_response,
    /// `#[api_body(CreateOrderDto)]`: the documented body type, when the handler takes it raw (Nest's `@ApiBody({ type })`).
    api_body,
    /// `#[api_bearer_auth]`: the operations need a bearer token (Nest's `@ApiBearerAuth()`).
    api_bearer_auth,
    /// `#[api_exclude_endpoint]`: left out of the OpenAPI document (Nest's `@ApiExcludeEndpoint()`).
    api_exclude_endpoint
}

/// A struct the container builds: each field is injected from a provider, by token with
/// `#[inject("USERS_SERVICE")]`, or by its type otherwise (`Arc<UsersService>` for a class
/// provider, or any type registered with `Provider::typed`). Fields must be `Clone + Send +
/// Sync`; the compiler says so at the field's type if one is not. A `ClientProxy` field can
/// instead make its own client from options, `#[client(ClientOptions::tcp(..))]` (Nest's
/// `@Client({ transport, options })` property). `#[optional]` on a field `Option<T>` makes it
/// `None` when nothing provides `T` (Nest's `@Optional()`). A class that implements a
/// lifecycle trait (`gateway_core::lifecycle::OnModuleInit`, ...) has its hooks run.
///
/// ```
/// use gateway_core::prelude::*;
///
/// #[injectable]
/// struct GatewayController {
///     #[inject("USERS_SERVICE")]
///     users: ClientProxy,
///     #[client(ClientOptions::tcp("MATH_SERVICE", "127.0.0.1:3000"))]
///     math: ClientProxy,
/// }
/// ```
#[proc_macro_attribute]
pub fn injectable(attr: TokenStream, item: TokenStream) -> TokenStream {
    injectable::expand(attr.into(), item.into()).into()
}

/// A module: `#[module(imports = [..], controllers = [..], providers = [..], exports = [..])]`
/// on a unit struct. `imports` takes modules and dynamic modules
/// (`ClientsModule::register([..])`), `controllers` takes controller types, `providers` takes
/// class types (built by the container) or `Provider` values, `exports` takes what importing
/// modules may inject: class providers, string tokens (`"USERS_SERVICE"`), `Token::of::<T>()`
/// for a typed value, and imported modules to re-export (`ClientsModule` for the clients it
/// registered). A module's providers are private to it unless exported, as in Nest.
///
/// ```
/// use gateway_core::prelude::*;
///
/// #[module(
///     imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001")])],
///     exports = [ClientsModule],
/// )]
/// pub struct UsersClientModule;
/// ```
#[proc_macro_attribute]
pub fn module(attr: TokenStream, item: TokenStream) -> TokenStream {
    module::expand(attr.into(), item.into()).into()
}

/// Nest's `@Global()`, beside `#[module(..)]`: what the module exports is visible to every
/// module, imported or not (a config or a database module, imported once by the root).
///
/// ```
/// use gateway_core::prelude::*;
///
/// #[derive(Clone)]
/// struct Settings { region: &'static str }
///
/// #[global]
/// #[module(providers = [Provider::typed(Settings { region: "eu" })], exports = [Token::of::<Settings>()])]
/// pub struct SettingsModule;
/// ```
#[proc_macro_attribute]
pub fn global(attr: TokenStream, item: TokenStream) -> TokenStream {
    module::expand_global(attr.into(), item.into()).into()
}
