//! [`StreamableFile`]: Nest's `StreamableFile`, a route's answer streamed from bytes, a file
//! or any stream of chunks, with `Content-Type` (`application/octet-stream` by default),
//! `Content-Disposition` and `Content-Length` as Nest's Express adapter sets them.

use std::borrow::Cow;
use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;

/// A route's answer streamed to the client: Nest's `new StreamableFile(bufferOrStream, { type,
/// disposition, length })`. A stream that fails midway ends the connection, so a truncated
/// file never looks complete.
///
/// ```
/// use gateway_core::http::StreamableFile;
///
/// let file = StreamableFile::from_bytes("{\"name\":\"gateway\"}")
///     .content_type("application/json")
///     .disposition("attachment; filename=\"package.json\"");
/// ```
pub struct StreamableFile {
    body: Body,
    content_type: Cow<'static, str>,
    disposition: Option<String>,
    length: Option<u64>,
}

impl std::fmt::Debug for StreamableFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamableFile")
            .field("content_type", &self.content_type)
            .field("disposition", &self.disposition)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl StreamableFile {
    /// Bytes in memory (a `Buffer`): the length is known.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        StreamableFile {
            length: Some(bytes.len() as u64),
            ..Self::of(Body::from(bytes))
        }
    }

    /// Chunks as they come (a `ReadStream`): sent chunked unless [`length`](Self::length) is
    /// given.
    pub fn from_stream<S, E>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self::of(Body::from_stream(chunks))
    }

    /// A file read as it is sent (`createReadStream(path)`), with its length.
    pub async fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = tokio::fs::File::open(path).await?;
        let length = file.metadata().await?.len();
        Ok(StreamableFile {
            length: Some(length),
            ..Self::from_stream(tokio_util::io::ReaderStream::new(file))
        })
    }

    fn of(body: Body) -> Self {
        StreamableFile {
            body,
            content_type: Cow::Borrowed("application/octet-stream"),
            disposition: None,
            length: None,
        }
    }

    /// `type`: the `Content-Type`.
    pub fn content_type(mut self, content_type: impl Into<Cow<'static, str>>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// `disposition`: the `Content-Disposition` (`attachment; filename="report.pdf"`).
    pub fn disposition(mut self, disposition: impl Into<String>) -> Self {
        self.disposition = Some(disposition.into());
        self
    }

    /// `length`: the `Content-Length`.
    pub fn length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }
}

impl IntoResponse for StreamableFile {
    fn into_response(self) -> Response {
        let mut response = Response::new(self.body);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.content_type) {
            headers.insert(header::CONTENT_TYPE, value);
        }
        if let Some(value) = self
            .disposition
            .and_then(|d| HeaderValue::from_str(&d).ok())
        {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        if let Some(length) = self.length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        // Sent with the route's status (201 for a POST, `#[http_code]`'s), as Nest sends it.
        response.extensions_mut().insert(RouteStatus);
        response
    }
}

/// On a response whose status is the route's, not its own (a [`StreamableFile`]).
#[derive(Clone, Copy)]
pub(crate) struct RouteStatus;
