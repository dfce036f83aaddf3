//! Round-trip latency and calls per second of `ClientProxy::send` through each broker on
//! loopback (NATS, Redis, MQTT, RabbitMQ), ours against the Nest `ClientProxy` in the same
//! run, both calling the same service, ours and then Nest's (each in its own process), with 1
//! and 64 callers. Each row also gives the service's CPU time per call over the same window.
//!
//! `cargo bench -p gateway-core --all-features --bench broker_roundtrip` (the brokers of
//! `.ci/run` starts, on their default ports; a broker that is down is skipped, and the Nest
//! rows need `npm ci --prefix tests/nest-peer`). Every cell is measured in `BENCH_ROUNDS`
//! rounds (default 3), the order of the services and of the clients alternating from round to
//! round; the last table gives each cell's medians with their spread (min-max), and the ratio
//! lines are ratios of medians. `BENCH_SECS` per cell (default 3), `BENCH_WORKERS` threads for
//! our client (default 1); `BENCH_TRANSPORTS` (e.g. `nats,rmq`) measures only those,
//! `BENCH_CALLERS` (e.g. `64`) those columns; `BENCH_SERVICE_WORKERS` sets our service's
//! runtime threads (default: one per core, as `#[tokio::main]`); `BENCH_NEST=0` leaves the Nest
//! client and service out (to profile ours); `BENCH_SERVICE_WRAP` runs our service under a
//! command (a profiler: `BENCH_SERVICE_WRAP="valgrind --tool=callgrind
//! --callgrind-out-file=svc.%p.out"`).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use gateway_core::prelude::*;
use gateway_core::transport::{
    mqtt::MqttServer, nats::NatsServer, redis::RedisServer, rmq::RmqServer,
};
use serde_json::{json, Value};

const CONCURRENCY: [usize; 2] = [1, 64];

/// The most runs of a Nest client cell whose client lost calls.
const ATTEMPTS: usize = 3;

/// `(transport, url, port)` of each broker.
const BROKERS: [(&str, &str, u16); 4] = [
    ("nats", "nats://127.0.0.1:4222", 4222),
    ("redis", "redis://127.0.0.1:6379", 6379),
    ("mqtt", "mqtt://127.0.0.1:1883", 1883),
    ("rmq", "amqp://guest:guest@127.0.0.1:5672", 5672),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    let timing = cell_timing(&args);
    let nest = std::env::var("BENCH_NEST").map_or(true, |v| v != "0")
        && peer_dir()
            .join("node_modules/@nestjs/microservices")
            .exists();
    let only = std::env::var("BENCH_TRANSPORTS").unwrap_or_default();
    // `BENCH_CALLERS` (e.g. `64`) runs only those columns.
    let concurrency: Vec<usize> = match std::env::var("BENCH_CALLERS") {
        Ok(list) => list
            .split([',', ' '])
            .filter_map(|c| c.parse().ok())
            .collect(),
        Err(_) => CONCURRENCY.to_vec(),
    };
    let rounds = rounds(&args);
    println!(
        "ClientProxy round trip through each broker on loopback ({} cores), {:?} per cell, {rounds} round(s)",
        num_cores(),
        timing.0
    );
    let mut rows = Vec::new();
    // Every cell once per round; from round to round the services' order and the clients'
    // alternate.
    for round in 0..rounds {
        print_round(round, rounds, "transport", "client → service");
        for (transport, url, port) in BROKERS {
            if !only.is_empty() && !only.split([',', ' ']).any(|t| t == transport) {
                continue;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if round == 0 {
                    println!(
                        "| {transport} | (broker not running on {port}: skipped) | | | | | | | |"
                    );
                }
                continue;
            }
            let ns = format!("bench{}x{}", std::process::id(), transport);
            // One service at a time: two subscribed to the same subject would both answer.
            for kind in in_order(&["ours", "nest"], round) {
                let service = match kind {
                    "ours" => ours_service(transport, url, &ns),
                    _ => match nest.then(|| nest_service(transport, url, &ns)).flatten() {
                        Some(service) => service,
                        None => continue,
                    },
                };
                for callers in concurrency.iter().copied() {
                    let pid = service.child.id();
                    for client in in_order(&["ours", "nest"], round) {
                        let row = match client {
                            "ours" => {
                                let pattern = json!({ "cmd": "echo", "ns": ns });
                                let options = client_options(transport, url, &format!("q-{ns}"));
                                ours_client(
                                    move || ClientProxy::new(options),
                                    pattern,
                                    callers,
                                    pid,
                                    timing,
                                )
                            }
                            _ if nest => {
                                let target = ["--broker", transport, url, &ns];
                                // Nest 11's MQTT client now and then unsubscribes from its
                                // reply topic with calls in flight, and they then wait forever
                                // (docs/benchmarks.md, "MQTT: the loop that woke itself"): such
                                // a run measures a stall, not the client. It is shown, then
                                // measured again, up to `ATTEMPTS` runs.
                                let mut row = nest_client(&target, callers, pid, timing);
                                for _ in 1..ATTEMPTS {
                                    if row.errors == 0 {
                                        break;
                                    }
                                    let label =
                                        format!("nest → {} (lost calls: run again)", service.name);
                                    print_row(transport, &label, callers, &row);
                                    row = nest_client(&target, callers, pid, timing);
                                }
                                row
                            }
                            _ => continue,
                        };
                        let label = format!("{client} → {}", service.name);
                        print_row(transport, &label, callers, &row);
                        rows.push(Cell {
                            label: transport,
                            client,
                            service: service.name,
                            callers,
                            row,
                        });
                    }
                }
            }
            if transport == "rmq" {
                delete_queue(url, &format!("q-{ns}"));
            }
        }
    }
    print_results(&rows, &concurrency);
    if !nest {
        println!("(Nest rows skipped: run `npm ci --prefix tests/nest-peer` to include them)");
    }
}

/// Our service on `transport`, in its own process (this bench, with `--serve`), under the
/// command `BENCH_SERVICE_WRAP` names if set (a profiler: `valgrind --tool=callgrind`).
fn ours_service(transport: &str, url: &str, ns: &str) -> Service {
    let own = std::env::current_exe().expect("own path");
    let wrapper = std::env::var("BENCH_SERVICE_WRAP").unwrap_or_default();
    let mut wrap = wrapper.split_whitespace();
    let mut command = match wrap.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(wrap).arg(own);
            command
        }
        None => Command::new(own),
    };
    let child = command
        .args(["--serve", transport, url, ns])
        .spawn()
        .expect("start our server");
    // A profiler starts the service slowly.
    let settle = if wrapper.trim().is_empty() { 700 } else { 5000 };
    std::thread::sleep(Duration::from_millis(settle));
    Service {
        name: "ours",
        port: 0,
        child,
    }
}

/// Nest's service on `transport` (`broker-service.js`), once it says it is subscribed.
fn nest_service(transport: &str, url: &str, ns: &str) -> Option<Service> {
    node_service("nest", 0, &["broker-service.js", transport, url, ns])
}

/// RabbitMQ queues are durable: remove the bench's.
fn delete_queue(url: &str, queue: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // The bench's broker, as its table above names it.
        debug_assert_eq!(url, "amqp://guest:guest@127.0.0.1:5672");
        let arguments =
            amqprs::connection::OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest");
        if let Ok(conn) = amqprs::connection::Connection::open(&arguments).await {
            if let Ok(channel) = conn.open_channel(None).await {
                let arguments = amqprs::channel::QueueDeleteArguments::new(queue);
                let _ = channel.queue_delete(arguments).await;
            }
            let _ = conn.close().await;
        }
    });
}

fn client_options(transport: &str, url: &str, queue: &str) -> ClientOptions {
    match transport {
        "nats" => ClientOptions::nats("BENCH", url),
        "redis" => ClientOptions::redis("BENCH", url),
        "mqtt" => ClientOptions::mqtt("BENCH", url),
        _ => ClientOptions::rmq("BENCH", url, queue),
    }
}

/// Our microservice on `transport`, in its own process, answering `{ cmd: "echo", ns }`.
fn serve(transport: &str, url: &str, ns: &str) {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("BENCH_SERVICE_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let router = MessageRouter::new().message(
            json!({ "cmd": "echo", "ns": ns }),
            |data: Value| async move { Ok::<_, RpcException>(data) },
        );
        let stop = gateway_core::signal::shutdown_signal();
        match transport {
            "nats" => {
                NatsServer::connect(url, router, Default::default())
                    .await
                    .expect("nats")
                    .serve_until(stop)
                    .await
            }
            "redis" => {
                RedisServer::connect(url, router)
                    .await
                    .expect("redis")
                    .serve_until(stop)
                    .await
            }
            "mqtt" => {
                MqttServer::connect(url, router)
                    .await
                    .expect("mqtt")
                    .serve_until(stop)
                    .await
            }
            _ => {
                RmqServer::connect(url, &format!("q-{ns}"), router)
                    .await
                    .expect("rmq")
                    .serve_until(stop)
                    .await
            }
        }
    });
}
