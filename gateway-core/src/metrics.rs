//! Prometheus metrics (feature `metrics`): per route and per client call, served on
//! `/metrics` in Prometheus's text format. Enabled with
//! [`NestApplication::enable_metrics`](crate::app::NestApplication::enable_metrics); until
//! then nothing is recorded (one atomic load per request and call).
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `http_requests_total` | counter | `method`, `route` (Nest's path, `/users/:id`), `status` (`2xx`..) |
//! | `http_request_duration_seconds` | histogram | `method`, `route` |
//! | `rpc_client_calls_total` | counter | `service`, `pattern`, `outcome` (`ok`, `remote`, `timeout`, `connect`, `connection_lost`, `decode`, `empty`, `encode`) |
//! | `rpc_client_call_duration_seconds` | histogram | `service`, `pattern` |
//! | `rpc_client_pending_calls` | gauge | `service` |
//! | `rpc_client_connects_total` | counter | `service`, `outcome` (`ok`, `error`): every dial, the first and each reconnect |
//! | `rpc_client_connected` | gauge | `service`: 1 while its connection is open |

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use ::metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::client::RpcError;
use crate::http::RouteMeta;

static ON: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Metrics could not be enabled: another `metrics` recorder is installed in the process.
#[derive(Debug, Clone, thiserror::Error)]
#[error("metrics cannot be enabled: {0}")]
pub struct MetricsError(String);

/// Installs the process's Prometheus recorder (once; later calls reuse it) and turns
/// recording on. `Err` if another `metrics` recorder is installed already.
pub(crate) fn enable() -> Result<PrometheusHandle, MetricsError> {
    let handle = HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .map_err(|e| e.to_string())?
            .build_recorder();
        let handle = recorder.handle();
        ::metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
        Ok(handle)
    });
    let handle = handle.clone().map_err(MetricsError)?;
    ON.store(true, Ordering::Relaxed);
    Ok(handle)
}

/// The `/metrics` route: the recorder's text, in Prometheus's exposition format.
pub(crate) fn route(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let text = handle.render();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    )
}

/// Whether metrics are recorded.
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The handles of one route's metrics, made at its first request: recording is then a few
/// atomic operations, no label hashing.
struct RouteHandles {
    /// By status class, made when first seen (`1xx` .. `5xx`).
    counters: [OnceLock<Counter>; 5],
    duration: Histogram,
}

/// Routes by the address of their `RouteMeta` (static, so unique), hashed as is.
type RouteTable = HashMap<usize, Arc<RouteHandles>, BuildHasherDefault<AddressHasher>>;

static ROUTES: RwLock<Option<RouteTable>> = RwLock::new(None);

/// Hashes a `usize` address as itself (shifted past its alignment): no work per lookup.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_usize(&mut self, address: usize) {
        self.0 = (address as u64) >> 3;
    }
}

/// FNV-1a, for the short strings (service names, patterns) the call tables are keyed by.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// A request through `route` ends with `status` after `started`.
pub(crate) fn record_request(route: &'static RouteMeta, status: u16, started: Instant) {
    let key = route as *const RouteMeta as usize;
    let found = read(&ROUTES).as_ref().and_then(|m| m.get(&key).cloned());
    let handles = found.unwrap_or_else(|| {
        let made = Arc::new(RouteHandles {
            counters: Default::default(),
            duration: ::metrics::histogram!("http_request_duration_seconds", "method" => route.method, "route" => route.path),
        });
        let mut all = write(&ROUTES);
        Arc::clone(all.get_or_insert_with(RouteTable::default).entry(key).or_insert(made))
    });
    let class = usize::from((status / 100).clamp(1, 5) - 1);
    const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    handles.counters[class]
        .get_or_init(|| {
            ::metrics::counter!("http_requests_total", "method" => route.method, "route" => route.path, "status" => CLASSES[class])
        })
        .increment(1);
    handles.duration.record(started.elapsed().as_secs_f64());
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A client of `service` dialled: `connection` when it connected. While the connection is
/// open, `rpc_client_connected` is 1.
pub(crate) fn record_connect(
    service: &std::sync::Arc<str>,
    connection: Option<&std::sync::Arc<crate::client::Connection>>,
) {
    let outcome = if connection.is_some() { "ok" } else { "error" };
    ::metrics::counter!("rpc_client_connects_total", "service" => service.to_string(), "outcome" => outcome)
        .increment(1);
    let Some(connection) = connection else {
        return;
    };
    let connected = ::metrics::gauge!("rpc_client_connected", "service" => service.to_string());
    connected.set(1.0);
    let connection = std::sync::Arc::clone(connection);
    tokio::spawn(async move {
        connection.closed().await;
        connected.set(0.0);
    });
}

/// The handles of one client's calls to one pattern, made at the first call.
struct CallHandles {
    service: Arc<str>,
    pattern: String,
    pending: Gauge,
    duration: Histogram,
    /// By outcome, made when first seen.
    outcomes: [OnceLock<Counter>; 9],
}

/// Handles by service, then pattern.
type CallTable = HashMap<
    Arc<str>,
    HashMap<String, Arc<CallHandles>, BuildHasherDefault<Fnv>>,
    BuildHasherDefault<Fnv>,
>;

static CALLS: RwLock<Option<CallTable>> = RwLock::new(None);

const OUTCOMES: [&str; 9] = [
    "ok",
    "remote",
    "timeout",
    "connect",
    "connection_lost",
    "decode",
    "empty",
    "encode",
    "cancelled",
];

fn call_handles(service: &Arc<str>, pattern: &str) -> Arc<CallHandles> {
    let found = read(&CALLS)
        .as_ref()
        .and_then(|t| t.get(service)?.get(pattern).cloned());
    found.unwrap_or_else(|| {
        let made = Arc::new(CallHandles {
            service: Arc::clone(service),
            pattern: pattern.to_owned(),
            pending: ::metrics::gauge!("rpc_client_pending_calls", "service" => service.to_string()),
            duration: ::metrics::histogram!("rpc_client_call_duration_seconds", "service" => service.to_string(), "pattern" => pattern.to_owned()),
            outcomes: Default::default(),
        });
        let mut all = write(&CALLS);
        let by_pattern = all
            .get_or_insert_with(CallTable::default)
            .entry(Arc::clone(service))
            .or_default();
        Arc::clone(by_pattern.entry(pattern.to_owned()).or_insert(made))
    })
}

/// A client call in flight: counts it as pending until dropped, then records its outcome.
pub(crate) struct Call {
    handles: Arc<CallHandles>,
    started: Instant,
    outcome: usize,
}

impl Call {
    /// A call of `service` to `pattern` starts.
    pub(crate) fn start(service: &Arc<str>, pattern: &str) -> Self {
        let handles = call_handles(service, pattern);
        handles.pending.increment(1.0);
        Call {
            handles,
            started: Instant::now(),
            outcome: OUTCOMES.len() - 1,
        }
    }

    /// The call ended with `result`.
    pub(crate) fn finish<T>(mut self, result: &Result<T, RpcError>) {
        let kind = result.as_ref().err().map_or("ok", RpcError::kind);
        self.outcome = OUTCOMES
            .iter()
            .position(|o| *o == kind)
            .unwrap_or(OUTCOMES.len() - 1);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let handles = &self.handles;
        handles.pending.decrement(1.0);
        handles.outcomes[self.outcome]
            .get_or_init(|| {
                ::metrics::counter!("rpc_client_calls_total", "service" => handles.service.to_string(), "pattern" => handles.pattern.clone(), "outcome" => OUTCOMES[self.outcome])
            })
            .increment(1);
        handles
            .duration
            .record(self.started.elapsed().as_secs_f64());
    }
}
