//! The HTTP contract at the edge, over real sockets: Nest's error bodies, `RpcError` mapped as
//! a Nest gateway maps it (plus 503 and 504), unknown routes and panics.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::routing::post;
use axum::{Json, Router};
use gateway_core::http::{
    catch_panic_layer, default_status, nest_response, parse_param, route_not_found, Body,
    NUMERIC_EXPECTED,
};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

#[derive(Clone)]
struct Clients {
    users: ClientProxy,
    down: ClientProxy,
}

async fn get_user(
    State(c): State<Clients>,
    Path(id): Path<String>,
) -> Result<Response, HttpException> {
    let id: u64 = parse_param(&id, NUMERIC_EXPECTED)?;
    let user: Value = c
        .users
        .send(pattern!({ cmd: "get_user" }), &json!({ "id": id }))
        .await?;
    Ok(nest_response(StatusCode::OK, &user))
}

#[derive(serde::Deserialize, serde::Serialize)]
struct CreateOrder {
    item: String,
    quantity: u32,
}

async fn create_order(Body(order): Body<CreateOrder>) -> Response {
    nest_response(default_status(&Method::POST), &order)
}

async fn boom(State(c): State<Clients>) -> Result<Json<Value>, HttpException> {
    Ok(Json(c.users.send("boom", &json!({})).await?))
}

async fn slow(State(c): State<Clients>) -> Result<Json<Value>, HttpException> {
    Ok(Json(
        c.users
            .send_with(
                "never",
                &json!({}),
                CallOptions::timeout(Duration::from_millis(150)),
            )
            .await?,
    ))
}

async fn dead_service(State(c): State<Clients>) -> Result<Json<Value>, HttpException> {
    Ok(Json(c.down.send("anything", &json!({})).await?))
}

async fn panics() -> Json<Value> {
    panic!("a bug in a route")
}

async fn start() -> SocketAddr {
    let router = MessageRouter::new()
        .message(pattern!({ cmd: "get_user" }), |req: Value| async move {
            match req["id"].as_u64() {
                Some(42) => Ok(json!({ "id": 42, "name": "Ada Lovelace" })),
                Some(id) => Err(RpcException::new(
                    json!({ "statusCode": 404, "message": format!("User {id} not found") }),
                )),
                None => Err(RpcException::new("bad id")),
            }
        })
        .message("boom", |_: Value| async {
            Err::<Value, _>(RpcException::new("boom"))
        })
        .message("never", |_: Value| async {
            std::future::pending::<()>().await;
            Ok::<Value, RpcException>(Value::Null)
        });
    let service = TcpServer::bind("127.0.0.1:0", router).await.unwrap();
    let users = ClientProxy::new(ClientOptions::tcp(
        "USERS_SERVICE",
        service.local_addr().to_string(),
    ));
    tokio::spawn(service.serve());
    let down = ClientProxy::new(ClientOptions::tcp(
        "ORDERS_SERVICE",
        format!("127.0.0.1:{}", free_port()),
    ));

    let app = Router::new()
        .route("/users/{id}", get(get_user))
        .route("/orders", post(create_order))
        .route("/boom", get(boom))
        .route("/slow", get(slow))
        .route("/down", get(dead_service))
        .route("/panic", get(panics))
        .fallback(route_not_found)
        .layer(catch_panic_layer())
        .with_state(Clients { users, down });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn fetch(addr: SocketAddr, path: &str) -> (u16, String, String) {
    http_call(addr, "GET", path, &[], "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_client_with_nest_bodies() {
    init_tracing();
    let app = start().await;
    let json = "application/json; charset=utf-8";

    assert_eq!(
        fetch(app, "/users/42").await,
        (
            200,
            json.into(),
            r#"{"id":42,"name":"Ada Lovelace"}"#.into()
        )
    );
    // RpcException({statusCode, message}) passes through with those two fields
    assert_eq!(
        fetch(app, "/users/7").await,
        (
            404,
            json.into(),
            r#"{"statusCode":404,"message":"User 7 not found"}"#.into()
        )
    );
    // RpcException('boom') is Nest's generic 500
    assert_eq!(
        fetch(app, "/boom").await,
        (
            500,
            json.into(),
            r#"{"statusCode":500,"message":"Internal server error"}"#.into()
        )
    );
    // unknown routes, query string kept as Express's originalUrl does
    assert_eq!(
        fetch(app, "/nope?a=1").await,
        (
            404,
            json.into(),
            r#"{"message":"Cannot GET /nope?a=1","error":"Not Found","statusCode":404}"#.into()
        )
    );
    // a panic is a 500 with Nest's body, not a dropped connection
    assert_eq!(
        fetch(app, "/panic").await,
        (
            500,
            json.into(),
            r#"{"statusCode":500,"message":"Internal server error"}"#.into()
        )
    );

    // typed params and JSON bodies
    assert_eq!(
        fetch(app, "/users/abc").await,
        (400, json.into(), r#"{"message":"Validation failed (numeric string is expected)","error":"Bad Request","statusCode":400}"#.into())
    );
    let post = |body: String| async move {
        let headers = [("Content-Type", "application/json")];
        http_request(app, "POST", "/orders", &headers, &body).await
    };
    let (status, _, body) = post(r#"{"item":"Loom","quantity":2}"#.into()).await;
    assert_eq!(
        (status, body.as_str()),
        (201, r#"{"item":"Loom","quantity":2}"#)
    );
    let (status, _, body) = post("{nope".into()).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (body["error"].as_str(), body["statusCode"].as_u64()),
        (Some("Bad Request"), Some(400))
    );
    let (status, _, body) = post(format!(
        r#"{{"item":"{}","quantity":1}}"#,
        "x".repeat(200_000)
    ))
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            413,
            r#"{"statusCode":413,"message":"request entity too large"}"#
        )
    );

    // a dead service: a fast 503
    let started = Instant::now();
    assert_eq!(fetch(app, "/down").await, (503, json.into(), r#"{"message":"ORDERS_SERVICE is unavailable","error":"Service Unavailable","statusCode":503}"#.into()));
    assert!(started.elapsed() < Duration::from_secs(1));
    // a silent service: 504 at the deadline, and other routes keep answering meanwhile
    let slow = tokio::spawn(fetch(app, "/slow"));
    assert_eq!(fetch(app, "/users/42").await.0, 200);
    assert_eq!(slow.await.unwrap(), (504, json.into(), r#"{"message":"USERS_SERVICE did not answer within 150 ms","error":"Gateway Timeout","statusCode":504}"#.into()));
}
