//! The seed gateway's HTTP contract, shared by `seed.rs` (TCP) and `seed_nats.rs` (NATS):
//! the same assertions whatever the transport and whichever services are behind it.

use std::net::SocketAddr;

use gateway_tests::*;
use serde_json::{json, Value};

pub const TOKEN: &str = "s3cret-token";
pub async fn get(app: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, _, body) = http_request(app, "GET", path, &headers, "").await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// Every seed route, then the orders service going away (`stop_orders`).
pub async fn check_seed_gateway(
    addr: SocketAddr,
    stop_orders: impl std::future::Future<Output = ()>,
) {
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
