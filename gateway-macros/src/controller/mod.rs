//! `#[controller]`: an impl block of route methods becomes axum routes.
//!
//! Parse (attributes and signatures into [`Route`]s), check (paths, parameters, duplicates;
//! every mistake collected), then expand (a `Controller` impl whose `mount` binds each route to
//! the shared instance). Nothing in expansion re-reads tokens.

mod edge;
mod path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, ImplItem, ImplItemFn, ItemImpl, LitInt, LitStr, Pat, ReturnType, Type,
};

use crate::diag::Diagnostics;
use edge::{component, EdgeAttrs};
use path::RoutePath;

const METHODS: [(&str, &str); 5] = [
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
];

const PARAM_ATTRS: [&str; 7] = ["param", "body", "query", "headers", "header", "req", "user"];

/// What a route argument is taken from.
enum Source {
    Param(String),
    Body,
    Query,
    Headers,
    Header(String),
    Req,
    /// What a guard attached (`#[user]`).
    User,
    /// Any axum extractor that reads the request head.
    Extractor,
}

struct Arg {
    source: Source,
    ty: Type,
    /// The attribute (or the type, for plain extractors), to point errors at.
    at: TokenStream,
}

/// How the return value becomes a response.
enum Output {
    Unit,
    Raw,
    Result,
    /// `Result<Response, E>`.
    ResultRaw,
    Value,
}

/// A `#[message_pattern]` or `#[event_pattern]` method.
struct PatternHandler {
    event: bool,
    /// The `Pattern` expression and its route.
    pattern: TokenStream,
    route: String,
    handler: syn::Ident,
    payload: Option<Type>,
    output: Output,
    stream: bool,
}

fn is_stream(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(&**ty, Type::ImplTrait(t) if t.bounds.iter().any(|b| matches!(b, syn::TypeParamBound::Trait(t) if t.path.segments.last().is_some_and(|s| s.ident == "Stream")))))
}

/// Reads a `#[message_pattern(..)]` / `#[event_pattern(..)]` method, if it is one.
fn parse_pattern_handler(f: &mut ImplItemFn, diags: &mut Diagnostics) -> Option<PatternHandler> {
    let index = f
        .attrs
        .iter()
        .position(|a| is_attr(a, "message_pattern") || is_attr(a, "event_pattern"))?;
    let attr = f.attrs.remove(index);
    let event = is_attr(&attr, "event_pattern");
    if let Some(other) = f.attrs.iter().find(|a| {
        METHODS.iter().any(|(m, _)| is_attr(a, m))
            || is_attr(a, "message_pattern")
            || is_attr(a, "event_pattern")
    }) {
        diags.error_at(
            other,
            "a method is one route or one message/event handler: split it into two methods",
        );
    }
    let tokens = match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    };
    let empty = tokens.is_empty();
    if empty {
        diags.error_at(&attr, "expected a pattern: a string like `\"user_created\"` or an object like `{ cmd: \"get_user\" }`");
    }
    let (pattern, route) = match crate::pattern::parse(tokens, attr.span()) {
        Ok(parsed) => parsed,
        Err(error) => {
            if !empty {
                diags.push(error);
            }
            (
                quote!(::gateway_core::pattern::Pattern::from_static("")),
                String::new(),
            )
        }
    };
    let stream = is_stream(&f.sig.output);
    if stream && f.sig.asyncness.is_some() {
        diags.error(f.sig.fn_token.span(), "a handler that returns `impl Stream` is a plain `fn` (the stream is the asynchronous part)");
    }
    if !stream && f.sig.asyncness.is_none() {
        diags.error(f.sig.fn_token.span(), "message and event handlers must be `async fn` (or a plain `fn` returning `impl Stream`)");
    }
    if !matches!(f.sig.inputs.first(), Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)))
    {
        diags.error(
            f.sig.ident.span(),
            "handlers take `&self` first: `async fn name(&self, #[payload] data: T)`",
        );
    }
    let mut payload = None;
    for input in f.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else { continue };
        typed.attrs.retain(|a| !is_attr(a, "payload"));
        if payload.is_some() {
            diags.error_at(&typed, "a message handler takes one argument, the `#[payload]`: put everything it needs in that type");
        }
        payload = Some((*typed.ty).clone());
    }
    Some(PatternHandler {
        event,
        pattern,
        route,
        handler: f.sig.ident.clone(),
        payload,
        output: output_of(&f.sig.output),
        stream,
    })
}

fn expand_pattern_handler(h: &PatternHandler) -> TokenStream {
    let private = quote!(::gateway_core::__private);
    let pattern = &h.pattern;
    let handler = &h.handler;
    let (arg, call) = match &h.payload {
        Some(ty) => (quote!(__payload: #ty), quote!(this.#handler(__payload))),
        None => (quote!(_: #private::IgnoredPayload), quote!(this.#handler())),
    };
    if h.stream {
        return quote! {
            router = router.stream(#pattern, {
                let this = ::std::sync::Arc::clone(&this);
                move |#arg| #call
            });
        };
    }
    let (method, body) = match (h.event, &h.output) {
        (false, Output::Result | Output::ResultRaw) => (quote!(message), quote!(#call.await)),
        (false, _) => (
            quote!(message),
            quote!(::core::result::Result::<_, ::gateway_core::server::RpcException>::Ok(#call.await)),
        ),
        (true, Output::Result | Output::ResultRaw | Output::Unit) => {
            (quote!(event), quote!(#call.await))
        }
        (true, _) => (quote!(event), quote!({ let _ = #call.await; })),
    };
    quote! {
        router = router.#method(#pattern, {
            let this = ::std::sync::Arc::clone(&this);
            move |#arg| {
                let this = ::std::sync::Arc::clone(&this);
                async move { #body }
            }
        });
    }
}

struct Route {
    method: &'static str,
    axum_fn: &'static str,
    path: RoutePath,
    /// The route attribute's contents (`get("users/:id")`), to point at all of it.
    attr_tokens: TokenStream,
    path_span: Span,
    handler: syn::Ident,
    status: u16,
    args: Vec<Arg>,
    output: Output,
    /// `#[guard(..)]` on the method (the controller's come first at run time).
    guards: Vec<syn::Path>,
    /// `#[header("name", "value")]` on the method: response headers on success.
    headers: Vec<(String, String)>,
    /// Metadata, interceptors and filters on the method.
    edge: EdgeAttrs,
}

/// `#[header("Cache-Control", "no-store")]` on a route: a checked, lower-cased name and value.
fn response_header(attr: &Attribute, diags: &mut Diagnostics) -> Option<(String, String)> {
    let parsed = attr
        .parse_args_with(syn::punctuated::Punctuated::<LitStr, syn::Token![,]>::parse_terminated);
    let pair: Vec<LitStr> = match parsed {
        Ok(list) if list.len() == 2 => list.into_iter().collect(),
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

fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path().is_ident(name)
}

/// The guard types of `#[guard(A, B)]`.
fn guard_list(attr: &Attribute, diags: &mut Diagnostics) -> Vec<syn::Path> {
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .map(|list| list.into_iter().collect())
        .unwrap_or_else(|_| {
            diags.error_at(attr, "`#[guard(..)]` takes guard types: `#[guard(AuthGuard)]`, `#[guard(AuthGuard, RolesGuard)]`");
            Vec::new()
        })
}

/// The optional string argument of `#[get("path")]` / `#[param("id")]`.
fn string_arg(attr: &Attribute) -> syn::Result<Option<LitStr>> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(None),
        _ => attr.parse_args::<LitStr>().map(Some),
    }
}

fn output_of(output: &ReturnType) -> Output {
    let ReturnType::Type(_, ty) = output else {
        return Output::Unit;
    };
    match &**ty {
        Type::ImplTrait(_) => Output::Raw,
        Type::Tuple(t) if t.elems.is_empty() => Output::Unit,
        Type::Path(p) => match p.path.segments.last().map(|s| s.ident.to_string()) {
            Some(last) if last == "Result" => {
                let ok_is_response = p.path.segments.last().is_some_and(|s| matches!(&s.arguments,
                    syn::PathArguments::AngleBracketed(a) if matches!(a.args.first(),
                        Some(syn::GenericArgument::Type(Type::Path(t))) if t.path.segments.last().is_some_and(|s| s.ident == "Response"))));
                if ok_is_response {
                    Output::ResultRaw
                } else {
                    Output::Result
                }
            }
            Some(last) if last == "Response" => Output::Raw,
            _ => Output::Value,
        },
        _ => Output::Value,
    }
}

/// The phrase Nest's parse pipe would use for a parameter of this type.
fn expected_phrase(ty: &Type) -> String {
    let name = ty.to_token_stream().to_string().replace(' ', "");
    match name.as_str() {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" | "f32" | "f64" => "numeric string is expected".into(),
        "bool" => "boolean string is expected".into(),
        n if n.ends_with("Uuid") => "uuid is expected".into(),
        n => format!("a valid {n} is expected"),
    }
}

/// Reads one method: `None` if it is not a route. Strips the attributes it consumes.
fn parse_route(f: &mut ImplItemFn, prefix: &str, diags: &mut Diagnostics) -> Option<Route> {
    let mut route_attr = None;
    let mut status = None;
    let mut guards = Vec::new();
    let mut headers = Vec::new();
    let mut edge = EdgeAttrs::default();
    let mut edge_attrs = Vec::new();
    let mut kept = Vec::new();
    for attr in f.attrs.drain(..) {
        if edge.take(&attr, diags) {
            edge_attrs.push(attr);
            continue;
        }
        if is_attr(&attr, "guard") {
            edge_attrs.push(attr.clone());
            guards.extend(guard_list(&attr, diags));
            continue;
        }
        if is_attr(&attr, "header") {
            headers.extend(response_header(&attr, diags));
            continue;
        }
        if let Some((_, method)) = METHODS.iter().find(|(name, _)| is_attr(&attr, name)) {
            if route_attr.is_some() {
                diags.error_at(
                    &attr,
                    "a method can serve one route: split it into two methods",
                );
            }
            route_attr = Some((attr, *method));
        } else if is_attr(&attr, "http_code") {
            match attr.parse_args::<LitInt>().and_then(|l| l.base10_parse::<u16>()) {
                Ok(code) if (100..=599).contains(&code) => status = Some(code),
                _ => diags.error_at(&attr, "`#[http_code(..)]` takes a status code from 100 to 599, e.g. `#[http_code(204)]`"),
            }
        } else {
            kept.push(attr);
        }
    }
    f.attrs = kept;
    let Some((attr, method)) = route_attr else {
        if let Some(stray) = edge_attrs.first() {
            diags.error_at(stray, "this attribute applies to a route: put it on a method marked `#[get(..)]`, `#[post(..)]`, ..., or on the `#[controller]` block for every route");
        }
        return None;
    };
    let path_lit = string_arg(&attr).unwrap_or_else(|e| {
        diags.push(syn::Error::new(
            e.span(),
            "a route attribute takes a path string, e.g. `#[get(\"users/:id\")]`",
        ));
        None
    });
    let path_span = path_lit.as_ref().map_or(attr.span(), |l| l.span());
    let raw_path = path_lit.as_ref().map(LitStr::value).unwrap_or_default();
    let parsed = path::parse(prefix, &raw_path);
    let path_ok = parsed.is_ok();
    let path = parsed.unwrap_or_else(|message| {
        diags.error(path_span, message);
        path::parse("", "").expect("the root path parses")
    });

    if f.sig.asyncness.is_none() {
        diags.error(f.sig.fn_token.span(), "route handlers must be `async fn`");
    }
    if !matches!(f.sig.inputs.first(), Some(FnArg::Receiver(r)) if matches!(r.kind, syn::ReceiverKind::Reference(_, _, None)))
    {
        diags.error(
            f.sig.ident.span(),
            "route handlers take `&self` first: `async fn name(&self, ...)`",
        );
    }

    let mut args = Vec::new();
    for input in f.sig.inputs.iter_mut() {
        let FnArg::Typed(typed) = input else { continue };
        let mut source = None;
        let mut kept = Vec::new();
        for attr in typed.attrs.drain(..) {
            let Some(name) = PARAM_ATTRS.iter().find(|n| is_attr(&attr, n)) else {
                kept.push(attr);
                continue;
            };
            if source.is_some() {
                diags.error_at(&attr, "an argument takes one of `#[param]`, `#[body]`, `#[query]`, `#[headers]`, `#[header]`, `#[req]`");
                continue;
            }
            let lit = string_arg(&attr).unwrap_or_else(|e| {
                diags.push(e);
                None
            });
            let kind = match *name {
                "param" => match (lit, &*typed.pat) {
                    (Some(lit), _) => Some(Source::Param(lit.value())),
                    (None, Pat::Ident(ident)) => Some(Source::Param(ident.ident.to_string())),
                    (None, _) => {
                        diags.error_at(&attr, "name the parameter: `#[param(\"id\")]`");
                        None
                    }
                },
                "header" => match lit {
                    Some(lit) => Some(Source::Header(lit.value().to_ascii_lowercase())),
                    None => {
                        diags.error_at(&attr, "name the header: `#[header(\"x-request-id\")]`");
                        None
                    }
                },
                "body" => Some(Source::Body),
                "query" => Some(Source::Query),
                "headers" => Some(Source::Headers),
                "user" => Some(Source::User),
                _ => Some(Source::Req),
            };
            source = kind.map(|k| (k, attr.to_token_stream()));
        }
        typed.attrs = kept;
        let (source, at) = source.unwrap_or((Source::Extractor, typed.ty.to_token_stream()));
        args.push(Arg {
            source,
            ty: (*typed.ty).clone(),
            at,
        });
    }

    // Every `:name` is taken by one argument, every `#[param]` names a segment, one body.
    // (A malformed path was reported already; checking arguments against it would only add
    // noise.)
    let params_checked = if path_ok { path.params.as_slice() } else { &[] };
    for name in params_checked {
        if !args
            .iter()
            .any(|a| matches!(&a.source, Source::Param(p) if p == name))
        {
            diags.error(path_span, format!(
                "the path has `:{name}` but no argument takes it: add `#[param] {name}: String` (any type that parses from a string works, e.g. `u64`)"
            ));
        }
    }
    let mut bodies = 0;
    for arg in &args {
        match &arg.source {
            Source::Param(name) if path_ok && !path.params.contains(name) => diags.error_at(&arg.at, format!(
                "`#[param]` `{name}` has no `:{name}` in the path \"{}\": add the segment or fix the name",
                path.nest
            )),
            Source::Body => {
                bodies += 1;
                if bodies > 1 {
                    diags.error_at(&arg.at, "a route has one body: take it as one `#[body]` struct with every field");
                }
            }
            _ => {}
        }
    }

    Some(Route {
        method,
        axum_fn: METHODS
            .iter()
            .find(|(_, m)| *m == method)
            .map(|(f, _)| *f)
            .expect("a known method"),
        path,
        attr_tokens: attr.meta.to_token_stream(),
        path_span,
        handler: f.sig.ident.clone(),
        status: status.unwrap_or(if method == "POST" { 201 } else { 200 }),
        args,
        output: output_of(&f.sig.output),
        guards,
        headers,
        edge,
    })
}

/// Two routes of one controller that axum could not tell apart.
fn check_collisions(routes: &[Route], diags: &mut Diagnostics) {
    for (i, later) in routes.iter().enumerate() {
        for earlier in &routes[..i] {
            if earlier.path.shape != later.path.shape {
                continue;
            }
            let (message, note) = if earlier.path.params != later.path.params {
                (format!(
                    "\"{}\" and \"{}\" are the same route with different parameter names: use the same names",
                    later.path.nest, earlier.path.nest
                ), "the other route")
            } else if earlier.method == later.method {
                (
                    format!(
                        "duplicate route: {} {} is already served by `{}`",
                        later.method, later.path.nest, earlier.handler
                    ),
                    "first defined here",
                )
            } else {
                continue;
            };
            let mut error = syn::Error::new_spanned(&later.attr_tokens, message);
            error.combine(syn::Error::new_spanned(&earlier.attr_tokens, note));
            diags.push(error);
        }
    }
}

fn extract(arg: &Arg, index: usize) -> TokenStream {
    let var = format_ident!("__arg{}", index);
    let ty = &arg.ty;
    let private = quote!(::gateway_core::__private);
    let bail = quote!(match __value {
        ::core::result::Result::Ok(v) => v,
        ::core::result::Result::Err(e) => return #private::axum::response::IntoResponse::into_response(e),
    });
    let value = match &arg.source {
        Source::Param(name) => {
            let expected = expected_phrase(ty);
            quote_spanned!(ty.span()=> #private::path_param::<#ty>(&__path, #name, #expected))
        }
        Source::Query => quote_spanned!(ty.span()=> #private::query::<#ty>(&__parts)),
        Source::Header(name) => {
            quote_spanned!(ty.span()=> #private::header::<#ty>(&__parts, #name))
        }
        Source::Headers => {
            quote!(::core::result::Result::<_, #private::axum::response::Response>::Ok(__parts.headers.clone()))
        }
        Source::Req => {
            quote!(::core::result::Result::<_, #private::axum::response::Response>::Ok(__parts.clone()))
        }
        Source::User => quote_spanned!(ty.span()=> #private::user::<#ty>(&__parts)),
        Source::Extractor => {
            quote_spanned!(ty.span()=> #private::extract::<#ty>(&mut __parts).await)
        }
        Source::Body => quote_spanned!(ty.span()=> #private::body::<#ty>(__parts, __body).await),
    };
    quote!(let #var: #ty = { let __value = #value; #bail };)
}

/// The variable holding a guard instance, by the guard's position in the controller's list.
fn guard_var(all: &[syn::Path], guard: &syn::Path) -> syn::Ident {
    let key = guard.to_token_stream().to_string();
    let index = all
        .iter()
        .position(|g| g.to_token_stream().to_string() == key)
        .expect("every guard is listed");
    format_ident!("__guard{}", index)
}

/// What the controller block itself carries, applied to each of its routes.
struct ControllerEdge<'a> {
    name: &'a str,
    guards: &'a [syn::Path],
    all_guards: &'a [syn::Path],
    edge: &'a EdgeAttrs,
}

fn expand_route(route: &Route, index: usize, ctl: &ControllerEdge<'_>) -> TokenStream {
    let private = quote!(::gateway_core::__private);
    let name = ctl.name;
    let axum_path = &route.path.axum;
    let axum_fn = format_ident!("{}", route.axum_fn);
    let handler = &route.handler;
    let status = route.status;
    let path_params = route.args.iter().any(|a| matches!(a.source, Source::Param(_))).then(|| {
        quote!(let __path = match #private::raw_path(&mut __parts).await { ::core::result::Result::Ok(p) => p, ::core::result::Result::Err(r) => return r };)
    });
    // The body consumes the request, so it is read last; arguments keep their order.
    let heads = route
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !matches!(a.source, Source::Body));
    let heads = heads.map(|(i, a)| extract(a, i));
    let body = route
        .args
        .iter()
        .enumerate()
        .find(|(_, a)| matches!(a.source, Source::Body));
    let body = body.map(|(i, a)| extract(a, i));
    let names = (0..route.args.len()).map(|i| format_ident!("__arg{}", i));
    let respond = match route.output {
        Output::Unit => quote!({ let () = __result; #private::respond_value(__status, &()) }),
        Output::Raw => quote!(#private::axum::response::IntoResponse::into_response(__result)),
        Output::Result => quote!(#private::respond_result(__status, __result)),
        Output::ResultRaw => quote!(#private::respond_raw_result(__result)),
        Output::Value => quote!(#private::respond_value(__status, &__result)),
    };
    let guards: Vec<syn::Ident> = ctl
        .guards
        .iter()
        .chain(&route.guards)
        .map(|g| guard_var(ctl.all_guards, g))
        .collect();
    let guard_count = guards.len();
    let header_names = route.headers.iter().map(|(n, _)| n);
    let header_values = route.headers.iter().map(|(_, v)| v);

    // Interceptors and filters: built once at mount, shared by every request; a route with
    // none passes an empty slice and pays nothing.
    let list = |kind: &str,
                items: Vec<&edge::Component>|
     -> (TokenStream, TokenStream, TokenStream) {
        let var = format_ident!("__{}s", kind);
        if items.is_empty() {
            return (quote!(), quote!(), quote!(&[]));
        }
        let dyn_ty = if kind == "filter" {
            quote!(::gateway_core::http::DynFilter)
        } else {
            quote!(::gateway_core::http::DynInterceptor)
        };
        let built = items.iter().map(|c| component(c, kind, name));
        (
            quote!(let #var: ::std::sync::Arc<[::std::sync::Arc<dyn #dyn_ty>]> = ::std::sync::Arc::from(::std::vec![#(#built),*]);),
            quote!(let #var = ::std::sync::Arc::clone(&#var);),
            quote!(&#var),
        )
    };
    let (build_interceptors, clone_interceptors, interceptors) = list(
        "interceptor",
        ctl.edge
            .interceptors
            .iter()
            .chain(&route.edge.interceptors)
            .collect(),
    );
    // Route filters are asked first, then the controller's (Nest's order).
    let (build_filters, clone_filters, filters) = list(
        "filter",
        route.edge.filters.iter().chain(&ctl.edge.filters).collect(),
    );
    quote_spanned! {route.path_span=>
        router = router.route(#axum_path, #private::axum::routing::#axum_fn({
            let this = ::std::sync::Arc::clone(&this);
            #(let #guards = ::std::sync::Arc::clone(&#guards);)*
            #build_interceptors
            #build_filters
            move |__request: #private::axum::extract::Request| {
                let this = ::std::sync::Arc::clone(&this);
                #(let #guards = ::std::sync::Arc::clone(&#guards);)*
                #clone_interceptors
                #clone_filters
                async move {
                    let __guards: [&dyn ::gateway_core::http::DynGuard; #guard_count] = [#(&*#guards),*];
                    #private::handle(
                        __request,
                        &<Self as ::gateway_core::http::Controller>::META.routes[#index],
                        #name,
                        &__guards,
                        #interceptors,
                        #filters,
                        move |#[allow(unused_mut)] mut __parts, __body| async move {
                            #path_params
                            #(#heads)*
                            #body
                            let __status = #private::status(#status);
                            let __result = this.#handler(#(#names),*).await;
                            #[allow(unused_mut)]
                            let mut __response = #respond;
                            if __response.status().is_success() {
                                #(__response.headers_mut().insert(
                                    #private::axum::http::HeaderName::from_static(#header_names),
                                    #private::axum::http::HeaderValue::from_static(#header_values),
                                );)*
                            }
                            __response
                        },
                    ).await
                }
            }
        }));
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut diags = Diagnostics::default();
    let prefix = if attr.is_empty() {
        String::new()
    } else {
        match syn::parse2::<LitStr>(attr) {
            Ok(lit) => {
                if let Err(message) = path::parse(&lit.value(), "") {
                    diags.error(lit.span(), message);
                }
                lit.value()
            }
            Err(e) => {
                diags.push(syn::Error::new(
                    e.span(),
                    "`#[controller]` takes an optional path prefix: `#[controller(\"api\")]`",
                ));
                String::new()
            }
        }
    };
    let mut block: ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(_) => {
            let error = syn::Error::new(Span::call_site(), "`#[controller]` goes on an impl block: `#[controller] impl UsersController { .. }`").to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut controller_guards = Vec::new();
    let mut controller_edge = EdgeAttrs::default();
    block.attrs.retain(|attr| {
        if controller_edge.take(attr, &mut diags) {
            return false;
        }
        if is_attr(attr, "guard") {
            controller_guards.extend(guard_list(attr, &mut diags));
            return false;
        }
        true
    });
    let mut routes = Vec::new();
    let mut handlers = Vec::new();
    for item in block.items.iter_mut() {
        if let ImplItem::Fn(f) = item {
            match parse_pattern_handler(f, &mut diags) {
                Some(handler) => handlers.push(handler),
                None => routes.extend(parse_route(f, &prefix, &mut diags)),
            }
        }
    }
    check_collisions(&routes, &mut diags);
    if let Some(error) = diags.into_error() {
        // Keep the (stripped) impl block so the rest of the file still type-checks.
        let error = error.to_compile_error();
        return quote!(#error #block);
    }

    let self_ty = &block.self_ty;
    let name = match &**self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => other.to_token_stream().to_string(),
    };
    let prefix = path::parse(&prefix, "")
        .map(|p| if p.nest == "/" { String::new() } else { p.nest })
        .unwrap_or_default();
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let class_metadata = &controller_edge.metadata;
    let metas = routes.iter().map(|r| {
        let (method, nest, handler) = (r.method, &r.path.nest, r.handler.to_string());
        let metadata = &r.edge.metadata;
        quote!(::gateway_core::http::RouteMeta {
            method: #method,
            path: #nest,
            handler: #handler,
            metadata: &[#(#metadata),*],
            class_metadata: &[#(#class_metadata),*],
        })
    });
    let mut all_guards: Vec<syn::Path> = Vec::new();
    for guard in controller_guards
        .iter()
        .chain(routes.iter().flat_map(|r| &r.guards))
    {
        let key = guard.to_token_stream().to_string();
        if !all_guards
            .iter()
            .any(|g| g.to_token_stream().to_string() == key)
        {
            all_guards.push(guard.clone());
        }
    }
    let resolve_guards = all_guards.iter().enumerate().map(|(i, g)| {
        let var = format_ident!("__guard{}", i);
        let field = format!(
            "#[guard({})]",
            g.to_token_stream().to_string().replace(' ', "")
        );
        quote_spanned! {g.span()=>
            let #var: ::std::sync::Arc<dyn ::gateway_core::http::DynGuard> =
                ::gateway_core::__private::guard_instance::<#g>(
                    __resolver.typed::<::std::sync::Arc<#g>>(#name, #field)?,
                );
        }
    });
    let pattern_metas = handlers.iter().map(|h| {
        let (event, route, handler) = (h.event, &h.route, h.handler.to_string());
        quote!(::gateway_core::http::PatternMeta { event: #event, route: #route, handler: #handler })
    });
    let registrations = handlers.iter().map(expand_pattern_handler);
    let ctl = ControllerEdge {
        name: &name,
        guards: &controller_guards,
        all_guards: &all_guards,
        edge: &controller_edge,
    };
    let mounts = routes
        .iter()
        .enumerate()
        .map(|(i, r)| expand_route(r, i, &ctl));
    quote! {
        #block

        ::gateway_core::__private::inventory::submit! {
            ::gateway_core::http::RegisteredController {
                meta: &<#self_ty as ::gateway_core::http::Controller>::META,
                type_name: ::core::any::type_name::<#self_ty>,
            }
        }

        impl #impl_generics ::gateway_core::http::Controller for #self_ty #where_clause {
            const META: ::gateway_core::http::ControllerMeta = ::gateway_core::http::ControllerMeta {
                name: #name,
                prefix: #prefix,
                routes: &[#(#metas),*],
                patterns: &[#(#pattern_metas),*],
            };

            #[allow(unused_mut)]
            fn register(
                this: ::std::sync::Arc<Self>,
                mut router: ::gateway_core::server::MessageRouter,
            ) -> ::gateway_core::server::MessageRouter {
                #(#registrations)*
                router
            }

            #[allow(unused_variables)]
            fn mount(
                this: ::std::sync::Arc<Self>,
                mut router: ::gateway_core::__private::axum::Router,
                __resolver: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<::gateway_core::__private::axum::Router, ::gateway_core::di::DiError> {
                #(#resolve_guards)*
                #(#mounts)*
                ::core::result::Result::Ok(router)
            }
        }
    }
}

/// `#[get]` and friends outside a `#[controller]` block: say where they belong.
pub fn misplaced(name: &str, item: TokenStream) -> TokenStream {
    let error = syn::Error::new(
        Span::call_site(),
        format!("`#[{name}]` only works on a method inside an impl block marked `#[controller]`"),
    )
    .to_compile_error();
    quote!(#error #item)
}
