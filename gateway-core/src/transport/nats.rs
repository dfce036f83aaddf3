//! The NATS transport (feature `nats`), byte-compatible with Nest's `Transport.NATS`
//! (docs/nest-wire.md §4): requests are published on the normalized pattern as subject with a
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
//! - Requests and replies go to async-nats through an outbox (`transport/outbox.rs`): with
//!   calls in flight, what one round of the scheduler publishes leaves in one write.

use std::sync::Arc;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event, HeaderMap, Subject};
use futures_util::StreamExt;
use tokio_util::task::TaskTracker;

use super::outbox::{Calls, Outbox};
use crate::client::{
    BoxFuture, ClientOptions, ClientTransport, ConnectContext, Connection, Outgoing, Publish,
    RpcError, CONNECTION_CLOSED,
};
use crate::server::broker::{broker_server, drain, on_worker, routes, Core};
use crate::server::broker::{run_or_spawn, serve_routed};
use crate::server::{MessageContext, MessageRouter, ServerError, Transport, DEFAULT_GRACE_PERIOD};

/// Nest's default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// What pending calls fail with when the broker connection drops.
const BROKER_LOST: &str = "NATS connection lost";

impl ClientOptions {
    /// A Nest `Transport.NATS` client (feature `nats`) through the NATS at `url`
    /// (`nats://127.0.0.1:4222`): the service is found by subject, wherever it runs, and
    /// several instances in a queue group share the calls.
    pub fn nats(name: impl Into<String>, url: impl Into<String>) -> Self {
        ClientOptions::custom(name, url, || NatsTransport {
            nats: tokio::sync::Mutex::new(None),
        })
    }
}

/// The client side: see the module docs.
struct NatsTransport {
    /// One NATS connection for the client's life: async-nats reconnects it by itself.
    nats: tokio::sync::Mutex<Option<Client>>,
}

impl NatsTransport {
    /// The NATS connection, made on first use; calls fail fast while it is down.
    async fn client(&self, context: &ConnectContext) -> Result<Client, RpcError> {
        let mut nats = self.nats.lock().await;
        if nats.is_none() {
            let close = context.closer();
            let service = context.service().clone();
            let client = with_tls(
                ConnectOptions::new(),
                #[cfg(feature = "tls")]
                context.tls(),
            )
            .map_err(|e| context.unavailable(e))?
                .connection_timeout(Duration::from_secs(2))
                .event_callback(move |event| {
                    match event {
                        Event::Disconnected => {
                            tracing::warn!(%service, "NATS connection lost; pending calls fail, reconnecting");
                            close.close(BROKER_LOST);
                        }
                        Event::Connected => tracing::info!(%service, "NATS connected"),
                        other => tracing::debug!(%service, event = %other, "NATS event"),
                    }
                    async {}
                })
                .connect(&**context.address())
                .await
                .map_err(|e| context.unavailable(format!("cannot connect to NATS: {e}")))?;
            *nats = Some(client);
        }
        let client = nats.clone().expect("set above");
        if client.connection_state() != State::Connected {
            return Err(context.unavailable("NATS is unreachable (reconnecting)"));
        }
        Ok(client)
    }

    /// Subscribes to a fresh reply inbox and reads it.
    async fn open(&self, context: &ConnectContext) -> Result<Arc<Connection>, RpcError> {
        let client = self.client(context).await?;
        let inbox: Arc<str> = client.new_inbox().into();
        let mut replies = client.subscribe(format!("{inbox}.*")).await.map_err(|e| {
            context.unavailable(format!("cannot subscribe to the reply inbox: {e}"))
        })?;
        let calls = Calls::default();
        let outbox = Outbox::for_calls(&calls, {
            let (client, calls) = (client.clone(), calls.clone());
            move |mut batch: Vec<Outbound>| {
                let (client, calls) = (client.clone(), calls.clone());
                async move {
                    for message in batch.drain(..) {
                        let call = message.call;
                        if let Err(error) = publish(&client, message).await {
                            match call {
                                Some(id) => calls.fail(id, &error.to_string()),
                                None => {
                                    tracing::warn!(%error, "a NATS message could not be published")
                                }
                            }
                        }
                    }
                    batch
                }
            }
        });
        let conn = Connection::with_publisher(NatsPublisher {
            client,
            inbox,
            outbox,
        });
        calls.set(&conn);
        let reader = conn.clone();
        let service = context.service().clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = replies.next() => message,
                    _ = reader.closed() => break,
                };
                let Some(message) = message else {
                    reader.close(CONNECTION_CLOSED);
                    break;
                };
                if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    let id = message
                        .subject
                        .rsplit('.')
                        .next()
                        .and_then(|id| id.parse().ok());
                    if let Some(id) = id {
                        reader.fail(id, format!("no responders: nothing subscribed to the pattern (NATS 503) for {service}"));
                    }
                    continue;
                }
                reader.deliver(message.payload);
            }
            let _ = replies.unsubscribe().await;
        });
        Ok(conn)
    }
}

impl ClientTransport for NatsTransport {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn connect<'a>(
        &'a self,
        context: &'a ConnectContext,
    ) -> BoxFuture<'a, Result<Arc<Connection>, RpcError>> {
        Box::pin(self.open(context))
    }
}

/// Requests are published on the pattern's subject with a reply subject under `inbox`.
struct NatsPublisher {
    client: Client,
    inbox: Arc<str>,
    outbox: Outbox<Outbound>,
}

impl Publish for NatsPublisher {
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
        Box::pin(async move {
            let Outgoing {
                route,
                id,
                headers,
                body,
                ..
            } = message;
            // async-nats's own check, made here where the call can still be failed at once.
            let max = self.client.max_payload();
            if body.len() > max {
                return Err(format!(
                    "Payload size limit of {max} exceeded by message size of {}",
                    body.len()
                )
                .into());
            }
            let headers = headers.map(|headers| {
                let mut map = HeaderMap::new();
                for (name, value) in headers {
                    map.append(name.as_str(), value.as_str());
                }
                map
            });
            let message = Outbound {
                subject: Subject::from(route),
                reply: id.map(|id| Subject::from(format!("{}.{id}", self.inbox))),
                headers,
                payload: body.into(),
                call: id,
            };
            match id {
                Some(_) => self.outbox.send(message).await,
                // An event goes at once: `emit` reports what async-nats says of it.
                None => publish(&self.client, message)
                    .await
                    .map_err(|e| Arc::from(e.to_string())),
            }
        })
    }
}

/// One message for async-nats.
struct Outbound {
    subject: Subject,
    reply: Option<Subject>,
    headers: Option<HeaderMap>,
    payload: bytes::Bytes,
    /// The call it belongs to: failed if async-nats refuses the message.
    call: Option<u64>,
}

/// Hands one message to async-nats.
async fn publish(client: &Client, message: Outbound) -> Result<(), async_nats::PublishError> {
    let Outbound {
        subject,
        reply,
        headers,
        payload,
        ..
    } = message;
    match (reply, headers) {
        (Some(reply), Some(headers)) => {
            client
                .publish_with_reply_and_headers(subject, reply, headers, payload)
                .await
        }
        (Some(reply), None) => client.publish_with_reply(subject, reply, payload).await,
        (None, Some(headers)) => client.publish_with_headers(subject, headers, payload).await,
        (None, None) => client.publish(subject, payload).await,
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
    /// The most handlers running at once (default 1024): past it the server takes no more
    /// messages off its subscriptions until one finishes. async-nats holds what arrives
    /// meanwhile, up to its subscription capacity, then reports a slow consumer and drops.
    pub max_in_flight: usize,
    /// Connect over TLS (feature `tls`): the CA to trust and the certificate to show (Nest's
    /// `tls: { ca, cert, key }`). Without it a `tls://` URL gets async-nats's own TLS settings.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsOptions>,
}

impl Default for NatsServerOptions {
    fn default() -> Self {
        NatsServerOptions {
            queue: None,
            grace_period: DEFAULT_GRACE_PERIOD,
            max_in_flight: crate::server::broker::DEFAULT_MAX_IN_FLIGHT,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// `options` requiring TLS with `tls`'s settings, when given.
fn with_tls(
    options: ConnectOptions,
    #[cfg(feature = "tls")] tls: Option<&crate::tls::TlsOptions>,
) -> Result<ConnectOptions, String> {
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        let config = tls.client_config().map_err(|e| e.to_string())?;
        return Ok(options
            .require_tls(true)
            .tls_client_config((*config).clone()));
    }
    Ok(options)
}

impl NatsServerOptions {
    /// Connects with these TLS settings (feature `tls`; see the field).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Subscribes in the queue group `queue`.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Waits up to `grace` for in-flight handlers on shutdown.
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace_period = grace;
        self
    }

    /// Runs at most `max` handlers at once (see the field).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }
}

impl Transport {
    /// `{ transport: Transport.NATS, options: { servers: [url] } }`: every instance gets every
    /// message (Nest's default).
    pub fn nats(url: impl Into<String>) -> Self {
        Self::nats_with(url, NatsServerOptions::default())
    }

    /// `{ transport: Transport.NATS, options: { servers: [url], queue } }`: instances share
    /// the messages, each handled once.
    pub fn nats_queue(url: impl Into<String>, queue: impl Into<String>) -> Self {
        Self::nats_with(url, NatsServerOptions::default().queue(queue))
    }

    /// NATS with every option ([`NatsServerOptions`]).
    pub fn nats_with(url: impl Into<String>, options: NatsServerOptions) -> Self {
        let url: String = url.into();
        let describe = match &options.queue {
            Some(queue) => format!("{url} (queue {queue})"),
            None => url.clone(),
        };
        Transport::from_fn(describe, move |router| {
            let (url, options) = (url.clone(), options.clone());
            async move { NatsServer::connect(&url, router, options).await }
        })
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
    core: Core,
    queue: Option<String>,
    /// Every subscription's messages as one stream, each with the route it was subscribed
    /// by (a wildcard's handler gets every subject the wildcard matches). A `StreamMap`,
    /// not `select_all`, which allocates a task node for every message.
    messages: tokio_stream::StreamMap<Arc<str>, async_nats::Subscriber>,
}

impl NatsServer {
    /// Connects to the NATS at `url` and subscribes to every handler's subject, as Nest's
    /// `listen()` does before it resolves: once this returns, a request is no longer
    /// answered "no responders" (messages wait for [`NatsServer::serve`]). Fails if it
    /// cannot connect or subscribe, or if the router has a pattern registered twice.
    pub async fn connect(
        url: &str,
        router: MessageRouter,
        options: NatsServerOptions,
    ) -> Result<Self, ServerError> {
        let mut core = Core::new(router)?;
        core.grace_period = options.grace_period;
        core.set_max_in_flight(options.max_in_flight);
        let client = with_tls(
            ConnectOptions::new(),
            #[cfg(feature = "tls")]
            options.tls.as_ref(),
        )
        .map_err(|e| ServerError::connect(url, e))?
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
        .map_err(|e| ServerError::connect(url, e))?;
        let queue = options.queue;
        let mut messages = tokio_stream::StreamMap::new();
        for route in routes(&core.router) {
            let subscription = match &queue {
                Some(queue) => client.queue_subscribe(route.clone(), queue.clone()).await,
                None => client.subscribe(route.clone()).await,
            };
            let subscription = subscription.map_err(|e| ServerError::connect(url, e))?;
            messages.insert(Arc::from(route), subscription);
        }
        // The broker has the subscriptions once it answered the PING after them.
        client
            .flush()
            .await
            .map_err(|e| ServerError::connect(url, e))?;
        Ok(NatsServer {
            client,
            core,
            queue,
            messages,
        })
    }

    /// Serves until stopped (or the subscriptions end). async-nats reconnects and
    /// resubscribes by itself.
    ///
    /// The loop runs as a task of the current runtime, on its worker threads, even when the
    /// future is awaited by `#[tokio::main]`'s own thread; dropping the future stops it.
    pub async fn serve(self) {
        on_worker(self.run()).await
    }

    /// The loop [`serve`](Self::serve) runs as a task.
    async fn run(self) {
        let NatsServer {
            client,
            core,
            queue,
            mut messages,
        } = self;
        let routes: Vec<&str> = messages.keys().map(|route| &**route).collect();
        tracing::info!(routes = ?routes, queue = ?queue, "microservice listening on NATS");
        let tasks = TaskTracker::new();
        let handlers = tasks.clone();
        let (outbox, sending) = Outbox::start(
            {
                let client = client.clone();
                move |mut batch: Vec<Outbound>| {
                    let client = client.clone();
                    async move {
                        for reply in batch.drain(..) {
                            if let Err(error) = publish(&client, reply).await {
                                tracing::warn!(%error, "a reply could not be published");
                            }
                        }
                        batch
                    }
                }
            },
            move || handlers.len() > 1,
        );
        loop {
            let Some(slot) = core.slot("nats").await else {
                break;
            };
            let message = tokio::select! {
                message = messages.next() => message,
                _ = core.stop.stopping() => break,
            };
            let Some((route, message)) = message else {
                break;
            };
            let router = core.router.clone();
            let outbox = outbox.clone();
            run_or_spawn(&tasks, async move {
                handle(&router, &outbox, &route, message).await;
                drop(slot);
            });
        }
        drop(messages); // unsubscribes
        drain(&tasks, core.grace_period, "nats").await;
        // The last replies leave the outbox before the flush: its task ends once every sender
        // is gone (a handler abandoned past the grace period may still hold one).
        drop(outbox);
        let _ = tokio::time::timeout(Duration::from_secs(1), sending).await;
        let _ = client.flush().await;
    }
}

broker_server!(NatsServer);

/// One message: its context (subject, headers), answered on its reply subject.
async fn handle(
    router: &MessageRouter,
    outbox: &Outbox<Outbound>,
    route: &str,
    message: async_nats::Message,
) {
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
            let reply = Outbound {
                subject: reply_to.clone(),
                reply: None,
                headers: None,
                payload: body.into(),
                call: None,
            };
            async move {
                if outbox.send(reply).await.is_err() {
                    tracing::warn!("a reply could not be published: the server is stopping");
                }
            }
        }
    });
    serve_routed(router, route, context, message.payload, publish).await;
}
