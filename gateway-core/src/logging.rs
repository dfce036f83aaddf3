//! Logs (feature `logging`): one call installs a `tracing` subscriber that prints text or JSON
//! lines, configured from the environment as a twelve-factor service is, and logs every
//! [trace span](crate::trace) when it closes, so each request, downstream call and handled
//! message is one line with its ids and its duration. Nest's `new ConsoleLogger({ json: true })`
//! (Nest 11), with the spans Nest has no equivalent for.
//!
//! | variable | values | default |
//! | --- | --- | --- |
//! | `LOG_FORMAT` | `text`, `json` | `text` |
//! | `RUST_LOG` | a `tracing` filter (`info`, `gateway_core=debug,info`, ...) | `info` |
//! | `LOG_SPANS` | `close` (one line per span, when it ends), `none` | `close` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, ... | with feature `otlp`, the spans also go to an OpenTelemetry collector (see `gateway_core::otlp`) | off |
//!
//! ```no_run
//! gateway_core::logging::init().expect("no other logger installed");
//! ```
//!
//! A JSON line of a request (`LOG_FORMAT=json`), its fields under `span`:
//!
//! ```text
//! {"timestamp":"..","level":"INFO","fields":{"message":"close","time.busy":"1.2ms","time.idle":"310µs"},
//!  "target":"gateway_core::http","span":{"http.request.method":"GET","http.route":"/users/:id/profile",
//!  "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"..","http.response.status_code":200,"name":"request"},"spans":[]}
//! ```

use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines, with colours on a terminal.
    #[default]
    Text,
    /// One JSON object per line, with the current span's fields and the list of spans.
    Json,
}

/// What [`init_with`] installs.
#[derive(Debug, Clone)]
pub struct LoggingOptions {
    /// Text or JSON.
    pub format: LogFormat,
    /// A `tracing` filter (`RUST_LOG` syntax).
    pub filter: String,
    /// Whether each span is logged when it closes (with its duration).
    pub spans: bool,
    /// Export the trace spans to an OpenTelemetry collector (feature `otlp`; from the
    /// `OTEL_EXPORTER_OTLP_*` variables, see [`otlp`](crate::otlp)).
    #[cfg(feature = "otlp")]
    pub otlp: Option<crate::otlp::OtlpOptions>,
}

impl Default for LoggingOptions {
    fn default() -> Self {
        LoggingOptions {
            format: LogFormat::Text,
            filter: "info".to_owned(),
            spans: true,
            #[cfg(feature = "otlp")]
            otlp: None,
        }
    }
}

/// Logging could not start: a bad setting, or a subscriber already installed.
#[derive(Debug, thiserror::Error)]
#[error("logging cannot start: {0}")]
pub struct LoggingError(String);

impl LoggingOptions {
    /// The options the environment names (see the module docs); an unknown value is an error
    /// naming the variable.
    pub fn from_env() -> Result<Self, LoggingError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut options = LoggingOptions::default();
        if let Some(format) = var("LOG_FORMAT") {
            options.format = match format.trim().to_ascii_lowercase().as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(LoggingError(format!(
                        "LOG_FORMAT={other} is not `text` or `json`"
                    )))
                }
            };
        }
        if let Some(filter) = var("RUST_LOG") {
            options.filter = filter;
        }
        if let Some(spans) = var("LOG_SPANS") {
            options.spans = match spans.trim().to_ascii_lowercase().as_str() {
                "close" => true,
                "none" => false,
                other => {
                    return Err(LoggingError(format!(
                        "LOG_SPANS={other} is not `close` or `none`"
                    )))
                }
            };
        }
        #[cfg(feature = "otlp")]
        {
            options.otlp =
                crate::otlp::OtlpOptions::from_env().map_err(|e| LoggingError(e.to_string()))?;
        }
        Ok(options)
    }
}

/// Installs the process's subscriber from the environment ([`LoggingOptions::from_env`]).
pub fn init() -> Result<(), LoggingError> {
    init_with(LoggingOptions::from_env()?)
}

/// Installs the process's subscriber with `options`. Fails if one is installed already.
pub fn init_with(options: LoggingOptions) -> Result<(), LoggingError> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = EnvFilter::try_new(&options.filter)
        .map_err(|e| LoggingError(format!("RUST_LOG={}: {e}", options.filter)))?;
    let spans = if options.spans {
        FmtSpan::CLOSE
    } else {
        FmtSpan::NONE
    };
    let lines = tracing_subscriber::fmt::layer().with_span_events(spans);
    let lines = match options.format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(lines);
    #[cfg(feature = "otlp")]
    let subscriber = subscriber.with(match options.otlp {
        Some(otlp) => {
            let (layer, handle) =
                crate::otlp::layer(otlp).map_err(|e| LoggingError(e.to_string()))?;
            crate::otlp::install(handle);
            Some(layer)
        }
        None => None,
    });
    subscriber
        .try_init()
        .map_err(|e| LoggingError(e.to_string()))
}
