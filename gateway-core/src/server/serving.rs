//! What every transport's server shares: the seam a server plugs into ([`ServerTransport`],
//! [`Server`]), the [`ShutdownHandle`], the grace period, and the loops a broker server runs
//! (reconnecting, draining).

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{MessageRouter, ServerError};

/// How long a graceful shutdown waits for in-flight handlers unless told otherwise.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Stops a running server from elsewhere (a signal handler, a test). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle {
    graceful: CancellationToken,
    hard: CancellationToken,
}

impl ShutdownHandle {
    /// Stop accepting and reading; finish in-flight requests within the grace period.
    pub fn shutdown(&self) {
        self.graceful.cancel();
    }

    /// Drop every connection now, as if the process died. In-flight handlers are abandoned.
    pub fn kill(&self) {
        self.graceful.cancel();
        self.hard.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) (or [`kill`](Self::kill)) was called.
    pub fn is_shutdown(&self) -> bool {
        self.graceful.is_cancelled()
    }

    /// Completes once [`shutdown`](Self::shutdown) (or [`kill`](Self::kill)) is called.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + '_ {
        self.graceful.cancelled()
    }

    /// Completes once [`kill`](Self::kill) is called.
    pub fn killed(&self) -> impl Future<Output = ()> + Send + '_ {
        self.hard.cancelled()
    }

    pub(crate) fn hard_token(&self) -> &CancellationToken {
        &self.hard
    }
}

/// A server bound or connected and ready to serve: what [`ServerTransport::start`] returns.
pub trait Server: std::any::Any + Send {
    /// A handle that stops this server.
    fn shutdown_handle(&self) -> ShutdownHandle;

    /// The address a listener bound (TCP), `None` for a broker's subscriber.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Serves until the shutdown handle stops it, then lets in-flight handlers finish within
    /// the grace period.
    fn serve(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// The server side of a transport, as a microservice is given it
/// ([`Transport`](crate::app::Transport)): Nest's `CustomTransportStrategy`. Implement it to
/// serve a [`MessageRouter`] over a transport of your own; hand each incoming packet to the
/// router and send back what it answers.
pub trait ServerTransport: Send + Sync + 'static {
    /// Binds or connects, ready to serve `router`. Fails if the address is taken, the broker
    /// cannot be reached, or `router` has a pattern registered twice
    /// ([`check_router`]).
    fn start(&self, router: MessageRouter) -> BoxFuture<'_, Result<Box<dyn Server>, ServerError>>;

    /// Where the server listens or connects, for logs (`tcp://127.0.0.1:3001`).
    fn describe(&self) -> String;
}

/// Refuses a router with a pattern registered twice (Nest would let the later handler win
/// silently).
pub fn check_router(router: &MessageRouter) -> Result<(), ServerError> {
    match router.duplicate_routes().first() {
        Some(route) => Err(ServerError::DuplicatePattern {
            route: route.clone(),
        }),
        None => Ok(()),
    }
}

/// Runs `serve` until it ends or `signal` completes; then stops it and waits for it.
pub(crate) async fn serve_until(
    stop: &ShutdownHandle,
    serve: impl Future<Output = ()>,
    signal: impl Future<Output = ()>,
) {
    tokio::pin!(serve);
    tokio::select! {
        _ = &mut serve => return,
        _ = signal => stop.shutdown(),
    }
    serve.await;
}

/// How a microservice is reached: Nest's `Transport` with its options. Each transport module
/// adds its constructor ([`tcp`](Self::tcp) always; `nats`, `redis`, `mqtt`, `rmq` with their
/// features); [`custom`](Self::custom) takes a [`ServerTransport`] of your own.
#[derive(Clone)]
pub struct Transport {
    strategy: Arc<dyn ServerTransport>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Transport")
            .field(&self.strategy.describe())
            .finish()
    }
}

impl Transport {
    /// A transport of your own: Nest's `{ strategy: new MyTransport() }`.
    pub fn custom(strategy: impl ServerTransport) -> Self {
        Transport {
            strategy: Arc::new(strategy),
        }
    }

    /// A transport whose server `start` makes from the router: what each transport module's
    /// constructor (`Transport::nats(..)`) is.
    pub(crate) fn from_fn<S, F, Fut>(describe: String, start: F) -> Self
    where
        S: Server,
        F: Fn(MessageRouter) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, ServerError>> + Send + 'static,
    {
        Transport::custom(FnStrategy { describe, start })
    }

    /// Where the server listens or connects, for logs.
    pub fn describe(&self) -> String {
        self.strategy.describe()
    }

    /// Binds or connects, ready to serve `router`.
    pub(crate) async fn start(
        &self,
        router: MessageRouter,
    ) -> Result<Box<dyn Server>, ServerError> {
        self.strategy.start(router).await
    }
}

/// The strategy behind [`Transport::from_fn`].
struct FnStrategy<F> {
    describe: String,
    start: F,
}

impl<S, F, Fut> ServerTransport for FnStrategy<F>
where
    S: Server,
    F: Fn(MessageRouter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, ServerError>> + Send + 'static,
{
    fn start(&self, router: MessageRouter) -> BoxFuture<'_, Result<Box<dyn Server>, ServerError>> {
        let started = (self.start)(router);
        Box::pin(async move { Ok(Box::new(started.await?) as Box<dyn Server>) })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// Runs a message's `work` on the calling task (a broker server's read loop, or a TCP
/// connection's) as far as it goes without waiting, and hands it to `tasks` only when it has
/// to wait (a handler awaiting I/O, a full reply queue).
///
/// Why: most handlers answer without waiting, and a task spawned for each message is run by
/// another worker thread, woken for it, which hands the reply back across threads: measured,
/// 0.75 context switches per message on MQTT (0.45 this way). Run here, the reply is queued
/// before the next message is read, and the replies of a burst leave in one write. Nest runs
/// every handler on its one thread; here a handler's code up to its first wait runs on the
/// read loop, and the rest on the runtime's threads (`docs/guide.md`, "Where a message
/// handler runs").
///
/// The first poll uses a waker that does nothing: a future that is not ready is spawned, and
/// its task polls it again at once, which registers the task's own waker. `work` is boxed
/// before that poll, so what it pinned stays where it is (and a large future moves into its
/// task as a pointer). A panic there (a handler's own panic is caught and answered by the
/// pipeline before it gets here) loses this message only, as it would end only its task.
pub(crate) fn run_or_spawn(tasks: &TaskTracker, work: impl Future<Output = ()> + Send + 'static) {
    let mut work = Box::pin(work);
    let mut cx = Context::from_waker(Waker::noop());
    match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => drop(tasks.spawn(work)),
        Err(_) => tracing::error!("serving a message panicked; that message is lost"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::task::TaskTracker;

    use super::run_or_spawn;

    #[tokio::test]
    async fn work_that_does_not_wait_runs_before_run_or_spawn_returns() {
        let tasks = TaskTracker::new();
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        run_or_spawn(&tasks, async move {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1);
        assert!(tasks.is_empty(), "nothing was spawned");
    }

    #[tokio::test]
    async fn work_that_waits_is_spawned_and_woken_by_its_own_task() {
        let tasks = TaskTracker::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<u32>();
        run_or_spawn(&tasks, async move {
            // Polled first with a waker that does nothing: the task's poll must register its
            // own, or the send below wakes nobody.
            let value = rx.await.unwrap();
            done_tx.send(value + 1).unwrap();
        });
        assert_eq!(tasks.len(), 1, "the waiting work runs as a task");
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.send(41).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        assert_eq!(answer.expect("woken").unwrap(), 42);
        tasks.close();
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("the task ended");
    }

    #[tokio::test]
    async fn a_panic_on_the_first_poll_is_contained() {
        let tasks = TaskTracker::new();
        run_or_spawn(&tasks, async { panic!("boom") });
        // The caller (the read loop) goes on.
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        run_or_spawn(&tasks, async move {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
