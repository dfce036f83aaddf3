//! The MQTT transport (feature `mqtt`), byte-compatible with Nest's `Transport.MQTT`
//! (docs/nest-wire.md §6): a request is published (QoS 0) on the normalized pattern as topic,
//! its replies come on `<topic>/reply`, an event is published on the topic with no id.
//!
//! - Client: one MQTT connection per client proxy (rumqttc). Before the first request for a
//!   route it subscribes to `<route>/reply`; the broker handles one connection's packets in
//!   order, so the subscription is in place before the request it precedes. When the
//!   connection drops, every pending call fails with `ConnectionLost` and the next call
//!   reconnects (subscribing again).
//! - Server: [`MqttServer`] subscribes to every handler route and replies on
//!   `<topic>/reply`; it reconnects and resubscribes by itself.
//! - MQTT 5 ([`MqttVersion::V5`]: `ClientOptions::mqtt5`, `MqttServerOptions::v5`, Nest's
//!   `protocolVersion: 5`): the same packets; a call's headers (the trace context among them)
//!   travel as user properties, and a handler reads them from its context.
//! - Writes: rumqttc's event loop writes and flushes every request apart (0.25; upstream
//!   bytebeamio/rumqtt#810), one `writev` a message. On MQTT 3.1.1 the task that turns the
//!   loop writes QoS 0 publishes (requests, events, replies) and the client's reply
//!   subscriptions itself, from an outbox (`transport/outbox.rs`), each batch with one flush:
//!   see `Events::write`. MQTT 5's loop keeps its connection private: it publishes through
//!   rumqttc's own path, as do QoS 1 and 2 publishes (rumqttc's flow control).
//! - An MQTT broker drops messages nobody subscribes to, so a request for a pattern no
//!   service handles is never answered (as in Nest): the call ends at its deadline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::PoisonError;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;

use super::outbox::{Inbox, Outbox};
use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish,
    RpcError, CONNECTION_CLOSED,
};
use crate::server::broker::{broker_server, drain, on_worker, routes, Core};
use crate::server::broker::{mqtt_route, run_or_spawn, serve_routed};
use crate::server::{MessageContext, MessageRouter, ServerError, Transport};

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

/// The MQTT protocol version a client or server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MqttVersion {
    /// MQTT 3.1.1: Nest's default (mqtt.js's `protocolVersion: 4`). No message headers.
    #[default]
    V311,
    /// MQTT 5 (Nest's `protocolVersion: 5`): message headers travel as user properties, so
    /// the trace context does too (a Nest service reads them from
    /// `MqttContext.getPacket().properties.userProperties`).
    V5,
}

/// Where the broker is: `mqtt://host:port`, or `mqtts://host:port` over TLS.
fn parse_url(url: &str) -> Result<(&str, u16, bool), String> {
    let (rest, secure) = match url.split_once("://") {
        Some(("mqtt" | "tcp", rest)) => (rest, false),
        Some(("mqtts" | "ssl" | "tls", rest)) => (rest, true),
        _ => return Err(format!("{url} is not an mqtt:// or mqtts:// URL")),
    };
    match rest.trim_end_matches('/').rsplit_once(':') {
        Some((host, port)) => Ok((
            host,
            port.parse::<u16>()
                .map_err(|_| format!("bad port in {url}"))?,
            secure,
        )),
        None => Ok((rest, if secure { 8883 } else { 1883 }, secure)),
    }
}

/// The socket's transport: plain TCP, or TLS with `tls`'s settings (feature `tls`; without
/// settings, the Mozilla roots).
fn transport(
    url: &str,
    secure: bool,
    #[cfg(feature = "tls")] tls: Option<&crate::tls::TlsOptions>,
) -> Result<rumqttc::Transport, String> {
    if !secure {
        return Ok(rumqttc::Transport::tcp());
    }
    #[cfg(feature = "tls")]
    {
        let _ = url;
        let config = tls
            .cloned()
            .unwrap_or_default()
            .client_config()
            .map_err(|e| e.to_string())?;
        Ok(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(config),
        ))
    }
    #[cfg(not(feature = "tls"))]
    Err(format!("{url}: MQTT over TLS needs the `tls` feature"))
}

/// A client of the broker at `url` speaking `version`, and its event loop (nothing is sent
/// until the loop is polled).
fn client(
    url: &str,
    role: &str,
    version: MqttVersion,
    #[cfg(feature = "tls")] tls: Option<&crate::tls::TlsOptions>,
) -> Result<(Client, Events), String> {
    let (host, port, secure) = parse_url(url)?;
    let transport = transport(
        url,
        secure,
        #[cfg(feature = "tls")]
        tls,
    )?;
    Ok(match version {
        MqttVersion::V311 => {
            let mut options = MqttOptions::new(client_id(role), host, port);
            options
                .set_keep_alive(Duration::from_secs(5))
                .set_max_packet_size(MAX_PACKET, MAX_PACKET)
                .set_clean_session(true)
                .set_transport(transport);
            let (client, mut events) = rumqttc::AsyncClient::new(options, 1024);
            events.set_network_options(network_options());
            (Client::V311(client), Events::V311(Box::new(events)))
        }
        MqttVersion::V5 => {
            let mut options = rumqttc::v5::MqttOptions::new(client_id(role), host, port);
            options
                .set_keep_alive(Duration::from_secs(5))
                .set_max_packet_size(Some(MAX_PACKET as u32))
                .set_clean_start(true)
                .set_transport(transport)
                .set_network_options(network_options());
            let (client, events) = rumqttc::v5::AsyncClient::new(options, 1024);
            (Client::V5(client), Events::V5(Box::new(events)))
        }
    })
}

/// An MQTT client of either protocol version.
#[derive(Clone)]
enum Client {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Client {
    async fn subscribe(&self, topic: String, qos: u8) -> Result<(), String> {
        match self {
            Client::V311(client) => client.subscribe(topic, qos_v4(qos)).await.map_err(text),
            Client::V5(client) => client.subscribe(topic, qos_v5(qos)).await.map_err(text),
        }
    }

    /// Publishes `body` on `topic`; on MQTT 5, `headers` go as user properties (MQTT 3.1.1
    /// has no headers: they are dropped, as Nest drops them).
    async fn publish(
        &self,
        topic: String,
        qos: u8,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> Result<(), String> {
        match self {
            Client::V311(client) => client
                .publish(topic, qos_v4(qos), false, body)
                .await
                .map_err(text),
            Client::V5(client) if headers.is_empty() => client
                .publish(topic, qos_v5(qos), false, body)
                .await
                .map_err(text),
            Client::V5(client) => {
                let properties = rumqttc::v5::mqttbytes::v5::PublishProperties {
                    user_properties: headers.to_vec(),
                    ..Default::default()
                };
                client
                    .publish_with_properties(topic, qos_v5(qos), false, body, properties)
                    .await
                    .map_err(text)
            }
        }
    }

    async fn disconnect(&self) {
        match self {
            Client::V311(client) => drop(client.disconnect().await),
            Client::V5(client) => drop(client.disconnect().await),
        }
    }
}

/// An error as text.
fn text(error: impl std::fmt::Display) -> String {
    error.to_string()
}

/// What the task turning an MQTT 3.1.1 event loop writes itself, in batches
/// ([`Events::write`]).
enum Direct {
    /// A QoS 0 publish: a request, an event or a reply.
    Publish { topic: String, body: Vec<u8> },
    /// A client's subscription to a reply topic; `written` learns once it is on the wire, so
    /// the request after it cannot overtake it.
    Subscribe {
        topic: String,
        written: oneshot::Sender<Result<(), String>>,
    },
}

/// How long a batch's flush may take before the connection is taken for lost (rumqttc's
/// own flush timeout, its connection timeout, is 5 s).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns once `inbox` put messages in `batch`; never without an inbox (MQTT 5) or once
/// every sender is gone (the inbox is then dropped). Cancel safe.
async fn queued(inbox: &mut Option<Inbox<Direct>>, batch: &mut Vec<Direct>) {
    if let Some(open) = inbox {
        if open.recv(batch).await > 0 {
            return;
        }
        *inbox = None;
    }
    std::future::pending().await
}

/// What the event loop brought that the transport acts on.
enum Incoming {
    ConnAck,
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        headers: Vec<(String, String)>,
    },
    Other,
}

/// The event loop of a [`Client`].
enum Events {
    // Boxed (one allocation per connection): the loops are large and of unequal sizes.
    V311(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl Events {
    /// Writes `batch` (emptied) on the connection with one flush. Only on MQTT 3.1.1, whose
    /// `EventLoop` has its connection and session state as public fields: a QoS 0 publish
    /// needs no state; a subscription takes its packet id from the state, as rumqttc's own
    /// loop does with a request.
    ///
    /// Safe beside [`poll`](Self::poll) in a `select!`: rumqttc's loop flushes to the end
    /// after every write and so does this, so a `poll` dropped for a batch was at most in a
    /// flush (its bytes leave with this one), never holding a request it had taken.
    ///
    /// Between a lost connection and the next (a server reconnecting), the batch goes to
    /// `client`'s queue instead, which rumqttc writes once it is connected again.
    async fn write(&mut self, client: &Client, batch: &mut Vec<Direct>) -> Result<(), String> {
        let mut subscriptions = Vec::new();
        let written = match (self, client) {
            (Events::V311(events), Client::V311(client)) => {
                let events = &mut **events;
                async {
                    let Some(network) = events.network.as_mut() else {
                        for message in batch.drain(..) {
                            match message {
                                Direct::Publish { topic, body } => client
                                    .try_publish(topic, QoS::AtMostOnce, false, body)
                                    .map_err(text)?,
                                Direct::Subscribe { topic, written } => {
                                    subscriptions.push(written);
                                    client.try_subscribe(topic, QoS::AtMostOnce).map_err(text)?
                                }
                            }
                        }
                        return Ok(());
                    };
                    for message in batch.drain(..) {
                        let packet = match message {
                            Direct::Publish { topic, body } => Some(Packet::Publish(
                                rumqttc::Publish::new(topic, QoS::AtMostOnce, body),
                            )),
                            Direct::Subscribe { topic, written } => {
                                subscriptions.push(written);
                                let subscribe = rumqttc::Subscribe::new(topic, QoS::AtMostOnce);
                                let request = rumqttc::Request::Subscribe(subscribe);
                                events.state.handle_outgoing_packet(request).map_err(text)?
                            }
                        };
                        if let Some(packet) = packet {
                            network.write(packet).await.map_err(text)?;
                        }
                    }
                    tokio::time::timeout(FLUSH_TIMEOUT, network.flush())
                        .await
                        .map_err(|_| "writing to the broker timed out".to_owned())?
                        .map_err(text)
                }
                .await
            }
            _ => Err("MQTT 5 publishes through rumqttc".to_owned()),
        };
        batch.clear();
        for subscription in subscriptions {
            let _ = subscription.send(written.clone());
        }
        written
    }

    /// Tops `batch` up from `inbox` (see [`Inbox::top_up`]) and [`write`](Self::write)s it.
    async fn write_queued(
        &mut self,
        client: &Client,
        inbox: &mut Option<Inbox<Direct>>,
        batch: &mut Vec<Direct>,
        busy: bool,
    ) -> Result<(), String> {
        if let Some(inbox) = inbox {
            inbox.top_up(batch, busy).await;
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.write(client, batch).await
    }

    /// An event rumqttc has read and not handed out yet, if there is one. Its loop reads what
    /// the socket holds (up to 10 packets) and hands the packets out one `poll` at a time:
    /// taking them here spares building `poll`'s future for each (1.3 kB on MQTT 3.1.1,
    /// 2.7 kB on MQTT 5, moved into place on every call). `poll` takes them first too, so the
    /// order is the same.
    fn buffered(&mut self) -> Option<Incoming> {
        match self {
            Events::V311(events) => events.state.events.pop_front().map(Incoming::from_v4),
            Events::V5(events) => events.state.events.pop_front().map(Incoming::from_v5),
        }
    }

    async fn poll(&mut self) -> Result<Incoming, String> {
        match self {
            Events::V311(events) => events.poll().await.map(Incoming::from_v4).map_err(text),
            Events::V5(events) => events.poll().await.map(Incoming::from_v5).map_err(text),
        }
    }
}

impl Incoming {
    fn from_v4(event: Event) -> Self {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => Incoming::ConnAck,
            Event::Incoming(Packet::Publish(message)) => Incoming::Publish {
                topic: message.topic,
                payload: message.payload,
                qos: message.qos as u8,
                headers: Vec::new(),
            },
            _ => Incoming::Other,
        }
    }

    fn from_v5(event: rumqttc::v5::Event) -> Self {
        use rumqttc::v5::mqttbytes::v5::Packet as Packet5;
        match event {
            rumqttc::v5::Event::Incoming(Packet5::ConnAck(_)) => Incoming::ConnAck,
            rumqttc::v5::Event::Incoming(Packet5::Publish(message)) => Incoming::Publish {
                topic: String::from_utf8_lossy(&message.topic).into_owned(),
                payload: message.payload,
                qos: message.qos as u8,
                headers: message
                    .properties
                    .map(|p| p.user_properties)
                    .unwrap_or_default(),
            },
            _ => Incoming::Other,
        }
    }
}

impl ClientOptions {
    /// A Nest `Transport.MQTT` client (feature `mqtt`) through the broker at `url`
    /// (`mqtt://127.0.0.1:1883`). A pattern no service handles is never answered (the broker
    /// drops the message): such a call ends at its deadline.
    pub fn mqtt(name: impl Into<String>, url: impl Into<String>) -> Self {
        ClientOptions::custom(name, url, || MqttTransport(MqttVersion::V311))
    }

    /// [`mqtt`](Self::mqtt) speaking MQTT 5 (Nest's `protocolVersion: 5`): the call's
    /// headers, the trace context among them, travel as user properties.
    pub fn mqtt5(name: impl Into<String>, url: impl Into<String>) -> Self {
        ClientOptions::custom(name, url, || MqttTransport(MqttVersion::V5))
    }
}

/// The client side: see the module docs.
struct MqttTransport(MqttVersion);

impl ClientTransport for MqttTransport {
    fn name(&self) -> &'static str {
        "mqtt"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(open(context, self.0))
    }
}

/// The socket's options: `TCP_NODELAY` on, as our other transports have it (without it, Nagle's algorithm against the broker's delayed ACK held a reply ~40 ms:
/// a 43 ms p99 at 64 callers); rumqttc's 5 s connect timeout kept.
fn network_options() -> rumqttc::NetworkOptions {
    let mut options = rumqttc::NetworkOptions::new();
    options.set_tcp_nodelay(true);
    options
}

async fn open(context: &ConnectContext, version: MqttVersion) -> Result<Arc<Connection>, RpcError> {
    let (client, mut events) = client(
        context.address(),
        "client",
        version,
        #[cfg(feature = "tls")]
        context.tls(),
    )
    .map_err(|e| context.unavailable(e))?;
    let (direct, mut inbox) = direct_writes(&events);
    let conn = Connection::with_publisher(MqttPublisher {
        client: client.clone(),
        direct,
        reply_routes: Default::default(),
        subscribing: Default::default(),
    });
    let (connected, is_connected) = oneshot::channel::<Result<(), String>>();
    let reader = conn.clone();
    let service = context.service().clone();
    tokio::spawn(async move {
        let mut connected = Some(connected);
        let mut batch = Vec::new();
        loop {
            let event = match events.buffered() {
                Some(event) => Ok(event),
                None => tokio::select! {
                    event = events.poll() => event,
                    () = queued(&mut inbox, &mut batch) => {
                        let busy = reader.pending_calls() > 1;
                        match events.write_queued(&client, &mut inbox, &mut batch, busy).await {
                            Ok(()) => continue,
                            Err(error) => Err(error),
                        }
                    }
                    _ = reader.closed() => break,
                },
            };
            match event {
                Ok(Incoming::ConnAck) => {
                    if let Some(tx) = connected.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
                Ok(Incoming::Publish { payload, .. }) => reader.deliver(payload),
                Ok(Incoming::Other) => {}
                Err(error) => {
                    match connected.take() {
                        Some(tx) => drop(tx.send(Err(error.to_string()))),
                        None => {
                            tracing::warn!(%service, %error, "MQTT connection lost; pending calls fail")
                        }
                    }
                    reader.close(CONNECTION_CLOSED);
                    break;
                }
            }
        }
        client.disconnect().await;
    });
    match tokio::time::timeout(Duration::from_secs(3), is_connected).await {
        Ok(Ok(Ok(()))) => Ok(conn),
        Ok(Ok(Err(error))) => Err(context.unavailable(format!("cannot connect to MQTT: {error}"))),
        _ => {
            conn.close(CONNECTION_CLOSED);
            Err(context.unavailable("connecting to MQTT timed out"))
        }
    }
}

/// How many messages the server serves from what it read before it writes the replies
/// waiting, at most (it writes sooner once nothing more is read).
const READ_BEFORE_WRITE: usize = 64;

/// An outbox for the loop's task to write from, on MQTT 3.1.1 (see [`Events::write`]).
fn direct_writes(events: &Events) -> (Option<Outbox<Direct>>, Option<Inbox<Direct>>) {
    match events {
        Events::V311(_) => {
            let (outbox, inbox) = Outbox::channel();
            (Some(outbox), Some(inbox))
        }
        Events::V5(_) => (None, None),
    }
}

/// The client, and the routes whose reply topic it subscribed to.
struct MqttPublisher {
    client: Client,
    /// Where QoS 0 publishes and subscriptions go on MQTT 3.1.1.
    direct: Option<Outbox<Direct>>,
    /// The routes whose reply topic is subscribed to.
    reply_routes: std::sync::Mutex<HashSet<String, foldhash::fast::FixedState>>,
    /// Held while a route's reply topic is being subscribed to.
    subscribing: tokio::sync::Mutex<()>,
}

impl MqttPublisher {
    /// Whether `route`'s reply topic is subscribed to (and the subscription written).
    fn replies_heard(&self, route: &str) -> bool {
        self.reply_routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(route)
    }

    /// Subscribes to a reply topic; on MQTT 3.1.1, returns once the subscription is written.
    async fn subscribe(&self, topic: String) -> Result<(), String> {
        let Some(direct) = &self.direct else {
            return self.client.subscribe(topic, 0).await;
        };
        let (written, is_written) = oneshot::channel();
        direct
            .send(Direct::Subscribe { topic, written })
            .await
            .map_err(|e| e.to_string())?;
        is_written
            .await
            .unwrap_or_else(|_| Err(CONNECTION_CLOSED.to_owned()))
    }
}

impl Publish for MqttPublisher {
    /// A request (after subscribing to its replies if needed) or an event; its headers as
    /// user properties on MQTT 5 (MQTT 3.1.1 has none).
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
        Box::pin(async move {
            if message.id.is_some() && !self.replies_heard(message.route) {
                // Held while the subscription is written, so that no other request on the
                // route can be published before it (its reply would find no subscriber): a
                // route is in `reply_routes` once its subscription is written.
                let _subscribing = self.subscribing.lock().await;
                if !self.replies_heard(message.route) {
                    let topic = format!("{}/reply", message.route);
                    self.subscribe(topic).await.map_err(Arc::from)?;
                    self.reply_routes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(message.route.to_owned());
                }
            }
            let qos = message.qos.unwrap_or(0);
            match &self.direct {
                Some(direct) if qos == 0 => {
                    let topic = message.route.to_owned();
                    let body = message.body;
                    direct.send(Direct::Publish { topic, body }).await
                }
                _ => self
                    .client
                    .publish(
                        message.route.to_owned(),
                        qos,
                        message.body,
                        message.headers.unwrap_or_default(),
                    )
                    .await
                    .map_err(Arc::from),
            }
        })
    }
}

/// A QoS level (0, 1, 2; anything above is 2).
fn qos_v4(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// [`qos_v4`] for MQTT 5.
fn qos_v5(level: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Settings for an [`MqttServer`] (Nest's MQTT `options`).
#[derive(Debug, Clone, Default)]
pub struct MqttServerOptions {
    /// `subscribeOptions.qos`: the QoS the server subscribes its routes with (default 0). A
    /// message arrives with the lower of its publisher's QoS and this one.
    pub subscribe_qos: u8,
    /// The protocol version (Nest's `protocolVersion`; default 3.1.1). On MQTT 5 the
    /// messages' user properties are the handlers' headers (and carry the trace context).
    pub version: MqttVersion,
    /// The TLS settings for an `mqtts://` URL (feature `tls`): the CA to trust and the
    /// certificate to show. Without them an `mqtts://` URL trusts the Mozilla roots.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsOptions>,
}

impl MqttServerOptions {
    /// Connects with these TLS settings (feature `tls`; see the field).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Speaks MQTT 5 (Nest's `protocolVersion: 5`; see the field).
    pub fn v5(mut self) -> Self {
        self.version = MqttVersion::V5;
        self
    }

    /// Subscribes with QoS `qos` (Nest's `subscribeOptions: { qos }`).
    pub fn subscribe_qos(mut self, qos: u8) -> Self {
        self.subscribe_qos = qos.min(2);
        self
    }
}

impl Transport {
    /// `{ transport: Transport.MQTT, options: { url } }` (feature `mqtt`).
    pub fn mqtt(url: impl Into<String>) -> Self {
        Self::mqtt_with(url, MqttServerOptions::default())
    }

    /// MQTT with every option ([`MqttServerOptions`]).
    pub fn mqtt_with(url: impl Into<String>, options: MqttServerOptions) -> Self {
        let url: String = url.into();
        let describe = match options.version {
            MqttVersion::V311 => format!("{url} (QoS {})", options.subscribe_qos),
            MqttVersion::V5 => format!("{url} (MQTT 5, QoS {})", options.subscribe_qos),
        };
        Transport::from_fn(describe, move |router| {
            let (url, options) = (url.clone(), options.clone());
            async move { MqttServer::connect_with(&url, router, options).await }
        })
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
    client: Client,
    events: Events,
    url: String,
    core: Core,
    options: MqttServerOptions,
}

impl MqttServer {
    /// Connects to the broker at `url` (`mqtt://host:port`). Fails if it cannot, or if the
    /// router has a pattern registered twice.
    pub async fn connect(url: &str, router: MessageRouter) -> Result<Self, ServerError> {
        Self::connect_with(url, router, MqttServerOptions::default()).await
    }

    /// [`connect`](Self::connect) with options (the subscriptions' QoS).
    pub async fn connect_with(
        url: &str,
        router: MessageRouter,
        settings: MqttServerOptions,
    ) -> Result<Self, ServerError> {
        let core = Core::new(router)?;
        let (client, mut events) = client(
            url,
            "server",
            settings.version,
            #[cfg(feature = "tls")]
            settings.tls.as_ref(),
        )
        .map_err(|e| ServerError::connect(url, e))?;
        // Wait for the broker's ConnAck, so a dead broker fails here.
        let connack = async {
            loop {
                match events.poll().await {
                    Ok(Incoming::ConnAck) => return Ok(()),
                    Ok(_) => {}
                    Err(error) => return Err(error),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(3), connack)
            .await
            .map_err(|_| ServerError::connect(url, "connecting timed out"))?
            .map_err(|e| ServerError::connect(url, e))?;
        Ok(MqttServer {
            client,
            events,
            url: url.to_owned(),
            core,
            options: settings,
        })
    }

    /// Serves until stopped, reconnecting and resubscribing whenever the broker goes away.
    ///
    /// The loop runs as a task of the current runtime, on its worker threads, even when the
    /// future is awaited by `#[tokio::main]`'s own thread; dropping the future stops it.
    pub async fn serve(self) {
        on_worker(self.run()).await
    }

    /// The loop [`serve`](Self::serve) runs as a task.
    async fn run(self) {
        let MqttServer {
            client,
            mut events,
            url,
            core,
            options,
        } = self;
        let subscribe_qos = options.subscribe_qos;
        let Core {
            ref router,
            ref stop,
            grace_period,
            ..
        } = core;
        let routes = routes(router);
        let subscribe = move |client: Client, routes: Vec<String>| async move {
            for route in routes {
                if let Err(error) = client.subscribe(route.clone(), subscribe_qos).await {
                    tracing::error!(topic = %route, %error, "cannot subscribe");
                }
            }
        };
        subscribe(client.clone(), routes.clone()).await;
        tracing::info!(%url, routes = ?routes, "microservice listening on MQTT");
        let tasks = TaskTracker::new();
        let (direct, mut inbox) = direct_writes(&events);
        let mut batch = Vec::new();
        // Messages read since the last write: what rumqttc already read is served before the
        // replies are written (one write for a read's worth of messages), up to a bound, so a
        // peer that keeps the socket full does not hold the replies back.
        let mut unwritten = 0usize;
        loop {
            let write_first = unwritten >= READ_BEFORE_WRITE
                && inbox.as_ref().is_some_and(|inbox| !inbox.is_empty());
            // What rumqttc already read comes first (see `Events::buffered`), unless the
            // replies are due or the server is stopping.
            let buffered = if write_first || stop.is_shutdown() {
                None
            } else {
                events.buffered()
            };
            let event = match buffered {
                Some(event) => Ok(event),
                None => tokio::select! {
                    biased;
                    _ = stop.stopping() => break,
                    event = events.poll(), if !write_first => event,
                    () = queued(&mut inbox, &mut batch) => {
                        unwritten = 0;
                        let busy = tasks.len() > 1;
                        match events.write_queued(&client, &mut inbox, &mut batch, busy).await {
                            Ok(()) => continue,
                            Err(error) => {
                                // The next poll meets the lost connection and reconnects.
                                tracing::warn!(%error, "replies could not be published");
                                continue;
                            }
                        }
                    }
                },
            };
            match event {
                Ok(Incoming::ConnAck) => {
                    // A reconnect: the session is clean, subscribe again.
                    tokio::spawn(subscribe(client.clone(), routes.clone()));
                }
                Ok(Incoming::Publish {
                    topic,
                    payload,
                    qos,
                    headers,
                }) => {
                    unwritten += 1;
                    let Some(route) = mqtt_route(&routes, &topic).map(str::to_owned) else {
                        tracing::warn!(%topic, "a message on a topic no handler subscribed to was ignored");
                        continue;
                    };
                    // The event loop must keep turning (replies and pings go through it), so
                    // past the limit a message is dropped, as QoS 0 allows, not queued.
                    let Ok(slot) = core.slots.clone().try_acquire_owned() else {
                        core.at_limit("mqtt", "messages are dropped until a handler finishes");
                        continue;
                    };
                    let router = router.clone();
                    let client = client.clone();
                    let direct = direct.clone();
                    run_or_spawn(&tasks, async move {
                        let _slot = slot;
                        let reply_topic = format!("{topic}/reply");
                        let publish = |body: Vec<u8>| {
                            let (client, direct) = (client.clone(), direct.clone());
                            let topic = reply_topic.clone();
                            async move {
                                let sent = match direct {
                                    Some(direct) => direct
                                        .send(Direct::Publish { topic, body })
                                        .await
                                        .map_err(|e| e.to_string()),
                                    None => client.publish(topic, 0, body, &[]).await,
                                };
                                if let Err(error) = sent {
                                    tracing::warn!(%error, "a reply could not be published");
                                }
                            }
                        };
                        let context = MessageContext::new(topic, headers).with_qos(qos);
                        serve_routed(&router, &route, context, payload, Some(publish)).await;
                    });
                }
                Ok(Incoming::Other) => {}
                Err(error) => {
                    tracing::warn!(%url, %error, "MQTT connection lost; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stop.stopping() => break,
                    }
                }
            }
        }
        // Keep the event loop turning, and the replies leaving, while the handlers finish. A
        // batch is written in a branch's body, which the end of the drain does not cut short.
        let drain = drain(&tasks, grace_period, "mqtt");
        tokio::pin!(drain);
        loop {
            tokio::select! {
                _ = &mut drain => break,
                event = events.poll() => if event.is_err() { break },
                () = queued(&mut inbox, &mut batch) => {
                    let written = events.write_queued(&client, &mut inbox, &mut batch, false);
                    if written.await.is_err() {
                        break;
                    }
                }
            }
        }
        // The last replies, queued as the last handlers ended.
        drop(direct);
        let _ = events
            .write_queued(&client, &mut inbox, &mut batch, false)
            .await;
        client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    }
}

broker_server!(MqttServer);
