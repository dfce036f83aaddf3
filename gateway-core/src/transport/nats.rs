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

use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event};
use futures_util::StreamExt;
use tokio_util::task::TaskTracker;

use super::broker::{self, BrokerShutdown, Slot};
use super::tcp::client::{Connection, Sink, CONNECTION_CLOSED};
use super::tcp::ServerError;
use crate::client::pending::Failure;
use crate::client::RpcError;
use crate::server::{MessageContext, MessageRouter};

/// Nest's default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// What pending calls fail with when the broker connection drops.
const BROKER_LOST: &str = "NATS connection lost";

/// The client side: see the module docs.
pub(crate) struct NatsClient {
    slot: Slot,
    nats: tokio::sync::Mutex<Option<Client>>,
}

impl NatsClient {
    pub fn new(service: Arc<str>, url: Arc<str>) -> Self {
        NatsClient {
            slot: Slot::new(service, url),
            nats: tokio::sync::Mutex::new(None),
        }
    }

    /// The NATS connection, made on first use; calls fail fast while it is down.
    async fn client(&self) -> Result<Client, RpcError> {
        let mut nats = self.nats.lock().await;
        if nats.is_none() {
            let close = self.slot.closer();
            let service = self.slot.service.clone();
            let client = ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .event_callback(move |event| {
                    match event {
                        Event::Disconnected => {
                            tracing::warn!(%service, "NATS connection lost; pending calls fail, reconnecting");
                            close(BROKER_LOST);
                        }
                        Event::Connected => tracing::info!(%service, "NATS connected"),
                        other => tracing::debug!(%service, event = %other, "NATS event"),
                    }
                    async {}
                })
                .connect(&*self.slot.url)
                .await
                .map_err(|e| self.slot.unavailable(format!("cannot connect to NATS: {e}")))?;
            *nats = Some(client);
        }
        let client = nats.clone().expect("set above");
        if client.connection_state() != State::Connected {
            return Err(self.slot.unavailable("NATS is unreachable (reconnecting)"));
        }
        Ok(client)
    }

    /// The live inbox subscription, made if there is none.
    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        self.slot.get_or_open(|| self.open()).await
    }

    async fn open(&self) -> Result<Arc<Connection>, RpcError> {
        let client = self.client().await?;
        let inbox: Arc<str> = client.new_inbox().into();
        let mut replies = client.subscribe(format!("{inbox}.*")).await.map_err(|e| {
            self.slot
                .unavailable(format!("cannot subscribe to the reply inbox: {e}"))
        })?;
        let conn = Connection::new(Sink::Nats { client, inbox });
        let reader = conn.clone();
        let service = self.slot.service.clone();
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
                if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    let id = message
                        .subject
                        .rsplit('.')
                        .next()
                        .and_then(|id| id.parse().ok());
                    if let Some(id) = id {
                        let reason = format!("no responders: nothing subscribed to the pattern (NATS 503) for {service}");
                        reader.pending.fail(id, Failure::Lost(reason.into()));
                    }
                    continue;
                }
                broker::deliver(&reader, &service, None, message.payload);
            }
            let _ = replies.unsubscribe().await;
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
    stop: BrokerShutdown,
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

    /// Serves until stopped (or the subscriptions end). async-nats reconnects and
    /// resubscribes by itself.
    pub async fn serve(self) {
        let NatsServer {
            client,
            router,
            options,
            stop,
        } = self;
        let routes = broker::routes(&router);
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
                _ = stop.0.cancelled() => break,
            };
            let Some(message) = message else { break };
            let router = router.clone();
            let client = client.clone();
            tasks.spawn(async move { handle(&router, &client, message).await });
        }
        drop(messages); // unsubscribes
        broker::drain(&tasks, options.grace_period, "nats").await;
        let _ = client.flush().await;
    }
}

/// One message: its context (subject, headers), answered on its reply subject.
async fn handle(router: &MessageRouter, client: &Client, message: async_nats::Message) {
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
    let context = MessageContext::new(message.subject.as_str(), headers);
    let publish = message.reply.map(|reply_to| {
        move |body: Vec<u8>| {
            let (client, reply_to) = (client.clone(), reply_to.clone());
            async move {
                if let Err(error) = client.publish(reply_to, body.into()).await {
                    tracing::warn!(%error, "a reply could not be published");
                }
            }
        }
    });
    broker::handle_routed(router, context, message.payload, publish).await;
}
