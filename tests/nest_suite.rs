//! The facts NestJS's own specs assert (`integration/microservices/e2e/` in the Nest
//! repository), against its apps ported to this framework (`examples::nest_suite`): each
//! request and expected answer as the spec has it. `sum-rpc`, `sum-nats`, `sum-mqtt`,
//! `sum-redis`, `sum-rmq`; the README's table says what of each is ported.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use examples::nest_suite;
use gateway_core::app::NestApplication;
use gateway_tests::*;

async fn post(app: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let json = [("Content-Type", "application/json")];
    let (status, _, text) = http_request(app, "POST", path, &json, body).await;
    (status, text)
}

/// Serves the spec app's HTTP side on a free port, after `settle` (for broker subscriptions).
async fn serve(app: NestApplication, settle: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    tokio::time::sleep(settle).await;
    server
}

/// The specs' ten lists of ten for `/POST (concurrent)`.
fn ten_lists() -> String {
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    serde_json::to_string(&lists).unwrap()
}

/// What every sum app's spec asserts: `/POST` with each of `commands` (sum, async, Observable),
/// `/POST (concurrent)` with `lists`, `/POST (streaming)`.
async fn the_sums(server: SocketAddr, commands: &[&str], lists: &str) {
    for command in commands {
        assert_eq!(
            post(server, &format!("/?command={command}"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{command}"
        );
    }
    assert_eq!(
        post(server, "/concurrent", lists).await,
        (200, "true".to_owned())
    );
    assert_eq!(
        post(server, "/stream", "[1,2,3,4,5]").await,
        (200, "15".to_owned())
    );
}

/// `/POST (event notification)`: after `/notify`, the handlers have set `flags` within a
/// second.
async fn notified(server: SocketAddr, flags: &[&AtomicBool]) {
    post(server, "/notify", "[1,2,3,4,5]").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, flag) in flags.iter().enumerate() {
        assert!(flag.load(Ordering::SeqCst), "handler {i} did not run");
    }
}

/// `sum-rpc.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_rpc() {
    init_tracing();
    let microservice = free_port();
    std::env::set_var("MICROSERVICE_PORT", microservice.to_string());
    let app = nest_suite::create(microservice)
        .await
        .expect("the hybrid app boots and its microservice starts");
    let server = serve(app, Duration::ZERO).await;
    the_sums(server, &["sum", "asyncSum", "streamSum"], &ten_lists()).await;
    // `/POST (useFactory client)`, `/POST (useClass client)`: clients that
    // `ClientsModule::register_async` made from the config module's provider.
    for route in ["useFactory", "useClass"] {
        assert_eq!(
            post(server, &format!("/{route}?command=sum"), "[1,2,3,4,5]").await,
            (200, "15".to_owned()),
            "{route}"
        );
    }
    // `/POST (pattern not found)`.
    assert_eq!(post(server, "/?command=test", "[]").await.0, 500);
    notified(server, &[&nest_suite::IS_NOTIFIED]).await;
}

/// `sum-nats.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_nats() {
    let start = "apt-get install nats-server && nats-server -js";
    if !server_available("sum_nats", "NATS", "127.0.0.1:4222", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::nats::create()
        .await
        .expect("the hybrid app boots and its NATS microservice starts");
    let server = serve(app, Duration::ZERO).await;
    // Wildcard handlers: `math.*` answers `math.sum`, and so on.
    the_sums(
        server,
        &["math.sum", "async.sum", "stream.sum"],
        &ten_lists(),
    )
    .await;
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
    let [first, second] = &nest_suite::nats::NOTIFIED;
    notified(server, &[first, second]).await;
}

/// `sum-mqtt.spec.ts`, with the wildcard and shared-subscription routes of its app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_mqtt() {
    let start = "apt-get install mosquitto && mosquitto -d";
    if !server_available("sum_mqtt", "Mosquitto", "127.0.0.1:1883", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::mqtt::create()
        .await
        .expect("the hybrid app boots and its MQTT microservice starts");
    let server = serve(app, Duration::from_millis(200)).await;
    the_sums(server, &["sum", "asyncSum", "streamSum"], &ten_lists()).await;
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
        "/wildcard-event",
        "/wildcard-event2",
        "/shared-wildcard-event",
        "/shared-wildcard-event2",
    ] {
        assert_eq!(post(server, route, "").await.0, 201, "{route}");
    }
    let received = &nest_suite::mqtt::RECEIVED;
    let mut flags: Vec<&AtomicBool> = vec![&nest_suite::mqtt::NOTIFIED];
    flags.extend(received.iter());
    notified(server, &flags).await;
}

/// `sum-redis.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_redis() {
    let start = "apt-get install redis-server && redis-server --daemonize yes";
    if !server_available("sum_redis", "Redis", "127.0.0.1:6379", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::redis::create()
        .await
        .expect("the hybrid app boots and its Redis microservice starts");
    let server = serve(app, Duration::from_millis(200)).await;
    the_sums(server, &["sum", "asyncSum", "streamSum"], &ten_lists()).await;
    notified(server, &[&nest_suite::redis::NOTIFIED]).await;
}

/// `sum-rmq.spec.ts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_rmq() {
    let start = "apt-get install rabbitmq-server && rabbitmq-server -detached";
    if !server_available("sum_rmq", "RabbitMQ", "127.0.0.1:5672", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::rmq::create()
        .await
        .expect("the hybrid app boots and its RabbitMQ microservice starts");
    let server = serve(app, Duration::from_millis(300)).await;
    let lists = "[[1,2,3,4,5],[6,7,8,9,10],[11,12,13,14,15],[16,17,18,19,20],[21,22,23,24,25]]";
    the_sums(server, &["sum", "asyncSum", "streamSum"], lists).await;
}

/// `broadcast-nats.spec.ts` and `multicast-nats.spec.ts`: two microservices of one app both
/// answer one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_nats() {
    let start = "apt-get install nats-server && nats-server -js";
    if !server_available("broadcast_nats", "NATS", "127.0.0.1:4222", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::nats::create_broadcast()
        .await
        .expect("the hybrid app boots and both NATS microservices start");
    let server = serve(app, Duration::from_millis(100)).await;
    // `Broadcast (2 subscribers)`.
    let (status, _, body) = http_request(server, "GET", "/broadcast", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "2"));
    // `Multicast (2 subscribers)`.
    let (status, _, body) = http_request(server, "GET", "/multicast", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "2"));
    // `Retrieve the message subject`.
    let (status, _, body) = http_request(server, "GET", "/subject", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "retrieve.subject.hello"));
}

/// `sum-rpc-async.spec.ts`: the spec defines its app itself, so does this test. The
/// microservice's transport comes from a provider, through a factory run once the module's
/// providers are built (`createMicroservice(RpcModule, { useFactory, inject })`), and the test
/// takes the module's own client out of the container (`app.get('RPC_CLIENT')`).
mod sum_rpc_async {
    use std::sync::{Arc, OnceLock};

    use futures_util::StreamExt;
    use gateway_core::prelude::*;
    use gateway_tests::*;

    /// The spec's random port, fixed for the process.
    fn port() -> u16 {
        static PORT: OnceLock<u16> = OnceLock::new();
        *PORT.get_or_init(free_port)
    }

    #[injectable]
    struct RpcOptionsProvider;

    impl RpcOptionsProvider {
        fn get_options(&self) -> Transport {
            Transport::tcp(format!("0.0.0.0:{}", port()))
        }
    }

    #[injectable]
    struct RpcController;

    #[controller]
    impl RpcController {
        #[message_pattern({ cmd: "sum" })]
        async fn sum_payload(&self, #[payload] payload: Vec<i64>) -> i64 {
            payload.iter().sum()
        }
    }

    #[module(
        imports = [ClientsModule::register([ClientOptions::tcp(
            "RPC_CLIENT",
            format!("127.0.0.1:{}", port()),
        )])],
        controllers = [RpcController],
        providers = [RpcOptionsProvider],
    )]
    struct RpcModule;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sum_rpc_async() {
        init_tracing();
        let app = NestFactory::create_microservice_async::<RpcModule, _, _>(
            |options: Arc<RpcOptionsProvider>| options.get_options(),
        )
        .await
        .expect("the microservice boots with the transport its provider gives");
        let client: ClientProxy = app
            .container()
            .get_token("RPC_CLIENT")
            .expect("the module's client is in the container");
        let server = app.start().await.expect("the TCP server binds");
        tokio::spawn(server.serve());
        // `/POST`: every value of the reply, summed.
        let mut replies = client
            .send_stream::<i64>(pattern!({ cmd: "sum" }), &[1, 2, 3, 4, 5])
            .await
            .expect("the call is sent");
        let mut sum = 0;
        while let Some(value) = replies.next().await {
            sum += value.expect("a value");
        }
        assert_eq!(sum, 15);
    }
}
