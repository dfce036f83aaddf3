//! TLS on every transport. TCP: our server asking for client certificates (Node's
//! `requestCert`), and a Nest client showing one. The brokers: against real TLS listeners
//! started by the test: a private
//! nats-server (`--tls --tlsverify`), redis-server (`--tls-port`, `--tls-auth-clients yes`),
//! Mosquitto (a `listener` with `require_certificate true`) and a second RabbitMQ node
//! (`listeners.ssl`, `verify_peer`, `fail_if_no_peer_cert`), each with certificates made
//! at test time (rcgen) and asking every client for one.
//!
//! For each: our server and our client, both with the CA and a client certificate, make a
//! round trip through the broker; a client that trusts only the Mozilla roots is refused
//! (the broker's certificate is not theirs), and so is one with the CA but no certificate of
//! its own (the broker asks for one). Never skipped under `CI=true`.

use std::path::PathBuf;
use std::time::Duration;

use gateway_core::prelude::*;
use gateway_core::server::{MessageRouter, RpcException};
use gateway_core::tls::TlsOptions;
use gateway_core::transport::mqtt::{MqttServer, MqttServerOptions};
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_core::transport::redis::{RedisServer, RedisServerOptions};
use gateway_core::transport::rmq::{RmqOptions, RmqServer};
use gateway_tests::tls::TestPki;
use gateway_tests::*;

/// The handlers every broker's server serves.
fn router() -> MessageRouter {
    MessageRouter::new()
        .message("sum", |data: Vec<i64>| async move {
            Ok::<_, RpcException>(data.iter().sum::<i64>())
        })
        .message(
            "echo",
            |data: String| async move { Ok::<_, RpcException>(data) },
        )
}

/// `client` calls through the broker: a sum, and a non-ASCII string back unchanged.
async fn round_trip(client: ClientOptions) {
    let client = ClientProxy::new(client.timeout(Duration::from_secs(5)));
    let mut last = None;
    // The server's subscriptions may take a moment after it connected (Redis, MQTT,
    // RabbitMQ subscribe in `serve`; NATS in `connect`).
    for _ in 0..50 {
        match client.send::<i64>("sum", &[1, 2, 3, 4, 5]).await {
            Ok(sum) => {
                last = Some(sum);
                break;
            }
            Err(RpcError::Timeout { .. }) => {}
            Err(error) => panic!("the TLS round trip failed: {error}"),
        }
    }
    assert_eq!(last, Some(15), "no answer over TLS");
    let text = "héllo 😀 日本";
    assert_eq!(client.send::<String>("echo", &text).await.unwrap(), text);
}

/// `client` cannot reach the service: its connection is refused at once (an
/// `RpcError::Connect`, 503 at the edge), not a call that waits for its deadline. Over TLS
/// 1.3 a client's handshake ends before the server has checked the client's certificate:
/// a missing one comes back as the server's alert on the first read (`ConnectionLost`).
async fn refused(client: ClientOptions, why: &str) {
    let client = ClientProxy::new(client.timeout(Duration::from_secs(5)));
    let started = std::time::Instant::now();
    match client.send::<i64>("sum", &[1]).await {
        Err(RpcError::Connect { .. }) => {}
        Err(RpcError::ConnectionLost { reason, .. }) if reason.contains("CertificateRequired") => {}
        other => panic!("{why}: expected a refused connection, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{why}: refused only after {:?}",
        started.elapsed()
    );
}

/// The three clients each test tries: with the CA and a certificate (served), with the
/// Mozilla roots only, with the CA but no certificate (both refused).
async fn clients(pki: &TestPki, make: impl Fn(TlsOptions) -> ClientOptions) {
    round_trip(make(pki.mutual_client())).await;
    refused(
        make(TlsOptions::new()),
        "a client trusting only the Mozilla roots",
    )
    .await;
    refused(make(pki.client()), "a client without a certificate").await;
}

/// Mutual TLS over TCP: our server with `ca` asks every client for a certificate it signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_mutual_tls() {
    init_tracing();
    let pki = TestPki::new("tcp");
    let options = ServerOptions {
        tls: Some(pki.server().ca_pem(&pki.ca).unwrap()),
        ..ServerOptions::default()
    };
    let server = TcpServer::bind_with("127.0.0.1:0", router(), options)
        .await
        .unwrap();
    let addr = server.local_addr().to_string();
    tokio::spawn(server.serve());
    clients(&pki, |tls| ClientOptions::tcp("TLS", addr.clone()).tls(tls)).await;
    // A plain TCP client is not let in either: its frame is no TLS handshake.
    let plain =
        ClientProxy::new(ClientOptions::tcp("PLAIN", addr.clone()).timeout(Duration::from_secs(2)));
    assert!(plain.send::<i64>("sum", &[1]).await.is_err());
    // A Nest client with `tlsOptions: { ca, cert, key }` is served.
    if nest_available("tcp_mutual_tls") {
        let port = addr.rsplit(':').next().unwrap();
        let env = [
            ("TLS_DIR", pki.dir().to_string_lossy().into_owned()),
            ("TLS_CLIENT_CERT", "1".to_owned()),
        ];
        let out = run_node_env(Nest::V11, "tls-client.js", &[port], &env, "").await;
        assert_eq!(out.trim(), r#"{"sum":15,"echo":"héllo 😀 日本"}"#);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_over_tls() {
    if !BrokerKind::Nats.installed("nats_over_tls") {
        return;
    }
    init_tracing();
    let pki = TestPki::new("nats");
    let port = free_port();
    let args = [
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--tls",
        "--tlscert",
        &pki.path("server.pem"),
        "--tlskey",
        &pki.path("server-key.pem"),
        "--tlscacert",
        &pki.path("ca.pem"),
        "--tlsverify",
    ];
    let _broker = PrivateBroker::start_with(BrokerKind::Nats, port, owned(&args)).await;
    let url = format!("nats://127.0.0.1:{port}");
    let server = NatsServer::connect(
        &url,
        router(),
        NatsServerOptions::default().tls(pki.mutual_client()),
    )
    .await
    .expect("our NATS server connects over TLS");
    tokio::spawn(server.serve());
    clients(&pki, |tls| ClientOptions::nats("TLS", url.clone()).tls(tls)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls() {
    if !BrokerKind::Redis.installed("redis_over_tls") {
        return;
    }
    init_tracing();
    let pki = TestPki::new("redis");
    let port = free_port();
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--tls-port",
        &port.to_string(),
        "--tls-cert-file",
        &pki.path("server.pem"),
        "--tls-key-file",
        &pki.path("server-key.pem"),
        "--tls-ca-cert-file",
        &pki.path("ca.pem"),
        "--tls-auth-clients",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    let _broker = PrivateBroker::start_with(BrokerKind::Redis, port, owned(&args)).await;
    let url = format!("rediss://127.0.0.1:{port}");
    let server = RedisServer::connect_with(
        &url,
        router(),
        RedisServerOptions::default().tls(pki.mutual_client()),
    )
    .await
    .expect("our Redis server connects over TLS");
    tokio::spawn(server.serve());
    clients(&pki, |tls| {
        ClientOptions::redis("TLS", url.clone()).tls(tls)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_tls() {
    if !BrokerKind::Mosquitto.installed("mqtt_over_tls") {
        return;
    }
    init_tracing();
    let pki = TestPki::new("mqtt");
    let port = free_port();
    let config = pki.dir().join("mosquitto.conf");
    std::fs::write(
        &config,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            pki.path("ca.pem"),
            pki.path("server.pem"),
            pki.path("server-key.pem"),
        ),
    )
    .unwrap();
    let args = ["-c".to_owned(), config.to_string_lossy().into_owned()];
    let _broker = PrivateBroker::start_with(BrokerKind::Mosquitto, port, args.to_vec()).await;
    let url = format!("mqtts://127.0.0.1:{port}");
    let server = MqttServer::connect_with(
        &url,
        router(),
        MqttServerOptions::default().tls(pki.mutual_client()),
    )
    .await
    .expect("our MQTT server connects over TLS");
    tokio::spawn(server.serve());
    clients(&pki, |tls| ClientOptions::mqtt("TLS", url.clone()).tls(tls)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmq_over_tls() {
    if !rabbitmq_installed("rmq_over_tls") {
        return;
    }
    init_tracing();
    let pki = TestPki::new("rmq");
    let node = RabbitNode::start(&pki).await;
    let url = format!("amqps://guest:guest@127.0.0.1:{}", node.port);
    let queue = format!("tls_{}", node.port);
    let server = RmqServer::connect_with(
        &url,
        router(),
        RmqOptions::queue(queue.clone()).tls(pki.mutual_client()),
    )
    .await
    .expect("our RabbitMQ server connects over TLS");
    tokio::spawn(server.serve());
    clients(&pki, |tls| {
        ClientOptions::rmq_with("TLS", url.clone(), RmqOptions::queue(queue.clone())).tls(tls)
    })
    .await;
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

fn rabbitmq_installed(test: &str) -> bool {
    let ok = std::path::Path::new("/usr/sbin/rabbitmq-server").exists()
        || std::process::Command::new("rabbitmq-server")
            .arg("--help")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok();
    if !ok {
        assert!(!in_ci(), "{test} needs rabbitmq-server; CI must not skip");
        eprintln!(
            "SKIPPED {test}: rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        );
    }
    ok
}

/// A RabbitMQ node of the test's own (beside the shared one): TLS only on a free port, its
/// data and logs under the PKI's folder; killed when dropped.
struct RabbitNode {
    port: u16,
    pid_file: PathBuf,
    _child: tokio::process::Child,
}

impl RabbitNode {
    async fn start(pki: &TestPki) -> RabbitNode {
        let port = free_port();
        let base = pki.dir().join("rabbitmq");
        std::fs::create_dir_all(&base).unwrap();
        // The node drops to the `rabbitmq` user: its folder must be writable by it.
        make_writable(&base);
        let config = base.join("rabbitmq.conf");
        std::fs::write(
            &config,
            format!(
                "listeners.tcp = none\nlisteners.ssl.default = {port}\n\
                 ssl_options.cacertfile = {}\nssl_options.certfile = {}\nssl_options.keyfile = {}\n\
                 ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = true\n",
                pki.path("ca.pem"),
                pki.path("server.pem"),
                pki.path("server-key.pem"),
            ),
        )
        .unwrap();
        std::fs::write(base.join("enabled_plugins"), "[].\n").unwrap();
        let pid_file = base.join("pid");
        let child = tokio::process::Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", format!("gateway-tls-{port}@localhost"))
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", &config)
            .env("RABBITMQ_MNESIA_BASE", base.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", base.join("log"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                base.join("enabled_plugins"),
            )
            .env("RABBITMQ_PID_FILE", &pid_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("rabbitmq-server starts");
        let node = RabbitNode {
            port,
            pid_file,
            _child: child,
        };
        // An Erlang node takes seconds to boot.
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the private RabbitMQ node did not listen on {port} within 30 s");
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        // The script runs the node under `su`, in a session of its own: kill the node itself.
        if let Some(pid) = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|pid| pid.trim().parse::<i32>().ok())
        {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[cfg(unix)]
fn make_writable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// `sum-rpc-tls.spec.ts`: the facts of `sum-rpc` again, the microservice serving with
/// `tlsOptions: { key, cert }` and every client of the app trusting the CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sum_rpc_tls() {
    init_tracing();
    let pki = TestPki::new("sum-rpc-tls");
    let microservice = free_port();
    std::env::set_var("MICROSERVICE_PORT", microservice.to_string());
    let app = examples::nest_suite::tcp_tls::create(microservice, pki.server(), pki.client())
        .await
        .expect("the hybrid app boots and its TLS microservice starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let post = |path: &'static str, body: String| async move {
        let json = [("Content-Type", "application/json")];
        let (status, _, text) = http_request(server, "POST", path, &json, &body).await;
        (status, text)
    };
    let fifteen = (200, "15".to_owned());
    // `/POST TLS`, `/POST (Promise/async)`, `/POST (Observable stream)`.
    for path in ["/?command=sum", "/?command=asyncSum", "/?command=streamSum"] {
        assert_eq!(post(path, "[1,2,3,4,5]".into()).await, fifteen, "{path}");
    }
    // `/POST (useFactory client)`, `/POST (useClass client)`.
    for path in ["/useFactory?command=sum", "/useClass?command=sum"] {
        assert_eq!(post(path, "[1,2,3,4,5]".into()).await, fifteen, "{path}");
    }
    // `/POST (concurrent)`: ten lists of ten.
    let lists: Vec<Vec<u32>> = (0..10)
        .map(|i| (1..=10).map(|k| i * 10 + k).collect())
        .collect();
    assert_eq!(
        post("/concurrent", serde_json::to_string(&lists).unwrap()).await,
        (200, "true".to_owned())
    );
    // `/POST (streaming)`, `/POST (pattern not found)`.
    assert_eq!(post("/stream", "[1,2,3,4,5]".into()).await, fifteen);
    assert_eq!(post("/?command=test", "[]".into()).await.0, 500);
    // `/POST (event notification)`.
    post("/notify", "[1,2,3,4,5]".into()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(examples::nest_suite::IS_NOTIFIED.load(std::sync::atomic::Ordering::SeqCst));
    // And the microservice takes no plain TCP client: TLS is really on.
    let plain = ClientProxy::new(
        ClientOptions::tcp("PLAIN", format!("127.0.0.1:{microservice}"))
            .timeout(Duration::from_secs(2)),
    );
    assert!(plain
        .send::<i64>(pattern!({ cmd: "sum" }), &[1])
        .await
        .is_err());
}
