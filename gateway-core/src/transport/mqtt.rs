//! The MQTT transport (feature `mqtt`), byte-compatible with Nest's `Transport.MQTT`
//! (nest-wire.md §6): a request is published (QoS 0) on the normalized pattern as topic,
//! its replies come on `<topic>/reply`, an event is published on the topic with no id.
//!
//! - Client: one MQTT connection per client proxy (rumqttc). Before the first request for a
//!   route it subscribes to `<route>/reply`; the broker handles one connection's packets in
//!   order, so the subscription is in place before the request it precedes. When the
//!   connection drops, every pending call fails with `ConnectionLost` and the next call
//!   reconnects (subscribing again).
//! - Server: [`MqttServer`] subscribes to every handler route and replies on
//!   `<topic>/reply`; it reconnects and resubscribes by itself.
//! - An MQTT broker drops messages nobody subscribes to, so a request for a pattern no
//!   service handles is never answered (as in Nest): the call ends at its deadline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::RpcError;
use crate::packet::{slice_of, Incoming, Response};
use crate::server::{send_replies, MessageContext, MessageRouter};

/// Nest's default MQTT URL.
pub const DEFAULT_MQTT_URL: &str = "mqtt://127.0.0.1:1883";

/// The largest packet either way (rumqttc's default is 10 kB; Mosquitto's is 256 MB).
const MAX_PACKET: usize = 64 * 1024 * 1024;

/// Client ids must be unique per broker.
fn client_id(role: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "gateway-{role}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(url: &str, role: &str) -> Result<MqttOptions, String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("{url} is not an mqtt:// URL"))?;
    let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port in {url}"))?,
        ),
        None => (rest, 1883),
    };
    let mut options = MqttOptions::new(client_id(role), host, port);
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_clean_session(true);
    Ok(options)
}

/// The client's reply subscriptions.
pub(crate) struct ReplyTopics {
    client: AsyncClient,
    topics: Mutex<HashSet<String>>,
}

/// Publishes one packet: a request (after subscribing to its replies if needed) or an event.
pub(crate) async fn publish(
    replies: &ReplyTopics,
    route: &str,
    id: Option<u64>,
    body: Vec<u8>,
) -> Result<(), Arc<str>> {
    if id.is_some() {
        let topic = format!("{route}/reply");
        let new = replies
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(topic.clone());
        if new {
            replies
                .client
                .subscribe(topic, QoS::AtMostOnce)
                .await
                .map_err(|e| Arc::from(e.to_string()))?;
        }
    }
    replies
        .client
        .publish(route, QoS::AtMostOnce, false, body)
        .await
        .map_err(|e| Arc::from(e.to_string()))
}

/// The client side: see the module docs.
pub(crate) struct MqttClient {
    service: Arc<str>,
    url: Arc<str>,
    current: Mutex<Option<Arc<Connection>>>,
    dialling: tokio::sync::Mutex<()>,
}

impl MqttClient {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        MqttClient {
            service,
            url,
            current: Mutex::new(None),
            dialling: tokio::sync::Mutex::new(()),
        }
    }

    fn live(&self) -> Option<Arc<Connection>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    fn unavailable(&self, reason: impl std::fmt::Display) -> RpcError {
        RpcError::Connect {
            service: self.service.clone(),
            addr: self.url.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotConnected, reason.to_string()),
        }
    }

    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _dialling = self.dialling.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let options = options(&self.url, "client").map_err(|e| self.unavailable(e))?;
        let (client, mut events) = AsyncClient::new(options, 1024);
        let conn = Connection::new(Sink::Mqtt {
            replies: ReplyTopics {
                client: client.clone(),
                topics: Mutex::new(HashSet::new()),
            },
        });
        let (connected, is_connected) = oneshot::channel::<Result<(), String>>();
        let reader = conn.clone();
        let service = self.service.clone();
        tokio::spawn(async move {
            let mut connected = Some(connected);
            loop {
                let event = tokio::select! {
                    event = events.poll() => event,
                    _ = reader.closed_token().cancelled() => break,
                };
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(tx) = connected.take() {
                            let _ = tx.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(message))) => {
                        let frame: Bytes = message.payload;
                        match serde_json::from_slice::<Response>(&frame) {
                            Ok(packet) => reader.pending.deliver(&frame, &packet),
                            Err(error) => {
                                tracing::debug!(%service, %error, "a reply that is not JSON was ignored")
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        match connected.take() {
                            Some(tx) => drop(tx.send(Err(error.to_string()))),
                            None => {
                                tracing::warn!(%service, %error, "MQTT connection lost; pending calls fail")
                            }
                        }
                        reader.close(CONNECTION_CLOSED.into());
                        break;
                    }
                }
            }
            let _ = client.disconnect().await;
        });
        match tokio::time::timeout(Duration::from_secs(3), is_connected).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                return Err(self.unavailable(format!("cannot connect to MQTT: {error}")))
            }
            _ => {
                conn.close(CONNECTION_CLOSED.into());
                return Err(self.unavailable("connecting to MQTT timed out"));
            }
        }
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    pub fn current_pending(&self) -> usize {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |c| c.pending.len())
    }

    pub fn close(&self) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = current {
            conn.close(CONNECTION_CLOSED.into());
        }
    }
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// A microservice on MQTT. Nest's `Transport.MQTT` server.
///
/// ```no_run
/// # use gateway_core::server::MessageRouter;
/// # use gateway_core::transport::mqtt::MqttServer;
/// # async fn demo(router: MessageRouter) -> Result<(), Box<dyn std::error::Error>> {
/// let server = MqttServer::connect("mqtt://127.0.0.1:1883", router).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct MqttServer {
    client: AsyncClient,
    events: EventLoop,
    url: String,
    router: Arc<MessageRouter>,
    stop: CancellationToken,
}

/// Stops a running [`MqttServer`] from elsewhere.
#[derive(Debug, Clone)]
pub struct MqttShutdown(CancellationToken);

impl MqttShutdown {
    /// Stops receiving, lets in-flight handlers finish (within 10 s), then returns from `serve`.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl MqttServer {
    /// Connects to the broker at `url` (`mqtt://host:port`). Fails if it cannot, or if the
    /// router has a pattern registered twice.
    pub async fn connect(url: &str, router: MessageRouter) -> Result<Self, ServerError> {
        if let Some(route) = router.duplicate_routes().first() {
            return Err(ServerError::DuplicatePattern {
                route: route.clone(),
            });
        }
        let refused = |e: String| ServerError::Bind {
            addr: url.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e),
        };
        let options = options(url, "server").map_err(refused)?;
        let (client, mut events) = AsyncClient::new(options, 1024);
        // Wait for the broker's ConnAck, so a dead broker fails here.
        let connack = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(error) => return Err(error.to_string()),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(3), connack)
            .await
            .map_err(|_| refused("connecting timed out".into()))?
            .map_err(refused)?;
        Ok(MqttServer {
            client,
            events,
            url: url.to_owned(),
            router: Arc::new(router),
            stop: CancellationToken::new(),
        })
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> MqttShutdown {
        MqttShutdown(self.stop.clone())
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        let stop = self.stop.clone();
        let serve = self.serve();
        tokio::pin!(serve);
        tokio::select! {
            _ = &mut serve => return,
            _ = signal => stop.cancel(),
        }
        serve.await;
    }

    /// Serves until stopped, reconnecting and resubscribing whenever the broker goes away.
    pub async fn serve(self) {
        let MqttServer {
            client,
            mut events,
            url,
            router,
            stop,
        } = self;
        let routes: Vec<String> = router
            .message_routes()
            .chain(router.event_routes())
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let subscribe = |client: AsyncClient, routes: Vec<String>| async move {
            for route in routes {
                if let Err(error) = client.subscribe(route.clone(), QoS::AtMostOnce).await {
                    tracing::error!(topic = %route, %error, "cannot subscribe");
                }
            }
        };
        subscribe(client.clone(), routes.clone()).await;
        tracing::info!(%url, routes = ?routes, "microservice listening on MQTT");
        let tasks = TaskTracker::new();
        loop {
            let event = tokio::select! {
                event = events.poll() => event,
                _ = stop.cancelled() => break,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // A reconnect: the session is clean, subscribe again.
                    tokio::spawn(subscribe(client.clone(), routes.clone()));
                }
                Ok(Event::Incoming(Packet::Publish(message))) => {
                    let router = router.clone();
                    let client = client.clone();
                    tasks.spawn(async move {
                        handle(&router, client, message.topic, message.payload).await
                    });
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%url, %error, "MQTT connection lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.cancelled() => break,
                    }
                }
            }
        }
        tasks.close();
        // Keep the event loop turning while the last replies go out.
        let drain = async {
            loop {
                if events.poll().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = tasks.wait() => {}
            _ = drain => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {
                tracing::warn!("MQTT shutdown: handlers still running after the grace period");
            }
        }
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    }
}

/// One message on a handler's topic: a request (with an `id`) answered on `<topic>/reply`, or
/// an event.
async fn handle(router: &MessageRouter, client: AsyncClient, topic: String, frame: Bytes) {
    let packet = match Incoming::parse(&frame) {
        Ok(packet) => packet,
        Err(error) => {
            tracing::error!(topic, %error, "a message that is not JSON was ignored");
            return;
        }
    };
    let data = packet
        .data
        .map_or_else(|| Bytes::from_static(b"null"), |d| slice_of(&frame, d));
    match packet.id {
        Some(id) => {
            let Some(handler) = router.message_by_route(&topic) else {
                tracing::warn!(topic, "a request for an event-only pattern was ignored");
                return;
            };
            let id = slice_of(&frame, id);
            let reply = MessageContext::new(topic.clone(), Vec::new()).scope(handler(data));
            let reply_topic = format!("{topic}/reply");
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
            let publish = async {
                while let Some(body) = rx.recv().await {
                    if let Err(error) = client
                        .publish(reply_topic.clone(), QoS::AtMostOnce, false, body)
                        .await
                    {
                        tracing::warn!(%error, "a reply could not be published");
                    }
                }
            };
            let produce = async move { send_replies(reply.await, Some(&id), &tx).await };
            tokio::join!(produce, publish);
        }
        None => {
            for handler in router.events_by_route(&topic) {
                let context = MessageContext::new(topic.clone(), Vec::new());
                context.scope(handler(data.clone())).await;
            }
        }
    }
}
