//! Round-trip latency and calls per second of a unary gRPC call on loopback (`math.Math/Sum`
//! of Nest's suite, `examples/proto/math.proto`): our `ClientGrpc` against Nest's
//! `ClientGrpc` (`@grpc/grpc-js`) in the same run, both calling the same service, ours and
//! then Nest's (each in its own process), with 1 and 64 callers. Each row also gives the
//! service's CPU time per call over the same window.
//!
//! `cargo bench -p gateway-core --features grpc --bench grpc_roundtrip` (the Nest rows need
//! `npm ci --prefix tests/nest-peer`). `BENCH_SECS` per cell (default 3), `BENCH_WORKERS`
//! threads for our client (default 1, as Node's one); `BENCH_SERVICE_WORKERS` sets our
//! service's runtime threads (default: one per core); `BENCH_NEST=0` leaves Nest out.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use gateway_core::grpc::{
    ClientGrpc, GrpcChannel, GrpcClientOptions, GrpcMethod, GrpcServer, GrpcServerOptions,
    GrpcService,
};
use gateway_core::server::{MessageRouter, RpcException};

const CONCURRENCY: [usize; 2] = [1, 64];

/// `math.RequestSum`, as `gateway-build` generates it from `math.proto`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RequestSum {
    #[prost(int32, repeated, tag = "1")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data: Vec<i32>,
}

/// `math.SumResult`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SumResult {
    #[prost(int32, tag = "1")]
    result: i32,
}

/// `rpc Sum (RequestSum) returns (SumResult)` of `math.Math`.
struct Sum;

impl GrpcMethod for Sum {
    type Request = RequestSum;
    type Response = SumResult;
    const SERVICE: &'static str = "Math";
    const METHOD: &'static str = "Sum";
    const PATH: &'static str = "/math.Math/Sum";
    const CLIENT_STREAMING: bool = false;
    const SERVER_STREAMING: bool = false;
}

/// Nest's pattern for `@GrpcMethod('Math') sum`.
const ROUTE: &str = r#"{"rpc":"Sum","service":"Math","streaming":"no_stream"}"#;

#[derive(Clone)]
struct MathClient(GrpcChannel);

impl GrpcService for MathClient {
    const NAME: &'static str = "math.Math";
    fn from_channel(channel: GrpcChannel) -> Self {
        MathClient(channel)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(&args[i + 1]);
    }
    let timing = cell_timing(&args);
    let nest = std::env::var("BENCH_NEST").map_or(true, |v| v != "0")
        && peer_dir().join("node_modules/@grpc/grpc-js").exists()
        && compile_peer();
    println!(
        "gRPC unary round trip (math.Math/Sum of [1, 2, 3, 4, 5]) on loopback ({} cores), {:?} per cell",
        num_cores(),
        timing.0
    );
    print_header("client", "service");
    let mut rows = Vec::new();
    for kind in ["ours", "nest"] {
        let port = free_port();
        let service = match kind {
            "ours" => ours_service(port),
            _ => match nest.then(|| nest_service(port)).flatten() {
                Some(service) => service,
                None => continue,
            },
        };
        let pid = service.child.id();
        for callers in CONCURRENCY {
            let row = ours_grpc_client(port, callers, pid, timing);
            print_row("ours", service.name, callers, &row);
            rows.push(Cell {
                label: "grpc",
                client: "ours",
                service: service.name,
                callers,
                row,
            });
            if nest {
                let target = ["--grpc", &format!("127.0.0.1:{port}")];
                let row = nest_client(&target, callers, pid, timing);
                print_row("nest", service.name, callers, &row);
                rows.push(Cell {
                    label: "grpc",
                    client: "nest",
                    service: service.name,
                    callers,
                    row,
                });
            }
        }
    }
    print_ratios(&rows, &CONCURRENCY);
    if !nest {
        println!("(Nest rows skipped: run `npm ci --prefix tests/nest-peer` to include them)");
    }
}

/// The Nest peers compiled by the pinned `tsc` (`suite/dist`), as the tests compile them.
fn compile_peer() -> bool {
    Command::new("node")
        .args([
            "node_modules/typescript/bin/tsc",
            "-p",
            "suite/tsconfig.json",
            "--outDir",
            "suite/dist",
        ])
        .current_dir(peer_dir())
        .status()
        .is_ok_and(|s| s.success())
}

/// Our `math.Math` service (`Sum`), in its own process (this bench, with `--serve`).
fn ours_service(port: u16) -> Service {
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

/// Nest's `math.Math` service (`grpc-math.service.ts`), once it says it listens.
fn nest_service(port: u16) -> Option<Service> {
    let mut child = Command::new("node")
        .args([
            "suite/dist/grpc-math.service.js",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(peer_dir())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take()?);
    stdout.read_line(&mut line).ok()?;
    if !line.starts_with("ready") {
        let _ = child.kill();
        return None;
    }
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Some(Service {
        name: "nest",
        port,
        child,
    })
}

/// Our `ClientGrpc` calling `Sum` from `callers` tasks, for `duration` after `warmup`.
fn ours_grpc_client(
    port: u16,
    callers: usize,
    service: u32,
    (duration, warmup): (Duration, Duration),
) -> Row {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let client: MathClient =
            ClientGrpc::new("BENCH", GrpcClientOptions::new(format!("127.0.0.1:{port}")))
                .get_service();
        let start = Instant::now() + warmup;
        let end = start + duration;
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 16);
                    let mut errors = 0u64;
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            break;
                        }
                        let request = RequestSum {
                            data: vec![1, 2, 3, 4, 5],
                        };
                        let ok = client
                            .0
                            .unary::<Sum, _>(request)
                            .await
                            .is_ok_and(|r| r.result == 15);
                        if t0 >= start {
                            latencies.push(t0.elapsed());
                            errors += u64::from(!ok);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        tokio::time::sleep_until(start.into()).await;
        let (cpu_start, service_start) = (own_cpu_us(), process_cpu_us(service));
        tokio::time::sleep_until(end.into()).await;
        let cpu = own_cpu_us() - cpu_start;
        let service_cpu = process_cpu_us(service) - service_start;
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (l, e) = task.await.expect("caller");
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
            cpu_us_per_call: cpu / latencies.len().max(1) as f64,
            service_cpu_us_per_call: service_cpu / latencies.len().max(1) as f64,
        }
    })
}

/// Our `math.Math` service on `port`: `Sum` through the router, as `#[grpc_method]` registers it.
fn serve(port: &str) {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("BENCH_SERVICE_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let router = MessageRouter::new()
            .message(
                gateway_core::pattern::Pattern::from_static(ROUTE),
                |req: RequestSum| async move {
                    Ok::<_, RpcException>(SumResult {
                        result: req.data.iter().sum(),
                    })
                },
            )
            .grpc_method::<Sum>(ROUTE);
        let addr = format!("127.0.0.1:{port}");
        GrpcServer::bind(&addr, router, GrpcServerOptions::default())
            .await
            .expect("bind")
            .serve_until(gateway_core::signal::shutdown_signal())
            .await;
    });
}
