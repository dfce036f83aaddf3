//! Server-sent events, as Nest's `@Sse()` writes them (`SseStream`): a route marked
//! `#[sse("path")]` returns a `Stream` of [`MessageEvent`]s, each written as `event:`, `id:`,
//! `retry:`, comment and `data:` lines; events without an id are numbered from 1; an error
//! item is written as an `event: error` message and ends the stream, as Nest ends it.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::HttpException;

/// One event: Nest's `MessageEvent` (`{ data, id, type, retry }`, and a comment).
///
/// ```
/// use gateway_core::http::MessageEvent;
/// use serde_json::json;
///
/// let tick = MessageEvent::new(json!({ "n": 1 }));        // data: {"n":1}
/// let note = MessageEvent::new("hello").event("note");    // event: note / data: hello
/// let named = MessageEvent::new("x").id("42").retry(5000);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageEvent {
    data: Option<Value>,
    id: Option<String>,
    event: Option<String>,
    retry: Option<u64>,
    comment: Option<String>,
}

impl MessageEvent {
    /// An event carrying `data`: a string is written as is, anything else as JSON.
    pub fn new(data: impl Serialize) -> Self {
        MessageEvent {
            data: Some(serde_json::to_value(data).unwrap_or(Value::Null)),
            ..Self::default()
        }
    }

    /// A comment only (`: text`), which clients ignore: a keep-alive.
    pub fn comment(text: impl Into<String>) -> Self {
        MessageEvent {
            comment: Some(text.into()),
            ..Self::default()
        }
    }

    /// `id`: otherwise events are numbered 1, 2, ... as Nest numbers them.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// `type`: the event's name (`event:` line).
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// `retry`: the client's reconnection delay, in milliseconds.
    pub fn retry(mut self, millis: u64) -> Self {
        self.retry = Some(millis);
        self
    }

    fn is_comment_only(&self) -> bool {
        self.comment.is_some()
            && self.data.is_none()
            && self.event.is_none()
            && self.retry.is_none()
    }

    /// The event's text, as Nest's `SseStream` writes it.
    fn write(&self, out: &mut String) {
        let clean = |text: &str| text.replace(['\r', '\n'], "");
        let lines = |out: &mut String, text: &str, prefix: &str| {
            for line in text.split("\r\n").flat_map(|l| l.split(['\r', '\n'])) {
                out.push_str(prefix);
                out.push_str(line);
                out.push('\n');
            }
        };
        if let Some(event) = &self.event {
            out.push_str(&format!("event: {}\n", clean(event)));
        }
        if let Some(id) = &self.id {
            out.push_str(&format!("id: {}\n", clean(id)));
        }
        if let Some(retry) = self.retry {
            out.push_str(&format!("retry: {retry}\n"));
        }
        if let Some(comment) = &self.comment {
            lines(out, comment, ": ");
        }
        match &self.data {
            Some(Value::String(text)) => lines(out, text, "data: "),
            Some(Value::Null) | None => {}
            Some(other) => lines(out, &other.to_string(), "data: "),
        }
        out.push('\n');
    }
}

/// What an `#[sse]` route's stream yields: a [`MessageEvent`], or a `Result` whose `Err`
/// (anything that converts into an [`HttpException`]) ends the stream with an `error` event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a server-sent event",
    label = "an `#[sse]` route returns a `Stream` of `MessageEvent` (or `Result<MessageEvent, E>`)",
    note = "`#[sse(\"events\")] async fn events(&self) -> impl Stream<Item = MessageEvent> + Send + 'static`"
)]
pub trait SseItem {
    /// The event, or the error that ends the stream.
    fn into_event(self) -> Result<MessageEvent, HttpException>;
}

impl SseItem for MessageEvent {
    fn into_event(self) -> Result<MessageEvent, HttpException> {
        Ok(self)
    }
}

impl<E: Into<HttpException>> SseItem for Result<MessageEvent, E> {
    fn into_event(self) -> Result<MessageEvent, HttpException> {
        self.map_err(Into::into)
    }
}

/// The response of an `#[sse]` route: Nest's headers, a blank line, then the events.
pub fn sse_response<S>(events: S) -> Response
where
    S: Stream + Send + 'static,
    S::Item: SseItem,
{
    let mut last_id: u64 = 0;
    let mut ended = false;
    let body = events
        .map(move |item| {
            let mut event = match item.into_event() {
                Ok(event) => event,
                Err(error) => {
                    ended = true;
                    tracing::error!(%error, "server-sent events ended by an error");
                    MessageEvent::new(error_message(&error)).event("error")
                }
            };
            if event.id.is_none() && !event.is_comment_only() {
                last_id += 1;
                event.id = Some(last_id.to_string());
            }
            let mut text = String::new();
            event.write(&mut text);
            (text, ended)
        })
        .scan(false, |done, (text, ended)| {
            // The error event is the last one written.
            if *done {
                return std::future::ready(None);
            }
            *done = ended;
            std::future::ready(Some(text))
        })
        .map(|text| Ok::<_, std::convert::Infallible>(Bytes::from(text)));
    let body =
        futures_util::stream::once(std::future::ready(Ok(Bytes::from_static(b"\n")))).chain(body);
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CONNECTION, "keep-alive"),
        (
            header::CACHE_CONTROL,
            "private, no-cache, no-store, must-revalidate, max-age=0, no-transform",
        ),
        (header::PRAGMA, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert("expire", HeaderValue::from_static("0"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// What Nest writes for an error after the headers: an `HttpException`'s message, the status
/// text when its message is not a string.
fn error_message(error: &HttpException) -> String {
    match error.body().get("message") {
        Some(Value::String(message)) => message.clone(),
        _ => StatusCode::from_u16(error.status())
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_written_as_nests_sse_stream_writes_them() {
        let mut out = String::new();
        MessageEvent::new(serde_json::json!({ "a": 1 }))
            .id("7")
            .write(&mut out);
        MessageEvent::new("two\nlines")
            .event("no\nte")
            .retry(10)
            .write(&mut out);
        MessageEvent::comment("ping").write(&mut out);
        assert_eq!(
            out,
            "id: 7\ndata: {\"a\":1}\n\nevent: note\nretry: 10\ndata: two\ndata: lines\n\n: ping\n\n"
        );
    }
}
