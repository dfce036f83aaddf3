//! Round-trip latency and calls per second of `ClientProxy::send` through each broker on
//! loopback (NATS, Redis, MQTT, RabbitMQ), ours against the Nest `ClientProxy` in the same
//! run, both calling the same service (ours, in its own process), with 1 and 64 callers.
//!
//! `cargo bench -p gateway-core --all-features --bench broker_roundtrip` (the brokers of
//! `.ci/run` starts, on their default ports; a broker that is down is skipped, and the
//! Nest rows need `npm ci --prefix tests/nest-peer`). `BENCH_SECS` per cell (default 3),
//! `BENCH_WORKERS` threads for our client (default 1).

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
    let (duration, warmup) = cell_timing(&args);
    let nest = peer_dir()
        .join("node_modules/@nestjs/microservices")
        .exists();
    println!(
        "ClientProxy round trip through each broker on loopback ({} cores), {:?} per cell; the service is ours",
        num_cores(),
        duration
    );
    print_header("transport", "client");
    let mut ratios = Vec::new();
    for (transport, url, port) in BROKERS {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            println!("| {transport} | (broker not running on {port}: skipped) | | | | | | |");
            continue;
        }
        let ns = format!("bench{}x{}", std::process::id(), transport);
        let child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve", transport, url, &ns])
            .spawn()
            .expect("start our server");
        let _service = Service {
            name: "ours",
            port,
            child,
        };
        std::thread::sleep(Duration::from_millis(700));
        for callers in CONCURRENCY {
            let pattern = json!({ "cmd": "echo", "ns": ns });
            let queue = format!("q-{ns}");
            let make = || ClientProxy::new(client_options(transport, url, &queue));
            let ours = ours_client(make, pattern, callers, duration, warmup);
            print_row(transport, "ours", callers, &ours);
            if nest {
                let theirs = nest_client(
                    &["--broker", transport, url, &ns],
                    callers,
                    duration,
                    warmup,
                );
                print_row(transport, "nest", callers, &theirs);
                ratios.push((transport, callers, ours, theirs));
            }
        }
        if transport == "rmq" {
            delete_queue(url, &format!("q-{ns}"));
        }
    }
    for (transport, callers, ours, theirs) in ratios {
        println!(
            "ratio ours/nest-client calls/s ({transport}, {callers} callers): {:.2}",
            ours.calls_per_sec / theirs.calls_per_sec
        );
        let cpu = ours.cpu_us_per_call / theirs.cpu_us_per_call;
        if cpu.is_finite() {
            println!(
                "ratio ours/nest-client cpu-per-call ({transport}, {callers} callers): {cpu:.2}"
            );
        }
    }
    if !nest {
        println!("(Nest rows skipped: run `npm ci --prefix tests/nest-peer` to include them)");
    }
}

/// RabbitMQ queues are durable: remove the bench's.
fn delete_queue(url: &str, queue: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let properties = lapin::ConnectionProperties::default();
        if let Ok(conn) = lapin::Connection::connect(url, properties).await {
            if let Ok(channel) = conn.create_channel().await {
                let options = lapin::options::QueueDeleteOptions::default();
                let _ = channel.queue_delete(queue.into(), options).await;
            }
            let _ = conn.close(200, "done".into()).await;
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
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
