//! Health checks as `@nestjs/terminus` answers them: the same indicators on Nest's own app
//! (`nest-peer/health.js`) and ours give the same JSON, key for key (response times and the
//! wording of a connection error aside), 200 when all are up and 503 when one is down.

use std::time::Duration;

use gateway_core::health::HealthIndicator;
use gateway_core::health::{
    DiskHealthIndicator, HealthCheckResult, HealthCheckService, HealthIndicatorResult,
    MemoryHealthIndicator, MicroserviceHealthIndicator, TerminusModule,
};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

/// The ports of the live and the dead service, for the clients below.
#[derive(Clone)]
struct Ports {
    live: u16,
    dead: u16,
}

#[injectable]
struct HealthController {
    health: HealthCheckService,
    ports: Ports,
}

impl HealthController {
    fn tcp(&self, key: &str, port: u16) -> HealthIndicator {
        let client = ClientProxy::new(ClientOptions::tcp(key, format!("127.0.0.1:{port}")));
        MicroserviceHealthIndicator::ping_check(key, &client, Duration::from_millis(500))
    }
}

#[controller("health")]
impl HealthController {
    #[get("up")]
    async fn up(&self) -> Result<HealthCheckResult, HttpException> {
        self.health
            .check([
                self.tcp("users", self.ports.live),
                MemoryHealthIndicator::check_rss("memory_rss", 1 << 40),
                DiskHealthIndicator::check_storage("storage", "/", 1.0),
                HealthIndicator::new(async {
                    HealthIndicatorResult::up_with("custom", json!({ "version": "1.2.3" }))
                }),
            ])
            .await
    }

    #[get("down")]
    async fn down(&self) -> Result<HealthCheckResult, HttpException> {
        self.health
            .check([
                self.tcp("users", self.ports.live),
                self.tcp("orders", self.ports.dead),
                MemoryHealthIndicator::check_rss("memory_rss", 1),
                DiskHealthIndicator::check_storage_bytes("storage", "/", 1),
                HealthIndicator::new(async {
                    HealthIndicatorResult::down_with("custom", json!({ "reason": "maintenance" }))
                }),
            ])
            .await
    }
}

/// A TCP service to check (ours: any live one does for terminus, which only connects).
#[injectable]
struct PingController;

#[controller]
impl PingController {
    #[message_pattern("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

#[module(controllers = [PingController])]
struct PingModule;

/// What the two apps' answers share: response times and the connection error's wording
/// (Node's `connect ECONNREFUSED ..`, ours) set aside.
fn comparable(mut body: Value) -> Value {
    for section in ["info", "error", "details"] {
        if let Some(entries) = body[section].as_object_mut() {
            for (key, entry) in entries.iter_mut() {
                if let Some(entry) = entry.as_object_mut() {
                    if let Some(time) = entry.get_mut("responseTime") {
                        assert!(time.is_u64(), "{key}: responseTime {time}");
                        *time = json!("<ms>");
                    }
                    if key == "orders" {
                        entry.insert("message".into(), json!("<connection refused>"));
                    }
                }
            }
        }
    }
    body
}

async fn answers(app: std::net::SocketAddr) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    for path in ["/health/up", "/health/down"] {
        let (status, _, body) = http_request(app, "GET", path, &[], "").await;
        out.push((status, comparable(serde_json::from_str(&body).unwrap())));
    }
    out
}

#[tokio::test]
async fn health_checks_answer_as_terminus_does() {
    let ports = Ports {
        live: serve_microservice::<PingModule>().await.port(),
        dead: free_port(),
    };
    let module = gateway_core::testing::Test::create_testing_module_with({
        let ports = ports.clone();
        move |m| {
            m.import(TerminusModule::for_root());
            m.controller::<HealthController>();
            m.provide(Provider::typed(ports));
        }
    })
    .compile()
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ours = listener.local_addr().unwrap();
    tokio::spawn(
        module
            .create_nest_application()
            .serve(listener, std::future::pending()),
    );

    let up = json!({ "status": "up" });
    let pinged = json!({ "responseTime": "<ms>", "status": "up" });
    let expected = vec![
        (
            200,
            json!({
                "status": "ok",
                "info": { "users": pinged, "memory_rss": up, "storage": up, "custom": { "version": "1.2.3", "status": "up" } },
                "error": {},
                "details": { "users": pinged, "memory_rss": up, "storage": up, "custom": { "version": "1.2.3", "status": "up" } },
            }),
        ),
        (503, {
            let error = json!({
                "orders": { "message": "<connection refused>", "responseTime": "<ms>", "status": "down" },
                "memory_rss": { "message": "Used rss exceeded the set threshold", "status": "down" },
                "storage": { "message": "Used disk storage exceeded the set threshold", "status": "down" },
                "custom": { "reason": "maintenance", "status": "down" },
            });
            let mut details = json!({ "users": pinged });
            details
                .as_object_mut()
                .unwrap()
                .extend(error.as_object().unwrap().clone());
            json!({ "status": "error", "info": { "users": pinged }, "error": error, "details": details })
        }),
    ];
    let got = answers(ours).await;
    assert_eq!(got, expected);
    // Key order too, as terminus writes it.
    assert_eq!(
        serde_json::to_string(&got[1].1).unwrap(),
        serde_json::to_string(&expected[1].1).unwrap()
    );
    if !nest_available("health_checks_answer_as_terminus_does") {
        return;
    }
    let port = free_port();
    let args = [
        port.to_string(),
        ports.live.to_string(),
        ports.dead.to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _nest = spawn_node_ready(Nest::V11, "health.js", &args).await;
    let nest = answers(([127, 0, 0, 1], port).into()).await;
    assert_eq!(
        serde_json::to_string(&nest).unwrap(),
        serde_json::to_string(&got).unwrap(),
        "Nest's terminus and ours"
    );
}

/// A service that is up but frozen (it accepts and never answers) is down once the timeout
/// passes, and says so; a URL is checked as terminus's `HttpHealthIndicator` answers; Redis
/// answers `PING`.
#[tokio::test]
async fn frozen_services_urls_and_redis() {
    use gateway_core::health::{HttpHealthIndicator, RedisHealthIndicator};
    let frozen = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let frozen_port = frozen.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = frozen.accept().await {
            held.push(socket); // never read, never answered
        }
    });
    let client = ClientProxy::new(ClientOptions::tcp(
        "FROZEN",
        format!("127.0.0.1:{frozen_port}"),
    ));
    let health = HealthCheckService;
    let started = std::time::Instant::now();
    let result = health
        .check([MicroserviceHealthIndicator::ping_check(
            "frozen",
            &client,
            Duration::from_millis(300),
        )])
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(result.status(), 503);
    let frozen = &result.body()["error"]["frozen"];
    assert_eq!(
        (frozen["status"].clone(), frozen["message"].clone()),
        (json!("down"), json!("timeout of 300ms exceeded"))
    );

    let web = gateway_core::axum::Router::new()
        .route("/ok", gateway_core::axum::routing::get(|| async { "fine" }))
        .route(
            "/fail",
            gateway_core::axum::routing::get(|| async {
                gateway_core::axum::http::StatusCode::SERVICE_UNAVAILABLE
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { gateway_core::axum::serve(listener, web).await });
    let second = Duration::from_secs(1);
    let result = health
        .check([
            HttpHealthIndicator::ping_check("ok", &format!("http://{web_addr}/ok"), second),
            HttpHealthIndicator::ping_check("fail", &format!("http://{web_addr}/fail"), second),
            HttpHealthIndicator::ping_check(
                "gone",
                &format!("http://127.0.0.1:{}/", free_port()),
                second,
            ),
        ])
        .await
        .unwrap_err();
    let body = result.body();
    assert_eq!(body["info"], json!({ "ok": { "status": "up" } }));
    assert_eq!(
        body["error"]["fail"],
        json!({
            "message": "Request failed with status code 503",
            "statusCode": 503,
            "statusText": "Service Unavailable",
            "status": "down",
        })
    );
    assert_eq!(body["error"]["gone"]["status"], "down");
    assert!(body["error"]["gone"]["message"]
        .as_str()
        .unwrap()
        .contains("connect"));

    require_redis!("frozen_services_urls_and_redis");
    let redis = RedisHealthIndicator::new(&format!("redis://{REDIS_ADDR}")).unwrap();
    let dead = RedisHealthIndicator::new(&format!("redis://127.0.0.1:{}", free_port())).unwrap();
    let result = health
        .check([redis.ping_check("redis"), dead.ping_check("redis_dead")])
        .await
        .unwrap_err();
    assert_eq!(result.body()["info"]["redis"]["status"], "up");
    assert!(result.body()["info"]["redis"]["responseTime"].is_u64());
    assert_eq!(result.body()["error"]["redis_dead"]["status"], "down");
}
