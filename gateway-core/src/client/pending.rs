//! The table of calls waiting for replies on one connection, keyed by packet id.
//!
//! Transport-neutral: a transport feeds it every reply packet ([`Pending::deliver`]) and
//! closes it when its connection dies ([`Pending::close`]), which fails every waiting call at
//! once. A call that gives up (deadline, dropped future) leaves through [`Forget`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::packet::{slice_of, Response};

/// Why a call ended without a value.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The service answered with this (truthy) `err` JSON.
    Remote(Bytes),
    /// The connection closed, for this reason.
    Lost(Arc<str>),
}

/// What a single-reply call receives: the last value, or `None` if the service completed
/// without one.
pub(crate) type Outcome = Result<Option<Delivered>, Failure>;

/// A single-reply call's value.
#[derive(Debug, Clone)]
pub(crate) enum Delivered {
    /// The value's JSON, read as part of its packet.
    Checked(Bytes),
    /// The `response` of Nest's usual final reply, routed by the packet's shape
    /// ([`usual_reply`](crate::packet::usual_reply)) and not read yet: if the caller cannot read
    /// it, the whole `frame` is read as any packet is.
    Unchecked {
        /// The packet.
        frame: Bytes,
        /// Its `response`'s place in it.
        value: Bytes,
        /// Whether a packet that is not JSON closes the connection (TCP's reader does that to
        /// any); else it fails its call alone (a broker's connection carries on).
        corrupt_closes: bool,
    },
}

#[cfg(test)]
impl Delivered {
    /// The value's JSON (read or not).
    pub(crate) fn value(&self) -> &Bytes {
        match self {
            Delivered::Checked(value) | Delivered::Unchecked { value, .. } => value,
        }
    }
}

/// How many values of a streamed reply may wait for its reader.
pub(crate) const STREAM_BUFFER: usize = 1024;

/// One item of a streamed reply; the channel closing ends the stream.
pub(crate) type StreamItem = Result<Bytes, Failure>;

enum Entry {
    Single {
        tx: oneshot::Sender<Outcome>,
        last: Option<Bytes>,
    },
    Stream {
        tx: mpsc::Sender<StreamItem>,
    },
}

#[derive(Default)]
struct State {
    /// Set once the connection is gone: nothing may register after that.
    closed: Option<Arc<str>>,
    /// Keyed by our own ids (sequential, never a peer's choice): a fixed fast hasher.
    calls: HashMap<u64, Entry, foldhash::fast::FixedState>,
}

#[cfg(test)]
thread_local! {
    /// Replies this thread routed by their shape ([`Pending::deliver_unchecked`]): the
    /// tests' proof that a transport takes the one-pass path.
    pub(crate) static ROUTED_BY_SHAPE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct Pending {
    state: Mutex<State>,
}

impl Pending {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the map consistent (single inserts/removes).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, id: u64, entry: Entry) -> Result<(), Arc<str>> {
        let mut state = self.lock();
        if let Some(reason) = &state.closed {
            return Err(reason.clone());
        }
        state.calls.insert(id, entry);
        Ok(())
    }

    /// Why the connection closed, once it has.
    pub fn closed_reason(&self) -> Option<Arc<str>> {
        self.lock().closed.clone()
    }

    /// Waits for one final reply. Fails with the close reason if the connection is gone.
    pub fn register_single(&self, id: u64) -> Result<oneshot::Receiver<Outcome>, Arc<str>> {
        let (tx, rx) = oneshot::channel();
        self.register(id, Entry::Single { tx, last: None })?;
        Ok(rx)
    }

    /// Receives every value of a streamed reply, up to [`STREAM_BUFFER`] not yet read: a
    /// stream whose reader falls further behind fails (Nest's Observable would buffer
    /// without bound).
    pub fn register_stream(&self, id: u64) -> Result<mpsc::Receiver<StreamItem>, Arc<str>> {
        // Two more slots: the last value and an error always fit.
        let (tx, rx) = mpsc::channel(STREAM_BUFFER + 2);
        self.register(id, Entry::Stream { tx })?;
        Ok(rx)
    }

    /// Removes a call that gave up. Its late reply will be dropped.
    pub fn forget(&self, id: u64) {
        self.lock().calls.remove(&id);
    }

    /// Calls still waiting.
    pub fn len(&self) -> usize {
        self.lock().calls.len()
    }

    /// Routes one reply packet (borrowed from `frame`) to its call. Replies to unknown ids
    /// (late, or not ours) are dropped, as Nest does.
    pub fn deliver(&self, frame: &Bytes, packet: &Response<'_>) {
        if let Some(id) = packet.our_id() {
            self.deliver_as(id, frame, packet);
        }
    }

    /// Routes a reply packet to call `id` (a transport that correlates outside the body,
    /// like RabbitMQ's `correlation_id`).
    pub fn deliver_as(&self, id: u64, frame: &Bytes, packet: &Response<'_>) {
        let error = packet.error().map(|e| slice_of(frame, e));
        let value = packet.response.map(|r| slice_of(frame, r));
        let is_final = packet.is_final();
        let mut state = self.lock();
        if !is_final {
            match state.calls.get_mut(&id) {
                // A single call keeps only the last value (Nest's gateway uses lastValueFrom).
                Some(Entry::Single { last, .. }) if value.is_some() => *last = value,
                Some(Entry::Stream { tx }) => {
                    if let Some(value) = value {
                        if tx.capacity() > 2 {
                            let _ = tx.try_send(Ok(value));
                        } else {
                            let behind =
                                format!("the stream's reader fell {STREAM_BUFFER} values behind");
                            let _ = tx.try_send(Err(Failure::Lost(behind.into())));
                            state.calls.remove(&id);
                        }
                    }
                }
                Some(Entry::Single { .. }) | None => {}
            }
            return;
        }
        let Some(entry) = state.calls.remove(&id) else {
            return;
        };
        drop(state);
        match entry {
            Entry::Single { tx, last } => {
                let outcome = match error {
                    Some(err) => Err(Failure::Remote(err)),
                    None => Ok(value.or(last).map(Delivered::Checked)),
                };
                let _ = tx.send(outcome);
            }
            Entry::Stream { tx } => {
                let _ = match error {
                    Some(err) => tx.try_send(Err(Failure::Remote(err))),
                    None => match value {
                        Some(value) => tx.try_send(Ok(value)),
                        None => Ok(()),
                    },
                };
            }
        }
    }

    /// Hands Nest's usual final reply to its call, read by its shape only (see
    /// [`Delivered::Unchecked`]). `false`, and nothing done, unless call `id` waits for a
    /// single reply: the packet then goes through [`deliver`](Self::deliver).
    pub fn deliver_unchecked(
        &self,
        id: u64,
        frame: &Bytes,
        value: std::ops::Range<usize>,
        corrupt_closes: bool,
    ) -> bool {
        let mut state = self.lock();
        if !matches!(state.calls.get(&id), Some(Entry::Single { .. })) {
            return false;
        }
        let Some(Entry::Single { tx, .. }) = state.calls.remove(&id) else {
            unreachable!("checked above, under the same lock");
        };
        drop(state);
        #[cfg(test)]
        ROUTED_BY_SHAPE.with(|routed| routed.set(routed.get() + 1));
        let _ = tx.send(Ok(Some(Delivered::Unchecked {
            frame: frame.clone(),
            value: frame.slice(value),
            corrupt_closes,
        })));
        true
    }

    /// Fails one waiting call (a transport learned it cannot be answered).
    pub fn fail(&self, id: u64, failure: Failure) {
        let entry = self.lock().calls.remove(&id);
        match entry {
            Some(Entry::Single { tx, .. }) => drop(tx.send(Err(failure))),
            Some(Entry::Stream { tx }) => drop(tx.try_send(Err(failure))),
            None => {}
        }
    }

    /// Fails every waiting call with `reason` and refuses new ones.
    pub fn close(&self, reason: Arc<str>) {
        let calls = {
            let mut state = self.lock();
            state.closed.get_or_insert_with(|| reason.clone());
            std::mem::take(&mut state.calls)
        };
        for entry in calls.into_values() {
            let failure = Failure::Lost(reason.clone());
            match entry {
                Entry::Single { tx, .. } => drop(tx.send(Err(failure))),
                Entry::Stream { tx } => drop(tx.try_send(Err(failure))),
            }
        }
    }
}

/// Removes a call from the table when the waiting future is dropped (deadline or caller gone)
/// unless [`Forget::disarm`] was called after the reply arrived.
pub(crate) struct Forget<'a> {
    pending: &'a Pending,
    id: Option<u64>,
}

impl<'a> Forget<'a> {
    pub fn new(pending: &'a Pending, id: u64) -> Self {
        Forget {
            pending,
            id: Some(id),
        }
    }

    pub fn disarm(mut self) {
        self.id = None;
    }
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.pending.forget(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(pending: &Pending, json: &str) {
        let frame = Bytes::copy_from_slice(json.as_bytes());
        let packet: Response = serde_json::from_slice(&frame).unwrap();
        pending.deliver(&frame, &packet);
    }

    #[tokio::test]
    async fn single_call_keeps_last_value_and_completion_may_come_alone() {
        let pending = Pending::default();
        let rx = pending.register_single(1).unwrap();
        deliver(&pending, r#"{"response":"a","id":"1"}"#);
        deliver(&pending, r#"{"response":"b","id":"1"}"#);
        deliver(&pending, r#"{"isDisposed":true,"id":"1"}"#);
        assert_eq!(&rx.await.unwrap().unwrap().unwrap().value()[..], b"\"b\"");
        assert_eq!(pending.len(), 0);
    }

    #[tokio::test]
    async fn falsy_err_is_ignored_and_truthy_err_fails() {
        let pending = Pending::default();
        let ok = pending.register_single(1).unwrap();
        let bad = pending.register_single(2).unwrap();
        deliver(
            &pending,
            r#"{"err":null,"response":5,"isDisposed":true,"id":"1"}"#,
        );
        deliver(&pending, r#"{"err":"boom","id":"2"}"#);
        assert_eq!(&ok.await.unwrap().unwrap().unwrap().value()[..], b"5");
        assert!(matches!(bad.await.unwrap(), Err(Failure::Remote(e)) if &e[..] == b"\"boom\""));
    }

    #[tokio::test]
    async fn the_usual_reply_goes_to_a_single_call_only() {
        let pending = Pending::default();
        let single = pending.register_single(1).unwrap();
        let _stream = pending.register_stream(2).unwrap();
        let frame = Bytes::from_static(br#"{"response":[1],"isDisposed":true,"id":"1"}"#);
        assert!(pending.deliver_unchecked(1, &frame, 12..15, true));
        match single.await.unwrap().unwrap().unwrap() {
            Delivered::Unchecked {
                frame: whole,
                value,
                ..
            } => {
                assert_eq!(whole, frame);
                assert_eq!(&value[..], b"[1]");
            }
            other => panic!("{other:?}"),
        }
        // A stream, or no call: the packet is read as any other.
        assert!(!pending.deliver_unchecked(2, &frame, 12..15, true));
        assert!(!pending.deliver_unchecked(3, &frame, 12..15, true));
        assert_eq!(pending.len(), 1);
    }

    #[tokio::test]
    async fn streams_get_every_value_then_end() {
        let pending = Pending::default();
        let mut rx = pending.register_stream(3).unwrap();
        deliver(&pending, r#"{"response":1,"id":"3"}"#);
        deliver(&pending, r#"{"response":2,"id":"3"}"#);
        deliver(&pending, r#"{"response":3,"isDisposed":true,"id":"3"}"#);
        deliver(&pending, r#"{"response":4,"isDisposed":true,"id":"3"}"#); // late: dropped
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item.unwrap());
        }
        assert_eq!(
            got,
            ["1", "2", "3"].map(|s| Bytes::from_static(s.as_bytes()))
        );
    }

    #[tokio::test]
    async fn a_stream_whose_reader_falls_behind_fails_instead_of_growing() {
        let pending = Pending::default();
        let mut rx = pending.register_stream(4).unwrap();
        for n in 0..STREAM_BUFFER + 10 {
            deliver(&pending, &format!(r#"{{"response":{n},"id":"4"}}"#));
        }
        assert_eq!(pending.len(), 0, "the call is forgotten");
        let mut values = 0;
        let mut failure = None;
        while let Some(item) = rx.recv().await {
            match item {
                Ok(_) => values += 1,
                Err(Failure::Lost(reason)) => failure = Some(reason),
                Err(Failure::Remote(_)) => unreachable!(),
            }
        }
        assert_eq!(values, STREAM_BUFFER);
        assert_eq!(
            failure.as_deref(),
            Some("the stream's reader fell 1024 values behind")
        );
    }

    #[tokio::test]
    async fn close_fails_everyone_and_refuses_newcomers() {
        let pending = Pending::default();
        let a = pending.register_single(1).unwrap();
        let mut b = pending.register_stream(2).unwrap();
        pending.close("Connection closed".into());
        assert!(matches!(a.await.unwrap(), Err(Failure::Lost(r)) if &*r == "Connection closed"));
        assert!(matches!(b.recv().await, Some(Err(Failure::Lost(_)))));
        assert!(b.recv().await.is_none());
        assert!(pending.register_single(3).is_err());
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn forget_guard_removes_unless_disarmed() {
        let pending = Pending::default();
        let _rx = pending.register_single(1).unwrap();
        drop(Forget::new(&pending, 1));
        assert_eq!(pending.len(), 0);
        let _rx = pending.register_single(2).unwrap();
        Forget::new(&pending, 2).disarm();
        assert_eq!(pending.len(), 1);
    }
}
