//! NestJS-style API gateways and microservices in Rust.
//!
//! `gateway-core` is the runtime: client proxies that talk to `@nestjs/microservices`
//! services byte for byte, and the microservice side that Nest clients can call. The attribute
//! macros (`gateway-macros`) sit on top and generate calls into this crate.
//!
//! | module | for |
//! | --- | --- |
//! | [`client`] | [`ClientProxy`](client::ClientProxy): `send`, `emit`, streams, deadlines, [`RpcError`](client::RpcError), [`ClientsModule`](client::ClientsModule), the connection seam every transport plugs into |
//! | [`app`] | [`NestFactory`](app::NestFactory): boot a module tree, serve it |
//! | [`di`] | providers, modules, the container |
//! | [`http`] | [`HttpException`](http::HttpException) with Nest's bodies, `RpcError` → HTTP, unknown routes, panics |
//! | [`server`] | [`MessageRouter`](server::MessageRouter): message, stream and event handlers, [`RpcException`](server::RpcException), the dispatcher and server seam every transport plugs into |
//! | [`transport`] | one module per transport, each owning its wire, client and server: [`tcp`](transport::tcp) always, brokers by feature |
//! | [`pattern`](mod@pattern) | [`Pattern`](pattern::Pattern) and Nest's pattern normalization |
//!
//! # Feature flags
//!
//! The TCP transport and everything not listed here are always on; every feature is off by
//! default. (This list is `Cargo.toml`'s, by `document-features`.)
//!
#![doc = document_features::document_features!()]
//!
//! Trace spans and W3C `traceparent` propagation ([`trace`]) need no feature: they cost
//! nothing until a `tracing` subscriber records them.
//!
//! A transport of your own plugs into the same seams: [`client::ClientTransport`] with
//! [`ClientOptions::custom`](client::ClientOptions::custom) for the client side,
//! [`server::ServerTransport`] with [`Transport::custom`](server::Transport::custom) for the
//! server side.
//!
//! # Example: a microservice and a client
//!
//! ```
//! use gateway_core::prelude::*;
//! use serde_json::{json, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let router = MessageRouter::new()
//!     .message(json!({ "cmd": "get_user" }), |req: Value| async move {
//!         Ok::<_, RpcException>(json!({ "id": req["id"], "name": "Ada Lovelace" }))
//!     });
//! let server = TcpServer::bind("127.0.0.1:0", router).await?;
//! let addr = server.local_addr().to_string();
//! let stop = server.shutdown_handle();
//! let serving = tokio::spawn(server.serve());
//!
//! let users = ClientProxy::new(ClientOptions::tcp("USERS_SERVICE", addr));
//! let user: Value = users.send(json!({ "cmd": "get_user" }), &json!({ "id": 42 })).await?;
//! assert_eq!(user["name"], "Ada Lovelace");
//!
//! stop.shutdown();
//! serving.await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod app;
pub mod auth;
pub mod cache;
pub mod client;
pub mod config;
pub mod di;
pub mod health;
pub mod http;
#[cfg(feature = "http-client")]
mod http_client;
pub mod lifecycle;
mod log_limit;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
#[cfg(feature = "otlp")]
pub mod otlp;
pub(crate) mod packet;
pub mod partial;
pub mod pattern;
#[cfg(feature = "redis")]
mod redis_conn;
pub mod server;
pub mod signal;
pub mod testing;
pub mod throttle;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;
pub mod transport;
#[cfg(feature = "grpc")]
pub use transport::grpc;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub use gateway_macros::{
    all, api_bearer_auth, api_body, api_exclude_endpoint, api_operation, api_response, api_tags,
    apply_decorators, cache_key, cache_ttl, controller, delete, event_pattern, get, global,
    grpc_method, grpc_stream_method, guard, head, http_code, injectable, message_pattern, module,
    options, patch, pattern, post, public, put, redirect, roles, set_metadata, skip_throttle, sse,
    throttle, use_filters, use_interceptors, version,
};
pub use packet::NO_MESSAGE_HANDLER;

// Crates whose types appear in the public API, so a user names the same versions we use
// (`gateway_core::axum::response::Response`) without a dependency of their own.
pub use axum;
pub use tower_http;
#[cfg(feature = "validation")]
pub use validator;

/// What a user of the framework needs in scope.
pub mod prelude {
    pub use crate::app::{
        BootError, HybridAppOptions, MicroserviceServer, NestApplication, NestFactory,
        NestMicroservice, Transport,
    };
    pub use crate::client::{
        CallOptions, CircuitBreaker, ClientAsync, ClientOptions, ClientProxy, ClientsModule,
        ClientsModuleOptionsFactory, RawReply, RpcError, RpcStream,
    };
    pub use crate::di::{Provider, Token};
    #[cfg(feature = "validation")]
    pub use crate::http::Valid;
    pub use crate::http::{
        ArgumentsHost, CallContext, CanActivate, ContextType, ExceptionFilter, ExecutionContext,
        HandlerValue, NestInterceptor, Next, RequestId, RpcContext, UploadedFile,
    };
    pub use crate::http::{Controller, HttpException, HttpRedirect, MessageEvent, StreamableFile};
    pub use crate::pattern;
    pub use crate::pattern::Pattern;
    pub use crate::server::ShutdownHandle;
    pub use crate::server::{MessageContext, MessageRouter, RpcException, RpcNext, RpcReply};
    pub use crate::signal::shutdown_signal;
    pub use crate::transport::tcp::{ServerOptions, TcpServer};
    pub use crate::{
        all, api_bearer_auth, api_body, api_exclude_endpoint, api_operation, api_response,
        api_tags, apply_decorators, cache_key, cache_ttl, controller, delete, event_pattern, get,
        global, grpc_method, grpc_stream_method, guard, head, http_code, injectable,
        message_pattern, module, options, patch, post, public, put, redirect, roles, set_metadata,
        skip_throttle, sse, throttle, use_filters, use_interceptors, version,
    };
}

/// The README's examples are compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// So are the guide's.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide.md")]
struct GuideDoctests;
