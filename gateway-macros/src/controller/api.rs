//! The OpenAPI side of a controller: the `@nestjs/swagger`-style attributes
//! (`#[api_tags]`, `#[api_operation]`, `#[api_response]`, `#[api_bearer_auth]`,
//! `#[api_exclude_endpoint]`) parsed into the model, and each route's description written as
//! calls on the runtime's `RouteDocs`, which the runtime keeps only with its `openapi` feature
//! (`__api_doc!`). Types are named where the user wrote them, so a type without a schema is a
//! compile error at that type.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Token, Type};

use super::model::{ApiDocs, ApiResponse, Controller, Route, Source};
use crate::attrs::args;
use crate::diag::Diagnostics;

/// Reads one OpenAPI attribute into `api`.
pub fn take(api: &mut ApiDocs, name: &str, attr: &Attribute, diags: &mut Diagnostics) {
    match name {
        "api_tags" => match Punctuated::<LitStr, Token![,]>::parse_terminated.parse2(args(attr)) {
            Ok(tags) if !tags.is_empty() => api.tags.extend(tags),
            _ => diags.error_at(
                attr,
                "`#[api_tags(..)]` takes tag names: `#[api_tags(\"users\")]` (Nest's `@ApiTags`)",
            ),
        },
        "api_operation" => {
            const USAGE: &str = "`#[api_operation(..)]` takes `summary = \"..\"` and/or `description = \"..\"` (Nest's `@ApiOperation`)";
            let Some(pairs) = pairs(attr) else {
                return diags.error_at(attr, USAGE);
            };
            for (key, value) in pairs {
                match (key.as_str(), value) {
                    ("summary", Value::Str(s)) => api.summary = Some(s),
                    ("description", Value::Str(s)) => api.description = Some(s),
                    _ => diags.error_at(attr, USAGE),
                }
            }
        }
        "api_response" => {
            const USAGE: &str = "`#[api_response(..)]` takes `status = 404`, and optionally `description = \"..\"` and `body = Type` (Nest's `@ApiResponse({ status, description, type })`)";
            let Some(pairs) = pairs(attr) else {
                return diags.error_at(attr, USAGE);
            };
            let (mut status, mut description, mut body) = (None, None, None);
            for (key, value) in pairs {
                match (key.as_str(), value) {
                    ("status", Value::Int(n)) if (100..=599).contains(&n) => {
                        status = Some(n as u16)
                    }
                    ("description", Value::Str(s)) => description = Some(s),
                    ("body", Value::Type(t)) => body = Some(*t),
                    _ => return diags.error_at(attr, USAGE),
                }
            }
            match status {
                Some(status) => api.responses.push(ApiResponse {
                    status,
                    description,
                    body,
                }),
                None => diags.error_at(attr, USAGE),
            }
        }
        "api_body" => match syn::parse2::<Type>(args(attr)) {
            Ok(ty) => api.body = Some(ty),
            Err(_) => diags.error_at(attr, "`#[api_body(T)]` takes the body's type: `#[api_body(CreateOrderDto)]` (Nest's `@ApiBody({ type })`)"),
        },
        "api_bearer_auth" => {
            let tokens = args(attr);
            if tokens.is_empty() {
                api.bearer = Some("bearer".to_owned());
            } else {
                match syn::parse2::<LitStr>(tokens) {
                    Ok(name) => api.bearer = Some(name.value()),
                    Err(_) => diags.error_at(attr, "`#[api_bearer_auth]` takes nothing, or the security scheme's name: `#[api_bearer_auth(\"jwt\")]` (Nest's `@ApiBearerAuth`)"),
                }
            }
        }
        "api_exclude_endpoint" => {
            if !args(attr).is_empty() {
                diags.error_at(attr, "`#[api_exclude_endpoint]` takes no arguments");
            }
            api.exclude = true;
        }
        _ => unreachable!("an OpenAPI attribute"),
    }
}

enum Value {
    Str(LitStr),
    Int(u64),
    Type(Box<Type>),
}

/// `key = value, ..` where a value is a string, an integer or a type (`Vec<User>` too).
fn pairs(attr: &Attribute) -> Option<Vec<(String, Value)>> {
    let parser = |input: syn::parse::ParseStream<'_>| {
        let mut pairs = Vec::new();
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = if input.peek(LitStr) {
                Value::Str(input.parse()?)
            } else if input.peek(syn::LitInt) {
                Value::Int(input.parse::<syn::LitInt>()?.base10_parse()?)
            } else {
                Value::Type(Box::new(input.parse()?))
            };
            pairs.push((key.to_string(), value));
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(pairs)
    };
    parser.parse2(args(attr)).ok()
}

/// What a type is in the document, read from how it is spelled (an alias of a JSON-any type
/// is taken for a typed one, and needs a schema).
enum Shape<'a> {
    /// No body (`()`, a status).
    Empty,
    /// A body whose shape the type does not tell (`Response`, `impl IntoResponse`).
    Unknown,
    /// Any JSON (`RawReply`, `serde_json::Value`).
    Any,
    /// A string: Nest answers it as `text/html`.
    Text,
    /// A file (`StreamableFile`).
    Binary,
    Array(Box<Shape<'a>>),
    /// A type that must have a schema.
    Typed(&'a Type),
}

/// A span at the user's `span` that resolves names as the rest of the expansion does (see
/// `expand::at`).
fn at(span: proc_macro2::Span) -> proc_macro2::Span {
    proc_macro2::Span::call_site().located_at(span)
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) => p.path.segments.last(),
        _ => None,
    }
}

fn first_type_arg(segment: &syn::PathSegment) -> Option<&Type> {
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn shape(ty: &Type) -> Shape<'_> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => return Shape::Empty,
        Type::ImplTrait(_) => return Shape::Unknown,
        Type::Reference(r) => return shape(&r.elem),
        Type::Paren(p) => return shape(&p.elem),
        Type::Group(g) => return shape(&g.elem),
        _ => {}
    }
    let Some(segment) = last_segment(ty) else {
        return Shape::Typed(ty);
    };
    let inner = || first_type_arg(segment);
    match segment.ident.to_string().as_str() {
        "Result" | "Json" | "Option" | "Box" | "Arc" | "HandlerValue" => match inner() {
            Some(inner) if segment.ident != "Box" || !is_raw_value(inner) => shape(inner),
            Some(_) => Shape::Any,
            None => Shape::Unknown,
        },
        "Vec" => inner().map_or(Shape::Unknown, |inner| Shape::Array(Box::new(shape(inner)))),
        "RawReply" | "RawValue" | "Value" => Shape::Any,
        "String" | "str" => Shape::Text,
        "StreamableFile" => Shape::Binary,
        "Response" | "HttpRedirect" | "Redirect" | "Sse" => Shape::Unknown,
        "StatusCode" => Shape::Empty,
        _ => Shape::Typed(ty),
    }
}

fn is_raw_value(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "RawValue")
}

/// An expression building `shape`'s schema on `__doc`. Strict: a type without a schema is a
/// compile error at the type; lenient: it is recorded, and the document reports it.
fn schema(shape: &Shape<'_>, strict: bool) -> TokenStream {
    match shape {
        Shape::Typed(ty) if strict => {
            quote_spanned!(at(ty.span())=> __doc.schema::<#ty>())
        }
        Shape::Typed(ty) => quote!({
            #[allow(unused_imports)]
            use ::gateway_core::openapi::__probe::{Described as _, Undescribed as _};
            (&&::gateway_core::openapi::__probe::Probe::<#ty>::NEW).describe(__doc)
        }),
        Shape::Array(item) => {
            let item = schema(item, strict);
            quote!({ let __item = #item; __doc.array(__item) })
        }
        Shape::Text => quote!(__doc.text()),
        Shape::Binary => quote!(__doc.binary()),
        _ => quote!(__doc.any()),
    }
}

/// The content of a body of `shape`: `(media type, schema)`, or nothing.
fn content(shape: &Shape<'_>, strict: bool) -> Option<TokenStream> {
    match shape {
        Shape::Empty | Shape::Unknown => None,
        Shape::Text => Some(quote!(("text/html", __doc.text()))),
        Shape::Binary => Some(quote!(("application/octet-stream", __doc.binary()))),
        other => {
            let schema = schema(other, strict);
            Some(quote!(("application/json", #schema)))
        }
    }
}

/// Whether the controller or the route says it is documented (an OpenAPI attribute): then
/// every type of its contract must have a schema, checked by the compiler.
fn documented(api: &ApiDocs) -> bool {
    !api.tags.is_empty()
        || api.summary.is_some()
        || api.description.is_some()
        || !api.responses.is_empty()
        || api.bearer.is_some()
        || api.body.is_some()
}

fn opt_str(s: &Option<LitStr>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

/// The route's description, as the statements of the function `__api_doc!` keeps.
pub fn route_doc(ctl: &Controller, route: &Route) -> TokenStream {
    let (class, api) = (&ctl.edge.api, &route.edge.api);
    let strict = documented(class) || documented(api);
    let controller = &ctl.name;
    let handler = route.handler.to_string();
    let mut calls = vec![quote!(__doc.operation(#controller, #handler);)];
    if class.exclude || api.exclude {
        calls.push(quote!(__doc.exclude();));
    }
    let tags = class.tags.iter().chain(&api.tags);
    calls.push(quote!(__doc.tags(&[#(#tags),*]);));
    if api.summary.is_some() || api.description.is_some() {
        let (summary, description) = (opt_str(&api.summary), opt_str(&api.description));
        calls.push(quote!(__doc.summary(#summary, #description);));
    }
    let mut validated = false;
    let mut body = false;
    for arg in &route.args {
        let ty = &arg.ty;
        match &arg.source {
            Source::Param(name) => {
                // A string parameter cannot fail to parse; any other can (400).
                validated |= !matches!(shape(ty), Shape::Text);
                let schema = schema(&shape(ty), strict);
                calls.push(quote!({ let __schema = #schema; __doc.path_param(#name, __schema); }));
            }
            Source::Query => {
                validated = true;
                let schema = schema(&Shape::Typed(ty), strict);
                calls.push(quote!({ let __schema = #schema; __doc.query(__schema); }));
            }
            Source::Header(name) => {
                let schema = schema(&shape(ty), strict);
                calls
                    .push(quote!({ let __schema = #schema; __doc.header_param(#name, __schema); }));
            }
            Source::Body => {
                validated = true;
                body = true;
                if api.body.is_none() {
                    if let Some(content) = content(&shape(ty), strict) {
                        calls.push(quote!({ let __content = #content; __doc.body(__content); }));
                    }
                }
            }
            Source::Upload(upload) => {
                body = true;
                let (field, many) = (&upload.field, upload.max_count > 1);
                calls.push(quote!(__doc.upload(#field, #many);));
            }
            _ => {}
        }
    }
    if let Some(ty) = &api.body {
        validated = true;
        body = true;
        if let Some(content) = content(&shape(ty), true) {
            calls.push(quote!({ let __content = #content; __doc.body(__content); }));
        }
    }
    let status = route.status;
    let success = if route.sse {
        Some(quote!(("text/event-stream", __doc.text())))
    } else {
        route
            .output
            .as_ref()
            .and_then(|ty| content(&shape(ty), strict))
    };
    match success {
        Some(content) => calls.push(quote!({ let __content = #content; __doc.response(#status, ::core::option::Option::Some(__content)); })),
        None => calls.push(quote!(__doc.response(#status, ::core::option::Option::None);)),
    }
    // The errors the route can answer with, in Nest's bodies.
    let mut errors: Vec<u16> = Vec::new();
    if validated {
        errors.push(400);
    }
    if route
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Param(_)))
    {
        errors.push(404);
    }
    if body {
        errors.push(413);
    }
    let throttled = ctl
        .edge
        .metadata
        .iter()
        .chain(&route.edge.metadata)
        .any(|m| matches!(m, super::model::Meta::Throttle { .. }));
    if throttled {
        errors.push(429);
    }
    let calls_services = route
        .output
        .as_ref()
        .is_some_and(|ty| quote!(#ty).to_string().contains("RpcError"));
    if calls_services {
        errors.extend([502, 503, 504]);
    }
    calls.push(quote!(__doc.errors(&[#(#errors),*]);));
    let guarded = !ctl.edge.guards.is_empty() || !route.edge.guards.is_empty();
    let public = ctl
        .edge
        .metadata
        .iter()
        .chain(&route.edge.metadata)
        .any(|m| matches!(m, super::model::Meta::Public));
    if public {
        calls.push(quote!(__doc.public();));
    } else if guarded {
        calls.push(quote!(__doc.guarded();));
    }
    if let Some(name) = api.bearer.as_ref().or(class.bearer.as_ref()) {
        calls.push(quote!(__doc.bearer(#name);));
    }
    for response in class.responses.iter().chain(&api.responses) {
        let status = response.status;
        let description = opt_str(&response.description);
        let content = match &response.body {
            Some(ty) => {
                let content = content(&shape(ty), true);
                match content {
                    Some(c) => quote!(::core::option::Option::Some(#c)),
                    None => quote!(::core::option::Option::None),
                }
            }
            None => quote!(::core::option::Option::None),
        };
        calls.push(quote!({ let __content = #content; __doc.api_response(#status, #description, __content); }));
    }
    quote!(::gateway_core::__api_doc!(|__doc: &mut ::gateway_core::http::RouteDocs| { #(#calls)* }))
}
