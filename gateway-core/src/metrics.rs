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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::client::RpcError;

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

/// A request through a route ends with `status` after `started`.
pub(crate) fn record_request(
    method: &'static str,
    route: &'static str,
    status: u16,
    started: Instant,
) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    ::metrics::counter!("http_requests_total", "method" => method, "route" => route, "status" => class)
        .increment(1);
    ::metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
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

/// A client call in flight: counts it as pending until dropped, then records its outcome.
pub(crate) struct Call {
    service: std::sync::Arc<str>,
    pattern: String,
    started: Instant,
    outcome: &'static str,
}

impl Call {
    /// A call of `service` to `pattern` starts.
    pub(crate) fn start(service: &std::sync::Arc<str>, pattern: &str) -> Self {
        ::metrics::gauge!("rpc_client_pending_calls", "service" => service.to_string())
            .increment(1.0);
        Call {
            service: service.clone(),
            pattern: pattern.to_owned(),
            started: Instant::now(),
            outcome: "cancelled",
        }
    }

    /// The call ended with `result`.
    pub(crate) fn finish<T>(mut self, result: &Result<T, RpcError>) {
        self.outcome = match result {
            Ok(_) => "ok",
            Err(RpcError::Remote { .. }) => "remote",
            Err(RpcError::Timeout { .. }) => "timeout",
            Err(RpcError::Connect { .. }) => "connect",
            Err(RpcError::ConnectionLost { .. }) => "connection_lost",
            Err(RpcError::Decode { .. }) => "decode",
            Err(RpcError::EmptyResponse { .. }) => "empty",
            Err(RpcError::Encode { .. }) => "encode",
        };
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let service = self.service.to_string();
        ::metrics::gauge!("rpc_client_pending_calls", "service" => service.clone()).decrement(1.0);
        ::metrics::counter!("rpc_client_calls_total", "service" => service.clone(), "pattern" => self.pattern.clone(), "outcome" => self.outcome)
            .increment(1);
        ::metrics::histogram!("rpc_client_call_duration_seconds", "service" => service, "pattern" => self.pattern.clone())
            .record(self.started.elapsed().as_secs_f64());
    }
}
