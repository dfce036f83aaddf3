//! The app-wide HTTP settings and Helmet's headers.

use tower_http::cors::CorsLayer;

use crate::http::ValidationOptions;

/// The app-wide HTTP settings (Nest's `app.enableCors()`, `app.use(compression())`,
/// `app.use(helmet())`, the body parser's limit).
#[derive(Default)]
pub(super) struct Edge {
    pub cors: Option<CorsLayer>,
    #[cfg(feature = "compression")]
    pub compression: bool,
    pub security_headers: bool,
    pub body_limit: Option<usize>,
    pub request_id: bool,
    pub validation: Option<ValidationOptions>,
    pub trust_proxy: Option<u32>,
}

/// Helmet's default headers (helmet 7/8), set unless a route set its own.
pub(super) const SECURITY_HEADERS: [(&str, &str); 12] = [
    ("content-security-policy", "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];
