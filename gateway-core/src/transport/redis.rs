//! The Redis transport (feature `redis`), byte-compatible with Nest's `Transport.REDIS`
//! (docs/nest-wire.md §5): a request is `PUBLISH <route> <packet>`, its replies come on
//! `<route>.reply`, an event is `PUBLISH <route> <packet>` with no id.
//!
//! - Client: two connections per client proxy, as ioredis has: a multiplexed one to publish
//!   and a subscriber. Before the first request for a route, the client subscribes to
//!   `<route>.reply` (and waits for the acknowledgement, as Nest does); the subscription stays
//!   for the connection's life (Nest unsubscribes when the route's last call ends). Replies for
//!   other clients' ids are dropped. When the subscriber connection drops, every pending call
//!   fails with `ConnectionLost` and the next call reconnects.
//! - Server: [`RedisServer`] subscribes to every handler route and replies on
//!   `<channel>.reply`; it reconnects and resubscribes by itself when Redis comes back. With
//!   Nest's `wildcards` option ([`RedisServerOptions::wildcards`]) it subscribes to each route
//!   as a pattern (`PSUBSCRIBE`: `*`, `?`, `[..]` glob), a message is handled by the handler
//!   of the pattern that matched its channel (once per matching pattern, as Redis delivers
//!   it), and the handler's context names the channel. Its replies go to
//!   `<channel>.reply`, where the client listens; Nest's server sends them to
//!   `<pattern>.reply`, where nobody does (for a pattern without glob characters the two
//!   agree).
//! - Requests and replies go through an outbox (`transport/outbox.rs`): with calls in
//!   flight, the `PUBLISH`es of one round of the scheduler leave as one pipeline (one write,
//!   one read of the counts). Events go at once.
//! - Redis pub/sub drops messages nobody subscribes to, so a request for a pattern no service
//!   handles is never answered (as in Nest): the call ends at its deadline (504 at the edge).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use tokio_util::task::TaskTracker;

use super::outbox::{Calls, Outbox};

use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish,
    RpcError, CONNECTION_CLOSED,
};
use crate::server::broker::{broker_server, drain, on_worker, reconnecting, routes, Core};
use crate::server::broker::{run_or_spawn, serve_routed};
use crate::server::{MessageContext, MessageRouter, ServerError, Transport};

/// Nest's default Redis URL.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl ClientOptions {
    /// A Nest `Transport.REDIS` client (feature `redis`) through the Redis at `url`
    /// (`redis://127.0.0.1:6379`). A pattern no service handles is never answered (Redis
    /// drops the message): such a call ends at its deadline.
    pub fn redis(name: impl Into<String>, url: impl Into<String>) -> Self {
        ClientOptions::custom(name, url, || RedisTransport)
    }
}

/// The client side: see the module docs.
struct RedisTransport;

impl ClientTransport for RedisTransport {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(open(context))
    }
}

async fn open(context: &ConnectContext) -> Result<Arc<Connection>, RpcError> {
    let client = crate::redis_conn::client(
        context.address(),
        #[cfg(feature = "tls")]
        context.tls(),
    )
    .map_err(|e| context.unavailable(format!("bad Redis URL or TLS settings: {e}")))?;
    let connect = async {
        let publisher = client.get_multiplexed_async_connection().await?;
        let pubsub = client.get_async_pubsub().await?;
        Ok::<_, redis::RedisError>((publisher, pubsub))
    };
    let (publisher, pubsub) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| context.unavailable("connecting to Redis timed out"))?
        .map_err(|e| context.unavailable(format!("cannot connect to Redis: {e}")))?;
    let (sink, mut messages) = pubsub.split();
    let calls = Calls::default();
    let outbox = Outbox::for_calls(&calls, {
        let (publisher, calls) = (publisher.clone(), calls.clone());
        move |batch: Vec<Published>| {
            let (publisher, calls) = (publisher.clone(), calls.clone());
            async move {
                if let Err(error) = publish_all(publisher, &batch).await {
                    for (id, reason) in refused(&batch, error) {
                        calls.fail(id, &reason);
                    }
                }
                batch
            }
        }
    });
    let conn = Connection::with_publisher(RedisPublisher {
        publisher,
        outbox,
        replies: sink,
        routes: Mutex::default(),
    });
    calls.set(&conn);
    let reader = conn.clone();
    let service = context.service().clone();
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = reader.closed() => return,
            };
            let Some(message) = message else {
                tracing::warn!(%service, "Redis connection lost; pending calls fail");
                reader.close(CONNECTION_CLOSED);
                return;
            };
            reader.deliver(Bytes::copy_from_slice(message.get_payload_bytes()));
        }
    });
    Ok(conn)
}

/// A publishing connection, and the subscriber that hears the replies.
struct RedisPublisher {
    publisher: MultiplexedConnection,
    /// Requests, pipelined in batches (`transport/outbox.rs`).
    outbox: Outbox<Published>,
    replies: PubSubSink,
    /// The routes whose reply channel is subscribed to.
    routes: Mutex<HashSet<String, foldhash::fast::FixedState>>,
}

impl RedisPublisher {
    /// Subscribes to `<route>.reply` unless already done; returns once Redis acknowledged.
    async fn ensure_replies(&self, route: &str) -> Result<(), Arc<str>> {
        if self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(route)
        {
            return Ok(());
        }
        let channel = format!("{route}.reply");
        self.replies
            .clone()
            .subscribe(&channel)
            .await
            .map_err(|e| Arc::from(format!("cannot subscribe to {channel}: {e}")))?;
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(route.to_owned());
        Ok(())
    }
}

impl Publish for RedisPublisher {
    /// A request (after making sure its replies will be heard) or an event. Redis pub/sub has
    /// no headers (nor has Nest's Redis transport).
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
        Box::pin(async move {
            let Some(id) = message.id else {
                // An event goes at once: `emit` reports what Redis says of it.
                let mut publisher = self.publisher.clone();
                return redis::cmd("PUBLISH")
                    .arg(message.route)
                    .arg(message.body)
                    .query_async::<i64>(&mut publisher)
                    .await
                    .map(drop)
                    .map_err(|e| Arc::from(e.to_string()));
            };
            self.ensure_replies(message.route).await?;
            self.outbox
                .send(Published {
                    channel: message.route.to_owned(),
                    body: message.body,
                    call: Some(id),
                })
                .await
        })
    }
}

/// One `PUBLISH` for an outbox.
struct Published {
    channel: String,
    body: Vec<u8>,
    /// The call it belongs to: failed if Redis refuses the batch.
    call: Option<u64>,
}

/// Publishes `batch` as one pipeline: one write, one read of the counts. Each command's
/// buffer is sized once; the counts are read into `()` (an error reply still fails the
/// batch), not marked ignored one by one, which costs the redis crate a hashed set.
async fn publish_all(
    mut publisher: MultiplexedConnection,
    batch: &[Published],
) -> redis::RedisResult<()> {
    let mut pipeline = redis::Pipeline::with_capacity(batch.len());
    for message in batch {
        let bytes = "PUBLISH".len() + message.channel.len() + message.body.len();
        let mut publish = redis::Cmd::with_capacity(3, bytes);
        publish
            .arg("PUBLISH")
            .arg(&message.channel)
            .arg(&message.body);
        pipeline.add_command(publish);
    }
    pipeline.query_async::<()>(&mut publisher).await
}

/// The calls of `batch` that `error` fails, each with its reason. Redis answers every command
/// of a pipeline, and the redis crate names those it refused by their index (a server error,
/// such as an ACL's `NOPERM`): each of those calls fails with its own command's error, and the
/// others, published, wait for their replies. Any other error (the connection's) fails every
/// call of the batch.
fn refused(batch: &[Published], error: redis::RedisError) -> Vec<(u64, String)> {
    let whole = error.to_string();
    match error.into_server_errors() {
        Some(errors) => errors
            .iter()
            .filter_map(|(index, error)| {
                let call = batch.get(*index)?.call?;
                Some((call, format!("Redis refused the request: {error}")))
            })
            .collect(),
        None => batch
            .iter()
            .filter_map(|m| Some((m.call?, whole.clone())))
            .collect(),
    }
}

/// Settings for a [`RedisServer`] (Nest's Redis `options`).
#[derive(Debug, Clone, Default)]
pub struct RedisServerOptions {
    /// Nest's `wildcards`: subscribe to each route as a glob pattern (`PSUBSCRIBE`), so
    /// `#[message_pattern("orders.*")]` handles `orders.created`.
    pub wildcards: bool,
    /// Connect over TLS (feature `tls`, a `rediss://` URL): the CA to trust and the
    /// certificate to show. Without it a `rediss://` URL trusts the system's roots.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsOptions>,
}

impl RedisServerOptions {
    /// Connects with these TLS settings (feature `tls`; see the field).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Routes are glob patterns (Nest's `wildcards: true`).
    pub fn wildcards(mut self) -> Self {
        self.wildcards = true;
        self
    }
}

impl Transport {
    /// `{ transport: Transport.REDIS, options: { host, port } }` (feature `redis`).
    pub fn redis(url: impl Into<String>) -> Self {
        Self::redis_with(url, RedisServerOptions::default())
    }

    /// Redis with every option ([`RedisServerOptions`]): `{ .., options: { wildcards: true } }`.
    pub fn redis_with(url: impl Into<String>, options: RedisServerOptions) -> Self {
        let url: String = url.into();
        let describe = if options.wildcards {
            format!("{url} (wildcards)")
        } else {
            url.clone()
        };
        Transport::from_fn(describe, move |router| {
            let (url, options) = (url.clone(), options.clone());
            async move { RedisServer::connect_with(&url, router, options).await }
        })
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
    core: Core,
    options: RedisServerOptions,
}

impl RedisServer {
    /// Checks that Redis answers at `url` and that the router has no duplicate pattern.
    pub async fn connect(url: &str, router: MessageRouter) -> Result<Self, ServerError> {
        Self::connect_with(url, router, RedisServerOptions::default()).await
    }

    /// [`connect`](Self::connect) with options (wildcard routes).
    pub async fn connect_with(
        url: &str,
        router: MessageRouter,
        options: RedisServerOptions,
    ) -> Result<Self, ServerError> {
        let core = Core::new(router)?;
        let client = crate::redis_conn::client(
            url,
            #[cfg(feature = "tls")]
            options.tls.as_ref(),
        )
        .map_err(|e| ServerError::connect(url, e))?;
        tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| ServerError::connect(url, "connecting to Redis timed out"))?
            .map_err(|e| ServerError::connect(url, e))?;
        Ok(RedisServer {
            client,
            url: url.to_owned(),
            core,
            options,
        })
    }

    /// Serves until stopped, reconnecting (every 500 ms) whenever Redis goes away.
    ///
    /// The loop runs as a task of the current runtime, on its worker threads, even when the
    /// future is awaited by `#[tokio::main]`'s own thread; dropping the future stops it.
    pub async fn serve(self) {
        on_worker(self.run()).await
    }

    /// The loop [`serve`](Self::serve) runs as a task.
    async fn run(self) {
        let routes = routes(&self.core.router);
        let tasks = TaskTracker::new();
        let outboxes = TaskTracker::new();
        reconnecting(&self.core.stop, "redis", &self.url, || {
            self.session(&routes, &tasks, &outboxes)
        })
        .await;
        drain(&tasks, self.core.grace_period, "redis").await;
        // The last replies leave the outboxes: each one's task ends once its senders are gone
        // (a handler abandoned past the grace period may still hold one).
        outboxes.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), outboxes.wait()).await;
    }
    /// One connection's life: `Ok` when stopped, `Err` when the connection failed.
    async fn session(
        &self,
        routes: &[String],
        tasks: &TaskTracker,
        outboxes: &TaskTracker,
    ) -> Result<(), String> {
        let connect = async {
            let publisher = self.client.get_multiplexed_async_connection().await?;
            let mut pubsub = self.client.get_async_pubsub().await?;
            for route in routes {
                if self.options.wildcards {
                    pubsub.psubscribe(route).await?;
                } else {
                    pubsub.subscribe(route).await?;
                }
            }
            Ok::<_, redis::RedisError>((publisher, pubsub))
        };
        let (publisher, pubsub) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| "connecting timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        tracing::info!(url = %self.url, routes = ?routes, "microservice listening on Redis");
        let (_sink, mut messages) = pubsub.split();
        let handlers = tasks.clone();
        let (outbox, sending) = Outbox::start(
            move |batch: Vec<Published>| {
                let publisher = publisher.clone();
                async move {
                    if let Err(error) = publish_all(publisher, &batch).await {
                        tracing::warn!(%error, replies = batch.len(), "replies could not be published");
                    }
                    batch
                }
            },
            move || handlers.len() > 1,
        );
        // Tracked until its last reply is out (finished ones are forgotten by the tracker).
        outboxes.spawn(async move {
            let _ = sending.await;
        });
        loop {
            let Some(slot) = self.core.slot("redis").await else {
                return Ok(());
            };
            let message = tokio::select! {
                message = messages.next() => message,
                _ = self.core.stop.stopping() => return Ok(()),
            };
            let Some(message) = message else {
                return Err("the subscription ended".into());
            };
            let channel = message.get_channel_name().to_owned();
            // With wildcards, the handler is the matching pattern's; the context names the
            // channel.
            let route = match message.from_pattern() {
                true => message
                    .get_pattern::<String>()
                    .unwrap_or_else(|_| channel.clone()),
                false => channel.clone(),
            };
            let frame = Bytes::copy_from_slice(message.get_payload_bytes());
            let router = self.core.router.clone();
            let outbox = outbox.clone();
            run_or_spawn(tasks, async move {
                let reply_channel = format!("{channel}.reply");
                let publish = |body: Vec<u8>| {
                    let reply = Published {
                        channel: reply_channel.clone(),
                        body,
                        call: None,
                    };
                    let outbox = outbox.clone();
                    async move {
                        if outbox.send(reply).await.is_err() {
                            tracing::warn!(
                                "a reply could not be published: the connection is gone"
                            );
                        }
                    }
                };
                let context = MessageContext::new(channel.clone(), Vec::new());
                serve_routed(&router, &route, context, frame, Some(publish)).await;
                drop(slot);
            });
        }
    }
}

broker_server!(RedisServer);
