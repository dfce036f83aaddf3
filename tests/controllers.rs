//! `#[controller]` end to end: generated routes over real sockets, in front of a real
//! microservice, with Nest's HTTP contract.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gateway_core::http::{ControllerMeta, RouteMeta};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct CreateOrder {
    item: String,
    quantity: u32,
}

#[derive(Deserialize)]
struct Paging {
    limit: Option<u32>,
}

#[injectable]
struct GatewayController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
}

static USERS_ADDR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", USERS_ADDR.get().cloned().unwrap_or_default())])],
    controllers = [GatewayController],
)]
struct ControllersModule;

#[controller("api")]
impl GatewayController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] id: u64) -> Result<User, HttpException> {
        Ok(self
            .users
            .send(pattern!({ cmd: "get_user" }), &json!({ "id": id }))
            .await?)
    }

    #[get("users/:id/profile")]
    async fn profile(&self, #[param("id")] user_id: u64) -> Result<Value, HttpException> {
        let (user, orders) = tokio::try_join!(
            self.users
                .send::<User>(pattern!({ cmd: "get_user" }), &json!({ "id": user_id })),
            self.users.send::<Vec<Value>>(
                pattern!({ cmd: "list_orders" }),
                &json!({ "userId": user_id })
            ),
        )?;
        Ok(
            json!({ "id": user.id, "name": user.name, "orderCount": orders.len(), "orders": orders }),
        )
    }

    #[get("orders")]
    async fn list_orders(
        &self,
        #[query] paging: Paging,
        #[header("x-request-id")] request_id: Option<String>,
    ) -> Value {
        json!({ "limit": paging.limit, "requestId": request_id })
    }

    #[post("orders")]
    async fn create_order(&self, #[body] order: CreateOrder, headers: HeaderMap) -> CreateOrder {
        assert!(headers.contains_key("content-type"));
        order
    }

    #[delete("orders/:id")]
    #[http_code(204)]
    async fn delete_order(&self, #[param] id: String) {
        assert!(!id.is_empty());
    }

    #[get("hello")]
    #[header("Cache-Control", "no-store")]
    #[header("X-Powered-By", "gateway")]
    async fn hello(&self) -> String {
        "hello".into()
    }

    #[get("teapot")]
    async fn teapot(&self) -> impl IntoResponse {
        (StatusCode::IM_A_TEAPOT, "short and stout")
    }

    #[get("raw")]
    async fn raw(&self) -> Response {
        StatusCode::ACCEPTED.into_response()
    }

    /// Not a route: left alone.
    #[allow(dead_code)]
    fn helper(&self) -> u8 {
        1
    }
}

async fn start() -> SocketAddr {
    let router = MessageRouter::new()
        .message(pattern!({ cmd: "get_user" }), |req: Value| async move {
            match req["id"].as_u64() {
                Some(42) => Ok(json!({ "id": 42, "name": "Ada Lovelace" })),
                _ => Err(RpcException::new(
                    json!({ "statusCode": 404, "message": "User not found" }),
                )),
            }
        })
        .message(pattern!({ cmd: "list_orders" }), |_: Value| async move {
            Ok::<_, RpcException>(json!([{ "id": 1 }, { "id": 2 }]))
        });
    let service = TcpServer::bind("127.0.0.1:0", router).await.unwrap();
    USERS_ADDR.set(service.local_addr().to_string()).unwrap();
    tokio::spawn(service.serve());

    let app = NestFactory::create::<ControllersModule>()
        .await
        .expect("boots")
        .into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

const JSON: &str = "application/json; charset=utf-8";

#[test]
fn the_route_table_is_known_at_compile_time() {
    const META: ControllerMeta = GatewayController::META;
    assert_eq!((META.name, META.prefix), ("GatewayController", "/api"));
    assert_eq!(META.routes.len(), 8);
    let row = |r: &RouteMeta| (r.method, r.path, r.handler);
    assert_eq!(row(&META.routes[0]), ("GET", "/api/users/:id", "get_user"));
    assert_eq!(
        row(&META.routes[3]),
        ("POST", "/api/orders", "create_order")
    );
    assert!(META.routes[0].metadata.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_routes_speak_nest_http() {
    init_tracing();
    let app = start().await;

    assert_eq!(
        http_call(app, "GET", "/api/users/42", &[], "").await,
        (
            200,
            JSON.into(),
            r#"{"id":42,"name":"Ada Lovelace"}"#.into()
        )
    );
    assert_eq!(
        http_call(app, "GET", "/api/users/abc", &[], "").await,
        (400, JSON.into(), r#"{"message":"Validation failed (numeric string is expected)","error":"Bad Request","statusCode":400}"#.into())
    );
    assert_eq!(
        http_call(app, "GET", "/api/users/7", &[], "").await,
        (
            404,
            JSON.into(),
            r#"{"statusCode":404,"message":"User not found"}"#.into()
        )
    );
    assert_eq!(
        http_call(app, "GET", "/api/users/42/profile", &[], "").await,
        (
            200,
            JSON.into(),
            r#"{"id":42,"name":"Ada Lovelace","orderCount":2,"orders":[{"id":1},{"id":2}]}"#.into()
        )
    );
    assert_eq!(
        http_call(
            app,
            "GET",
            "/api/orders?limit=5",
            &[("X-Request-Id", "r-1")],
            ""
        )
        .await,
        (200, JSON.into(), r#"{"limit":5,"requestId":"r-1"}"#.into())
    );
    let (status, _, body) = http_call(app, "GET", "/api/orders?limit=x", &[], "").await;
    assert_eq!(status, 400, "{body}");

    let json_header = [("Content-Type", "application/json")];
    assert_eq!(
        http_call(
            app,
            "POST",
            "/api/orders",
            &json_header,
            r#"{"item":"Loom","quantity":2}"#
        )
        .await,
        (201, JSON.into(), r#"{"item":"Loom","quantity":2}"#.into())
    );
    let (status, _, body) = http_call(app, "POST", "/api/orders", &json_header, "{nope").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        http_call(app, "DELETE", "/api/orders/9", &[], "").await,
        (204, String::new(), String::new())
    );
    let (_, head, _) = http_request(app, "GET", "/api/hello", &[], "").await;
    let header = |name: &str| {
        head.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        (header("cache-control"), header("x-powered-by")),
        (Some("no-store"), Some("gateway"))
    );
    assert_eq!(
        http_call(app, "GET", "/api/hello", &[], "").await,
        (200, "text/html; charset=utf-8".into(), "hello".into())
    );
    assert_eq!(http_call(app, "GET", "/api/teapot", &[], "").await.0, 418);
    assert_eq!(http_call(app, "GET", "/api/raw", &[], "").await.0, 202);
    assert_eq!(
        http_call(app, "PUT", "/api/orders", &[], "").await,
        (
            404,
            JSON.into(),
            r#"{"message":"Cannot PUT /api/orders","error":"Not Found","statusCode":404}"#.into()
        ),
        "a known path with another method is Nest's 404, not a 405"
    );
    assert_eq!(
        http_call(app, "GET", "/api/nope", &[], "").await,
        (
            404,
            JSON.into(),
            r#"{"message":"Cannot GET /api/nope","error":"Not Found","statusCode":404}"#.into()
        )
    );
}
