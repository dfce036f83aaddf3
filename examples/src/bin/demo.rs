//! The one command a newcomer runs: the users service (TCP 3001), the orders service (TCP
//! 3002) and the gateway (HTTP 3000) in one process, with the same environment variables as
//! the separate binaries (`TRANSPORT=nats` runs the services and the gateway's clients over
//! NATS instead, `TRANSPORT=grpc` over gRPC on the same ports). Prints the curl lines to try;
//! Ctrl-C stops everything gracefully.

use std::hash::{BuildHasher, Hasher};

use examples::*;
use gateway_core::prelude::*;

/// A token for this run when `GATEWAY_TOKEN` is unset (std's hasher keys are random per
/// process).
fn made_up_token() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("demo-{:016x}", hasher.finish())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let config = config();
    let users_port = port(&config, "USERS_SERVICE_PORT", 3001);
    let orders_port = port(&config, "ORDERS_SERVICE_PORT", 3002);
    let gateway_port = port(&config, "GATEWAY_PORT", 3000);
    let token = config
        .get_str("GATEWAY_TOKEN")
        .filter(|t| !t.is_empty())
        .map_or_else(made_up_token, str::to_owned);

    let users = NestFactory::create_microservice::<UsersModule>(service_transport(
        "USERS_SERVICE",
        3001,
        "users",
    ))
    .await?
    .start()
    .await?;
    let orders = NestFactory::create_microservice::<OrdersModule>(service_transport(
        "ORDERS_SERVICE",
        3002,
        "orders",
    ))
    .await?
    .start()
    .await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let users_task = tokio::spawn(users.serve_until(until_stopped(stopped.clone())));
    let orders_task = tokio::spawn(orders.serve_until(until_stopped(stopped)));

    #[allow(unused_mut)]
    let mut app = gateway::create(&token).await?;
    #[cfg(feature = "metrics")]
    app.enable_metrics()?;
    let listener = gateway_core::app::bind_listener(format!("0.0.0.0:{gateway_port}")).await?;

    println!();
    match nats_url(&config) {
        Some(url) => println!("Gateway on http://localhost:{gateway_port}; users-service and orders-service through NATS at {url}."),
        None if grpc(&config) => println!("Gateway on http://localhost:{gateway_port}, users-service on gRPC :{users_port}, orders-service on gRPC :{orders_port}."),
        None => println!("Gateway on http://localhost:{gateway_port}, users-service on :{users_port}, orders-service on :{orders_port}."),
    }
    println!("Token for this run: GATEWAY_TOKEN={token}");
    println!();
    println!("  export GATEWAY_TOKEN={token}");
    println!("  curl -H \"Authorization: Bearer $GATEWAY_TOKEN\" http://localhost:{gateway_port}/users/42/profile");
    println!("  curl -H \"Authorization: Bearer $GATEWAY_TOKEN\" http://localhost:{gateway_port}/users/42");
    println!(
        "  curl -H \"Authorization: Bearer $GATEWAY_TOKEN\" -H 'Content-Type: application/json' \\"
    );
    println!("       -d '{{\"userId\":\"42\",\"items\":[\"quill\"]}}' http://localhost:{gateway_port}/orders");
    println!("  curl http://localhost:{gateway_port}/users/42/profile     # 401 without the token");
    println!();
    println!("Operations (public, no token):");
    println!("  http://localhost:{gateway_port}/docs                 # Swagger UI (the OpenAPI document: /docs-json)");
    println!("  curl http://localhost:{gateway_port}/health         # readiness: a round trip to each service (503 when one is down)");
    println!("  curl http://localhost:{gateway_port}/health/live    # liveness");
    #[cfg(feature = "metrics")]
    println!("  curl http://localhost:{gateway_port}/metrics        # Prometheus: requests, latencies, calls per service and pattern");
    println!("Every request, downstream call and handled message is a log line with its trace id when it ends");
    println!("(LOG_FORMAT=json for JSON lines; send a W3C traceparent header to continue your own trace).");
    println!();
    println!("Ctrl-C stops everything.");

    app.serve(listener, shutdown_signal()).await?;
    let _ = stop.send(true);
    let _ = tokio::join!(users_task, orders_task);
    Ok(())
}
