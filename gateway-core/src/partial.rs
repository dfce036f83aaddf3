//! Partial answers for aggregating routes: run several downstream calls in parallel, each
//! with its own deadline, and answer with what succeeded plus a list of what did not, instead
//! of failing the whole response (KrakenD's `x-krakend-completed`).
//!
//! ```no_run
//! use std::time::Duration;
//! use gateway_core::partial::{self, Partial};
//! use gateway_core::prelude::*;
//! use serde_json::{json, Value};
//!
//! async fn profile(users: &ClientProxy, orders: &ClientProxy, id: u64) -> Result<Partial<Value>, HttpException> {
//!     let budget = Duration::from_millis(300);
//!     let (user, recent) = tokio::join!(
//!         partial::within("user", budget, users.send::<Value>(&pattern!({ cmd: "get_user" }), &json!({ "id": id }))),
//!         partial::within("orders", budget, orders.send::<Value>(&pattern!({ cmd: "get_orders" }), &json!({ "userId": id }))),
//!     );
//!     let user = user.map_err(|d| d.error)?; // the user is required: fail as usual
//!     Ok(Partial::new(json!({ "user": user, "orders": recent.as_ref().ok() })).missing([recent.err()]))
//! }
//! ```

use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::client::RpcError;
use crate::http::{nest_response, HttpException};

/// The header telling whether every part of the answer came: `true` or `false`.
pub const COMPLETED_HEADER: HeaderName = HeaderName::from_static("x-gateway-completed");

/// A part that did not come: its name and why.
#[derive(Debug)]
pub struct Degraded {
    /// The part's name, as listed in `degraded`.
    pub name: &'static str,
    /// What went wrong (a `Timeout` when the part's deadline passed).
    pub error: RpcError,
}

/// Runs `call` with its own deadline: its value, or a [`Degraded`] naming the part. The
/// deadline cancels the call (its pending entry is dropped) without touching the others.
pub async fn within<T>(
    name: &'static str,
    deadline: Duration,
    call: impl Future<Output = Result<T, RpcError>>,
) -> Result<T, Degraded> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => {
            tracing::warn!(target: "gateway::partial", part = name, %error, "part degraded");
            Err(Degraded { name, error })
        }
        Err(_) => {
            tracing::warn!(target: "gateway::partial", part = name, deadline_ms = deadline.as_millis() as u64, "part degraded: deadline");
            Err(Degraded {
                name,
                error: RpcError::Timeout {
                    service: name.into(),
                    pattern: String::new(),
                    timeout: deadline,
                },
            })
        }
    }
}

impl From<Degraded> for HttpException {
    fn from(degraded: Degraded) -> Self {
        degraded.error.into()
    }
}

/// An answer that may lack parts: the body (a JSON object) with a `degraded` list of the
/// missing parts' names added when any is missing, and `x-gateway-completed: true|false`.
#[derive(Debug)]
pub struct Partial<T> {
    body: T,
    missing: Vec<&'static str>,
}

impl<T: Serialize> Partial<T> {
    /// A complete answer, so far.
    pub fn new(body: T) -> Self {
        Partial {
            body,
            missing: Vec::new(),
        }
    }

    /// Records the parts that did not come (`None`s are skipped, so pass `result.err()`).
    pub fn missing(mut self, parts: impl IntoIterator<Item = Option<Degraded>>) -> Self {
        self.missing
            .extend(parts.into_iter().flatten().map(|d| d.name));
        self
    }

    /// Whether every part came.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

impl<T: Serialize> IntoResponse for Partial<T> {
    fn into_response(self) -> Response {
        let complete = self.missing.is_empty();
        let mut response = if complete {
            nest_response(axum::http::StatusCode::OK, &self.body)
        } else {
            let mut body = match serde_json::to_value(&self.body) {
                Ok(Value::Object(map)) => map,
                Ok(other) => {
                    let mut map = serde_json::Map::new();
                    map.insert("data".into(), other);
                    map
                }
                Err(_) => return HttpException::internal().into_response(),
            };
            body.insert("degraded".into(), Value::from(self.missing));
            nest_response(axum::http::StatusCode::OK, &Value::Object(body))
        };
        response.headers_mut().insert(
            COMPLETED_HEADER,
            HeaderValue::from_static(if complete { "true" } else { "false" }),
        );
        response
    }
}
