//! The connection seam every transport plugs into: one open link to a service (its pending
//! table, where request bodies go, whether it is closed) and the lazy dial cell a client
//! proxy keeps it in.
//!
//! A transport's [`ClientTransport::connect`](super::ClientTransport::connect) makes a
//! [`Connection`], starts whatever reads the service's replies (handing each to
//! [`Connection::deliver`]) and returns it. Everything else (registering calls, deadlines,
//! forgetting calls that gave up, failing every call when the link dies, dialling again on
//! the next call) is done here, once, for every transport.
//!
//! Not for: encoding (see `packet`) or framing (a transport's own concern).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::pending::{Failure, Pending};
use super::{CallOptions, RpcError};
use crate::packet::Response;

/// Nest's reason for a connection that went away.
pub const CONNECTION_CLOSED: &str = "Connection closed";

/// One outgoing packet, as a [`Publish`] implementation receives it.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// The normalized pattern (Nest's route): the subject, channel or topic on brokers.
    pub route: &'a str,
    /// The request's packet id; `None` for an event.
    pub id: Option<u64>,
    /// Message headers set with [`CallOptions::header`](super::CallOptions::header).
    pub headers: Option<&'a [(String, String)]>,
    /// The MQTT QoS set with [`CallOptions::qos`](super::CallOptions::qos).
    pub qos: Option<u8>,
    /// The JSON packet, already encoded in Nest's shape.
    pub body: Vec<u8>,
}

/// Sends outgoing packets for a connection whose transport publishes through a client
/// library (a broker's): NATS, Redis, MQTT, RabbitMQ, or a user's own.
///
/// A transport that writes a byte stream should use [`Connection::with_queue`] instead: a
/// queue costs no boxing or dynamic call per packet.
pub trait Publish: Send + Sync + 'static {
    /// Sends one packet. An error fails the call that sent it with
    /// [`RpcError::ConnectionLost`] and that reason.
    fn publish<'a>(&'a self, message: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>>;
}

/// Where a connection's outgoing bodies go.
enum Sink {
    /// A writer task's queue (TCP, or any byte-stream transport).
    Queue(mpsc::Sender<Vec<u8>>),
    /// A client library that publishes each packet.
    Publisher(Box<dyn Publish>),
}

/// One open link to a service (a socket, or a broker subscription): its pending table and
/// where request bodies go. Made by a transport's `connect`; see the module docs.
pub struct Connection {
    pub(crate) pending: Pending,
    sink: Sink,
    closed: CancellationToken,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("pending", &self.pending.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(sink: Sink) -> Arc<Self> {
        Arc::new(Connection {
            pending: Pending::default(),
            sink,
            closed: CancellationToken::new(),
        })
    }

    /// A connection whose packets go into `queue`, read by the transport's writer task.
    /// When the writer stops reading, calls fail with `Connection closed`.
    pub fn with_queue(queue: mpsc::Sender<Vec<u8>>) -> Arc<Self> {
        Self::new(Sink::Queue(queue))
    }

    /// A connection handled in this process: each packet sent on it is given to `handle`
    /// with the connection (to deliver replies to), in order, until it closes. What the
    /// in-process and mock clients are made of.
    pub(crate) fn in_process(
        handle: impl Fn(Vec<u8>, &Arc<Connection>) + Send + 'static,
    ) -> Arc<Self> {
        let (packets, mut queue) = mpsc::channel::<Vec<u8>>(64);
        let conn = Self::with_queue(packets);
        let replies = conn.clone();
        tokio::spawn(async move {
            loop {
                let packet = tokio::select! {
                    packet = queue.recv() => packet,
                    _ = replies.closed() => return,
                };
                let Some(packet) = packet else { break };
                handle(packet, &replies);
            }
            replies.close(CONNECTION_CLOSED);
        });
        conn
    }

    /// A connection whose packets go through `publisher`.
    pub fn with_publisher(publisher: impl Publish) -> Arc<Self> {
        Self::new(Sink::Publisher(Box::new(publisher)))
    }

    /// Hands one reply packet to its pending call, by the id in its body. A reply that is not
    /// JSON, or for no call of ours, is ignored (as Nest's clients ignore one); but one in
    /// Nest's usual final shape (`{"response":V,"isDisposed":true,"id":"N"}`) goes to call `N`
    /// unread, whose own decoding is the one pass over `V`, so if it is not JSON, it fails
    /// that call with [`RpcError::Decode`](crate::client::RpcError::Decode) at once.
    pub fn deliver(&self, frame: Bytes) {
        if self.deliver_usual(&frame, false) {
            return;
        }
        self.deliver_packet(None, frame);
    }

    /// Hands one reply packet to the call `id`, for transports that correlate outside the
    /// body (RabbitMQ's `correlation_id`). Nest's usual final reply there
    /// (`{"response":V,"isDisposed":true}`) goes to the call unread, as in
    /// [`deliver`](Self::deliver).
    pub fn deliver_to(&self, id: u64, frame: Bytes) {
        if let Some(value) = crate::packet::usual_reply_without_id(&frame) {
            if self.pending.deliver_unchecked(id, &frame, value, false) {
                return;
            }
        }
        self.deliver_packet(Some(id), frame);
    }

    fn deliver_packet(&self, id: Option<u64>, frame: Bytes) {
        match Response::parse(&frame) {
            Ok(packet) => match id {
                Some(id) => self.pending.deliver_as(id, &frame, &packet),
                None => self.pending.deliver(&frame, &packet),
            },
            Err(error) => tracing::debug!(%error, "a reply that is not JSON was ignored"),
        }
    }

    /// Like [`deliver`](Self::deliver), for a frame already parsed (the TCP reader parses
    /// once to tell a corrupt frame from a reply).
    pub(crate) fn deliver_parsed(&self, frame: &Bytes, packet: &Response<'_>) {
        self.pending.deliver(frame, packet);
    }

    /// Hands Nest's usual final reply (`{"response":V,"isDisposed":true,"id":"N"}`) to the
    /// call waiting for it without reading `V` ([`usual_reply`](crate::packet::usual_reply));
    /// `false` for any other packet, or no single call `N`: read it as usual then.
    /// `corrupt_closes`: the transport's reader closes the connection on a packet that is not
    /// JSON (TCP), and so does the call on finding one.
    pub(crate) fn deliver_usual(&self, frame: &Bytes, corrupt_closes: bool) -> bool {
        crate::packet::usual_reply(frame).is_some_and(|(id, value)| {
            self.pending
                .deliver_unchecked(id, frame, value, corrupt_closes)
        })
    }

    /// A reply from `service` that is not JSON, which closes a stream connection (TCP) as
    /// Nest's client does: logged (rate-limited), and the reason its calls fail with.
    pub(crate) fn unparsable(service: &str, error: &serde_json::Error) -> Arc<str> {
        if let Some(left_out) = crate::log_limit::allow(format!("client {service}: bad JSON")) {
            tracing::error!(service = %service, %error, left_out, "Could not parse JSON from the service; closing the connection");
        }
        format!("Could not parse JSON: {error}").into()
    }

    /// Fails the call `id` alone with `reason` (NATS's "no responders").
    pub fn fail(&self, id: u64, reason: impl Into<Arc<str>>) {
        self.pending.fail(id, Failure::Lost(reason.into()));
    }

    /// Calls waiting for a reply on this connection.
    pub fn pending_calls(&self) -> usize {
        self.pending.len()
    }

    /// Packets in the writer's queue, not yet taken by the writer (0 for a publisher).
    pub fn queued(&self) -> usize {
        match &self.sink {
            Sink::Queue(queue) => queue.max_capacity() - queue.capacity(),
            Sink::Publisher(_) => 0,
        }
    }

    /// Whether the connection is closed: the next call dials again.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Completes when the connection closes: a transport's reader and writer tasks stop then.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + '_ {
        self.closed.cancelled()
    }

    /// Fails every pending call with `reason`, refuses new ones, and tells the transport's
    /// tasks to stop (through [`closed`](Self::closed)).
    pub fn close(&self, reason: impl Into<Arc<str>>) {
        // Mark it closed before waking anyone: a woken caller that retries at once must not
        // find this connection still looking alive.
        self.closed.cancel();
        self.pending.close(reason.into());
    }

    /// Sends one JSON body: a request (`id`) or an event for the pattern `route`.
    pub(crate) async fn send(
        &self,
        route: &str,
        id: Option<u64>,
        options: &CallOptions,
        body: Vec<u8>,
    ) -> Result<(), Arc<str>> {
        match &self.sink {
            Sink::Queue(bodies) => bodies
                .send(body)
                .await
                .map_err(|_| Arc::from(CONNECTION_CLOSED)),
            Sink::Publisher(publisher) => {
                if self.is_closed() {
                    return Err(CONNECTION_CLOSED.into());
                }
                let message = Outgoing {
                    route,
                    id,
                    headers: options.headers.as_deref(),
                    qos: options.qos,
                    body,
                };
                publisher.publish(message).await
            }
        }
    }
}

/// Closes whatever connection a client proxy holds at the time, from anywhere (a broker
/// client's disconnect callback). Cheap to clone.
#[derive(Clone, Default)]
pub struct Closer {
    current: Arc<Mutex<Option<Arc<Connection>>>>,
}

impl std::fmt::Debug for Closer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closer").finish_non_exhaustive()
    }
}

impl Closer {
    /// Closes the live connection, failing its pending calls with `reason`. The next call
    /// dials again.
    pub fn close(&self, reason: &str) {
        let conn = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = conn {
            conn.close(reason);
        }
    }
}

/// The lazy dial cell: the live connection, made on first use; concurrent first calls share
/// one dial.
pub(crate) struct Slot {
    current: Closer,
    dialling: tokio::sync::Mutex<()>,
    /// Bumped by every [`close`](Self::close): a dial that began before a close yields a
    /// connection nobody wants.
    closes: std::sync::atomic::AtomicU64,
}

impl Slot {
    pub fn new() -> Self {
        Slot {
            current: Closer::default(),
            dialling: tokio::sync::Mutex::new(()),
            closes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connection>>> {
        self.current
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The open connection, if there is one.
    pub fn live(&self) -> Option<Arc<Connection>> {
        self.lock().as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// The live connection, or a new one from `open`. Callers bound this with their deadline.
    pub async fn get_or_open<Fut>(
        &self,
        open: impl FnOnce() -> Fut,
    ) -> Result<Arc<Connection>, RpcError>
    where
        Fut: Future<Output = Result<Arc<Connection>, RpcError>>,
    {
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let _dialling = self.dialling.lock().await;
        if let Some(conn) = self.live() {
            return Ok(conn);
        }
        let closes = self.closes.load(std::sync::atomic::Ordering::Acquire);
        let conn = open().await?;
        let mut current = self.lock();
        if self.closes.load(std::sync::atomic::Ordering::Acquire) != closes {
            // Closed while connecting (Nest destroys the connecting socket): this connection
            // is closed at once, and the next call dials a new one.
            drop(current);
            conn.close(CONNECTION_CLOSED);
            return Ok(conn);
        }
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// A handle that closes the live connection from anywhere.
    pub fn closer(&self) -> Closer {
        self.current.clone()
    }

    /// Calls waiting on the live connection.
    pub fn current_pending(&self) -> usize {
        self.lock().as_ref().map_or(0, |c| c.pending.len())
    }

    /// Closes the live connection, or the one being dialled; its pending calls fail with
    /// `Connection closed`.
    pub fn close(&self) {
        self.closes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.current.close(CONNECTION_CLOSED);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The transport's reader task holds the connection alive; without this it would
        // outlive the client.
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::pending::{Delivered, ROUTED_BY_SHAPE};

    struct Nowhere;

    impl Publish for Nowhere {
        fn publish<'a>(&'a self, _: Outgoing<'a>) -> BoxFuture<'a, Result<(), Arc<str>>> {
            Box::pin(async { Ok(()) })
        }
    }

    // The reply of a transport that correlates outside the body (RabbitMQ's correlation id).
    #[tokio::test]
    async fn a_reply_to_a_given_call_is_routed_by_its_shape_when_it_is_the_usual_one() {
        let routed = || ROUTED_BY_SHAPE.with(std::cell::Cell::get);
        let conn = Connection::with_publisher(Nowhere);
        let usual = conn.pending.register_single(1).unwrap();
        let failed = conn.pending.register_single(2).unwrap();
        let usual_frame = Bytes::from_static(br#"{"response":{"n":[7]},"isDisposed":true}"#);
        conn.deliver_to(1, usual_frame.clone());
        assert_eq!(
            routed(),
            1,
            "Nest's usual RabbitMQ reply takes the one-pass path"
        );
        match usual.await.unwrap().unwrap().unwrap() {
            Delivered::Unchecked { frame, value, .. } => {
                assert_eq!(frame, usual_frame);
                assert_eq!(&value[..], br#"{"n":[7]}"#);
            }
            other => panic!("{other:?}"),
        }
        conn.deliver_to(
            2,
            Bytes::from_static(br#"{"err":"boom","isDisposed":true}"#),
        );
        assert_eq!(routed(), 1, "any other packet is read whole");
        assert!(matches!(failed.await.unwrap(), Err(Failure::Remote(e)) if &e[..] == b"\"boom\""));
        // No such call: nothing is delivered, and the full read finds no call either.
        conn.deliver_to(3, usual_frame);
        assert_eq!((routed(), conn.pending_calls()), (1, 0));
    }
}
