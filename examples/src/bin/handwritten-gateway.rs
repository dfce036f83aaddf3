//! The benchmark's baseline: the seed gateway written by hand on plain axum + tokio + our TCP
//! `ClientProxy`, with no macros, no DI container and no guard framework, doing the same work
//! as `gateway` (the seed's bearer check in constant time, the same payloads, parallel calls,
//! the same answers). What `gateway` costs beyond this is the framework's overhead.
//!
//! `GATEWAY_TOKEN=... handwritten-gateway` (same environment variables as `gateway`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use examples::gateway::{Profile, UserFields};
use examples::{env_addr, env_port, init_logging};
use gateway_core::http::{nest_response, HttpException};
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
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = header.replacen("Bearer ", "", 1);
        if token.is_empty() || !bool::from(token.as_bytes().ct_eq(self.token.as_bytes())) {
            return Err(HttpException::unauthorized("Invalid or missing token"));
        }
        Ok(())
    }
}

async fn user(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        gw.authorized(&headers)?;
        let user: RawReply = gw
            .users
            .send(pattern!({ cmd: "get_user" }), &json!({ "id": id }))
            .await?;
        Ok::<_, HttpException>(user)
    };
    match result.await {
        Ok(user) => nest_response(StatusCode::OK, &user),
        Err(error) => error.into_response(),
    }
}

async fn profile(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        gw.authorized(&headers)?;
        let (user, orders) = tokio::try_join!(
            gw.users
                .send::<UserFields>(pattern!({ cmd: "get_user" }), &json!({ "id": id })),
            gw.orders
                .send::<Vec<RawReply>>(pattern!({ cmd: "list_orders" }), &json!({ "userId": id })),
        )?;
        let profile = Profile {
            id: user.id,
            name: user.name,
            order_count: orders.len(),
            orders,
        };
        Ok::<_, HttpException>(nest_response(StatusCode::OK, &profile))
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
