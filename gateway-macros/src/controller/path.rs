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

/// Checks and converts `prefix` + `path`. The error says what to do.
pub fn parse(prefix: &str, path: &str) -> Result<RoutePath, String> {
    let mut nest = String::new();
    let mut axum = String::new();
    let mut shape = String::new();
    let mut params: Vec<String> = Vec::new();
    let mut rest: Option<&str> = None;
    for segment in segments(prefix)?.into_iter().chain(segments(path)?) {
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
    }

    #[test]
    fn rejects_malformed_paths() {
        for (path, says) in [
            ("users//x", "empty segment"),
            ("users/:", "`:` with no name"),
            ("users/:id/x/:id", "appears twice"),
            ("users/{id}", "uses `{`"),
            ("files/*", "needs a plain name"),
            ("files/*a-b", "not a plain name"),
            ("files/*path/x", "is the last segment"),
            ("files/{*path}", "uses `{`"),
            ("users/:user-id", "not a plain name"),
        ] {
            let error = parse("", path).unwrap_err();
            assert!(error.contains(says), "{path}: {error}");
        }
    }
}
