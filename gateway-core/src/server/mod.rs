//! The microservice side: routing incoming message patterns to handlers, and what every
//! transport's server shares.
//!
//! - [`MessageRouter`] holds request handlers (Nest's `@MessagePattern`), stream handlers (a
//!   `@MessagePattern` returning an Observable) and event handlers (`@EventPattern`), keyed by
//!   normalized route, so a Nest client's `{ cmd: 'get_user' }` reaches the handler registered
//!   for `pattern!({ cmd: "get_user" })` whatever its key order.
//! - One dispatcher (`dispatch`) turns an incoming packet into what to run: a request and
//!   its reply, Nest's no-handler answer, event handlers, or nothing. Every transport's
//!   server calls it; none decides that on its own.
//! - [`ServerTransport`] and [`Server`] are the seam a transport's server plugs into (Nest's
//!   `CustomTransportStrategy`); [`ShutdownHandle`], [`ServerError`] and the grace period are
//!   shared by all of them.
//!
//! Not for: a transport's wire (framing, broker clients): see [`transport`](crate::transport).

#[cfg(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq"))]
pub(crate) mod broker;
mod context;
pub(crate) mod dispatch;
mod error;
mod exception;
mod intercept;
mod pipeline;
pub(crate) mod reply;
mod router;
#[cfg(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq"))]
mod self_wakes;
pub(crate) mod serving;

#[cfg(feature = "rmq")]
pub(crate) use context::Acknowledge;
pub use context::MessageContext;
pub use error::ServerError;
pub use exception::RpcException;
pub use intercept::{RpcNext, RpcReply};
pub(crate) use pipeline::RpcEdge;
pub use router::{FromPayload, MessageRouter};
pub use serving::{
    check_router, Server, ServerTransport, ShutdownHandle, Transport, DEFAULT_GRACE_PERIOD,
};

use serde::Serialize;

/// What a request handler returns: `Result<T, E>` with a serializable `T` and an error that
/// converts into an [`RpcException`].
pub trait HandlerResult: Send + 'static {
    /// The JSON of the value, or the exception to send.
    fn into_reply(self) -> Result<Vec<u8>, RpcException>;
}

impl<T: Serialize + Send + 'static, E: Into<RpcException> + Send + 'static> HandlerResult
    for Result<T, E>
{
    fn into_reply(self) -> Result<Vec<u8>, RpcException> {
        let value = self.map_err(Into::into)?;
        serde_json::to_vec(&value).map_err(|error| {
            tracing::error!(%error, "a handler's result could not be serialized");
            RpcException::internal()
        })
    }
}

/// What an event handler returns: `()`, or `Result<(), E>` whose error is logged (an event has
/// no one to answer).
pub trait EventResult: Send + 'static {
    /// Logs a failure, if any.
    fn report(self, route: &str);
}

impl EventResult for () {
    fn report(self, _route: &str) {}
}

impl<E: Into<RpcException> + Send + 'static> EventResult for Result<(), E> {
    fn report(self, route: &str) {
        if let Err(error) = self {
            let error: RpcException = error.into();
            tracing::error!(pattern = route, error = %error.error(), "event handler failed");
        }
    }
}
