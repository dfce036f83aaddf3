//! The seed's API gateway: the one place for authentication, in front of the users and
//! orders services.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /users/:id` | `{ cmd: "get_user" }` on the users service |
//! | `POST /orders` | `{ cmd: "create_order" }` on the orders service, then the `order_created` event |
//! | `GET /users/:id/profile` | the user and their orders, fetched in parallel |
//! | `GET /users/:id/profile?partial=true` | the same, but without the orders (`"degraded":["orders"]`, `x-gateway-completed: false`) when the orders service fails |
//!
//! Every route needs `Authorization: Bearer $GATEWAY_TOKEN` (compared in constant time);
//! otherwise 401 `Invalid or missing token`. The verified caller is forwarded to the services
//! in each payload (`"user": {"sub": ..}`).

use std::time::Duration;

use gateway_core::axum::http::StatusCode;
use gateway_core::axum::response::{IntoResponse, Response};
use gateway_core::http::nest_response;
use gateway_core::partial::{self, Partial};
use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::{env_host, env_port, Order, User, VerifiedUser};

/// The seed's bearer-token guard: the token must equal `GATEWAY_TOKEN`.
pub struct AuthGuard {
    token: String,
}

impl AuthGuard {
    /// A guard accepting `token`.
    pub fn new(token: impl Into<String>) -> Self {
        AuthGuard {
            token: token.into(),
        }
    }

    /// A guard accepting the token in the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, String> {
        match std::env::var(var) {
            Ok(token) if !token.is_empty() => Ok(AuthGuard::new(token)),
            _ => Err(format!(
                "{var} is not set: the gateway needs the bearer token it accepts"
            )),
        }
    }
}

impl CanActivate for AuthGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let presented = ctx
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(self.token.as_bytes())) || presented.is_empty() {
            return Err(HttpException::unauthorized("Invalid or missing token"));
        }
        ctx.set_user(VerifiedUser {
            sub: "api-client".into(),
        });
        Ok(true)
    }
}

/// The body of `POST /orders`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderDto {
    /// Who orders.
    pub user_id: u64,
    /// What.
    pub item: String,
    /// How many (default 1).
    #[serde(default = "crate::one")]
    pub quantity: u32,
}

/// What `GET /users/:id/profile` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The user's id.
    pub id: u64,
    /// The user's name.
    pub name: String,
    /// How many orders they placed.
    pub order_count: usize,
    /// The orders.
    pub orders: Vec<Order>,
}

/// The gateway's routes.
#[injectable]
pub struct GatewayController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    #[inject("ORDERS_SERVICE")]
    orders: ClientProxy,
}

#[controller]
impl GatewayController {
    #[get("users/:id")]
    async fn get_user(
        &self,
        #[param] id: u64,
        #[user] user: VerifiedUser,
    ) -> Result<User, HttpException> {
        Ok(self
            .users
            .send(
                pattern!({ cmd: "get_user" }),
                &json!({ "id": id, "user": user }),
            )
            .await?)
    }

    #[post("orders")]
    async fn create_order(
        &self,
        #[body] dto: CreateOrderDto,
        #[user] user: VerifiedUser,
    ) -> Result<Order, HttpException> {
        let payload = json!({ "userId": dto.user_id, "item": dto.item, "quantity": dto.quantity, "user": user });
        let order: Order = self
            .orders
            .send(pattern!({ cmd: "create_order" }), &payload)
            .await?;
        self.orders.emit("order_created", &order).await?;
        Ok(order)
    }

    /// The profile. With `?partial=true` a failed or slow orders service does not fail the
    /// answer: it comes without orders, with `"degraded":["orders"]` and
    /// `x-gateway-completed: false` (each part gets `PARTIAL_TIMEOUT_MS`, default 1000).
    #[get("users/:id/profile")]
    async fn profile(
        &self,
        #[param] id: u64,
        #[query] query: ProfileQuery,
        #[user] user: VerifiedUser,
    ) -> Result<Response, HttpException> {
        let get_user = || {
            self.users.send::<User>(
                pattern!({ cmd: "get_user" }),
                &json!({ "id": id, "user": user }),
            )
        };
        let list_orders = || {
            self.orders.send::<Vec<Order>>(
                pattern!({ cmd: "list_orders" }),
                &json!({ "userId": id, "user": user }),
            )
        };
        if !query.partial {
            let (found, orders) = tokio::try_join!(get_user(), list_orders())?;
            return Ok(nest_response(StatusCode::OK, &Profile::new(found, orders)));
        }
        let budget = partial_budget();
        let (found, orders) = tokio::join!(
            partial::within("user", budget, get_user()),
            partial::within("orders", budget, list_orders()),
        );
        // No user, no profile: fail as usual.
        Ok(partial_profile(found?, orders))
    }
}

impl Profile {
    /// The profile of `user`, with their orders.
    pub fn new(user: User, orders: Vec<Order>) -> Self {
        Profile {
            id: user.id,
            name: user.name,
            order_count: orders.len(),
            orders,
        }
    }
}

/// The `?partial=true` answer: the user, and their orders if they came (otherwise
/// `"orders": null`, `"degraded": ["orders"]` and `x-gateway-completed: false`).
pub fn partial_profile(user: User, orders: Result<Vec<Order>, partial::Degraded>) -> Response {
    let body = json!({
        "id": user.id,
        "name": user.name,
        "orderCount": orders.as_ref().ok().map(Vec::len),
        "orders": orders.as_ref().ok(),
    });
    Partial::new(body).missing([orders.err()]).into_response()
}

/// The query of `GET /users/:id/profile`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileQuery {
    /// `?partial=true`: answer with what came (see `profile`).
    #[serde(default)]
    pub partial: bool,
}

/// How long each part of a `?partial=true` profile may take: `PARTIAL_TIMEOUT_MS`, default
/// 1000.
pub fn partial_budget() -> Duration {
    std::env::var("PARTIAL_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

fn service(name: &str, prefix: &str, default_port: u16) -> ClientOptions {
    let addr = format!(
        "{}:{}",
        env_host(&format!("{prefix}_HOST")),
        env_port(&format!("{prefix}_PORT"), default_port)
    );
    let timeout = std::env::var("SERVICE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(
            gateway_core::client::DEFAULT_TIMEOUT,
            std::time::Duration::from_millis,
        );
    match crate::nats_url() {
        Some(url) => ClientOptions::nats(name, url),
        None => ClientOptions::tcp(name, addr),
    }
    .timeout(timeout)
}

/// The gateway's module: the two clients (addresses from `USERS_SERVICE_HOST`/`_PORT` and
/// `ORDERS_SERVICE_HOST`/`_PORT`, or through NATS with `TRANSPORT=nats` and `NATS_URL`; each
/// call's deadline from `SERVICE_TIMEOUT_MS`, default 5000; all read at boot) and the
/// controller. The controller is the same whatever the transport.
#[module(
    imports = [ClientsModule::register([
        service("USERS_SERVICE", "USERS_SERVICE", 3001),
        service("ORDERS_SERVICE", "ORDERS_SERVICE", 3002),
    ])],
    controllers = [GatewayController],
)]
pub struct GatewayModule;

/// Boots the gateway with `AuthGuard` accepting `token` on every route.
pub async fn create(token: &str) -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<GatewayModule>().await?;
    app.use_global_guards(AuthGuard::new(token));
    Ok(app)
}
