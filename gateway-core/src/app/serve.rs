//! The HTTP server loop: hyper's HTTP/1 with a timer (without one, hyper's header deadline is
//! silently off), the limits a public server needs, a bound on open connections, and a
//! graceful stop that lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use futures_util::future::Either;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// hyper's limit on a request's headers when none is set (its `DEFAULT_MAX_HEADERS`).
const HYPER_MAX_HEADERS: usize = 100;

/// The HTTP server's limits ([`NestApplication::set_http_limits`](super::NestApplication::set_http_limits)),
/// as Node's and nginx's defaults set them where they have one.
///
/// | limit | default | Node | what happens |
/// | --- | --- | --- | --- |
/// | [`header_read_timeout`](Self::header_read_timeout) | 10 s | `headersTimeout` 60 s | from a request's first byte (or a new connection's start) until its head is read; past it the connection is answered 408 and closed: slowloris |
/// | [`keep_alive_timeout`](Self::keep_alive_timeout) | 5 s | `keepAliveTimeout` 5 s | how long a kept-alive connection may wait, after its last answer, for the first byte of its next request; past it the connection closes quietly (a client sees it as Node's) |
/// | [`max_header_bytes`](Self::max_header_bytes) | 16 KiB | `maxHeaderSize` 16 KiB | a larger head is answered 431 and the connection closed, as Node does |
/// | [`max_headers`](Self::max_headers) | 100 | `maxHeadersCount` 2000 (counted, not refused) | more is answered 431 |
/// | [`max_connections`](Self::max_connections) | 10 000 | unlimited | past it new connections wait in the listen queue (never accepted and left hanging); logged |
/// | [`body_read_timeout`](Self::body_read_timeout) | 60 s | `requestTimeout` 300 s | a body (`#[body]`, raw or multipart) still arriving is answered 408 and the connection closed |
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// See the table; `None`: no deadline.
    pub header_read_timeout: Option<Duration>,
    /// See the table; `None`: kept-alive connections wait as long as `header_read_timeout`
    /// (with no header deadline either, forever).
    pub keep_alive_timeout: Option<Duration>,
    /// The largest request head, in bytes (at least 8 KiB).
    pub max_header_bytes: usize,
    /// The most header lines in a request.
    pub max_headers: usize,
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long a request body may take to arrive, whole.
    pub body_read_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Some(Duration::from_secs(10)),
            keep_alive_timeout: Some(Duration::from_secs(5)),
            max_header_bytes: 16 * 1024,
            max_headers: HYPER_MAX_HEADERS,
            max_connections: 10_000,
            body_read_timeout: crate::http::DEFAULT_BODY_READ_TIMEOUT,
        }
    }
}

/// The listen queue of [`bind`]: 4096, capped by the kernel's `somaxconn` (Linux's default
/// since 5.4; Go asks for `somaxconn` too). nginx's and Node's 511 was measured too short: a
/// burst of 1000 connections on loopback overflowed it in one run of three (201 SYNs
/// dropped, the slowest request 1.08 s, a SYN retransmit), where 4096 dropped none in three
/// (slowest 264 ms; `examples/tests/abuse.rs`, "connection burst").
pub(crate) const BACKLOG: u32 = 4096;

/// A listener on `addr` with [`BACKLOG`].
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `service` on `listener` until `stop` completes, then closes idle connections, lets
/// the others finish their request, and returns once every connection is closed.
pub(crate) async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: HttpLimits,
    stop: impl Future<Output = ()> + Send,
) where
    S: Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let graceful = Arc::new(Graceful::default());
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = http1::Builder::new();
    builder
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8 * 1024));
    // hyper's own limit is 100 headers, kept on the stack; a limit set explicitly (even 100)
    // makes it allocate and fill a table of that size for every request (~1.7k instructions).
    if limits.max_headers != HYPER_MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    // hyper has one deadline for a request's head, which it starts when it waits for one: the
    // keep-alive deadline is that timer, shortened while no byte of the next request came.
    let keep_alive = match (limits.keep_alive_timeout, limits.header_read_timeout) {
        (Some(idle), Some(head)) if idle < head => Some(idle),
        (Some(idle), None) => {
            // No header deadline but a keep-alive one: a head may take a year.
            builder.header_read_timeout(Duration::from_secs(365 * 24 * 3600));
            Some(idle)
        }
        _ => None,
    };
    if keep_alive.is_none() {
        builder.timer(TokioTimer::new());
    }
    tokio::pin!(stop);
    loop {
        // A slot first: at the limit, new connections wait in the listen queue.
        let slot = if slots.available_permits() == 0 {
            if let Some(left_out) = crate::log_limit::allow("http: connection limit") {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    left_out,
                    "connection limit reached: new connections wait in the listen queue"
                );
            }
            tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                () = &mut stop => break,
            }
        } else {
            slots.clone().acquire_owned().await
        };
        let Ok(slot) = slot else { break };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_per_connection(&error) => continue,
                Err(error) => {
                    // Out of file descriptors and the like: back off, say so (not once per try).
                    if let Some(left_out) = crate::log_limit::allow("http: accept failed") {
                        tracing::error!(%error, left_out, "accept failed; backing off");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = service.clone();
        let hyper_service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            if chunked_twice(request.headers()) {
                // RFC 9112 §6.1: chunked is applied once; a body framed otherwise cannot be
                // trusted, nor anything after it on the connection.
                let refused = crate::http::HttpException::bad_request(()).closing();
                return Either::Left(std::future::ready(Ok(
                    axum::response::IntoResponse::into_response(refused),
                )));
            }
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            let mut service = service.clone();
            Either::Right(service.call(request))
        });
        // No upgrades: the app has no WebSocket routes.
        let connection = match keep_alive {
            None => builder.serve_connection(TokioIo::new(Counted::plain(stream)), hyper_service),
            Some(idle) => {
                let (stream, timer) = Counted::timed(stream, idle);
                let mut builder = builder.clone();
                builder.timer(timer);
                builder.serve_connection(TokioIo::new(stream), hyper_service)
            }
        };
        let connection = Watched {
            connection: Box::pin(connection),
            graceful: graceful.clone(),
            key: None,
            closing: false,
        };
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.stop();
    connections.close();
    connections.wait().await;
}

/// The server's stop, as every connection task sees it: a flag read on each poll (one atomic
/// load) and the tasks' wakers, registered once per connection, woken when it is set. (hyper-
/// util's `GracefulShutdown` polls a watch channel on every poll of every connection: a
/// thousand instructions per request here.)
#[derive(Default)]
struct Graceful {
    stopping: AtomicBool,
    next: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Graceful {
    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        for waker in wakers.values() {
            waker.wake_by_ref();
        }
    }
}

/// A connection that finishes its request and closes once the server stops.
struct Watched<C> {
    connection: Pin<Box<C>>,
    graceful: Arc<Graceful>,
    key: Option<u64>,
    closing: bool,
}

/// What a served connection is: a future that can be told to finish and close.
trait GracefulConnection: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S> GracefulConnection for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = &mut *self;
        if !this.closing {
            if this.key.is_none() {
                // Once per connection: a spawned task keeps its waker.
                let key = this.graceful.next.fetch_add(1, Ordering::Relaxed);
                this.graceful
                    .wakers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, cx.waker().clone());
                this.key = Some(key);
            }
            // Read after registering: a stop between the two still wakes this task.
            if this.graceful.stopping.load(Ordering::SeqCst) {
                this.closing = true;
                this.connection.as_mut().graceful_shutdown();
            }
        }
        this.connection.as_mut().poll(cx)
    }
}

impl<C> Drop for Watched<C> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.graceful
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
        }
    }
}

/// A connection's socket that counts its reads, for its [`KeepAliveTimer`].
struct Counted {
    stream: tokio::net::TcpStream,
    reads: Option<Arc<AtomicU64>>,
}

impl Counted {
    fn plain(stream: tokio::net::TcpStream) -> Self {
        Counted {
            stream,
            reads: None,
        }
    }

    /// `stream`, and the timer of its connection, which closes it after `idle` between
    /// requests.
    fn timed(stream: tokio::net::TcpStream, idle: Duration) -> (Self, KeepAliveTimer) {
        let reads = Arc::new(AtomicU64::new(0));
        let timer = KeepAliveTimer {
            reads: reads.clone(),
            idle,
            heads: AtomicU64::new(0),
        };
        let stream = Counted {
            stream,
            reads: Some(reads),
        };
        (stream, timer)
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let (Some(reads), true) = (&self.reads, buf.filled().len() > before) {
            // One writer: this connection's task.
            reads.store(reads.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        read
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One connection's hyper timer. hyper asks it for one sleep per request head, ending at the
/// header deadline; from the second request on, the sleep ends `idle` after it starts instead,
/// unless a byte of the request arrives first, which moves it back to the header deadline.
struct KeepAliveTimer {
    reads: Arc<AtomicU64>,
    idle: Duration,
    heads: AtomicU64,
}

impl hyper::rt::Timer for KeepAliveTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(std::time::Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let first = self.heads.fetch_add(1, Ordering::Relaxed) == 0;
        let idle_until = tokio::time::Instant::now() + self.idle;
        let waiting = (!first && idle_until < deadline)
            .then(|| (self.reads.clone(), self.reads.load(Ordering::Relaxed)));
        let sleep = tokio::time::sleep_until(match waiting {
            Some(_) => idle_until,
            None => deadline,
        });
        Box::pin(HeadSleep {
            sleep,
            waiting,
            deadline,
        })
    }
}

pin_project_lite::pin_project! {
    /// [`KeepAliveTimer`]'s sleep.
    struct HeadSleep {
        #[pin]
        sleep: tokio::time::Sleep,
        // While no byte has come: the read count, and the count when the sleep began.
        waiting: Option<(Arc<AtomicU64>, u64)>,
        deadline: tokio::time::Instant,
    }
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let Some((reads, at_start)) = this.waiting {
            if reads.load(Ordering::Relaxed) != *at_start {
                // The next request began: its head has until the header deadline.
                *this.waiting = None;
                this.sleep.as_mut().reset(*this.deadline);
            }
        }
        this.sleep.poll(cx)
    }
}

impl hyper::rt::Sleep for HeadSleep {}

/// Whether `chunked` is among a request's transfer codings more than once (in one
/// `Transfer-Encoding` line or several). hyper reads such a body as chunked once.
fn chunked_twice(headers: &hyper::HeaderMap) -> bool {
    let mut chunked = 0;
    for value in headers.get_all(hyper::header::TRANSFER_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for coding in value.split(',') {
            if coding.trim().eq_ignore_ascii_case("chunked") {
                chunked += 1;
            }
        }
    }
    chunked > 1
}

/// Errors of one connection that `accept` reports: the next one may be fine.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
