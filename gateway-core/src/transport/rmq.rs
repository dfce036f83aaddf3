//! The RabbitMQ transport (feature `rmq`), byte-compatible with Nest's `Transport.RMQ`
//! (docs/nest-wire.md §7): requests go to the service's queue through the default exchange with
//! `reply_to = amq.rabbitmq.reply-to` (direct reply-to) and `correlation_id = <id>`; replies
//! come back correlated by that property (their body has no id); events are sent to the queue
//! with neither.
//!
//! - Both sides declare the queue as amqplib does with Nest's default options (durable, not
//!   exclusive, not auto-deleted, no arguments), so a Nest peer and ours agree on it.
//! - Client: one connection and channel per client proxy, consuming `amq.rabbitmq.reply-to`
//!   (no-ack) before the first publish. When the connection drops, pending calls fail with
//!   `ConnectionLost` and the next call reconnects.
//! - Server: [`RmqServer`] consumes the queue with no-ack (Nest's default `noAck: true`) and
//!   no prefetch limit; several instances on one queue are competing consumers, each message
//!   handled once. It reconnects by itself when the broker comes back.
//! - Exchanges ([`RmqOptions`], Nest 11's `exchange`, `exchangeType`, `routingKey`,
//!   `wildcards`): a server declares its exchange (durable; `topic` unless told otherwise;
//!   named after the queue unless named) and binds its queue to it: with the routing key, with
//!   `''` for a fanout, and with every handler's pattern when `wildcards` is on, in which case
//!   a message is handled by the first handler whose pattern matches it as a topic key (`*`
//!   one word, `#` the rest). A client with `wildcards` or a fanout exchange publishes to the
//!   exchange with the pattern as routing key instead of to the queue.
//! - On amqprs: a connection is a reader, a writer and a dispatcher per channel, tasks of the
//!   runtime the connection was opened on. URLs are read as amqplib reads them
//!   (`AmqpUrl`); names longer than AMQP's 255 bytes are refused with an error before
//!   amqprs sees them; when the broker closes a channel, the error says why.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicNackArguments, BasicPublishArguments,
    BasicQosArguments, Channel, ConsumerMessage, ExchangeDeclareArguments, QueueBindArguments,
    QueueDeclareArguments,
};
use amqprs::connection::{Connection as AmqpConnection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, FieldTable, FieldValue, Nack, Return};
use bytes::Bytes;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::task::TaskTracker;

use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish,
    RpcError, CONNECTION_CLOSED,
};
use crate::server::dispatch::{dispatch, Dispatch};

use crate::packet::{encode_reply, Incoming, Reply};
use crate::server::broker::{
    broker_server, drain, on_worker, reconnecting, routes, run_or_spawn, Core,
};
use crate::server::reply::answer;
use crate::server::{Acknowledge, MessageContext, MessageRouter, ServerError, Transport};

/// Nest's default RabbitMQ URL.
pub const DEFAULT_RMQ_URL: &str = "amqp://127.0.0.1:5672";

/// RabbitMQ's pseudo-queue for direct replies.
const REPLY_TO: &str = "amq.rabbitmq.reply-to";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// An AMQP short string (a queue, exchange, routing key or vhost) is at most 255 bytes: longer
/// ones are refused here, with their name, before amqprs (which would panic on them) sees them.
fn short<'a>(what: &str, text: &'a str) -> Result<&'a str, String> {
    match text.len() {
        0..=255 => Ok(text),
        n => Err(format!(
            "the {what} `{text}` is {n} bytes long; AMQP allows 255"
        )),
    }
}

/// An AMQP URL as amqplib reads it: `amqp[s]://user:password@host:port/vhost?heartbeat=N`,
/// with guest/guest, port 5672 (5671 for `amqps`) and vhost `/` by default, and the user,
/// password and vhost percent-decoded (`/%2f` is the vhost `/`).
#[derive(Debug, PartialEq)]
struct AmqpUrl {
    tls: bool,
    user: String,
    password: String,
    host: String,
    port: u16,
    vhost: String,
    heartbeat: Option<u16>,
}

impl AmqpUrl {
    fn parse(url: &str) -> Result<AmqpUrl, String> {
        let bad = |why: &str| format!("`{url}` is not an AMQP URL: {why}");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "amqp" => false,
            "amqps" => true,
            _ => return Err(bad("the scheme is not amqp or amqps")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user_info, host_port) = match authority.rsplit_once('@') {
            Some((user_info, host_port)) => (Some(user_info), host_port),
            None => (None, authority),
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|text| text.into_owned())
                .map_err(|_| bad("a percent-encoded part is not UTF-8"))
        };
        let (user, password) = match user_info {
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                (decode(user)?, decode(password)?)
            }
            None => ("guest".to_owned(), "guest".to_owned()),
        };
        // `[::1]:5672`, `host:5672` or a host alone.
        let (host, port) = match host_port.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| bad("an unclosed `[`"))?;
                (host, after.strip_prefix(':'))
            }
            None => match host_port.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            },
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port.parse().map_err(|_| bad("the port is not a number"))?,
            None if tls => 5671,
            None => 5672,
        };
        let vhost = match path {
            "" => "/".to_owned(),
            path => decode(path)?,
        };
        short("vhost", &vhost).map_err(|why| bad(&why))?;
        let heartbeat = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("heartbeat="))
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| bad("`heartbeat` is not a number"))
            })
            .transpose()?;
        Ok(AmqpUrl {
            tls,
            user,
            password,
            host: host.to_owned(),
            port,
            vhost,
            heartbeat,
        })
    }
}

/// A connection to the broker at `url`; an `amqps://` URL with `options`' TLS settings
/// (feature `tls`): its `ca` trusted (else the Mozilla roots), its certificate shown.
async fn connect(url: &str, options: &RmqOptions) -> Result<AmqpConnection, String> {
    let parsed = AmqpUrl::parse(url)?;
    let mut arguments =
        OpenConnectionArguments::new(&parsed.host, parsed.port, &parsed.user, &parsed.password);
    arguments.virtual_host(&parsed.vhost);
    if let Some(heartbeat) = parsed.heartbeat {
        arguments.heartbeat(heartbeat);
    }
    if parsed.tls {
        #[cfg(feature = "tls")]
        {
            let tls = options.tls.clone().unwrap_or_default();
            let config = tls.client_config().map_err(|e| e.to_string())?;
            let name = tls
                .server_name_for(&parsed.host)
                .map_err(|e| e.to_string())?;
            arguments.tls_adaptor(amqprs::tls::TlsAdaptor::new(
                tokio_rustls::TlsConnector::from(config),
                name.to_str().into_owned(),
            ));
        }
        #[cfg(not(feature = "tls"))]
        return Err("an amqps:// URL needs gateway-core's `tls` feature".to_owned());
    }
    #[cfg(not(feature = "tls"))]
    let _ = options;
    tokio::time::timeout(CONNECT_TIMEOUT, AmqpConnection::open(&arguments))
        .await
        .map_err(|_| "connecting to RabbitMQ timed out".to_owned())?
        .map_err(|e| e.to_string())
}

/// Closes `amqp`, waiting at most a second for the broker's answer (none comes from a
/// connection that is already lost).
async fn close(amqp: AmqpConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), amqp.close()).await;
}

/// What ends a consumer's deliveries: its channel closed, by the broker (its reason is then
/// prefixed) or with the connection.
const DELIVERIES_ENDED: &str = "the channel or its connection closed";

/// Why the broker closed a channel, as it said it (`406 PRECONDITION_FAILED - ...`), kept by
/// [`Closes`] so that a failed declaration's error names it.
type CloseReason = Arc<Mutex<Option<String>>>;

/// A channel's callback: records the broker's reason when it closes the channel (a
/// declaration that does not match the queue's, a missing exchange) or cancels a consumer.
struct Closes(CloseReason);

impl Closes {
    fn record(&self, reason: String) {
        tracing::warn!(%reason, "RabbitMQ closed a channel");
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }
}

#[async_trait::async_trait]
impl ChannelCallback for Closes {
    async fn close(
        &mut self,
        _: &Channel,
        close: CloseChannel,
    ) -> Result<(), amqprs::error::Error> {
        self.record(format!("{} {}", close.reply_code(), close.reply_text()));
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        self.record("the broker cancelled the consumer (its queue was deleted?)".to_owned());
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, _: Ack) {}
    async fn publish_nack(&mut self, _: &Channel, _: Nack) {}
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

/// A channel on `amqp` whose errors name the broker's reason for closing it.
struct AmqpChannel {
    channel: Channel,
    closed: CloseReason,
}

impl AmqpChannel {
    async fn open(amqp: &AmqpConnection) -> Result<AmqpChannel, String> {
        let channel = amqp.open_channel(None).await.map_err(|e| e.to_string())?;
        let closed = CloseReason::default();
        channel
            .register_callback(Closes(closed.clone()))
            .await
            .map_err(|e| e.to_string())?;
        Ok(AmqpChannel { channel, closed })
    }

    /// `error` with the broker's reason, when it gave one.
    fn explain(&self, error: impl std::fmt::Display) -> String {
        match self
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
        {
            Some(reason) => format!("{reason} ({error})"),
            None => error.to_string(),
        }
    }

    /// Consumes `queue`, with no acknowledgements (Nest's `noAck: true`) unless `manual_ack`.
    async fn consume(
        &self,
        queue: &str,
        manual_ack: bool,
    ) -> Result<UnboundedReceiver<ConsumerMessage>, String> {
        let arguments = BasicConsumeArguments::new(queue, "")
            .manual_ack(manual_ack)
            .finish();
        let (_tag, deliveries) = self
            .channel
            .basic_consume_rx(arguments)
            .await
            .map_err(|e| self.explain(e))?;
        Ok(deliveries)
    }
}

/// How a RabbitMQ client or server reaches its service (Nest's RMQ `options`): the queue and
/// how it is declared, and the exchange messages go through, if any. The defaults are Nest's:
/// a durable queue, not exclusive, not auto-deleted; no exchange.
///
/// ```
/// # use gateway_core::transport::rmq::RmqOptions;
/// // { queue: 'test2', wildcards: true }: a topic exchange named `test2`, the queue bound to it
/// // with each handler's pattern.
/// let topic = RmqOptions::queue("test2").wildcards();
/// // { queue: '', exchange: 'test.fanout', exchangeType: 'fanout', queueOptions: { exclusive: true } }
/// let fanout = RmqOptions::queue("").exchange("test.fanout").exchange_type("fanout").exclusive();
/// ```
#[derive(Debug, Clone)]
pub struct RmqOptions {
    queue: String,
    durable: bool,
    exclusive: bool,
    auto_delete: bool,
    exchange: Option<String>,
    exchange_type: String,
    routing_key: Option<String>,
    wildcards: bool,
    no_ack: bool,
    prefetch_count: u16,
    global_prefetch: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsOptions>,
}

impl RmqOptions {
    /// `{ queue }` with Nest's defaults (`''` lets the broker name a server's queue).
    pub fn queue(queue: impl Into<String>) -> Self {
        RmqOptions {
            queue: queue.into(),
            durable: true,
            exclusive: false,
            auto_delete: false,
            exchange: None,
            exchange_type: "topic".to_owned(),
            routing_key: None,
            wildcards: false,
            no_ack: true,
            prefetch_count: 0,
            global_prefetch: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// `noAck` (default `true`): a server consumes without acknowledgements, and the broker
    /// forgets a message once it is sent. With `false`, each message waits for its handler's
    /// [`MessageContext::ack`] (or [`nack`](MessageContext::nack)), as in Nest: a message no
    /// handler takes is rejected without requeue, and one not yet acknowledged goes back to
    /// the queue when the connection is lost. With a [`prefetch_count`](Self::prefetch_count)
    /// the broker holds the rest of the queue until messages are acknowledged: what bounds the
    /// messages waiting in the service's memory.
    pub fn no_ack(mut self, no_ack: bool) -> Self {
        self.no_ack = no_ack;
        self
    }

    /// `prefetchCount` (default 0, no limit): how many unacknowledged messages the broker
    /// sends this consumer (with [`no_ack(false)`](Self::no_ack); RabbitMQ ignores it for a
    /// consumer without acknowledgements).
    pub fn prefetch_count(mut self, count: u16) -> Self {
        self.prefetch_count = count;
        self
    }

    /// `isGlobalPrefetchCount`: the prefetch count applies to the channel as a whole.
    pub fn global_prefetch(mut self) -> Self {
        self.global_prefetch = true;
        self
    }

    /// The TLS settings for an `amqps://` URL (feature `tls`): the CA to trust and the
    /// certificate to show (amqplib's `socketOptions: { ca, cert, key }`). A client's
    /// [`ClientOptions::tls`] does the same.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// `queueOptions.durable` (default `true`).
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// `queueOptions.exclusive`: the queue belongs to this connection and goes with it.
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// `queueOptions.autoDelete`: the queue goes when its last consumer does.
    pub fn auto_delete(mut self) -> Self {
        self.auto_delete = true;
        self
    }

    /// `exchange`: the exchange's name (default: the queue's, when one is used).
    pub fn exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = Some(exchange.into());
        self
    }

    /// `exchangeType`: `topic` (the default), `fanout`, `direct` or `headers`.
    pub fn exchange_type(mut self, kind: impl Into<String>) -> Self {
        self.exchange_type = kind.into();
        self
    }

    /// `routingKey`: the key a server's queue is bound to its exchange with.
    pub fn routing_key(mut self, key: impl Into<String>) -> Self {
        self.routing_key = Some(key.into());
        self
    }

    /// `wildcards`: patterns are topic keys (`orders.*`, `logs.#`), through a topic exchange.
    pub fn wildcards(mut self) -> Self {
        self.wildcards = true;
        self
    }

    fn exchange_name(&self) -> &str {
        self.exchange.as_deref().unwrap_or(&self.queue)
    }

    fn fanout(&self) -> bool {
        self.exchange_type == "fanout"
    }

    /// A client publishes to the exchange (keyed by pattern) rather than to the queue.
    fn publishes_to_exchange(&self) -> bool {
        self.wildcards || self.fanout()
    }

    /// amqplib's `assertQueue(queue, queueOptions)`; the queue's name (the broker's, for `''`).
    async fn declare_queue(&self, channel: &AmqpChannel) -> Result<String, String> {
        let arguments = QueueDeclareArguments::new(short("queue name", &self.queue)?)
            .durable(self.durable)
            .exclusive(self.exclusive)
            .auto_delete(self.auto_delete)
            .finish();
        let declared = channel
            .channel
            .queue_declare(arguments)
            .await
            .map_err(|e| channel.explain(e))?;
        Ok(declared.map_or_else(|| self.queue.clone(), |(name, ..)| name))
    }

    /// amqplib's `assertExchange(exchange, exchangeType, { durable: true })`.
    async fn declare_exchange(&self, channel: &AmqpChannel) -> Result<(), String> {
        let name = short("exchange name", self.exchange_name())?;
        let kind = short("exchange type", &self.exchange_type)?;
        let arguments = ExchangeDeclareArguments::new(name, kind)
            .durable(true)
            .finish();
        channel
            .channel
            .exchange_declare(arguments)
            .await
            .map_err(|e| channel.explain(e))
    }

    /// A client's set-up (Nest's `ClientRMQ.setupChannel`): the queue (bound when it has an
    /// exchange and a key), or the exchange it publishes to.
    async fn set_up_client(&self, channel: &AmqpChannel) -> Result<(), String> {
        if self.publishes_to_exchange() {
            return self.declare_exchange(channel).await;
        }
        let queue = self.declare_queue(channel).await?;
        if let (Some(exchange), Some(key)) = (&self.exchange, &self.routing_key) {
            bind(channel, &queue, exchange, key).await?;
        }
        Ok(())
    }

    /// A server's set-up (Nest's `ServerRMQ.setupChannel`): the queue, its exchange and
    /// bindings; the name of the queue to consume.
    async fn set_up_server(
        &self,
        channel: &AmqpChannel,
        routes: &[String],
    ) -> Result<String, String> {
        let queue = self.declare_queue(channel).await?;
        if self.exchange.is_some() || self.wildcards {
            self.declare_exchange(channel).await?;
            let exchange = self.exchange_name();
            if self.fanout() {
                bind(channel, &queue, exchange, "").await?;
            } else if let Some(key) = &self.routing_key {
                bind(channel, &queue, exchange, key).await?;
            }
            if self.wildcards {
                for route in routes {
                    bind(channel, &queue, exchange, route).await?;
                }
            }
        }
        Ok(queue)
    }

    fn describe(&self) -> String {
        let mut text = format!("queue {:?}", self.queue);
        if self.exchange.is_some() || self.wildcards {
            text.push_str(&format!(
                ", {} exchange {:?}",
                self.exchange_type,
                self.exchange_name()
            ));
        }
        if self.wildcards {
            text.push_str(", wildcards");
        }
        text
    }
}

async fn bind(channel: &AmqpChannel, queue: &str, exchange: &str, key: &str) -> Result<(), String> {
    let key = short("routing key", key)?;
    channel
        .channel
        .queue_bind(QueueBindArguments::new(queue, exchange, key))
        .await
        .map_err(|e| channel.explain(e))
}

/// Nest's `matchRmqPattern`: a topic key (`*` one word, `#` the rest, as the last word) against
/// a message's pattern.
fn rmq_matches(pattern: &str, key: &str) -> bool {
    if key.is_empty() {
        return pattern == "#";
    }
    let words: Vec<&str> = pattern.split('.').collect();
    let keys: Vec<&str> = key.split('.').collect();
    let last = words.len() - 1;
    for (i, word) in words.iter().enumerate() {
        let current = keys.get(i).copied().unwrap_or_default();
        if current.is_empty() && word.is_empty() {
            continue;
        }
        if current.is_empty() && *word != "#" {
            return false;
        }
        if *word == "#" {
            return i == last;
        }
        if *word != "*" && *word != current {
            return false;
        }
    }
    words.len() == keys.len()
}

impl ClientOptions {
    /// A Nest `Transport.RMQ` client (feature `rmq`) for the service consuming `queue` on the
    /// broker at `url` (`amqp://guest:guest@127.0.0.1:5672`). Several service instances on the
    /// queue share the calls (competing consumers).
    pub fn rmq(name: impl Into<String>, url: impl Into<String>, queue: impl Into<String>) -> Self {
        Self::rmq_with(name, url, RmqOptions::queue(queue))
    }

    /// A RabbitMQ client with every option ([`RmqOptions`]): through a topic or fanout
    /// exchange, its queue's declaration.
    pub fn rmq_with(name: impl Into<String>, url: impl Into<String>, options: RmqOptions) -> Self {
        let options = Arc::new(options);
        ClientOptions::custom(name, url, move || RmqTransport {
            options: options.clone(),
        })
    }
}

/// The client side: see the module docs.
struct RmqTransport {
    options: Arc<RmqOptions>,
}

impl ClientTransport for RmqTransport {
    fn name(&self) -> &'static str {
        "rmq"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(self.open(context))
    }
}

impl RmqTransport {
    async fn open(&self, context: &ConnectContext) -> Result<Arc<Connection>, RpcError> {
        #[cfg(feature = "tls")]
        let with_tls;
        #[cfg(feature = "tls")]
        let options = match context.tls() {
            Some(tls) => {
                with_tls = (*self.options).clone().tls(tls.clone());
                &with_tls
            }
            None => &*self.options,
        };
        #[cfg(not(feature = "tls"))]
        let options = &*self.options;
        let amqp = connect(context.address(), options)
            .await
            .map_err(|e| context.unavailable(format!("cannot connect to RabbitMQ: {e}")))?;
        let setup = async {
            let channel = AmqpChannel::open(&amqp).await?;
            self.options.set_up_client(&channel).await?;
            let replies = channel.consume(REPLY_TO, false).await?;
            Ok::<_, String>((channel, replies))
        };
        let (channel, mut replies) = match setup.await {
            Ok(set_up) => set_up,
            Err(error) => {
                close(amqp).await;
                return Err(
                    context.unavailable(format!("cannot set up the RabbitMQ channel: {error}"))
                );
            }
        };
        let conn = Connection::with_publisher(RmqPublisher {
            channel: channel.channel.clone(),
            options: self.options.clone(),
        });
        let reader = conn.clone();
        let service = context.service().clone();
        tokio::spawn(async move {
            loop {
                let delivery = tokio::select! {
                    delivery = replies.recv() => delivery,
                    _ = reader.closed() => break,
                };
                let Some(delivery) = delivery else {
                    let error = channel.explain(DELIVERIES_ENDED);
                    tracing::warn!(%service, %error, "RabbitMQ replies ended; pending calls fail");
                    reader.close(CONNECTION_CLOSED);
                    break;
                };
                // Nest's RMQ replies carry no id: the correlation id says whose they are.
                let id = delivery
                    .basic_properties
                    .as_ref()
                    .and_then(|properties| properties.correlation_id())
                    .and_then(|id| id.parse::<u64>().ok());
                if let (Some(id), Some(body)) = (id, delivery.content) {
                    reader.deliver_to(id, Bytes::from(body));
                }
            }
            close(amqp).await;
        });
        Ok(conn)
    }
}

/// The channel consuming direct replies, and where requests go.
struct RmqPublisher {
    channel: Channel,
    options: Arc<RmqOptions>,
}

impl Publish for RmqPublisher {
    /// Publishes one packet to the service's queue: a request (direct reply-to, correlated by
    /// id) or an event.
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
        Box::pin(async move {
            let mut properties = BasicProperties::default();
            properties.with_delivery_mode(amqprs::DELIVERY_MODE_TRANSIENT);
            if let Some(headers) = message.headers {
                properties.with_headers(field_table(headers)?);
            }
            if let Some(id) = message.id {
                properties
                    .with_reply_to(REPLY_TO)
                    .with_correlation_id(&id.to_string());
            }
            // Through the exchange, keyed by the pattern; or straight to the queue.
            let (exchange, key) = match self.options.publishes_to_exchange() {
                true => (self.options.exchange_name(), message.route),
                false => ("", self.options.queue.as_str()),
            };
            let key = short("routing key (the pattern)", key).map_err(Arc::from)?;
            self.channel
                .basic_publish(
                    properties,
                    message.body,
                    BasicPublishArguments::new(exchange, key),
                )
                .await
                .map_err(|e| Arc::from(e.to_string()))
        })
    }
}

/// Message headers as an AMQP table of long strings (amqplib's `headers`). A name is at most
/// 255 bytes long in AMQP.
fn field_table(headers: &[(String, String)]) -> Result<FieldTable, Arc<str>> {
    let mut table = FieldTable::default();
    for (name, value) in headers {
        let too_long = || Arc::from(format!("the header name `{name}` is over 255 bytes"));
        let value = value
            .as_str()
            .try_into()
            .map_err(|_| Arc::from("a header over 4 GiB"))?;
        table.insert(
            name.as_str().try_into().map_err(|_| too_long())?,
            FieldValue::S(value),
        );
    }
    Ok(table)
}

impl Transport {
    /// `{ transport: Transport.RMQ, options: { urls: [url], queue } }` (feature `rmq`).
    pub fn rmq(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Self::rmq_with(url, RmqOptions::queue(queue))
    }

    /// RabbitMQ with every option ([`RmqOptions`]): an exchange, its bindings, wildcard
    /// handlers, the queue's declaration.
    pub fn rmq_with(url: impl Into<String>, options: RmqOptions) -> Self {
        let url: String = url.into();
        Transport::from_fn(format!("{url} ({})", options.describe()), move |router| {
            let (url, options) = (url.clone(), options.clone());
            async move { RmqServer::connect_with(&url, router, options).await }
        })
    }
}

/// A microservice on a RabbitMQ queue. Nest's `Transport.RMQ` server.
///
/// ```no_run
/// # use gateway_core::server::MessageRouter;
/// # use gateway_core::transport::rmq::RmqServer;
/// # async fn demo(router: MessageRouter) -> Result<(), Box<dyn std::error::Error>> {
/// let server = RmqServer::connect("amqp://guest:guest@127.0.0.1:5672", "users_queue", router).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct RmqServer {
    url: String,
    options: RmqOptions,
    routes: Arc<[String]>,
    core: Core,
}

impl RmqServer {
    /// Checks that the broker at `url` accepts a connection and the queue can be declared,
    /// and that the router has no duplicate pattern.
    pub async fn connect(
        url: &str,
        queue: &str,
        router: MessageRouter,
    ) -> Result<Self, ServerError> {
        Self::connect_with(url, router, RmqOptions::queue(queue)).await
    }

    /// [`connect`](Self::connect) with every option ([`RmqOptions`]): the exchange and its
    /// bindings are declared now, as on every reconnection.
    pub async fn connect_with(
        url: &str,
        router: MessageRouter,
        options: RmqOptions,
    ) -> Result<Self, ServerError> {
        let core = Core::new(router)?;
        let routes: Arc<[String]> = routes(&core.router).into();
        let amqp = connect(url, &options)
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        let set_up = async {
            let channel = AmqpChannel::open(&amqp).await?;
            options.set_up_server(&channel, &routes).await
        };
        let set_up = set_up.await;
        close(amqp).await;
        set_up.map_err(|e| ServerError::connect(url, e))?;
        Ok(RmqServer {
            url: url.to_owned(),
            options,
            routes,
            core,
        })
    }

    /// Serves until stopped, reconnecting (every 500 ms) whenever the broker goes away.
    ///
    /// The loop runs as a task of the current runtime, on its worker threads, even when the
    /// future is awaited by `#[tokio::main]`'s own thread; dropping the future stops it.
    pub async fn serve(self) {
        on_worker(self.run()).await
    }

    /// The loop [`serve`](Self::serve) runs as a task.
    async fn run(self) {
        let tasks = TaskTracker::new();
        reconnecting(&self.core.stop, "rmq", &self.url, || self.session(&tasks)).await;
        drain(&tasks, self.core.grace_period, "rmq").await;
    }

    async fn session(&self, tasks: &TaskTracker) -> Result<(), String> {
        let amqp = connect(&self.url, &self.options).await?;
        let result = self.consume(&amqp, tasks).await;
        if result.is_ok() {
            // Let in-flight handlers reply on this channel before it closes.
            drain(tasks, self.core.grace_period, "rmq").await;
        }
        close(amqp).await;
        result
    }

    /// Declares, binds and consumes the queue on `amqp`, handling its messages until stopped
    /// (`Ok`) or until the connection or channel is lost.
    async fn consume(&self, amqp: &AmqpConnection, tasks: &TaskTracker) -> Result<(), String> {
        let channel = AmqpChannel::open(amqp).await?;
        let queue = self.options.set_up_server(&channel, &self.routes).await?;
        let manual_ack = !self.options.no_ack;
        if self.options.prefetch_count > 0 {
            let qos = BasicQosArguments::new(
                0,
                self.options.prefetch_count,
                self.options.global_prefetch,
            );
            channel
                .channel
                .basic_qos(qos)
                .await
                .map_err(|e| channel.explain(e))?;
        }
        let mut deliveries = channel.consume(&queue, manual_ack).await?;
        tracing::info!(url = %self.url, %queue, options = %self.options.describe(), "microservice listening on RabbitMQ");
        loop {
            let Some(slot) = self.core.slot("rmq").await else {
                return Ok(());
            };
            let delivery = tokio::select! {
                delivery = deliveries.recv() => delivery,
                _ = self.core.stop.stopping() => return Ok(()),
            };
            let Some(delivery) = delivery else {
                return Err(channel.explain(DELIVERIES_ENDED));
            };
            let router = self.core.router.clone();
            let channel = channel.channel.clone();
            let wildcards = self.options.wildcards.then(|| self.routes.clone());
            run_or_spawn(tasks, async move {
                handle(
                    &router,
                    &channel,
                    delivery,
                    wildcards.as_deref(),
                    manual_ack,
                )
                .await;
                drop(slot);
            });
        }
    }
}

broker_server!(RmqServer);

async fn reply(channel: &Channel, reply_to: &str, correlation: Option<&str>, body: Vec<u8>) {
    let mut properties = BasicProperties::default();
    if let Some(correlation) = correlation {
        properties.with_correlation_id(correlation);
    }
    let arguments = BasicPublishArguments::new("", reply_to);
    if let Err(error) = channel.basic_publish(properties, body, arguments).await {
        tracing::warn!(%error, "a reply could not be published");
    }
}

/// The headers of a delivery, as text.
fn headers(properties: Option<&BasicProperties>) -> Vec<(String, String)> {
    let Some(table) = properties.and_then(|properties| properties.headers()) else {
        return Vec::new();
    };
    table
        .as_ref()
        .iter()
        .map(|(name, value)| {
            let text = match value {
                FieldValue::S(text) => text.as_ref().clone(),
                other => format!("{other:?}"),
            };
            (name.as_ref().clone(), text)
        })
        .collect()
}

/// One delivery: a request (with an `id`) answered to its `reply_to` with its
/// `correlation_id`, or an event. With `wildcards` (the server's routes), a pattern no handler
/// has exactly goes to the first route that matches it as a topic key.
async fn handle(
    router: &MessageRouter,
    channel: &Channel,
    delivery: ConsumerMessage,
    wildcards: Option<&[String]>,
    manual_ack: bool,
) {
    let frame = Bytes::from(delivery.content.unwrap_or_default());
    let pattern = Incoming::parse(&frame)
        .ok()
        .and_then(|packet| packet.pattern.and_then(|p| router.route_of_received(p)));
    let route = match (wildcards, &pattern) {
        (Some(routes), Some(pattern)) if !routes.contains(pattern) => routes
            .iter()
            .find(|route| {
                (route.contains('*') || route.contains('#')) && rmq_matches(route, pattern)
            })
            .cloned(),
        _ => None,
    };
    let properties = delivery.basic_properties.as_ref();
    let routing_key = delivery
        .deliver
        .as_ref()
        .map_or("", |d| d.routing_key().as_str());
    let mut context = MessageContext::new(routing_key, headers(properties));
    if let Some(pattern) = pattern {
        context = context.with_pattern(pattern);
    }
    // With acknowledgements, the handler settles the message through its context; what no
    // handler takes is rejected without requeue (Nest's `nack(message, false, false)`).
    let settle = match (manual_ack, &delivery.deliver) {
        (true, Some(deliver)) => {
            let delivery = Arc::new(RmqDelivery {
                channel: channel.clone(),
                tag: deliver.delivery_tag(),
                settled: AtomicBool::new(false),
            });
            context = context.with_acknowledge(delivery.clone());
            Some(delivery)
        }
        _ => None,
    };
    let reject = |what: &str| {
        let rejected = settle.as_ref().map(|delivery| {
            tracing::warn!(pattern = ?context.pattern(), "an unsupported {what} was received; rejected, so it will not be re-delivered");
            delivery.settle(Some(false))
        });
        async move {
            if let Some(rejected) = rejected {
                rejected.await;
            }
        }
    };
    let reply_to = properties.and_then(|p| p.reply_to()).map(String::as_str);
    let correlation = properties
        .and_then(|p| p.correlation_id())
        .map(String::as_str);
    // Routed by the pattern's route, read once above (a wildcard's route when one takes it):
    // Nest's usual request is then read by its shape, not parsed a second time.
    let subject = route.as_deref().or(context.pattern());
    match dispatch(router, &frame, subject, Some(&context)) {
        Err(error) => {
            tracing::error!(%error, "a message that is not JSON was ignored");
            reject("message").await;
        }
        Ok(Dispatch::Request { reply: result, .. }) => {
            let Some(reply_to) = reply_to else {
                let _ = result.await;
                return;
            };
            let publish = |body: Vec<u8>| reply(channel, reply_to, correlation, body);
            // Nest's RMQ replies carry no id: the correlation id says whose they are.
            answer(result, None, publish).await;
        }
        Ok(Dispatch::NoHandler { id }) => {
            reject("message").await;
            if let Some(reply_to) = reply_to {
                let mut body = Vec::with_capacity(128);
                encode_reply(&mut body, Reply::NoHandler, Some(&id));
                reply(channel, reply_to, correlation, body).await;
            }
        }
        Ok(Dispatch::Events(runs)) if runs.is_empty() => {
            reject("event").await;
        }
        Ok(Dispatch::Events(runs)) => {
            for run in runs {
                run.await;
            }
        }
        Ok(Dispatch::Ignored) => {
            reject("message").await;
        }
    }
}

/// A delivery to be acknowledged (a server with `no_ack(false)`): settled once, by its
/// handler through [`MessageContext::ack`] or [`nack`](MessageContext::nack), or by the
/// server when no handler takes it.
struct RmqDelivery {
    channel: Channel,
    tag: u64,
    settled: AtomicBool,
}

impl Acknowledge for RmqDelivery {
    fn settle(&self, reject: Option<bool>) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            if self.settled.swap(true, Ordering::AcqRel) {
                return false;
            }
            let sent = match reject {
                None => {
                    let arguments = BasicAckArguments::new(self.tag, false);
                    self.channel.basic_ack(arguments).await
                }
                Some(requeue) => {
                    let arguments = BasicNackArguments::new(self.tag, false, requeue);
                    self.channel.basic_nack(arguments).await
                }
            };
            sent.is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{rmq_matches, AmqpUrl};

    /// URLs as amqplib reads them: defaults, percent-decoding, IPv6, the TLS port.
    #[test]
    fn amqp_urls_read_as_amqplib_reads_them() {
        let url = |tls, user: &str, password: &str, host: &str, port, vhost: &str| AmqpUrl {
            tls,
            user: user.to_owned(),
            password: password.to_owned(),
            host: host.to_owned(),
            port,
            vhost: vhost.to_owned(),
            heartbeat: None,
        };
        let cases = [
            (
                "amqp://127.0.0.1",
                url(false, "guest", "guest", "127.0.0.1", 5672, "/"),
            ),
            (
                "amqp://u:p@rabbit:5673/",
                url(false, "u", "p", "rabbit", 5673, "/"),
            ),
            (
                "amqps://rabbit",
                url(true, "guest", "guest", "rabbit", 5671, "/"),
            ),
            (
                "AMQP://a%40b:p%3Aw@[::1]:5672/%2f",
                url(false, "a@b", "p:w", "::1", 5672, "/"),
            ),
            ("amqp://u:@h/prod", url(false, "u", "", "h", 5672, "prod")),
        ];
        for (text, expected) in cases {
            assert_eq!(AmqpUrl::parse(text).unwrap(), expected, "{text}");
        }
        let with_query = AmqpUrl::parse("amqp://h/v?frameMax=0&heartbeat=30").unwrap();
        assert_eq!(
            (with_query.vhost.as_str(), with_query.heartbeat),
            ("v", Some(30))
        );
        for bad in [
            "127.0.0.1:5672",
            "http://h",
            "amqp://",
            "amqp://h:port",
            "amqp://[::1",
        ] {
            let error = AmqpUrl::parse(bad).unwrap_err();
            assert!(error.contains("is not an AMQP URL"), "{bad}: {error}");
        }
        // A vhost is an AMQP short string: amqprs would panic on a longer one.
        let long = format!("amqp://h/{}", "v".repeat(256));
        assert!(AmqpUrl::parse(&long)
            .unwrap_err()
            .contains("AMQP allows 255"));
        assert_eq!(
            super::short("queue name", &"q".repeat(255)).map(str::len),
            Ok(255)
        );
    }

    /// Nest's `matchRmqPattern`, case by case.
    #[test]
    fn topic_keys_match_as_nest_matches_them() {
        let cases = [
            ("wildcard.*.*", "wildcard.a.b", true),
            ("wildcard.*.*", "wildcard.a", false),
            ("wildcard.*.*", "wildcard.a.b.c", false),
            ("wildcard.*", "other.a", false),
            ("logs.#", "logs.a.b.c", true),
            ("logs.#", "logs.a", true),
            ("logs.#", "logs", true),
            ("#", "anything.at.all", true),
            ("#", "", true),
            ("*", "", false),
            ("a.#.b", "a.x.b", false), // `#` counts only as the last word, as in Nest
            ("a.b", "a.b", true),
        ];
        for (pattern, key, expected) in cases {
            assert_eq!(rmq_matches(pattern, key), expected, "{pattern} vs {key:?}");
        }
    }
}
