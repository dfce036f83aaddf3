//! `pattern!`: parse a JavaScript-style literal, validate it, normalize it.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::{Map, Number, Value};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{braced, bracketed, Ident, Lit, LitStr, Token};

use crate::diag::Diagnostics;

// The runtime's own normalization, compiled here too, so macro and runtime cannot disagree:
// `pattern/route.rs` is a symbolic link to gateway-core's file (packaged as a copy).
mod route;

/// The limits past which Nest truncates a pattern (`[MAX_DEPTH_REACHED]`, `[TOO_MANY_KEYS]`).
const MAX_DEPTH: usize = 5;
const MAX_KEYS: usize = 20;

const EXPECTED_VALUE: &str =
    "expected a pattern value: a string, a number, `true`, `false`, `null`, `{ key: value }` or `[ .. ]`";

/// A parsed literal, with the spans needed to point at mistakes.
enum Node {
    Scalar(Value),
    Object(Vec<(String, Span, Node)>, Span),
    Array(Vec<Node>, Span),
}

impl Parse for Node {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(syn::token::Brace) {
            let content;
            let brace = braced!(content in input);
            let mut entries = Vec::new();
            while !content.is_empty() {
                let (key, span) = parse_key(&content)?;
                content.parse::<Token![:]>().map_err(|e| {
                    syn::Error::new(e.span(), format!("expected `:` after the key `{key}`"))
                })?;
                let value: Node = content.parse()?;
                entries.push((key, span, value));
                if content.is_empty() {
                    break;
                }
                content.parse::<Token![,]>()?;
            }
            return Ok(Node::Object(entries, brace.span.join()));
        }
        if input.peek(syn::token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let items = content.parse_terminated(Node::parse, Token![,])?;
            return Ok(Node::Array(
                items.into_iter().collect(),
                bracket.span.join(),
            ));
        }
        if input.peek(Token![-]) {
            input.parse::<Token![-]>()?;
            return match input.parse::<Lit>()? {
                Lit::Int(i) => Ok(Node::Scalar(Value::from(-i.base10_parse::<i64>()?))),
                Lit::Float(f) => number(-f.base10_parse::<f64>()?, f.span()),
                other => Err(syn::Error::new(other.span(), "expected a number after `-`")),
            };
        }
        if input.peek(Ident) {
            let ident: Ident = input.parse()?;
            return match ident.to_string().as_str() {
                "null" => Ok(Node::Scalar(Value::Null)),
                "true" => Ok(Node::Scalar(Value::Bool(true))),
                "false" => Ok(Node::Scalar(Value::Bool(false))),
                name => Err(syn::Error::new(
                    ident.span(),
                    format!("`{name}` is not a literal: pattern values are fixed at compile time; write \"{name}\" (quoted) if it is a string"),
                )),
            };
        }
        match input.parse::<Lit>() {
            Ok(Lit::Str(s)) => Ok(Node::Scalar(Value::String(s.value()))),
            Ok(Lit::Int(i)) => Ok(Node::Scalar(Value::from(i.base10_parse::<u64>()?))),
            Ok(Lit::Float(f)) => number(f.base10_parse::<f64>()?, f.span()),
            Ok(Lit::Bool(b)) => Ok(Node::Scalar(Value::Bool(b.value))),
            Ok(other) => Err(syn::Error::new(other.span(), EXPECTED_VALUE)),
            Err(e) => Err(syn::Error::new(e.span(), EXPECTED_VALUE)),
        }
    }
}

fn number(f: f64, span: Span) -> syn::Result<Node> {
    Number::from_f64(f)
        .map(|n| Node::Scalar(Value::Number(n)))
        .ok_or_else(|| syn::Error::new(span, "a pattern number must be finite"))
}

fn parse_key(input: ParseStream) -> syn::Result<(String, Span)> {
    if input.peek(LitStr) {
        let key: LitStr = input.parse()?;
        return Ok((key.value(), key.span()));
    }
    if input.peek(syn::LitInt) {
        let key: syn::LitInt = input.parse()?;
        return Ok((key.base10_digits().to_owned(), key.span()));
    }
    let key = input.call(Ident::parse_any_ident).map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a key: a name (`cmd`), a string (`\"a-b\"`) or a number",
        )
    })?;
    let name = key.to_string();
    Ok((
        name.strip_prefix("r#").unwrap_or(&name).to_owned(),
        key.span(),
    ))
}

/// `Ident::parse_any` without pulling in `syn::ext`'s trait import at every call site.
trait AnyIdent {
    fn parse_any_ident(input: ParseStream) -> syn::Result<Ident>;
}

impl AnyIdent for Ident {
    fn parse_any_ident(input: ParseStream) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

/// Checks what Nest would silently mangle and builds the value.
fn validate(node: Node, depth: usize, diagnostics: &mut Diagnostics) -> Value {
    match node {
        Node::Scalar(value) => value,
        Node::Array(_, span) | Node::Object(_, span) if depth > MAX_DEPTH => {
            diagnostics.error(span, format!("this part of the pattern is nested more than {MAX_DEPTH} levels deep; Nest replaces it with `[MAX_DEPTH_REACHED]`, so different patterns would collide: flatten the pattern"));
            Value::Null
        }
        Node::Array(items, span) => {
            if items.len() > MAX_KEYS {
                diagnostics.error(span, format!("this array has {} items; Nest replaces anything over {MAX_KEYS} with `[TOO_MANY_KEYS]`: shorten it", items.len()));
            }
            let items = items
                .into_iter()
                .map(|n| validate(n, depth + 1, diagnostics));
            Value::Array(items.collect())
        }
        Node::Object(entries, span) => {
            if entries.len() > MAX_KEYS {
                diagnostics.error(span, format!("this object has {} keys; Nest replaces anything over {MAX_KEYS} with `[TOO_MANY_KEYS]`: use fewer keys", entries.len()));
            }
            let mut map = Map::new();
            let mut seen: Vec<(String, Span)> = Vec::new();
            for (key, key_span, value) in entries {
                if !key.is_ascii() {
                    diagnostics.error(key_span, format!("the key `{key}` is not ASCII; Nest sorts keys with ICU collation, which is reproduced for ASCII keys only: use an ASCII key"));
                }
                if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                    let mut error = syn::Error::new(
                        key_span,
                        format!("duplicate key `{key}` in the pattern: each key may appear once"),
                    );
                    error.combine(syn::Error::new(
                        *first,
                        format!("`{key}` first appears here"),
                    ));
                    diagnostics.push(error);
                }
                seen.push((key.clone(), key_span));
                let value = validate(value, depth + 1, diagnostics);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// A checked, normalized pattern: its route (the normalized string every transport routes
/// by) and, for an object pattern, its JSON as written (what requests carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternLit {
    pub route: String,
    pub raw: Option<String>,
}

impl PatternLit {
    /// The `Pattern` expression.
    pub fn expr(&self) -> TokenStream {
        let route = &self.route;
        match &self.raw {
            None => quote!(::gateway_core::pattern::Pattern::from_static(#route)),
            Some(raw) => {
                quote!(::gateway_core::pattern::Pattern::__from_static_parts(#raw, #route))
            }
        }
    }
}

/// Parses, checks and normalizes a pattern literal, or reports every mistake found.
pub fn parse(input: TokenStream, span: Span) -> Result<PatternLit, syn::Error> {
    if input.is_empty() {
        return Err(syn::Error::new(
            span,
            "expected a pattern: a string like `\"user_created\"` or an object like `{ cmd: \"get_user\" }`",
        ));
    }
    let node = Node::parse.parse2(input)?;
    let mut diagnostics = Diagnostics::default();
    let value = validate(node, 0, &mut diagnostics);
    if let Some(error) = diagnostics.into_error() {
        return Err(error);
    }
    Ok(match value {
        Value::String(route) => PatternLit { route, raw: None },
        other => PatternLit {
            route: route::route_of(&other),
            raw: Some(other.to_string()),
        },
    })
}

pub fn expand(input: TokenStream) -> TokenStream {
    match parse(input, Span::call_site()) {
        Ok(pattern) => pattern.expr(),
        Err(error) => {
            let error = error.to_compile_error();
            quote!({ #error; ::gateway_core::pattern::Pattern::from_static("") })
        }
    }
}
