//! `NestFactory::create`: modules, providers and controllers resolved at boot, with clear
//! errors for what cannot be; the booted app serving Nest's HTTP.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

static USERS_ADDR: OnceLock<String> = OnceLock::new();

fn users_addr() -> String {
    USERS_ADDR
        .get()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:9".into())
}

#[derive(Clone)]
struct Greeting(&'static str);

#[injectable]
struct GreetingService {
    greeting: Greeting,
}

impl GreetingService {
    fn greet(&self, name: &str) -> String {
        format!("{}, {name}", self.greeting.0)
    }
}

#[injectable]
struct GatewayController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    greetings: Arc<GreetingService>,
}

#[controller]
impl GatewayController {
    #[get("users/:id")]
    async fn get_user(&self, #[param] id: u64) -> Result<Value, HttpException> {
        Ok(self
            .users
            .send(pattern!({ cmd: "get_user" }), &json!({ "id": id }))
            .await?)
    }

    #[get("greet/:name")]
    async fn greet(&self, #[param] name: String) -> String {
        self.greetings.greet(&name)
    }

    #[get("slow")]
    async fn slow(&self) -> &'static str {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "done"
    }
}

#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", users_addr())])],
    providers = [GreetingService, Provider::typed(Greeting("Hello"))],
    exports = [ClientsModule, GreetingService],
)]
struct ServicesModule;

#[module(imports = [ServicesModule], controllers = [GatewayController])]
struct AppModule;

async fn users_service() -> String {
    let router =
        MessageRouter::new().message(pattern!({ cmd: "get_user" }), |req: Value| async move {
            Ok::<_, RpcException>(json!({ "id": req["id"], "name": "Ada Lovelace" }))
        });
    let server = TcpServer::bind("127.0.0.1:0", router).await.unwrap();
    let addr = server.local_addr().to_string();
    tokio::spawn(server.serve());
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_tree_boots_and_serves() {
    init_tracing();
    USERS_ADDR.set(users_service().await).unwrap();
    let app = NestFactory::create::<AppModule>().await.expect("boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    let (status, _, body) = http_request(addr, "GET", "/users/42", &[], "").await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"id":42,"name":"Ada Lovelace"}"#)
    );
    let (status, _, body) = http_request(addr, "GET", "/greet/Ada", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "Hello, Ada"));
    // Express is not strict about a trailing slash; neither are we.
    let (status, _, body) = http_request(addr, "GET", "/greet/Ada/?x=1", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "Hello, Ada"));
    let (status, _, body) = http_request(addr, "GET", "/nope", &[], "").await;
    assert_eq!(
        (status, body.as_str()),
        (
            404,
            r#"{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}"#
        )
    );

    // Shutdown drains the request in flight.
    let in_flight = tokio::spawn(http_request(addr, "GET", "/slow", &[], ""));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    let (status, _, body) = in_flight.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "done"));
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

// --- boot failures ---

#[module(controllers = [GatewayController], providers = [GreetingService, Provider::typed(Greeting("Hi"))])]
struct MissingClientModule;

#[tokio::test]
async fn a_missing_token_names_the_class_field_token_and_module() {
    let error = NestFactory::create::<MissingClientModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "can't resolve dependencies of GatewayController (field `users` needs USERS_SERVICE): please make sure that USERS_SERVICE is available in the MissingClientModule context. Potential solution: if USERS_SERVICE is a provider, is it part of the current MissingClientModule (`providers = [..]`)? If it is exported from a separate module, is that module imported within MissingClientModule (`imports = [..]`)?"
    );
}

#[injectable]
struct Chicken {
    egg: Arc<Egg>,
}

#[injectable]
struct Egg {
    chicken: Arc<Chicken>,
}

#[injectable]
struct FarmController {
    chicken: Arc<Chicken>,
}

#[controller]
impl FarmController {
    #[get("farm")]
    async fn farm(&self) -> bool {
        Arc::strong_count(&self.chicken.egg.chicken) > 0
    }
}

#[module(controllers = [FarmController], providers = [Chicken, Egg])]
struct CycleModule;

#[tokio::test]
async fn a_cycle_is_reported_with_its_path() {
    let error = NestFactory::create::<CycleModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "circular dependency: Chicken -> Egg -> Chicken");
}

#[injectable]
struct OtherController;

#[controller]
impl OtherController {
    #[get("greet/:name")]
    async fn hello(&self, #[param] name: String) -> String {
        name
    }
}

#[module(
    imports = [ServicesModule],
    controllers = [GatewayController, OtherController],
)]
struct DuplicateModule;

#[tokio::test]
async fn a_route_served_twice_names_both_handlers() {
    let error = NestFactory::create::<DuplicateModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "duplicate route GET /greet/:name: served by both GatewayController::greet and OtherController::hello");
}

#[injectable]
struct RenamedController;

#[controller]
impl RenamedController {
    #[post("greet/:who")]
    async fn post(&self, #[param] who: String) -> String {
        who
    }
}

#[module(imports = [ServicesModule], controllers = [GatewayController, RenamedController])]
struct ConflictModule;

#[tokio::test]
async fn routes_that_name_the_same_parameter_differently_are_refused() {
    let error = NestFactory::create::<ConflictModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "routes /greet/:name (GatewayController::greet) and /greet/:who (RenamedController::post) are the same path with different parameter names: use the same names");
}

#[injectable]
struct EmptyController;

#[controller]
impl EmptyController {}

#[module(controllers = [EmptyController])]
struct EmptyModule;

#[module(imports = [ServicesModule])]
struct NothingModule;

#[tokio::test]
async fn controllers_without_routes_and_apps_without_controllers_are_refused() {
    let error = NestFactory::create::<EmptyModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "EmptyController is listed in EmptyModule but has no route: mark its methods with #[get(..)], #[post(..)], ...");
    let error = NestFactory::create::<NothingModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "NothingModule and its imports list no controller with anything to serve"
    );
}

#[test]
fn every_controller_in_the_binary_is_known_to_inventory() {
    let names: Vec<&str> = gateway_core::http::registered_controllers()
        .iter()
        .map(|c| c.meta.name)
        .collect();
    for expected in [
        "GatewayController",
        "FarmController",
        "OtherController",
        "RenamedController",
        "EmptyController",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let routes = gateway_core::http::registered_controllers()
        .iter()
        .find(|c| c.meta.name == "GatewayController")
        .map(|c| c.meta.routes.len());
    assert_eq!(routes, Some(3));
}

#[injectable]
struct ForgottenController;

#[controller]
impl ForgottenController {
    #[get("forgotten")]
    async fn forgotten(&self) -> &'static str {
        "never served"
    }
}

/// Where a test's log lines go.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn only_a_controller_no_module_lists_is_reported_as_forgotten() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);
    let app = NestFactory::create::<AppModule>().await.unwrap();
    drop(app);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Listed by no module: a forgotten `controllers = [..]` entry.
    assert!(
        logs.contains("ForgottenController is a #[controller] but no module lists it"),
        "{logs}"
    );
    // Listed by modules AppModule does not import (another app in the same binary): quiet.
    for other in [
        "FarmController",
        "OtherController",
        "RenamedController",
        "EmptyController",
    ] {
        assert!(!logs.contains(other), "{other} reported: {logs}");
    }
}

/// A broker that cannot be reached is a connect error naming it, with the client library's
/// own error kept as the source: not "cannot listen on" (nothing is listened on), not a panic.
#[tokio::test]
async fn an_unreachable_broker_is_a_connect_error_that_keeps_its_cause() {
    for transport in [
        gateway_core::app::Transport::nats("nats://127.0.0.1:1"),
        gateway_core::app::Transport::redis("redis://127.0.0.1:1"),
        gateway_core::app::Transport::mqtt("mqtt://127.0.0.1:1"),
        gateway_core::app::Transport::rmq("amqp://127.0.0.1:1", "users"),
    ] {
        let service =
            gateway_core::app::NestFactory::create_microservice::<examples::UsersModule>(transport)
                .await
                .unwrap();
        let error = service.start().await.unwrap_err();
        let gateway_core::app::BootError::Server(gateway_core::server::ServerError::Connect {
            url,
            ..
        }) = &error
        else {
            panic!("expected a connect error, got {error:?}");
        };
        assert!(url.ends_with("127.0.0.1:1"), "{url}");
        assert!(
            error.to_string().starts_with("cannot connect to "),
            "{error}"
        );
        let cause = std::error::Error::source(&error).expect("the client library's error is kept");
        assert!(!cause.to_string().is_empty());
    }
}

/// A value made by a factory from other providers (Nest's `useFactory` with `inject`).
#[derive(Clone, Debug)]
struct Banner(String);

#[injectable]
struct BannerController {
    #[inject("BANNER")]
    banner: Banner,
    greetings: Arc<GreetingService>,
}

#[controller]
impl BannerController {
    #[get("banner")]
    async fn banner(&self) -> String {
        format!("{} / {}", self.banner.0, self.greetings.greet("banner"))
    }
}

static FACTORY_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[module(
    controllers = [BannerController],
    providers = [
        GreetingService,
        Provider::typed(Greeting("Hey")),
        Provider::factory("BANNER", |greeting: Greeting, service: Arc<GreetingService>| {
            FACTORY_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Banner(format!("{}! {}", greeting.0, service.greet("factory")))
        }),
        Provider::typed_factory(|greeting: Greeting| greeting.0.len()),
    ],
)]
struct FactoryModule;

#[tokio::test]
async fn factories_get_their_arguments_from_the_container_and_run_once() {
    let app = NestFactory::create::<FactoryModule>().await.expect("boots");
    // The factory ran at boot, once, with the typed value and the class it asked for.
    assert_eq!(FACTORY_RUNS.load(std::sync::atomic::Ordering::SeqCst), 1);
    let banner: Banner = app.container().get_token("BANNER").unwrap();
    assert_eq!(banner.0, "Hey! Hey, factory");
    // The container gives the same instance the controller got, and builds on demand what
    // nothing asked for at boot (the typed factory).
    let service: Arc<GreetingService> = app.container().get().unwrap();
    assert_eq!(service.greet("x"), "Hey, x");
    assert_eq!(app.container().get::<usize>().unwrap(), 3);
    assert_eq!(FACTORY_RUNS.load(std::sync::atomic::Ordering::SeqCst), 1);
    let error = app.container().get_token::<Banner>("NOPE").unwrap_err();
    assert!(error.to_string().contains("needs NOPE"), "{error}");
    let error = app.container().get_token::<String>("BANNER").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("expects alloc::string::String for BANNER"),
        "{error}"
    );
}

#[module(
    controllers = [BannerController],
    providers = [
        GreetingService,
        Provider::typed(Greeting("Hey")),
        Provider::factory("BANNER", |missing: Arc<Egg>| Banner(format!("{}", Arc::strong_count(&missing)))),
    ],
)]
struct FactoryMissingModule;

#[tokio::test]
async fn a_factory_missing_an_argument_is_named_with_its_token() {
    let error = NestFactory::create::<FactoryMissingModule>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("can't resolve dependencies of the factory of BANNER (field `alloc::sync::Arc<boot::Egg>` needs alloc::sync::Arc<boot::Egg>)"),
        "{error}"
    );
}

#[derive(Clone)]
struct Ping;

#[injectable]
struct Hen {
    #[inject("PING")]
    _ping: Ping,
}

#[module(
    controllers = [HenController],
    providers = [Hen, Provider::factory("PING", |_: Arc<Hen>| Ping)],
)]
struct FactoryCycleThroughClassModule;

#[injectable]
struct HenController {
    _hen: Arc<Hen>,
}

#[controller]
impl HenController {
    #[get("hen")]
    async fn hen(&self) -> &'static str {
        "hen"
    }
}

#[tokio::test]
async fn a_cycle_through_a_factory_names_the_factory_by_its_token() {
    let error = NestFactory::create::<FactoryCycleThroughClassModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(error, "circular dependency: Hen -> PING -> Hen");
}

/// `@Optional()`: a field that is `None` when nothing provides it.
#[derive(Clone, Debug, PartialEq)]
struct Cache(&'static str);

#[injectable]
struct OptionalController {
    #[optional]
    cache: Option<Cache>,
    #[optional]
    #[inject("METRICS")]
    metrics: Option<String>,
    #[inject("GREETER")]
    greeter: Arc<GreetingService>,
}

#[controller]
impl OptionalController {
    #[get("optional")]
    async fn optional(&self) -> String {
        format!(
            "{:?} {:?} {}",
            self.cache,
            self.metrics,
            self.greeter.greet("alias")
        )
    }
}

#[module(
    controllers = [OptionalController],
    providers = [
        GreetingService,
        Provider::typed(Greeting("Hi")),
        // `{ provide: 'GREETER', useExisting: GreetingService }`, by its type's token.
        Provider::factory("GREETER", |service: Arc<GreetingService>| service),
        Provider::value("METRICS", "on".to_owned()),
        Provider::existing::<String>("STATS", "METRICS"),
    ],
)]
struct OptionalModule;

#[tokio::test]
async fn optional_fields_are_none_when_missing_and_aliases_share_the_instance() {
    let module = gateway_core::testing::Test::create_testing_module::<OptionalModule>()
        .compile()
        .await
        .unwrap();
    // The alias is the same instance.
    let greeter: Arc<GreetingService> = module.get_token("GREETER").unwrap();
    let service: Arc<GreetingService> = module.get().unwrap();
    assert!(Arc::ptr_eq(&greeter, &service));
    assert_eq!(module.get_token::<String>("STATS").unwrap(), "on");
    let app = module.create_nest_application().into_test();
    assert_eq!(
        app.get("/optional").send().await.text(),
        r#"None Some("on") Hi, alias"#
    );
    // Provided, the optional field gets it.
    let module = gateway_core::testing::Test::create_testing_module::<OptionalModule>()
        .override_provider_type::<Cache>()
        .use_value(Cache("redis"))
        .compile()
        .await
        .unwrap();
    let app = module.create_nest_application().into_test();
    assert_eq!(
        app.get("/optional").send().await.text(),
        r#"Some(Cache("redis")) Some("on") Hi, alias"#
    );
}

/// An async factory: a pool that connects before anything is built.
#[derive(Clone, Debug)]
struct DbPool {
    url: String,
    connected_after: Duration,
}

#[injectable]
struct ReposController {
    pool: DbPool,
    #[inject("REPLICA")]
    replica: DbPool,
}

#[controller]
impl ReposController {
    #[get("pool")]
    async fn pool(&self) -> String {
        format!(
            "{} {:?} / {}",
            self.pool.url, self.pool.connected_after, self.replica.url
        )
    }
}

#[module(
    controllers = [ReposController],
    providers = [
        GreetingService,
        Provider::typed(Greeting("postgres://db")),
        Provider::typed_async_factory(|greeting: Greeting, _service: Arc<GreetingService>| async move {
            let started = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(DbPool {
                url: greeting.0.to_owned(),
                connected_after: Duration::from_millis(started.elapsed().as_millis().min(20) as u64),
            })
        }),
        // A later async factory may take an earlier one.
        Provider::async_factory("REPLICA", |pool: DbPool| async move {
            Ok::<_, std::io::Error>(DbPool { url: format!("{}-replica", pool.url), ..pool })
        }),
    ],
)]
struct AsyncModule;

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::test]
async fn async_factories_are_awaited_at_boot_before_the_classes() {
    // Booting stays a `Send` future (it can run in a spawned task).
    let app = assert_send(NestFactory::create::<AsyncModule>())
        .await
        .expect("boots");
    let res = app.into_test().get("/pool").send().await;
    assert_eq!(res.text(), "postgres://db 20ms / postgres://db-replica");
}

#[module(
    controllers = [ReposController],
    providers = [
        Provider::typed_async_factory(|| async {
            Err::<DbPool, _>(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"))
        }),
        Provider::async_factory("REPLICA", |pool: DbPool| async move { Ok::<_, std::io::Error>(pool) }),
    ],
)]
struct FailingAsyncModule;

#[module(
    controllers = [ReposController],
    providers = [
        Provider::async_factory("REPLICA", |pool: DbPool| async move { Ok::<_, std::io::Error>(pool) }),
        Provider::typed_async_factory(|| async { Ok::<_, std::io::Error>(DbPool { url: "x".into(), connected_after: Duration::ZERO }) }),
    ],
)]
struct MisorderedAsyncModule;

#[tokio::test]
async fn a_failing_or_misordered_async_factory_fails_the_boot() {
    let error = NestFactory::create::<FailingAsyncModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "the async factory of boot::DbPool failed: connection refused"
    );
    let error = NestFactory::create::<MisorderedAsyncModule>()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("the async factory of REPLICA needs boot::DbPool, an async provider that is not ready yet"),
        "{error}"
    );
}
