//! The edge attributes shared by controllers and routes, parsed into the model: guards,
//! metadata (`#[set_metadata]`, `#[public]`, `#[roles]`, `#[throttle]`, `#[skip_throttle]`,
//! `#[cache_ttl]`, `#[cache_key]`, `#[apply_decorators]`), `#[use_interceptors]` and
//! `#[use_filters]`.

use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, Token};

use super::model::{Component, Edge, Meta, MetaKey, MetaLit};
use crate::attrs::{self, args, EDGE_ATTRS};
use crate::diag::Diagnostics;

/// Reads `attr` into `edge` if it is an edge attribute (reporting its mistakes); `false` if
/// it is not one.
pub fn take(edge: &mut Edge, attr: &Attribute, diags: &mut Diagnostics) -> bool {
    let Some(name) = attrs::which(attr, &EDGE_ATTRS) else {
        return false;
    };
    match name {
        "guard" => match attrs::paths(attr) {
            Ok(guards) if !guards.is_empty() => edge.guards.extend(guards),
            _ => diags.error_at(attr, "`#[guard(..)]` takes guard types: `#[guard(AuthGuard)]`, `#[guard(AuthGuard, RolesGuard)]`"),
        },
        "public" => {
            if !args(attr).is_empty() {
                diags.error_at(attr, "`#[public]` takes no arguments");
            }
            edge.metadata.push(Meta::Public);
        }
        "roles" => match attrs::strings(attr) {
            Ok(roles) if !roles.is_empty() => edge.metadata.push(Meta::Roles(roles)),
            _ => diags.error_at(attr, "`#[roles(..)]` takes role names: `#[roles(\"admin\")]`, `#[roles(\"admin\", \"ops\")]`"),
        },
        "skip_throttle" => {
            let tokens = args(attr);
            if tokens.is_empty() {
                edge.metadata.push(Meta::SkipThrottle(true));
            } else {
                match syn::parse2::<syn::LitBool>(tokens) {
                    Ok(b) => edge.metadata.push(Meta::SkipThrottle(b.value)),
                    Err(_) => diags.error_at(attr, "`#[skip_throttle]` takes nothing, or `false` to undo a controller's `#[skip_throttle]`"),
                }
            }
        }
        "throttle" => {
            if let Some((limit, ttl, block)) = throttle(attr, diags) {
                edge.metadata.push(Meta::Throttle { limit, ttl, block });
            }
        }
        "set_metadata" => edge.metadata.extend(set_metadata(attr, diags)),
        "apply_decorators" => {
            match Punctuated::<syn::Path, Token![,]>::parse_terminated.parse2(args(attr)) {
                Ok(list) if !list.is_empty() => {
                    edge.metadata.extend(list.into_iter().map(Meta::Decorator))
                }
                _ => diags.error_at(attr, "`#[apply_decorators(..)]` takes decorator types: `#[apply_decorators(AdminOnly)]`"),
            }
        }
        "cache_ttl" => {
            const USAGE: &str = "`#[cache_ttl(..)]` takes how long an answer stays cached: `\"30s\"` (ms, s, m or h) or a number of ms, as Nest's `@CacheTTL(30000)`; `0` never expires";
            match syn::parse2::<Lit>(args(attr)).ok().as_ref().and_then(duration_ms) {
                Some(ms) if ms >= 0 => edge.metadata.push(Meta::CacheTtl(ms)),
                _ => diags.error_at(attr, USAGE),
            }
        }
        "cache_key" => match syn::parse2::<syn::LitStr>(args(attr)) {
            Ok(key) if !key.value().is_empty() => edge.metadata.push(Meta::CacheKey(key)),
            _ => diags.error_at(attr, "`#[cache_key(..)]` takes the key the answer is cached under: `#[cache_key(\"all_users\")]` (Nest's `@CacheKey`)"),
        },
        "version" => edge.versions.extend(versions(attr, diags)),
        "use_interceptors" => edge.interceptors.extend(components(attr, name, diags)),
        "use_filters" => edge.filters.extend(components(attr, name, diags)),
        "api_tags" | "api_operation" | "api_response" | "api_body" | "api_bearer_auth"
        | "api_exclude_endpoint" => super::api::take(&mut edge.api, name, attr, diags),
        _ => unreachable!("listed in EDGE_ATTRS"),
    }
    true
}

/// `#[version("1", "2", neutral)]`: version strings, and `neutral` (or `VERSION_NEUTRAL`).
fn versions(attr: &Attribute, diags: &mut Diagnostics) -> Vec<Option<String>> {
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args(attr));
    let mut out = Vec::new();
    for item in parsed.iter().flatten() {
        match item {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) if !s.value().is_empty() && !s.value().contains('/') => out.push(Some(s.value())),
            Expr::Path(p)
                if p.path.is_ident("neutral")
                    || p.path.segments.last().is_some_and(|s| s.ident == "VERSION_NEUTRAL") =>
            {
                out.push(None)
            }
            other => diags.error_at(other, "a version is a string without `/` (`\"1\"`) or `neutral`: `#[version(\"1\")]`, `#[version(\"1\", \"2\")]`, `#[version(neutral)]`"),
        }
    }
    if parsed.as_ref().is_ok_and(|list| list.is_empty()) {
        diags.error_at(attr, "`#[version(..)]` takes the versions served: `#[version(\"1\")]`, `#[version(\"1\", \"2\")]`, `#[version(neutral)]`");
    }
    if let Err(error) = parsed {
        diags.push(error);
    }
    out
}

/// `#[use_interceptors(A, B::new())]`: a type is resolved by DI, any other expression is an
/// instance.
fn components(attr: &Attribute, name: &str, diags: &mut Diagnostics) -> Vec<Component> {
    match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args(attr)) {
        Ok(list) if !list.is_empty() => list
            .into_iter()
            .map(|e| match e {
                Expr::Path(p) if p.qself.is_none() => Component::Di(p.path),
                other => Component::Value(other),
            })
            .collect(),
        _ => {
            let (what, kind) = if name == "use_filters" {
                ("filter", "Filter")
            } else {
                ("interceptor", "Interceptor")
            };
            diags.error_at(attr, format!("`#[{name}(..)]` takes {what}s: a type (built by DI) or an expression (an instance), e.g. `#[{name}(Audit{kind}, Timeout{kind}::new(..))]`"));
            Vec::new()
        }
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
fn set_metadata(attr: &Attribute, diags: &mut Diagnostics) -> Option<Meta> {
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
        }) => MetaKey::Str(s.clone()),
        Expr::Path(p) => MetaKey::Const(p.clone()),
        other => {
            diags.error_at(other, "the key is a string or a `const` holding one");
            return None;
        }
    };
    let value = meta_value(&list[1], diags)?;
    Some(Meta::Set { key, value })
}

const NOT_A_VALUE: &str = "metadata values are strings, integers (i64), booleans, or lists of them";

fn meta_value(expr: &Expr, diags: &mut Diagnostics) -> Option<MetaLit> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) => Some(MetaLit::Str(s.clone())),
            Lit::Bool(b) => Some(MetaLit::Bool(b.value)),
            Lit::Int(n) if n.base10_parse::<i64>().is_ok() => {
                n.base10_parse().ok().map(MetaLit::Int)
            }
            _ => {
                diags.error_at(lit, NOT_A_VALUE);
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
            }) => n.base10_parse::<i64>().ok().map(|n| MetaLit::Int(-n)),
            _ => {
                diags.error_at(expr, NOT_A_VALUE);
                None
            }
        },
        Expr::Array(array) => {
            let items: Option<Vec<MetaLit>> =
                array.elems.iter().map(|e| meta_value(e, diags)).collect();
            items.map(MetaLit::List)
        }
        other => {
            diags.error_at(other, "metadata values are literals known at compile time: strings, integers, booleans, or lists of them");
            None
        }
    }
}
