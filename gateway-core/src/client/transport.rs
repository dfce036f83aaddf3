//! The trait a transport implements for the client side, and what it is given to connect.
//!
//! Every transport of this crate (TCP, NATS, Redis, MQTT, RabbitMQ) implements
//! [`ClientTransport`]; so can a user's, from outside the crate, the way Nest lets a team
//! write a custom `ClientProxy`. A transport only dials and reads: the client proxy keeps the
//! connection, registers calls, enforces deadlines and reconnects.
//!
//! ```
//! use std::sync::Arc;
//! use gateway_core::client::{
//!     ClientOptions, ClientProxy, ClientTransport, ConnectContext, Connection, RpcError,
//! };
//! use futures_util::future::BoxFuture;
//!
//! /// A transport whose service is a task in this process.
//! struct Loopback;
//!
//! impl ClientTransport for Loopback {
//!     fn connect<'a>(&'a self, _: &'a ConnectContext) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
//!         Box::pin(async {
//!             let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
//!             let conn = Connection::with_queue(tx);
//!             let reader = conn.clone();
//!             tokio::spawn(async move {
//!                 while let Some(request) = rx.recv().await {
//!                     // A real transport writes `request` to its wire; this one answers it.
//!                     let request: serde_json::Value = serde_json::from_slice(&request).unwrap();
//!                     let reply = serde_json::json!({
//!                         "id": request["id"], "response": request["data"], "isDisposed": true,
//!                     });
//!                     reader.deliver(serde_json::to_vec(&reply).unwrap().into());
//!                 }
//!             });
//!             Ok(conn)
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), RpcError> {
//! let echo = ClientProxy::new(ClientOptions::custom("ECHO", "loopback", || Loopback));
//! let back: String = echo.send("echo", "hello").await?;
//! assert_eq!(back, "hello");
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::connection::{Closer, Connection};
use super::RpcError;

/// How an event's packet names its pattern. Requests always carry the pattern as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventPattern {
    /// As written (`{"cmd":"x"}` stays an object): Nest's broker transports, whose subject or
    /// channel already carries the route.
    #[default]
    Raw,
    /// As its normalized string (`"{\"cmd\":\"x\"}"`): Nest's TCP transport.
    Route,
}

/// The client side of a transport: see the module docs.
pub trait ClientTransport: Send + Sync + 'static {
    /// Opens a connection to the service: dials, subscribes to replies, starts the task that
    /// reads them (handing each to [`Connection::deliver`] and calling
    /// [`Connection::close`] when the link dies), and returns the connection.
    ///
    /// Called on the first call, and again after the connection closed; never twice at once
    /// for one client. The caller bounds it with its deadline. A service or broker that
    /// cannot be reached is [`ConnectContext::unavailable`] (503 at the edge).
    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>>;

    /// How this transport's events name their pattern (default: as written).
    fn event_pattern(&self) -> EventPattern {
        EventPattern::Raw
    }

    /// The transport's name, as a call's trace span records it (`tcp`, `nats`, ...; default
    /// `custom`).
    fn name(&self) -> &'static str {
        "custom"
    }
}

/// What a transport is given to connect: who the client is, and settings from its
/// [`ClientOptions`](super::ClientOptions).
#[derive(Debug)]
pub struct ConnectContext {
    pub(crate) service: Arc<str>,
    pub(crate) address: Arc<str>,
    pub(crate) closer: Closer,
    pub(crate) max_frame_units: Option<usize>,
    pub(crate) incomplete_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsOptions>,
}

impl ConnectContext {
    /// The service's name (its token, e.g. `USERS_SERVICE`).
    pub fn service(&self) -> &Arc<str> {
        &self.service
    }

    /// The address or URL the options named.
    pub fn address(&self) -> &Arc<str> {
        &self.address
    }

    /// Closes whatever connection the client holds when called: for a client library's
    /// disconnect callback, made before any connection exists.
    pub fn closer(&self) -> Closer {
        self.closer.clone()
    }

    /// The largest reply frame to accept, in UTF-16 units, when the options set one.
    pub fn max_frame_units(&self) -> Option<usize> {
        self.max_frame_units
    }

    /// How long a half-received frame may wait for more bytes, when the options set it.
    pub fn incomplete_timeout(&self) -> Option<Duration> {
        self.incomplete_timeout
    }

    /// The TLS settings, when the options set them (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::tls::TlsOptions> {
        self.tls.as_ref()
    }

    /// The error for a service or broker that cannot be reached, with `reason`.
    pub fn unavailable(&self, reason: impl std::fmt::Display) -> RpcError {
        self.connect_error(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            reason.to_string(),
        ))
    }

    /// The error for a dial that failed with `source`.
    pub fn connect_error(&self, source: std::io::Error) -> RpcError {
        RpcError::Connect {
            service: self.service.clone(),
            addr: self.address.clone(),
            source,
        }
    }
}
