//! What the broker transports (NATS, Redis, MQTT, RabbitMQ) share: the client's connection
//! slot and reply delivery, and the server's request handling, reply publishing, reconnect
//! loop and shutdown. Each broker module keeps only what its wire differs in.

// With only some brokers enabled, some helpers have no user.
#![cfg_attr(
    not(all(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq")),
    allow(dead_code)
)]

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::tcp::client::{Connection, CONNECTION_CLOSED};
use crate::client::RpcError;
use crate::packet::{slice_of, Incoming, Response};
use crate::server::{send_replies, HandlerReply, MessageContext, MessageRouter};

/// The connection a broker client holds (its reply subscription and pending table), made on
/// first use; concurrent first calls share one connect.
pub(crate) struct Slot {
    pub service: Arc<str>,
    pub url: Arc<str>,
    current: Arc<Mutex<Option<Arc<Connection>>>>,
    dialling: tokio::sync::Mutex<()>,
}

impl Slot {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        Slot {
            service,
            url,
            current: Arc::default(),
            dialling: tokio::sync::Mutex::new(()),
        }
    }

    pub fn live(&self) -> Option<Arc<Connection>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// The `Connect` error for this service: the broker cannot be reached (503 at the edge).
    pub fn unavailable(&self, reason: impl std::fmt::Display) -> RpcError {
        RpcError::Connect {
            service: self.service.clone(),
            addr: self.url.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotConnected, reason.to_string()),
        }
    }

    /// The live connection, or a new one from `open`.
    pub async fn get_or_open<Fut>(
        &self,
        open: impl FnOnce() -> Fut,
    ) -> Result<Arc<Connection>, RpcError>
    where
        Fut: Future<Output = Result<Arc<Connection>, RpcError>>,
    {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _dialling = self.dialling.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let conn = open().await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    /// Closes the live connection (its pending calls fail with `reason`), from anywhere.
    pub fn closer(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let current = self.current.clone();
        move |reason: &str| {
            let conn = current
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(conn) = conn {
                conn.close(reason.into());
            }
        }
    }

    pub fn current_pending(&self) -> usize {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |c| c.pending.len())
    }

    pub fn close(&self) {
        self.closer()(CONNECTION_CLOSED);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The reader task holds the connection alive; without this it would outlive us.
        self.close();
    }
}

/// Hands one reply packet to its pending call: by the id in its body, or by `id` when the
/// transport correlates outside the body (RabbitMQ). A reply that is not JSON is ignored, as
/// Nest's clients ignore one.
pub(crate) fn deliver(conn: &Connection, service: &str, id: Option<u64>, frame: Bytes) {
    match serde_json::from_slice::<Response>(&frame) {
        Ok(packet) => match id {
            Some(id) => conn.pending.deliver_as(id, &frame, &packet),
            None => conn.pending.deliver(&frame, &packet),
        },
        Err(error) => tracing::debug!(service, %error, "a reply that is not JSON was ignored"),
    }
}

/// Stops a running broker server (`NatsServer`, `RedisServer`, `MqttServer`, `RmqServer`)
/// from elsewhere.
#[derive(Debug, Clone, Default)]
pub struct BrokerShutdown(pub(crate) CancellationToken);

impl BrokerShutdown {
    /// Stops receiving, lets in-flight handlers finish (within the grace period), then
    /// returns from `serve`.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

/// Runs `serve` until it ends or `signal` completes; then stops it and waits for it.
pub(crate) async fn serve_until(
    stop: &BrokerShutdown,
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

/// Runs `session` until it returns `Ok` (stopped), running it again 500 ms after each `Err`
/// (the broker went away), until `stop`.
pub(crate) async fn reconnecting<Fut>(
    stop: &BrokerShutdown,
    broker: &str,
    url: &str,
    mut session: impl FnMut() -> Fut,
) where
    Fut: Future<Output = Result<(), String>>,
{
    while !stop.0.is_cancelled() {
        match session().await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(broker, url, %error, "broker connection lost; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.0.cancelled() => break,
                }
            }
        }
    }
}

/// Waits (within `grace`) for the handlers still running.
pub(crate) async fn drain(tasks: &TaskTracker, grace: Duration, broker: &str) {
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            broker,
            "shutdown: handlers still running after the grace period"
        );
    }
}

/// Every route the router handles, each once, sorted: what a server subscribes to.
pub(crate) fn routes(router: &MessageRouter) -> Vec<String> {
    router
        .message_routes()
        .chain(router.event_routes())
        .map(str::to_owned)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Sends a handler's reply packets through `publish` as they come (Nest's reply packets; `id`
/// echoed in each unless the transport correlates outside the body).
pub(crate) async fn answer<Fut>(
    reply: impl Future<Output = HandlerReply>,
    id: Option<Bytes>,
    mut publish: impl FnMut(Vec<u8>) -> Fut,
) where
    Fut: Future<Output = ()>,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let pump = async {
        while let Some(body) = rx.recv().await {
            publish(body).await;
        }
    };
    let produce = async move { send_replies(reply.await, id.as_deref(), &tx).await };
    tokio::join!(produce, pump);
}

/// One message on a subscribed route (NATS subject, Redis channel, MQTT topic): a request
/// (it has an `id`) answered through `publish` (when the transport gave somewhere to reply),
/// or an event.
pub(crate) async fn handle_routed<Fut>(
    router: &MessageRouter,
    context: MessageContext,
    frame: Bytes,
    publish: Option<impl FnMut(Vec<u8>) -> Fut>,
) where
    Fut: Future<Output = ()>,
{
    let route = context.subject().to_owned();
    let packet = match Incoming::parse(&frame) {
        Ok(packet) => packet,
        Err(error) => {
            tracing::error!(route, %error, "a message that is not JSON was ignored");
            return;
        }
    };
    let data = packet
        .data
        .map_or_else(|| Bytes::from_static(b"null"), |d| slice_of(&frame, d));
    match packet.id {
        Some(id) => {
            let Some(handler) = router.message_by_route(&route) else {
                tracing::warn!(route, "a request for an event-only pattern was ignored");
                return;
            };
            let reply = context.scope(handler(data));
            match publish {
                Some(publish) => answer(reply, Some(slice_of(&frame, id)), publish).await,
                // Nest runs the handler and sends nothing back.
                None => drop(reply.await),
            }
        }
        None => {
            for handler in router.events_by_route(&route) {
                context.clone().scope(handler(data.clone())).await;
            }
        }
    }
}
