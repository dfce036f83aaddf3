//! The NATS transport (feature `nats`), byte-compatible with Nest's `Transport.NATS`
//! (nest-wire.md §4): requests are published on the normalized pattern as subject with a
//! reply inbox, the body is Nest's packet with the raw pattern, replies are Nest's reply
//! packets, events carry no reply subject.
//!
//! - Client: one NATS connection per client proxy (async-nats reconnects it), one wildcard
//!   inbox subscription (`_INBOX.<nuid>.*`) shared by every call, each call replying to
//!   `_INBOX.<nuid>.<id>`. A request nobody subscribes to fails at once (NATS "no responders").
//!   When the broker connection drops, every pending call fails with `ConnectionLost`; while
//!   it is down new calls fail fast (503 at the edge); once it is back calls succeed again.
//! - Server: [`NatsServer`] subscribes once per handler route, in a queue group when one is set
//!   (several instances then share the load, each message handled once).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::pending::Failure;
use crate::client::RpcError;
use crate::packet::{slice_of, Incoming, Response};
use crate::server::{send_replies, MessageContext, MessageRouter};

/// Nest's default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// What pending calls fail with when the broker connection drops.
const BROKER_LOST: &str = "NATS connection lost";

type Current = Arc<Mutex<Option<Arc<Connection>>>>;

/// The client side: see the module docs.
pub(crate) struct NatsClient {
    service: Arc<str>,
    url: Arc<str>,
    nats: tokio::sync::Mutex<Option<Client>>,
    current: Current,
}

fn take_current(current: &Current) -> Option<Arc<Connection>> {
    current
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
}

impl NatsClient {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        NatsClient {
            service,
            url,
            nats: tokio::sync::Mutex::new(None),
            current: Arc::new(Mutex::new(None)),
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

    /// The NATS connection, made on first use; calls fail fast while it is down.
    async fn client(&self) -> Result<Client, RpcError> {
        let mut nats = self.nats.lock().await;
        if nats.is_none() {
            let current = self.current.clone();
            let service = self.service.clone();
            let client = ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .event_callback(move |event| {
                    let current = current.clone();
                    let service = service.clone();
                    async move {
                        match event {
                            Event::Disconnected => {
                                tracing::warn!(%service, "NATS connection lost; pending calls fail, reconnecting");
                                if let Some(conn) = take_current(&current) {
                                    conn.close(BROKER_LOST.into());
                                }
                            }
                            Event::Connected => tracing::info!(%service, "NATS connected"),
                            other => tracing::debug!(%service, event = %other, "NATS event"),
                        }
                    }
                })
                .connect(&*self.url)
                .await
                .map_err(|e| self.unavailable(format!("cannot connect to NATS: {e}")))?;
            *nats = Some(client);
        }
        let client = nats.clone().expect("set above");
        if client.connection_state() != State::Connected {
            return Err(self.unavailable("NATS is unreachable (reconnecting)"));
        }
        Ok(client)
    }

    /// The live inbox subscription, made if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let client = self.client().await?;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let inbox: Arc<str> = client.new_inbox().into();
        let mut replies = client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| self.unavailable(format!("cannot subscribe to the reply inbox: {e}")))?;
        let conn = Connection::new(Sink::Nats {
            client,
            inbox: inbox.clone(),
        });
        let reader = conn.clone();
        let service = self.service.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = replies.next() => message,
                    _ = reader.closed_token().cancelled() => break,
                };
                let Some(message) = message else {
                    reader.close(CONNECTION_CLOSED.into());
                    break;
                };
                let id = message
                    .subject
                    .rsplit('.')
                    .next()
                    .and_then(|id| id.parse::<u64>().ok());
                if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    if let Some(id) = id {
                        let reason = format!("no responders: nothing subscribed to the pattern (NATS 503) for {service}");
                        reader.pending.fail(id, Failure::Lost(reason.into()));
                    }
                    continue;
                }
                let frame = message.payload;
                match serde_json::from_slice::<Response>(&frame) {
                    Ok(packet) => reader.pending.deliver(&frame, &packet),
                    Err(error) => {
                        tracing::error!(%service, %error, "a reply that is not JSON was ignored")
                    }
                }
            }
            let _ = replies.unsubscribe().await;
        });
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    pub fn current_pending(&self) -> usize {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |c| c.pending.len())
    }

    pub fn close(&self) {
        if let Some(conn) = take_current(&self.current) {
            conn.close(CONNECTION_CLOSED.into());
        }
    }
}

impl Drop for NatsClient {
    fn drop(&mut self) {
        self.close();
    }
}

/// Settings for a [`NatsServer`].
#[derive(Debug, Clone)]
pub struct NatsServerOptions {
    /// The queue group every handler subscribes in (Nest's `queue` option). With one, several
    /// instances share the messages; without (Nest's default), every instance gets every one.
    pub queue: Option<String>,
    /// How long a graceful shutdown waits for in-flight handlers (default 10 s).
    pub grace_period: Duration,
}

impl Default for NatsServerOptions {
    fn default() -> Self {
        NatsServerOptions {
            queue: None,
            grace_period: Duration::from_secs(10),
        }
    }
}

impl NatsServerOptions {
    /// Subscribes in the queue group `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }
}

/// A microservice on NATS. Nest's `Transport.NATS` server.
///
/// ```no_run
/// # use gateway_core::server::MessageRouter;
/// # use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
/// # async fn demo(router: MessageRouter) -> Result<(), Box<dyn std::error::Error>> {
/// let server = NatsServer::connect("nats://127.0.0.1:4222", router, NatsServerOptions::default().queue("users")).await?;
/// server.serve_until(gateway_core::signal::shutdown_signal()).await;
/// # Ok(()) }
/// ```
pub struct NatsServer {
    client: Client,
    router: Arc<MessageRouter>,
    options: NatsServerOptions,
    stop: CancellationToken,
}

/// Stops a running [`NatsServer`] from elsewhere.
#[derive(Debug, Clone)]
pub struct NatsShutdown(CancellationToken);

impl NatsShutdown {
    /// Unsubscribes, lets in-flight handlers finish (within the grace period), then returns
    /// from `serve`.
    pub fn shutdown(&self) {
        self.0.cancel();
    }
}

impl NatsServer {
    /// Connects to the NATS at `url`. Fails if it cannot, or if the router has a pattern
    /// registered twice.
    pub async fn connect(
        url: &str,
        router: MessageRouter,
        options: NatsServerOptions,
    ) -> Result<Self, ServerError> {
        if let Some(route) = router.duplicate_routes().first() {
            return Err(ServerError::DuplicatePattern {
                route: route.clone(),
            });
        }
        let client = ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(url)
            .await
            .map_err(|e| ServerError::Bind {
                addr: url.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.to_string()),
            })?;
        Ok(NatsServer {
            client,
            router: Arc::new(router),
            options,
            stop: CancellationToken::new(),
        })
    }

    /// A handle that stops this server.
    pub fn shutdown_handle(&self) -> NatsShutdown {
        NatsShutdown(self.stop.clone())
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

    /// Serves until stopped (or the subscriptions end).
    pub async fn serve(self) {
        let NatsServer {
            client,
            router,
            options,
            stop,
        } = self;
        let routes: Vec<String> = router
            .message_routes()
            .chain(router.event_routes())
            .map(str::to_owned)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut subscriptions = Vec::new();
        for route in &routes {
            let subscribed = match &options.queue {
                Some(queue) => client.queue_subscribe(route.clone(), queue.clone()).await,
                None => client.subscribe(route.clone()).await,
            };
            match subscribed {
                Ok(sub) => subscriptions.push(sub),
                Err(error) => tracing::error!(subject = %route, %error, "cannot subscribe"),
            }
        }
        let _ = client.flush().await;
        tracing::info!(routes = ?routes, queue = ?options.queue, "microservice listening on NATS");
        let mut messages = futures_util::stream::select_all(subscriptions);
        let tasks = TaskTracker::new();
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = stop.cancelled() => break,
            };
            let Some(message) = message else { break };
            let router = router.clone();
            let client = client.clone();
            tasks.spawn(async move { handle(&router, &client, message).await });
        }
        drop(messages); // unsubscribes
        tasks.close();
        if tokio::time::timeout(options.grace_period, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("NATS shutdown: handlers still running after the grace period");
        }
        let _ = client.flush().await;
    }
}

/// One message: a request (it has an `id`) answered on its reply subject, or an event.
async fn handle(router: &MessageRouter, client: &Client, message: async_nats::Message) {
    let route = message.subject.as_str();
    let headers = message
        .headers
        .iter()
        .flat_map(|h| h.iter())
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |v| (name.to_string(), v.as_str().to_owned()))
        })
        .collect();
    let context = MessageContext::new(route, headers);
    let frame: Bytes = message.payload;
    let packet = match Incoming::parse(&frame) {
        Ok(packet) => packet,
        Err(error) => {
            tracing::error!(subject = route, %error, "a message that is not JSON was ignored");
            return;
        }
    };
    let data = packet
        .data
        .map_or_else(|| Bytes::from_static(b"null"), |d| slice_of(&frame, d));
    match packet.id {
        Some(id) => {
            let Some(handler) = router.message_by_route(route) else {
                tracing::warn!(
                    subject = route,
                    "a request for an event-only pattern was ignored"
                );
                return;
            };
            let id = slice_of(&frame, id);
            let reply = context.scope(handler(data));
            let Some(reply_to) = message.reply else {
                // Nest runs the handler and sends nothing back.
                let _ = reply.await;
                return;
            };
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
            let publish = async {
                while let Some(body) = rx.recv().await {
                    if let Err(error) = client.publish(reply_to.clone(), body.into()).await {
                        tracing::warn!(%error, "a reply could not be published");
                    }
                }
            };
            let produce = async move { send_replies(reply.await, Some(&id), &tx).await };
            tokio::join!(produce, publish);
        }
        None => {
            for handler in router.events_by_route(route) {
                context.clone().scope(handler(data.clone())).await;
            }
        }
    }
}
