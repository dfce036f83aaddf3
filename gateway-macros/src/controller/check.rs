//! Check: what parsing cannot see one method at a time. Every `:name` of a path is taken by
//! an argument and every `#[param]` names a segment; one body per route; no two routes of the
//! controller that axum could not tell apart.

use super::model::{Controller, Route, Source};
use crate::diag::Diagnostics;

pub fn controller(controller: &Controller, diags: &mut Diagnostics) {
    for route in &controller.routes {
        arguments(route, diags);
    }
    collisions(&controller.routes, &controller.edge.versions, diags);
}

/// A route's arguments against its path. (A malformed path was reported already; checking
/// arguments against it would only add noise.)
fn arguments(route: &Route, diags: &mut Diagnostics) {
    let path = &route.path;
    if route.path_ok {
        for name in &path.params {
            let taken = route
                .args
                .iter()
                .any(|a| matches!(&a.source, Source::Param(p) if p == name));
            if !taken {
                diags.error(route.path_span, format!(
                    "the path has `:{name}` but no argument takes it: add `#[param] {name}: String` (any type that parses from a string works, e.g. `u64`)"
                ));
            }
        }
    }
    let mut bodies = 0;
    let mut raw = 0;
    let mut fields: Vec<&str> = Vec::new();
    for arg in &route.args {
        match &arg.source {
            Source::Param(name) if route.path_ok && !path.params.contains(name) => diags.error_at(&arg.at, format!(
                "`#[param]` `{name}` has no `:{name}` in the path \"{}\": add the segment or fix the name",
                path.nest
            )),
            Source::Body => {
                bodies += 1;
                if bodies > 1 {
                    diags.error_at(&arg.at, "a route has one body: take it as one `#[body]` struct with every field");
                }
            }
            Source::RawBody => {
                raw += 1;
                if raw > 1 {
                    diags.error_at(&arg.at, "a route has one raw body: take it once, as `#[raw_body] raw: Bytes`");
                }
            }
            Source::Upload(upload) => {
                if fields.contains(&upload.field.as_str()) {
                    diags.error_at(&arg.at, format!("the form field \"{}\" is taken twice: one argument per field", upload.field));
                }
                fields.push(&upload.field);
            }
            _ => {}
        }
    }
    if !fields.is_empty() {
        if let Some(arg) = route
            .args
            .iter()
            .find(|a| matches!(a.source, Source::RawBody))
        {
            diags.error_at(&arg.at, "a route with uploaded files reads its body as a multipart form: it has no `#[raw_body]`");
        }
    }
}

/// Two routes that both name versions and share none: versioning tells them apart.
fn versions_apart(a: &[Option<String>], b: &[Option<String>]) -> bool {
    !a.is_empty() && !b.is_empty() && !a.iter().any(|v| b.contains(v))
}

/// Two routes of one controller that axum could not tell apart.
fn collisions(routes: &[Route], class_versions: &[Option<String>], diags: &mut Diagnostics) {
    let versions = |r: &Route| -> Vec<Option<String>> {
        if r.edge.versions.is_empty() {
            class_versions.to_vec()
        } else {
            r.edge.versions.clone()
        }
    };
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
            } else if (earlier.method == later.method
                || earlier.method.name == "ALL"
                || later.method.name == "ALL")
                && !versions_apart(&versions(earlier), &versions(later))
            {
                (
                    format!(
                        "duplicate route: {} {} is already served by `{}`",
                        later.method.name, later.path.nest, earlier.handler
                    ),
                    "first defined here",
                )
            } else {
                continue;
            };
            let mut error = syn::Error::new_spanned(&later.attr, message);
            error.combine(syn::Error::new_spanned(&earlier.attr, note));
            diags.push(error);
        }
    }
}
