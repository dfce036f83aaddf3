//! Request ids: `x-request-id` taken from the request or made, returned, logged, and handed to
//! handlers so they can pass it downstream.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::MakeRequestId;

use super::HttpException;

/// The header carrying the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, as a route argument (`id: RequestId`): the caller's `x-request-id`, or
/// the one the gateway made (see
/// [`NestApplication::enable_request_id`](crate::app::NestApplication::enable_request_id)).
/// Put it in the payload of downstream calls to follow a request across services.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = HttpException;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| RequestId(v.to_owned()))
            .ok_or_else(|| {
                tracing::error!(
                    "a route takes a RequestId but the app does not enable_request_id()"
                );
                HttpException::internal()
            })
    }
}

/// Makes ids for requests that come without one: a per-process random prefix and a counter
/// (`5f0c1e9a2b7d4c31-000000000000002a`): unique, cheap, and sortable within a process.
#[derive(Debug, Clone)]
pub(crate) struct MakeId {
    prefix: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl MakeId {
    pub(crate) fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        MakeId {
            prefix: hasher.finish(),
        }
    }
}

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:016x}-{n:016x}", self.prefix);
        HeaderValue::from_str(&id)
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}
