//! The seed's API gateway, line for line: `src/app.module.ts`, `src/gateway.controller.ts`
//! (with the profile excerpt), `src/auth.guard.ts` and `app.useGlobalGuards(new AuthGuard())`.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /users/:id` | `{ cmd: "get_user" }` with `{ id }` on the users service; its reply as it came |
//! | `POST /orders` | `{ cmd: "create_order" }` with the body as it came on the orders service; its reply as it came (201) |
//! | `GET /users/:id/profile` | the user and their orders, fetched in parallel: `{ id, name, orderCount, orders }` |
//!
//! Every route needs `Authorization: Bearer $GATEWAY_TOKEN`; otherwise 401 `Invalid or missing
//! token`. Beside the seed's routes: the health probes ([`HealthController`], public). The payloads are the seed's (`{ id }`, `{ userId: id }`, the body), so the wire is
//! the seed's own gateway's. The typed variant, which also forwards the verified user
//! downstream, is [`typed_gateway`](crate::typed_gateway).

use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use gateway_core::config::{ConfigModule, ConfigService};
use gateway_core::grpc::GrpcPatterns;
use gateway_core::health::{
    HealthCheckResult, HealthCheckService, MemoryHealthIndicator, MicroserviceHealthIndicator,
    TerminusModule,
};
use gateway_core::openapi::{
    utoipa, DocumentBuilder, MissingSchemas, OpenApiDocument, SwaggerModule, ToSchema,
};

use crate::VerifiedUser;

/// The seed's `AuthGuard`: the bearer token must equal `GATEWAY_TOKEN`; the request's user is
/// then `{ id: 'verified-from-token' }`.
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

    /// A guard accepting the token in the setting `var` (read once, at boot, from the
    /// environment or `.env`; an empty or unset one is refused here, where the seed's guard
    /// would refuse every request).
    pub fn from_env(var: &str) -> Result<Self, String> {
        match crate::config().get_str(var) {
            Some(token) if !token.is_empty() => Ok(AuthGuard::new(token)),
            _ => Err(format!(
                "{var} is not set: the gateway needs the bearer token it accepts"
            )),
        }
    }
}

impl CanActivate for AuthGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        // The one line the seed's guard lacks, from Nest's docs ("Enable authentication
        // globally"): a route marked `#[public]` (`@Public()`) passes. The seed's routes have
        // none; the health probes do, as an orchestrator's probe has no token.
        if ctx.reflector().is_public() {
            return Ok(true);
        }
        // The seed's `req.headers['authorization']?.replace('Bearer ', '')`: the first
        // `Bearer ` goes, wherever it is; then an exact (constant-time) comparison.
        let header = ctx
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = header.replacen("Bearer ", "", 1);
        if token.is_empty() || !bool::from(token.as_bytes().ct_eq(self.token.as_bytes())) {
            return Err(HttpException::unauthorized("Invalid or missing token"));
        }
        ctx.set_user(VerifiedUser {
            id: "verified-from-token".into(),
        });
        Ok(true)
    }
}

/// The seed's `GatewayController`.
#[injectable]
pub struct GatewayController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    #[inject("ORDERS_SERVICE")]
    orders: ClientProxy,
}

/// What the profile reads of a user: its `id` and `name`, as the service sent them (absent
/// ones stay absent, as `JSON.stringify` drops `undefined`).
#[derive(Debug, Deserialize)]
pub struct UserFields {
    /// `user.id`.
    pub id: Option<RawReply>,
    /// `user.name`.
    pub name: Option<RawReply>,
}

/// The profile: `{ id: user.id, name: user.name, orderCount: orders.length, orders }`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProfileDto)]
pub struct Profile {
    /// `user.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub id: Option<RawReply>,
    /// `user.name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub name: Option<RawReply>,
    /// `orders.length`.
    pub order_count: usize,
    /// The orders, as the service sent them.
    #[schema(value_type = Vec<dto::OrderDto>)]
    pub orders: Vec<RawReply>,
}

/// The DTOs of the seed's routes as a Nest team annotates them for `@nestjs/swagger`
/// (`@ApiProperty()` on each field): the routes forward the JSON as it came, so these are
/// for the OpenAPI document only.
pub mod dto {
    use gateway_core::openapi::{utoipa, ToSchema};

    /// A user, as the users service answers.
    #[derive(ToSchema)]
    pub struct UserDto {
        /// The user's id (a string).
        pub id: String,
        /// The user's display name.
        pub name: String,
    }

    /// An order, as the orders service answers.
    #[derive(ToSchema)]
    pub struct OrderDto {
        /// `o-1`, `o-2`, ...
        pub id: String,
        /// What was ordered.
        pub items: Vec<String>,
    }

    /// What `POST /orders` takes.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct CreateOrderDto {
        /// Who orders.
        pub user_id: String,
        /// What.
        pub items: Vec<String>,
    }
}

#[controller]
#[api_tags("gateway")]
#[api_bearer_auth]
impl GatewayController {
    #[get("users/:id")]
    #[api_operation(summary = "A user, from the users service")]
    #[api_response(status = 200, body = dto::UserDto)]
    async fn get_user(&self, #[param] id: String) -> Result<RawReply, RpcError> {
        self.users
            .send(pattern!({ cmd: "get_user" }), &json!({ "id": id }))
            .await
    }

    #[post("orders")]
    #[api_operation(summary = "Places an order with the orders service")]
    #[api_body(dto::CreateOrderDto)]
    #[api_response(status = 201, body = dto::OrderDto)]
    async fn create_order(&self, #[body] dto: RawReply) -> Result<RawReply, RpcError> {
        self.orders
            .send(pattern!({ cmd: "create_order" }), &dto)
            .await
    }

    #[get("users/:id/profile")]
    #[api_operation(summary = "A user and their orders, fetched in parallel")]
    async fn get_profile(&self, #[param] id: String) -> Result<Profile, RpcError> {
        let (user, orders) = tokio::try_join!(
            self.users
                .send::<UserFields>(pattern!({ cmd: "get_user" }), &json!({ "id": id })),
            self.orders
                .send::<Vec<RawReply>>(pattern!({ cmd: "list_orders" }), &json!({ "userId": id })),
        )?;
        Ok(Profile {
            id: user.id,
            name: user.name,
            order_count: orders.len(),
            orders,
        })
    }
}

/// The gateway's health probes, as `@nestjs/terminus` answers them: public (an orchestrator's
/// probe has no token), liveness and readiness apart as Kubernetes wants them.
///
/// | route | checks |
/// | --- | --- |
/// | `GET /health` | readiness: a real round trip to each service within 1 s (`{ cmd: "health", service: "users" }`, `.. "orders"`: over a broker, a pattern only that service handles; a Nest service without it answers over TCP with its no-handler error, which counts); 503 with terminus's body when one is down |
/// | `GET /health/live` | liveness: the process answers, and its resident memory is under 1 GiB |
#[injectable]
pub struct HealthController {
    health: HealthCheckService,
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    #[inject("ORDERS_SERVICE")]
    orders: ClientProxy,
}

#[controller("health")]
#[public]
#[api_tags("health")]
#[api_response(status = 200, description = "The Health Check is successful", body = HealthCheckResult)]
#[api_response(status = 503, description = "The Health Check is not successful", body = HealthCheckResult)]
impl HealthController {
    #[get("")]
    async fn ready(&self) -> Result<HealthCheckResult, HttpException> {
        let timeout = std::time::Duration::from_secs(1);
        self.health
            .check([
                MicroserviceHealthIndicator::ping_pattern(
                    "users",
                    &self.users,
                    pattern!({ cmd: "health", service: "users" }),
                    timeout,
                ),
                MicroserviceHealthIndicator::ping_pattern(
                    "orders",
                    &self.orders,
                    pattern!({ cmd: "health", service: "orders" }),
                    timeout,
                ),
            ])
            .await
    }

    #[get("live")]
    async fn live(&self) -> Result<HealthCheckResult, HttpException> {
        self.health
            .check([MemoryHealthIndicator::check_rss("memory_rss", 1 << 30)])
            .await
    }
}

/// How a downstream service is reached, from the settings: TCP on
/// `$<PREFIX>_HOST:$<PREFIX>_PORT` (the seed's `127.0.0.1:3001` and `:3002` by default),
/// NATS with `TRANSPORT=nats`, or gRPC at the same address with `TRANSPORT=grpc` (the seed's
/// patterns bridged to `proto/seed.proto`'s methods, [`grpc_patterns`]); each call's deadline from `SERVICE_TIMEOUT_MS` (default 5000).
/// `CIRCUIT_BREAKER=on` gives each client a [`CircuitBreaker`] (Nest has none; off by
/// default, as the seed's gateway waits out a frozen service), tuned by
/// `CIRCUIT_BREAKER_FAILURES` (default 5) and `CIRCUIT_BREAKER_OPEN_MS` (default 10000).
pub fn service(
    config: &ConfigService,
    name: &str,
    prefix: &str,
    default_port: u16,
) -> ClientOptions {
    let timeout = config.get::<u64>("SERVICE_TIMEOUT_MS").map_or(
        gateway_core::client::DEFAULT_TIMEOUT,
        std::time::Duration::from_millis,
    );
    let options = match crate::nats_url(config) {
        _ if crate::grpc(config) => ClientOptions::grpc(
            name,
            crate::addr(config, prefix, default_port),
            grpc_patterns(name),
        ),
        Some(url) => ClientOptions::nats(name, url),
        None => ClientOptions::tcp(name, crate::addr(config, prefix, default_port)),
    }
    .timeout(timeout);
    if config.get_str("CIRCUIT_BREAKER") != Some("on") {
        return options;
    }
    let defaults = CircuitBreaker::default();
    options.circuit_breaker(CircuitBreaker {
        failures: config
            .get::<u32>("CIRCUIT_BREAKER_FAILURES")
            .unwrap_or(defaults.failures),
        open_for: config
            .get::<u64>("CIRCUIT_BREAKER_OPEN_MS")
            .map_or(defaults.open_for, std::time::Duration::from_millis),
    })
}

/// With `TRANSPORT=grpc`, the gRPC method (`proto/seed.proto`) each of the seed's patterns
/// calls on the client `name`; the readiness probe's is the standard health check.
pub fn grpc_patterns(name: &str) -> GrpcPatterns {
    use crate::proto::seed;
    use gateway_core::grpc::health::Health;
    match name {
        "USERS_SERVICE" => GrpcPatterns::new()
            .method::<seed::UsersService::GetUser>(json!({ "cmd": "get_user" }))
            .method::<Health::Check>(json!({ "cmd": "health", "service": "users" })),
        "ORDERS_SERVICE" => GrpcPatterns::new()
            .method_reply_field::<seed::OrdersService::ListOrders>(
                json!({ "cmd": "list_orders" }),
                "orders",
            )
            .method::<seed::OrdersService::CreateOrder>(json!({ "cmd": "create_order" }))
            .method::<Health::Check>(json!({ "cmd": "health", "service": "orders" })),
        _ => GrpcPatterns::new(),
    }
}

/// The gateway's two clients, `USERS_SERVICE` and `ORDERS_SERVICE`, made at boot from the
/// settings (see [`service`]).
pub fn clients() -> ClientsModule {
    ClientsModule::register_async([
        ClientAsync::use_factory("USERS_SERVICE", |config: ConfigService| {
            service(&config, "USERS_SERVICE", "USERS_SERVICE", 3001)
        }),
        ClientAsync::use_factory("ORDERS_SERVICE", |config: ConfigService| {
            service(&config, "ORDERS_SERVICE", "ORDERS_SERVICE", 3002)
        }),
    ])
}

/// The seed's `AppModule`: the two clients and the controller. The seed names its services'
/// addresses in the module; ours come from the settings (`ConfigModule`), through the
/// clients' factories (`ClientsModule.registerAsync`).
/// Beside the seed's: its health probes (`@nestjs/terminus`'s `TerminusModule` and a
/// `HealthController`).
#[module(
    imports = [ConfigModule::for_root().is_global(), clients(), TerminusModule::for_root()],
    controllers = [GatewayController, HealthController],
)]
pub struct GatewayModule;

/// Boots the gateway with `AuthGuard` accepting `token` on every route (the seed's
/// `app.useGlobalGuards(new AuthGuard())`), and its OpenAPI document served at `/docs`
/// (Swagger UI) and `/docs-json`, public.
pub async fn create(token: &str) -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<GatewayModule>().await?;
    app.use_global_guards(AuthGuard::new(token));
    let document = document(&app)?;
    SwaggerModule::setup("docs", &mut app, &document);
    Ok(app)
}

/// The gateway's OpenAPI document (`@nestjs/swagger`'s `DocumentBuilder`, with the bearer
/// token every route but the health probes needs).
pub fn document(app: &NestApplication) -> Result<OpenApiDocument, MissingSchemas> {
    let config = DocumentBuilder::new()
        .set_title("API gateway")
        .set_description("The seed's gateway: the users and orders services behind one HTTP API")
        .set_version("1.0")
        .add_bearer_auth()
        .add_security_requirements("bearer")
        .build();
    SwaggerModule::create_document(app, config)
}
