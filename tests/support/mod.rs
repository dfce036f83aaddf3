//! Helpers for the end-to-end and interoperability tests: real NestJS peers run as Node
//! processes from `tests/nest-peer` (installed with `npm ci`), free ports, and the skip rule.
//!
//! The skip rule: a test that needs Node or the Nest packages and cannot find them prints
//! what is missing and how to get it, then passes without running, unless `CI=true`, where it
//! fails instead (CI must never skip).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub mod tls;

/// Where the Node peer scripts live (and the Nest 11 install).
pub fn nest_peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nest-peer")
}

/// A NestJS release line the peers can run on. Interop tests run against each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nest {
    /// `@nestjs/microservices` 11.2.6 (CommonJS), in `tests/nest-peer`.
    V11,
    /// `@nestjs/microservices` 12.1.1 (ESM), in `tests/nest-peer/v12`.
    V12,
}

impl Nest {
    /// Every version, oldest first.
    pub const ALL: [Nest; 2] = [Nest::V11, Nest::V12];

    /// The folder holding this version's `node_modules`.
    pub fn dir(self) -> PathBuf {
        match self {
            Nest::V11 => nest_peer_dir(),
            Nest::V12 => nest_peer_dir().join("v12"),
        }
    }
}

/// True when running under CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Checks that Node and the Nest packages are installed. Returns `false` (after saying why)
/// if the caller should skip; panics under CI.
pub fn nest_available(test: &str) -> bool {
    let missing = if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        Some("Node.js is not installed (install Node.js 20+ and npm)".to_owned())
    } else {
        Nest::ALL
            .into_iter()
            .find(|v| !v.dir().join("node_modules/@nestjs/microservices").exists())
            .map(|version| {
                format!(
                    "the NestJS peer packages are not installed (run `npm ci --prefix {}`)",
                    version.dir().display()
                )
            })
    };
    match missing {
        None => true,
        Some(why) if in_ci() => panic!("{test} needs NestJS but {why}; CI must not skip"),
        Some(why) => {
            // Straight to stderr: libtest would swallow eprintln! from a passing test.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            false
        }
    }
}

/// Skips the current test (returns early) when Node/Nest are missing outside CI.
#[macro_export]
macro_rules! require_nest {
    ($test:expr) => {
        if !$crate::nest_available($test) {
            return;
        }
    };
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port on loopback")
}

/// A Node process, killed when dropped.
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Kills the process (SIGKILL) and waits for it to be gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// `node <script> <args..>` in the peer directory on Nest `version`, stdout piped, killed
/// when dropped.
fn node_command(version: Nest, script: &str, args: &[&str]) -> Command {
    let mut command = Command::new("node");
    command
        .arg(script)
        .args(args)
        .current_dir(nest_peer_dir())
        .env("NEST_PEER_DIR", version.dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// Starts `node <script> <args..>` in the peer directory and waits until it prints a line
/// starting with `ready`.
pub async fn spawn_node_ready(version: Nest, script: &str, args: &[&str]) -> NodeProcess {
    spawn_node_until(version, script, args, &[], "ready").await
}

/// Starts `node <script> <args..>` in the peer directory with `env` set, and waits until it
/// prints a line starting with `ready` (the word a program of ours prints, or the seed's
/// gateway's `API gateway listening`).
pub async fn spawn_node_until(
    version: Nest,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
    ready: &str,
) -> NodeProcess {
    let mut command = node_command(version, script, args);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with(ready) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "node {script} did not become ready");
    // Keep draining stdout so the peer never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    NodeProcess { child }
}

/// Starts the Nest TCP microservice peer on `port`.
pub async fn spawn_nest_service(version: Nest, port: u16) -> NodeProcess {
    spawn_node_ready(version, "service.js", &[&port.to_string()]).await
}

/// The seed's TypeScript (`tests/nest-peer/seed/src`: its gateway as the seed writes it, and
/// users and orders services as a Nest team writes them) compiled by the pinned `tsc` for
/// `version`, once per test process. Returns the folder of the compiled scripts, relative to
/// the peer directory (where `node` runs): `seed/dist` (Nest 11) or `v12/seed-dist`; each
/// resolves `@nestjs/*` from its version's `node_modules`.
pub fn compile_seed(version: Nest) -> &'static str {
    compile_peer(TsPeer::Seed, version)
}

/// A TypeScript project of Nest peers under `tests/nest-peer/`.
#[derive(Debug, Clone, Copy)]
pub enum TsPeer {
    /// `seed/`: the seed's gateway and its services.
    Seed,
    /// `suite/`: apps of Nest's own microservices suite, as Nest peers.
    Suite,
    /// `suite12/`: apps of Nest's suite that only Nest 12 has (type-checked against Nest 12;
    /// compiled for Nest 12 only).
    Suite12,
}

/// `project` compiled by the pinned `tsc` for `version`, once per test process: the folder of
/// the compiled scripts relative to the peer directory (`<project>/dist` for Nest 11,
/// `v12/<project>-dist` for Nest 12, each resolving `@nestjs/*` from its version's
/// `node_modules`).
pub fn compile_peer(project: TsPeer, version: Nest) -> &'static str {
    static COMPILED: [std::sync::OnceLock<()>; 5] = [
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
        std::sync::OnceLock::new(),
    ];
    let (index, config, out) = match (project, version) {
        (TsPeer::Seed, Nest::V11) => (0, "seed/tsconfig.json", "seed/dist"),
        (TsPeer::Seed, Nest::V12) => (1, "seed/tsconfig.json", "v12/seed-dist"),
        (TsPeer::Suite, Nest::V11) => (2, "suite/tsconfig.json", "suite/dist"),
        (TsPeer::Suite, Nest::V12) => (3, "suite/tsconfig.json", "v12/suite-dist"),
        (TsPeer::Suite12, Nest::V12) => (4, "suite12/tsconfig.json", "v12/suite12-dist"),
        (TsPeer::Suite12, Nest::V11) => panic!("suite12 is Nest 12's alone"),
    };
    COMPILED[index].get_or_init(|| {
        let output = std::process::Command::new("node")
            .args([
                "node_modules/typescript/bin/tsc",
                "-p",
                config,
                "--outDir",
                out,
            ])
            .current_dir(nest_peer_dir())
            .output()
            .expect("node runs tsc");
        assert!(
            output.status.success(),
            "tsc failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
    out
}

/// Runs `node <script> <args..>` to completion, feeding `stdin`, and returns its stdout.
pub async fn run_node(version: Nest, script: &str, args: &[&str], stdin: &str) -> String {
    run_node_env(version, script, args, &[], stdin).await
}

/// [`run_node`] with `env` set.
pub async fn run_node_env(
    version: Nest,
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
    stdin: &str,
) -> String {
    let mut child = node_command(version, script, args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_owned();
    tokio::spawn(async move {
        let _ = input.write_all(stdin.as_bytes()).await;
    });
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node {script} did not finish within 60 s"))
        .expect("waiting for node");
    assert!(
        output.status.success(),
        "node {script} failed: {}",
        output.status
    );
    String::from_utf8(output.stdout).expect("node prints UTF-8")
}

/// Logs to stderr for the test binary (once), honouring `RUST_LOG`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A minimal HTTP/1.1 exchange over a fresh connection (`Connection: close`): returns the
/// status, the headers (lower-cased names) and the body. Enough for tests, no client crate.
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the app");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    if let Err(error) = stream.write_all(request.as_bytes()).await {
        // A server may answer a large body before it has all arrived (a 413) and close: the
        // rest of the body then meets a closed socket, and the answer is still there to read.
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
        assert!(
            matches!(error.kind(), BrokenPipe | ConnectionReset),
            "send the request: {error}"
        );
    }
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("the app answers within 10 s");
    if let Err(error) = read {
        // A reset after the answer (the unsent body above) loses nothing already read.
        assert!(!raw.is_empty(), "read the response: {error}");
    }
    // Lossy: a compressed body is binary, and tests of it only look at the headers.
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a complete HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// [`http_request`] reduced to the status, the `Content-Type` (empty if none) and the body.
pub async fn http_call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let (status, head, body) = http_request(addr, method, path, headers, body).await;
    let content_type = head
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    (status, content_type, body)
}

/// Checks that a server (a broker, a database) answers on `addr`. Returns `false` (after
/// saying which server is missing and how to start it) if the caller should skip; panics
/// under CI, where nothing may be skipped.
pub fn server_available(test: &str, name: &str, addr: &str, start: &str) -> bool {
    let up = addr
        .parse::<std::net::SocketAddr>()
        .ok()
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok());
    if up {
        return true;
    }
    let why = format!("{name} is not running on {addr} (start it with `{start}`)");
    if in_ci() {
        panic!("{test} needs {why}; CI must not skip");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// Whether the shared NATS (127.0.0.1:4222) runs: see [`server_available`].
pub fn nats_up(test: &str) -> bool {
    server_available(
        test,
        "NATS",
        "127.0.0.1:4222",
        "nats-server -a 127.0.0.1 -p 4222 -js",
    )
}

/// Whether the shared Mosquitto (127.0.0.1:1883) runs: see [`server_available`].
pub fn mqtt_up(test: &str) -> bool {
    server_available(
        test,
        "Mosquitto (MQTT)",
        "127.0.0.1:1883",
        "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
    )
}

/// Whether the shared RabbitMQ (127.0.0.1:5672, guest/guest) runs: see [`server_available`].
pub fn rmq_up(test: &str) -> bool {
    server_available(
        test,
        "RabbitMQ",
        "127.0.0.1:5672",
        "rabbitmq-server -detached",
    )
}

/// The Redis the throttler tests use.
pub const REDIS_ADDR: &str = "127.0.0.1:6379";

/// Skips the current test (returns early) when Redis is not running, outside CI.
#[macro_export]
macro_rules! require_redis {
    ($test:expr) => {
        if !$crate::server_available(
            $test,
            "Redis",
            $crate::REDIS_ADDR,
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
        ) {
            return;
        }
    };
}

/// A broker binary the fault tests run privately (their own process and port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// nats-server.
    Nats,
    /// redis-server.
    Redis,
    /// mosquitto.
    Mosquitto,
}

impl BrokerKind {
    fn binary(self) -> &'static str {
        let (name, paths): (&str, &[&str]) = match self {
            BrokerKind::Nats => (
                "nats-server",
                &["/usr/sbin/nats-server", "/usr/bin/nats-server"],
            ),
            BrokerKind::Redis => (
                "redis-server",
                &["/usr/bin/redis-server", "/usr/sbin/redis-server"],
            ),
            BrokerKind::Mosquitto => ("mosquitto", &["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]),
        };
        paths
            .iter()
            .copied()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or(name)
    }

    fn args(self, port: u16) -> Vec<String> {
        let port = port.to_string();
        let args: Vec<&str> = match self {
            BrokerKind::Nats => vec!["-a", "127.0.0.1", "-p", &port],
            BrokerKind::Redis => vec![
                "--bind",
                "127.0.0.1",
                "--port",
                &port,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            // Mosquitto 2 without a config file listens on loopback, anonymous allowed.
            BrokerKind::Mosquitto => vec!["-p", &port],
        };
        args.into_iter().map(str::to_owned).collect()
    }

    /// Whether the binary is installed; says how to get it (skip) or panics under CI.
    pub fn installed(self, test: &str) -> bool {
        let flag = if self == BrokerKind::Mosquitto {
            "-h"
        } else {
            "--version"
        };
        let ok = std::process::Command::new(self.binary())
            .arg(flag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !ok {
            let package = match self {
                BrokerKind::Nats => "nats-server",
                BrokerKind::Redis => "redis-server",
                BrokerKind::Mosquitto => "mosquitto",
            };
            assert!(!in_ci(), "{test} needs {package}; CI must not skip");
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {package} is not installed (apt-get install {package})"
            );
        }
        ok
    }
}

/// A broker of the test's own, on its own port (killed when dropped): for tests that stop
/// the broker or need subjects nobody else uses.
pub struct PrivateBroker {
    /// Its port.
    pub port: u16,
    kind: BrokerKind,
    child: tokio::process::Child,
}

impl PrivateBroker {
    /// Starts one on `port` and waits until it accepts connections.
    pub async fn start(kind: BrokerKind, port: u16) -> PrivateBroker {
        Self::start_with(kind, port, kind.args(port)).await
    }

    /// Starts one with the command line `args` (which must make it listen on `port`) and
    /// waits until `port` accepts connections.
    pub async fn start_with(kind: BrokerKind, port: u16, args: Vec<String>) -> PrivateBroker {
        let child = tokio::process::Command::new(kind.binary())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{kind:?} starts: {e}"));
        for _ in 0..150 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return PrivateBroker { port, kind, child };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the private {kind:?} did not come up on {port}");
    }

    /// Stops it (SIGKILL, as a crash would); returns a handle to start it again on its port.
    pub async fn stop(mut self) -> (BrokerKind, u16) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
        (self.kind, self.port)
    }
}

/// Boots `M` as a TCP microservice on a free loopback port and serves it for the rest of the
/// test: its address.
pub async fn serve_microservice<M: gateway_core::di::Module>() -> std::net::SocketAddr {
    let transport = gateway_core::server::Transport::tcp("127.0.0.1:0");
    serve_microservice_on::<M>(transport).await.0
}

/// Boots `M` as a microservice on `transport` and serves it: its bound address (a
/// transport that listens, as TCP and gRPC do) and the handle that stops it.
pub async fn serve_microservice_on<M: gateway_core::di::Module>(
    transport: gateway_core::server::Transport,
) -> (std::net::SocketAddr, gateway_core::server::ShutdownHandle) {
    let service = gateway_core::app::NestFactory::create_microservice::<M>(transport)
        .await
        .expect("the microservice boots")
        .start()
        .await
        .expect("the microservice starts");
    let addr = service
        .local_addr()
        .expect("the transport listens on an address");
    let stop = service.shutdown_handle();
    tokio::spawn(service.serve());
    (addr, stop)
}

/// Boots `M`, lets `configure` set the app up (guards, edge settings), and serves it on a
/// free loopback port for the rest of the test.
pub async fn serve_app<M: gateway_core::di::Module>(
    configure: impl FnOnce(&mut gateway_core::app::NestApplication),
) -> std::net::SocketAddr {
    let mut app = gateway_core::app::NestFactory::create::<M>()
        .await
        .expect("the app boots");
    configure(&mut app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

/// One response header's value, from [`http_request`]'s header list.
pub fn header<'a>(head: &'a [(String, String)], name: &str) -> Option<&'a str> {
    head.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}
