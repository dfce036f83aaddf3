//! The seed system's microservices, written against `gateway-core`'s plain API.
//!
//! - `users-service` (TCP, `USERS_SERVICE_PORT`, default 3001): `{ cmd: "get_user" }`.
//! - `orders-service` (TCP, `ORDERS_SERVICE_PORT`, default 3002): `{ cmd: "list_orders" }`,
//!   `{ cmd: "create_order" }`, and the event `order_created`.
//! - `gateway` (HTTP, `GATEWAY_PORT`, default 3000): the seed's gateway, line for line, see
//!   [`gateway`].
//! - `typed-gateway` (HTTP, same settings): the same routes with typed handlers, the verified
//!   user forwarded downstream, validation and partial answers, see [`typed_gateway`].
//! - `demo`: all three in one process.
//!
//! Any Nest `ClientProxy` (Transport.TCP) can call these services unchanged.

pub mod gateway;
pub mod nest_suite;
pub mod typed_gateway;

/// Every example binary allocates with mimalloc: a request makes many small, short-lived
/// allocations, which mimalloc serves in fewer instructions than glibc's malloc (12% fewer per
/// gateway request, counted with callgrind).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::{Arc, Mutex, PoisonError};

use gateway_core::config::{ConfigError, ConfigModule, ConfigService};
use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A user, as the users service returns it: `{"id":"42","name":"Ada Lovelace"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id (a string, as the seed's ids are).
    pub id: String,
    /// The user's display name.
    pub name: String,
}

/// An order, as the orders service returns it: `{"id":"o-1","items":["book"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The order's id: `o-1`, `o-2`, ...
    pub id: String,
    /// What was ordered.
    pub items: Vec<String>,
    /// Who the gateway verified when the order was placed, when it forwarded one (the typed
    /// gateway does; the seed's gateway forwards the body as it came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_by: Option<String>,
}

/// The caller the gateway's guard verified: the seed's `req.user = { id: 'verified-from-token' }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedUser {
    /// Who the token belongs to.
    pub id: String,
}

/// A user or order id as a gateway forwards it: the seed sends strings (`"42"`); a number is
/// taken as its decimal text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        Ok(Id(match Raw::deserialize(d)? {
            Raw::Text(text) => text,
            Raw::Number(n) => n.to_string(),
        }))
    }
}

/// The payload of `{ cmd: "get_user" }`: the seed's `{ id }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetUser {
    /// Which user.
    pub id: Id,
}

/// The payload of `{ cmd: "list_orders" }`: the seed's `{ userId: id }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOrders {
    /// Whose orders.
    pub user_id: Id,
}

/// The payload of `{ cmd: "create_order" }`: the seed's body `{ userId: string; items: string[] }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrder {
    /// Who orders.
    pub user_id: Id,
    /// What.
    pub items: Vec<String>,
    /// The verified caller, when the gateway forwards one (the typed gateway does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<VerifiedUser>,
}

/// The seed's services as proto messages and gRPC services (`proto/seed.proto`), for
/// `TRANSPORT=grpc`: `proto::seed::UsersService`, `proto::seed::OrdersService`.
#[allow(missing_docs)]
pub mod proto {
    gateway_core::include_protos!();
}

use proto::seed;

/// The users service: `{ cmd: "get_user" }`. User 42 is Ada Lovelace; any other id is a 404
/// (`RpcException({ statusCode: 404, message })`, which a Nest gateway answers as that 404).
/// Beside the seed's: `{ cmd: "health", service: "users" }`, the gateway's readiness probe
/// (over a broker, a pattern only this service handles is the only way to reach it).
#[injectable]
pub struct UsersController;

#[controller]
impl UsersController {
    #[message_pattern({ cmd: "get_user" })]
    async fn get_user(&self, #[payload] req: GetUser) -> Result<User, RpcException> {
        match req.id.0.as_str() {
            "42" => Ok(User {
                id: "42".into(),
                name: "Ada Lovelace".into(),
            }),
            id => Err(RpcException::new(json!({
                "statusCode": 404,
                "message": format!("User {id} not found"),
            }))),
        }
    }

    #[message_pattern({ cmd: "health", service: "users" })]
    async fn health(&self) -> &'static str {
        "ok"
    }

    /// `TRANSPORT=grpc`: `seed.UsersService/GetUser`, the same user; an unknown one is
    /// `NOT_FOUND` with the same message.
    #[grpc_method(seed::UsersService, "GetUser")]
    async fn get_user_grpc(&self, req: seed::GetUserRequest) -> Result<seed::User, RpcException> {
        match self.get_user(GetUser { id: Id(req.id) }).await {
            Ok(user) => Ok(seed::User {
                id: user.id,
                name: user.name,
            }),
            Err(error) => Err(RpcException::new(
                json!({ "code": 5, "message": error.to_string() }),
            )),
        }
    }
}

/// The users service's module.
#[module(controllers = [UsersController])]
pub struct UsersModule;

/// The orders service's state: orders in memory by user, seeded with the seed's two orders
/// of user 42 (`o-1`: book; `o-2`: pen, ink).
#[derive(Debug, Clone)]
pub struct OrderStore {
    orders: Arc<Mutex<Vec<(String, Order)>>>,
}

impl Default for OrderStore {
    fn default() -> Self {
        let seed = |id: &str, items: &[&str]| {
            let items = items.iter().map(|i| i.to_string()).collect();
            let order = Order {
                id: id.into(),
                items,
                placed_by: None,
            };
            ("42".to_owned(), order)
        };
        OrderStore {
            orders: Arc::new(Mutex::new(vec![
                seed("o-1", &["book"]),
                seed("o-2", &["pen", "ink"]),
            ])),
        }
    }
}

impl OrderStore {
    fn with<R>(&self, f: impl FnOnce(&mut Vec<(String, Order)>) -> R) -> R {
        f(&mut self.orders.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every order of `user_id`.
    pub fn list(&self, user_id: &str) -> Vec<Order> {
        self.with(|orders| {
            orders
                .iter()
                .filter(|(user, _)| user == user_id)
                .map(|(_, order)| order.clone())
                .collect()
        })
    }

    /// Stores a new order (`o-<n>`) and returns it.
    pub fn create(&self, req: CreateOrder) -> Order {
        self.with(|orders| {
            let order = Order {
                id: format!("o-{}", orders.len() + 1),
                items: req.items,
                placed_by: req.user.map(|u| u.id),
            };
            orders.push((req.user_id.0, order.clone()));
            order
        })
    }
}

/// The orders service: `{ cmd: "list_orders" }`, `{ cmd: "create_order" }`, and the event
/// `order_created`; beside the seed's, the readiness probe `{ cmd: "health", service: "orders" }`.
#[injectable]
pub struct OrdersController {
    store: OrderStore,
}

#[controller]
impl OrdersController {
    #[message_pattern({ cmd: "list_orders" })]
    async fn list_orders(&self, #[payload] req: ListOrders) -> Vec<Order> {
        self.store.list(&req.user_id.0)
    }

    #[message_pattern({ cmd: "create_order" })]
    async fn create_order(&self, #[payload] req: CreateOrder) -> Order {
        self.store.create(req)
    }

    #[message_pattern({ cmd: "health", service: "orders" })]
    async fn health(&self) -> &'static str {
        "ok"
    }

    /// `TRANSPORT=grpc`: `seed.OrdersService/ListOrders`, the list in the reply's `orders`.
    #[grpc_method(seed::OrdersService, "ListOrders")]
    async fn list_orders_grpc(
        &self,
        req: seed::ListOrdersRequest,
    ) -> Result<seed::OrderList, RpcException> {
        let orders = self.store.list(&req.user_id);
        Ok(seed::OrderList {
            orders: orders.into_iter().map(seed::Order::from).collect(),
        })
    }

    /// `TRANSPORT=grpc`: `seed.OrdersService/CreateOrder`.
    #[grpc_method(seed::OrdersService, "CreateOrder")]
    async fn create_order_grpc(
        &self,
        req: seed::CreateOrderRequest,
    ) -> Result<seed::Order, RpcException> {
        let order = self.store.create(CreateOrder {
            user_id: Id(req.user_id),
            items: req.items,
            user: req.user.map(|user| VerifiedUser { id: user.id }),
        });
        Ok(order.into())
    }

    #[event_pattern("order_created")]
    async fn order_created(&self, #[payload] order: Order) {
        tracing::info!(order.id, items = ?order.items, "order_created received");
    }
}

impl From<Order> for seed::Order {
    fn from(order: Order) -> Self {
        seed::Order {
            id: order.id,
            items: order.items,
            placed_by: order.placed_by,
        }
    }
}

/// The orders service's module, with a fresh in-memory store.
#[module(controllers = [OrdersController], providers = [Provider::typed(OrderStore::default())])]
pub struct OrdersModule;

/// Binds the users service on `addr` (ready to `serve`).
pub async fn users_service(addr: &str) -> Result<TcpServer, Box<dyn std::error::Error>> {
    Ok(
        NestFactory::create_microservice::<UsersModule>(Transport::tcp(addr))
            .await?
            .bind()
            .await?,
    )
}

/// Binds the orders service on `addr` (ready to `serve`).
pub async fn orders_service(addr: &str) -> Result<TcpServer, Box<dyn std::error::Error>> {
    Ok(
        NestFactory::create_microservice::<OrdersModule>(Transport::tcp(addr))
            .await?
            .bind()
            .await?,
    )
}

/// The settings of this process (Nest's `ConfigService` after `ConfigModule.forRoot()`): the
/// environment, then a `.env` file in the working directory. Read when called, so a test
/// that sets a variable before booting is heard.
pub fn config() -> ConfigService {
    ConfigModule::for_root()
        .read()
        .unwrap_or_else(|error| panic!("the settings cannot be read: {error}"))
}

/// The broker URL when the system runs over NATS (`TRANSPORT=nats`, `NATS_URL`, default
/// `nats://127.0.0.1:4222`); `None` for TCP (the default).
pub fn nats_url(config: &ConfigService) -> Option<String> {
    match config.get_str("TRANSPORT") {
        Some("nats" | "NATS") => {
            Some(config.get_or("NATS_URL", "nats://127.0.0.1:4222".to_owned()))
        }
        _ => None,
    }
}

/// Whether the system runs over gRPC (`TRANSPORT=grpc`): each service a gRPC server on
/// `$<PREFIX>_HOST:$<PREFIX>_PORT` (`proto/seed.proto`), the gateway's clients bridging the
/// seed's patterns to its methods ([`gateway::grpc_patterns`]).
pub fn grpc(config: &ConfigService) -> bool {
    matches!(config.get_str("TRANSPORT"), Some("grpc" | "GRPC"))
}

/// A service's transport from the settings: NATS in queue group `queue` when
/// `TRANSPORT=nats` (so instances share the load), gRPC on `$<PREFIX>_HOST:$<PREFIX>_PORT` when
/// `TRANSPORT=grpc`, else TCP there.
pub fn service_transport(prefix: &str, default_port: u16, queue: &str) -> Transport {
    let config = config();
    if grpc(&config) {
        return Transport::grpc(addr(&config, prefix, default_port));
    }
    match nats_url(&config) {
        Some(url) => Transport::nats_queue(url, queue),
        None => Transport::tcp_with(addr(&config, prefix, default_port), tcp_options(&config)),
    }
}

/// The TCP server's limits, from the settings where given (the abuse suite sets them short):
/// `SERVICE_FRAME_DEADLINE_MS` (a frame's whole-arrival deadline) and
/// `SERVICE_MAX_BUFFERED_BYTES` (unfinished frames of all connections together).
fn tcp_options(config: &ConfigService) -> gateway_core::transport::tcp::ServerOptions {
    let mut options = gateway_core::transport::tcp::ServerOptions::default();
    if let Some(ms) = config.get::<u64>("SERVICE_FRAME_DEADLINE_MS") {
        options.frame_deadline = Some(std::time::Duration::from_millis(ms));
    }
    if let Some(bytes) = config.get::<usize>("SERVICE_MAX_BUFFERED_BYTES") {
        options.max_buffered_bytes = bytes;
    }
    options
}

/// A port setting, or the default (a malformed one is logged and replaced by the default).
pub fn port(config: &ConfigService, name: &str, default: u16) -> u16 {
    match config.get_or_throw(name) {
        Ok(port) => port,
        Err(ConfigError::Missing { .. }) => default,
        Err(error) => {
            tracing::warn!(%error, default, "using the default port");
            default
        }
    }
}

/// [`port`] from this process's settings.
pub fn env_port(name: &str, default: u16) -> u16 {
    port(&config(), name, default)
}

/// The address `$<PREFIX>_HOST:$<PREFIX>_PORT` (defaults 127.0.0.1 and `default_port`).
pub fn addr(config: &ConfigService, prefix: &str, default_port: u16) -> String {
    let host = config.get_or(&format!("{prefix}_HOST"), "127.0.0.1".to_owned());
    let port = port(config, &format!("{prefix}_PORT"), default_port);
    format!("{host}:{port}")
}

/// [`addr`] from this process's settings.
pub fn env_addr(prefix: &str, default_port: u16) -> String {
    addr(&config(), prefix, default_port)
}

/// What the `gateway` and `typed-gateway` binaries do: the token from `GATEWAY_TOKEN`, the
/// app from `create`, served on `GATEWAY_PORT` (default 3000) until Ctrl-C or SIGTERM, after
/// printing `<name> listening on http://localhost:<port>` as the seed's `main.ts` does.
/// `GATEWAY_HEADER_TIMEOUT_MS`, `GATEWAY_KEEP_ALIVE_TIMEOUT_MS` and `GATEWAY_BODY_TIMEOUT_MS`
/// set the HTTP header, keep-alive and body deadlines (`HttpLimits`; 0: none, but for the
/// body).
pub async fn run_gateway<F, Fut>(name: &str, create: F) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<NestApplication, BootError>>,
{
    init_logging();
    let config = config();
    let token = config
        .get_str("GATEWAY_TOKEN")
        .filter(|t| !t.is_empty())
        .ok_or("GATEWAY_TOKEN is not set: the gateway needs the bearer token it accepts")?
        .to_owned();
    let mut app = create(token).await?;
    let deadline = |name| {
        // 0: no deadline.
        config
            .get::<u64>(name)
            .map(|ms| (ms > 0).then(|| std::time::Duration::from_millis(ms)))
    };
    let (head, idle, body) = (
        deadline("GATEWAY_HEADER_TIMEOUT_MS"),
        deadline("GATEWAY_KEEP_ALIVE_TIMEOUT_MS"),
        deadline("GATEWAY_BODY_TIMEOUT_MS"),
    );
    if head.is_some() || idle.is_some() || body.is_some() {
        let defaults = gateway_core::app::HttpLimits::default();
        app.set_http_limits(gateway_core::app::HttpLimits {
            header_read_timeout: head.unwrap_or(defaults.header_read_timeout),
            keep_alive_timeout: idle.unwrap_or(defaults.keep_alive_timeout),
            body_read_timeout: body.flatten().unwrap_or(defaults.body_read_timeout),
            ..defaults
        });
    }
    let port = port(&config, "GATEWAY_PORT", 3000);
    let listener = gateway_core::app::bind_listener(format!("0.0.0.0:{port}")).await?;
    println!("{name} listening on http://localhost:{port}");
    #[cfg(feature = "metrics")]
    if let Some(metrics_port) = config.get::<u16>("GATEWAY_METRICS_PORT") {
        let metrics = tokio::net::TcpListener::bind(("0.0.0.0", metrics_port)).await?;
        app.enable_metrics_on(metrics)?;
        println!("metrics on http://localhost:{metrics_port}/metrics");
    } else if config.get_str("GATEWAY_METRICS") == Some("1") {
        app.enable_metrics()?;
        println!("metrics on http://localhost:{port}/metrics");
    }
    app.serve(listener, shutdown_signal()).await?;
    // The last spans, to the collector (feature `otlp`, when `OTEL_EXPORTER_OTLP_*` names one).
    #[cfg(feature = "otlp")]
    if let Some(otlp) = gateway_core::otlp::handle() {
        otlp.flush().await;
    }
    Ok(())
}

/// Logs as `LOG_FORMAT`, `RUST_LOG` and `LOG_SPANS` say ([`gateway_core::logging`]): text at
/// `info` by default, every request, downstream call and handled message a line when it ends.
pub fn init_logging() {
    if let Err(error) = gateway_core::logging::init() {
        eprintln!("{error}");
        std::process::exit(2);
    }
}
