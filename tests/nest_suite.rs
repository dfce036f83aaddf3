//! The facts NestJS's own specs assert, against its apps ported to this framework
//! (`examples::nest_suite`): `integration/microservices/e2e/sum-rpc.spec.ts` and
//! `sum-rpc-async.spec.ts`, each request and expected answer as the spec has it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use examples::nest_suite;
use gateway_tests::*;

async fn post(app: std::net::SocketAddr, path: &str, body: &str) -> (u16, String) {
    let json = [("Content-Type", "application/json")];
    let (status, _, text) = http_request(app, "POST", path, &json, body).await;
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_rpc() {
    init_tracing();
    let microservice = free_port();
    std::env::set_var("MICROSERVICE_PORT", microservice.to_string());
    let app = nest_suite::create(microservice)
        .await
        .expect("the hybrid app boots and its microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    // `/POST`, `/POST (Promise/async)`, `/POST (Observable stream)`.
    for command in ["sum", "asyncSum", "streamSum"] {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    // `/POST (concurrent)`: ten lists summed at once.
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    assert_eq!(
        post(
            server,
            "/concurrent",
            &serde_json::to_string(&lists).unwrap()
        )
        .await,
        (200, "true".to_owned())
    );
    // `/POST (streaming)`.
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
    // `/POST (pattern not found)`.
    assert_eq!(post(server, "/?command=test", "[]").await.0, 500);
    // `/POST (event notification)`: the handler has run within a second.
    post(server, "/notify", "[1,2,3,4,5]").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(nest_suite::IS_NOTIFIED.load(Ordering::SeqCst));
}

/// `integration/microservices/e2e/sum-nats.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_nats() {
    if !server_available(
        "sum_nats",
        "NATS",
        "127.0.0.1:4222",
        "apt-get install nats-server && nats-server -js",
    ) {
        return;
    }
    init_tracing();
    let app = nest_suite::nats::create()
        .await
        .expect("the hybrid app boots and its NATS microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    // `/POST`, `/POST (Promise/async)`, `/POST (Observable stream)`: wildcard handlers.
    for command in ["math.sum", "async.sum", "stream.sum"] {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    // `/POST (streaming)`.
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
    // `/POST (concurrent)`.
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    assert_eq!(
        post(
            server,
            "/concurrent",
            &serde_json::to_string(&lists).unwrap()
        )
        .await,
        (200, "true".to_owned())
    );
    // `/GET (exception)`: the service's RpcException as the route's value.
    let (status, _, body) = http_request(server, "GET", "/exception", &[], "").await;
    assert_eq!(
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        ),
        (
            200,
            serde_json::json!({ "message": "test", "status": "error" })
        )
    );
    // `/POST (event notification)`: both handlers of the event have run.
    post(server, "/notify", "[1,2,3,4,5]").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(nest_suite::nats::NOTIFIED[0].load(Ordering::SeqCst));
    assert!(nest_suite::nats::NOTIFIED[1].load(Ordering::SeqCst));
}

/// `integration/microservices/e2e/sum-mqtt.spec.ts`, with the wildcard and shared-subscription
/// routes of its app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_mqtt() {
    if !server_available(
        "sum_mqtt",
        "Mosquitto",
        "127.0.0.1:1883",
        "apt-get install mosquitto && mosquitto -d",
    ) {
        return;
    }
    init_tracing();
    let app = nest_suite::mqtt::create()
        .await
        .expect("the hybrid app boots and its MQTT microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    tokio::time::sleep(Duration::from_millis(200)).await; // the subscriptions are in place

    for command in ["sum", "asyncSum", "streamSum"] {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    assert_eq!(
        post(
            server,
            "/concurrent",
            &serde_json::to_string(&lists).unwrap()
        )
        .await,
        (200, "true".to_owned())
    );
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
    // Wildcard and shared subscriptions: messages (POST answers 201 with the sum) and events.
    for route in [
        "/wildcard-message",
        "/wildcard-message2",
        "/shared-wildcard-message",
        "/shared-wildcard-message2",
    ] {
        assert_eq!(
            post(server, route, "[1,2,3,4,5]").await,
            (201, "15".to_owned()),
            "{route}"
        );
    }
    for route in [
        "/notify",
        "/wildcard-event",
        "/wildcard-event2",
        "/shared-wildcard-event",
        "/shared-wildcard-event2",
    ] {
        assert_eq!(post(server, route, "").await.0, 201, "{route}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(nest_suite::mqtt::NOTIFIED.load(Ordering::SeqCst));
    for (flag, name) in [
        "wildcard-event/#",
        "wildcard-event2/+/test",
        "$share/test-group/shared-wildcard-event/#",
        "$share/test-group/shared-wildcard-event2/+/test",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            nest_suite::mqtt::RECEIVED[flag].load(Ordering::SeqCst),
            "{name} was not handled"
        );
    }
}

/// `integration/microservices/e2e/sum-redis.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_redis() {
    if !server_available(
        "sum_redis",
        "Redis",
        "127.0.0.1:6379",
        "apt-get install redis-server && redis-server --daemonize yes",
    ) {
        return;
    }
    init_tracing();
    let app = nest_suite::redis::create()
        .await
        .expect("the hybrid app boots and its Redis microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    tokio::time::sleep(Duration::from_millis(200)).await; // the subscriptions are in place

    for command in ["sum", "asyncSum", "streamSum"] {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    assert_eq!(
        post(
            server,
            "/concurrent",
            &serde_json::to_string(&lists).unwrap()
        )
        .await,
        (200, "true".to_owned())
    );
    post(server, "/notify", "[1,2,3,4,5]").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(nest_suite::redis::NOTIFIED.load(Ordering::SeqCst));
}

/// `integration/microservices/e2e/sum-rmq.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_rmq() {
    if !server_available(
        "sum_rmq",
        "RabbitMQ",
        "127.0.0.1:5672",
        "apt-get install rabbitmq-server && rabbitmq-server -detached",
    ) {
        return;
    }
    init_tracing();
    let app = nest_suite::rmq::create()
        .await
        .expect("the hybrid app boots and its RabbitMQ microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    tokio::time::sleep(Duration::from_millis(300)).await; // the consumer is in place

    for command in ["sum", "asyncSum", "streamSum"] {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    assert_eq!(
        post(
            server,
            "/concurrent",
            "[[1,2,3,4,5],[6,7,8,9,10],[11,12,13,14,15],[16,17,18,19,20],[21,22,23,24,25]]"
        )
        .await,
        (200, "true".to_owned())
    );
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
}
