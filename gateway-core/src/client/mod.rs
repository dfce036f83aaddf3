//! Client proxies: calling microservices as Nest's `ClientProxy` does.
//!
//! A [`ClientProxy`] is one service's handle: cheap to clone, shared by every caller. It
//! connects lazily (or on [`ClientProxy::connect`]), multiplexes every call over one
//! connection, and gives every call a deadline. [`send`](ClientProxy::send) is
//! request-response, [`emit`](ClientProxy::emit) is fire-and-forget,
//! [`send_stream`](ClientProxy::send_stream) yields every value of a streamed reply.
//!
//! Not for: retrying (a call is sent at most once; only a connection found dead *before*
//! anything was written is replaced within the same call) or load balancing.

mod breaker;
mod clients_module;
mod connection;
mod error;
mod in_process;
mod mock;
mod options;
pub(crate) mod pending;
mod transport;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

pub use breaker::CircuitBreaker;
pub use clients_module::{ClientAsync, ClientsModule, ClientsModuleOptionsFactory};
pub use connection::{Closer, Connection, Outgoing, Publish, CONNECTION_CLOSED};
pub use error::RpcError;
/// The boxed future [`ClientTransport`] and [`Publish`] return (re-exported from
/// `futures-util`, so a transport's crate need not depend on it).
pub use futures_util::future::BoxFuture;
pub use mock::{MockClient, MockExpectation, Sent};
pub use options::{CallOptions, ClientOptions, DispatchPacket, DEFAULT_TIMEOUT};
pub use transport::{ClientTransport, ConnectContext, EventPattern};

use crate::packet::{encode_event, encode_raw_event, encode_request};
use crate::pattern::Pattern;
use connection::Slot;
use pending::{Delivered, Failure, Forget, Pending, StreamItem};

/// A reply kept as the service sent it: its JSON text, not parsed into a type of ours.
/// `send::<RawReply>(..)` costs one scan of the reply; a route returning it answers with
/// those bytes (object keys in the service's order, fields the service added included), as a
/// Nest route returning `this.client.send(..)` does.
///
/// ```no_run
/// # use gateway_core::prelude::*;
/// # use serde_json::json;
/// # async fn demo(users: ClientProxy) -> Result<(), RpcError> {
/// let user: RawReply = users.send(pattern!({ cmd: "get_user" }), &json!({ "id": "42" })).await?;
/// assert_eq!(user.get(), r#"{"id":"42","name":"Ada Lovelace"}"#);
/// # Ok(()) }
/// ```
pub type RawReply = Box<serde_json::value::RawValue>;

/// How many times one call may find its connection closed before anything was written.
const ATTEMPTS: usize = 2;

/// A handle to one microservice. See the module docs.
///
/// ```no_run
/// # use gateway_core::client::{ClientOptions, ClientProxy};
/// # use serde_json::{json, Value};
/// # async fn demo() -> Result<(), gateway_core::client::RpcError> {
/// let users = ClientProxy::new(ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001"));
/// let orders = ClientProxy::new(ClientOptions::tcp("ORDERS_SERVICE", "127.0.0.1:3002"));
/// let user: Value = users.send(json!({ "cmd": "get_user" }), &json!({ "id": 42 })).await?;
/// users.emit("user_seen", &json!({ "id": 42 })).await?;
///
/// // Fan out in parallel; payloads may be temporaries (they are serialized at once).
/// let (user, orders): (Value, Vec<Value>) = tokio::try_join!(
///     users.send(json!({ "cmd": "get_user" }), &json!({ "id": 42 })),
///     orders.send(json!({ "cmd": "list_orders" }), &json!({ "userId": 42 })),
/// )?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientProxy {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    timeout: Duration,
    slot: Slot,
    transport: Box<dyn ClientTransport>,
    /// Fixed per transport: read once, not through the trait object on every event.
    event_pattern: EventPattern,
    /// The transport's name, for trace spans.
    transport_name: &'static str,
    connect: ConnectContext,
    next_id: AtomicU64,
    on_dispatch: Option<options::DispatchHook>,
    breaker: Option<breaker::Breaker>,
}

impl std::fmt::Debug for ClientProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientProxy")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl ClientProxy {
    /// A client for the service `options` describe. Nothing connects until the first call
    /// or [`connect`](Self::connect).
    pub fn new(options: ClientOptions) -> Self {
        let transport = (options.make)();
        let slot = Slot::new();
        let breaker = options
            .circuit_breaker
            .map(|settings| breaker::Breaker::new(settings, options.name.clone()));
        let connect = ConnectContext {
            service: options.name.clone(),
            address: options.address,
            closer: slot.closer(),
            max_frame_units: options.max_frame_units,
            incomplete_timeout: options.incomplete_timeout,
            #[cfg(feature = "tls")]
            tls: options.tls,
        };
        ClientProxy {
            inner: Arc::new(Inner {
                name: options.name,
                timeout: options.timeout,
                slot,
                event_pattern: transport.event_pattern(),
                transport_name: transport.name(),
                transport,
                connect,
                next_id: AtomicU64::new(1),
                on_dispatch: options.on_dispatch,
                breaker,
            }),
        }
    }

    /// The circuit breaker's word on a call about to start: let through (and to be told the
    /// outcome), or refused. Neither without a breaker.
    fn admit(&self) -> Result<Option<breaker::Admitted<'_>>, RpcError> {
        self.inner
            .breaker
            .as_ref()
            .map(breaker::Breaker::admit)
            .transpose()
    }

    /// The service's name (its token).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Connects now instead of on the first call, within the client's default timeout. Nest
    /// recommends this in `onApplicationBootstrap` to fail fast at boot.
    pub async fn connect(&self) -> Result<(), RpcError> {
        let (deadline, timeout) = CallOptions::default().budget(self.inner.timeout);
        tokio::time::timeout_at(deadline, self.connection())
            .await
            .map_err(|_| self.timeout_error(&Pattern::from_static("<connect>"), timeout))?
            .map(drop)
    }

    /// Closes the connection. Pending calls fail with `Connection closed`; a later call
    /// connects again (as in Nest).
    pub fn close(&self) {
        self.inner.slot.close();
    }

    /// Sends a request and waits for its reply, within the client's default timeout.
    ///
    /// The payload is serialized when `send` is called, and the returned future borrows
    /// nothing, so calls can be built from temporaries and joined (`tokio::try_join!`). The
    /// deadline also starts when `send` is called.
    ///
    /// If the service streams several values, the last one is returned (Nest's
    /// `lastValueFrom`). If it completes without a value, `T` is built from `null` (so `()`
    /// and `Option<_>` work), or the call fails with [`RpcError::EmptyResponse`].
    pub fn send<T: DeserializeOwned + 'static>(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
    ) -> impl Future<Output = Result<T, RpcError>> + Send + 'static {
        self.send_with(pattern, payload, CallOptions::default())
    }

    /// [`send`](Self::send) with per-call options (a timeout or deadline).
    pub fn send_with<T: DeserializeOwned + 'static>(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
        mut options: CallOptions,
    ) -> impl Future<Output = Result<T, RpcError>> + Send + 'static {
        let pattern = pattern.into();
        let (deadline, timeout) = options.budget(self.inner.timeout);
        let span = self.call_span(&pattern, &mut options);
        let request = self.encode_request(&pattern, payload, &options);
        let client = self.clone();
        #[cfg(feature = "metrics")]
        let metered = crate::metrics::on()
            .then(|| crate::metrics::Call::start(&self.inner.name, pattern.route()));
        async move {
            let mut admitted = None;
            // A block rather than a nested future, so the call's future stays one state
            // machine (its size is guarded by `tests/future_sizes.rs`).
            let result = 'call: {
                match client.admit() {
                    Ok(through) => admitted = through,
                    Err(refused) => break 'call Err(refused),
                }
                let (id, body) = match request {
                    Ok(request) => request,
                    Err(error) => break 'call Err(error),
                };
                let round_trip = client.round_trip(&pattern, id, body, &options);
                let reply = match tokio::time::timeout_at(deadline, round_trip).await {
                    Ok(Ok(reply)) => reply,
                    Ok(Err(error)) => break 'call Err(error),
                    Err(_) => break 'call Err(client.timeout_error(&pattern, timeout)),
                };
                match reply {
                    (Some(Delivered::Checked(value)), _) => client.decode(&pattern, &value),
                    (
                        Some(Delivered::Unchecked {
                            frame,
                            value,
                            corrupt_closes,
                        }),
                        conn,
                    ) => {
                        let closes = corrupt_closes.then_some(&*conn);
                        client.decode_unchecked(&pattern, &frame, &value, closes)
                    }
                    (None, _) => client.empty(&pattern),
                }
            };
            breaker::record(admitted, &result);
            #[cfg(feature = "metrics")]
            if let Some(metered) = metered {
                metered.finish(&result);
            }
            span.record_outcome(&result);
            result
        }
    }

    /// Sends a request whose reply is a stream, and resolves to the stream once the request
    /// is written. Every value the service sends is yielded in order; a remote error is the
    /// last item. The client's default timeout bounds the whole stream.
    pub fn send_stream<T: DeserializeOwned + 'static>(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
    ) -> impl Future<Output = Result<RpcStream<T>, RpcError>> + Send + 'static {
        self.send_stream_with(pattern, payload, CallOptions::default())
    }

    /// [`send_stream`](Self::send_stream) with per-call options.
    pub fn send_stream_with<T: DeserializeOwned + 'static>(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
        mut options: CallOptions,
    ) -> impl Future<Output = Result<RpcStream<T>, RpcError>> + Send + 'static {
        let pattern = pattern.into();
        let (deadline, timeout) = options.budget(self.inner.timeout);
        let span = self.call_span(&pattern, &mut options);
        let request = self.encode_request(&pattern, payload, &options);
        let client = self.clone();
        async move {
            let mut admitted = None;
            let opened = async {
                admitted = client.admit()?;
                let (id, body) = request?;
                let open = client.dispatch(&pattern, id, body, &options, Pending::register_stream);
                let (conn, rx) = tokio::time::timeout_at(deadline, open)
                    .await
                    .map_err(|_| client.timeout_error(&pattern, timeout))??;
                Ok((id, conn, rx))
            }
            .await;
            breaker::record(admitted, &opened);
            if opened.is_err() {
                span.record_outcome(&opened);
            }
            let (id, conn, rx) = opened?;
            Ok(RpcStream {
                client,
                pattern,
                conn: Some(conn),
                id,
                rx,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                timeout,
                span,
                _item: PhantomData,
            })
        }
    }

    /// Sends an event: no reply is expected. Resolves once the event is queued on an open
    /// connection, within the client's default timeout. Nest's `emit`. Like
    /// [`send`](Self::send), the payload is serialized at once.
    pub fn emit(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
    ) -> impl Future<Output = Result<(), RpcError>> + Send + 'static {
        self.emit_with(pattern, payload, CallOptions::default())
    }

    /// [`emit`](Self::emit) with per-call options.
    pub fn emit_with(
        &self,
        pattern: impl Into<Pattern>,
        payload: &(impl Serialize + ?Sized),
        mut options: CallOptions,
    ) -> impl Future<Output = Result<(), RpcError>> + Send + 'static {
        let pattern = pattern.into();
        let (deadline, timeout) = options.budget(self.inner.timeout);
        let span = self.call_span(&pattern, &mut options);
        let mut body = Vec::with_capacity(128);
        let encoded = self
            .metadata(&pattern, payload, &options)
            .and_then(|metadata| match self.inner.event_pattern {
                EventPattern::Route => {
                    encode_event(&mut body, &pattern, payload, metadata.as_deref())
                }
                EventPattern::Raw => {
                    encode_raw_event(&mut body, &pattern, payload, metadata.as_deref())
                }
            })
            .map_err(|source| RpcError::Encode {
                pattern: pattern.route().to_owned(),
                source,
            });
        let client = self.clone();
        async move {
            encoded?;
            let admitted = match client.admit() {
                Ok(admitted) => admitted,
                Err(refused) => {
                    let refused = Err(refused);
                    span.record_outcome(&refused);
                    return refused;
                }
            };
            let send = async {
                let conn = client.connection().await?;
                conn.send(pattern.route(), None, &options, body)
                    .await
                    .map_err(|reason| client.failure(&pattern, Failure::Lost(reason)))
            };
            let result = tokio::time::timeout_at(deadline, send)
                .await
                .map_err(|_| client.timeout_error(&pattern, timeout))
                .and_then(|sent| sent);
            breaker::record(admitted, &result);
            span.record_outcome(&result);
            result
        }
    }

    /// The trace span of a call to `pattern` (see [`crate::trace`]).
    fn call_span(&self, pattern: &Pattern, options: &mut CallOptions) -> crate::trace::CallSpan {
        crate::trace::call_span(
            &self.inner.name,
            pattern.route(),
            self.inner.transport_name,
            options,
        )
    }

    /// Calls waiting for a reply on the current connection (0 when there is none).
    pub fn pending_calls(&self) -> usize {
        self.inner.slot.current_pending()
    }

    /// The open connection; opening one (rare) is boxed, so every call's future stays small
    /// (it would otherwise carry room for a connect, the largest of which is a broker's).
    async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        if let Some(conn) = self.inner.slot.live() {
            return Ok(conn);
        }
        self.open().await
    }

    fn open(&self) -> BoxFuture<'_, Result<Arc<Connection>, RpcError>> {
        let inner = &*self.inner;
        Box::pin(inner.slot.get_or_open(|| async {
            let opened = inner.transport.connect(&inner.connect).await;
            #[cfg(feature = "metrics")]
            if crate::metrics::on() {
                crate::metrics::record_connect(&inner.name, opened.as_ref().ok());
            }
            opened
        }))
    }

    fn encode_request(
        &self,
        pattern: &Pattern,
        payload: &(impl Serialize + ?Sized),
        options: &CallOptions,
    ) -> Result<(u64, Vec<u8>), RpcError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut body = Vec::with_capacity(128);
        self.metadata(pattern, payload, options)
            .and_then(|metadata| {
                encode_request(&mut body, pattern, payload, metadata.as_deref(), id)
            })
            .map_err(|source| RpcError::Encode {
                pattern: pattern.route().to_owned(),
                source,
            })?;
        Ok((id, body))
    }

    /// The packet's metadata: the call's, then the dispatch hook's. `None` (and no work) when
    /// there is neither.
    fn metadata(
        &self,
        pattern: &Pattern,
        payload: &(impl Serialize + ?Sized),
        options: &CallOptions,
    ) -> serde_json::Result<Option<Vec<(String, String)>>> {
        let own = options.metadata.as_deref();
        let Some(hook) = &self.inner.on_dispatch else {
            return Ok(own.map(<[_]>::to_vec));
        };
        let mut packet = DispatchPacket {
            pattern,
            data: serde_json::to_value(payload)?,
            metadata: own.map(<[_]>::to_vec).unwrap_or_default(),
        };
        hook(&mut packet);
        Ok(Some(packet.metadata))
    }

    /// Registers the call (with `register`) on a live connection and writes its body. A
    /// connection found closed at registration, before anything was written, is replaced
    /// once; a failure after that fails the call.
    async fn dispatch<R>(
        &self,
        pattern: &Pattern,
        id: u64,
        body: Vec<u8>,
        options: &CallOptions,
        register: impl Fn(&Pending, u64) -> Result<R, Arc<str>>,
    ) -> Result<(Arc<Connection>, R), RpcError> {
        let mut body = Some(body);
        // Why the last connection closed under the call: a TLS server's alert, a corrupt
        // frame... more use to a reader than "Connection closed". (Not made unless needed:
        // this is every call's path.)
        let mut closed: Option<Arc<str>> = None;
        for _ in 0..ATTEMPTS {
            let conn = self.connection().await?;
            let receiver = match register(&conn.pending, id) {
                Ok(receiver) => receiver,
                Err(reason) => {
                    closed = Some(reason);
                    continue;
                }
            };
            let forget = Forget::new(&conn.pending, id);
            conn.send(
                pattern.route(),
                Some(id),
                options,
                body.take().expect("the body is sent once"),
            )
            .await
            .map_err(|reason| {
                let reason = conn.pending.closed_reason().unwrap_or(reason);
                self.failure(pattern, Failure::Lost(reason))
            })?;
            forget.disarm();
            return Ok((conn, receiver));
        }
        Err(self.lost(closed.as_deref().unwrap_or(CONNECTION_CLOSED)))
    }

    /// Writes the request and waits for its final reply; the connection it came on.
    async fn round_trip(
        &self,
        pattern: &Pattern,
        id: u64,
        body: Vec<u8>,
        options: &CallOptions,
    ) -> Result<(Option<Delivered>, Arc<Connection>), RpcError> {
        let (conn, reply) = self
            .dispatch(pattern, id, body, options, Pending::register_single)
            .await?;
        let forget = Forget::new(&conn.pending, id);
        let outcome = reply
            .await
            .unwrap_or_else(|_| Err(Failure::Lost(CONNECTION_CLOSED.into())));
        forget.disarm();
        match outcome {
            Ok(reply) => Ok((reply, conn)),
            Err(failure) => Err(self.failure(pattern, failure)),
        }
    }

    /// Decodes the `response` of a reply routed by its shape alone
    /// ([`Delivered::Unchecked`]): the one pass over it. If it is not a `T`, the whole packet
    /// is read as the reader reads any other: not JSON, the connection closes if `closes`
    /// holds it (TCP: Nest's client's `Could not parse JSON`, the reader's answer to a corrupt
    /// packet), else the call fails with [`RpcError::Decode`]; a truthy `err` inside it
    /// (`{"response":1,"err":"x",..}`) is the remote error; else the `response` it has is
    /// decoded, and that error is the call's.
    fn decode_unchecked<T: DeserializeOwned>(
        &self,
        pattern: &Pattern,
        frame: &Bytes,
        value: &Bytes,
        closes: Option<&Connection>,
    ) -> Result<T, RpcError> {
        if let Ok(value) = crate::packet::from_json(value) {
            return Ok(value);
        }
        match crate::packet::Response::parse(frame) {
            Err(source) if closes.is_none() => Err(RpcError::Decode {
                service: self.inner.name.clone(),
                pattern: pattern.route().to_owned(),
                source,
            }),
            Err(error) => {
                let reason = Connection::unparsable(&self.inner.name, &error);
                if let Some(conn) = closes {
                    conn.close(reason.clone());
                }
                Err(self.lost(&reason))
            }
            Ok(packet) => match (packet.error(), packet.response) {
                (Some(err), _) => Err(self.failure(
                    pattern,
                    Failure::Remote(crate::packet::slice_of(frame, err)),
                )),
                (None, Some(response)) => {
                    self.decode(pattern, &crate::packet::slice_of(frame, response))
                }
                (None, None) => self.empty(pattern),
            },
        }
    }

    /// A reply that completed with no value: `T` from `null` (`()`, an `Option`), else
    /// [`RpcError::EmptyResponse`].
    fn empty<T: DeserializeOwned>(&self, pattern: &Pattern) -> Result<T, RpcError> {
        serde_json::from_slice(b"null").map_err(|_| RpcError::EmptyResponse {
            service: self.inner.name.clone(),
            pattern: pattern.route().to_owned(),
        })
    }

    fn decode<T: DeserializeOwned>(&self, pattern: &Pattern, value: &Bytes) -> Result<T, RpcError> {
        crate::packet::from_json(value).map_err(|source| RpcError::Decode {
            service: self.inner.name.clone(),
            pattern: pattern.route().to_owned(),
            source,
        })
    }

    fn failure(&self, pattern: &Pattern, failure: Failure) -> RpcError {
        match failure {
            Failure::Remote(err) => RpcError::Remote {
                service: self.inner.name.clone(),
                pattern: pattern.route().to_owned(),
                error: serde_json::from_slice(&err).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&err).into_owned())
                }),
            },
            Failure::Lost(reason) => RpcError::ConnectionLost {
                service: self.inner.name.clone(),
                reason,
            },
        }
    }

    fn lost(&self, reason: &str) -> RpcError {
        RpcError::ConnectionLost {
            service: self.inner.name.clone(),
            reason: reason.into(),
        }
    }

    fn timeout_error(&self, pattern: &Pattern, timeout: Duration) -> RpcError {
        RpcError::Timeout {
            service: self.inner.name.clone(),
            pattern: pattern.route().to_owned(),
            timeout,
        }
    }
}

/// The values of a streamed reply, from [`ClientProxy::send_stream`].
///
/// Ends after the service's final packet, after an error (yielded as the last item), or at
/// the call's deadline ([`RpcError::Timeout`]). Dropping it forgets the call.
pub struct RpcStream<T> {
    client: ClientProxy,
    pattern: Pattern,
    conn: Option<Arc<Connection>>,
    id: u64,
    rx: mpsc::Receiver<StreamItem>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    /// The call's trace span: open until the stream ends or is dropped.
    span: crate::trace::CallSpan,
    _item: PhantomData<fn() -> T>,
}

impl<T> RpcStream<T> {
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.pending.forget(self.id);
        }
    }

    /// When the stream's deadline passes.
    pub fn deadline(&self) -> Instant {
        self.deadline.deadline()
    }
}

impl<T: DeserializeOwned> Stream for RpcStream<T> {
    type Item = Result<T, RpcError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.conn.is_none() {
            return Poll::Ready(None);
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(value))) => {
                Poll::Ready(Some(this.client.decode(&this.pattern, &value)))
            }
            Poll::Ready(Some(Err(failure))) => {
                this.finish();
                let error = Err(this.client.failure(&this.pattern, failure));
                this.span.record_outcome(&error);
                Poll::Ready(Some(error))
            }
            Poll::Ready(None) => {
                this.finish();
                this.span.record_outcome(&Ok::<(), RpcError>(()));
                Poll::Ready(None)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.finish();
                    let error = Err(this.client.timeout_error(&this.pattern, this.timeout));
                    this.span.record_outcome(&error);
                    Poll::Ready(Some(error))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T> Drop for RpcStream<T> {
    fn drop(&mut self) {
        self.finish();
    }
}
