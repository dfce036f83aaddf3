//! What `#[controller]` reads from an impl block, as plain data: no tokens of generated code,
//! only the user's own (types, paths, expressions, spans to point errors at).

use proc_macro2::{Span, TokenStream};
use syn::{Expr, ExprPath, Ident, LitStr, Type};

use super::path::RoutePath;
use crate::pattern::PatternLit;

/// One `#[controller]` impl block.
pub struct Controller {
    /// The type the block implements, and the block's generics.
    pub self_ty: Type,
    pub generics: syn::Generics,
    /// Its last path segment, as Nest names a class.
    pub name: String,
    /// The prefix in Nest syntax (`/api`), empty for none.
    pub prefix: String,
    /// Guards, metadata, interceptors and filters for every route of the block.
    pub edge: Edge,
    pub routes: Vec<Route>,
    pub handlers: Vec<Handler>,
}

/// What a controller, a route or a handler adds around itself.
#[derive(Default)]
pub struct Edge {
    /// `#[guard(..)]`, in order.
    pub guards: Vec<syn::Path>,
    /// Metadata attributes, in source order.
    pub metadata: Vec<Meta>,
    pub interceptors: Vec<Component>,
    pub filters: Vec<Component>,
    /// `#[version("1", neutral)]`: `None` for neutral.
    pub versions: Vec<Option<String>>,
    /// The OpenAPI attributes (`#[api_tags]`, `#[api_operation]`, ...).
    pub api: ApiDocs,
}

/// What the OpenAPI attributes say of a controller or a route (Nest's `@nestjs/swagger`
/// decorators).
#[derive(Default)]
pub struct ApiDocs {
    /// `#[api_tags("users", ..)]`.
    pub tags: Vec<LitStr>,
    /// `#[api_operation(summary = "..", description = "..")]`.
    pub summary: Option<LitStr>,
    pub description: Option<LitStr>,
    /// `#[api_response(status = 404, description = "..", body = T)]`, in order.
    pub responses: Vec<ApiResponse>,
    /// `#[api_body(T)]`: the body's documented type (the handler may take it raw).
    pub body: Option<Type>,
    /// `#[api_bearer_auth]` / `#[api_bearer_auth("name")]`: the security scheme's name.
    pub bearer: Option<String>,
    /// `#[api_exclude_endpoint]`: left out of the document.
    pub exclude: bool,
}

/// One `#[api_response(..)]`.
pub struct ApiResponse {
    pub status: u16,
    pub description: Option<LitStr>,
    pub body: Option<Type>,
}

/// One metadata attribute.
pub enum Meta {
    /// `#[public]`.
    Public,
    /// `#[roles("admin", ..)]`.
    Roles(Vec<LitStr>),
    /// `#[skip_throttle]` / `#[skip_throttle(false)]`.
    SkipThrottle(bool),
    /// `#[throttle(limit = .., ttl = .., block = ..)]`, durations in ms.
    Throttle { limit: i64, ttl: i64, block: i64 },
    /// `#[set_metadata(key, value)]`.
    Set { key: MetaKey, value: MetaLit },
    /// `#[apply_decorators(D)]`: one per decorator type.
    Decorator(syn::Path),
    /// `#[cache_ttl(..)]`, in ms.
    CacheTtl(i64),
    /// `#[cache_key("..")]`.
    CacheKey(LitStr),
}

/// A metadata key: a string, or a `const` holding one.
pub enum MetaKey {
    Str(LitStr),
    Const(ExprPath),
}

/// A metadata value known at compile time.
pub enum MetaLit {
    Str(LitStr),
    Bool(bool),
    Int(i64),
    List(Vec<MetaLit>),
}

/// An interceptor or filter: a type resolved by DI, or an instance expression.
pub enum Component {
    Di(syn::Path),
    Value(Expr),
}

/// The HTTP method of a route.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// `GET`.
    pub name: &'static str,
    /// axum's routing function: `get`.
    pub axum_fn: &'static str,
}

/// One route method.
pub struct Route {
    pub method: Method,
    pub path: RoutePath,
    /// Whether the path parsed (a bad one was reported; its parameters are not checked).
    pub path_ok: bool,
    /// The route attribute (`get("users/:id")`), to point at all of it.
    pub attr: TokenStream,
    pub path_span: Span,
    pub handler: Ident,
    /// Where the return type is written (the method's name when there is none), for errors
    /// about what it returns.
    pub output_span: Span,
    /// The return type, if written (for the OpenAPI document).
    pub output: Option<Type>,
    /// The success status: `#[http_code]`, or 201 for POST and 200 otherwise (Nest's).
    pub status: u16,
    /// `#[sse("path")]`: a GET route whose handler returns a stream of events.
    pub sse: bool,
    /// `#[redirect("url", 301)]`: the URL and status (Nest's `@Redirect`).
    pub redirect: Option<(String, Option<u16>)>,
    pub args: Vec<Arg>,
    /// `#[header("name", "value")]`: response headers on success, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub edge: Edge,
}

/// One route argument.
pub struct Arg {
    pub source: Source,
    pub ty: Type,
    /// The attribute (or the type, for plain extractors), to point errors at.
    pub at: TokenStream,
}

/// What a route argument is taken from.
pub enum Source {
    /// `#[param]`: a path segment, by name.
    Param(String),
    Body,
    /// `#[raw_body]`: the body's bytes as received (beside a parsed `#[body]` if any).
    RawBody,
    /// `#[uploaded_file("field", ..)]` / `#[uploaded_files("field", ..)]`.
    Upload(Upload),
    Query,
    Headers,
    /// `#[header("name")]`, the name lower-cased.
    Header(String),
    Req,
    /// What a guard attached (`#[user]`).
    User,
    /// `#[context]` / `#[context("data")]`: a custom parameter decorator (`ParamDecorator`),
    /// built from the execution context.
    Context(Option<String>),
    /// Any axum extractor that reads the request head.
    Extractor,
}

/// A file field of a multipart form, and its limits.
pub struct Upload {
    /// The form field.
    pub field: String,
    /// The most files (`max_count`, 1 for one file).
    pub max_count: u64,
    /// The largest file in bytes (`max_size`), if given.
    pub max_size: Option<u64>,
    /// The types its content may have (`file_type`).
    pub file_types: Vec<String>,
}

/// A `#[message_pattern]` or `#[event_pattern]` method.
pub struct Handler {
    pub event: bool,
    /// Its guards and metadata (`#[guard]`, `#[roles]`, ...).
    pub edge: Edge,
    pub pattern: PatternLit,
    pub handler: Ident,
    /// The handler's arguments after `&self`, in order.
    pub args: Vec<HandlerArg>,
    /// A plain `fn` returning a stream (a request handler replying with several values).
    pub stream: bool,
    /// Where the return type is written, for errors about what it returns.
    pub output_span: Span,
    /// `#[grpc_method(..)]` or `#[grpc_stream_method(..)]`: the gRPC method it serves.
    pub grpc: Option<GrpcTarget>,
}

/// The gRPC method a handler serves.
pub struct GrpcTarget {
    /// Its type, `hero::HeroesService::FindOne`.
    pub method: syn::Path,
    /// `#[grpc_stream_method]`: the handler takes the call's request stream.
    pub requests: bool,
}

/// One argument of a message or event handler.
pub enum HandlerArg {
    /// `#[payload]` (or the first unmarked argument): the message's data.
    Payload(Type),
    /// `#[ctx]` (or the second unmarked argument): its `MessageContext`.
    Ctx(Type),
}
