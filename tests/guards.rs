//! Guards over real HTTP: a controller-wide bearer-token guard that attaches the user, a
//! route guard, `#[user]`, global guards, and a guard missing from the providers.

use std::net::SocketAddr;

use gateway_core::prelude::*;
use gateway_tests::*;

#[derive(Clone, Debug, PartialEq)]
struct User {
    id: String,
    admin: bool,
}

#[injectable]
struct AuthGuard;

impl CanActivate for AuthGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let token = ctx
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let user = match token {
            Some("user-token") => User {
                id: "u1".into(),
                admin: false,
            },
            Some("admin-token") => User {
                id: "a1".into(),
                admin: true,
            },
            _ => return Err(HttpException::unauthorized("Invalid or missing token")),
        };
        ctx.set_user(user);
        Ok(true)
    }
}

#[injectable]
struct AdminGuard;

impl CanActivate for AdminGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        assert_eq!(ctx.controller(), "AccountController");
        Ok(ctx.user::<User>().is_some_and(|u| u.admin))
    }
}

/// Blocks any request carrying `x-blocked`, everywhere.
struct BlockList;

impl CanActivate for BlockList {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(!ctx.headers().contains_key("x-blocked"))
    }
}

#[injectable]
struct AccountController;

#[controller("account")]
#[guard(AuthGuard)]
impl AccountController {
    #[get("me")]
    async fn me(&self, #[user] user: User) -> String {
        format!("{} admin={}", user.id, user.admin)
    }

    #[get("admin")]
    #[guard(AdminGuard)]
    async fn admin(&self, #[user] user: User) -> String {
        format!("welcome {}", user.id)
    }
}

#[injectable]
struct PublicController;

#[controller]
impl PublicController {
    #[get("health")]
    async fn health(&self) -> &'static str {
        "ok"
    }
}

#[module(controllers = [AccountController, PublicController], providers = [AuthGuard, AdminGuard])]
struct AppModule;

async fn start() -> SocketAddr {
    let mut app = NestFactory::create::<AppModule>().await.expect("boots");
    app.use_global_guards(BlockList);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

async fn get(app: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = http_request(app, "GET", path, headers, "").await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_protect_routes_like_nest() {
    init_tracing();
    let app = start().await;
    let user = [("Authorization", "Bearer user-token")];
    let admin = [("Authorization", "Bearer admin-token")];

    assert_eq!(
        get(app, "/account/me", &[]).await,
        (
            401,
            r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#
                .into()
        )
    );
    assert_eq!(
        get(app, "/account/me", &[("Authorization", "Bearer nope")])
            .await
            .0,
        401
    );
    assert_eq!(
        get(app, "/account/me", &user).await,
        (200, "u1 admin=false".into())
    );
    assert_eq!(
        get(app, "/account/admin", &user).await,
        (
            403,
            r#"{"message":"Forbidden resource","error":"Forbidden","statusCode":403}"#.into()
        )
    );
    assert_eq!(
        get(app, "/account/admin", &admin).await,
        (200, "welcome a1".into())
    );
    // Controllers without guards are open; the global guard applies everywhere.
    assert_eq!(get(app, "/health", &[]).await, (200, "ok".into()));
    assert_eq!(get(app, "/health", &[("x-blocked", "1")]).await.0, 403);
    assert_eq!(
        get(app, "/account/me", &[("x-blocked", "1"), user[0]])
            .await
            .0,
        403
    );
}

#[module(controllers = [AccountController], providers = [AuthGuard])]
struct ForgotAGuardModule;

#[tokio::test]
async fn a_guard_missing_from_the_providers_fails_the_boot() {
    let error = NestFactory::create::<ForgotAGuardModule>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("can't resolve dependencies of AccountController (field `#[guard(AdminGuard)]` needs alloc::sync::Arc<guards::AdminGuard>)"),
        "{error}"
    );
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
