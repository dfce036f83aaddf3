//! gRPC (feature `grpc`): Nest's `Transport.GRPC`, both sides, on tonic and prost.
//!
//! Nest loads its `.proto` at run time; we compile it when the crate builds
//! (`gateway_build::compile_protos` in `build.rs`, then [`include_protos!`](crate::include_protos)),
//! so every service of the proto is a module with one type per method
//! ([`GrpcMethod`]) and a typed client ([`GrpcService`]).
//!
//! - **Server**: `#[grpc_method(hero::HeroesService)]` on a controller method (Nest's
//!   `@GrpcMethod('HeroesService')`) registers it under Nest's pattern
//!   `{ service, rpc, streaming }`, so guards, interceptors and exception filters apply as on
//!   every transport; [`Transport::grpc`](crate::app::Transport::grpc) serves the router. The
//!   method name defaults to the handler's in PascalCase (`find_one` → `FindOne`), as Nest's
//!   defaults to the handler's with its first letter capitalized. A handler's payload and
//!   reply are the proto's messages; an `RpcException` with `{ "code": 5, "message": ".." }`
//!   is that gRPC status, a panic `INTERNAL`, an unknown method `UNIMPLEMENTED`. The caller's
//!   deadline (`grpc-timeout`) is honoured: a handler past it is dropped.
//! - **Client**: [`ClientGrpc`] (Nest's `ClientGrpc`) and its
//!   [`get_service`](ClientGrpc::get_service); every call has a deadline (the client's
//!   default, or per call with [`GrpcRequest::timeout`]), metadata per call, and fails with
//!   [`RpcError::Grpc`](crate::client::RpcError::Grpc) carrying the status, which a gateway answers by the gRPC → HTTP table
//!   (`NOT_FOUND` 404, `UNAVAILABLE` 503, `DEADLINE_EXCEEDED` 504, ...).
//!
//! Messages reach a handler, and a gateway's JSON, in the shape Nest's `@grpc/proto-loader`
//! gives with its default options: lowerCamelCase field names, fields at their default value
//! (`0`, `""`, `[]`, unset) left out, 64-bit integers as numbers, enums as numbers,
//! `google.protobuf.Timestamp` as `{ "seconds", "nanos" }`. Reading, a missing field is its
//! default.

mod bridge;
mod client;
pub mod health;
mod server;

use std::time::Duration;

pub use bridge::GrpcPatterns;
pub use client::{ClientGrpc, GrpcChannel, GrpcClientOptions, GrpcStream};

pub(crate) use server::{take_requests, GrpcRoute};

/// Adds `key: value` (ASCII, a lowercase key) to the metadata of the reply of the gRPC call
/// whose handler runs: Nest's `call.sendMetadata(metadata)`. Entries set before the handler's
/// reply is ready (for a stream handler, before it returns its stream) go with the response's
/// headers, or with its error status. `false` outside a gRPC handler.
pub fn set_reply_metadata(key: impl Into<String>, value: impl Into<String>) -> bool {
    server::add_reply_metadata(key.into(), value.into())
}
pub use server::{GrpcServer, GrpcServerOptions};

use crate::server::RpcException;

/// One method of a proto service, as `gateway-build` generates it
/// (`hero::HeroesService::FindOne`): its messages, names and streaming kind.
pub trait GrpcMethod: Send + Sync + 'static {
    /// The request message (one, or each of a client stream's).
    type Request: prost::Message
        + Default
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// The response message (one, or each of a server stream's).
    type Response: prost::Message
        + Default
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// The service's name without its package (`HeroesService`): Nest's `service`.
    const SERVICE: &'static str;
    /// The method's name as the proto spells it (`FindOne`): Nest's `rpc`.
    const METHOD: &'static str;
    /// The HTTP/2 path: `/hero.HeroesService/FindOne`.
    const PATH: &'static str;
    /// `rpc M(stream Req)`.
    const CLIENT_STREAMING: bool;
    /// `returns (stream Res)`.
    const SERVER_STREAMING: bool;
}

/// A typed client of one proto service (`hero::HeroesService::Client`), made by
/// [`ClientGrpc::get_service`].
pub trait GrpcService: Sized {
    /// The service's name with its package (`hero.HeroesService`).
    const NAME: &'static str;
    /// The client over `channel`.
    fn from_channel(channel: GrpcChannel) -> Self;
}

/// A call's message (or stream of messages) with its metadata and deadline.
///
/// ```ignore
/// heroes.find_one(GrpcRequest::new(HeroById { id: 1 })
///     .metadata("x-request-id", "r-1")
///     .timeout(Duration::from_millis(200))).await?;
/// ```
#[derive(Debug, Clone)]
pub struct GrpcRequest<T> {
    pub(crate) message: T,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    /// Whether the call opens a trace span of its own (not when a [`ClientProxy`] bridging
    /// to gRPC opened one and its headers are the metadata).
    ///
    /// [`ClientProxy`]: crate::client::ClientProxy
    pub(crate) span: bool,
}

impl<T> GrpcRequest<T> {
    /// `message` with no metadata and the client's default deadline.
    pub fn new(message: T) -> Self {
        GrpcRequest {
            message,
            metadata: Vec::new(),
            timeout: None,
            span: true,
        }
    }

    /// Adds an ASCII metadata entry (a lowercase key; Nest's `metadata.add(key, value)`).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// This call's deadline instead of the client's default: sent as `grpc-timeout` and
    /// enforced here.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A message (or stream), or a [`GrpcRequest`] around one: what a typed client's methods take.
pub trait IntoGrpcRequest<T> {
    /// The request with its metadata and deadline.
    fn into_grpc_request(self) -> GrpcRequest<T>;
}

impl<T> IntoGrpcRequest<T> for T {
    fn into_grpc_request(self) -> GrpcRequest<T> {
        GrpcRequest::new(self)
    }
}

impl<T> IntoGrpcRequest<T> for GrpcRequest<T> {
    fn into_grpc_request(self) -> GrpcRequest<T> {
        self
    }
}

/// The requests of a call that streams them, as a `#[grpc_stream_method]` handler takes them
/// (Nest's `@GrpcStreamMethod` handler's `Observable`): each message as it comes; the stream
/// ends when the caller ends it, or cancels the call.
pub struct GrpcRequests<T> {
    inner: Option<futures_util::stream::BoxStream<'static, Result<T, tonic::Status>>>,
}

impl<T> std::fmt::Debug for GrpcRequests<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcRequests").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> GrpcRequests<T> {
    pub(crate) fn new(
        stream: impl futures_core::Stream<Item = Result<T, tonic::Status>> + Send + 'static,
    ) -> Self {
        GrpcRequests {
            inner: Some(Box::pin(stream)),
        }
    }

    pub(crate) fn empty() -> Self {
        GrpcRequests { inner: None }
    }
}

impl<T> futures_core::Stream for GrpcRequests<T> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        use std::task::Poll;
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(item))) => Poll::Ready(Some(item)),
            Poll::Ready(Some(Err(status))) => {
                tracing::debug!(%status, "a request stream ended with an error");
                self.inner = None;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                self.inner = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The gRPC status codes' names, by code (`grpc/status.h`).
pub const STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The HTTP status a gateway answers for a gRPC status code: the standard mapping
/// (`google/rpc/code.proto`, grpc-gateway's `HTTPStatusFromCode`).
pub fn http_status_of(code: i32) -> u16 {
    match code {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// The status a handler's exception is sent as: an object with an integer `code` from 0 to 16
/// is that code with its `message` (Nest's `new RpcException({ code, message })`); Nest's
/// `Internal server error` (a panic, an error that is not an `RpcException`) is `INTERNAL`;
/// anything else `UNKNOWN` with its message, as grpc-js sends an error without a code.
pub(crate) fn status_of(exception: &RpcException) -> tonic::Status {
    let error = exception.error();
    let message = match error.get("message").or_else(|| error.get("details")) {
        Some(serde_json::Value::String(message)) => message.clone(),
        Some(other) => other.to_string(),
        None => error.to_string(),
    };
    if let Some(code) = error
        .get("code")
        .and_then(serde_json::Value::as_i64)
        .filter(|code| (0..=16).contains(code))
    {
        return tonic::Status::new(tonic::Code::from_i32(code as i32), message);
    }
    if *error == *RpcException::internal().error() {
        return tonic::Status::internal(message);
    }
    tonic::Status::unknown(message)
}

/// What generated code names (`gateway-build`'s output), not for users.
#[doc(hidden)]
pub mod __private {
    pub use futures_core::Stream;
    pub use prost;
    pub use serde;

    /// Whether a field holds its default value (left out of the JSON, as proto-loader does).
    pub fn is_default<T: Default + PartialEq>(value: &T) -> bool {
        *value == T::default()
    }
}

/// Declares the modules `gateway_build::compile_protos` generated in `build.rs`: one per proto
/// package (`hero`, `google::protobuf`, ...). Use it once, at the crate's root or in a module
/// of its own. Generated code is exempt from the lints a crate sets for its own (a message or
/// method the crate does not use is no `dead_code` warning, a field no `missing_docs` one).
#[macro_export]
macro_rules! include_protos {
    () => {
        #[allow(
            dead_code,
            missing_docs,
            unreachable_pub,
            clippy::all,
            clippy::pedantic,
            clippy::nursery
        )]
        mod __gateway_protos {
            include!(concat!(env!("OUT_DIR"), "/gateway_protos.rs"));
        }
        #[allow(unused_imports)]
        pub use __gateway_protos::*;
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exceptions_become_nest_statuses() {
        let status = status_of(&RpcException::new(
            json!({ "code": 5, "message": "Hero not found" }),
        ));
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::NotFound, "Hero not found")
        );
        let status = status_of(&RpcException::internal());
        assert_eq!(status.code(), tonic::Code::Internal);
        let status = status_of(&RpcException::new("boom"));
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::Unknown, "boom")
        );
        // A code outside gRPC's is not one.
        let status = status_of(&RpcException::new(json!({ "code": 99, "message": "x" })));
        assert_eq!(status.code(), tonic::Code::Unknown);
    }

    #[test]
    fn statuses_map_to_http_by_the_standard_table() {
        let table: Vec<u16> = (0..17).map(http_status_of).collect();
        assert_eq!(
            table,
            [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401]
        );
    }
}
