//! What the broker transports' servers (NATS, Redis, MQTT, RabbitMQ) share: the router,
//! shutdown handle and grace period they hold ([`Core`]), the loop that reconnects to a
//! broker, the drain on shutdown, answering through a publish function, and serving a message
//! routed by subject. Declared only when a broker feature is on.

// With only some brokers enabled, some helpers have no user.
#![cfg_attr(
    not(all(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq")),
    allow(dead_code)
)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

use super::dispatch::{dispatch, Dispatch};
use super::reply::answer;
use super::self_wakes::KeepSelfWakes;
use super::serving::check_router;
pub(crate) use super::serving::run_or_spawn;
use super::{MessageContext, MessageRouter, ServerError, ShutdownHandle, DEFAULT_GRACE_PERIOD};

impl ServerError {
    /// A `Connect` error for `url`.
    pub(crate) fn connect(
        url: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ServerError::Connect {
            url: url.to_owned(),
            source: source.into(),
        }
    }
}

/// Runs `session` until it returns `Ok` (stopped), running it again 500 ms after each `Err`
/// (the broker went away), until `stop`.
pub(crate) async fn reconnecting<Fut>(
    stop: &ShutdownHandle,
    broker: &str,
    url: &str,
    mut session: impl FnMut() -> Fut,
) where
    Fut: Future<Output = Result<(), String>>,
{
    while !stop.is_shutdown() {
        match session().await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(broker, url, %error, "broker connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.stopping() => break,
                }
            }
        }
    }
}

/// Runs a server's loop as a task of the runtime, and waits for it. Why: a future awaited by
/// `#[tokio::main]` (or any `block_on`) is polled on that thread, outside the runtime's
/// workers, and a loop polled there is woken across threads whenever a worker's I/O driver
/// sees its socket ready: a futex wake and two context switches a wake-up (measured, 2 000
/// futex calls a second on each side of an MQTT service). As a task it runs on the worker
/// that saw the socket. Dropping the returned future aborts the task, as dropping the loop
/// itself did; a panic in the loop is the caller's again.
///
/// The loop's own wake-ups poll it again in place ([`KeepSelfWakes`]).
pub(crate) async fn on_worker(run: impl Future<Output = ()> + Send + 'static) {
    let task = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(KeepSelfWakes::new(run)));
    if let Err(error) = task.await {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// Waits (within `grace`) for the handlers still running.
pub(crate) async fn drain(tasks: &TaskTracker, grace: Duration, transport: &str) {
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            transport,
            in_flight = tasks.len(),
            "shutdown: handlers still running after the grace period"
        );
    }
}

/// Every route the router handles, each once, sorted: what a broker server subscribes to.
pub(crate) fn routes(router: &MessageRouter) -> Vec<String> {
    router
        .message_routes()
        .chain(router.event_routes())
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// What a broker server holds besides its client library: the router (checked), the
/// shutdown handle, the grace period, and the slots of its handlers in flight.
pub(crate) struct Core {
    pub router: Arc<MessageRouter>,
    pub stop: ShutdownHandle,
    pub grace_period: Duration,
    pub slots: Arc<Semaphore>,
    pub max_in_flight: usize,
}

impl Core {
    /// Checks `router` (see [`check_router`]).
    pub fn new(router: MessageRouter) -> Result<Self, ServerError> {
        check_router(&router)?;
        Ok(Core {
            router: Arc::new(router),
            stop: ShutdownHandle::default(),
            grace_period: DEFAULT_GRACE_PERIOD,
            slots: Arc::new(Semaphore::new(DEFAULT_MAX_IN_FLIGHT)),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        })
    }

    /// At most `max` handlers at once (at least one).
    pub fn set_max_in_flight(&mut self, max: usize) {
        self.max_in_flight = max.max(1);
        self.slots = Arc::new(Semaphore::new(self.max_in_flight));
    }

    /// A slot for the next message's handler, held until it finishes: at the limit, waits for
    /// one (the server reads nothing more from the broker meanwhile, which holds the messages
    /// or applies its own flow control), saying so at a bounded rate. `None` once stopping.
    pub async fn slot(&self, transport: &'static str) -> Option<OwnedSemaphorePermit> {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Some(slot);
        }
        self.at_limit(transport, "reads pause until a handler finishes");
        tokio::select! {
            slot = self.slots.clone().acquire_owned() => slot.ok(),
            () = self.stop.stopping() => None,
        }
    }

    /// Logs, at a bounded rate, that `max_in_flight` handlers are running.
    pub fn at_limit(&self, transport: &'static str, then: &'static str) {
        let kind = match transport {
            "nats" => "nats server: in-flight limit",
            "redis" => "redis server: in-flight limit",
            "mqtt" => "mqtt server: in-flight limit",
            _ => "rmq server: in-flight limit",
        };
        if let Some(left_out) = crate::log_limit::allow(kind) {
            tracing::warn!(
                transport,
                max_in_flight = self.max_in_flight,
                left_out,
                "in-flight handler limit reached; {then}"
            );
        }
    }
}

/// How many handlers a broker server runs at once by default (`max_in_flight`), as the TCP
/// server's per-connection default.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// One message on a subscription (NATS subject, Redis channel, MQTT topic), run to the end:
/// a request answered through `publish` (when the transport gave somewhere to reply; a request
/// for a route with no request handler is ignored, as the subscription was for its events),
/// or its events, one after the other. `route` is the pattern subscribed to, which is how the
/// handler is found (a wildcard's handler gets every subject it matches, as in Nest); the
/// context carries the subject the message came on.
pub(crate) async fn serve_routed<Fut>(
    router: &MessageRouter,
    route: &str,
    context: MessageContext,
    frame: Bytes,
    publish: Option<impl FnMut(Vec<u8>) -> Fut>,
) where
    Fut: Future<Output = ()>,
{
    match dispatch(router, &frame, Some(route), Some(&context)) {
        Err(error) => {
            let subject = context.subject();
            tracing::error!(route, subject, %error, "a message that is not JSON was ignored")
        }
        Ok(Dispatch::Request { id, reply }) => match publish {
            Some(publish) => answer(reply, Some(id), publish).await,
            // Nest runs the handler and sends nothing back.
            None => drop(reply.await),
        },
        Ok(Dispatch::Events(runs)) => {
            for run in runs {
                run.await;
            }
        }
        Ok(Dispatch::NoHandler { .. } | Dispatch::Ignored) => {}
    }
}

/// The route an MQTT topic is handled by: the topic itself, or the first subscribed pattern
/// whose wildcards (`+` one level, `#` the rest) match it, as Nest's MQTT server matches.
pub(crate) fn mqtt_route<'a>(routes: &'a [String], topic: &str) -> Option<&'a str> {
    if let Some(exact) = routes.iter().find(|r| *r == topic) {
        return Some(exact);
    }
    routes
        .iter()
        .find(|pattern| mqtt_matches(pattern, topic))
        .map(String::as_str)
}

fn mqtt_matches(pattern: &str, topic: &str) -> bool {
    // A shared subscription (`$share/<group>/<filter>`) matches as its filter.
    let pattern = match pattern.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, filter)| filter),
        None => pattern,
    };
    let mut levels = topic.split('/');
    for filter in pattern.split('/') {
        match (filter, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (filter, Some(level)) if filter == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// What every broker server (a struct with a `core: Core` field and an inherent
/// `async fn serve(self)`) offers the same way: `grace_period`, `shutdown_handle`,
/// `serve_until`, and its `impl Server`.
macro_rules! broker_server {
    ($server:ident) => {
        impl $server {
            /// How long a graceful shutdown waits for in-flight handlers (default 10 s).
            pub fn grace_period(mut self, grace: std::time::Duration) -> Self {
                self.core.grace_period = grace;
                self
            }

            /// The most handlers running at once (default 1024): past it the server takes no
            /// more messages until one finishes, so a burst cannot spawn without limit. What
            /// arrives meanwhile waits in the broker client or at the broker (RabbitMQ with a
            /// prefetch count); MQTT, whose client must keep reading, drops it instead, as
            /// QoS 0 allows. See the transport's docs.
            pub fn max_in_flight(mut self, max: usize) -> Self {
                self.core.set_max_in_flight(max);
                self
            }

            /// A handle that stops this server.
            pub fn shutdown_handle(&self) -> $crate::server::ShutdownHandle {
                self.core.stop.clone()
            }

            /// Serves until `signal` completes, then shuts down gracefully.
            pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
                let stop = self.core.stop.clone();
                $crate::server::serving::serve_until(&stop, self.serve(), signal).await;
            }
        }

        impl $crate::server::Server for $server {
            fn shutdown_handle(&self) -> $crate::server::ShutdownHandle {
                $server::shutdown_handle(self)
            }

            fn serve(self: Box<Self>) -> futures_util::future::BoxFuture<'static, ()> {
                Box::pin($server::serve(*self))
            }
        }
    };
}
pub(crate) use broker_server;

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_loop_runs_on_a_worker_even_under_block_on() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let caller = std::thread::current().id();
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.block_on(super::on_worker(async move {
            tx.send(std::thread::current().id()).unwrap();
        }));
        assert_ne!(
            rx.recv().unwrap(),
            caller,
            "the loop ran on block_on's thread"
        );
    }

    #[test]
    fn dropping_serve_stops_the_loop_and_a_panic_reaches_the_caller() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        struct Dropped(std::sync::mpsc::Sender<()>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.block_on(async {
            let serving = super::on_worker(async move {
                let _guard = Dropped(tx);
                std::future::pending::<()>().await;
            });
            // Give up on it after it started, as `serve_until`'s caller may.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(50), serving).await;
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("the loop's task was aborted when its future was dropped");

        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(super::on_worker(async { panic!("the loop panicked") }))
        }));
        assert!(caught.is_err(), "the panic reached the caller");
    }

    #[test]
    fn mqtt_wildcards_match_as_in_nest() {
        let routes: Vec<String> = ["math/+", "events/#", "exact", "$share/g/shared/+/x"]
            .map(String::from)
            .to_vec();
        let route = |topic| super::mqtt_route(&routes, topic);
        assert_eq!(route("math/sum"), Some("math/+"));
        assert_eq!(route("math/sum/more"), None);
        assert_eq!(route("events/a/b"), Some("events/#"));
        assert_eq!(route("events"), Some("events/#"));
        assert_eq!(route("exact"), Some("exact"));
        assert_eq!(route("other"), None);
        assert_eq!(route("shared/a/x"), Some("$share/g/shared/+/x"));
    }
}
