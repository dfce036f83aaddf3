//! Attribute parsing shared by the macros: recognizing an attribute, reading its arguments,
//! and the lists of attributes a place accepts (so a message can name every one of them).

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Attribute, LitStr, Token};

/// The route attributes, with the HTTP method each serves.
pub const ROUTE_METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("all", "ALL"),
];

/// What a route argument can be taken from.
pub const ROUTE_ARG_ATTRS: [&str; 11] = [
    "param",
    "body",
    "raw_body",
    "query",
    "headers",
    "header",
    "req",
    "user",
    "context",
    "uploaded_file",
    "uploaded_files",
];

/// What a message or event handler's argument can be.
pub const HANDLER_ARG_ATTRS: [&str; 2] = ["payload", "ctx"];

/// The edge attributes: on a route, a message handler or the whole `#[controller]` block.
pub const EDGE_ATTRS: [&str; 18] = [
    "guard",
    "version",
    "set_metadata",
    "public",
    "roles",
    "throttle",
    "skip_throttle",
    "apply_decorators",
    "use_interceptors",
    "use_filters",
    "cache_ttl",
    "cache_key",
    "api_tags",
    "api_operation",
    "api_response",
    "api_body",
    "api_bearer_auth",
    "api_exclude_endpoint",
];

/// `` `#[a]`, `#[b]` or `#[c]` ``.
pub fn listing(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`#[{n}]`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

pub fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path().is_ident(name)
}

/// The first of `names` that `attr` is.
pub fn which<'a>(attr: &Attribute, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().find(|n| is_attr(attr, n))
}

/// What is inside the attribute's parentheses (nothing for `#[name]`).
pub fn args(attr: &Attribute) -> TokenStream {
    match &attr.meta {
        syn::Meta::List(list) => list.tokens.clone(),
        _ => TokenStream::new(),
    }
}

/// The optional string argument of `#[get("path")]` / `#[param("id")]`.
pub fn string_arg(attr: &Attribute) -> syn::Result<Option<LitStr>> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(None),
        _ => attr.parse_args::<LitStr>().map(Some),
    }
}

/// The comma-separated paths of `#[guard(A, B)]`.
pub fn paths(attr: &Attribute) -> syn::Result<Vec<syn::Path>> {
    attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
        .map(|list| list.into_iter().collect())
}

/// The comma-separated string literals of `#[header("name", "value")]`.
pub fn strings(attr: &Attribute) -> syn::Result<Vec<LitStr>> {
    attr.parse_args_with(Punctuated::<LitStr, Token![,]>::parse_terminated)
        .map(|list| list.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::listing;

    #[test]
    fn listings_read_as_english() {
        assert_eq!(listing(&["a"]), "`#[a]`");
        assert_eq!(listing(&["a", "b", "c"]), "`#[a]`, `#[b]` or `#[c]`");
    }
}
