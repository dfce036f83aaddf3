//! What a broker connection publishes, handed to its client library in batches: one task per
//! connection takes the queued messages and, while other calls are in flight, first lets every
//! task that is ready run, so what they publish joins the batch. The batch then leaves in one
//! write, as Node's clients write once per tick.
//!
//! Why: a broker library (async-nats, redis-rs) writes from its own task, which each publish
//! wakes. tokio runs a task woken this way next (its LIFO slot), before the other callers, so
//! every message costs a write (and a wake of the broker) of its own: measured, one `writev`
//! per call with 64 callers on NATS and on Redis.
//!
//! Used by the NATS and Redis transports. rumqttc writes and flushes each request by itself
//! (0.25), so the MQTT transport's event-loop task takes its [`Inbox`] and writes each batch
//! itself (`transport/mqtt.rs`). amqprs's writer task writes each frame as it takes it, one
//! write per message whatever reaches it together, so RabbitMQ gains nothing from it.

use std::sync::Arc;
#[cfg(any(feature = "nats", feature = "redis"))]
use std::{
    future::Future,
    sync::{OnceLock, Weak},
};

use tokio::sync::mpsc;
#[cfg(any(feature = "nats", feature = "redis"))]
use tokio::task::JoinHandle;

#[cfg(any(feature = "nats", feature = "redis"))]
use crate::client::Connection;
use crate::client::CONNECTION_CLOSED;

/// How many messages an outbox holds before publishers wait: a bound, not a buffer.
const CAPACITY: usize = 1024;

/// The most messages handed on in one batch.
const BATCH: usize = 256;

/// A queue of messages `M` in front of a broker connection; see the module docs.
pub(crate) struct Outbox<M> {
    tx: mpsc::Sender<M>,
}

impl<M> Clone for Outbox<M> {
    fn clone(&self) -> Self {
        Outbox {
            tx: self.tx.clone(),
        }
    }
}

impl<M> Outbox<M> {
    /// An outbox and its receiving end, for a connection whose own task writes the batches.
    pub fn channel() -> (Self, Inbox<M>) {
        let (tx, rx) = mpsc::channel::<M>(CAPACITY);
        (Outbox { tx }, Inbox { rx })
    }

    /// Queues `message`, waiting while the outbox is full.
    pub async fn send(&self, message: M) -> Result<(), Arc<str>> {
        self.tx
            .send(message)
            .await
            .map_err(|_| Arc::from(CONNECTION_CLOSED))
    }
}

#[cfg(any(feature = "nats", feature = "redis"))]
impl<M: Send + 'static> Outbox<M> {
    /// Starts the task that hands each batch to `flush`, which gives the emptied `Vec` back
    /// (kept for the next batch); the task ends when every sender is gone.
    ///
    /// `busy` says whether others are likely to publish soon (more than one call or handler
    /// in flight): only then does the task wait a round for them. Alone, a message leaves at
    /// once (waiting would add a round of the scheduler to every call's latency).
    pub fn start<F, Fut>(
        mut flush: F,
        busy: impl Fn() -> bool + Send + 'static,
    ) -> (Self, JoinHandle<()>)
    where
        F: FnMut(Vec<M>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<M>> + Send,
    {
        let (outbox, mut inbox) = Self::channel();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while inbox.recv(&mut batch).await > 0 {
                inbox.top_up(&mut batch, busy()).await;
                batch = flush(batch).await;
                batch.clear();
            }
        });
        (outbox, task)
    }

    /// [`start`](Self::start) for a client's connection: it waits a round for other callers
    /// while more than one of the connection's calls is in flight.
    pub fn for_calls<F, Fut>(calls: &Calls, flush: F) -> Self
    where
        F: FnMut(Vec<M>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<M>> + Send,
    {
        let calls = calls.clone();
        Self::start(flush, move || calls.busy()).0
    }
}

/// The receiving end of an [`Outbox`].
pub(crate) struct Inbox<M> {
    rx: mpsc::Receiver<M>,
}

impl<M> Inbox<M> {
    /// Waits for messages and appends them to `batch` (at most a batch); 0 once every sender
    /// is gone. Cancel safe: a `select!` may drop it without losing a message.
    pub async fn recv(&mut self, batch: &mut Vec<M>) -> usize {
        self.rx.recv_many(batch, BATCH).await
    }

    /// Whether nothing is queued.
    #[cfg(feature = "mqtt")]
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Adds what else is queued to `batch`; when `busy`, after letting every task already
    /// woken run first, so what it publishes joins the batch.
    pub async fn top_up(&mut self, batch: &mut Vec<M>, busy: bool) {
        if busy {
            tokio::task::yield_now().await;
        }
        while batch.len() < BATCH {
            match self.rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
    }
}

/// The connection a client's outbox serves, set once the connection exists (it owns the
/// outbox): how many calls it has in flight, and where a refused message's call is failed.
#[cfg(any(feature = "nats", feature = "redis"))]
#[derive(Clone, Default)]
pub(crate) struct Calls(Arc<OnceLock<Weak<Connection>>>);

#[cfg(any(feature = "nats", feature = "redis"))]
impl Calls {
    /// Points at `conn`.
    pub fn set(&self, conn: &Arc<Connection>) {
        let _ = self.0.set(Arc::downgrade(conn));
    }

    /// Whether more than one call waits on the connection.
    pub fn busy(&self) -> bool {
        self.0
            .get()
            .and_then(Weak::upgrade)
            .is_some_and(|conn| conn.pending_calls() > 1)
    }

    /// Fails the call `id` with `reason`: its message could not be published.
    pub fn fail(&self, id: u64, reason: &str) {
        if let Some(conn) = self.0.get().and_then(Weak::upgrade) {
            conn.fail(id, reason.to_owned());
        }
    }
}
