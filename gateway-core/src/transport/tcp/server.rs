//! [`TcpServer`]: a microservice listening for Nest TCP clients.
//!
//! Every connection gets its own framer and a writer task; every request runs as its own task,
//! so a slow handler holds up nothing else on its connection. Shutdown is graceful: stop
//! accepting and reading, let in-flight handlers finish and their replies flush (bounded by
//! the grace period), then close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, ToSocketAddrs};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::budget::FrameBudget;
use super::{
    next_frame, write_frames, CodecError, NestCodec, DEFAULT_INCOMPLETE_TIMEOUT,
    DEFAULT_MAX_FRAME_UNITS,
};
use crate::packet::{encode_reply, Reply};
use crate::server::dispatch::{dispatch, Dispatch};
use crate::server::reply::{send_replies, ReplyOut};
use crate::server::serving::{check_router, run_or_spawn, serve_until};
use crate::server::{
    MessageRouter, Server, ServerError, ShutdownHandle, Transport, DEFAULT_GRACE_PERIOD,
};

/// Requests one connection may have in flight before its reader waits (see
/// [`ServerOptions::max_in_flight`]).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// Settings for a [`TcpServer`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a graceful shutdown waits for in-flight handlers before closing anyway
    /// (default 10 s).
    pub grace_period: Duration,
    /// The largest request frame accepted, in UTF-16 units (Nest's `maxBufferSize`; default
    /// Nest's 128 Mi units: a payload a Nest service takes, ours takes). One connection's
    /// frame is bounded by it; all connections' unfinished frames together by
    /// `max_buffered_bytes`.
    pub max_frame_units: usize,
    /// The most bytes of unfinished frames all connections may hold together (default
    /// 256 MiB; Nest has no such bound). Past it the connection holding the most is closed
    /// and logged: a dozen peers each sending most of a large frame cannot take the memory a
    /// dozen large frames would. Buffers of 64 KiB or less are not counted.
    pub max_buffered_bytes: usize,
    /// How long a half-received frame may wait for more bytes before the connection is
    /// closed (Nest's `incompleteMessageTimeout`, default 30 s).
    pub incomplete_timeout: Duration,
    /// How long one frame may take from its first byte to its last, however steadily its
    /// bytes come (default 5 min, Node's `requestTimeout`; Nest has none): a peer trickling a
    /// byte every few seconds cannot keep a frame buffer (up to `max_frame_units`) forever.
    /// `None`: no deadline.
    pub frame_deadline: Option<Duration>,
    /// The most reply bytes one connection may have waiting for its socket (Nest's
    /// `maxSendBufferSize`): a peer that sends requests and lets the replies pile up unread
    /// past it is disconnected. `None` (Nest's default): no byte limit, but see
    /// `max_in_flight`.
    pub max_send_buffer: Option<usize>,
    /// The most requests one connection may have in flight (being handled, or replying): past
    /// it the server stops reading that connection until one finishes, and as many replies at
    /// most wait for its socket; so a peer that never reads its replies slows itself down
    /// instead of growing our memory (default 1024).
    pub max_in_flight: usize,
    /// The most connections open at once (default 10 000): past it new connections wait in
    /// the listen queue until one closes (logged at a bounded rate). Nest has no limit.
    pub max_connections: usize,
    /// How long a connection may stay idle (no request in flight, and no whole new one
    /// received) before the server closes it: after one to two such periods. `None` (Nest's default, and ours): kept open, as a Nest
    /// client keeps its connection for the next call; a client that finds it closed dials
    /// again.
    pub idle_timeout: Option<Duration>,
    /// Serve over TLS (feature `tls`): Nest's `tlsOptions` (`cert` and `key` required; with
    /// `ca`, clients must show a certificate it signs). A handshake must finish within
    /// `incomplete_timeout`. `None` (the default): plain TCP.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsOptions>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            grace_period: DEFAULT_GRACE_PERIOD,
            max_frame_units: DEFAULT_MAX_FRAME_UNITS,
            max_buffered_bytes: 256 * 1024 * 1024,
            incomplete_timeout: DEFAULT_INCOMPLETE_TIMEOUT,
            frame_deadline: Some(Duration::from_secs(300)),
            max_send_buffer: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_connections: 10_000,
            idle_timeout: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// A microservice speaking Nest's `Transport.TCP`. Nest's `ServerTCP`.
///
/// ```no_run
/// # use gateway_core::server::{MessageRouter, RpcException};
/// # use gateway_core::transport::tcp::TcpServer;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let router = MessageRouter::new()
///     .message("ping", |_: serde_json::Value| async { Ok::<_, RpcException>("pong") });
/// let server = TcpServer::bind("127.0.0.1:3001", router).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct TcpServer {
    listener: TcpListener,
    #[cfg(feature = "tls")]
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: Arc<MessageRouter>,
    options: ServerOptions,
    handle: ShutdownHandle,
}

impl std::fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl TcpServer {
    /// Binds `addr` with default options. Fails if the address is taken or the router has a
    /// pattern registered twice.
    pub async fn bind(
        addr: impl ToSocketAddrs + std::fmt::Display,
        router: MessageRouter,
    ) -> Result<Self, ServerError> {
        Self::bind_with(addr, router, ServerOptions::default()).await
    }

    /// Binds `addr` with `options`.
    pub async fn bind_with(
        addr: impl ToSocketAddrs + std::fmt::Display,
        router: MessageRouter,
        options: ServerOptions,
    ) -> Result<Self, ServerError> {
        check_router(&router)?;
        #[cfg(feature = "tls")]
        let acceptor = match &options.tls {
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(
                tls.server_config().map_err(|e| ServerError::Bind {
                    addr: addr.to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                })?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        Ok(TcpServer {
            listener,
            #[cfg(feature = "tls")]
            acceptor,
            router: Arc::new(router),
            options,
            handle: ShutdownHandle::default(),
        })
    }

    /// The bound address (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        let handle = self.handle.clone();
        serve_until(&handle, self.serve(), signal).await;
    }

    /// Serves until the [`ShutdownHandle`] stops it; returns once every connection is closed.
    pub async fn serve(self) {
        let TcpServer {
            listener,
            #[cfg(feature = "tls")]
            acceptor,
            router,
            options,
            handle,
        } = self;
        let addr = listener.local_addr().ok();
        tracing::info!(?addr, routes = ?router.message_routes().collect::<Vec<_>>(), events = ?router.event_routes().collect::<Vec<_>>(), "microservice listening");
        let tasks = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
        let budget = FrameBudget::new(options.max_buffered_bytes);
        loop {
            if slots.available_permits() == 0 {
                if let Some(left_out) = crate::log_limit::allow("tcp server: connection limit") {
                    tracing::warn!(
                        max_connections = options.max_connections,
                        left_out,
                        "connection limit reached: new connections wait in the listen queue"
                    );
                }
            }
            let slot = tokio::select! {
                _ = handle.stopping() => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            tokio::select! {
                _ = handle.stopping() => break,
                accepted = listener.accept() => match accepted {
                    Ok((socket, peer)) => {
                        let _ = socket.set_nodelay(true);
                        let connection = ConnectionCtx {
                            router: router.clone(),
                            handle: handle.clone(),
                            tasks: tasks.clone(),
                            peer,
                            max_frame_units: options.max_frame_units,
                            incomplete_timeout: options.incomplete_timeout,
                            frame_deadline: options.frame_deadline,
                            max_send_buffer: options.max_send_buffer,
                            in_flight: Arc::new(Semaphore::new(options.max_in_flight.max(1))),
                            max_in_flight: options.max_in_flight.max(1),
                            idle_timeout: options.idle_timeout,
                            budget: budget.clone(),
                        };
                        #[cfg(feature = "tls")]
                        if let Some(acceptor) = acceptor.clone() {
                            tasks.spawn(async move {
                                connection.run_tls(acceptor, socket).await;
                                drop(slot);
                            });
                            continue;
                        }
                        tasks.spawn(async move {
                            let (read, write) = socket.into_split();
                            connection.run(read, write).await;
                            drop(slot);
                        });
                    }
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        if let Some(left_out) = crate::log_limit::allow("tcp server: accept failed") {
                            tracing::warn!(%error, left_out, "accept failed");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        tasks.close();
        tokio::select! {
            _ = tasks.wait() => {}
            _ = tokio::time::sleep(options.grace_period) => {
                tracing::warn!(in_flight = tasks.len(), "grace period over; closing connections");
                handle.kill();
                tasks.wait().await;
            }
            _ = handle.killed() => tasks.wait().await,
        }
        tracing::info!(?addr, "microservice stopped");
    }
}

struct ConnectionCtx {
    router: Arc<MessageRouter>,
    handle: ShutdownHandle,
    tasks: TaskTracker,
    peer: SocketAddr,
    max_frame_units: usize,
    incomplete_timeout: Duration,
    frame_deadline: Option<Duration>,
    max_send_buffer: Option<usize>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    idle_timeout: Option<Duration>,
    budget: Arc<FrameBudget>,
}

/// One connection's replies on their way to its socket, counted in bytes until the writer
/// hands them to the socket (Nest's `maxSendBufferSize`).
#[derive(Clone)]
struct ReplyQueue {
    tx: mpsc::Sender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    limit: Option<usize>,
    closed: CancellationToken,
    peer: SocketAddr,
}

impl ReplyOut for ReplyQueue {
    fn send(&self, body: Vec<u8>) -> impl Future<Output = bool> + Send {
        let len = body.len();
        let queued = self.queued.fetch_add(len, Ordering::Relaxed) + len;
        let over = self.limit.filter(|limit| queued > *limit);
        if let Some(limit) = over {
            if !self.closed.is_cancelled() {
                tracing::warn!(peer = %self.peer, queued, limit, "the peer lets its replies pile up unread (maxSendBufferSize); closing the connection");
            }
            self.closed.cancel();
        }
        let sent = (over.is_none()).then(|| self.tx.send(body));
        async move {
            match sent {
                Some(sent) => sent.await.is_ok(),
                None => false,
            }
        }
    }
}

impl ConnectionCtx {
    /// [`run`](Self::run) over TLS, after the handshake (bounded by `incomplete_timeout`).
    #[cfg(feature = "tls")]
    async fn run_tls(self, acceptor: tokio_rustls::TlsAcceptor, socket: tokio::net::TcpStream) {
        let handshake = tokio::select! {
            handshake = tokio::time::timeout(self.incomplete_timeout, acceptor.accept(socket)) => handshake,
            _ = self.handle.stopping() => return,
        };
        match handshake {
            Ok(Ok(stream)) => {
                let (read, write) = tokio::io::split(stream);
                self.run(read, write).await;
            }
            Ok(Err(error)) => {
                if let Some(left_out) = crate::log_limit::allow("tcp server: TLS handshake") {
                    tracing::warn!(peer = %self.peer, %error, left_out, "TLS handshake failed; closing the connection");
                }
            }
            Err(_) => {
                if let Some(left_out) = crate::log_limit::allow("tcp server: TLS handshake") {
                    tracing::warn!(peer = %self.peer, within = ?self.incomplete_timeout, left_out, "TLS handshake unfinished; closing the connection");
                }
            }
        }
    }

    async fn run<R, W>(self, read: R, write: W)
    where
        R: tokio::io::AsyncRead + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        // Replies wait for the socket in a queue as long as the in-flight limit: with the
        // requests being handled, at most twice the limit per connection.
        let (tx, mut queue) = mpsc::channel::<Vec<u8>>(self.in_flight.available_permits().max(1));
        let closed = self.handle.hard_token().child_token();
        let queued = Arc::new(AtomicUsize::new(0));
        let out = ReplyQueue {
            tx,
            queued: queued.clone(),
            limit: self.max_send_buffer,
            closed: closed.clone(),
            peer: self.peer,
        };

        let writer_closed = closed.clone();
        let peer = self.peer;
        // Every in-flight handler holds a sender, and so does the reading loop: more than one
        // means more replies are coming.
        let senders = out.tx.downgrade();
        let writer = self.tasks.spawn(async move {
            let busy = || senders.strong_count() > 1;
            let written = |bytes| {
                queued.fetch_sub(bytes, Ordering::Relaxed);
            };
            tokio::select! {
                result = write_frames(write, &mut queue, busy, written) => if let Err(error) = result {
                    tracing::debug!(%peer, %error, "write failed");
                    writer_closed.cancel();
                },
                _ = writer_closed.cancelled() => {}
            }
        });

        let codec = NestCodec::new(self.max_frame_units)
            .with_budget(self.budget.hook(peer, closed.clone()));
        let mut frames = FramedRead::new(read, codec);
        loop {
            // A request in flight holds a permit until its reply is queued: with none left, the
            // connection is not read (the peer's writes wait in its socket).
            let permit = tokio::select! {
                permit = self.in_flight.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = closed.cancelled() => break,
                _ = self.handle.stopping() => break,
            };
            // Idle: nothing in flight (this permit is the only one taken) at both ends of an
            // `idle_timeout` window without a whole request: closed after one to two windows.
            let idle = || self.in_flight.available_permits() + 1 == self.max_in_flight;
            let mut frame = std::pin::pin!(next_frame(
                &mut frames,
                self.incomplete_timeout,
                self.frame_deadline,
            ));
            let next = loop {
                let idle_at_start = idle();
                tokio::select! {
                    next = &mut frame => break Some(next),
                    _ = closed.cancelled() => break None,
                    _ = self.handle.stopping() => break None,
                    () = sleep_for(self.idle_timeout) => {
                        if idle_at_start && idle() {
                            tracing::debug!(%peer, "idle past the idle timeout; closing the connection");
                            break None;
                        }
                    }
                }
            };
            let Some(next) = next else { break };
            match next {
                Some(Ok(frame)) => {
                    if let Err(error) = self.dispatch(frame, &out, permit) {
                        if let Some(left_out) =
                            crate::log_limit::allow("tcp server: invalid message")
                        {
                            tracing::error!(%peer, %error, left_out, "The invalid received message from tcp server; closing the connection");
                        }
                        closed.cancel();
                        break;
                    }
                }
                Some(Err(error @ CodecError::CorruptLength { .. })) => {
                    if let Some(left_out) = crate::log_limit::allow("tcp server: corrupt length") {
                        tracing::error!(%peer, %error, left_out, "Corrupted length value of the received data supplied in a packet; closing the connection");
                    }
                    closed.cancel();
                    break;
                }
                // A socket error or a TLS peer gone without `close_notify` (Node's sockets
                // often are): the connection is over, nothing was malformed.
                Some(Err(CodecError::Io(error))) => {
                    tracing::debug!(%peer, %error, "connection closed by an I/O error");
                    closed.cancel();
                    break;
                }
                Some(Err(CodecError::OverBudget { .. })) => {
                    // The budget said so, once per window.
                    closed.cancel();
                    break;
                }
                Some(Err(error)) => {
                    if let Some(left_out) = crate::log_limit::allow("tcp server: invalid frame") {
                        tracing::error!(%peer, %error, left_out, "The invalid received message from tcp server; closing the connection");
                    }
                    closed.cancel();
                    break;
                }
                None => break,
            }
        }
        // The writer ends once every in-flight handler has dropped its sender.
        drop(out);
        let _ = writer.await;
    }

    /// Routes one frame; its work holds `permit` until done. Only invalid JSON is an error
    /// (it closes the connection).
    fn dispatch(
        &self,
        frame: Bytes,
        out: &ReplyQueue,
        permit: OwnedSemaphorePermit,
    ) -> serde_json::Result<()> {
        let hard = self.handle.hard_token().clone();
        match dispatch(&self.router, &frame, None, None)? {
            Dispatch::Request { id, reply } => {
                let out = out.clone();
                run_or_spawn(&self.tasks, async move {
                    tokio::select! {
                        _ = async { send_replies(reply.await, Some(&id), &out).await } => {}
                        _ = hard.cancelled() => {}
                    }
                    drop(permit);
                });
            }
            Dispatch::NoHandler { id } => {
                let mut body = Vec::with_capacity(128);
                encode_reply(&mut body, Reply::NoHandler, Some(&id));
                let out = out.clone();
                run_or_spawn(&self.tasks, async move {
                    let _ = out.send(body).await;
                    drop(permit);
                });
            }
            Dispatch::Events(runs) => {
                let permit = Arc::new(permit);
                for run in runs {
                    let (hard, permit) = (hard.clone(), permit.clone());
                    run_or_spawn(&self.tasks, async move {
                        tokio::select! {
                            _ = run => {}
                            _ = hard.cancelled() => {}
                        }
                        drop(permit);
                    });
                }
            }
            Dispatch::Ignored => {}
        }
        Ok(())
    }
}

impl Server for TcpServer {
    fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(TcpServer::local_addr(self))
    }

    fn serve(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(TcpServer::serve(*self))
    }
}

impl Transport {
    /// `{ transport: Transport.TCP, options: { host, port } }`: listen on `addr`
    /// (`host:port`).
    pub fn tcp(addr: impl Into<String>) -> Self {
        Self::tcp_with(addr, ServerOptions::default())
    }

    /// [`tcp`](Self::tcp) with `options` (grace period, frame limits).
    pub fn tcp_with(addr: impl Into<String>, options: ServerOptions) -> Self {
        let addr: String = addr.into();
        Transport::from_fn(format!("tcp://{addr}"), move |router| {
            let (addr, options) = (addr.clone(), options.clone());
            async move { TcpServer::bind_with(&*addr, router, options).await }
        })
    }
}

/// Sleeps for `duration`, or forever without one.
async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
