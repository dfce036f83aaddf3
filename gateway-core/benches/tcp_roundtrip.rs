//! Round-trip latency and calls per second of `ClientProxy::send` over loopback TCP, with 1
//! and 64 concurrent callers, against our `TcpServer` and against a real Nest microservice;
//! the Nest `ClientProxy` is measured against the same two services in the same run, so the
//! figures can be read as ratios.
//!
//! `cargo bench -p gateway-core --bench tcp_roundtrip` (needs `npm ci --prefix tests/nest-peer`
//! for the Nest rows; without it only our rows run). Each cell runs `BENCH_SECS` seconds
//! (default 3) after a 0.5 s warm-up. Without `--bench` (e.g. under `cargo test
//! --all-targets`) it does a short smoke run instead.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway_core::prelude::*;
use serde_json::{json, Value};

const CONCURRENCY: [usize; 2] = [1, 64];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "--serve")
        .map(|i| &args[i + 1])
    {
        return serve(port.parse().expect("--serve <port>"));
    }
    let full = args.iter().any(|a| a == "--bench");
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let (duration, warmup) = if full {
        (Duration::from_secs_f64(secs), Duration::from_millis(500))
    } else {
        (Duration::from_millis(200), Duration::from_millis(50))
    };

    let ours = Service::ours();
    let nest = Service::nest();
    println!(
        "TCP ClientProxy round trip over loopback ({} cores), {:?} per cell",
        num_cores(),
        duration
    );
    println!("| client | service | callers | calls/s | p50 µs | p99 µs | errors |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for service in [Some(&ours), nest.as_ref()].into_iter().flatten() {
        for callers in CONCURRENCY {
            let row = ours_client(service.port, callers, duration, warmup);
            print_row("ours", service.name, callers, &row);
            rows.push(("ours", service.name, callers, row));
            if nest.is_some() {
                let row = nest_client(service.port, callers, duration, warmup);
                print_row("nest", service.name, callers, &row);
                rows.push(("nest", service.name, callers, row));
            }
        }
    }
    for service in ["ours", "nest"] {
        for callers in CONCURRENCY {
            let find = |client| {
                rows.iter()
                    .find(|r| r.0 == client && r.1 == service && r.2 == callers)
            };
            if let (Some(o), Some(n)) = (find("ours"), find("nest")) {
                println!(
                    "ratio ours/nest-client calls/s ({service} service, {callers} callers): {:.2}",
                    o.3.calls_per_sec / n.3.calls_per_sec
                );
            }
        }
    }
    if nest.is_none() {
        println!("(Nest rows skipped: run `npm ci --prefix tests/nest-peer` to include them)");
    }
}

struct Row {
    calls_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

fn print_row(client: &str, service: &str, callers: usize, row: &Row) {
    println!(
        "| {client} | {service} | {callers} | {:.0} | {:.0} | {:.0} | {} |",
        row.calls_per_sec, row.p50_us, row.p99_us, row.errors
    );
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A service process, killed on drop.
struct Service {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/nest-peer")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port")
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "service on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Service {
    fn ours() -> Service {
        let port = free_port();
        let child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve", &port.to_string()])
            .spawn()
            .expect("start our server");
        wait_for_port(port);
        Service {
            name: "ours",
            port,
            child,
        }
    }

    fn nest() -> Option<Service> {
        if !peer_dir()
            .join("node_modules/@nestjs/microservices")
            .exists()
        {
            return None;
        }
        let port = free_port();
        let child = Command::new("node")
            .args(["service.js", &port.to_string()])
            .current_dir(peer_dir())
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        wait_for_port(port);
        Some(Service {
            name: "nest",
            port,
            child,
        })
    }
}

/// Our microservice, in its own process like Nest's, with the same `echo` handler.
fn serve(port: u16) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let router = MessageRouter::new().message("echo", |data: Value| async move {
            Ok::<_, RpcException>(data)
        });
        let server = TcpServer::bind(format!("127.0.0.1:{port}"), router)
            .await
            .expect("bind");
        server
            .serve_until(gateway_core::signal::shutdown_signal())
            .await;
    });
}

fn ours_client(port: u16, callers: usize, duration: Duration, warmup: Duration) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let client = ClientProxy::new(ClientOptions::tcp("BENCH", format!("127.0.0.1:{port}")));
        client.connect().await.expect("connect");
        let payload = json!({ "id": 42, "name": "Ada Lovelace", "tags": ["a", "b"] });
        let start = Instant::now() + warmup;
        let end = start + duration;
        let workers: Vec<_> = (0..callers)
            .map(|_| {
                let client = client.clone();
                let payload = payload.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 16);
                    let mut errors = 0u64;
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            break;
                        }
                        let ok = client.send::<Value>("echo", &payload).await.is_ok();
                        if t0 >= start {
                            latencies.push(t0.elapsed());
                            errors += u64::from(!ok);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        let mut latencies = Vec::new();
        let mut errors = 0;
        for worker in workers {
            let (l, e) = worker.await.expect("worker");
            latencies.extend(l);
            errors += e;
        }
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        Row {
            calls_per_sec: latencies.len() as f64 / duration.as_secs_f64(),
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            errors,
        }
    })
}

fn nest_client(port: u16, callers: usize, duration: Duration, warmup: Duration) -> Row {
    let out = Command::new("node")
        .args([
            "bench-client.js",
            &port.to_string(),
            &callers.to_string(),
            &duration.as_millis().to_string(),
            &warmup.as_millis().to_string(),
        ])
        .current_dir(peer_dir())
        .output()
        .expect("run node bench-client.js");
    assert!(out.status.success(), "bench-client.js failed");
    let r: Value = serde_json::from_slice(&out.stdout).expect("bench-client.js prints JSON");
    let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
    Row {
        calls_per_sec: f("calls") / f("seconds"),
        p50_us: f("p50_us"),
        p99_us: f("p99_us"),
        errors: r["errors"].as_u64().unwrap_or(0),
    }
}
