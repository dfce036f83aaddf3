//! The seed's gateway with typed handlers: the same routes and the same answers as
//! [`gateway`](crate::gateway), with what the seed's text advises on top.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /users/:id` | `{ cmd: "get_user" }` with `{ id, user }`: the verified user forwarded downstream |
//! | `POST /orders` | the body read as [`CreateOrderDto`] (400 when it is not one), `{ cmd: "create_order" }` with the user, then the `order_created` event |
//! | `GET /users/:id/profile` | the user and their orders in parallel, as typed values |
//! | `GET /users/:id/profile?partial=true` | the same, but without the orders (`"degraded":["orders"]`, `x-gateway-completed: false`) when the orders service fails or is slow |
//!
//! The guard is the seed's [`AuthGuard`].

use std::time::Duration;

use gateway_core::axum::http::StatusCode;
use gateway_core::axum::response::{IntoResponse, Response};
use gateway_core::config::{ConfigModule, ConfigService};
use gateway_core::http::nest_response;
use gateway_core::partial::{self, Partial};
use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::gateway::{clients, AuthGuard};
use crate::{Order, User, VerifiedUser};

/// The body of `POST /orders`: the seed's `{ userId: string; items: string[] }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderDto {
    /// Who orders.
    pub user_id: String,
    /// What.
    pub items: Vec<String>,
}

/// What `GET /users/:id/profile` answers, typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The user's id.
    pub id: String,
    /// The user's name.
    pub name: String,
    /// How many orders they placed.
    pub order_count: usize,
    /// The orders.
    pub orders: Vec<Order>,
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
pub fn partial_budget(config: &ConfigService) -> Duration {
    config
        .get::<u64>("PARTIAL_TIMEOUT_MS")
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// The typed gateway's routes.
#[injectable]
pub struct TypedGatewayController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    #[inject("ORDERS_SERVICE")]
    orders: ClientProxy,
    config: ConfigService,
}

#[controller]
impl TypedGatewayController {
    #[get("users/:id")]
    async fn get_user(
        &self,
        #[param] id: String,
        #[user] user: VerifiedUser,
    ) -> Result<User, RpcError> {
        self.users
            .send(
                pattern!({ cmd: "get_user" }),
                &json!({ "id": id, "user": user }),
            )
            .await
    }

    #[post("orders")]
    async fn create_order(
        &self,
        #[body] dto: CreateOrderDto,
        #[user] user: VerifiedUser,
    ) -> Result<Order, RpcError> {
        let payload = json!({ "userId": dto.user_id, "items": dto.items, "user": user });
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
        #[param] id: String,
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
        let budget = partial_budget(&self.config);
        let (found, orders) = tokio::join!(
            partial::within("user", budget, get_user()),
            partial::within("orders", budget, list_orders()),
        );
        // No user, no profile: fail as usual.
        Ok(partial_profile(found?, orders))
    }
}

/// The typed gateway's module: the same clients as the seed's.
#[module(
    imports = [ConfigModule::for_root().is_global(), clients()],
    controllers = [TypedGatewayController],
)]
pub struct TypedGatewayModule;

/// Boots the typed gateway with the seed's `AuthGuard` accepting `token` on every route.
pub async fn create(token: &str) -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<TypedGatewayModule>().await?;
    app.use_global_guards(AuthGuard::new(token));
    Ok(app)
}
