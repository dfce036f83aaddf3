//! A handler's value on its way through interceptors: kept as a value, serialized once after
//! the last interceptor, so an interceptor can map it as Nest's `next.handle().pipe(map(..))`
//! does. Only routes with interceptors keep it; the others serialize it at once.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

#[cfg(test)]
use super::nest_response;
use super::HttpException;

/// Set on a request whose route has interceptors: its handler's value is kept for them.
#[derive(Clone, Copy)]
pub(crate) struct KeepValue;

/// Whether the handler's value is kept for interceptors (the route has some).
pub(crate) fn keeps_value(parts: &Parts) -> bool {
    parts.extensions.get::<KeepValue>().is_some()
}

/// The value slot a kept response carries, shared with its body.
#[derive(Clone)]
struct Kept(Arc<Mutex<Option<Value>>>);

impl Kept {
    fn take(&self) -> Option<Value> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, value: Value) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}

/// A response carrying `value` as if the route's handler had returned it: for an interceptor
/// that answers in the handler's place (Nest's `return of(value)`). Interceptors around it can
/// map it ([`HandlerValue::map_value`]), and it is sent as Nest sends a value; `status` is
/// usually [`default_status`](super::default_status)`(ctx.method())`.
pub fn value_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    kept_response(status, value)
}

/// A response for `value` that keeps it as a value for the route's interceptors. Its body,
/// if an interceptor reads it, is the value sent as [`nest_response`](super::nest_response)
/// sends it.
pub(crate) fn kept_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let value = match serde_json::to_value(value) {
        Ok(value) => value,
        Err(error) => {
            tracing::error!(%error, "a route's result could not be serialized");
            return HttpException::internal().into_response();
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    set_content_type(&mut response, &value);
    let kept = Kept(Arc::new(Mutex::new(Some(value))));
    *response.body_mut() = Body::new(LazyBody(Some(kept.clone())));
    response.extensions_mut().insert(kept);
    response
}

/// After the last interceptor: a value still kept is serialized into the body, with its
/// length, as if no interceptor had been there.
pub(crate) fn finish(mut response: Response) -> Response {
    let Some(kept) = response.extensions_mut().remove::<Kept>() else {
        return response;
    };
    let Some(value) = kept.take() else {
        return response; // an interceptor read the body: it is what it read
    };
    let (mut parts, _) = response.into_parts();
    let body = body_of(&value);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The handler's value on a response, as interceptors see it. Nest's
/// `next.handle().pipe(map(data => ..))`: the value before it is serialized.
///
/// A route's handler value is kept only on routes that have interceptors, and only when it is
/// a serializable value (not an axum response, a redirect, a stream or an error): for the
/// rest, [`value`](Self::value) is `None` and [`map_value`](Self::map_value) leaves the
/// response as it is.
///
/// ```
/// use gateway_core::http::{CallContext, HandlerValue, NestInterceptor, Next};
/// use gateway_core::axum::response::Response;
/// use serde_json::json;
///
/// /// Nest docs' `TransformInterceptor`: `map(data => ({ data }))`.
/// struct Wrap;
///
/// impl NestInterceptor for Wrap {
///     async fn intercept(&self, _ctx: &CallContext, next: Next) -> Response {
///         next.handle().await.map_value(|data| json!({ "data": data }))
///     }
/// }
/// ```
pub trait HandlerValue: Sized {
    /// The handler's value, when it is kept for interceptors.
    fn value(&self) -> Option<Value>;

    /// Replaces the handler's value with `f(value)`; the response's content type follows the
    /// new value (an object is JSON, a string text, `null` nothing), as Nest's would.
    fn map_value(self, f: impl FnOnce(Value) -> Value) -> Self;
}

impl HandlerValue for Response {
    fn value(&self) -> Option<Value> {
        let kept = self.extensions().get::<Kept>()?;
        let guard = kept.0.lock().unwrap_or_else(PoisonError::into_inner);
        guard.clone()
    }

    fn map_value(mut self, f: impl FnOnce(Value) -> Value) -> Self {
        let Some(kept) = self.extensions().get::<Kept>().cloned() else {
            return self;
        };
        let Some(value) = kept.take() else {
            return self;
        };
        let value = f(value);
        set_content_type(&mut self, &value);
        kept.put(value);
        self
    }
}

/// Express's content type for a value (see [`nest_response`](super::nest_response)).
fn set_content_type(response: &mut Response, value: &Value) {
    let headers = response.headers_mut();
    match value {
        Value::Object(_) | Value::Array(_) => headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        ),
        Value::Null => headers.remove(header::CONTENT_TYPE),
        _ => headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
    };
}

/// The body Express sends for a value: JSON, a string unquoted, `null` nothing.
fn body_of(value: &Value) -> Bytes {
    match value {
        Value::Null => Bytes::new(),
        Value::String(text) => Bytes::from(text.clone().into_bytes()),
        other => Bytes::from(serde_json::to_vec(other).expect("a Value serializes")),
    }
}

/// The body of a kept response, for an interceptor that reads it: the value, serialized when
/// first polled.
struct LazyBody(Option<Kept>);

impl http_body::Body for LazyBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let frame = self
            .0
            .take()
            .and_then(|kept| kept.take())
            .map(|value| body_of(&value))
            .filter(|bytes| !bytes.is_empty())
            .map(|bytes| Ok(http_body::Frame::data(bytes)));
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::respond::tests::parts as text;
    use serde_json::json;

    #[tokio::test]
    async fn a_kept_value_is_sent_as_nest_sends_it() {
        for value in [
            json!({"id": "42", "a": [1]}),
            json!("ok"),
            json!(3),
            json!(null),
        ] {
            let kept = finish(kept_response(StatusCode::CREATED, &value));
            let direct = nest_response(StatusCode::CREATED, &value);
            assert_eq!(text(kept).await, text(direct).await, "{value}");
        }
    }

    #[tokio::test]
    async fn a_mapped_value_changes_body_and_type() {
        let response =
            kept_response(StatusCode::OK, "hello").map_value(|data| json!({ "data": data }));
        assert_eq!(response.value(), Some(json!({"data": "hello"})));
        let (status, content_type, body) = text(finish(response)).await;
        assert_eq!(status, 200);
        assert_eq!(
            content_type.as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(body, r#"{"data":"hello"}"#);
    }

    #[tokio::test]
    async fn an_interceptor_reading_the_body_reads_the_value() {
        let response = kept_response(StatusCode::OK, &json!({"b": 1, "a": 2}));
        let (_, _, body) = text(response).await;
        assert_eq!(body, r#"{"b":1,"a":2}"#, "key order kept");
    }

    #[tokio::test]
    async fn responses_without_a_kept_value_are_left_alone() {
        let response = (StatusCode::ACCEPTED, "plain").into_response();
        let response = finish(response.map_value(|_| json!(1)));
        assert_eq!(
            text(response).await,
            (
                202,
                Some("text/plain; charset=utf-8".into()),
                "plain".into()
            )
        );
    }
}
