//! The Redis transport (feature `redis`), byte-compatible with Nest's `Transport.REDIS`
//! (nest-wire.md §5): a request is `PUBLISH <route> <packet>`, its replies come on
//! `<route>.reply`, an event is `PUBLISH <route> <packet>` with no id.
//!
//! - Client: two connections per client proxy, as ioredis has: a multiplexed one to publish
//!   and a subscriber. Before the first request for a route, the client subscribes to
//!   `<route>.reply` (and waits for the acknowledgement, as Nest does); the subscription stays
//!   for the connection's life (Nest unsubscribes when the route's last call ends). Replies for
//!   other clients' ids are dropped. When the subscriber connection drops, every pending call
//!   fails with `ConnectionLost` and the next call reconnects.
//! - Server: [`RedisServer`] subscribes to every handler route and replies on
//!   `<channel>.reply`; it reconnects and resubscribes by itself when Redis comes back.
//! - Redis pub/sub drops messages nobody subscribes to, so a request for a pattern no service
//!   handles is never answered (as in Nest): the call ends at its deadline (504 at the edge).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio_util::task::TaskTracker;

use super::broker::{self, BrokerShutdown, Slot};
use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::RpcError;
use crate::server::{MessageContext, MessageRouter};

/// Nest's default Redis URL.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The subscriber side of a client connection: what it listens on.
pub(crate) struct ReplySubscriptions {
    sink: PubSubSink,
    channels: Mutex<HashSet<String>>,
}

impl ReplySubscriptions {
    /// Subscribes to `<route>.reply` unless already done; returns once Redis acknowledged.
    async fn ensure(&self, route: &str) -> Result<(), Arc<str>> {
        let channel = format!("{route}.reply");
        if self
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&channel)
        {
            return Ok(());
        }
        self.sink
            .clone()
            .subscribe(&channel)
            .await
            .map_err(|e| Arc::from(format!("cannot subscribe to {channel}: {e}")))?;
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(channel);
        Ok(())
    }
}

/// Publishes one packet: a request (after making sure its replies will be heard) or an event.
pub(crate) async fn publish(
    publisher: &MultiplexedConnection,
    replies: &ReplySubscriptions,
    route: &str,
    id: Option<u64>,
    body: Vec<u8>,
) -> Result<(), Arc<str>> {
    if id.is_some() {
        replies.ensure(route).await?;
    }
    let mut publisher = publisher.clone();
    redis::cmd("PUBLISH")
        .arg(route)
        .arg(body)
        .query_async::<i64>(&mut publisher)
        .await
        .map(drop)
        .map_err(|e| Arc::from(e.to_string()))
}

/// The client side: see the module docs.
pub(crate) struct RedisClient {
    slot: Slot,
}

impl RedisClient {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        RedisClient {
            slot: Slot::new(service, url),
        }
    }

    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        self.slot.get_or_open(|| self.open()).await
    }

    async fn open(&self) -> Result<Arc<Connection>, RpcError> {
        let slot = &self.slot;
        let client = redis::Client::open(&*slot.url)
            .map_err(|e| slot.unavailable(format!("bad Redis URL: {e}")))?;
        let connect = async {
            let publisher = client.get_multiplexed_async_connection().await?;
            let pubsub = client.get_async_pubsub().await?;
            Ok::<_, redis::RedisError>((publisher, pubsub))
        };
        let (publisher, pubsub) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| slot.unavailable("connecting to Redis timed out"))?
            .map_err(|e| slot.unavailable(format!("cannot connect to Redis: {e}")))?;
        let (sink, mut messages) = pubsub.split();
        let conn = Connection::new(Sink::Redis {
            publisher,
            replies: ReplySubscriptions {
                sink,
                channels: Mutex::new(HashSet::new()),
            },
        });
        let reader = conn.clone();
        let service = slot.service.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = messages.next() => message,
                    _ = reader.closed_token().cancelled() => return,
                };
                let Some(message) = message else {
                    tracing::warn!(%service, "Redis connection lost; pending calls fail");
                    reader.close(CONNECTION_CLOSED.into());
                    return;
                };
                let frame = Bytes::copy_from_slice(message.get_payload_bytes());
                broker::deliver(&reader, &service, None, frame);
            }
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

/// A microservice on Redis pub/sub. Nest's `Transport.REDIS` server.
///
/// ```no_run
/// # use gateway_core::server::MessageRouter;
/// # use gateway_core::transport::redis::RedisServer;
/// # async fn demo(router: MessageRouter) -> Result<(), Box<dyn std::error::Error>> {
/// let server = RedisServer::connect("redis://127.0.0.1:6379", router).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct RedisServer {
    client: redis::Client,
    url: String,
    router: Arc<MessageRouter>,
    stop: BrokerShutdown,
}

impl RedisServer {
    /// Checks that Redis answers at `url` and that the router has no duplicate pattern.
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
        let client = redis::Client::open(url).map_err(|e| refused(e.to_string()))?;
        tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| refused("connecting to Redis timed out".into()))?
            .map_err(|e| refused(e.to_string()))?;
        Ok(RedisServer {
            client,
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

    /// Serves until stopped, reconnecting (every 500 ms) whenever Redis goes away.
    pub async fn serve(self) {
        let routes = broker::routes(&self.router);
        let tasks = TaskTracker::new();
        broker::reconnecting(&self.stop, "redis", &self.url, || {
            self.session(&routes, &tasks)
        })
        .await;
        broker::drain(&tasks, Duration::from_secs(10), "redis").await;
    }

    /// One connection's life: `Ok` when stopped, `Err` when the connection failed.
    async fn session(&self, routes: &[String], tasks: &TaskTracker) -> Result<(), String> {
        let connect = async {
            let publisher = self.client.get_multiplexed_async_connection().await?;
            let mut pubsub = self.client.get_async_pubsub().await?;
            for route in routes {
                pubsub.subscribe(route).await?;
            }
            Ok::<_, redis::RedisError>((publisher, pubsub))
        };
        let (publisher, pubsub) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        tracing::info!(url = %self.url, routes = ?routes, "microservice listening on Redis");
        let (_sink, mut messages) = pubsub.split();
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = self.stop.0.cancelled() => return Ok(()),
            };
            let Some(message) = message else {
                return Err("the subscription ended".into());
            };
            let channel = message.get_channel_name().to_owned();
            let frame = Bytes::copy_from_slice(message.get_payload_bytes());
            let router = self.router.clone();
            let publisher = publisher.clone();
            tasks.spawn(async move {
                let reply_channel = format!("{channel}.reply");
                let publish = |body: Vec<u8>| {
                    let (mut publisher, reply_channel) = (publisher.clone(), reply_channel.clone());
                    async move {
                        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                            .arg(&reply_channel)
                            .arg(body)
                            .query_async(&mut publisher)
                            .await;
                        if let Err(error) = sent {
                            tracing::warn!(%error, "a reply could not be published");
                        }
                    }
                };
                let context = MessageContext::new(channel, Vec::new());
                broker::handle_routed(&router, context, frame, Some(publish)).await;
            });
        }
    }
}
