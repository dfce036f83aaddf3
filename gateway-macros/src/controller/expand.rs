//! Expand: the model becomes an `impl Controller` (its route table as `&'static` data, the
//! routes mounted on axum, the message handlers registered) and an `inventory` entry.
//! Nothing here reads the user's tokens again; how a value becomes a response is left to
//! the runtime's traits (`__private::pick`), so a type alias works like the type.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use super::model::{
    Arg, Component, Controller, GrpcTarget, Handler, HandlerArg, Meta, MetaKey, MetaLit, Route,
    Source, Upload,
};

/// A span at the user's `span` (where an error should point) that resolves names as the rest
/// of the expansion does: the generated locals (`__parts`, `__result`, `this`) stay visible
/// when the user's tokens come from another macro (a `macro_rules!` that writes controllers).
fn at(span: proc_macro2::Span) -> proc_macro2::Span {
    proc_macro2::Span::call_site().located_at(span)
}

fn private() -> TokenStream {
    quote!(::gateway_core::__private)
}

/// The whole expansion of a checked controller (the impl block itself is emitted by the
/// caller).
pub fn controller(ctl: &Controller) -> TokenStream {
    let self_ty = &ctl.self_ty;
    let name = &ctl.name;
    let prefix = &ctl.prefix;
    let (impl_generics, _, where_clause) = ctl.generics.split_for_impl();
    let class_metadata: Vec<TokenStream> = ctl.edge.metadata.iter().map(metadata).collect();
    let class_versions = versions(&ctl.edge.versions);
    let routes = ctl.routes.iter().map(|r| {
        let (method, nest, handler) = (r.method.name, &r.path.nest, r.handler.to_string());
        let own = r.edge.metadata.iter().map(metadata);
        let versions = versions(&r.edge.versions);
        let status = r.status;
        let api = super::api::route_doc(ctl, r);
        quote!(::gateway_core::http::RouteMeta {
            method: #method,
            path: #nest,
            handler: #handler,
            status: #status,
            metadata: &[#(#own),*],
            class_metadata: &[#(#class_metadata),*],
            versions: #versions,
            class_versions: #class_versions,
            api: #api,
        })
    });
    let patterns = ctl.handlers.iter().map(|h| {
        let (event, route, handler) = (h.event, &h.pattern.route, h.handler.to_string());
        let own = h.edge.metadata.iter().map(metadata);
        quote!(::gateway_core::http::PatternMeta {
            event: #event,
            route: #route,
            handler: #handler,
            metadata: &[#(#own),*],
            class_metadata: &[#(#class_metadata),*],
        })
    });
    let guards = all_guards(ctl);
    let resolve_guards = guards
        .iter()
        .enumerate()
        .map(|(i, g)| resolve_guard(i, g, name));
    // The handlers' guards only: a microservice resolves no guard that only routes use.
    let resolve_handler_guards = guards
        .iter()
        .enumerate()
        .filter(|(_, g)| {
            ctl.edge
                .guards
                .iter()
                .chain(ctl.handlers.iter().flat_map(|h| &h.edge.guards))
                .any(|used| same_path(used, g))
        })
        .map(|(i, g)| resolve_guard(i, g, name));
    let mounts = ctl
        .routes
        .iter()
        .enumerate()
        .map(|(i, r)| route(r, i, ctl, &guards));
    let private = private();
    let registrations = ctl.handlers.iter().enumerate().map(|(i, h)| {
        let register = handler(h);
        let vars = ctl
            .edge
            .guards
            .iter()
            .chain(&h.edge.guards)
            .map(|g| guard_var(&guards, g));
        // Interceptors from the controller's outward; filters from the handler's outward, the
        // last listed asked first at each level (Nest reverses the list).
        let interceptors = ctl
            .edge
            .interceptors
            .iter()
            .chain(&h.edge.interceptors)
            .map(|c| component(c, "interceptor", name));
        let filters = h
            .edge
            .filters
            .iter()
            .rev()
            .chain(ctl.edge.filters.iter().rev())
            .map(|c| component(c, "filter", name));
        quote! {
            #register
            router = #private::edge_handler(
                router,
                &<Self as ::gateway_core::http::Controller>::META.patterns[#i],
                #name,
                ::std::vec![#(::std::sync::Arc::clone(&#vars)),*],
                &[#(#interceptors),*],
                &[#(#filters),*],
            );
        }
    });
    quote! {
        #private::inventory::submit! {
            ::gateway_core::http::RegisteredController {
                meta: &<#self_ty as ::gateway_core::http::Controller>::META,
                type_name: ::core::any::type_name::<#self_ty>,
            }
        }

        impl #impl_generics ::gateway_core::http::Controller for #self_ty #where_clause {
            const META: ::gateway_core::http::ControllerMeta = ::gateway_core::http::ControllerMeta {
                name: #name,
                prefix: #prefix,
                routes: &[#(#routes),*],
                patterns: &[#(#patterns),*],
            };

            #[allow(unused_mut, unused_variables)]
            fn register(
                this: ::std::sync::Arc<Self>,
                mut router: ::gateway_core::server::MessageRouter,
                __resolver: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<::gateway_core::server::MessageRouter, ::gateway_core::di::DiError> {
                #(#resolve_handler_guards)*
                #(#registrations)*
                ::core::result::Result::Ok(router)
            }

            #[allow(unused_variables)]
            fn mount(
                this: ::std::sync::Arc<Self>,
                mut router: ::gateway_core::http::Routes,
                __resolver: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<::gateway_core::http::Routes, ::gateway_core::di::DiError> {
                #(#resolve_guards)*
                #(#mounts)*
                ::core::result::Result::Ok(router)
            }
        }
    }
}

/// `&[ApiVersion::Is(..), ApiVersion::Neutral]`, a `'static` slice.
fn versions(list: &[Option<String>]) -> TokenStream {
    let items = list.iter().map(|v| match v {
        Some(v) => quote!(::gateway_core::http::ApiVersion::Is(::std::borrow::Cow::Borrowed(#v))),
        None => quote!(::gateway_core::http::ApiVersion::Neutral),
    });
    quote!(&[#(#items),*])
}

/// After a mistake: an `impl Controller` with nothing in it, so a module listing the
/// controller compiles and the mistake is the only error.
pub fn stub(self_ty: &syn::Type, generics: &syn::Generics, name: &str) -> TokenStream {
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    quote! {
        impl #impl_generics ::gateway_core::http::Controller for #self_ty #where_clause {
            const META: ::gateway_core::http::ControllerMeta = ::gateway_core::http::ControllerMeta {
                name: #name,
                prefix: "",
                routes: &[],
                patterns: &[],
            };

            fn register(
                _: ::std::sync::Arc<Self>,
                router: ::gateway_core::server::MessageRouter,
                _: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<::gateway_core::server::MessageRouter, ::gateway_core::di::DiError> {
                ::core::result::Result::Ok(router)
            }

            fn mount(
                _: ::std::sync::Arc<Self>,
                router: ::gateway_core::http::Routes,
                _: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<::gateway_core::http::Routes, ::gateway_core::di::DiError> {
                ::core::result::Result::Ok(router)
            }
        }
    }
}

/// The `&'static [Metadata]` of one metadata attribute.
fn metadata(meta: &Meta) -> TokenStream {
    let private = private();
    let http = quote!(::gateway_core::http);
    let one =
        |key: TokenStream, value: TokenStream| quote!(&[#private::Metadata::new(#key, #value)]);
    match meta {
        Meta::Public => one(
            quote!(#http::IS_PUBLIC_KEY),
            quote!(#private::MetaValue::Bool(true)),
        ),
        Meta::Roles(roles) => one(
            quote!(#http::ROLES_KEY),
            quote!(#private::MetaValue::List(&[#(#private::MetaValue::Str(#roles)),*])),
        ),
        Meta::SkipThrottle(skip) => one(
            quote!(#http::SKIP_THROTTLE_KEY),
            quote!(#private::MetaValue::Bool(#skip)),
        ),
        Meta::Throttle { limit, ttl, block } => one(
            quote!(#http::THROTTLE_KEY),
            quote!(#private::MetaValue::List(&[
                #private::MetaValue::Int(#limit), #private::MetaValue::Int(#ttl), #private::MetaValue::Int(#block)
            ])),
        ),
        Meta::Set { key, value } => {
            let key = match key {
                MetaKey::Str(s) => s.to_token_stream(),
                MetaKey::Const(p) => p.to_token_stream(),
            };
            one(key, meta_value(value))
        }
        Meta::Decorator(path) => quote_spanned!(at(path.span())=> #private::decorator::<#path>()),
        Meta::CacheTtl(ms) => one(
            quote!(::gateway_core::cache::CACHE_TTL_METADATA),
            quote!(#private::MetaValue::Int(#ms)),
        ),
        Meta::CacheKey(key) => one(
            quote!(::gateway_core::cache::CACHE_KEY_METADATA),
            quote!(#private::MetaValue::Str(#key)),
        ),
    }
}

fn meta_value(value: &MetaLit) -> TokenStream {
    let meta = quote!(::gateway_core::__private::MetaValue);
    match value {
        MetaLit::Str(s) => quote!(#meta::Str(#s)),
        MetaLit::Bool(b) => quote!(#meta::Bool(#b)),
        MetaLit::Int(n) => quote!(#meta::Int(#n)),
        MetaLit::List(items) => {
            let items = items.iter().map(meta_value);
            quote!(#meta::List(&[#(#items),*]))
        }
    }
}

/// Every guard of the controller, each once, in first-use order: each is resolved once at
/// mount and shared by the routes that use it.
fn all_guards(ctl: &Controller) -> Vec<syn::Path> {
    let mut all: Vec<syn::Path> = Vec::new();
    for guard in ctl
        .edge
        .guards
        .iter()
        .chain(ctl.routes.iter().flat_map(|r| &r.edge.guards))
        .chain(ctl.handlers.iter().flat_map(|h| &h.edge.guards))
    {
        if !all.iter().any(|g| same_path(g, guard)) {
            all.push(guard.clone());
        }
    }
    all
}

fn same_path(a: &syn::Path, b: &syn::Path) -> bool {
    a.to_token_stream().to_string() == b.to_token_stream().to_string()
}

/// The variable holding a guard instance, by the guard's position in the controller's list.
fn guard_var(all: &[syn::Path], guard: &syn::Path) -> syn::Ident {
    let index = all
        .iter()
        .position(|g| same_path(g, guard))
        .expect("every guard is listed");
    format_ident!("__guard{}", index)
}

/// Resolves guard `i` by DI; the bound check's span sits on the guard's name.
fn resolve_guard(i: usize, guard: &syn::Path, controller: &str) -> TokenStream {
    let var = format_ident!("__guard{}", i);
    let field = format!(
        "#[guard({})]",
        guard.to_token_stream().to_string().replace(' ', "")
    );
    quote_spanned! {at(guard.span())=>
        let #var: ::std::sync::Arc<dyn ::gateway_core::http::DynGuard> =
            ::gateway_core::__private::guard_instance::<#guard>(
                __resolver.typed::<::std::sync::Arc<#guard>>(#controller, #field)?,
            );
    }
}

/// The expression building one interceptor or filter at mount time (`kind` is `interceptor`
/// or `filter`), resolving DI types through `__resolver`.
fn component(c: &Component, kind: &str, controller: &str) -> TokenStream {
    let private = private();
    match c {
        Component::Di(path) => {
            let instance = format_ident!("{kind}_instance");
            let attr = if kind == "filter" {
                "use_filters"
            } else {
                "use_interceptors"
            };
            let field = format!(
                "#[{attr}({})]",
                path.to_token_stream().to_string().replace(' ', "")
            );
            quote_spanned! {at(path.span())=>
                #private::#instance::<#path>(__resolver.typed::<::std::sync::Arc<#path>>(#controller, #field)?)
            }
        }
        Component::Value(expr) => {
            let value = format_ident!("{kind}_value");
            quote_spanned!(at(expr.span())=> #private::#value(#expr))
        }
    }
}

/// Interceptors or filters of a route: built once at mount, shared by every request; a route
/// with none passes an empty slice and pays nothing. The statements that build them, that
/// clone them into a request, and the slice to pass.
fn shared_list(
    kind: &str,
    items: Vec<&Component>,
    controller: &str,
) -> (TokenStream, TokenStream, TokenStream) {
    let var = format_ident!("__{}s", kind);
    if items.is_empty() {
        return (quote!(), quote!(), quote!(&[]));
    }
    let dyn_ty = if kind == "filter" {
        quote!(::gateway_core::http::DynFilter)
    } else {
        quote!(::gateway_core::http::DynInterceptor)
    };
    let built = items.iter().map(|c| component(c, kind, controller));
    (
        quote!(let #var: ::std::sync::Arc<[::std::sync::Arc<dyn #dyn_ty>]> = ::std::sync::Arc::from(::std::vec![#(#built),*]);),
        quote!(let #var = ::std::sync::Arc::clone(&#var);),
        quote!(&#var),
    )
}

/// One argument, read from the request (returning the error response if it cannot be).
fn extract(arg: &Arg, index: usize, raw: bool, form: bool, optional: Option<&str>) -> TokenStream {
    let var = format_ident!("__arg{}", index);
    let ty = &arg.ty;
    let private = private();
    let bail = quote!(match __value {
        ::core::result::Result::Ok(v) => v,
        ::core::result::Result::Err(e) => return #private::axum::response::IntoResponse::into_response(e),
    });
    let value = match &arg.source {
        Source::Param(name) => {
            let expected = quote!(|| {
                use #private::pick::{PickBoolean as _, PickNamed as _, PickNumeric as _};
                (&&&#private::pick::Out::<#ty>::new())
                    .pick_param()
                    .expected(#private::pick::Out::<#ty>::new())
            });
            if optional == Some(name.as_str()) {
                let inner = quote_spanned!(at(ty.span())=> <#ty as #private::OptionalParam>::Inner);
                let expected = quote!(|| {
                    use #private::pick::{PickBoolean as _, PickNamed as _, PickNumeric as _};
                    (&&&#private::pick::Out::<#inner>::new())
                        .pick_param()
                        .expected(#private::pick::Out::<#inner>::new())
                });
                quote_spanned!(at(ty.span())=> #private::optional_path_param::<#ty>(&__path, #name, #expected))
            } else {
                quote_spanned!(at(ty.span())=> #private::path_param::<#ty>(&__path, #name, #expected))
            }
        }
        Source::Query => quote_spanned!(at(ty.span())=> #private::query::<#ty>(&__parts)),
        Source::Header(name) => {
            quote_spanned!(at(ty.span())=> #private::header::<#ty>(&__parts, #name))
        }
        Source::Headers => {
            quote!(::core::result::Result::<_, #private::axum::response::Response>::Ok(__parts.headers.clone()))
        }
        Source::Req => {
            quote!(::core::result::Result::<_, #private::axum::response::Response>::Ok(__parts.clone()))
        }
        Source::User => quote_spanned!(at(ty.span())=> #private::user::<#ty>(&__parts)),
        Source::Context(data) => {
            let data = match data {
                Some(d) => quote!(::core::option::Option::Some(#d)),
                None => quote!(::core::option::Option::None),
            };
            quote_spanned!(at(ty.span())=> #private::decorated::<#ty>(&mut __parts, __route, __controller, #data))
        }
        Source::Extractor => {
            quote_spanned!(at(ty.span())=> #private::extract::<#ty>(&mut __parts).await)
        }
        Source::Body if form => {
            quote_spanned!(at(ty.span())=> #private::body_from_fields::<#ty>(&__parts, &__form))
        }
        Source::Upload(upload) => {
            let field = &upload.field;
            quote_spanned!(at(ty.span())=> #private::uploaded::<#ty>(&mut __form, #field))
        }
        Source::Body if raw => {
            quote_spanned!(at(ty.span())=> #private::body_from_bytes::<#ty>(&__parts, &__raw))
        }
        Source::Body => {
            quote_spanned!(at(ty.span())=> #private::body::<#ty>(__parts, __body).await)
        }
        Source::RawBody => {
            quote_spanned!(at(ty.span())=> #private::raw_body_as::<#ty>(&__raw))
        }
    };
    quote!(let #var: #ty = { let __value = #value; #bail };)
}

/// The handler's call and response: the arguments in order (the body last, as it consumes
/// the request), the method, the response its value makes, the route's success headers.
fn call(route: &Route, index: usize, controller: &str) -> TokenStream {
    let private = private();
    let handler = &route.handler;
    let status = route.status;
    let path_params = route.args.iter().any(|a| matches!(a.source, Source::Param(_))).then(|| {
        quote!(let __path = match #private::raw_path(&mut __parts).await { ::core::result::Result::Ok(p) => p, ::core::result::Result::Err(r) => return r };)
    });
    let is_body = |a: &&Arg| matches!(a.source, Source::Body | Source::RawBody | Source::Upload(_));
    // With `#[raw_body]`, the body is read once as bytes, and a `#[body]` parsed from them.
    let raw = route
        .args
        .iter()
        .any(|a| matches!(a.source, Source::RawBody));
    let optional = route.path.optional.as_ref().map(|(name, _)| name.as_str());
    // With uploaded files, the body is read once as a multipart form: files and text fields.
    let uploads: Vec<&Upload> = route
        .args
        .iter()
        .filter_map(|a| match &a.source {
            Source::Upload(upload) => Some(upload),
            _ => None,
        })
        .collect();
    let form = !uploads.is_empty();
    let read_form = form.then(|| {
        let fields = uploads.iter().map(|u| {
            let (name, count) = (&u.field, u.max_count.min(usize::MAX as u64) as usize);
            let size = match u.max_size {
                Some(size) => {
                    let size = size.min(usize::MAX as u64) as usize;
                    quote!(#size)
                }
                None => quote!(::gateway_core::http::DEFAULT_MAX_FILE_SIZE),
            };
            let types = &u.file_types;
            quote!(::gateway_core::http::FileField { name: #name, max_count: #count, max_size: #size, file_types: &[#(#types),*] })
        });
        quote! {
            #[allow(unused_mut)]
            let mut __form = match #private::multipart(&__parts, __body, &[#(#fields),*]).await {
                ::core::result::Result::Ok(f) => f,
                ::core::result::Result::Err(r) => return r,
            };
        }
    });
    let heads = route
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| !is_body(a))
        .map(|(i, a)| extract(a, i, raw, form, optional));
    let read_raw = raw.then(|| {
        quote!(let __raw = match #private::raw_body(&__parts, __body).await { ::core::result::Result::Ok(b) => b, ::core::result::Result::Err(r) => return r };)
    });
    let body = route
        .args
        .iter()
        .enumerate()
        .filter(|(_, a)| is_body(a))
        .map(|(i, a)| extract(a, i, raw, form, optional));
    let names = (0..route.args.len()).map(|i| format_ident!("__arg{}", i));
    let pick =
        quote_spanned!(at(route.output_span)=> (&&&&&&#private::pick::Out::of(&__result)).pick());
    let context = route
        .args
        .iter()
        .any(|a| matches!(a.source, Source::Context(_)))
        .then(|| {
            quote! {
                let __route = &<Self as ::gateway_core::http::Controller>::META.routes[#index];
                let __controller = #controller;
            }
        });
    let redirect = route.redirect.as_ref().map(|_| {
        quote! {
            let __accept = __parts.headers.get(#private::axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(::std::borrow::ToOwned::to_owned);
            let __head = __parts.method == #private::axum::http::Method::HEAD;
        }
    });
    let respond = if let Some((url, status)) = &route.redirect {
        let status = match status {
            Some(code) => quote!(::core::option::Option::Some(#code)),
            None => quote!(::core::option::Option::None),
        };
        quote_spanned!(at(route.output_span)=> ::gateway_core::http::redirect_response(__accept.as_deref(), __head, #url, #status, __result))
    } else if route.sse {
        quote_spanned!(at(route.output_span)=> ::gateway_core::http::sse_response(__result))
    } else {
        quote! {
            use #private::pick::{
                PickAsIs as _, PickAsIsOrError as _, PickInto as _, PickIntoOrError as _,
                PickJson as _, PickJsonOrError as _,
            };
            #pick.respond(__status, __result, __keep)
        }
    };
    let header_names = route.headers.iter().map(|(n, _)| n);
    let header_values = route.headers.iter().map(|(_, v)| v);
    quote! {
        move |#[allow(unused_mut)] mut __parts, __body| async move {
            #[allow(unused_variables)]
            let __keep = #private::keeps_value(&__parts);
            #context
            #redirect
            #path_params
            #(#heads)*
            #read_raw
            #read_form
            #(#body)*
            let __status = #private::status(#status);
            let __result = this.#handler(#(#names),*).await;
            #[allow(unused_mut)]
            let mut __response = {
                #respond
            };
            if __response.status().is_success() {
                #(__response.headers_mut().insert(
                    #private::axum::http::HeaderName::from_static(#header_names),
                    #private::axum::http::HeaderValue::from_static(#header_values),
                );)*
            }
            __response
        }
    }
}

/// One route mounted on the router: its guards, interceptors and filters, then the request
/// pipeline around the handler's call.
fn route(route: &Route, index: usize, ctl: &Controller, all: &[syn::Path]) -> TokenStream {
    let private = private();
    let name = &ctl.name;
    let axum_path = &route.path.axum;
    let axum_fn = format_ident!("{}", route.method.axum_fn);
    let guards: Vec<syn::Ident> = ctl
        .edge
        .guards
        .iter()
        .chain(&route.edge.guards)
        .map(|g| guard_var(all, g))
        .collect();
    let guard_count = guards.len();
    let interceptors = ctl.edge.interceptors.iter().chain(&route.edge.interceptors);
    let (build_interceptors, clone_interceptors, interceptors) =
        shared_list("interceptor", interceptors.collect(), name);
    // Route filters are asked first, then the controller's, the last listed first at each
    // level (Nest's order: it reverses the list).
    let filters = route.edge.filters.iter().rev();
    let filters = filters.chain(ctl.edge.filters.iter().rev());
    let (build_filters, clone_filters, filters) = shared_list("filter", filters.collect(), name);
    let call = call(route, index, name);
    // A path with an optional group is mounted twice: with the group and without it.
    let base_mount = route.path.optional.as_ref().map(|(_, base)| {
        quote!(router = router.add(&<Self as ::gateway_core::http::Controller>::META.routes[#index], #base, ::core::clone::Clone::clone(&__method_router));)
    });
    quote_spanned! {at(route.path_span)=>
        let __method_router = #private::axum::routing::#axum_fn({
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
                        #call,
                    ).await
                }
            }
        });
        #base_mount
        router = router.add(&<Self as ::gateway_core::http::Controller>::META.routes[#index], #axum_path, __method_router);
    }
}

/// One message, stream or event handler registered on the message router. Nest passes a
/// handler its payload and its context; what it returns becomes the reply by its traits.
fn handler(h: &Handler) -> TokenStream {
    let private = private();
    let pattern = h.pattern.expr();
    let method = &h.handler;
    let payload = h.args.iter().find_map(|a| match a {
        HandlerArg::Payload(ty) => Some(ty),
        HandlerArg::Ctx(_) => None,
    });
    // A `#[grpc_stream_method]` handler's payload is its call's request stream, not the JSON.
    let requests = h.grpc.as_ref().filter(|g| g.requests).map(|g| &g.method);
    let param = match (payload, requests) {
        (Some(ty), None) => quote!(__payload: #ty),
        _ => quote!(_: #private::IgnoredPayload),
    };
    let args = h.args.iter().map(|a| match (a, requests) {
        (HandlerArg::Payload(ty), Some(m)) => quote_spanned! {at(ty.span())=>
            {
                let __requests: #ty = #private::grpc::take_requests::<#m>();
                __requests
            }
        },
        (HandlerArg::Payload(_), None) => quote!(__payload),
        (HandlerArg::Ctx(ty), _) => quote_spanned! {at(ty.span())=>
            {
                let __ctx: #ty = ::gateway_core::server::MessageContext::current().unwrap_or_default();
                __ctx
            }
        },
    });
    let call = quote!(this.#method(#(#args),*));
    // A gRPC method: its type must exist (spanned at the attribute), take the handler's
    // payload type and answer its reply type; the router serves it at the method's path.
    let (grpc_checks, grpc_register, grpc_reply) = match &h.grpc {
        Some(GrpcTarget {
            method: m,
            requests,
        }) => {
            let span = m.span();
            let route = &h.pattern.route;
            let streaming_message = if *requests {
                "this gRPC method takes one request: handle it with `#[grpc_method]`"
            } else {
                "this gRPC method takes a stream of requests (`rpc M(stream ..)`): handle it with `#[grpc_stream_method]`, whose payload is a `GrpcRequests<..>`"
            };
            let stream = h.stream;
            let payload_check = payload.filter(|_| !requests).map(|ty| {
                quote_spanned! {at(ty.span())=>
                    #private::grpc::request_is::<#m, #ty>();
                }
            });
            let reply_check = if h.stream {
                quote_spanned!(at(h.output_span)=> #private::grpc::stream_is::<#m, _, _, _>(&__stream);)
            } else {
                quote_spanned!(at(h.output_span)=> #private::grpc::reply_is::<#m, _, _>(&__result);)
            };
            (
                quote_spanned! {span=>
                    const _: () = ::core::assert!(
                        <#m as ::gateway_core::grpc::GrpcMethod>::CLIENT_STREAMING == #requests,
                        #streaming_message
                    );
                    const _: () = ::core::assert!(
                        <#m as ::gateway_core::grpc::GrpcMethod>::CLIENT_STREAMING != #requests
                            || <#m as ::gateway_core::grpc::GrpcMethod>::SERVER_STREAMING == #stream,
                        "the proto and the handler disagree on streaming: a method that `returns (stream ..)` has a plain `fn` returning `impl Stream` as its handler; any other an `async fn`"
                    );
                    #payload_check
                },
                quote!(router = router.grpc_method::<#m>(#route);),
                reply_check,
            )
        }
        None => (quote!(), quote!(), quote!()),
    };
    if h.stream {
        return quote! {
            #grpc_checks
            router = router.stream(#pattern, {
                let this = ::std::sync::Arc::clone(&this);
                move |#param| {
                    let __stream = #call;
                    #grpc_reply
                    __stream
                }
            });
            #grpc_register
        };
    }
    let pick_event =
        quote_spanned!(at(h.output_span)=> (&&#private::pick::Out::of(&__result)).pick_event());
    let pick_reply =
        quote_spanned!(at(h.output_span)=> (&&#private::pick::Out::of(&__result)).pick_reply());
    let (register, finish) = if h.event {
        (
            quote!(event),
            quote! {
                use #private::pick::{PickDrop as _, PickReport as _};
                #pick_event.finish(__result)
            },
        )
    } else {
        (
            quote!(message),
            quote! {
                use #private::pick::{PickReply as _, PickReplyOk as _};
                #pick_reply.reply(__result)
            },
        )
    };
    quote! {
        #grpc_checks
        router = router.#register(#pattern, {
            let this = ::std::sync::Arc::clone(&this);
            move |#param| {
                let this = ::std::sync::Arc::clone(&this);
                async move {
                    let __result = #call.await;
                    #grpc_reply
                    #finish
                }
            }
        });
        #grpc_register
    }
}
