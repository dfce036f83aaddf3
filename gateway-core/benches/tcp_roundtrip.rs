//! Round-trip latency and calls per second of `ClientProxy::send` over loopback TCP, with 1
//! and 64 concurrent callers, against our `TcpServer` and against a real Nest microservice;
//! the Nest `ClientProxy` is measured against the same two services in the same run, so the
//! figures can be read as ratios. Client and service share the machine, so calls/s is capped
//! by the service as much as by the client; the client's CPU time per call (its own process,
//! user + system) is what tells the two clients apart.
//!
//! `cargo bench -p gateway-core --bench tcp_roundtrip` (needs `npm ci --prefix tests/nest-peer`
//! for the Nest rows; without it only our rows run). Each cell runs `BENCH_SECS` seconds
//! (default 3) after a 0.5 s warm-up, in `BENCH_ROUNDS` rounds (default 3; the order of the
//! services and of the clients alternating; the last table gives the medians and their
//! spread, and the ratio lines are ratios of medians); our client runs on `BENCH_WORKERS`
//! runtime threads (default 1, like Node's one). Without `--bench` (e.g. under `cargo test
//! --all-targets`) it does a short smoke run instead.

mod common;

use std::process::{Command, Stdio};

use common::*;

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
    let (duration, warmup) = cell_timing(&args);

    let rounds = rounds(&args);
    let ours = Service::ours();
    let nest = Service::nest();
    println!(
        "TCP ClientProxy round trip over loopback ({} cores), {:?} per cell, {rounds} round(s)",
        num_cores(),
        duration
    );
    let mut rows = Vec::new();
    // Every cell once per round; from round to round the services' order and the clients'
    // alternate.
    for round in 0..rounds {
        print_round(round, rounds, "client", "service");
        let services: Vec<&Service> = [Some(&ours), nest.as_ref()].into_iter().flatten().collect();
        for service in in_order(&services, round) {
            for callers in CONCURRENCY {
                let pid = service.child.id();
                for client in in_order(&["ours", "nest"], round) {
                    let row = match client {
                        "ours" => {
                            let addr = format!("127.0.0.1:{}", service.port);
                            let make = || ClientProxy::new(ClientOptions::tcp("BENCH", addr));
                            ours_client(make, json!("echo"), callers, pid, (duration, warmup))
                        }
                        _ if nest.is_some() => {
                            let port = service.port.to_string();
                            nest_client(&[&port], callers, pid, (duration, warmup))
                        }
                        _ => continue,
                    };
                    print_row(client, service.name, callers, &row);
                    rows.push(Cell {
                        label: "",
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
    if nest.is_none() {
        println!("(Nest rows skipped: run `npm ci --prefix tests/nest-peer` to include them)");
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
