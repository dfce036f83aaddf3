//! The facts NestJS's own specs assert (`integration/microservices/e2e/` in the Nest
//! repository), against its apps ported to this framework (`examples::nest_suite`): each
//! request and expected answer as the spec has it. `sum-rpc`, `sum-nats`, `sum-mqtt`,
//! `sum-redis`, `sum-rmq`, `sum-grpc` and `math-grpc`; the README's table says what of each is
//! ported.

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

/// A served app that [`stop`](Self::stop) stops.
struct Served {
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), gateway_core::app::BootError>>,
}

impl Served {
    /// Stops the app and its microservices; returns once they have stopped.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.serving.await.unwrap().unwrap();
    }
}

/// [`serve`], stoppable.
async fn serve_stoppable(app: NestApplication, settle: Duration) -> (SocketAddr, Served) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(settle).await;
    (server, Served { stop, serving })
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
    // `/POST (setting packet options with "RecordBuilder")`: a header set with the call,
    // read by the handler from its context.
    assert_eq!(
        post(server, "/record-builder-duplex", r#"{"items":[1,2,3]}"#).await,
        (
            200,
            r#"{"data":{"items":[1,2,3]},"headers":{"x-version":"1.0.0"}}"#.to_owned()
        )
    );
}

/// `sum-mqtt.spec.ts`, with the wildcard and shared-subscription routes of its app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_mqtt() {
    if !mqtt_up("sum_mqtt") {
        return;
    }
    init_tracing();
    let app = nest_suite::mqtt::create()
        .await
        .expect("the hybrid app boots and its MQTT microservice starts");
    let (server, stop) = serve_stoppable(app, Duration::from_millis(200)).await;
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
    // The app's record-builder route with its microservice subscribed at QoS 0: the message
    // comes with the lower QoS.
    let payload = r#"{"items":[1,2,3]}"#;
    assert_eq!(
        post(server, "/record-builder-duplex", payload).await,
        (200, r#"{"data":{"items":[1,2,3]},"qos":0}"#.to_owned())
    );
    stop.stop().await;

    // `mqtt-record-builder.spec.ts`: the same app, its microservice subscribed with QoS 1
    // (one app at a time: both would answer the same topics).
    let app = nest_suite::mqtt::create_record_builder()
        .await
        .expect("the hybrid app boots and its MQTT microservice starts");
    let (server, _stop) = serve_stoppable(app, Duration::from_millis(200)).await;
    // `/POST (setting packet options with "RecordBuilder")`.
    assert_eq!(
        post(server, "/record-builder-duplex", payload).await,
        (200, r#"{"data":{"items":[1,2,3]},"qos":1}"#.to_owned())
    );
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

/// `broadcast-redis.spec.ts` and `multicast-redis.spec.ts`: two Redis microservices of one
/// app both answer one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_redis() {
    let start = "apt-get install redis-server && redis-server --daemonize yes";
    if !server_available("broadcast_redis", "Redis", "127.0.0.1:6379", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::redis::create_broadcast()
        .await
        .expect("the hybrid app boots and both Redis microservices start");
    the_broadcasts(serve(app, Duration::from_millis(200)).await).await;
}

/// `broadcast-mqtt.spec.ts` and `multicast-mqtt.spec.ts`: two MQTT microservices of one app
/// both answer one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_mqtt() {
    if !mqtt_up("broadcast_mqtt") {
        return;
    }
    init_tracing();
    let app = nest_suite::mqtt::create_broadcast()
        .await
        .expect("the hybrid app boots and both MQTT microservices start");
    the_broadcasts(serve(app, Duration::from_millis(300)).await).await;
}

/// `Broadcast (2 subscribers)`, `Multicast (2 subscribers)`: `200 '2'`.
async fn the_broadcasts(server: SocketAddr) {
    for route in ["/broadcast", "/multicast"] {
        let (status, _, body) = http_request(server, "GET", route, &[], "").await;
        assert_eq!((status, body.as_str()), (200, "2"), "{route}");
    }
}

/// `topic-exchange-rmq.spec.ts`: a microservice with `wildcards` handles `wildcard.a.b` with
/// its `wildcard.*.*` handler, whose context gives the message's pattern; and (ours) the same
/// through the topic exchange from a client with `wildcards`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_exchange_rmq() {
    let start = "apt-get install rabbitmq-server && rabbitmq-server -detached";
    if !server_available("topic_exchange_rmq", "RabbitMQ", "127.0.0.1:5672", start) {
        return;
    }
    init_tracing();
    let app = nest_suite::rmq::create_topic_exchange()
        .await
        .expect("the hybrid app boots and its RabbitMQ microservice starts");
    let server = serve(app, Duration::from_millis(300)).await;
    // `should send message to wildcard topic exchange`.
    let (status, _, body) = http_request(server, "GET", "/topic-exchange", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "wildcard.a.b"));
    let (status, _, body) = http_request(server, "GET", "/topic-exchange/wildcards", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "wildcard.c.d"));
}

/// `fanout-exchange-rmq.spec.ts`: a client publishing to a fanout exchange reaches the
/// microservice whose exclusive, broker-named queue is bound to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_exchange_rmq() {
    let start = "apt-get install rabbitmq-server && rabbitmq-server -detached";
    if !server_available("fanout_exchange_rmq", "RabbitMQ", "127.0.0.1:5672", start) {
        return;
    }
    init_tracing();
    let (producer, consumer) = nest_suite::rmq::create_fanout_exchange()
        .await
        .expect("the producer boots and the consumer microservice starts");
    let stop = consumer.shutdown_handle();
    let consuming = tokio::spawn(consumer.serve());
    let server = serve(producer, Duration::from_millis(300)).await;
    // `should send message to fanout exchange`.
    let (status, _, body) = http_request(server, "GET", "/fanout-exchange", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "ping/pong"));
    stop.shutdown();
    consuming.await.unwrap();
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

/// `disconnected-client.spec.ts`: a client to a service that is not there fails its call
/// with a refused connection, which the route answers 408. The spec's TCP case dials Nest's
/// default `localhost:3000`; ours names a free port, so a server another test started there
/// cannot answer. Its MQTT case dials `broker.hivemq.com:183`; ours `localhost:183` (this
/// machine's traffic stays on loopback): the fact is the same, nobody listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_client() {
    init_tracing();
    let app = nest_suite::disconnected::create().await.expect("boots");
    let server = serve(app, Duration::ZERO).await;
    let tcp = format!(r#"{{"transport":0,"options":{{"port":{}}}}}"#, free_port());
    let cases = [
        ("TCP", tcp.as_str()),
        (
            "REDIS",
            r#"{"transport":1,"options":{"url":"redis://localhost:3333"}}"#,
        ),
        (
            "NATS",
            r#"{"transport":2,"options":{"url":"nats://localhost:4224"}}"#,
        ),
        (
            "MQTT",
            r#"{"transport":3,"options":{"host":"mqtt://localhost","port":183}}"#,
        ),
    ];
    for (transport, options) in cases {
        let (status, body) = post(server, "/", options).await;
        assert_eq!(
            (status, body.as_str()),
            (
                408,
                r#"{"message":"ECONNREFUSED","error":"Request Timeout","statusCode":408}"#
            ),
            "{transport}"
        );
    }
}

/// `tcp-shutdown.spec.ts`: once the microservice's close has returned, the connections it
/// had are closed and no handler runs for what they send. The spec defines its app itself;
/// so does this test.
mod tcp_shutdown {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use gateway_core::prelude::*;
    use gateway_tests::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::task::JoinHandle;

    static HANDLER_CALLS: AtomicUsize = AtomicUsize::new(0);

    #[injectable]
    struct PingController;

    #[controller]
    impl PingController {
        #[message_pattern({ cmd: "ping" })]
        async fn ping(&self) -> &'static str {
            HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
            "pong"
        }
    }

    #[module(controllers = [PingController])]
    struct PingModule;

    /// `createNestMicroservice({ transport: Transport.TCP, options: { host, port: 0 } })` and
    /// `listen()`.
    async fn listen() -> (SocketAddr, ShutdownHandle, JoinHandle<()>) {
        let server = NestFactory::create_microservice::<PingModule>(Transport::tcp("127.0.0.1:0"))
            .await
            .expect("boots")
            .bind()
            .await
            .expect("binds");
        let addr = server.local_addr();
        let stop = server.shutdown_handle();
        (addr, stop, tokio::spawn(server.serve()))
    }

    /// `app.close()`: returns once the server has stopped.
    async fn close(stop: ShutdownHandle, serving: JoinHandle<()>) {
        stop.shutdown();
        tokio::time::timeout(Duration::from_secs(2), serving)
            .await
            .expect("close returns")
            .unwrap();
    }

    fn frame(packet: serde_json::Value) -> String {
        let json = packet.to_string();
        format!("{}#{json}", json.len())
    }

    /// The peer sees its connection closed (end of stream or reset) at once.
    async fn assert_closed(socket: &mut TcpStream) {
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(_)) => continue, // a reply sent before the close
                Err(_) => panic!("the connection is still open after close"),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tcp_shutdown() {
        init_tracing();
        // `should have destroyed pre-existing connections by the time close() resolves`.
        let (addr, stop, serving) = listen().await;
        let mut socket = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        close(stop, serving).await;
        assert_closed(&mut socket).await;

        // `should not execute handlers over a pre-existing connection after shutdown`.
        HANDLER_CALLS.store(0, Ordering::SeqCst);
        let (addr, stop, serving) = listen().await;
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let ping = |id: &str| {
            frame(serde_json::json!({ "pattern": { "cmd": "ping" }, "data": null, "id": id }))
        };
        socket.write_all(ping("1").as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(HANDLER_CALLS.load(Ordering::SeqCst), 1);
        close(stop, serving).await;
        let _ = socket.write_all(ping("2").as_bytes()).await; // may fail: the peer is gone
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(HANDLER_CALLS.load(Ordering::SeqCst), 1);

        // `should leave no open sockets tracked after the shutdown`: both connections close.
        let (addr, stop, serving) = listen().await;
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        close(stop, serving).await;
        assert_closed(&mut first).await;
        assert_closed(&mut second).await;
    }
}

/// `tcp-reconnect.spec.ts`: a client closed (while connected, or while still connecting) and
/// connected again uses its new connection only. The old one's late close, which the server
/// holds back until the new one has a call in flight, fails nothing, and the streamed reply on
/// the new one arrives whole. The spec's server is a bare socket server; so is this one.
mod tcp_reconnect {
    use std::time::Duration;

    use futures_util::StreamExt;
    use gateway_core::prelude::*;
    use gateway_tests::*;
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn frame(packet: Value) -> String {
        let json = packet.to_string();
        format!("{}#{json}", json.len())
    }

    /// Reads one frame, or `None` once the peer has closed its side.
    async fn next_frame(socket: &mut TcpStream) -> Option<Value> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(2), socket.read(&mut first)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(_)) => {}
            Err(_) => panic!("neither a frame nor a close within 2 s"),
        }
        let mut bytes = vec![first[0]];
        let mut byte = [0u8; 1];
        loop {
            socket.read_exact(&mut byte).await.ok()?;
            if byte[0] == b'#' {
                break;
            }
            bytes.push(byte[0]);
        }
        let len: usize = String::from_utf8(bytes).ok()?.parse().ok()?;
        let mut body = vec![0u8; len];
        socket.read_exact(&mut body).await.ok()?;
        serde_json::from_slice(&body).ok()
    }

    async fn reconnect(close_while_connecting: bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The server accepts every connection and never closes one by itself (the spec's
        // `allowHalfOpen`): the test says when.
        let (accepted, mut sockets) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                if accepted.send(socket).is_err() {
                    return;
                }
            }
        });
        let client = ClientProxy::new(ClientOptions::tcp("RECONNECT", addr.to_string()));

        // `client.connect()` starts dialling before it returns, in Node; polling the future
        // once does the same here.
        let mut connect_a = Box::pin(client.connect());
        let connect_a = if close_while_connecting {
            assert!(
                futures_util::poll!(&mut connect_a).is_pending(),
                "still connecting"
            );
            Some(connect_a)
        } else {
            connect_a.await.expect("connects");
            None
        };
        client.close();
        let connect_b = {
            let client = client.clone();
            tokio::spawn(async move { client.connect().await })
        };
        if let Some(connect_a) = connect_a {
            connect_a.await.expect("the first connect resolves");
        }
        connect_b.await.unwrap().expect("connects again");
        let mut accept = Vec::new();
        for _ in 0..2 {
            let socket = tokio::time::timeout(Duration::from_secs(2), sockets.recv()).await;
            accept.push(socket.expect("accepted").unwrap());
        }
        let (mut first, mut second) = (accept.remove(0), accept.remove(0));

        let response = {
            let client = client.clone();
            tokio::spawn(async move {
                let mut values = Vec::new();
                let mut stream = client
                    .send_stream_with::<String>(
                        "stream",
                        &json!({}),
                        CallOptions::timeout(Duration::from_secs(5)),
                    )
                    .await?;
                while let Some(value) = stream.next().await {
                    values.push(value?);
                }
                Ok::<_, RpcError>(values)
            })
        };
        // The closed connection reads as closed; the request arrives on the other.
        let (on_first, on_second) = tokio::join!(next_frame(&mut first), next_frame(&mut second));
        let (mut server_a, mut server_b, packet) = match (on_first, on_second) {
            (None, Some(packet)) => (first, second, packet),
            (Some(packet), None) => (second, first, packet),
            other => panic!("one connection closed, the other with the request: {other:?}"),
        };
        // `serverA.end()`: the old connection's close reaches the client now, with a call in
        // flight on the new one.
        server_a.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let id = &packet["id"];
        for reply in [
            json!({ "id": id, "response": "a" }),
            json!({ "id": id, "response": "b" }),
            json!({ "id": id, "isDisposed": true }),
        ] {
            server_b.write_all(frame(reply).as_bytes()).await.unwrap();
        }
        assert_eq!(
            response
                .await
                .unwrap()
                .expect("the streamed reply arrives whole"),
            ["a", "b"]
        );
        // Still on the second connection: connecting again dials nothing.
        client.connect().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(sockets.try_recv().is_err(), "no third connection");
        server.abort();
    }

    // One thread: while the test polls the connect once, no other thread can run the reactor
    // and see the handshake done, so the dial is still pending then (on two threads it
    // sometimes was not, under load).
    #[tokio::test(flavor = "current_thread")]
    async fn tcp_reconnect() {
        init_tracing();
        for close_while_connecting in [false, true] {
            reconnect(close_while_connecting).await;
        }
    }
}

/// `packet-metadata-tcp.spec.ts` (Nest 12): what a client's dispatch hook attaches reaches the
/// handler's context, for requests and events, beside an untouched payload; no hook, no
/// metadata; the hook sees each packet once with its pattern and data. The spec defines its app
/// itself; so does this test. Then the same facts across the wire with Nest 12: its client
/// against our microservice, our client against its microservice.
mod packet_metadata_tcp {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use gateway_core::prelude::*;
    use gateway_tests::*;
    use serde_json::{json, Value};
    use tokio::sync::Notify;

    static LAST_EVENT_METADATA: Mutex<Option<Value>> = Mutex::new(None);
    static EVENT_RECEIVED: Notify = Notify::const_new();

    #[injectable]
    struct MetadataController;

    #[controller]
    impl MetadataController {
        #[message_pattern("echo-metadata")]
        async fn echo(&self, #[payload] data: Value, #[ctx] context: MessageContext) -> Value {
            json!({ "data": data, "metadata": context.metadata() })
        }

        #[event_pattern("record-metadata")]
        async fn record(&self, #[ctx] context: MessageContext) {
            *LAST_EVENT_METADATA.lock().unwrap() = context.metadata().cloned();
            EVENT_RECEIVED.notify_one();
        }

        #[message_pattern("last-event-metadata")]
        async fn last_event(&self) -> Value {
            LAST_EVENT_METADATA
                .lock()
                .unwrap()
                .clone()
                .unwrap_or(Value::Null)
        }
    }

    #[module(controllers = [MetadataController])]
    struct MetadataModule;

    async fn listen() -> (SocketAddr, ShutdownHandle) {
        let server =
            NestFactory::create_microservice::<MetadataModule>(Transport::tcp("127.0.0.1:0"))
                .await
                .expect("boots")
                .bind()
                .await
                .expect("binds");
        let (addr, stop) = (server.local_addr(), server.shutdown_handle());
        tokio::spawn(server.serve());
        (addr, stop)
    }

    fn client(addr: SocketAddr, trace: &'static str) -> ClientProxy {
        ClientProxy::new(
            ClientOptions::tcp("METADATA", addr.to_string())
                .on_dispatch(move |packet| packet.set_metadata("x-request-id", trace)),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn packet_metadata_tcp() {
        init_tracing();
        let (addr, stop) = listen().await;

        // `delivers what the dispatch hook attached to a request, beside the payload`.
        let reply: Value = client(addr, "trace-1")
            .send("echo-metadata", &json!({ "orderId": 7 }))
            .await
            .unwrap();
        assert_eq!(
            reply,
            json!({ "data": { "orderId": 7 }, "metadata": { "x-request-id": "trace-1" } })
        );

        // `delivers it with an event as well`.
        let received = EVENT_RECEIVED.notified();
        // The client lives until the event is handled: a client dropped at once may take an
        // event still queued for its socket with it.
        let emitter = client(addr, "trace-2");
        emitter.emit("record-metadata", &json!({})).await.unwrap();
        tokio::time::timeout(Duration::from_secs(2), received)
            .await
            .expect("the event arrives");
        assert_eq!(
            *LAST_EVENT_METADATA.lock().unwrap(),
            Some(json!({ "x-request-id": "trace-2" }))
        );

        // `leaves the context without metadata when no hook is set`.
        let plain = ClientProxy::new(ClientOptions::tcp("PLAIN", addr.to_string()));
        let reply: Value = plain.send("echo-metadata", "plain").await.unwrap();
        assert_eq!(reply, json!({ "data": "plain", "metadata": null }));

        // `calls the hook once per packet, with the pattern and the data`.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recording = {
            let seen = seen.clone();
            ClientProxy::new(ClientOptions::tcp("SEEN", addr.to_string()).on_dispatch(
                move |packet| {
                    let pattern = packet.pattern().route().to_owned();
                    seen.lock()
                        .unwrap()
                        .push(json!({ "pattern": pattern, "data": packet.data() }));
                },
            ))
        };
        recording.send::<Value>("echo-metadata", &1).await.unwrap();
        recording.send::<Value>("echo-metadata", &2).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                json!({ "pattern": "echo-metadata", "data": 1 }),
                json!({ "pattern": "echo-metadata", "data": 2 }),
            ]
        );

        // Ours: metadata given with one call.
        let reply: Value = plain
            .send_with(
                "echo-metadata",
                &3,
                CallOptions::default().metadata("tenant", "t-9"),
            )
            .await
            .unwrap();
        assert_eq!(reply, json!({ "data": 3, "metadata": { "tenant": "t-9" } }));
        stop.shutdown();

        // After the spec's cases (the handlers keep their last event in a static).
        with_nest_12().await;
    }

    /// Nest 12's client (with the spec's hook) against our microservice, and our client
    /// against Nest 12's: the same answers.
    async fn with_nest_12() {
        require_nest!("packet_metadata_tcp (with Nest 12)");
        let dist = compile_peer(TsPeer::Suite12, Nest::V12);
        let expected = json!({
            "plain": { "data": "plain", "metadata": null },
            "echoed": { "data": { "orderId": 7 }, "metadata": { "x-request-id": "trace-1" } },
            "event": { "x-request-id": "trace-1" },
            "seen": [
                { "pattern": "echo-metadata", "data": { "orderId": 7 } },
                { "pattern": "record-metadata", "data": {} },
                { "pattern": "last-event-metadata", "data": {} },
            ],
        });

        let (addr, stop) = listen().await;
        let script = format!("{dist}/packet-metadata.client.js");
        let out = run_node(Nest::V12, &script, &[&addr.port().to_string()], "").await;
        let answers: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
            .expect("the client prints JSON");
        assert_eq!(answers, expected, "a Nest 12 client against ours");
        stop.shutdown();

        let port = free_port();
        let script = format!("{dist}/packet-metadata.service.js");
        let _nest = spawn_node_ready(Nest::V12, &script, &[&port.to_string()]).await;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let plain = ClientProxy::new(ClientOptions::tcp("PLAIN", addr.to_string()));
        let traced = client(addr, "trace-1");
        let plain_reply: Value = plain.send("echo-metadata", "plain").await.unwrap();
        let echoed: Value = traced
            .send("echo-metadata", &json!({ "orderId": 7 }))
            .await
            .unwrap();
        traced.emit("record-metadata", &json!({})).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let event: Value = traced
            .send("last-event-metadata", &json!({}))
            .await
            .unwrap();
        assert_eq!(
            json!({ "plain": plain_reply, "echoed": echoed, "event": event }),
            json!({ "plain": expected["plain"], "echoed": expected["echoed"], "event": expected["event"] }),
            "our client against Nest 12"
        );
    }
}

/// `tcp-json-socket-pipeline.spec.ts`: 12 000 back-to-back event frames and a request in one
/// write; the server stays up and answers the request. (Nest's reader once recursed per frame
/// and overflowed its stack.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_json_socket_pipeline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    init_tracing();
    let router = gateway_core::server::MessageRouter::new().message(
        gateway_core::pattern!({ cmd: "ping" }),
        |_: serde_json::Value| async { Ok::<_, gateway_core::server::RpcException>("pong") },
    );
    let server = gateway_core::transport::tcp::TcpServer::bind("127.0.0.1:0", router)
        .await
        .unwrap();
    let addr = server.local_addr();
    let stop = server.shutdown_handle();
    tokio::spawn(server.serve());

    let ping = r#"{"pattern":{"cmd":"ping"},"data":null,"id":"integration-test-ping"}"#;
    let burst = "2#{}".repeat(12_000) + &format!("{}#{ping}", ping.len());
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(burst.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let pong = tokio::time::timeout(Duration::from_secs(8), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the server closed the connection");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some((_, body)) = text.split_once('#') {
                if let Ok(reply) = serde_json::from_str::<serde_json::Value>(body) {
                    return reply;
                }
            }
        }
    })
    .await
    .expect("the pong arrives: the server survived the burst");
    assert_eq!(pong["id"], "integration-test-ping");
    assert_eq!(pong["response"], "pong");
    assert!(pong.get("err").is_none());
    stop.shutdown();
}

/// `sum-grpc.spec.ts` and `math-grpc.spec.ts` (`nest-suite -- grpc`): the app's routes call
/// its own gRPC handlers through `ClientGrpc`; a raw client (the specs' `protoGRPC.math.Math`)
/// calls the streaming methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_grpc() {
    use examples::proto::math;
    use futures_util::StreamExt;
    use gateway_core::grpc::{ClientGrpc, GrpcClientOptions};
    init_tracing();
    let microservice = free_port();
    let app = nest_suite::grpc::create(microservice)
        .await
        .expect("the hybrid app boots and its gRPC microservice starts");
    let server = serve(app, Duration::ZERO).await;
    // `GRPC Sending and Receiving HTTP POST` (and `upperMethod`), `(multiple proto)`.
    for route in ["/sum", "/upperMethod/sum", "/multi/sum", "/multi/sum2"] {
        assert_eq!(
            post(server, route, "[1,2,3,4,5]").await,
            (200, r#"{"result":15}"#.to_owned()),
            "{route}"
        );
    }
    let client: math::Math::Client = ClientGrpc::new(
        "MATH",
        GrpcClientOptions::new(format!("localhost:{microservice}")),
    )
    .get_service();
    // `GRPC Sending and receiving Stream from RX handler` and `.. from Call Passthrough
    // handler`: one message written, `{ result: 15 }` received.
    for pass in [false, true] {
        let one = futures_util::stream::iter([math::RequestSum {
            data: vec![1, 2, 3, 4, 5],
        }]);
        let mut replies = if pass {
            client.sum_stream_pass(one).await.unwrap()
        } else {
            client.sum_stream(one).await.unwrap()
        };
        let reply = replies.next().await.unwrap().unwrap();
        assert_eq!(serde_json::to_string(&reply).unwrap(), r#"{"result":15}"#);
    }
    // `streaming calls that error`: `3 INVALID_ARGUMENT: dividing by 0 is not possible`, no
    // data before it.
    let divisions = math::StreamDivideRequest {
        data: vec![math::RequestDivide {
            dividend: 1,
            divisor: 0,
        }],
    };
    let items: Vec<_> = client
        .stream_divide(divisions)
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 1, "{items:?}");
    match &items[0] {
        Err(gateway_core::client::RpcError::Grpc { code, message, .. }) => {
            assert_eq!(
                (*code, message.as_str()),
                (3, "dividing by 0 is not possible")
            )
        }
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}
