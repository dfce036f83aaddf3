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

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection as AmqpConnection, ConnectionProperties};
use tokio_util::task::TaskTracker;

use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish,
    RpcError, CONNECTION_CLOSED,
};
use crate::server::dispatch::{dispatch, Dispatch};

use crate::packet::{encode_reply, Reply};
use crate::server::broker::{broker_server, drain, reconnecting, Core};
use crate::server::reply::answer;
use crate::server::{MessageContext, MessageRouter, ServerError, Transport};

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

impl ClientOptions {
    /// A Nest `Transport.RMQ` client (feature `rmq`) for the service consuming `queue` on the
    /// broker at `url` (`amqp://guest:guest@127.0.0.1:5672`). Several service instances on the
    /// queue share the calls (competing consumers).
    pub fn rmq(name: impl Into<String>, url: impl Into<String>, queue: impl Into<String>) -> Self {
        let queue: Arc<str> = queue.into().into();
        ClientOptions::custom(name, url, move || RmqTransport {
            queue: queue.clone(),
        })
    }
}

/// The client side: see the module docs.
struct RmqTransport {
    queue: Arc<str>,
}

impl ClientTransport for RmqTransport {
    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(self.open(context))
    }
}

impl RmqTransport {
    async fn open(&self, context: &ConnectContext) -> Result<Arc<Connection>, RpcError> {
        let amqp = connect(context.address())
            .await
            .map_err(|e| context.unavailable(format!("cannot connect to RabbitMQ: {e}")))?;
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
            .map_err(|e| context.unavailable(format!("cannot set up the RabbitMQ channel: {e}")))?;
        let conn = Connection::with_publisher(RmqPublisher {
            channel,
            queue: self.queue.clone(),
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
            let _ = amqp.close(200, "client closed").await;
        });
        Ok(conn)
    }
}

/// The channel consuming direct replies, and the service's queue.
struct RmqPublisher {
    channel: Channel,
    queue: Arc<str>,
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
            self.channel
                .basic_publish(
                    "",
                    &self.queue,
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
        let (url, queue): (String, String) = (url.into(), queue.into());
        Transport::from_fn(format!("{url} (queue {queue})"), move |router| {
            let (url, queue) = (url.clone(), queue.clone());
            async move { RmqServer::connect(&url, &queue, router).await }
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
    queue: String,
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
        let core = Core::new(router)?;
        let amqp = connect(url)
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        let channel = amqp
            .create_channel()
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        declare(&channel, queue)
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        let _ = amqp.close(200, "checked").await;
        Ok(RmqServer {
            url: url.to_owned(),
            queue: queue.to_owned(),
            core,
        })
    }

    /// Serves until stopped, reconnecting (every 500 ms) whenever the broker goes away.
    pub async fn serve(self) {
        let tasks = TaskTracker::new();
        reconnecting(&self.core.stop, "rmq", &self.url, || self.session(&tasks)).await;
        drain(&tasks, self.core.grace_period, "rmq").await;
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
                _ = self.core.stop.stopping() => break Ok(()),
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let router = self.core.router.clone();
                    let channel = channel.clone();
                    tasks.spawn(async move { handle(&router, &channel, delivery).await });
                }
                Some(Err(error)) => break Err(error.to_string()),
                None => break Err("the consumer ended".to_owned()),
            }
        };
        if result.is_ok() {
            // Let in-flight handlers reply on this channel before it closes.
            drain(tasks, self.core.grace_period, "rmq").await;
            let _ = amqp.close(200, "shutdown").await;
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
/// `correlation_id`, or an event.
async fn handle(router: &MessageRouter, channel: &Channel, delivery: lapin::message::Delivery) {
    let frame = Bytes::from(delivery.data);
    let context = MessageContext::new(delivery.routing_key.as_str(), headers(&delivery.properties));
    let reply_to = delivery.properties.reply_to().as_ref().map(|r| r.as_str());
    let correlation = delivery
        .properties
        .correlation_id()
        .as_ref()
        .map(|c| c.as_str());
    match dispatch(router, &frame, None, Some(&context)) {
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
