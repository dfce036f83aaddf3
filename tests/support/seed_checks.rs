// Each test that includes this module uses a part of it.
#![allow(dead_code)]

//! The seed gateway's HTTP contract, shared by `seed.rs` (TCP), `seed_nats.rs` (NATS) and
//! `custom_transport.rs`: the seed's own answers, byte for byte, whatever the transport and
//! whichever services are behind it.

use std::net::SocketAddr;

use gateway_tests::*;
use serde_json::{json, Value};

pub const TOKEN: &str = "s3cret-token";

/// The seed's profile of user 42, as its curl prints it (compact: Nest sends no spaces).
pub const SEED_PROFILE: &str = r#"{"id":"42","name":"Ada Lovelace","orderCount":2,"orders":[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]}"#;

pub async fn get(app: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let (status, body) = get_text(app, path, token).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The status and the body's exact text.
pub async fn get_text(app: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let (status, _, body) = http_request(app, "GET", path, &headers, "").await;
    (status, body)
}

/// `POST /orders` with `body`: the status and the body's exact text.
pub async fn post_order(app: SocketAddr, body: &str) -> (u16, String) {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, _, text) = http_request(app, "POST", "/orders", &headers, body).await;
    (status, text)
}

/// Every seed route, then the orders service going away (`stop_orders`); with `health`, the
/// example gateway's public health probes too.
pub async fn check_seed_gateway(
    addr: SocketAddr,
    health: bool,
    stop_orders: impl std::future::Future<Output = ()>,
) {
    // The seed's AuthGuard at the edge.
    let unauthorized =
        r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#;
    for token in [None, Some("wrong"), Some("")] {
        assert_eq!(
            get_text(addr, "/users/42", token).await,
            (401, unauthorized.to_owned()),
            "{token:?}"
        );
    }

    // The routes, byte for byte.
    assert_eq!(
        get_text(addr, "/users/42", Some(TOKEN)).await,
        (200, r#"{"id":"42","name":"Ada Lovelace"}"#.to_owned())
    );
    assert_eq!(
        get_text(addr, "/users/42/profile", Some(TOKEN)).await,
        (200, SEED_PROFILE.to_owned())
    );
    // A service's RpcException({ statusCode, message }) is that HTTP error, as in Nest.
    assert_eq!(
        get(addr, "/users/7", Some(TOKEN)).await,
        (
            404,
            json!({ "statusCode": 404, "message": "User 7 not found" })
        )
    );
    // The id is a string: anything goes downstream, as in the seed.
    assert_eq!(get(addr, "/users/abc", Some(TOKEN)).await.0, 404);
    // The body goes downstream as it came; the service's reply comes back as it was sent.
    assert_eq!(
        post_order(addr, r#"{"userId":"42","items":["quill"]}"#).await,
        (201, r#"{"id":"o-3","items":["quill"]}"#.to_owned())
    );
    let (status, profile) = get(addr, "/users/42/profile", Some(TOKEN)).await;
    assert_eq!((status, &profile["orderCount"]), (200, &json!(3)));
    let (status, body) = post_order(addr, r#"{"userId":"42","items":"#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(get(addr, "/orders/1", Some(TOKEN)).await.0, 404);

    if health {
        // Public (no token), terminus's body: both services answered a round trip.
        let (status, body) = get(addr, "/health", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ok");
        assert_eq!(body["info"]["users"]["status"], "up");
        assert_eq!(body["info"]["orders"]["status"], "up");
        assert_eq!(body["error"], json!({}));
        assert_eq!(get(addr, "/health/live", None).await.0, 200);
    }

    // A service that goes away: a fast 503 naming it.
    stop_orders.await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    if health {
        // Readiness fails and says which; liveness holds.
        let (status, body) = get(addr, "/health", None).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["info"]["users"]["status"], "up");
        assert_eq!(body["error"]["orders"]["status"], "down", "{body}");
        assert_eq!(body["details"]["orders"]["status"], "down");
        assert_eq!(get(addr, "/health/live", None).await.0, 200);
    }
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
}

/// The typed gateway: the same answers, the verified user forwarded downstream, typed bodies,
/// and partial answers when the orders service goes away (`stop_orders`).
pub async fn check_typed_gateway(
    addr: SocketAddr,
    stop_orders: impl std::future::Future<Output = ()>,
) {
    assert_eq!(
        get_text(addr, "/users/42", Some(TOKEN)).await,
        (200, r#"{"id":"42","name":"Ada Lovelace"}"#.to_owned())
    );
    assert_eq!(
        get_text(addr, "/users/42/profile", Some(TOKEN)).await,
        (200, SEED_PROFILE.to_owned())
    );
    assert_eq!(
        post_order(addr, r#"{"userId":"42","items":["quill"]}"#).await,
        (
            201,
            r#"{"id":"o-3","items":["quill"],"placedBy":"verified-from-token"}"#.to_owned()
        ),
        "the verified user reached the orders service in the payload"
    );
    let (status, body) = post_order(addr, r#"{"userId":"42"}"#).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("missing field `items`"), "{body}");

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

    // The orders service goes away: the partial profile answers without the orders.
    stop_orders.await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(get(addr, "/users/42/profile", Some(TOKEN)).await.0, 503);
    let (status, head, body) =
        http_request(addr, "GET", "/users/42/profile?partial=true", &auth, "").await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (
            200,
            json!({ "id": "42", "name": "Ada Lovelace", "orderCount": null, "orders": null, "degraded": ["orders"] })
        )
    );
    assert!(head.contains(&("x-gateway-completed".into(), "false".into())));
}
