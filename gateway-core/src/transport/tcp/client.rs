//! The connection behind a TCP client proxy, as Nest's `ClientTCP` keeps it: one socket,
//! opened on first use, shared by every caller, multiplexed by packet id. When it closes
//! (EOF, socket error, corrupt frame) every pending call fails at once and the next call opens
//! a new one. There is no background reconnect loop.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::{next_frame, write_frames, NestCodec};
use crate::client::pending::Pending;
use crate::client::RpcError;
use crate::packet::Response;

/// Nest's reason for a connection that went away.
pub(crate) const CONNECTION_CLOSED: &str = "Connection closed";

/// Frames queued for the writer before callers wait for room.
const WRITE_QUEUE: usize = 1024;

pub(crate) struct TcpClient {
    service: Arc<str>,
    addr: Arc<str>,
    max_frame_units: usize,
    incomplete_timeout: Duration,
    current: Mutex<Option<Arc<Connection>>>,
    /// Held while dialling, so concurrent first calls share one attempt.
    dialling: tokio::sync::Mutex<()>,
}

/// One open link to a service (a socket, or a broker subscription): its pending table and
/// where request bodies go.
pub(crate) struct Connection {
    pub pending: Pending,
    sink: Sink,
    closed: CancellationToken,
}

/// Where a connection's outgoing bodies go.
pub(crate) enum Sink {
    /// The queue into a TCP connection's writer task.
    Tcp(mpsc::Sender<Vec<u8>>),
    /// A NATS client: requests are published on the pattern's subject with a reply subject
    /// under `inbox`.
    #[cfg(feature = "nats")]
    Nats {
        client: async_nats::Client,
        inbox: Arc<str>,
    },
    /// Redis: a publishing connection, and the subscriber that hears the replies.
    #[cfg(feature = "redis")]
    Redis {
        publisher: redis::aio::MultiplexedConnection,
        replies: crate::transport::redis::ReplySubscriptions,
    },
    /// MQTT: the client, and the reply topics it subscribed to.
    #[cfg(feature = "mqtt")]
    Mqtt {
        replies: crate::transport::mqtt::ReplyTopics,
    },
    /// RabbitMQ: the channel consuming direct replies, and the service's queue.
    #[cfg(feature = "rmq")]
    Rmq {
        channel: lapin::Channel,
        queue: Arc<str>,
    },
}

impl TcpClient {
    pub fn new(
        service: Arc<str>,
        addr: Arc<str>,
        max_frame_units: usize,
        incomplete_timeout: Duration,
    ) -> Self {
        TcpClient {
            service,
            addr,
            max_frame_units,
            incomplete_timeout,
            current: Mutex::new(None),
            dialling: tokio::sync::Mutex::new(()),
        }
    }

    pub fn live(&self) -> Option<Arc<Connection>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// The open connection, dialling one if there is none. Callers bound this with their
    /// deadline.
    pub async fn connection(&self) -> Result<Arc<Connection>, RpcError> {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _dialling = self.dialling.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        // `connect` tries every address the host resolves to (`localhost` may be ::1 first).
        let stream = TcpStream::connect(&*self.addr)
            .await
            .map_err(|source| RpcError::Connect {
                service: self.service.clone(),
                addr: self.addr.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        tracing::debug!(service = %self.service, addr = %self.addr, "connected");
        let conn = Connection::start(
            stream,
            self.service.clone(),
            self.max_frame_units,
            self.incomplete_timeout,
        );
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    /// Calls waiting on the open connection.
    pub fn current_pending(&self) -> usize {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().map_or(0, |c| c.pending.len())
    }

    /// Closes the open connection, failing its pending calls with `Connection closed`. The
    /// next call connects again, as in Nest.
    pub fn close(&self) {
        let current = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = current {
            conn.close(CONNECTION_CLOSED.into());
        }
    }
}

impl Drop for TcpClient {
    fn drop(&mut self) {
        // The connection's reader task holds it alive; without this it would outlive us.
        self.close();
    }
}

impl Connection {
    pub(crate) fn new(sink: Sink) -> Arc<Self> {
        Arc::new(Connection {
            pending: Pending::default(),
            sink,
            closed: CancellationToken::new(),
        })
    }

    /// Cancelled when the connection closes.
    #[cfg_attr(
        not(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq")),
        allow(dead_code)
    )]
    pub(crate) fn closed_token(&self) -> &CancellationToken {
        &self.closed
    }

    fn start(
        stream: TcpStream,
        service: Arc<str>,
        max_frame_units: usize,
        incomplete_timeout: Duration,
    ) -> Arc<Self> {
        let (read, write) = stream.into_split();
        let (bodies, mut queue) = mpsc::channel(WRITE_QUEUE);
        let conn = Connection::new(Sink::Tcp(bodies));

        let writer = conn.clone();
        let writer_service = service.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                result = write_frames(write, &mut queue, || writer.pending.len() > 1) => result,
                _ = writer.closed.cancelled() => Ok(()),
            };
            if let Err(error) = result {
                tracing::warn!(service = %writer_service, %error, "write failed; closing the connection");
                writer.close(error.to_string().into());
            }
        });

        let reader = conn.clone();
        tokio::spawn(async move {
            let mut frames = FramedRead::new(read, NestCodec::new(max_frame_units));
            let reason: Arc<str> = loop {
                let next = tokio::select! {
                    next = next_frame(&mut frames, incomplete_timeout) => next,
                    _ = reader.closed.cancelled() => return,
                };
                match next {
                    Some(Ok(frame)) => match serde_json::from_slice::<Response>(&frame) {
                        Ok(packet) => reader.pending.deliver(&frame, &packet),
                        Err(error) => {
                            tracing::error!(service = %service, %error, "Could not parse JSON from the service; closing the connection");
                            break format!("Could not parse JSON: {error}").into();
                        }
                    },
                    Some(Err(error)) => {
                        tracing::error!(service = %service, %error, "corrupt frame from the service; closing the connection");
                        break error.to_string().into();
                    }
                    None => break CONNECTION_CLOSED.into(),
                }
            };
            tracing::debug!(service = %service, %reason, "connection closed");
            reader.close(reason);
        });
        conn
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Fails every pending call with `reason`, refuses new ones, and stops both tasks (which
    /// drops the socket).
    pub fn close(&self, reason: Arc<str>) {
        // Mark it closed before waking anyone: a woken caller that retries at once must not
        // find this connection still looking alive.
        self.closed.cancel();
        self.pending.close(reason);
    }

    /// Sends one JSON body: a request (`id`) or an event for the pattern `route`.
    pub async fn send(
        &self,
        route: &str,
        id: Option<u64>,
        headers: Option<&[(String, String)]>,
        body: Vec<u8>,
    ) -> Result<(), Arc<str>> {
        match &self.sink {
            Sink::Tcp(bodies) => {
                let _ = (route, id, headers);
                bodies
                    .send(body)
                    .await
                    .map_err(|_| Arc::from(CONNECTION_CLOSED))
            }
            // Boxed, so a call's future does not carry room for the largest broker client's
            // publish.
            #[cfg(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq"))]
            _ => Box::pin(self.publish(route, id, headers, body)).await,
        }
    }

    /// Publishes through a broker client.
    #[cfg(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq"))]
    async fn publish(
        &self,
        route: &str,
        id: Option<u64>,
        headers: Option<&[(String, String)]>,
        body: Vec<u8>,
    ) -> Result<(), Arc<str>> {
        if self.is_closed() {
            return Err(CONNECTION_CLOSED.into());
        }
        match &self.sink {
            Sink::Tcp(_) => unreachable!("TCP bodies go through the writer queue"),
            #[cfg(feature = "nats")]
            Sink::Nats { client, inbox } => {
                let subject = route.to_owned();
                let map = headers.map(|headers| {
                    let mut map = async_nats::HeaderMap::new();
                    for (name, value) in headers {
                        map.append(name.as_str(), value.as_str());
                    }
                    map
                });
                let sent = match (id, map) {
                    (Some(id), Some(map)) => {
                        let reply = format!("{inbox}.{id}");
                        client
                            .publish_with_reply_and_headers(subject, reply, map, body.into())
                            .await
                    }
                    (Some(id), None) => {
                        let reply = format!("{inbox}.{id}");
                        client.publish_with_reply(subject, reply, body.into()).await
                    }
                    (None, Some(map)) => {
                        client.publish_with_headers(subject, map, body.into()).await
                    }
                    (None, None) => client.publish(subject, body.into()).await,
                };
                sent.map_err(|e| Arc::from(e.to_string()))
            }
            #[cfg(feature = "redis")]
            Sink::Redis { publisher, replies } => {
                let _ = headers; // Redis pub/sub has no headers (nor has Nest's Redis transport)
                crate::transport::redis::publish(publisher, replies, route, id, body).await
            }
            #[cfg(feature = "mqtt")]
            Sink::Mqtt { replies } => {
                let _ = headers; // MQTT 3.1.1 has no headers
                crate::transport::mqtt::publish(replies, route, id, body).await
            }
            #[cfg(feature = "rmq")]
            Sink::Rmq { channel, queue } => {
                let _ = route;
                crate::transport::rmq::publish(channel, queue, id, headers, body).await
            }
        }
    }
}
