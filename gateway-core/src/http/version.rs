//! Versioning, as Nest's `app.enableVersioning(..)`: `#[version("1")]` on a controller or a
//! route, `VERSION_NEUTRAL`, and the four ways a request names its version (URI, a header,
//! the `Accept` media type, or a function of the request). The rules are those of Nest's
//! Express adapter (`applyVersionFilter`) and its route path factory.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::request::Parts;

/// A version a route serves: `#[version("1")]`, or `#[version(neutral)]` (Nest's
/// `VERSION_NEUTRAL`: the route answers requests that name no version).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `VERSION_NEUTRAL`.
    Neutral,
    /// A version, as written (`"1"`, `"2024-01"`).
    Is(Cow<'static, str>),
}

/// Nest's `VERSION_NEUTRAL`.
pub const VERSION_NEUTRAL: ApiVersion = ApiVersion::Neutral;

impl From<&'static str> for ApiVersion {
    fn from(version: &'static str) -> Self {
        ApiVersion::Is(Cow::Borrowed(version))
    }
}

/// A custom version extractor: the versions a request names.
pub type Extractor = Arc<dyn Fn(&Parts) -> Vec<String> + Send + Sync>;

/// How a request names its version: Nest's `VersioningType`.
#[derive(Clone)]
pub enum VersioningType {
    /// `/v1/users` (`prefix` is `v` by default; `None` for no prefix: `/1/users`).
    Uri {
        /// The text before the version in the path segment.
        prefix: Option<String>,
    },
    /// A request header, e.g. `Custom-Header: 1`.
    Header(String),
    /// A parameter of `Accept`, e.g. `Accept: application/json;v=2` with the key `v=`.
    MediaType(String),
    /// A function of the request head: the versions it names, best first.
    Custom(Extractor),
}

impl std::fmt::Debug for VersioningType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersioningType::Uri { prefix } => {
                f.debug_struct("Uri").field("prefix", prefix).finish()
            }
            VersioningType::Header(h) => f.debug_tuple("Header").field(h).finish(),
            VersioningType::MediaType(k) => f.debug_tuple("MediaType").field(k).finish(),
            VersioningType::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Nest's `VersioningOptions`: what [`NestApplication::enable_versioning`](crate::app::NestApplication::enable_versioning) takes.
#[derive(Debug, Clone)]
pub struct VersioningOptions {
    kind: VersioningType,
    default_version: Vec<ApiVersion>,
}

impl VersioningOptions {
    /// `{ type: VersioningType.URI }`: `/v1/users`.
    pub fn uri() -> Self {
        Self::of(VersioningType::Uri {
            prefix: Some("v".to_owned()),
        })
    }

    /// `{ type: VersioningType.URI, prefix }`: `prefix` before the version (`None`: Nest's
    /// `prefix: false`).
    pub fn uri_with_prefix(prefix: Option<&str>) -> Self {
        Self::of(VersioningType::Uri {
            prefix: prefix.map(str::to_owned),
        })
    }

    /// `{ type: VersioningType.HEADER, header }`.
    pub fn header(name: &str) -> Self {
        Self::of(VersioningType::Header(name.to_ascii_lowercase()))
    }

    /// `{ type: VersioningType.MEDIA_TYPE, key }`: the version from `Accept`'s parameter
    /// after `key` (`v=` in `application/json;v=2`).
    pub fn media_type(key: &str) -> Self {
        Self::of(VersioningType::MediaType(key.to_owned()))
    }

    /// `{ type: VersioningType.CUSTOM, extractor }`: `extractor` gives the versions the
    /// request names; a route serves it when it serves one of them.
    pub fn custom(extractor: impl Fn(&Parts) -> Vec<String> + Send + Sync + 'static) -> Self {
        Self::of(VersioningType::Custom(Arc::new(extractor)))
    }

    fn of(kind: VersioningType) -> Self {
        VersioningOptions {
            kind,
            default_version: Vec::new(),
        }
    }

    /// `defaultVersion`: the versions of controllers and routes that declare none.
    pub fn default_version<V: Into<ApiVersion>>(
        mut self,
        versions: impl IntoIterator<Item = V>,
    ) -> Self {
        self.default_version = versions.into_iter().map(Into::into).collect();
        self
    }

    /// The paths a route at `path` is served at under URI versioning (`/v1/users`, or as is
    /// when version-neutral); other kinds keep the path.
    #[cfg(feature = "openapi")]
    pub(crate) fn uri_paths(
        &self,
        path: &str,
        route: &[ApiVersion],
        class: &[ApiVersion],
    ) -> Vec<String> {
        let VersioningType::Uri { prefix } = &self.kind else {
            return vec![path.to_owned()];
        };
        let versions = self.effective(route, class);
        if versions.is_empty() {
            return vec![path.to_owned()];
        }
        versions
            .iter()
            .map(|version| match version {
                ApiVersion::Neutral => path.to_owned(),
                ApiVersion::Is(v) => {
                    format!("/{}{v}{path}", prefix.as_deref().unwrap_or_default())
                }
            })
            .collect()
    }

    /// The versions a route serves: its own, else its controller's, else the default.
    pub(crate) fn effective<'a>(
        &'a self,
        route: &'a [ApiVersion],
        class: &'a [ApiVersion],
    ) -> &'a [ApiVersion] {
        if !route.is_empty() {
            route
        } else if !class.is_empty() {
            class
        } else {
            &self.default_version
        }
    }

    /// The versions `parts` names (none, one, or a custom extractor's list), and for URI
    /// versioning the path without its version segment. `known` are the versions some
    /// route serves: a first segment is a version only if it names one of them.
    pub(crate) fn requested(
        &self,
        parts: &Parts,
        known: &[String],
    ) -> (Vec<String>, Option<String>) {
        match &self.kind {
            VersioningType::Uri { prefix } => {
                let path = parts.uri.path();
                let mut segments = path.splitn(3, '/').skip(1);
                let first = segments.next().unwrap_or_default();
                let version = first.strip_prefix(prefix.as_deref().unwrap_or_default());
                match version.filter(|v| known.iter().any(|k| k == v)) {
                    Some(version) => {
                        let rest = segments.next().map_or("/".to_owned(), |r| format!("/{r}"));
                        (vec![version.to_owned()], Some(rest))
                    }
                    None => (Vec::new(), None),
                }
            }
            VersioningType::Header(name) => (
                parts
                    .headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .into_iter()
                    .collect(),
                None,
            ),
            VersioningType::MediaType(key) => {
                let accept = parts
                    .headers
                    .get(axum::http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                // Nest: `accept.split(';')[1].split(key)[1]`.
                let version = accept
                    .and_then(|a| a.split(';').nth(1))
                    .and_then(|p| p.split(key.as_str()).nth(1))
                    .map(str::to_owned);
                (version.into_iter().collect(), None)
            }
            VersioningType::Custom(extract) => (extract(parts), None),
        }
    }

    /// Whether a route serving `versions` answers a request naming `requested`: Nest's
    /// version filter (URI versioning by the path it registers).
    pub(crate) fn accepts(&self, versions: &[ApiVersion], requested: &[String]) -> bool {
        let serves = |v: &str| {
            versions
                .iter()
                .any(|s| matches!(s, ApiVersion::Is(x) if x == v))
        };
        let neutral = versions.contains(&ApiVersion::Neutral);
        match &self.kind {
            // A route without a version is registered at its plain path.
            VersioningType::Uri { .. } if versions.is_empty() => requested.is_empty(),
            VersioningType::Uri { .. } => match requested.first() {
                None => neutral,
                Some(v) => serves(v),
            },
            // Header, media type, custom: a route without a version is not filtered, and a
            // neutral-only one answers every request.
            _ if versions.is_empty() || versions == [ApiVersion::Neutral] => true,
            VersioningType::Custom(_) => requested.iter().any(|v| serves(v)),
            _ => match requested.first() {
                None => neutral,
                Some(v) => serves(v),
            },
        }
    }
}

/// Reads each request's version before the routes see it (and, for URI versioning, takes the
/// version segment off the path); `known` are the versions the routes serve.
pub(crate) fn apply(
    router: axum::Router,
    options: Arc<VersioningOptions>,
    known: Vec<String>,
) -> axum::Router {
    let state = Arc::new((options, known));
    axum::Router::new()
        .fallback_service(router)
        .layer(axum::middleware::from_fn_with_state(state, read_version))
}

async fn read_version(
    axum::extract::State(state): axum::extract::State<Arc<(Arc<VersioningOptions>, Vec<String>)>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut request = request;
    let (requested, rest) = {
        let (parts, body) = request.into_parts();
        let read = state.0.requested(&parts, &state.1);
        request = axum::extract::Request::from_parts(parts, body);
        read
    };
    if let Some(rest) = rest {
        super::route_by(&mut request, &rest);
    }
    request.extensions_mut().insert(RequestedVersion(requested));
    next.run(request).await
}

/// The versions a request named, as the versioning layer read them (none: an empty list).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestedVersion(pub Vec<String>);

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&'static str]) -> Vec<ApiVersion> {
        list.iter()
            .map(|s| {
                if *s == "N" {
                    VERSION_NEUTRAL
                } else {
                    ApiVersion::from(*s)
                }
            })
            .collect()
    }

    fn req(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_are_nests() {
        let uri = VersioningOptions::uri();
        assert!(uri.accepts(&v(&["1"]), &req(&["1"])));
        assert!(!uri.accepts(&v(&["1"]), &req(&[])));
        assert!(uri.accepts(&v(&["N"]), &req(&[])));
        assert!(!uri.accepts(&v(&["N"]), &req(&["1"])));
        assert!(uri.accepts(&v(&[]), &req(&[])));
        assert!(!uri.accepts(&v(&[]), &req(&["2"])));
        let header = VersioningOptions::header("X-Version");
        assert!(header.accepts(&v(&["1", "2"]), &req(&["2"])));
        assert!(!header.accepts(&v(&["1"]), &req(&[])));
        assert!(header.accepts(&v(&["1", "N"]), &req(&[])));
        assert!(header.accepts(&v(&["N"]), &req(&["7"])));
        assert!(header.accepts(&v(&[]), &req(&["7"])));
        let custom = VersioningOptions::custom(|_| Vec::new());
        assert!(custom.accepts(&v(&["2"]), &req(&["3", "2"])));
        assert!(!custom.accepts(&v(&["2"]), &req(&["3"])));
    }
}
