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

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;

use super::broker::{self, BrokerShutdown, Slot};
use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::RpcError;
use crate::server::{MessageContext, MessageRouter};

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
    slot: Slot,
}

impl MqttClient {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        MqttClient {
            slot: Slot::new(service, url),
        }
    }

    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        self.slot.get_or_open(|| self.open()).await
    }

    async fn open(&self) -> Result<Arc<Connection>, RpcError> {
        let slot = &self.slot;
        let options = options(&slot.url, "client").map_err(|e| slot.unavailable(e))?;
        let (client, mut events) = AsyncClient::new(options, 1024);
        let conn = Connection::new(Sink::Mqtt {
            replies: ReplyTopics {
                client: client.clone(),
                topics: Mutex::new(HashSet::new()),
            },
        });
        let (connected, is_connected) = oneshot::channel::<Result<(), String>>();
        let reader = conn.clone();
        let service = slot.service.clone();
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
                        broker::deliver(&reader, &service, None, message.payload);
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
            Ok(Ok(Ok(()))) => Ok(conn),
            Ok(Ok(Err(error))) => Err(slot.unavailable(format!("cannot connect to MQTT: {error}"))),
            _ => {
                conn.close(CONNECTION_CLOSED.into());
                Err(slot.unavailable("connecting to MQTT timed out"))
            }
        }
    }

    pub fn current_pending(&self) -> usize {
        self.slot.current_pending()
    }

    pub fn live(&self) -> Option<Arc<Connection>> {
        self.slot.live()
    }

    pub fn close(&self) {
        self.slot.close();
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
    stop: BrokerShutdown,
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
            stop: BrokerShutdown::default(),
        })
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> BrokerShutdown {
        self.stop.clone()
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_until(self, signal: impl std::future::Future<Output = ()>) {
        let stop = self.stop.clone();
        broker::serve_until(&stop, self.serve(), signal).await;
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
        let routes = broker::routes(&router);
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
                _ = stop.0.cancelled() => break,
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
                        let reply_topic = format!("{}/reply", message.topic);
                        let publish = |body: Vec<u8>| {
                            let (client, reply_topic) = (client.clone(), reply_topic.clone());
                            async move {
                                let sent =
                                    client.publish(reply_topic, QoS::AtMostOnce, false, body);
                                if let Err(error) = sent.await {
                                    tracing::warn!(%error, "a reply could not be published");
                                }
                            }
                        };
                        let context = MessageContext::new(message.topic, Vec::new());
                        broker::handle_routed(&router, context, message.payload, Some(publish))
                            .await;
                    });
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%url, %error, "MQTT connection lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.0.cancelled() => break,
                    }
                }
            }
        }
        // Keep the event loop turning while the last replies go out.
        let drain = broker::drain(&tasks, Duration::from_secs(10), "mqtt");
        let turn = async { while events.poll().await.is_ok() {} };
        tokio::select! {
            _ = drain => {}
            _ = turn => {}
        }
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    }
}
