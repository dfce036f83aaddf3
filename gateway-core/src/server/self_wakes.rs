//! A future polled again in place when it wakes itself: what a broker server's loop runs in
//! ([`KeepSelfWakes`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::task::{ArcWake, AtomicWaker};

/// A future whose own wake-ups, made while it is being polled, poll it again at once instead
/// of going back through the scheduler: what `on_worker` (`server/broker.rs`) wraps a server's
/// loop in.
///
/// Why: an MQTT server's loop is both the reader and the writer of its connection. A handler
/// it runs inline queues its reply in the loop's own outbox, whose receiver holds the loop's
/// waker from its last wait, so the loop wakes itself. tokio puts a task woken while it runs
/// at the back of its worker's queue and wakes a parked worker to steal it: a futex call and
/// two context switches for nothing, once per batch of messages. Measured on MQTT with Nest's
/// client (which publishes its calls one by one), our service spent 19.8-20.6 µs per message
/// on two runtime threads and 9.4-10.1 on one; in this wrapper, 8.0-10.0 on two
/// (`docs/benchmarks.md`, "MQTT: the loop that woke itself").
///
/// A wake from elsewhere while the future is polled is kept the same way: the future is
/// polled again before this poll returns, so no wake-up is lost. At most [`REPOLLS`] polls a
/// turn; past them (a future that wakes itself on purpose, as tokio's cooperative budget
/// does), the wake goes to the scheduler after all.
pub(crate) struct KeepSelfWakes<F> {
    future: Pin<Box<F>>,
    state: Arc<SelfWakes>,
    waker: Waker,
}

/// The most polls of a [`KeepSelfWakes`] future within one poll of its task.
const REPOLLS: usize = 16;

/// Not being polled: a wake goes to the task.
const IDLE: u8 = 0;
/// Being polled: a wake is kept.
const POLLING: u8 = 1;
/// Being polled, and woken meanwhile: poll again.
const WOKEN: u8 = 2;

/// What the waker a [`KeepSelfWakes`] future is polled with shares with it.
struct SelfWakes {
    state: AtomicU8,
    task: AtomicWaker,
}

impl ArcWake for SelfWakes {
    fn wake_by_ref(arc: &Arc<Self>) {
        let mut state = arc.state.load(Ordering::Acquire);
        loop {
            match state {
                POLLING => match arc.state.compare_exchange_weak(
                    POLLING,
                    WOKEN,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => state = now,
                },
                WOKEN => return,
                _ => return arc.task.wake(),
            }
        }
    }
}

impl<F: Future> KeepSelfWakes<F> {
    /// `future`, polled as the type's docs say.
    pub(crate) fn new(future: F) -> Self {
        let state = Arc::new(SelfWakes {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        KeepSelfWakes {
            future: Box::pin(future),
            waker: futures_util::task::waker(state.clone()),
            state,
        }
    }
}

impl<F: Future> Future for KeepSelfWakes<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.state.task.register(cx.waker());
        let mut inner = Context::from_waker(&this.waker);
        for _ in 0..REPOLLS {
            this.state.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(output) = this.future.as_mut().poll(&mut inner) {
                this.state.state.store(IDLE, Ordering::Release);
                return Poll::Ready(output);
            }
            // Woken while polled (the state is then WOKEN): poll again.
            if this
                .state
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
        }
        this.state.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use super::{KeepSelfWakes, REPOLLS};

    /// A future that counts its polls and, while `wakes` says so, wakes itself in each.
    struct Waking {
        polls: Arc<AtomicUsize>,
        wakes: usize,
        ready_at: usize,
    }

    impl Future for Waking {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let polls = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if polls >= self.ready_at {
                return Poll::Ready(polls);
            }
            if polls <= self.wakes {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
    }

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting_waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_wake_from_within_the_poll_polls_again_in_place() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut future = std::pin::pin!(KeepSelfWakes::new(Waking {
            polls: polls.clone(),
            wakes: 2,
            ready_at: 3,
        }));
        let (wakes, waker) = counting_waker();
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Ready(3), "polled three times in one poll");
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "the task was not woken");
    }

    #[test]
    fn a_wake_after_the_poll_wakes_the_task() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut future = std::pin::pin!(KeepSelfWakes::new(Waking {
            polls: polls.clone(),
            wakes: 0,
            ready_at: 2,
        }));
        let (wakes, waker) = counting_waker();
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Pending);
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        // The waker the inner future was given, used once the poll is over (as an I/O
        // driver or another task would).
        future.waker.wake_by_ref();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "the task is woken");
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Ready(2));
    }

    #[test]
    fn a_future_that_always_wakes_itself_goes_back_to_the_scheduler() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut future = std::pin::pin!(KeepSelfWakes::new(Waking {
            polls: polls.clone(),
            wakes: usize::MAX,
            ready_at: usize::MAX,
        }));
        let (wakes, waker) = counting_waker();
        let poll = future.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Pending);
        assert_eq!(polls.load(Ordering::SeqCst), REPOLLS);
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            1,
            "rescheduled, not forgotten"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_from_other_threads_are_never_lost() {
        // A loop that is woken only by other tasks' sends, many of them landing while it is
        // being polled: every message arrives.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
        let total = 20_000u32;
        let receiver = tokio::spawn(KeepSelfWakes::new(async move {
            let mut sum = 0u64;
            let mut count = 0;
            while let Some(n) = rx.recv().await {
                sum += u64::from(n);
                count += 1;
            }
            (count, sum)
        }));
        let senders: Vec<_> = (0..4)
            .map(|k| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for n in (k..total).step_by(4) {
                        tx.send(n).await.unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        // A lost wake-up leaves the receiver asleep and the senders waiting on a full channel.
        let (count, sum) = tokio::time::timeout(Duration::from_secs(10), async move {
            for sender in senders {
                sender.await.unwrap();
            }
            receiver.await.unwrap()
        })
        .await
        .expect("no wake-up lost");
        assert_eq!(count, total);
        assert_eq!(sum, u64::from(total) * u64::from(total - 1) / 2);
    }
}
