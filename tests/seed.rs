//! The seed system end to end: users-service, orders-service and the gateway from `examples`,
//! over real sockets, with the environment variables the binaries read.

use std::net::SocketAddr;

#[path = "support/seed_checks.rs"]
mod seed_checks;

use examples::{gateway, orders_service, typed_gateway, users_service};
use gateway_tests::*;
use seed_checks::{check_seed_gateway, check_typed_gateway, get, TOKEN};
use serde_json::json;

/// Boots the gateway against the services on the given ports, as the binary does (it reads
/// `USERS_SERVICE_PORT` and `ORDERS_SERVICE_PORT` at boot).
async fn start_gateway(users_port: u16, orders_port: u16) -> SocketAddr {
    start_any_gateway(users_port, orders_port, false).await
}

/// The seed's gateway, or (`typed`) the typed one.
async fn start_any_gateway(users_port: u16, orders_port: u16, typed: bool) -> SocketAddr {
    std::env::set_var("USERS_SERVICE_PORT", users_port.to_string());
    std::env::set_var("ORDERS_SERVICE_PORT", orders_port.to_string());
    let app = if typed {
        typed_gateway::create(TOKEN).await
    } else {
        gateway::create(TOKEN).await
    }
    .expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_gateway_answers_the_same_in_front_of_rust_and_nest_services() {
    init_tracing();
    // Our services.
    let users = users_service("127.0.0.1:0").await.unwrap();
    let orders = orders_service("127.0.0.1:0").await.unwrap();
    let (users_port, orders_port) = (users.local_addr().port(), orders.local_addr().port());
    let stop = orders.shutdown_handle();
    tokio::spawn(users.serve());
    tokio::spawn(orders.serve());
    let addr = start_gateway(users_port, orders_port).await;
    check_seed_gateway(addr, true, async move { stop.kill() }).await;

    // The typed gateway, in front of fresh services.
    let users = users_service("127.0.0.1:0").await.unwrap();
    let orders = orders_service("127.0.0.1:0").await.unwrap();
    let (users_port, orders_port) = (users.local_addr().port(), orders.local_addr().port());
    let stop = orders.shutdown_handle();
    tokio::spawn(users.serve());
    tokio::spawn(orders.serve());
    let addr = start_any_gateway(users_port, orders_port, true).await;
    check_typed_gateway(addr, async move { stop.kill() }).await;

    // A service that accepts and never answers: 504 at the deadline, not a hang.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let users = users_service("127.0.0.1:0").await.unwrap();
    let users_port = users.local_addr().port();
    tokio::spawn(users.serve());
    std::env::set_var("SERVICE_TIMEOUT_MS", "300");
    let addr = start_gateway(users_port, silent_port).await;
    std::env::remove_var("SERVICE_TIMEOUT_MS");
    let started = std::time::Instant::now();
    assert_eq!(
        get(addr, "/users/42/profile", Some(TOKEN)).await,
        (
            504,
            json!({ "message": "ORDERS_SERVICE did not answer within 300 ms", "error": "Gateway Timeout", "statusCode": 504 })
        )
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // A frozen service fails the readiness probe within its second, named; liveness holds.
    let started = std::time::Instant::now();
    let (status, body) = get(addr, "/health", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["info"]["users"]["status"], "up", "{body}");
    assert_eq!(body["error"]["orders"]["status"], "down", "{body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(get(addr, "/health/live", None).await.0, 200);

    // The same gateway in front of the NestJS services (the migration scenario).
    if !nest_available(
        "the_seed_gateway_answers_the_same_in_front_of_rust_and_nest_services (Nest part)",
    ) {
        return;
    }
    for version in Nest::ALL {
        eprintln!("our gateway in front of Nest {version:?} services");
        let (users_port, orders_port) = (free_port(), free_port());
        let _users = spawn_node_ready(
            version,
            "seed-services.js",
            &["users", &users_port.to_string()],
        )
        .await;
        let mut orders = spawn_node_ready(
            version,
            "seed-services.js",
            &["orders", &orders_port.to_string()],
        )
        .await;
        let addr = start_gateway(users_port, orders_port).await;
        check_seed_gateway(addr, true, async move { orders.kill().await }).await;
    }
}
