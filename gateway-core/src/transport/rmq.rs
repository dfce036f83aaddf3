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

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{
    BasicProperties, Channel, Connection as AmqpConnection, ConnectionProperties, ExchangeKind,
};
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
use crate::server::{MessageContext, MessageRouter, ServerError, Transport};

/// Nest's default RabbitMQ URL.
pub const DEFAULT_RMQ_URL: &str = "amqp://127.0.0.1:5672";

/// RabbitMQ's pseudo-queue for direct replies.
const REPLY_TO: &str = "amq.rabbitmq.reply-to";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection to the broker at `url`; an `amqps://` URL with `options`' TLS settings
/// (feature `tls`): its `ca` trusted (else the Mozilla roots), its certificate shown.
async fn connect(url: &str, options: &RmqOptions) -> Result<AmqpConnection, String> {
    let properties = ConnectionProperties::default();
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        let config = lapin::tcp::OwnedTLSConfig {
            identity: tls.identity_pem_bytes().map(|(cert, key)| {
                lapin::tcp::OwnedIdentity::PKCS8 {
                    pem: cert.to_vec(),
                    key: key.to_vec(),
                }
            }),
            cert_chain: tls
                .ca_pem_bytes()
                .map(|pem| String::from_utf8_lossy(pem).into_owned()),
        };
        let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
        return tokio::time::timeout(
            CONNECT_TIMEOUT,
            AmqpConnection::connect_with_config(url, properties, config, runtime),
        )
        .await
        .map_err(|_| "connecting to RabbitMQ timed out".to_owned())?
        .map_err(|e| e.to_string());
    }
    #[cfg(not(feature = "tls"))]
    let _ = options;
    tokio::time::timeout(CONNECT_TIMEOUT, AmqpConnection::connect(url, properties))
        .await
        .map_err(|_| "connecting to RabbitMQ timed out".to_owned())?
        .map_err(|e| e.to_string())
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
            #[cfg(feature = "tls")]
            tls: None,
        }
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

    fn kind(&self) -> ExchangeKind {
        match self.exchange_type.as_str() {
            "topic" => ExchangeKind::Topic,
            "fanout" => ExchangeKind::Fanout,
            "direct" => ExchangeKind::Direct,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_owned()),
        }
    }

    /// amqplib's `assertQueue(queue, queueOptions)`; the queue's name (the broker's, for `''`).
    async fn declare_queue(&self, channel: &Channel) -> lapin::Result<String> {
        let options = QueueDeclareOptions {
            durable: self.durable,
            exclusive: self.exclusive,
            auto_delete: self.auto_delete,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare(self.queue.as_str().into(), options, FieldTable::default())
            .await?;
        Ok(queue.name().as_str().to_owned())
    }

    /// amqplib's `assertExchange(exchange, exchangeType, { durable: true })`.
    async fn declare_exchange(&self, channel: &Channel) -> lapin::Result<()> {
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.exchange_name().into(),
                self.kind(),
                options,
                FieldTable::default(),
            )
            .await
    }

    /// A client's set-up (Nest's `ClientRMQ.setupChannel`): the queue (bound when it has an
    /// exchange and a key), or the exchange it publishes to.
    async fn set_up_client(&self, channel: &Channel) -> lapin::Result<()> {
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
    async fn set_up_server(&self, channel: &Channel, routes: &[String]) -> lapin::Result<String> {
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

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
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
            let channel = amqp.create_channel().await?;
            self.options.set_up_client(&channel).await?;
            let consume = BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            };
            let replies = channel
                .basic_consume(REPLY_TO.into(), "".into(), consume, FieldTable::default())
                .await?;
            Ok::<_, lapin::Error>((channel, replies))
        };
        let (channel, mut replies) = setup
            .await
            .map_err(|e| context.unavailable(format!("cannot set up the RabbitMQ channel: {e}")))?;
        let conn = Connection::with_publisher(RmqPublisher {
            channel,
            options: self.options.clone(),
        });
        let reader = conn.clone();
        let service = context.service().clone();
        tokio::spawn(async move {
            loop {
                let delivery = tokio::select! {
                    delivery = replies.next() => delivery,
                    _ = reader.closed() => break,
                };
                let delivery = match delivery {
                    Some(Ok(delivery)) => delivery,
                    other => {
                        if let Some(Err(error)) = other {
                            tracing::warn!(%service, %error, "RabbitMQ connection lost; pending calls fail");
                        }
                        reader.close(CONNECTION_CLOSED);
                        break;
                    }
                };
                // Nest's RMQ replies carry no id: the correlation id says whose they are.
                let id = delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .and_then(|c| c.as_str().parse::<u64>().ok());
                if let Some(id) = id {
                    reader.deliver_to(id, Bytes::from(delivery.data));
                }
            }
            let _ = amqp.close(200, "client closed".into()).await;
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
            let mut properties = BasicProperties::default().with_delivery_mode(1);
            if let Some(headers) = message.headers {
                let mut table = FieldTable::default();
                for (name, value) in headers {
                    table.insert(
                        name.as_str().into(),
                        lapin::types::AMQPValue::LongString(value.as_str().into()),
                    );
                }
                properties = properties.with_headers(table);
            }
            if let Some(id) = message.id {
                properties = properties
                    .with_reply_to(REPLY_TO.into())
                    .with_correlation_id(id.to_string().into());
            }
            // Through the exchange, keyed by the pattern; or straight to the queue.
            let (exchange, key) = match self.options.publishes_to_exchange() {
                true => (self.options.exchange_name(), message.route),
                false => ("", self.options.queue.as_str()),
            };
            self.channel
                .basic_publish(
                    exchange.into(),
                    key.into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    properties,
                )
                .await
                .map(drop)
                .map_err(|e| Arc::from(e.to_string()))
        })
    }
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
        let channel = amqp
            .create_channel()
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        options
            .set_up_server(&channel, &routes)
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        let _ = amqp.close(200, "checked".into()).await;
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
        let channel = amqp.create_channel().await.map_err(|e| e.to_string())?;
        let queue = self
            .options
            .set_up_server(&channel, &self.routes)
            .await
            .map_err(|e| e.to_string())?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                consume,
                FieldTable::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(url = %self.url, %queue, options = %self.options.describe(), "microservice listening on RabbitMQ");
        let result = loop {
            let Some(slot) = self.core.slot("rmq").await else {
                break Ok(());
            };
            let delivery = tokio::select! {
                delivery = deliveries.next() => delivery,
                _ = self.core.stop.stopping() => break Ok(()),
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let router = self.core.router.clone();
                    let channel = channel.clone();
                    let wildcards = self.options.wildcards.then(|| self.routes.clone());
                    run_or_spawn(tasks, async move {
                        handle(&router, &channel, delivery, wildcards.as_deref()).await;
                        drop(slot);
                    });
                }
                Some(Err(error)) => break Err(error.to_string()),
                None => break Err("the consumer ended".to_owned()),
            }
        };
        if result.is_ok() {
            // Let in-flight handlers reply on this channel before it closes.
            drain(tasks, self.core.grace_period, "rmq").await;
            let _ = amqp.close(200, "shutdown".into()).await;
        }
        result
    }
}

broker_server!(RmqServer);

async fn reply(channel: &Channel, reply_to: &str, correlation: Option<&str>, body: Vec<u8>) {
    let mut properties = BasicProperties::default();
    if let Some(correlation) = correlation {
        properties = properties.with_correlation_id(correlation.into());
    }
    if let Err(error) = channel
        .basic_publish(
            "".into(),
            reply_to.into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
    {
        tracing::warn!(%error, "a reply could not be published");
    }
}

/// The headers of a delivery, as text.
fn headers(properties: &BasicProperties) -> Vec<(String, String)> {
    let Some(table) = properties.headers() else {
        return Vec::new();
    };
    table
        .inner()
        .iter()
        .map(|(name, value)| {
            let text = match value {
                lapin::types::AMQPValue::LongString(s) => s.to_string(),
                lapin::types::AMQPValue::ShortString(s) => s.as_str().to_owned(),
                other => format!("{other:?}"),
            };
            (name.as_str().to_owned(), text)
        })
        .collect()
}

/// One delivery: a request (with an `id`) answered to its `reply_to` with its
/// `correlation_id`, or an event. With `wildcards` (the server's routes), a pattern no handler
/// has exactly goes to the first route that matches it as a topic key.
async fn handle(
    router: &MessageRouter,
    channel: &Channel,
    delivery: lapin::message::Delivery,
    wildcards: Option<&[String]>,
) {
    let frame = Bytes::from(delivery.data);
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
    let mut context =
        MessageContext::new(delivery.routing_key.as_str(), headers(&delivery.properties));
    if let Some(pattern) = pattern {
        context = context.with_pattern(pattern);
    }
    let reply_to = delivery.properties.reply_to().as_ref().map(|r| r.as_str());
    let correlation = delivery
        .properties
        .correlation_id()
        .as_ref()
        .map(|c| c.as_str());
    // Routed by the pattern's route, read once above (a wildcard's route when one takes it):
    // Nest's usual request is then read by its shape, not parsed a second time.
    let subject = route.as_deref().or(context.pattern());
    match dispatch(router, &frame, subject, Some(&context)) {
        Err(error) => tracing::error!(%error, "a message that is not JSON was ignored"),
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
            if let Some(reply_to) = reply_to {
                let mut body = Vec::with_capacity(128);
                encode_reply(&mut body, Reply::NoHandler, Some(&id));
                reply(channel, reply_to, correlation, body).await;
            }
        }
        Ok(Dispatch::Events(runs)) => {
            for run in runs {
                run.await;
            }
        }
        Ok(Dispatch::Ignored) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::rmq_matches;

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
