//! The memory a TCP server's connections may hold in half-received frames, together: each
//! connection with more than [`UNTRACKED`] bytes buffered counts against one total, and past
//! it the connection holding the most is closed. One connection's frame is bounded by the
//! maximum frame size; this bounds the sum over many connections, each below it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// Buffers up to this size are not counted (the usual frame, in one or two reads): the hot
/// path takes no lock.
pub(crate) const UNTRACKED: usize = 64 * 1024;

/// One server's total.
pub(crate) struct FrameBudget {
    limit: usize,
    next: AtomicU64,
    state: Mutex<Counted>,
}

#[derive(Default)]
struct Counted {
    used: usize,
    // Connection → its buffered bytes, its peer, and what closes it.
    held: HashMap<u64, (usize, SocketAddr, CancellationToken)>,
}

impl FrameBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(FrameBudget {
            limit,
            next: AtomicU64::new(0),
            state: Mutex::new(Counted::default()),
        })
    }

    /// A connection's hook for its codec: its share, which `close` cancels if it is chosen to
    /// go.
    pub fn hook(self: &Arc<Self>, peer: SocketAddr, close: CancellationToken) -> Hook {
        Hook(Arc::new(HookInner {
            counted: AtomicUsize::new(0),
            close: close.clone(),
            share: Mutex::new(self.share(peer, close)),
        }))
    }

    /// A connection's share, which `close` cancels if it is chosen to go.
    pub fn share(self: &Arc<Self>, peer: SocketAddr, close: CancellationToken) -> Share {
        Share {
            budget: self.clone(),
            id: self.next.fetch_add(1, Ordering::Relaxed),
            peer,
            close,
            counted: 0,
        }
    }

    fn set(&self, share: &Share, buffered: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.used = state.used - share.counted + buffered;
        if buffered == 0 {
            state.held.remove(&share.id);
        } else {
            state
                .held
                .insert(share.id, (buffered, share.peer, share.close.clone()));
        }
        if state.used <= self.limit {
            return;
        }
        // Over: the largest goes (its loop sees the token and drops its share).
        let Some((largest, peer, close)) = state.held.values().max_by_key(|(bytes, _, _)| *bytes)
        else {
            return;
        };
        if !close.is_cancelled() {
            if let Some(left_out) = crate::log_limit::allow("tcp server: frame budget") {
                tracing::warn!(
                    %peer,
                    buffered = largest,
                    total = state.used,
                    limit = self.limit,
                    left_out,
                    "half-received frames exceed the server's budget (max_buffered_bytes); closing the connection holding the most"
                );
            }
            close.cancel();
        }
    }
}

/// A [`Share`] as a codec holds it: told the buffer's size on every partial decode, which
/// costs two atomic loads unless the size crosses [`UNTRACKED`] or the share changes.
#[derive(Clone)]
pub(crate) struct Hook(Arc<HookInner>);

struct HookInner {
    counted: AtomicUsize,
    close: CancellationToken,
    share: Mutex<Share>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("counted", &self.0.counted.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Hook {
    /// The connection holds `buffered` bytes: `false` once it has been chosen to go.
    pub fn hold(&self, buffered: usize) -> bool {
        let counted = if buffered > UNTRACKED { buffered } else { 0 };
        if counted != self.0.counted.load(Ordering::Relaxed) {
            self.0
                .share
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .report(buffered);
            self.0.counted.store(counted, Ordering::Relaxed);
        }
        !self.0.close.is_cancelled()
    }
}

/// One connection's part of a [`FrameBudget`]: what it has reported, given back on drop.
pub(crate) struct Share {
    budget: Arc<FrameBudget>,
    id: u64,
    peer: SocketAddr,
    close: CancellationToken,
    counted: usize,
}

impl Share {
    /// The connection now holds `buffered` bytes of unfinished frames.
    pub fn report(&mut self, buffered: usize) {
        let buffered = if buffered > UNTRACKED { buffered } else { 0 };
        if buffered != self.counted {
            self.budget.set(self, buffered);
            self.counted = buffered;
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.report(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn past_the_total_the_largest_holder_is_closed_and_its_bytes_given_back() {
        let budget = FrameBudget::new(1_000_000);
        let (a, b, c) = (
            CancellationToken::new(),
            CancellationToken::new(),
            CancellationToken::new(),
        );
        let mut small = budget.share(peer(1), a.clone());
        let mut large = budget.share(peer(2), b.clone());
        let mut third = budget.share(peer(3), c.clone());
        small.report(10_000); // untracked
        large.report(600_000);
        small.report(300_000);
        assert!(!a.is_cancelled() && !b.is_cancelled());
        third.report(200_000); // 1.1 MB: the largest goes
        assert!(b.is_cancelled());
        assert!(!a.is_cancelled() && !c.is_cancelled());
        drop(large);
        third.report(650_000); // 950 kB: within
        assert!(!a.is_cancelled() && !c.is_cancelled());
        assert_eq!(budget.state.lock().unwrap().used, 950_000);
        drop(small);
        drop(third);
        let state = budget.state.lock().unwrap();
        assert_eq!((state.used, state.held.len()), (0, 0));
    }
}
