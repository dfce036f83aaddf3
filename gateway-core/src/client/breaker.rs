//! A circuit breaker per client, as gateway products (Envoy's outlier detection, resilience4j,
//! Polly) have and Nest has not: after `failures` calls in a row fail for want of the service
//! (its deadline passed, or it could not be reached or went away), the circuit opens and calls
//! fail at once with [`RpcError::CircuitOpen`] (503 at the HTTP edge) instead of each waiting
//! its deadline; after `open_for`, one call goes through as a probe (half-open): its success
//! closes the circuit, its failure opens it again. Answers of the service, errors included,
//! count as the service being there.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::RpcError;

/// A client's circuit breaker settings ([`ClientOptions::circuit_breaker`](super::ClientOptions::circuit_breaker)).
/// Off unless set.
///
/// ```
/// # use std::time::Duration;
/// # use gateway_core::client::{CircuitBreaker, ClientOptions};
/// let orders = ClientOptions::tcp("ORDERS_SERVICE", "127.0.0.1:3002")
///     .circuit_breaker(CircuitBreaker::default()); // 5 failures in a row, open 10 s
/// let strict = CircuitBreaker { failures: 3, open_for: Duration::from_secs(30) };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// How many calls in a row must fail (deadline, connect, connection lost) to open the
    /// circuit (default 5).
    pub failures: u32,
    /// How long the circuit stays open before a probe call is let through (default 10 s).
    pub open_for: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            failures: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// The breaker's state for one client.
pub(crate) struct Breaker {
    settings: CircuitBreaker,
    service: Arc<str>,
    state: AtomicU8,
    failures: AtomicU32,
    opened_at: Mutex<Instant>,
    probing: AtomicBool,
}

/// A call let through: a probe (half-open) or a normal one. A probe dropped unfinished frees
/// the probe's place for the next call.
pub(crate) struct Admitted<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub fn new(settings: CircuitBreaker, service: Arc<str>) -> Self {
        Breaker {
            settings,
            service,
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            opened_at: Mutex::new(Instant::now()),
            probing: AtomicBool::new(false),
        }
    }

    /// Lets a call through, or refuses it at once while the circuit is open.
    pub fn admit(&self) -> Result<Admitted<'_>, RpcError> {
        let admitted = |probe| Admitted {
            breaker: self,
            probe,
            recorded: false,
        };
        match self.state.load(Ordering::Acquire) {
            CLOSED => return Ok(admitted(false)),
            OPEN => {
                let opened_at = *self
                    .opened_at
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let retry_in =
                    (opened_at + self.settings.open_for).saturating_duration_since(Instant::now());
                if !retry_in.is_zero() {
                    return Err(self.refusal(retry_in));
                }
                // Time for a probe: whoever moves the state to half-open sends it.
                if self
                    .state
                    .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    tracing::info!(service = %self.service, "circuit half-open: one call probes the service");
                }
            }
            _ => {}
        }
        if self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Ok(admitted(true));
        }
        Err(self.refusal(Duration::ZERO))
    }

    fn refusal(&self, retry_in: Duration) -> RpcError {
        RpcError::CircuitOpen {
            service: self.service.clone(),
            retry_in,
        }
    }

    fn open(&self) {
        *self
            .opened_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        self.state.store(OPEN, Ordering::Release);
    }
}

impl Admitted<'_> {
    /// The call's outcome: `true` when it failed for want of the service.
    pub fn record(mut self, failed: bool) {
        self.recorded = true;
        let breaker = self.breaker;
        if self.probe {
            if failed {
                breaker.open();
                tracing::warn!(service = %breaker.service, open_for = ?breaker.settings.open_for, "circuit open again: the probe failed");
            } else {
                breaker.failures.store(0, Ordering::Relaxed);
                breaker.state.store(CLOSED, Ordering::Release);
                tracing::info!(service = %breaker.service, "circuit closed: the probe succeeded");
            }
            breaker.probing.store(false, Ordering::Release);
            return;
        }
        if !failed {
            if breaker.failures.load(Ordering::Relaxed) != 0 {
                breaker.failures.store(0, Ordering::Relaxed);
            }
            return;
        }
        let failures = breaker.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= breaker.settings.failures
            && breaker
                .state
                .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            *breaker
                .opened_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Instant::now();
            tracing::warn!(service = %breaker.service, failures, open_for = ?breaker.settings.open_for, "circuit open: calls fail at once until a probe succeeds");
        }
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            self.breaker.probing.store(false, Ordering::Release);
        }
    }
}

/// Tells the breaker (if the call went through one) how the call ended.
pub(crate) fn record<T>(admitted: Option<Admitted<'_>>, outcome: &Result<T, RpcError>) {
    if let Some(admitted) = admitted {
        admitted.record(matches!(outcome, Err(error) if is_absence(error)));
    }
}

/// Whether `error` says the service was not there (what the breaker counts).
fn is_absence(error: &RpcError) -> bool {
    matches!(
        error,
        RpcError::Timeout { .. } | RpcError::Connect { .. } | RpcError::ConnectionLost { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_probes_after_open_for_and_closes_on_success() {
        let breaker = Breaker::new(
            CircuitBreaker {
                failures: 3,
                open_for: Duration::from_secs(10),
            },
            "S".into(),
        );
        // Successes reset the count.
        for failed in [true, true, false, true, true] {
            breaker.admit().unwrap().record(failed);
        }
        assert_eq!(breaker.state.load(Ordering::Relaxed), CLOSED);
        breaker.admit().unwrap().record(true);
        assert_eq!(breaker.state.load(Ordering::Relaxed), OPEN);
        let Err(RpcError::CircuitOpen { retry_in, .. }) = breaker.admit() else {
            panic!("open circuits refuse")
        };
        assert_eq!(retry_in, Duration::from_secs(10));

        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = breaker.admit().unwrap();
        assert!(breaker.admit().is_err(), "one probe at a time");
        probe.record(true);
        assert_eq!(breaker.state.load(Ordering::Relaxed), OPEN);
        assert!(breaker.admit().is_err());

        tokio::time::advance(Duration::from_secs(10)).await;
        drop(breaker.admit().unwrap()); // a probe dropped unfinished frees its place
        breaker.admit().unwrap().record(false);
        assert_eq!(breaker.state.load(Ordering::Relaxed), CLOSED);
        breaker.admit().unwrap().record(false);
    }
}
