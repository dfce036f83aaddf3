//! The seed's own TypeScript as the contract: its gateway (`app.module.ts`, `main.ts`,
//! `gateway.controller.ts`, `auth.guard.ts`, compiled by the pinned `tsc`) and users and
//! orders services written in TypeScript as a Nest team writes them, on Nest 11 and 12.
//!
//! - Our gateway and the seed's Nest gateway, each in front of its own pair of the same Nest
//!   services, get the same requests: the same status, content type and body, byte for byte.
//! - The seed's Nest gateway in front of our services answers as in front of its own.

use std::net::SocketAddr;

use examples::{gateway, orders_service, users_service};
use gateway_tests::*;

const TOKEN: &str = "seed-nest-token";

/// One request and what came back.
type Exchange = (u16, Option<String>, String);

/// A request: method, path, headers, body.
type Request = (&'static str, String, Vec<(&'static str, String)>, String);

/// The requests both gateways get, in order (a created order changes later answers).
fn requests() -> Vec<Request> {
    let auth = || ("Authorization", format!("Bearer {TOKEN}"));
    let json = || ("Content-Type", "application/json".to_owned());
    let long = "é😀x".repeat(100_000);
    vec![
        ("GET", "/users/42".into(), vec![auth()], String::new()),
        (
            "GET",
            "/users/42/profile".into(),
            vec![auth()],
            String::new(),
        ),
        ("GET", "/users/7".into(), vec![auth()], String::new()),
        // The Nest users service throws an Error (not an RpcException) for this id.
        ("GET", "/users/boom".into(), vec![auth()], String::new()),
        (
            "GET",
            "/users/7/profile".into(),
            vec![auth()],
            String::new(),
        ),
        ("GET", "/users/42".into(), vec![], String::new()),
        (
            "GET",
            "/users/42".into(),
            vec![("Authorization", "Bearer wrong".into())],
            String::new(),
        ),
        (
            "GET",
            "/users/42".into(),
            vec![("Authorization", TOKEN.into())],
            String::new(),
        ),
        ("GET", "/nope".into(), vec![auth()], String::new()),
        ("GET", "/nope".into(), vec![], String::new()),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42","items":["quill"]}"#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42","items":["thé","😀 astral","\u0000 nul"],"extra":{"kept":true}}"#
                .into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            format!(r#"{{"userId":"42","items":["{long}"]}}"#),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42","items":"#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42","items":["a" "b"]}"#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42","items":["\x"]}"#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#"{"userId":"42"}x"#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            r#""just a string""#.into(),
        ),
        (
            "POST",
            "/orders".into(),
            vec![auth(), json()],
            format!(r#"{{"userId":"42","items":[{}x]}}"#, "1,".repeat(20)),
        ),
        (
            "GET",
            "/users/42/profile".into(),
            vec![auth()],
            String::new(),
        ),
    ]
}

/// Where we answer otherwise, on purpose (README, "Where we deliberately differ"): a body
/// that is not `application/json`. Express 5 (Nest 11 and 12) leaves `req.body` undefined, so
/// the seed's `send(.., dto)` throws and Nest answers 500; ours reads it as `{}` (Express 4's
/// answer) and forwards that.
async fn check_non_json_body(ours: SocketAddr, nest: SocketAddr) {
    let auth = [("Authorization", format!("Bearer {TOKEN}"))];
    let body = r#"{"userId":"42","items":["not json"]}"#;
    let theirs = exchange(nest, "POST", "/orders", &auth, body).await;
    assert_eq!(
        (theirs.0, theirs.2.as_str()),
        (
            500,
            r#"{"statusCode":500,"message":"Internal server error"}"#
        )
    );
    let mine = exchange(ours, "POST", "/orders", &auth, body).await;
    assert_eq!(mine.0, 201, "{}", mine.2);
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Exchange {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, head, body) = http_request(addr, method, path, &headers, body).await;
    let content_type = header(&head, "content-type").map(|t| t.to_ascii_lowercase());
    (status, content_type, body)
}

/// Every request's exchange; `None` for the requests `skip` names (by path).
async fn run_all(addr: SocketAddr, skip: &[&str]) -> Vec<Option<Exchange>> {
    let mut out = Vec::new();
    for (method, path, headers, body) in requests() {
        if skip.contains(&path.as_str()) {
            out.push(None);
            continue;
        }
        out.push(Some(exchange(addr, method, &path, &headers, &body).await));
    }
    out
}

/// The Nest users and orders services (TypeScript) on fresh ports.
async fn nest_services(version: Nest, dist: &str) -> (u16, u16, [NodeProcess; 2]) {
    let (users, orders) = (free_port(), free_port());
    let users_process = spawn_node_ready(
        version,
        &format!("{dist}/users.service.js"),
        &[&users.to_string()],
    )
    .await;
    let orders_process = spawn_node_ready(
        version,
        &format!("{dist}/orders.service.js"),
        &[&orders.to_string()],
    )
    .await;
    (users, orders, [users_process, orders_process])
}

/// The seed's Nest gateway (TypeScript, compiled) in front of `users` and `orders`.
async fn nest_gateway(
    version: Nest,
    dist: &str,
    users: u16,
    orders: u16,
) -> (SocketAddr, NodeProcess) {
    let port = free_port();
    let env = [
        ("GATEWAY_TOKEN", TOKEN.to_owned()),
        ("GATEWAY_PORT", port.to_string()),
        ("USERS_SERVICE_PORT", users.to_string()),
        ("ORDERS_SERVICE_PORT", orders.to_string()),
    ];
    let process = spawn_node_until(
        version,
        &format!("{dist}/main.js"),
        &[],
        &env,
        "API gateway listening",
    )
    .await;
    (SocketAddr::from(([127, 0, 0, 1], port)), process)
}

/// Our seed gateway in front of `users` and `orders`.
async fn our_gateway(users: u16, orders: u16) -> SocketAddr {
    std::env::set_var("USERS_SERVICE_PORT", users.to_string());
    std::env::set_var("ORDERS_SERVICE_PORT", orders.to_string());
    let app = gateway::create(TOKEN).await.expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

fn assert_same(ours: &[Option<Exchange>], nest: &[Option<Exchange>], what: &str) {
    let requests = requests();
    for (i, pair) in ours.iter().zip(nest).enumerate() {
        let (Some(a), Some(b)) = pair else { continue };
        let (method, path, _, body) = &requests[i];
        let shown: String = body.chars().take(80).collect();
        let cut = |e: &Exchange| (e.0, e.1.clone(), e.2.chars().take(300).collect::<String>());
        assert_eq!(
            cut(a),
            cut(b),
            "{what}: {method} {path} {shown}: ours (left) and Nest's (right) differ"
        );
        assert!(
            a.2 == b.2,
            "{what}: {method} {path}: the long bodies differ"
        );
    }
    assert_eq!(ours.len(), nest.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_gateway_answers_as_the_seeds_nest_gateway() {
    if !nest_available("our_gateway_answers_as_the_seeds_nest_gateway") {
        return;
    }
    init_tracing();
    for version in Nest::ALL {
        let dist = compile_seed(version);

        // Each gateway in front of its own Nest services (fresh state, the same data).
        let (users, orders, mut behind_nest) = nest_services(version, dist).await;
        let (nest, _gateway) = nest_gateway(version, dist, users, orders).await;
        let theirs = run_all(nest, &[]).await;
        let (users, orders, mut behind_ours) = nest_services(version, dist).await;
        let our_addr = our_gateway(users, orders).await;
        let ours = run_all(our_addr, &[]).await;
        assert_same(&ours, &theirs, &format!("Nest {version:?} services"));
        check_non_json_body(our_addr, nest).await;

        // A dead service (README: "A dead service is a 503"): Nest answers 500, ours 503.
        behind_nest[1].kill().await;
        behind_ours[1].kill().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let auth = [("Authorization", format!("Bearer {TOKEN}"))];
        let dead = exchange(nest, "GET", "/users/42/profile", &auth, "").await;
        assert_eq!(
            (dead.0, dead.2.as_str()),
            (
                500,
                r#"{"statusCode":500,"message":"Internal server error"}"#
            )
        );
        let dead = exchange(our_addr, "GET", "/users/42/profile", &auth, "").await;
        assert_eq!(
            (dead.0, dead.2.as_str()),
            (
                503,
                r#"{"message":"ORDERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#
            )
        );
        assert_eq!(
            theirs[1].as_ref().map(|e| e.2.as_str()),
            Some(
                r#"{"id":"42","name":"Ada Lovelace","orderCount":2,"orders":[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]}"#
            ),
            "the seed's own output"
        );

        // The seed's Nest gateway in front of our services answers as in front of its own.
        let users_server = users_service("127.0.0.1:0").await.unwrap();
        let orders_server = orders_service("127.0.0.1:0").await.unwrap();
        let (users, orders) = (
            users_server.local_addr().port(),
            orders_server.local_addr().port(),
        );
        tokio::spawn(users_server.serve());
        tokio::spawn(orders_server.serve());
        let (nest, _gateway) = nest_gateway(version, dist, users, orders).await;
        // (Our users service has no failing id: `boom` is a 404 there.)
        let over_ours = run_all(nest, &["/users/boom"]).await;
        assert_same(
            &over_ours,
            &theirs,
            &format!("Nest {version:?} gateway, our services"),
        );
    }
}
