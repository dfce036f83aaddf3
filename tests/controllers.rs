//! `#[controller]` end to end: generated routes in front of a microservice (in process, through
//! the testing module), with Nest's HTTP contract. The socket-level contract is
//! `http_contract.rs`'s and `boot.rs`'s.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gateway_core::http::{ControllerMeta, RouteMeta};
use gateway_core::prelude::*;
use gateway_core::testing::{Test, TestApp};
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

#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:3001")])],
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

/// The app, its `USERS_SERVICE` overridden by a service in process.
async fn start() -> TestApp {
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
    Test::create_testing_module::<ControllersModule>()
        .override_provider("USERS_SERVICE")
        .use_value(ClientProxy::in_process("USERS_SERVICE", router))
        .compile()
        .await
        .expect("compiles")
        .create_nest_application()
        .into_test()
}

/// Status, content type and body of one request.
async fn http_call(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut request = app
        .request(method.parse().expect("a method"), path)
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let res = request.send().await;
    let content_type = res.header("content-type").unwrap_or_default().to_owned();
    (res.status(), content_type, res.text().to_owned())
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

#[tokio::test]
async fn generated_routes_speak_nest_http() {
    let app = &start().await;

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
    let res = app.get("/api/hello").send().await;
    assert_eq!(
        (res.header("cache-control"), res.header("x-powered-by")),
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
