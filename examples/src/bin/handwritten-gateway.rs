//! The benchmark's baseline: the seed gateway written by hand on plain axum + tokio + our TCP
//! `ClientProxy`, with no macros, no DI container and no guard framework, doing the same work
//! as `gateway` (constant-time bearer check, the same payloads, parallel calls, `?partial=true`,
//! the same answers). What `gateway` costs beyond this is the framework's overhead.
//!
//! `GATEWAY_TOKEN=... handwritten-gateway` (same environment variables as `gateway`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use examples::gateway::{partial_budget, partial_profile, Profile, ProfileQuery};
use examples::{env_addr, env_port, init_logging, Order, User};
use gateway_core::http::{nest_response, HttpException};
use gateway_core::partial;
use gateway_core::prelude::*;
use serde_json::json;
use subtle::ConstantTimeEq;

struct Gateway {
    users: ClientProxy,
    orders: ClientProxy,
    token: String,
}

impl Gateway {
    fn authorized(&self, headers: &HeaderMap) -> Result<(), HttpException> {
        let presented = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(self.token.as_bytes())) {
            return Err(HttpException::unauthorized("Invalid or missing token"));
        }
        Ok(())
    }
}

fn id_of(raw: &str) -> Result<u64, HttpException> {
    raw.parse()
        .map_err(|_| HttpException::bad_request("Validation failed (numeric string is expected)"))
}

async fn user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        gw.authorized(&headers)?;
        let id = id_of(&id)?;
        let user: User = gw
            .users
            .send(
                pattern!({ cmd: "get_user" }),
                &json!({ "id": id, "user": { "sub": "api-client" } }),
            )
            .await?;
        Ok::<_, HttpException>(user)
    };
    match result.await {
        Ok(user) => nest_response(axum::http::StatusCode::OK, &user),
        Err(error) => error.into_response(),
    }
}

async fn profile(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    query: Result<Query<ProfileQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        gw.authorized(&headers)?;
        let id = id_of(&id)?;
        let Query(query) = query.map_err(|e| HttpException::bad_request(e.body_text()))?;
        let caller = json!({ "sub": "api-client" });
        let get_user = || {
            gw.users.send::<User>(
                pattern!({ cmd: "get_user" }),
                &json!({ "id": id, "user": caller }),
            )
        };
        let list_orders = || {
            gw.orders.send::<Vec<Order>>(
                pattern!({ cmd: "list_orders" }),
                &json!({ "userId": id, "user": caller }),
            )
        };
        if !query.partial {
            let (found, orders) = tokio::try_join!(get_user(), list_orders())?;
            return Ok(nest_response(
                axum::http::StatusCode::OK,
                &Profile::new(found, orders),
            ));
        }
        let budget = partial_budget();
        let (found, orders) = tokio::join!(
            partial::within("user", budget, get_user()),
            partial::within("orders", budget, list_orders()),
        );
        Ok::<_, HttpException>(partial_profile(found?, orders))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let token = std::env::var("GATEWAY_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or("GATEWAY_TOKEN is not set")?;
    let gateway = Arc::new(Gateway {
        users: ClientProxy::new(ClientOptions::tcp(
            "USERS_SERVICE",
            env_addr("USERS_SERVICE", 3001),
        )),
        orders: ClientProxy::new(ClientOptions::tcp(
            "ORDERS_SERVICE",
            env_addr("ORDERS_SERVICE", 3002),
        )),
        token,
    });
    let app = Router::new()
        .route("/users/{id}", get(user))
        .route("/users/{id}/profile", get(profile))
        .with_state(gateway);
    let listener =
        tokio::net::TcpListener::bind(("0.0.0.0", env_port("GATEWAY_PORT", 3000))).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}
