//! Round-trip latency and calls per second of a unary gRPC call on loopback (`math.Math/Sum`
//! of Nest's suite, `examples/proto/math.proto`): our `ClientGrpc` against Nest's
//! `ClientGrpc` (`@grpc/grpc-js`) in the same run, both calling the same service, ours and
//! then Nest's (each in its own process), with 1 and 64 callers. Each row also gives the
//! service's CPU time per call over the same window.
//!
//! `cargo bench -p gateway-core --features grpc --bench grpc_roundtrip` (the Nest rows need
//! `npm ci --prefix tests/nest-peer`). `BENCH_ROUNDS` rounds (default 3; the order of the
//! services and of the clients alternating; the last table gives the medians and their spread,
//! the ratio lines are ratios of medians), `BENCH_SECS` per cell (default 3), `BENCH_WORKERS`
//! threads for our client (default 1, as Node's one); `BENCH_SERVICE_WORKERS` sets our
//! service's runtime threads (default: one per core); `BENCH_NEST=0` leaves Nest out.

mod common;

use std::process::Command;
use std::time::Duration;

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
    let rounds = rounds(&args);
    println!(
        "gRPC unary round trip (math.Math/Sum of [1, 2, 3, 4, 5]) on loopback ({} cores), {:?} per cell, {rounds} round(s)",
        num_cores(),
        timing.0
    );
    let mut rows = Vec::new();
    // Every cell once per round; from round to round the services' order and the clients'
    // alternate.
    for round in 0..rounds {
        print_round(round, rounds, "client", "service");
        for kind in in_order(&["ours", "nest"], round) {
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
                for client in in_order(&["ours", "nest"], round) {
                    let row = match client {
                        "ours" => ours_grpc_client(port, callers, pid, timing),
                        _ if nest => {
                            let target = ["--grpc", &format!("127.0.0.1:{port}")];
                            nest_client(&target, callers, pid, timing)
                        }
                        _ => continue,
                    };
                    print_row(client, service.name, callers, &row);
                    rows.push(Cell {
                        label: "grpc",
                        client,
                        service: service.name,
                        callers,
                        row,
                    });
                }
            }
        }
    }
    print_results(&rows, &CONCURRENCY);
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
    let url = format!("127.0.0.1:{port}");
    node_service("nest", port, &["suite/dist/grpc-math.service.js", &url])
}

/// Our `ClientGrpc` calling `Sum` from `callers` tasks, for `duration` after `warmup`.
fn ours_grpc_client(port: u16, callers: usize, service: u32, timing: (Duration, Duration)) -> Row {
    let setup = async move {
        let url = format!("127.0.0.1:{port}");
        ClientGrpc::new("BENCH", GrpcClientOptions::new(url)).get_service::<MathClient>()
    };
    let call = |client: MathClient| async move {
        let request = RequestSum {
            data: vec![1, 2, 3, 4, 5],
        };
        let reply = client.0.unary::<Sum, _>(request).await;
        reply.is_ok_and(|sum| sum.result == 15)
    };
    drive(setup, call, callers, service, timing)
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
