//! One trace across processes: the gateway, the users service and the orders service run as
//! the example binaries over a private NATS (`TRANSPORT=nats`), logging JSON
//! (`LOG_FORMAT=json`); a request with a W3C `traceparent` yields spans in all three processes
//! with the caller's trace id, each service's span the child of the gateway's call span.
//! With feature `otlp` (on in `cargo test --workspace`), the three also export their spans to
//! an OTLP/HTTP collector the test runs, and the collector's tree is the logs' one.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_port, installed, wait_listening, Process};

const TOKEN: &str = "traces-token";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// The `span` object of every JSON line `process` logged when a span closed.
fn closed_spans(process: &Process) -> Vec<Value> {
    process
        .lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "close")
        .map(|line| line["span"].clone())
        .collect()
}

/// `curl -s` with `args`: the status code and the body.
fn curl(args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let out = String::from_utf8(output.stdout).expect("UTF-8");
    let (body, status) = out.rsplit_once('\n').expect("the status line");
    (status.to_owned(), body.to_owned())
}

fn spans_named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"] == name).collect()
}

#[test]
fn one_trace_id_crosses_the_gateway_and_both_services() {
    if !installed("curl", "--version", "apt-get install curl")
        || !installed(NATS_SERVER, "--version", "apt-get install nats-server")
    {
        return;
    }
    let nats_port = free_port();
    let _nats = Process::spawn(
        Command::new(NATS_SERVER)
            .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
            .stderr(Stdio::null()),
    );
    wait_listening(nats_port);

    #[cfg(feature = "otlp")]
    let collector = collector::Collector::start();
    let gateway_port = free_port();
    #[allow(unused_mut)]
    let mut env = vec![
        ("TRANSPORT", "nats".to_owned()),
        ("NATS_URL", format!("nats://127.0.0.1:{nats_port}")),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("GATEWAY_PORT", gateway_port.to_string()),
        ("GATEWAY_TOKEN", TOKEN.to_owned()),
    ];
    #[cfg(feature = "otlp")]
    env.extend([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    let users = Process::start(env!("CARGO_BIN_EXE_users-service"), &env);
    let orders = Process::start(env!("CARGO_BIN_EXE_orders-service"), &env);
    let gateway = Process::start(env!("CARGO_BIN_EXE_gateway"), &env);
    wait_listening(gateway_port);

    let url = format!("http://127.0.0.1:{gateway_port}/users/42/profile");
    let auth = format!("Authorization: Bearer {TOKEN}");
    // The services subscribe once connected: retry (untraced by us) until they answer.
    let started = Instant::now();
    while curl(&["-H", &auth, &url]).0 != "200" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the seed system never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let traceparent = format!("traceparent: 00-{TRACE_ID}-{CALLER_SPAN}-01");
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        &traceparent,
        "-H",
        "tracestate: congo=t61rcWkgMzE",
        &url,
    ]);
    assert_eq!(status, "200", "{body}");
    assert_eq!(
        body,
        r#"{"id":"42","name":"Ada Lovelace","orderCount":2,"orders":[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]}"#
    );
    // Spans are logged as they close, the services' before the gateway's answer is sent.
    std::thread::sleep(Duration::from_millis(300));

    let gateway_spans = closed_spans(&gateway);
    let users_spans = closed_spans(&users);
    let orders_spans = closed_spans(&orders);

    // The gateway continues the caller's trace.
    let requests = spans_named(&gateway_spans, "request");
    let request = requests
        .iter()
        .find(|s| s["trace_id"] == TRACE_ID)
        .unwrap_or_else(|| panic!("no request span with the caller's trace: {requests:#?}"));
    assert_eq!(request["parent_span_id"], CALLER_SPAN);
    assert_eq!(request["http.route"], "/users/:id/profile");
    assert_eq!(request["http.request.method"], "GET");
    assert_eq!(request["http.response.status_code"], 200);
    let request_span = request["span_id"].as_str().expect("a span id");
    assert_eq!(request_span.len(), 16);
    assert_ne!(request_span, CALLER_SPAN);

    // Its two downstream calls are its children, over NATS.
    let calls: Vec<&Value> = spans_named(&gateway_spans, "rpc.call")
        .into_iter()
        .filter(|s| s["trace_id"] == TRACE_ID)
        .collect();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for call in &calls {
        assert_eq!(call["parent_span_id"], request_span, "{call}");
        assert_eq!(call["rpc.transport"], "nats");
        assert_eq!(call["outcome"], "ok");
    }
    let call_to = |service: &str| {
        calls
            .iter()
            .find(|c| c["rpc.service"] == service)
            .unwrap_or_else(|| panic!("no call to {service}: {calls:#?}"))["span_id"]
            .clone()
    };

    // Each service's handler span is the child of the gateway's call to it.
    for (spans, service, pattern) in [
        (&users_spans, "USERS_SERVICE", r#"{"cmd":"get_user"}"#),
        (&orders_spans, "ORDERS_SERVICE", r#"{"cmd":"list_orders"}"#),
    ] {
        let handled = spans_named(spans, "rpc.handle");
        let span = handled
            .iter()
            .find(|s| s["trace_id"] == TRACE_ID)
            .unwrap_or_else(|| panic!("{service} has no span of the trace: {handled:#?}"));
        assert_eq!(span["parent_span_id"], call_to(service), "{span}");
        assert_eq!(span["rpc.pattern"], pattern);
        assert_eq!(span["rpc.kind"], "message");
        assert_eq!(span["outcome"], "ok");
    }

    // The collector holds the same spans, with the same ids, each under its service's name.
    #[cfg(feature = "otlp")]
    {
        let logged: Vec<(&str, &Value)> = [
            ("gateway", &gateway_spans),
            ("users-service", &users_spans),
            ("orders-service", &orders_spans),
        ]
        .into_iter()
        .flat_map(|(service, spans)| spans.iter().map(move |s| (service, s)))
        .filter(|(_, s)| s["trace_id"] == TRACE_ID)
        .collect();
        assert_eq!(
            logged.len(),
            5,
            "request, two calls, two handlers: {logged:#?}"
        );
        let exported = collector.spans_of(TRACE_ID, logged.len());
        for (service, span) in logged {
            let id = span["span_id"].as_str().unwrap();
            let found = exported
                .iter()
                .find(|e| e.span_id == id)
                .unwrap_or_else(|| panic!("{service}'s span {id} was not exported: {exported:#?}"));
            assert_eq!(found.service, service);
            assert_eq!(found.name, span["name"].as_str().unwrap());
            assert_eq!(
                Some(found.parent_span_id.as_str()),
                span["parent_span_id"].as_str(),
                "{found:?}"
            );
        }
    }

    // A request without a traceparent starts a trace of its own, which the services join too.
    let own: Vec<&Value> = requests
        .iter()
        .copied()
        .filter(|s| s["trace_id"] != TRACE_ID && s["http.response.status_code"] == 200)
        .collect();
    assert!(!own.is_empty(), "the warm-up requests were traced");
    for request in own {
        assert!(request.get("parent_span_id").is_none(), "{request}");
        let trace = &request["trace_id"];
        assert_eq!(trace.as_str().map(str::len), Some(32));
        assert!(
            spans_named(&users_spans, "rpc.handle")
                .iter()
                .any(|s| &s["trace_id"] == trace),
            "the users service did not join the trace {trace}"
        );
    }
}

/// A minimal OTLP/HTTP collector (JSON protocol): it keeps every span posted to `/v1/traces`.
#[cfg(feature = "otlp")]
mod collector {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    /// One exported span: the service it came from and its ids.
    #[derive(Debug, Clone)]
    pub struct Exported {
        pub service: String,
        pub name: String,
        pub trace_id: String,
        pub span_id: String,
        pub parent_span_id: String,
    }

    pub struct Collector {
        port: u16,
        spans: Arc<Mutex<Vec<Exported>>>,
    }

    impl Collector {
        /// Listens on a free port (a thread with its own runtime).
        pub fn start() -> Collector {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            listener.set_nonblocking(true).unwrap();
            let spans = Arc::new(Mutex::new(Vec::new()));
            let kept = spans.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let app = axum::Router::new().route(
                        "/v1/traces",
                        axum::routing::post(move |body: axum::body::Bytes| {
                            let kept = kept.clone();
                            async move {
                                let export: Value = serde_json::from_slice(&body).unwrap();
                                kept.lock().unwrap().extend(spans_in(&export));
                                "{}"
                            }
                        }),
                    );
                    axum::serve(listener, app).await.unwrap();
                });
            });
            Collector { port, spans }
        }

        /// The base URL to give `OTEL_EXPORTER_OTLP_ENDPOINT`.
        pub fn url(&self) -> String {
            format!("http://127.0.0.1:{}", self.port)
        }

        /// The spans of `trace_id`, once at least `count` have come (10 s at most).
        pub fn spans_of(&self, trace_id: &str, count: usize) -> Vec<Exported> {
            let started = Instant::now();
            loop {
                let spans: Vec<Exported> = self
                    .spans
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.trace_id == trace_id)
                    .cloned()
                    .collect();
                if spans.len() >= count || started.elapsed() > Duration::from_secs(10) {
                    return spans;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The spans of one OTLP JSON export request.
    fn spans_in(export: &Value) -> Vec<Exported> {
        let mut out = Vec::new();
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or_default()
                .to_owned();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                    out.push(Exported {
                        service: service.clone(),
                        name: text("name"),
                        trace_id: text("traceId"),
                        span_id: text("spanId"),
                        parent_span_id: text("parentSpanId"),
                    });
                }
            }
        }
        out
    }
}
