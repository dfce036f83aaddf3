//! The request pipeline on message and event handlers, as Nest runs it: guards (a
//! controller's, a handler's, a microservice's global ones, a hybrid app's when it inherits
//! the app's) with Nest's RPC execution context and answers, checked against Nest's own
//! guarded service; and validated payloads (`Valid<T>`, Nest's `ValidationPipe`).

use gateway_core::http::ValidationOptions;
use gateway_core::prelude::*;
use gateway_tests::*;

#[derive(Clone, Debug, PartialEq)]
struct User {
    id: String,
    admin: bool,
}

/// Lets every HTTP request through: the hybrid app's route.
#[injectable]
struct PublicController;

#[controller]
impl PublicController {
    #[get("health")]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

// --- the same guards on message and event handlers (Nest's RPC execution context) ---

/// An RPC-aware guard, as Nest's docs write one: the key comes from the payload
/// (`switchToRpc().getData()`) or from the packet's metadata (a header to the guard).
#[injectable]
struct ApiKeyGuard;

impl CanActivate for ApiKeyGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let key = match ctx.get_type() {
            ContextType::Http => ctx
                .headers()
                .get("x-api-key")
                .map(|v| v.as_bytes().to_vec()),
            ContextType::Rpc => {
                let rpc = ctx.switch_to_rpc().expect("an RPC call has an RPC context");
                let data: serde_json::Value = rpc.get_data().unwrap_or_default();
                data["apiKey"]
                    .as_str()
                    .or_else(|| ctx.headers().get("x-api-key").and_then(|v| v.to_str().ok()))
                    .map(|k| k.as_bytes().to_vec())
            }
        };
        let ok = key.as_deref() == Some(b"k-1");
        if ok {
            ctx.set_user(User {
                id: "svc".into(),
                admin: false,
            });
        }
        Ok(ok)
    }
}

/// Refuses callers that are not admins: a handler-level guard after the controller's.
#[injectable]
struct AdminOnly;

impl CanActivate for AdminOnly {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let roles: Vec<&str> = ctx
            .reflector()
            .get_all_and_override("roles")
            .map(|r| r.strs().collect())
            .unwrap_or_default();
        Ok(roles.contains(&"admin") && ctx.user::<User>().is_some_and(|u| u.admin))
    }
}

static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A hybrid controller: one guard for its route, its request handler and its event handler.
#[injectable]
struct HybridController;

#[controller("hybrid")]
#[guard(ApiKeyGuard)]
impl HybridController {
    #[get("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[message_pattern({ cmd: "whoami" })]
    async fn whoami(&self, #[ctx] ctx: MessageContext) -> Result<String, RpcException> {
        Ok(ctx.user::<User>().map(|u| u.id.clone()).unwrap_or_default())
    }

    #[message_pattern({ cmd: "wipe" })]
    #[guard(AdminOnly)]
    #[roles("admin")]
    async fn wipe(&self) -> Result<bool, RpcException> {
        Ok(true)
    }

    #[message_pattern({ cmd: "boom" })]
    #[guard(Failing)]
    async fn boom(&self) -> Result<bool, RpcException> {
        Ok(true)
    }

    #[event_pattern("audit")]
    async fn audit(&self, #[payload] data: serde_json::Value) {
        SEEN.lock()
            .unwrap()
            .push(data["what"].as_str().unwrap_or("?").to_owned());
    }
}

#[module(controllers = [HybridController], providers = [ApiKeyGuard, AdminOnly, Failing])]
struct HybridModule;

async fn hybrid_client() -> (ClientProxy, gateway_core::testing::TestApp) {
    let module = gateway_core::testing::Test::create_testing_module::<HybridModule>()
        .compile()
        .await
        .unwrap();
    let client = ClientProxy::in_process("HYBRID", module.message_router());
    (client, module.create_nest_application().into_test())
}

fn remote(error: RpcError) -> serde_json::Value {
    match error {
        RpcError::Remote { error, .. } => error,
        other => panic!("expected the service's error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_controller_guard_protects_its_message_and_event_handlers_too() {
    let (client, http) = hybrid_client().await;
    let whoami = serde_json::json!({ "cmd": "whoami" });
    // No key: refused with Nest's RPC answer, as Nest's RpcContextCreator throws it.
    let refused = client
        .send::<String>(whoami.clone(), &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        remote(refused),
        serde_json::json!({ "status": "error", "message": "Forbidden resource" })
    );
    // The key in the payload; the user the guard attached reaches the handler's context.
    let me: String = client
        .send(whoami.clone(), &serde_json::json!({ "apiKey": "k-1" }))
        .await
        .unwrap();
    assert_eq!(me, "svc");
    // The key in the packet's metadata, read by the guard as a header.
    let me: String = client
        .send_with(
            whoami,
            &serde_json::json!({}),
            CallOptions::default().metadata("x-api-key", "k-1"),
        )
        .await
        .unwrap();
    assert_eq!(me, "svc");
    // The route is guarded by the same guard.
    assert_eq!(http.get("/hybrid/ping").send().await.status(), 403);
    let res = http
        .get("/hybrid/ping")
        .header("x-api-key", "k-1")
        .send()
        .await;
    assert_eq!((res.status(), res.text()), (200, "pong"));
    // Events: a refused one never reaches the handler.
    client
        .emit("audit", &serde_json::json!({ "what": "refused" }))
        .await
        .unwrap();
    client
        .emit(
            "audit",
            &serde_json::json!({ "what": "let in", "apiKey": "k-1" }),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(*SEEN.lock().unwrap(), ["let in"]);
}

#[tokio::test]
async fn a_handler_guard_runs_after_the_controller_guard_and_reads_the_handler_metadata() {
    let (client, _) = hybrid_client().await;
    let refused = client
        .send::<bool>(
            serde_json::json!({ "cmd": "wipe" }),
            &serde_json::json!({ "apiKey": "k-1" }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        remote(refused),
        serde_json::json!({ "status": "error", "message": "Forbidden resource" })
    );
}

/// A guard that fails instead of saying no: Nest answers an exception that is not an
/// `RpcException` with its generic error.
#[injectable]
struct Failing;

impl CanActivate for Failing {
    async fn can_activate(&self, _: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Err(HttpException::unauthorized("no"))
    }
}

#[injectable]
struct PlainController;

#[controller]
impl PlainController {
    #[message_pattern("sum")]
    async fn sum(&self, #[payload] numbers: Vec<i64>) -> Result<i64, RpcException> {
        Ok(numbers.iter().sum())
    }
}

#[module(controllers = [PlainController])]
struct PlainModule;

#[module(controllers = [PlainController, PublicController])]
struct PlainHybridModule;

#[tokio::test]
async fn a_microservice_global_guard_runs_in_front_of_every_handler() {
    let mut service =
        NestFactory::create_microservice::<PlainModule>(Transport::tcp("127.0.0.1:0"))
            .await
            .unwrap();
    service.use_global_guards(Failing);
    let server = service.bind().await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve());
    let client = ClientProxy::new(ClientOptions::tcp("MATH", addr.to_string()));
    let error = client.send::<i64>("sum", &[1, 2, 3]).await.unwrap_err();
    assert_eq!(
        remote(error),
        serde_json::json!({ "status": "error", "message": "Internal server error" })
    );
}

#[tokio::test]
async fn a_hybrid_app_applies_its_global_guards_to_handlers_only_when_inheriting() {
    for (inherit, expected) in [(false, Ok(6)), (true, Err("Internal server error"))] {
        let mut app = NestFactory::create::<PlainHybridModule>().await.unwrap();
        app.use_global_guards(Failing);
        let port = free_port();
        app.connect_microservice_with(
            Transport::tcp(format!("127.0.0.1:{port}")),
            HybridAppOptions {
                inherit_app_config: inherit,
            },
        );
        app.start_all_microservices().await.unwrap();
        let client = ClientProxy::new(ClientOptions::tcp("MATH", format!("127.0.0.1:{port}")));
        let got = client
            .send::<i64>("sum", &[1, 2, 3])
            .await
            .map_err(|e| remote(e)["message"].as_str().unwrap().to_owned());
        assert_eq!(
            got,
            expected.map_err(str::to_owned),
            "inherit_app_config: {inherit}"
        );
        app.close().await;
    }
}

/// The same Nest client against Nest's guarded service (`nest-peer/guarded.js`) and ours: a
/// caller without the key is refused, with the key served, and a guard that throws is Nest's
/// generic error, byte for byte the same on both.
#[tokio::test]
async fn a_nest_client_sees_our_guarded_handlers_as_it_sees_nests() {
    if !nest_available("a_nest_client_sees_our_guarded_handlers_as_it_sees_nests") {
        return;
    }
    for version in Nest::ALL {
        let nest_port = free_port();
        let _nest =
            spawn_node_ready(version, "guarded.js", &["serve", &nest_port.to_string()]).await;
        let ours = NestFactory::create_microservice::<HybridModule>(Transport::tcp("127.0.0.1:0"))
            .await
            .unwrap()
            .bind()
            .await
            .unwrap();
        let our_port = ours.local_addr().port();
        tokio::spawn(ours.serve());
        let outcomes = |port: u16| async move {
            let out = run_node(version, "guarded.js", &["client", &port.to_string()], "").await;
            serde_json::from_str::<serde_json::Value>(&out).expect("guarded.js prints JSON")
        };
        let nest = outcomes(nest_port).await;
        assert_eq!(
            nest,
            serde_json::json!({
                "noKey": { "err": { "status": "error", "message": "Forbidden resource" } },
                "wrongKey": { "err": { "status": "error", "message": "Forbidden resource" } },
                "withKey": { "ok": "svc" },
                "failingGuard": { "err": { "status": "error", "message": "Internal server error" } },
            }),
            "Nest {version:?}"
        );
        assert_eq!(
            outcomes(our_port).await,
            nest,
            "ours against Nest {version:?}"
        );
    }
}

// --- validated payloads ---

#[derive(Debug, serde::Deserialize, validator::Validate)]
struct CreateOrder {
    #[validate(length(min = 1, message = "userId should not be empty"))]
    #[serde(rename = "userId")]
    user_id: String,
    #[validate(length(min = 1, message = "items must contain at least 1 elements"))]
    items: Vec<String>,
}

#[injectable]
struct OrdersController;

#[controller]
impl OrdersController {
    #[message_pattern({ cmd: "create_order" })]
    async fn create(&self, #[payload] order: Valid<CreateOrder>) -> Result<usize, RpcException> {
        Ok(order.into_inner().items.len())
    }
}

#[module(controllers = [OrdersController])]
struct OrdersModule;

/// `@Payload(new ValidationPipe()) dto: CreateOrderDto`: a payload that breaks the DTO's rules
/// is answered with the pipe's 400 body, which a Nest gateway answers as a 400.
#[tokio::test]
async fn a_valid_payload_reaches_the_handler_and_an_invalid_one_gets_the_pipes_400() {
    let module = gateway_core::testing::Test::create_testing_module::<OrdersModule>()
        .compile()
        .await
        .unwrap();
    let client = ClientProxy::in_process("ORDERS", module.message_router());
    let pattern = serde_json::json!({ "cmd": "create_order" });
    let count: usize = client
        .send(
            pattern.clone(),
            &serde_json::json!({ "userId": "42", "items": ["book", "pen"] }),
        )
        .await
        .unwrap();
    assert_eq!(count, 2);
    let error = client
        .send::<usize>(
            pattern.clone(),
            &serde_json::json!({ "userId": "", "items": [] }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        remote(error),
        serde_json::json!({
            "statusCode": 400,
            "message": ["items must contain at least 1 elements", "userId should not be empty"],
            "error": "Bad Request",
        })
    );
    let error = client
        .send::<usize>(pattern, &serde_json::json!({ "items": ["x"] }))
        .await
        .unwrap_err();
    assert_eq!(remote(error)["statusCode"], 400);
}

/// `useGlobalPipes(new ValidationPipe({ forbidNonWhitelisted: true }))` on a microservice, and
/// on a hybrid app that inherits it: a payload with a property the DTO does not declare is
/// refused, naming it; without the setting it is ignored.
#[tokio::test]
async fn a_microservices_validation_settings_reach_its_payloads() {
    let order = serde_json::json!({ "userId": "42", "items": ["book"], "coupon": "FREE" });
    let pattern = serde_json::json!({ "cmd": "create_order" });
    let refused = serde_json::json!({
        "statusCode": 400,
        "message": ["property coupon should not exist"],
        "error": "Bad Request",
    });
    let strict = ValidationOptions {
        forbid_unknown: true,
    };
    for configured in [false, true] {
        let mut service =
            NestFactory::create_microservice::<OrdersModule>(Transport::tcp("127.0.0.1:0"))
                .await
                .unwrap();
        if configured {
            service.use_validation(strict);
        }
        let server = service.bind().await.unwrap();
        let addr = server.local_addr();
        tokio::spawn(server.serve());
        let client = ClientProxy::new(ClientOptions::tcp("ORDERS", addr.to_string()));
        let answer = client.send::<usize>(pattern.clone(), &order).await;
        match configured {
            true => assert_eq!(remote(answer.unwrap_err()), refused),
            false => assert_eq!(answer.unwrap(), 1),
        }
    }
    // A hybrid app's `use_validation`, inherited.
    let mut app = NestFactory::create::<OrdersHybridModule>().await.unwrap();
    app.use_validation(strict);
    let port = free_port();
    app.connect_microservice_with(
        Transport::tcp(format!("127.0.0.1:{port}")),
        HybridAppOptions {
            inherit_app_config: true,
        },
    );
    app.start_all_microservices().await.unwrap();
    let client = ClientProxy::new(ClientOptions::tcp("ORDERS", format!("127.0.0.1:{port}")));
    let error = client.send::<usize>(pattern, &order).await.unwrap_err();
    assert_eq!(remote(error), refused);
    app.close().await;
}

#[module(controllers = [OrdersController, PublicController])]
struct OrdersHybridModule;
