//! Parse: the `#[controller]` attribute and impl block into the [`model`](super::model),
//! stripping the attributes it consumes. Mistakes are collected, not returned at the first.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, ImplItem, ImplItemFn, ItemImpl, Lit, LitInt, LitStr, Pat, ReturnType,
    Token, Type,
};

use super::model::{
    Arg, Controller, Edge, GrpcTarget, Handler, HandlerArg, Method, Route, Source, Upload,
};
use super::{edge, path};
use crate::attrs::{
    self, is_attr, listing, EDGE_ATTRS, HANDLER_ARG_ATTRS, ROUTE_ARG_ATTRS, ROUTE_METHODS,
};
use crate::diag::Diagnostics;

/// The prefix of `#[controller("api")]`, normalized (`/api`; empty for none).
pub fn prefix(attr: TokenStream, diags: &mut Diagnostics) -> String {
    if attr.is_empty() {
        return String::new();
    }
    let lit = match syn::parse2::<LitStr>(attr) {
        Ok(lit) => lit,
        Err(e) => {
            diags.error(
                e.span(),
                "`#[controller]` takes an optional path prefix: `#[controller(\"api\")]`",
            );
            return String::new();
        }
    };
    match path::parse(&lit.value(), "") {
        Ok(p) if p.nest == "/" => String::new(),
        Ok(p) => p.nest,
        Err(message) => {
            diags.error(lit.span(), message);
            String::new()
        }
    }
}

/// The controller's name: its type's last path segment, as Nest names a class.
pub fn name(self_ty: &Type) -> String {
    match self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => other.to_token_stream().to_string(),
    }
}

/// Reads the whole block.
pub fn controller(prefix: String, block: &mut ItemImpl, diags: &mut Diagnostics) -> Controller {
    let mut class_edge = Edge::default();
    block
        .attrs
        .retain(|attr| !edge::take(&mut class_edge, attr, diags));
    let mut routes = Vec::new();
    let mut handlers = Vec::new();
    for item in block.items.iter_mut() {
        if let ImplItem::Fn(f) = item {
            match handler(f, diags) {
                Some(handler) => handlers.push(handler),
                None => routes.extend(route(f, &prefix, diags)),
            }
        }
    }
    Controller {
        self_ty: (*block.self_ty).clone(),
        generics: block.generics.clone(),
        name: name(&block.self_ty),
        prefix,
        edge: class_edge,
        routes,
        handlers,
    }
}

/// Where the return type is written (the method's name when there is none).
fn output_span(f: &ImplItemFn) -> Span {
    match &f.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => f.sig.ident.span(),
    }
}

/// Whether the method takes `&self` first.
fn takes_ref_self(f: &ImplItemFn) -> bool {
    matches!(f.sig.inputs.first(), Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)))
}

/// A return type spelled `impl ..Stream..`: only to explain a mistake, never to decide code.
fn spelled_stream(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::ImplTrait(t) = &**ty else {
        return false;
    };
    t.bounds.iter().any(|b| matches!(b, syn::TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Stream")))
}

/// Reads a `#[message_pattern(..)]` / `#[event_pattern(..)]` method, if it is one.
fn handler(f: &mut ImplItemFn, diags: &mut Diagnostics) -> Option<Handler> {
    let index = f
        .attrs
        .iter()
        .position(|a| attrs::which(a, &HANDLER_ATTRS).is_some())?;
    let attr = f.attrs.remove(index);
    let event = is_attr(&attr, "event_pattern");
    for other in &f.attrs {
        if let Some(name) = attrs::which(other, &HANDLER_ATTRS).or_else(|| {
            ROUTE_METHODS
                .iter()
                .map(|(n, _)| *n)
                .find(|n| is_attr(other, n))
        }) {
            diags.error_at(other, format!("a method is one route or one message/event handler, and this one is already a `#[{}]`: move `#[{name}]` to a method of its own", attr.path().to_token_stream()));
        }
    }
    // Guards, interceptors, filters and metadata apply to handlers as to routes.
    let mut edge = Edge::default();
    for other in &f.attrs {
        if attrs::which(other, &EDGE_ATTRS) == Some("version") {
            diags.error_at(other, "`#[version]` applies to HTTP routes: Nest's versioning does not reach message handlers (put the version in the pattern, `{ cmd: \"get_user\", v: 2 }`)");
        } else {
            edge::take(&mut edge, other, diags);
        }
    }
    f.attrs.retain(|a| attrs::which(a, &EDGE_ATTRS).is_none());
    let tokens = attrs::args(&attr);
    let mut grpc = None;
    let requests = is_attr(&attr, "grpc_stream_method");
    let pattern = if requests || is_attr(&attr, "grpc_method") {
        grpc_method(&attr, tokens, &f.sig.ident, requests, diags).map(|(method, pattern)| {
            grpc = Some(GrpcTarget { method, requests });
            pattern
        })
    } else if tokens.is_empty() {
        diags.error_at(&attr, "expected a pattern: a string like `\"user_created\"` or an object like `{ cmd: \"get_user\" }`");
        None
    } else {
        crate::pattern::parse(tokens, attr.span())
            .map_err(|error| diags.push(error))
            .ok()
    };
    let stream = f.sig.asyncness.is_none();
    if spelled_stream(&f.sig.output) && !stream {
        diags.error(f.sig.asyncness.span(), "a handler that returns `impl Stream` is a plain `fn` (the stream is the asynchronous part)");
    } else if stream && !spelled_stream(&f.sig.output) {
        diags.error(f.sig.fn_token.span(), "message and event handlers must be `async fn` (or a plain `fn` returning `impl Stream`)");
    }
    if !takes_ref_self(f) {
        diags.error(
            f.sig.ident.span(),
            "handlers take `&self` first: `async fn name(&self, #[payload] data: T)`",
        );
    }
    let args = handler_args(f, diags);
    Some(Handler {
        event,
        edge,
        pattern: pattern?,
        handler: f.sig.ident.clone(),
        args,
        stream,
        output_span: output_span(f),
        grpc,
    })
}

/// The attributes that make a method a message handler.
const HANDLER_ATTRS: [&str; 4] = [
    "message_pattern",
    "event_pattern",
    "grpc_method",
    "grpc_stream_method",
];

/// Reads `#[grpc_method(path::Service)]` or `#[grpc_method(path::Service, "Method")]`: the
/// method's type (`path::Service::Method`, spanned at the attribute so a method the proto
/// lacks is an error there) and Nest's pattern for it, `{ service, rpc, streaming }`. The
/// method defaults to the handler's name in PascalCase (Nest capitalizes the first letter of
/// its camelCase name).
fn grpc_method(
    attr: &syn::Attribute,
    tokens: TokenStream,
    handler: &syn::Ident,
    requests: bool,
    diags: &mut Diagnostics,
) -> Option<(syn::Path, crate::pattern::PatternLit)> {
    let usage = format!(
        "expected the proto service's module and, optionally, the method's name: `#[{name}(hero::HeroesService)]` or `#[{name}(hero::HeroesService, \"FindOne\")]`",
        name = attr.path().to_token_stream()
    );
    let args = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated.parse2(tokens);
    let args: Vec<syn::Expr> = match args {
        Ok(args) if (1..=2).contains(&args.len()) => args.into_iter().collect(),
        _ => {
            diags.error_at(attr, &usage);
            return None;
        }
    };
    let syn::Expr::Path(service) = &args[0] else {
        diags.error_at(&args[0], &usage);
        return None;
    };
    let mut path = service.path.clone();
    let service_name = path.segments.last()?.ident.to_string();
    let (method, span) = match args.get(1) {
        None => (pascal_case(&handler.to_string()), handler.span()),
        Some(syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        })) => (name.value(), name.span()),
        Some(other) => {
            diags.error_at(other, &usage);
            return None;
        }
    };
    let Ok(ident) = syn::parse_str::<syn::Ident>(&method) else {
        diags.error(span, format!("`{method}` is not a gRPC method name"));
        return None;
    };
    path.segments.push(syn::PathSegment::from(syn::Ident::new(
        &ident.to_string(),
        span,
    )));
    // Nest's `GrpcMethodStreamingType`: `@GrpcMethod` is `no_stream`, `@GrpcStreamMethod`
    // `rx_stream`.
    let route = format!(
        r#"{{"rpc":{},"service":{},"streaming":"{}"}}"#,
        serde_json::Value::from(method),
        serde_json::Value::from(service_name),
        if requests { "rx_stream" } else { "no_stream" }
    );
    Some((path, crate::pattern::PatternLit { route, raw: None }))
}

/// `find_one` → `FindOne`.
fn pascal_case(name: &str) -> String {
    name.trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A handler's arguments, as Nest passes them: the payload and the context, marked
/// `#[payload]` and `#[ctx]`, or by position when none is marked.
fn handler_args(f: &mut ImplItemFn, diags: &mut Diagnostics) -> Vec<HandlerArg> {
    let typed: Vec<&mut syn::PatType> = f
        .sig
        .inputs
        .iter_mut()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let marked = typed.iter().any(|t| {
        t.attrs
            .iter()
            .any(|a| attrs::which(a, &HANDLER_ARG_ATTRS).is_some())
    });
    let mut args = Vec::new();
    for (position, typed) in typed.into_iter().enumerate() {
        let mark = typed
            .attrs
            .iter()
            .find_map(|a| attrs::which(a, &HANDLER_ARG_ATTRS));
        typed
            .attrs
            .retain(|a| attrs::which(a, &HANDLER_ARG_ATTRS).is_none());
        let ty = (*typed.ty).clone();
        let arg = match (mark, marked, position) {
            (Some("payload"), ..) | (None, false, 0) => HandlerArg::Payload(ty),
            (Some(_), ..) | (None, false, 1) => HandlerArg::Ctx(ty),
            (None, ..) => {
                diags.error_at(&*typed, format!("a message handler takes the message's data and, optionally, its context: mark this argument {}", listing(&HANDLER_ARG_ATTRS)));
                continue;
            }
        };
        let twice = args.iter().any(|a| {
            matches!(
                (a, &arg),
                (HandlerArg::Payload(_), HandlerArg::Payload(_))
                    | (HandlerArg::Ctx(_), HandlerArg::Ctx(_))
            )
        });
        if twice {
            diags.error_at(&*typed, "a message handler takes one `#[payload]` and one `#[ctx]`: put everything it needs in the payload's type");
            continue;
        }
        args.push(arg);
    }
    args
}

/// A route method's own attributes, read and removed.
struct RouteAttrs {
    route: Option<(Attribute, &'static str)>,
    /// `#[sse(..)]`: a GET route of server-sent events.
    sse: bool,
    redirect: Option<(String, Option<u16>)>,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    edge: Edge,
    /// The edge attributes as written, to point at when the method is not a route.
    edge_attrs: Vec<Attribute>,
}

fn route_attrs(f: &mut ImplItemFn, diags: &mut Diagnostics) -> RouteAttrs {
    let mut found = RouteAttrs {
        route: None,
        sse: false,
        redirect: None,
        status: None,
        headers: Vec::new(),
        edge: Edge::default(),
        edge_attrs: Vec::new(),
    };
    let mut kept = Vec::new();
    for attr in f.attrs.drain(..) {
        if edge::take(&mut found.edge, &attr, diags) {
            found.edge_attrs.push(attr);
        } else if is_attr(&attr, "header") {
            found.headers.extend(response_header(&attr, diags));
        } else if let Some((name, method)) = ROUTE_METHODS
            .iter()
            .copied()
            .chain([("sse", "GET")])
            .find(|(n, _)| is_attr(&attr, n))
        {
            found.sse = name == "sse";
            if found.route.is_some() {
                diags.error_at(
                    &attr,
                    "a method can serve one route: split it into two methods",
                );
            }
            found.route = Some((attr, method));
        } else if is_attr(&attr, "redirect") {
            found.redirect = redirect(&attr, diags);
        } else if is_attr(&attr, "http_code") {
            match attr.parse_args::<LitInt>().and_then(|l| l.base10_parse::<u16>()) {
                Ok(code) if (100..=599).contains(&code) => found.status = Some(code),
                _ => diags.error_at(&attr, "`#[http_code(..)]` takes a status code from 100 to 599, e.g. `#[http_code(204)]`"),
            }
        } else {
            kept.push(attr);
        }
    }
    f.attrs = kept;
    found
}

/// `#[redirect]`, `#[redirect("url")]`, `#[redirect("url", 301)]`: Nest's `@Redirect(url,
/// statusCode)`; a status from 300 to 308.
fn redirect(attr: &Attribute, diags: &mut Diagnostics) -> Option<(String, Option<u16>)> {
    let list = syn::punctuated::Punctuated::<syn::Lit, syn::Token![,]>::parse_terminated;
    let parsed = if attrs::args(attr).is_empty() {
        Ok(syn::punctuated::Punctuated::new())
    } else {
        attr.parse_args_with(list)
    };
    let usage = "`#[redirect(..)]` takes a URL and a redirect status: `#[redirect(\"https://docs.nestjs.com\", 301)]`";
    let items: Vec<syn::Lit> = match parsed {
        Ok(items) => items.into_iter().collect(),
        Err(_) => {
            diags.error_at(attr, usage);
            return None;
        }
    };
    match items.as_slice() {
        [] => Some((String::new(), None)),
        [syn::Lit::Str(url)] => Some((url.value(), None)),
        [syn::Lit::Str(url), syn::Lit::Int(code)] => match code.base10_parse::<u16>() {
            Ok(code) if (300..=308).contains(&code) => Some((url.value(), Some(code))),
            _ => {
                diags.error_at(
                    code,
                    "a redirect status is from 300 to 308, e.g. `301` or `302`",
                );
                None
            }
        },
        _ => {
            diags.error_at(attr, usage);
            None
        }
    }
}

/// `#[header("Cache-Control", "no-store")]` on a route: a checked, lower-cased name and value.
fn response_header(attr: &Attribute, diags: &mut Diagnostics) -> Option<(String, String)> {
    let pair = match attrs::strings(attr) {
        Ok(list) if list.len() == 2 => list,
        _ => {
            diags.error_at(attr, "on a route, `#[header(..)]` sets a response header: `#[header(\"Cache-Control\", \"no-store\")]`");
            return None;
        }
    };
    let (name, value) = (pair[0].value(), pair[1].value());
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        diags.error_at(
            &pair[0],
            format!("`{name}` is not a valid header name: use letters, digits and `-`"),
        );
        return None;
    }
    if !value.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
        diags.error_at(&pair[1], "a header value must be visible ASCII");
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

/// Reads one method: `None` if it is not a route.
fn route(f: &mut ImplItemFn, prefix: &str, diags: &mut Diagnostics) -> Option<Route> {
    let found = route_attrs(f, diags);
    let Some((attr, method)) = found.route else {
        if let Some(stray) = found.edge_attrs.first() {
            diags.error_at(stray, "this attribute applies to a route: put it on a method marked `#[get(..)]`, `#[post(..)]`, ..., or on the `#[controller]` block for every route");
        }
        return None;
    };
    let path_lit = attrs::string_arg(&attr).unwrap_or_else(|e| {
        diags.error(
            e.span(),
            "a route attribute takes a path string, e.g. `#[get(\"users/:id\")]`",
        );
        None
    });
    let path_span = path_lit.as_ref().map_or(attr.span(), LitStr::span);
    let raw_path = path_lit.as_ref().map(LitStr::value).unwrap_or_default();
    let (path, path_ok) = match path::parse(prefix, &raw_path) {
        Ok(path) => (path, true),
        Err(message) => {
            diags.error(path_span, message);
            (path::parse("", "").expect("the root path parses"), false)
        }
    };
    if f.sig.asyncness.is_none() {
        diags.error(f.sig.fn_token.span(), "route handlers must be `async fn`");
    }
    if !takes_ref_self(f) {
        diags.error(
            f.sig.ident.span(),
            "route handlers take `&self` first: `async fn name(&self, ...)`",
        );
    }
    let axum_fn = ROUTE_METHODS
        .iter()
        .find(|(_, m)| *m == method)
        // Nest's `@All()` is axum's `any`.
        .map(|(name, _)| if *name == "all" { "any" } else { *name })
        .expect("a known method");
    Some(Route {
        method: Method {
            name: method,
            axum_fn,
        },
        path,
        path_ok,
        attr: attr.meta.to_token_stream(),
        path_span,
        handler: f.sig.ident.clone(),
        output_span: output_span(f),
        output: match &f.sig.output {
            ReturnType::Type(_, ty) => Some((**ty).clone()),
            ReturnType::Default => None,
        },
        status: found
            .status
            .unwrap_or(if method == "POST" { 201 } else { 200 }),
        sse: found.sse,
        redirect: found.redirect,
        args: route_args(f, diags),
        headers: found.headers,
        edge: found.edge,
    })
}

/// A route's arguments after `&self`, each from the attribute that marks it (or any axum
/// extractor, unmarked).
fn route_args(f: &mut ImplItemFn, diags: &mut Diagnostics) -> Vec<Arg> {
    let mut args = Vec::new();
    for input in f.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else { continue };
        let mut source = None;
        let mut kept = Vec::new();
        for attr in typed.attrs.drain(..) {
            let Some(name) = attrs::which(&attr, &ROUTE_ARG_ATTRS) else {
                kept.push(attr);
                continue;
            };
            if source.is_some() {
                diags.error_at(
                    &attr,
                    format!("an argument takes one of {}", listing(&ROUTE_ARG_ATTRS)),
                );
                continue;
            }
            source =
                arg_source(name, &attr, &typed.pat, diags).map(|s| (s, attr.to_token_stream()));
        }
        typed.attrs = kept;
        let (source, at) = source.unwrap_or((Source::Extractor, typed.ty.to_token_stream()));
        args.push(Arg {
            source,
            ty: (*typed.ty).clone(),
            at,
        });
    }
    args
}

fn arg_source(name: &str, attr: &Attribute, pat: &Pat, diags: &mut Diagnostics) -> Option<Source> {
    if let "uploaded_file" | "uploaded_files" = name {
        return upload(name == "uploaded_files", attr, diags).map(Source::Upload);
    }
    let lit = attrs::string_arg(attr).unwrap_or_else(|e| {
        diags.push(e);
        None
    });
    Some(match name {
        "param" => match (lit, pat) {
            (Some(lit), _) => Source::Param(lit.value()),
            (None, Pat::Ident(ident)) => Source::Param(ident.ident.to_string()),
            (None, _) => {
                diags.error_at(attr, "name the parameter: `#[param(\"id\")]`");
                return None;
            }
        },
        "header" => match lit {
            Some(lit) => Source::Header(lit.value().to_ascii_lowercase()),
            None => {
                diags.error_at(attr, "name the header: `#[header(\"x-request-id\")]`");
                return None;
            }
        },
        "body" => Source::Body,
        "raw_body" => Source::RawBody,
        "query" => Source::Query,
        "headers" => Source::Headers,
        "user" => Source::User,
        "context" => Source::Context(lit.map(|l| l.value())),
        _ => Source::Req,
    })
}

/// `#[uploaded_file("file", max_size = 1_000_000, file_type = "image/png")]` /
/// `#[uploaded_files("photos", max_count = 3, ..)]`.
fn upload(many: bool, attr: &Attribute, diags: &mut Diagnostics) -> Option<Upload> {
    let name = if many {
        "uploaded_files"
    } else {
        "uploaded_file"
    };
    let usage = format!("`#[{name}(..)]` takes the form field, then optionally `max_size = <bytes>`{} and `file_type = \"image/png\"` (or a list): `#[{name}(\"{}\", max_size = 1_000_000, file_type = \"image/png\")]`", if many { ", `max_count = <files>`" } else { "" }, if many { "photos" } else { "file" });
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(attrs::args(attr));
    let Ok(items) = parsed else {
        diags.error_at(attr, usage);
        return None;
    };
    let mut items = items.into_iter();
    let field = match items.next() {
        Some(Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        })) if !s.value().is_empty() => s.value(),
        _ => {
            diags.error_at(attr, usage);
            return None;
        }
    };
    let mut upload = Upload {
        field,
        max_count: if many { u64::MAX } else { 1 },
        max_size: None,
        file_types: Vec::new(),
    };
    let int = |e: &Expr| match e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(n), ..
        }) => n.base10_parse::<u64>().ok().filter(|n| *n > 0),
        _ => None,
    };
    for item in items {
        let Expr::Assign(assign) = &item else {
            diags.error_at(&item, usage.clone());
            continue;
        };
        let key = match &*assign.left {
            Expr::Path(p) => p
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default(),
            _ => String::new(),
        };
        match key.as_str() {
            "max_size" => match int(&assign.right) {
                Some(n) => upload.max_size = Some(n),
                None => diags.error_at(
                    &assign.right,
                    "`max_size` is the largest file in bytes, at least 1: `max_size = 1_000_000`",
                ),
            },
            "max_count" if many => match int(&assign.right) {
                Some(n) => upload.max_count = n,
                None => diags.error_at(
                    &assign.right,
                    "`max_count` is the most files the field takes, at least 1: `max_count = 3`",
                ),
            },
            "file_type" => {
                let strings = match &*assign.right {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => vec![s.value()],
                    Expr::Array(list) => list
                        .elems
                        .iter()
                        .filter_map(|e| match e {
                            Expr::Lit(syn::ExprLit {
                                lit: Lit::Str(s), ..
                            }) => Some(s.value()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                if strings.is_empty() || strings.iter().any(String::is_empty) {
                    diags.error_at(&assign.right, "`file_type` is a MIME type or a list of them: `file_type = \"image/png\"`, `file_type = [\"image/png\", \"image/jpeg\"]`");
                } else {
                    upload.file_types = strings;
                }
            }
            _ => diags.error_at(&assign.left, usage.clone()),
        }
    }
    Some(upload)
}

/// `#[get]` and friends outside a `#[controller]` block: say where they belong. An edge
/// attribute written above `#[controller]` (it runs first) is moved below it, where
/// `#[controller]` reads it.
pub fn misplaced(name: &str, attr: TokenStream, item: TokenStream) -> TokenStream {
    if EDGE_ATTRS.contains(&name) {
        if let Ok(mut block) = syn::parse2::<ItemImpl>(item.clone()) {
            let controller = block.attrs.iter().position(|a| {
                a.path()
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "controller")
            });
            if let Some(index) = controller {
                let controller = block.attrs.remove(index);
                let ident = syn::Ident::new(name, Span::call_site());
                let inner: Attribute = syn::parse_quote!(#[#ident(#attr)]);
                let rest = block.attrs.clone();
                block.attrs = std::iter::once(controller)
                    .chain(std::iter::once(inner))
                    .chain(rest)
                    .collect();
                return block.into_token_stream();
            }
        }
    }
    let places = if EDGE_ATTRS.contains(&name) {
        "on a method inside an impl block marked `#[controller]`, or on that impl block"
    } else {
        "on a method inside an impl block marked `#[controller]`"
    };
    let error = syn::Error::new(
        Span::call_site(),
        format!("`#[{name}]` only works {places}"),
    )
    .to_compile_error();
    quote::quote!(#error #item)
}
