//! Prometheus metrics: per route (count by status class, latency) and per client call
//! (count by outcome, latency, pending), on `GET /metrics` in Prometheus's text format.

use gateway_core::prelude::*;
use gateway_tests::*;

#[injectable]
struct MeteredController {
    #[inject("MATH")]
    math: ClientProxy,
}

#[controller("m")]
impl MeteredController {
    #[get("users/:id")]
    async fn user(&self, #[param] id: u64) -> Result<String, HttpException> {
        if id == 0 {
            return Err(HttpException::not_found("User not found"));
        }
        Ok(format!("user {id}"))
    }

    #[get("sum")]
    async fn sum(&self) -> Result<i64, RpcError> {
        self.math.send("sum", &[1, 2, 3]).await
    }

    #[get("missing")]
    async fn missing(&self) -> Result<i64, RpcError> {
        self.math.send("nope", &()).await
    }
}

#[injectable]
struct MathController;

#[controller]
impl MathController {
    #[message_pattern("sum")]
    async fn sum(&self, #[payload] numbers: Vec<i64>) -> i64 {
        numbers.iter().sum()
    }
}

#[module(controllers = [MathController])]
struct MathModule;

#[tokio::test]
async fn routes_and_client_calls_are_counted_and_timed() {
    let math = serve_microservice::<MathModule>().await.to_string();
    let module = gateway_core::testing::Test::create_testing_module_with(move |m| {
        m.controller::<MeteredController>();
        m.provide(Provider::value(
            "MATH",
            ClientProxy::new(ClientOptions::tcp("MATH", math)),
        ));
    })
    .compile()
    .await
    .unwrap();
    let mut app = module.create_nest_application();
    app.enable_metrics().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    for path in [
        "/m/users/1",
        "/m/users/2",
        "/m/users/0",
        "/m/sum",
        "/m/missing",
    ] {
        http_request(addr, "GET", path, &[], "").await;
    }
    let (status, head, text) = http_request(addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    assert!(header(&head, "content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for line in [
        r#"http_requests_total{method="GET",route="/m/users/:id",status="2xx"} 2"#,
        r#"http_requests_total{method="GET",route="/m/users/:id",status="4xx"} 1"#,
        r#"http_requests_total{method="GET",route="/m/sum",status="2xx"} 1"#,
        r#"http_requests_total{method="GET",route="/m/missing",status="5xx"} 1"#,
        r#"rpc_client_calls_total{service="MATH",pattern="sum",outcome="ok"} 1"#,
        r#"rpc_client_calls_total{service="MATH",pattern="nope",outcome="remote"} 1"#,
        r#"rpc_client_pending_calls{service="MATH"} 0"#,
        r#"http_request_duration_seconds_count{method="GET",route="/m/users/:id"} 3"#,
        r#"rpc_client_call_duration_seconds_count{service="MATH",pattern="sum"} 1"#,
        r#"rpc_client_connects_total{service="MATH",outcome="ok"} 1"#,
        r#"rpc_client_connected{service="MATH"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    assert!(
        !text.contains("route=\"/metrics\""),
        "the scrape itself is not a route of the app"
    );
}

#[injectable]
struct PingController;

#[controller("p")]
impl PingController {
    #[get("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

#[module(controllers = [PingController])]
struct PingModule;

/// `/metrics` on a port of its own: not on the app's, and stopped with the app.
#[tokio::test]
async fn metrics_on_their_own_port() {
    let mut app = NestFactory::create::<PingModule>().await.unwrap();
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_addr = metrics.local_addr().unwrap();
    app.enable_metrics_on(metrics).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    assert_eq!(http_request(addr, "GET", "/p/ping", &[], "").await.0, 200);
    assert_eq!(http_request(addr, "GET", "/metrics", &[], "").await.0, 404);
    let (status, _, text) = http_request(metrics_addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200);
    let line = r#"http_requests_total{method="GET",route="/p/ping",status="2xx"} 1"#;
    assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(metrics_addr).await.is_err(),
        "the metrics port closes with the app"
    );
}
