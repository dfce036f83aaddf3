//! OTLP export of the trace spans (feature `otlp`): every `request`, `rpc.call` and
//! `rpc.handle` span of [`trace`](crate::trace) goes to an OpenTelemetry collector (Jaeger,
//! Tempo, the OpenTelemetry Collector, ...) over OTLP/HTTP, with the very ids our logs print
//! and our `traceparent` headers carry: a trace that crosses a Nest service instrumented with
//! OpenTelemetry, or one of ours, is one tree in the collector.
//!
//! [`logging::init`](crate::logging::init) turns it on when the environment names a
//! collector, with the OpenTelemetry SDK's own variables:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the full URL spans are posted to | |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL (`/v1/traces` is added) | |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` or `http/json` | `http/protobuf` |
//! | `OTEL_SERVICE_NAME` | the `service.name` of every span | the program's name |
//! | `OTEL_BSP_SCHEDULE_DELAY` | ms a span may wait for its batch | 5000 |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | spans waiting at most (past it: dropped, counted) | 2048 |
//! | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans per export request at most | 512 |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | ms one export request may take | 10000 |
//!
//! An application that stops by itself ([`NestApplication::listen`](crate::app::NestApplication::listen)
//! and a microservice's `listen`, on SIGINT or SIGTERM) exports what is queued before it
//! returns.
//!
//! The wire format and the HTTP client are `opentelemetry-otlp`'s; this module only turns
//! our spans into its `SpanData`. Spans wait in a bounded queue ([`OtlpOptions::max_queue`])
//! and leave in batches from a thread of their own, so exporting never runs on, nor blocks,
//! the application's runtime; when the collector is slow or down, spans past the queue are
//! dropped and counted (logged at a bounded rate), never buffered without bound.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpOptions {
    /// The URL spans are posted to (`http://127.0.0.1:4318/v1/traces`).
    pub endpoint: String,
    /// Protobuf (the default of OTLP/HTTP) or JSON.
    pub json: bool,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Spans waiting for export at most; past it new ones are dropped (default 2048).
    pub max_queue: usize,
    /// Spans per export request at most (default 512).
    pub max_batch: usize,
    /// How long a span may wait for a batch to fill (default 5 s).
    pub interval: Duration,
    /// How long one export request may take (default 10 s).
    pub timeout: Duration,
}

impl OtlpOptions {
    /// Export to `endpoint` (the full traces URL) as `service_name`, with the defaults.
    pub fn new(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        OtlpOptions {
            endpoint: endpoint.into(),
            json: false,
            service_name: service_name.into(),
            max_queue: 2048,
            max_batch: 512,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }

    /// The options the OpenTelemetry variables name (see the module docs); `None` when no
    /// endpoint is set, an error for a protocol this exporter does not speak.
    pub fn from_env() -> Result<Option<Self>, OtlpError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint = match (
            var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(full), _) => full,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(program_name);
        let mut options = OtlpOptions::new(endpoint, service_name);
        let number = |name: &str| -> Result<Option<u64>, OtlpError> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| OtlpError(format!("{name}={v} is not a number")))
                })
                .transpose()
        };
        if let Some(ms) = number("OTEL_BSP_SCHEDULE_DELAY")? {
            options.interval = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = number("OTEL_BSP_MAX_QUEUE_SIZE")? {
            options.max_queue = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            options.max_batch = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(ms) = number("OTEL_EXPORTER_OTLP_TIMEOUT")? {
            options.timeout = Duration::from_millis(ms);
        }
        match var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref().map(str::trim) {
            None | Some("http/protobuf") => {}
            Some("http/json") => options.json = true,
            Some(other) => {
                return Err(OtlpError(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={other}: only http/protobuf and http/json are spoken"
            )))
            }
        }
        Ok(Some(options))
    }
}

/// The program's file name, the default `service.name`.
fn program_name() -> String {
    std::env::args()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// The exporter could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("OTLP export cannot start: {0}")]
pub struct OtlpError(String);

/// What the export thread is asked besides spans.
enum Control {
    Flush(oneshot::Sender<()>),
}

/// The handle [`logging::init`](crate::logging::init) started, if it did.
static HANDLE: std::sync::OnceLock<OtlpHandle> = std::sync::OnceLock::new();

/// Exports what is queued, when [`logging::init`](crate::logging::init) started an export.
pub(crate) async fn flush_installed() {
    if let Some(handle) = HANDLE.get() {
        let _ = tokio::time::timeout(Duration::from_secs(5), handle.flush()).await;
    }
}

/// Keeps `handle` as the process's (for [`handle`]); the first one stays.
pub(crate) fn install(handle: OtlpHandle) {
    let _ = HANDLE.set(handle);
}

/// The export started by [`logging::init`](crate::logging::init), if the environment named a
/// collector: `if let Some(otlp) = gateway_core::otlp::handle() { otlp.flush().await }`
/// before the process exits.
pub fn handle() -> Option<&'static OtlpHandle> {
    HANDLE.get()
}

/// A handle on the export thread: [`flush`](Self::flush) sends what is queued now.
#[derive(Clone, Debug)]
pub struct OtlpHandle {
    control: mpsc::UnboundedSender<Control>,
    dropped: Arc<AtomicU64>,
}

impl OtlpHandle {
    /// Exports every span queued so far, and returns once that export is done (or failed).
    /// Call it before the process exits so the last spans are not lost.
    pub async fn flush(&self) {
        let (done, exported) = oneshot::channel();
        if self.control.send(Control::Flush(done)).is_ok() {
            let _ = exported.await;
        }
    }

    /// Spans dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The `tracing` layer that queues our spans for export (see the module docs).
#[derive(Debug)]
pub struct OtlpLayer {
    spans: mpsc::Sender<SpanData>,
    dropped: Arc<AtomicU64>,
    scope: InstrumentationScope,
}

/// The layer, and the handle on its export thread (started here).
pub fn layer(options: OtlpOptions) -> Result<(OtlpLayer, OtlpHandle), OtlpError> {
    let protocol = if options.json {
        Protocol::HttpJson
    } else {
        Protocol::HttpBinary
    };
    let (spans, queue) = mpsc::channel(options.max_queue.max(1));
    let (control, controls) = mpsc::unbounded_channel();
    let dropped = Arc::new(AtomicU64::new(0));
    let (ready, started) = std::sync::mpsc::channel();
    let thread_options = options.clone();
    std::thread::Builder::new()
        .name("otlp-export".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return drop(ready.send(Err(e.to_string()))),
            };
            // The exporter's HTTP client is made inside the runtime it will run on.
            let exporter = runtime.block_on(async {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_endpoint(thread_options.endpoint.clone())
                    .with_protocol(protocol)
                    .with_timeout(thread_options.timeout)
                    .build()
            });
            let mut exporter = match exporter {
                Ok(exporter) => exporter,
                Err(e) => return drop(ready.send(Err(e.to_string()))),
            };
            exporter.set_resource(
                &Resource::builder_empty()
                    .with_service_name(thread_options.service_name.clone())
                    .build(),
            );
            let _ = ready.send(Ok(()));
            runtime.block_on(export_loop(exporter, queue, controls, thread_options));
        })
        .map_err(|e| OtlpError(e.to_string()))?;
    started
        .recv()
        .map_err(|_| OtlpError("the export thread ended".to_owned()))?
        .map_err(OtlpError)?;
    let scope = InstrumentationScope::builder("gateway-core")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    Ok((
        OtlpLayer {
            spans,
            dropped: dropped.clone(),
            scope,
        },
        OtlpHandle { control, dropped },
    ))
}

/// Batches spans and exports them: when a batch is full, at each tick of `interval` (so no
/// span waits longer than that), or when asked to flush. Ends when the layer is gone.
async fn export_loop(
    exporter: opentelemetry_otlp::SpanExporter,
    mut queue: mpsc::Receiver<SpanData>,
    mut controls: mpsc::UnboundedReceiver<Control>,
    options: OtlpOptions,
) {
    let max_batch = options.max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    // The first tick one interval from now, not at once: a batch leaves when it is full, or an
    // interval after the loop began or last ticked (an immediate first tick would send the
    // first span alone).
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + options.interval,
        options.interval,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let flush = tokio::select! {
            span = queue.recv() => match span {
                Some(span) => {
                    batch.push(span);
                    if batch.len() < max_batch {
                        continue;
                    }
                    None
                }
                None => break,
            },
            _ = tick.tick() => None,
            Some(Control::Flush(done)) = controls.recv() => {
                while let Ok(span) = queue.try_recv() {
                    batch.push(span);
                }
                Some(done)
            }
        };
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(max_batch));
            let sending = std::mem::replace(&mut batch, rest);
            let count = sending.len();
            if let Err(error) = exporter.export(sending).await {
                if let Some(left_out) = crate::log_limit::allow("otlp: export failed") {
                    tracing::warn!(target: "gateway_core::otlp", %error, spans = count, endpoint = %options.endpoint, left_out, "OTLP export failed; these spans are lost");
                }
            }
        }
        if let Some(done) = flush {
            let _ = done.send(());
        }
    }
    if !batch.is_empty() {
        let _ = exporter.export(batch).await;
    }
}

/// What a span recorded so far: its ids, its fields, when it began.
struct Recorded {
    start: SystemTime,
    trace_id: u128,
    span_id: u64,
    parent_id: Option<u64>,
    attributes: Vec<KeyValue>,
    error: bool,
}

impl Recorded {
    /// A text field: an attribute, and `outcome` other than `ok`/`stream` marks an error.
    fn text(&mut self, name: &'static str, value: String) {
        if name == "outcome" && value != "ok" && value != "stream" {
            self.error = true;
        }
        self.attributes.push(KeyValue::new(name, value));
    }
}

impl Visit for Recorded {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "trace_id" => self.trace_id = u128::from_str_radix(&text, 16).unwrap_or(0),
            "span_id" => self.span_id = u64::from_str_radix(&text, 16).unwrap_or(0),
            "parent_span_id" => self.parent_id = u64::from_str_radix(&text, 16).ok(),
            name => self.text(name, text),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field.name(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_i64(field, i64::try_from(value).unwrap_or(i64::MAX));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "http.response.status_code" && value >= 500 {
            self.error = true;
        }
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !ours(attrs.metadata()) {
            return;
        }
        let mut recorded = Recorded {
            start: SystemTime::now(),
            trace_id: 0,
            span_id: 0,
            parent_id: None,
            attributes: Vec::with_capacity(attrs.fields().len()),
            error: false,
        };
        attrs.record(&mut recorded);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(recorded);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(recorded) = span.extensions_mut().get_mut::<Recorded>() {
                values.record(recorded);
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(recorded) = span.extensions_mut().remove::<Recorded>() else {
            return;
        };
        if recorded.trace_id == 0 || recorded.span_id == 0 {
            return;
        }
        let metadata = span.metadata();
        let kind = match metadata.name() {
            "rpc.call" => SpanKind::Client,
            _ => SpanKind::Server,
        };
        let data = SpanData {
            span_context: SpanContext::new(
                TraceId::from(recorded.trace_id),
                SpanId::from(recorded.span_id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: recorded.parent_id.map_or(SpanId::INVALID, SpanId::from),
            parent_span_is_remote: kind == SpanKind::Server && recorded.parent_id.is_some(),
            span_kind: kind,
            name: Cow::Borrowed(metadata.name()),
            start_time: recorded.start,
            end_time: SystemTime::now(),
            attributes: recorded.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if recorded.error {
                Status::error("")
            } else {
                Status::Unset
            },
            instrumentation_scope: self.scope.clone(),
        };
        if self.spans.try_send(data).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(left_out) = crate::log_limit::allow("otlp: queue full") {
                tracing::warn!(target: "gateway_core::otlp", dropped, left_out, "the OTLP export queue is full; spans are dropped");
            }
        }
    }
}

/// The spans this layer exports: the three kinds [`trace`](crate::trace) makes.
fn ours(metadata: &tracing::Metadata<'_>) -> bool {
    matches!(
        (metadata.target(), metadata.name()),
        ("gateway_core::http", "request")
            | ("gateway_core::client", "rpc.call")
            | ("gateway_core::server", "rpc.handle")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// A collector that takes connections and never answers: spans past the queue are
    /// dropped and counted, not buffered.
    #[test]
    fn a_stuck_collector_costs_a_bounded_queue() {
        let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1/traces", stuck.local_addr().unwrap());
        let mut options = OtlpOptions::new(endpoint, "test");
        options.max_queue = 4;
        options.max_batch = 2;
        options.interval = Duration::from_secs(60);
        let (layer, handle) = layer(options).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        let mut exporting = None;
        tracing::subscriber::with_default(subscriber, || {
            for i in 1..=20u64 {
                let span = tracing::info_span!(
                    target: "gateway_core::http",
                    "request",
                    trace_id = tracing::field::display(format!("{:032x}", 7)),
                    span_id = tracing::field::display(format!("{i:016x}")),
                );
                drop(span);
                // The first batch leaves for the stuck collector before the rest come: its
                // export has connected (and waits for an answer that never comes).
                if i == 2 {
                    exporting = Some(accept_within(&stuck, Duration::from_secs(10)));
                }
            }
        });
        // One batch of 2 is stuck in its export, 4 wait in the queue; the other 14 are dropped.
        assert_eq!(handle.dropped(), 14);
        drop(exporting);
    }

    fn accept_within(listener: &std::net::TcpListener, wait: Duration) -> std::net::TcpStream {
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + wait;
        loop {
            match listener.accept() {
                Ok((stream, _)) => return stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the exporter did not connect within {wait:?}"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}
