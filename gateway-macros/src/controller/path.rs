//! Nest route paths (`users/:id`) checked and converted to axum's (`/users/{id}`).

/// A checked route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// Nest syntax, normalized: `/api/users/:id` (what Nest logs).
    pub nest: String,
    /// axum syntax: `/api/users/{id}`.
    pub axum: String,
    /// Parameter names, in order.
    pub params: Vec<String>,
    /// The path with every parameter replaced by `:`, to find routes that collide.
    pub shape: String,
    /// A trailing optional group (`users{/:id}`, `files{/*path}`, Nest 11's syntax): the
    /// parameter it holds, and the axum path without it (the route is mounted on both).
    pub optional: Option<(String, String)>,
}

/// Splits a prefix or path into segments: leading and trailing `/` are dropped, as Nest does.
fn segments(text: &str) -> Result<Vec<&str>, String> {
    let trimmed = text.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "the path \"{text}\" has an empty segment (`//`): remove the extra `/`"
        ));
    }
    Ok(parts)
}

/// `path` without a trailing optional group (`{/:id}`, `{/*path}`), and what the group
/// holds.
fn split_group(path: &str) -> Result<(&str, Option<&str>), String> {
    let Some(open) = path.rfind('{') else {
        return Ok((path, None));
    };
    let inner = path[open + 1..].strip_suffix('}').ok_or_else(|| {
        format!("the optional group in \"{path}\" ends the path, as Nest 11 writes it: `users{{/:id}}`, `files{{/*path}}`")
    })?;
    let inner = inner.strip_prefix('/').unwrap_or(inner);
    if inner.contains(['{', '}', '/']) || !matches!(inner.as_bytes().first(), Some(b':' | b'*')) {
        return Err(format!(
            "the optional group `{{{}}}` in \"{path}\" holds one `:name` or `*name`: `users{{/:id}}`, `files{{/*path}}`",
            &path[open + 1..path.len() - 1]
        ));
    }
    Ok((&path[..open], Some(inner)))
}

/// Checks and converts `prefix` + `path`. The error says what to do.
pub fn parse(prefix: &str, path: &str) -> Result<RoutePath, String> {
    let (main, group) = split_group(path)?;
    let mut route = parse_plain(prefix, main, path)?;
    let Some(inner) = group else {
        return Ok(route);
    };
    if route.shape.contains('*') {
        return Err(format!(
            "the wildcard in \"{path}\" takes the rest of the path: the optional group cannot follow it"
        ));
    }
    // The group's parameter, checked as any other, on the path without the group.
    let with = parse_plain(
        prefix,
        &format!("{}/{inner}", main.trim_end_matches('/')),
        path,
    )?;
    let base = route.axum.clone();
    let name = with
        .params
        .last()
        .expect("the group holds a parameter")
        .clone();
    let slash = if main.ends_with('/') { "/" } else { "" };
    let written = &path[main.len()..];
    route.nest = format!("{}{slash}{written}", route.nest.trim_end_matches('/'));
    route.axum = with.axum;
    route.params = with.params;
    route.shape = with.shape;
    route.optional = Some((name, base));
    Ok(route)
}

/// [`parse`] of a path without an optional group (`shown` is the path as written).
fn parse_plain(prefix: &str, path: &str, shown: &str) -> Result<RoutePath, String> {
    let mut nest = String::new();
    let mut axum = String::new();
    let mut shape = String::new();
    let mut params: Vec<String> = Vec::new();
    let mut rest: Option<&str> = None;
    for segment in segments(prefix)?.into_iter().chain(segments(path)?) {
        let path = shown;
        nest.push('/');
        axum.push('/');
        shape.push('/');
        if let Some(after) = rest {
            return Err(format!(
                "the wildcard `{after}` in \"{path}\" takes the rest of the path: it is the last segment"
            ));
        }
        // `:name`, or Nest 11's named wildcard `*name` (the rest of the path, one segment or
        // more).
        let parameter = match segment.as_bytes().first() {
            Some(b':') => Some((&segment[1..], false)),
            Some(b'*') => Some((&segment[1..], true)),
            _ => None,
        };
        if let Some((name, wildcard)) = parameter {
            if name.is_empty() {
                return Err(if wildcard {
                    format!("the wildcard `{segment}` in \"{path}\" needs a plain name, as Nest 11 writes it: `*path`")
                } else {
                    format!(
                        "the path \"{path}\" has a `:` with no name: write `:id`, `:userId`, ..."
                    )
                });
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "the parameter `{segment}` in \"{path}\" is not a plain name: use letters, digits and `_`"
                ));
            }
            if params.iter().any(|p| p == name) {
                return Err(format!(
                    "the parameter `{segment}` appears twice in \"{path}\": give each parameter its own name"
                ));
            }
            params.push(name.to_owned());
            nest.push_str(segment);
            if wildcard {
                axum.push_str("{*");
                shape.push('*');
                rest = Some(segment);
            } else {
                axum.push('{');
                shape.push(':');
            }
            axum.push_str(name);
            axum.push('}');
        } else {
            if let Some(bad) = segment.chars().find(|c| "{}*?()[]:+".contains(*c)) {
                return Err(format!(
                    "the path \"{path}\" uses `{bad}` in the segment \"{segment}\": only literal segments, `:name` parameters and a last `*name` wildcard are supported"
                ));
            }
            nest.push_str(segment);
            axum.push_str(segment);
            shape.push_str(segment);
        }
    }
    if nest.is_empty() {
        nest.push('/');
        axum.push('/');
        shape.push('/');
    }
    Ok(RoutePath {
        nest,
        axum,
        params,
        shape,
        optional: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_nest_paths() {
        let p = parse("api", "users/:id/orders/:orderId").unwrap();
        assert_eq!(p.nest, "/api/users/:id/orders/:orderId");
        assert_eq!(p.axum, "/api/users/{id}/orders/{orderId}");
        assert_eq!(p.params, ["id", "orderId"]);
        assert_eq!(p.shape, "/api/users/:/orders/:");
        assert_eq!(parse("", "").unwrap().axum, "/");
        assert_eq!(parse("/v1/", "/health/").unwrap().nest, "/v1/health");
        let files = parse("files", ":bucket/*path").unwrap();
        assert_eq!(files.axum, "/files/{bucket}/{*path}");
        assert_eq!(files.params, ["bucket", "path"]);
        assert_eq!(files.shape, "/files/:/*");
        let users = parse("api", "users{/:id}").unwrap();
        assert_eq!(users.nest, "/api/users{/:id}");
        assert_eq!(users.axum, "/api/users/{id}");
        assert_eq!(users.optional, Some(("id".into(), "/api/users".into())));
        let docs = parse("", "docs{/*path}").unwrap();
        assert_eq!(
            (docs.axum.as_str(), docs.params.len()),
            ("/docs/{*path}", 1)
        );
        let files = parse("", "files/{*path}").unwrap();
        assert_eq!(files.optional, Some(("path".into(), "/files".into())));
    }

    #[test]
    fn rejects_malformed_paths() {
        for (path, says) in [
            ("users//x", "empty segment"),
            ("users/:", "`:` with no name"),
            ("users/:id/x/:id", "appears twice"),
            ("files/*", "needs a plain name"),
            ("files/*a-b", "not a plain name"),
            ("files/*path/x", "is the last segment"),
            ("files/{path}", "holds one `:name` or `*name`"),
            ("users/{id}", "holds one"),
            ("files{/*path}/x", "ends the path"),
            ("files{/:a/:b}", "holds one"),
            ("files/*rest{/:id}", "cannot follow"),
            ("users/:id{/:id}", "appears twice"),
            ("users/:user-id", "not a plain name"),
        ] {
            let error = parse("", path).unwrap_err();
            assert!(error.contains(says), "{path}: {error}");
        }
    }
}
