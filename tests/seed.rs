//! The seed system end to end: users-service, orders-service and the gateway from `examples`,
//! over real sockets, with the environment variables the binaries read.

use std::net::SocketAddr;

use examples::{gateway, orders_service, users_service};
use gateway_tests::*;
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-token";

async fn get(app: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, _, body) = http_request(app, "GET", path, &headers, "").await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Boots the gateway against the services on the given ports, as the binary does (it reads
/// `USERS_SERVICE_PORT` and `ORDERS_SERVICE_PORT` at boot).
async fn start_gateway(users_port: u16, orders_port: u16) -> SocketAddr {
    std::env::set_var("USERS_SERVICE_PORT", users_port.to_string());
    std::env::set_var("ORDERS_SERVICE_PORT", orders_port.to_string());
    let app = gateway::create(TOKEN).await.expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

/// Every seed route, then the orders service going away (`stop_orders`).
async fn check_seed_gateway(addr: SocketAddr, stop_orders: impl std::future::Future<Output = ()>) {
    // Auth at the edge.
    let unauthorized = json!({ "message": "Invalid or missing token", "error": "Unauthorized", "statusCode": 401 });
    assert_eq!(
        get(addr, "/users/42", None).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        get(addr, "/users/42", Some("wrong")).await,
        (401, unauthorized)
    );

    // The routes.
    assert_eq!(
        get(addr, "/users/42", Some(TOKEN)).await,
        (200, json!({ "id": 42, "name": "Ada Lovelace" }))
    );
    assert_eq!(
        get(addr, "/users/7", Some(TOKEN)).await,
        (
            404,
            json!({ "statusCode": 404, "message": "User 7 not found" })
        )
    );
    assert_eq!(
        get(addr, "/users/abc", Some(TOKEN)).await,
        (
            400,
            json!({ "message": "Validation failed (numeric string is expected)", "error": "Bad Request", "statusCode": 400 })
        )
    );
    let (status, profile) = get(addr, "/users/42/profile", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(profile["name"], "Ada Lovelace");
    assert_eq!(profile["orderCount"], 2);
    assert_eq!(
        profile["orders"][0],
        json!({ "id": 1, "userId": 42, "item": "Analytical Engine", "quantity": 1 })
    );

    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = http_request(
        addr,
        "POST",
        "/orders",
        &headers,
        r#"{"userId":42,"item":"Difference Engine"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "id": 3, "userId": 42, "item": "Difference Engine", "quantity": 1, "placedBy": "api-client" }),
        "the verified user reached the orders service in the payload"
    );
    let (status, _, body) =
        http_request(addr, "POST", "/orders", &headers, r#"{"item":"x"}"#).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = http_request(
        addr,
        "POST",
        "/orders",
        &headers,
        r#"{"userId":42,"item":" "}"#,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            r#"{"statusCode":400,"message":"item must not be empty"}"#
        )
    );
    assert_eq!(get(addr, "/orders/1", Some(TOKEN)).await.0, 404);

    // ?partial=true with every service up: the same profile, marked complete.
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let (status, head, body) =
        http_request(addr, "GET", "/users/42/profile?partial=true", &auth, "").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    let (_, full) = get(addr, "/users/42/profile", Some(TOKEN)).await;
    assert_eq!((status, &body), (200, &full), "the same profile");
    assert!(body.get("degraded").is_none());
    assert!(head.contains(&("x-gateway-completed".into(), "true".into())));

    // A service that goes away: a fast 503 naming it.
    stop_orders.await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        get(addr, "/users/42/profile", Some(TOKEN)).await,
        (
            503,
            json!({ "message": "ORDERS_SERVICE is unavailable", "error": "Service Unavailable", "statusCode": 503 })
        )
    );
    assert_eq!(
        get(addr, "/users/42", Some(TOKEN)).await.0,
        200,
        "the users route still works"
    );
    // ... and the partial profile answers without the orders, saying so.
    let (status, head, body) =
        http_request(addr, "GET", "/users/42/profile?partial=true", &auth, "").await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (
            200,
            json!({ "id": 42, "name": "Ada Lovelace", "orderCount": null, "orders": null, "degraded": ["orders"] })
        )
    );
    assert!(head.contains(&("x-gateway-completed".into(), "false".into())));
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
    check_seed_gateway(addr, async move { stop.kill() }).await;

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
        check_seed_gateway(addr, async move { orders.kill().await }).await;
    }
}
