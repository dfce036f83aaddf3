//! The edge attributes shared by controllers and routes: metadata (`#[set_metadata]`,
//! `#[public]`, `#[roles]`, `#[throttle]`, `#[skip_throttle]`, `#[apply_decorators]`),
//! `#[use_interceptors]` and `#[use_filters]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Lit, Token};

use crate::diag::Diagnostics;

/// What a controller or a route adds at the edge.
#[derive(Default)]
pub struct EdgeAttrs {
    /// One `&'static [Metadata]` expression per metadata attribute, in source order.
    pub metadata: Vec<TokenStream>,
    pub interceptors: Vec<Component>,
    pub filters: Vec<Component>,
}

/// An interceptor or filter: a type resolved by DI, or an instance expression.
#[derive(Clone)]
pub enum Component {
    Di(syn::Path),
    Value(Expr),
}

pub const EDGE_ATTRS: [&str; 8] = [
    "set_metadata",
    "public",
    "roles",
    "throttle",
    "skip_throttle",
    "apply_decorators",
    "use_interceptors",
    "use_filters",
];

fn args(attr: &Attribute) -> TokenStream {
    match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
}

impl EdgeAttrs {
    /// Consumes `attr` if it is an edge attribute.
    pub fn take(&mut self, attr: &Attribute, diags: &mut Diagnostics) -> bool {
        let Some(name) = EDGE_ATTRS.iter().find(|n| attr.path().is_ident(n)) else {
            return false;
        };
        let meta = quote!(::gateway_core::__private);
        match *name {
            "public" => {
                if !args(attr).is_empty() {
                    diags.error_at(attr, "`#[public]` takes no arguments");
                }
                self.metadata.push(quote!(&[#meta::Metadata::new(::gateway_core::http::IS_PUBLIC_KEY, #meta::MetaValue::Bool(true))]));
            }
            "roles" => {
                let parsed =
                    Punctuated::<syn::LitStr, Token![,]>::parse_terminated.parse2(args(attr));
                match parsed {
                    Ok(roles) if !roles.is_empty() => {
                        let roles = roles.iter();
                        self.metadata.push(quote!(&[#meta::Metadata::new(::gateway_core::http::ROLES_KEY, #meta::MetaValue::List(&[#(#meta::MetaValue::Str(#roles)),*]))]));
                    }
                    _ => diags.error_at(attr, "`#[roles(..)]` takes role names: `#[roles(\"admin\")]`, `#[roles(\"admin\", \"ops\")]`"),
                }
            }
            "skip_throttle" => {
                let tokens = args(attr);
                let skip = if tokens.is_empty() {
                    Some(true)
                } else {
                    match syn::parse2::<syn::LitBool>(tokens) {
                        Ok(b) => Some(b.value),
                        Err(_) => {
                            diags.error_at(attr, "`#[skip_throttle]` takes nothing, or `false` to undo a controller's `#[skip_throttle]`");
                            None
                        }
                    }
                };
                if let Some(skip) = skip {
                    self.metadata.push(quote!(&[#meta::Metadata::new(::gateway_core::http::SKIP_THROTTLE_KEY, #meta::MetaValue::Bool(#skip))]));
                }
            }
            "throttle" => {
                if let Some((limit, ttl, block)) = throttle(attr, diags) {
                    self.metadata.push(quote!(&[#meta::Metadata::new(::gateway_core::http::THROTTLE_KEY, #meta::MetaValue::List(&[
                        #meta::MetaValue::Int(#limit), #meta::MetaValue::Int(#ttl), #meta::MetaValue::Int(#block)
                    ]))]));
                }
            }
            "set_metadata" => {
                if let Some(tokens) = set_metadata(attr, diags) {
                    self.metadata.push(tokens);
                }
            }
            "apply_decorators" => {
                match Punctuated::<syn::Path, Token![,]>::parse_terminated.parse2(args(attr)) {
                    Ok(list) if !list.is_empty() => {
                        for path in list {
                            self.metadata.push(quote_spanned!(path.span()=> #meta::decorator::<#path>()));
                        }
                    }
                    _ => diags.error_at(attr, "`#[apply_decorators(..)]` takes decorator types: `#[apply_decorators(AdminOnly)]`"),
                }
            }
            "use_interceptors" | "use_filters" => {
                let what = if *name == "use_filters" {
                    "filter"
                } else {
                    "interceptor"
                };
                match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args(attr)) {
                    Ok(list) if !list.is_empty() => {
                        let list = list.into_iter().map(|e| match e {
                            Expr::Path(p) if p.qself.is_none() => Component::Di(p.path),
                            other => Component::Value(other),
                        });
                        if *name == "use_filters" {
                            self.filters.extend(list);
                        } else {
                            self.interceptors.extend(list);
                        }
                    }
                    _ => diags.error_at(attr, format!("`#[{name}(..)]` takes {what}s: a type (built by DI) or an expression (an instance), e.g. `#[{name}(Audit{c}, Timeout{c}::new(..))]`", c = if what == "filter" { "Filter" } else { "Interceptor" })),
                }
            }
            _ => unreachable!("listed in EDGE_ATTRS"),
        }
        true
    }
}

/// `#[throttle(limit = 10, ttl = "60s", block = "5m")]`: limit, ttl in ms, block in ms (0: the ttl).
fn throttle(attr: &Attribute, diags: &mut Diagnostics) -> Option<(i64, i64, i64)> {
    const USAGE: &str = "`#[throttle(..)]` takes `limit = <requests>` and `ttl = \"60s\"` (ms, s, m or h; or a number of ms), and optionally `block = \"5m\"`";
    let parsed = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated.parse2(args(attr));
    let Ok(pairs) = parsed else {
        diags.error_at(attr, USAGE);
        return None;
    };
    let (mut limit, mut ttl, mut block) = (None, None, 0);
    let mut ok = true;
    for pair in &pairs {
        let name = pair
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let value = match &pair.value {
            Expr::Lit(lit) => Some(&lit.lit),
            _ => None,
        };
        match (name.as_str(), value) {
            ("limit", Some(Lit::Int(n))) => match n.base10_parse::<i64>() {
                Ok(n) if n > 0 => limit = Some(n),
                _ => {
                    diags.error_at(n, "the limit is a number of requests, at least 1");
                    ok = false;
                }
            },
            ("ttl" | "block", Some(lit)) => match duration_ms(lit) {
                Some(ms) if ms > 0 => {
                    if name == "ttl" {
                        ttl = Some(ms);
                    } else {
                        block = ms;
                    }
                }
                _ => {
                    diags.error_at(lit, format!("`{name}` is a duration like \"500ms\", \"60s\", \"5m\", \"1h\" or a number of milliseconds, above zero"));
                    ok = false;
                }
            },
            _ => {
                diags.error_at(pair, USAGE);
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    match (limit, ttl) {
        (Some(limit), Some(ttl)) => Some((limit, ttl, block)),
        _ => {
            diags.error_at(attr, USAGE);
            None
        }
    }
}

fn duration_ms(lit: &Lit) -> Option<i64> {
    match lit {
        Lit::Int(n) => n.base10_parse().ok(),
        Lit::Str(s) => {
            let text = s.value();
            let split = text.find(|c: char| !c.is_ascii_digit())?;
            let (number, unit) = text.split_at(split);
            let number: i64 = number.parse().ok()?;
            let factor = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return None,
            };
            number.checked_mul(factor)
        }
        _ => None,
    }
}

/// `#[set_metadata(key, value)]`: the key a string or a `const`, the value a literal.
fn set_metadata(attr: &Attribute, diags: &mut Diagnostics) -> Option<TokenStream> {
    const USAGE: &str = "`#[set_metadata(key, value)]` takes a key (a string or a `const`) and a value: a string, an integer, a bool, or a list of them, e.g. `#[set_metadata(\"roles\", [\"admin\"])]`";
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args(attr));
    let list: Vec<Expr> = match parsed {
        Ok(list) if list.len() == 2 => list.into_iter().collect(),
        _ => {
            diags.error_at(attr, USAGE);
            return None;
        }
    };
    let key = match &list[0] {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => s.to_token_stream(),
        Expr::Path(p) => p.to_token_stream(),
        other => {
            diags.error_at(other, "the key is a string or a `const` holding one");
            return None;
        }
    };
    let value = meta_value(&list[1], diags)?;
    Some(quote!(&[::gateway_core::__private::Metadata::new(#key, #value)]))
}

fn meta_value(expr: &Expr, diags: &mut Diagnostics) -> Option<TokenStream> {
    let meta = quote!(::gateway_core::__private::MetaValue);
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(quote!(#meta::Str(#s))),
            Lit::Bool(b) => Some(quote!(#meta::Bool(#b))),
            Lit::Int(n) if n.base10_parse::<i64>().is_ok() => {
                let n = n.base10_parse::<i64>().ok()?;
                Some(quote!(#meta::Int(#n)))
            }
            _ => {
                diags.error_at(
                    lit,
                    "metadata values are strings, integers (i64), booleans, or lists of them",
                );
                None
            }
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(n), ..
            }) => {
                let n = -n.base10_parse::<i64>().ok()?;
                Some(quote!(#meta::Int(#n)))
            }
            _ => {
                diags.error_at(
                    expr,
                    "metadata values are strings, integers (i64), booleans, or lists of them",
                );
                None
            }
        },
        Expr::Array(array) => {
            let items: Option<Vec<TokenStream>> =
                array.elems.iter().map(|e| meta_value(e, diags)).collect();
            let items = items?;
            Some(quote!(#meta::List(&[#(#items),*])))
        }
        other => {
            diags.error_at(other, "metadata values are literals known at compile time: strings, integers, booleans, or lists of them");
            None
        }
    }
}

/// The expression building one interceptor or filter at mount time (`kind` is `interceptor`
/// or `filter`), resolving DI types through `__resolver`.
pub fn component(c: &Component, kind: &str, controller: &str) -> TokenStream {
    let private = quote!(::gateway_core::__private);
    match c {
        Component::Di(path) => {
            let instance = quote::format_ident!("{kind}_instance");
            let attr = if kind == "filter" {
                "use_filters"
            } else {
                "use_interceptors"
            };
            let field = format!(
                "#[{attr}({})]",
                path.to_token_stream().to_string().replace(' ', "")
            );
            quote_spanned! {path.span()=>
                #private::#instance::<#path>(__resolver.typed::<::std::sync::Arc<#path>>(#controller, #field)?)
            }
        }
        Component::Value(expr) => {
            let value = quote::format_ident!("{kind}_value");
            quote_spanned!(expr.span()=> #private::#value(#expr))
        }
    }
}
