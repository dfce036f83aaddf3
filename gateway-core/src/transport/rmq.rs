//! The RabbitMQ transport (feature `rmq`), byte-compatible with Nest's `Transport.RMQ`
//! (nest-wire.md §7): requests go to the service's queue through the default exchange with
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

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection as AmqpConnection, ConnectionProperties};
use tokio_util::task::TaskTracker;

use super::broker::{self, BrokerShutdown, Slot};
use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::RpcError;
use crate::packet::{encode_reply, slice_of, Incoming, Reply};
use crate::server::{MessageContext, MessageRouter};

/// Nest's default RabbitMQ URL.
pub const DEFAULT_RMQ_URL: &str = "amqp://127.0.0.1:5672";

/// RabbitMQ's pseudo-queue for direct replies.
const REPLY_TO: &str = "amq.rabbitmq.reply-to";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

async fn connect(url: &str) -> Result<AmqpConnection, String> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    tokio::time::timeout(CONNECT_TIMEOUT, AmqpConnection::connect(url, properties))
        .await
        .map_err(|_| "connecting to RabbitMQ timed out".to_owned())?
        .map_err(|e| e.to_string())
}

/// amqplib's `assertQueue(queue, {})`: durable, not exclusive, not auto-deleted.
async fn declare(channel: &Channel, queue: &str) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(queue, options, FieldTable::default())
        .await
        .map(drop)
}

/// Publishes one packet to the service's queue: a request (direct reply-to, correlated by
/// id) or an event.
pub(crate) async fn publish(
    channel: &Channel,
    queue: &str,
    id: Option<u64>,
    headers: Option<&[(String, String)]>,
    body: Vec<u8>,
) -> Result<(), Arc<str>> {
    let mut properties = BasicProperties::default().with_delivery_mode(1);
    if let Some(headers) = headers {
        let mut table = FieldTable::default();
        for (name, value) in headers {
            table.insert(
                name.as_str().into(),
                lapin::types::AMQPValue::LongString(value.as_str().into()),
            );
        }
        properties = properties.with_headers(table);
    }
    if let Some(id) = id {
        properties = properties
            .with_reply_to(REPLY_TO.into())
            .with_correlation_id(id.to_string().into());
    }
    channel
        .basic_publish("", queue, BasicPublishOptions::default(), &body, properties)
        .await
        .map(drop)
        .map_err(|e| Arc::from(e.to_string()))
}

/// The client side: see the module docs.
pub(crate) struct RmqClient {
    slot: Slot,
    queue: Arc<str>,
}

impl RmqClient {
    pub fn new(service: Arc<str>, url: Arc<str>, queue: Arc<str>) -> Self {
        RmqClient {
            slot: Slot::new(service, url),
            queue,
        }
    }

    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        self.slot.get_or_open(|| self.open()).await
    }

    async fn open(&self) -> Result<Arc<Connection>, RpcError> {
        let slot = &self.slot;
        let amqp = connect(&slot.url)
            .await
            .map_err(|e| slot.unavailable(format!("cannot connect to RabbitMQ: {e}")))?;
        let setup = async {
            let channel = amqp.create_channel().await?;
            declare(&channel, &self.queue).await?;
            let consume = BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            };
            let replies = channel
                .basic_consume(REPLY_TO, "", consume, FieldTable::default())
                .await?;
            Ok::<_, lapin::Error>((channel, replies))
        };
        let (channel, mut replies) = setup
            .await
            .map_err(|e| slot.unavailable(format!("cannot set up the RabbitMQ channel: {e}")))?;
        let conn = Connection::new(Sink::Rmq {
            channel,
            queue: self.queue.clone(),
        });
        let reader = conn.clone();
        let service = slot.service.clone();
        tokio::spawn(async move {
            loop {
                let delivery = tokio::select! {
                    delivery = replies.next() => delivery,
                    _ = reader.closed_token().cancelled() => break,
                };
                let delivery = match delivery {
                    Some(Ok(delivery)) => delivery,
                    other => {
                        if let Some(Err(error)) = other {
                            tracing::warn!(%service, %error, "RabbitMQ connection lost; pending calls fail");
                        }
                        reader.close(CONNECTION_CLOSED.into());
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
                    broker::deliver(&reader, &service, Some(id), Bytes::from(delivery.data));
                }
            }
            let _ = amqp.close(200, "client closed").await;
        });
        Ok(conn)
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
    queue: String,
    router: Arc<MessageRouter>,
    stop: BrokerShutdown,
}

impl RmqServer {
    /// Checks that the broker at `url` accepts a connection and the queue can be declared,
    /// and that the router has no duplicate pattern.
    pub async fn connect(
        url: &str,
        queue: &str,
        router: MessageRouter,
    ) -> Result<Self, ServerError> {
        if let Some(route) = router.duplicate_routes().first() {
            return Err(ServerError::DuplicatePattern {
                route: route.clone(),
            });
        }
        let refused = |e: String| ServerError::Bind {
            addr: url.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e),
        };
        let amqp = connect(url).await.map_err(refused)?;
        let channel = amqp
            .create_channel()
            .await
            .map_err(|e| refused(e.to_string()))?;
        declare(&channel, queue)
            .await
            .map_err(|e| refused(e.to_string()))?;
        let _ = amqp.close(200, "checked").await;
        Ok(RmqServer {
            url: url.to_owned(),
            queue: queue.to_owned(),
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

    /// Serves until stopped, reconnecting (every 500 ms) whenever the broker goes away.
    pub async fn serve(self) {
        let tasks = TaskTracker::new();
        broker::reconnecting(&self.stop, "rmq", &self.url, || self.session(&tasks)).await;
        broker::drain(&tasks, Duration::from_secs(10), "rmq").await;
    }

    async fn session(&self, tasks: &TaskTracker) -> Result<(), String> {
        let amqp = connect(&self.url).await?;
        let channel = amqp.create_channel().await.map_err(|e| e.to_string())?;
        declare(&channel, &self.queue)
            .await
            .map_err(|e| e.to_string())?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut deliveries = channel
            .basic_consume(&self.queue, "", consume, FieldTable::default())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(url = %self.url, queue = %self.queue, "microservice listening on RabbitMQ");
        let result = loop {
            let delivery = tokio::select! {
                delivery = deliveries.next() => delivery,
                _ = self.stop.0.cancelled() => break Ok(()),
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let router = self.router.clone();
                    let channel = channel.clone();
                    tasks.spawn(async move { handle(&router, &channel, delivery).await });
                }
                Some(Err(error)) => break Err(error.to_string()),
                None => break Err("the consumer ended".to_owned()),
            }
        };
        if result.is_ok() {
            // Let in-flight handlers reply on this channel before it closes.
            broker::drain(tasks, Duration::from_secs(10), "rmq").await;
            let _ = amqp.close(200, "shutdown").await;
        }
        result
    }
}

async fn reply(channel: &Channel, reply_to: &str, correlation: Option<&str>, body: Vec<u8>) {
    let mut properties = BasicProperties::default();
    if let Some(correlation) = correlation {
        properties = properties.with_correlation_id(correlation.into());
    }
    if let Err(error) = channel
        .basic_publish(
            "",
            reply_to,
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
    {
        tracing::warn!(%error, "a reply could not be published");
    }
}

/// One delivery: a request (with an `id`) answered to its `reply_to` with its
/// `correlation_id`, or an event.
async fn handle(router: &MessageRouter, channel: &Channel, delivery: lapin::message::Delivery) {
    let frame = Bytes::from(delivery.data);
    let packet = match Incoming::parse(&frame) {
        Ok(packet) => packet,
        Err(error) => {
            tracing::error!(%error, "a message that is not JSON was ignored");
            return;
        }
    };
    let Some(pattern) = packet.pattern else {
        tracing::debug!("a message without a pattern was ignored");
        return;
    };
    let data = packet
        .data
        .map_or_else(|| Bytes::from_static(b"null"), |d| slice_of(&frame, d));
    let reply_to = delivery
        .properties
        .reply_to()
        .as_ref()
        .map(|r| r.as_str().to_owned());
    let correlation = delivery
        .properties
        .correlation_id()
        .as_ref()
        .map(|c| c.as_str().to_owned());
    let headers = delivery
        .properties
        .headers()
        .as_ref()
        .map(|table| {
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
        })
        .unwrap_or_default();
    let context = MessageContext::new(delivery.routing_key.as_str(), headers);
    match packet.id {
        Some(id) => {
            let Some(handler) = router.find_message(pattern) else {
                tracing::warn!(
                    pattern = pattern.get(),
                    "There is no matching message handler defined in the remote service."
                );
                if let Some(reply_to) = &reply_to {
                    let mut body = Vec::with_capacity(128);
                    encode_reply(&mut body, Reply::NoHandler, Some(&slice_of(&frame, id)));
                    reply(channel, reply_to, correlation.as_deref(), body).await;
                }
                return;
            };
            let result = context.scope(handler(data));
            let Some(reply_to) = reply_to else {
                let _ = result.await;
                return;
            };
            let publish = |body: Vec<u8>| reply(channel, &reply_to, correlation.as_deref(), body);
            // Nest's RMQ replies carry no id: the correlation id says whose they are.
            broker::answer(result, None, publish).await;
        }
        None => {
            let handlers = router.find_events(pattern);
            if handlers.is_empty() {
                tracing::error!(
                    pattern = pattern.get(),
                    "There is no matching event handler defined in the remote service."
                );
            }
            for handler in handlers {
                context.clone().scope(handler(data.clone())).await;
            }
        }
    }
}
