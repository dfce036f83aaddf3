//! The testing module (`gateway_core::testing`, Nest's `@nestjs/testing`): the seed gateway
//! tested as a Nest team tests theirs, with its clients overridden by in-process services and
//! by mocks, its requests run without a socket; and every override.

use std::sync::Arc;
use std::time::Duration;

use examples::gateway::{AuthGuard, GatewayModule};
use examples::{OrdersModule, UsersModule};
use gateway_core::prelude::*;
use gateway_core::testing::{Test, TestApp};
use serde_json::{json, Value};

const TOKEN: &str = "test-token";
const SEED_PROFILE: &str = r#"{"id":"42","name":"Ada Lovelace","orderCount":2,"orders":[{"id":"o-1","items":["book"]},{"id":"o-2","items":["pen","ink"]}]}"#;

/// A service module's handlers, served in process.
async fn in_process<M: gateway_core::di::Module>(name: &str) -> ClientProxy {
    let service = Test::create_testing_module::<M>()
        .compile()
        .await
        .expect("the service module compiles");
    ClientProxy::in_process(name.to_owned(), service.message_router())
}

/// The seed gateway with `users` and `orders` as its clients, the seed's global guard on.
async fn gateway(users: ClientProxy, orders: ClientProxy) -> TestApp {
    let module = Test::create_testing_module::<GatewayModule>()
        .override_provider("USERS_SERVICE")
        .use_value(users)
        .override_provider("ORDERS_SERVICE")
        .use_value(orders)
        .compile()
        .await
        .expect("the gateway compiles");
    let mut app = module.create_nest_application();
    app.use_global_guards(AuthGuard::new(TOKEN));
    app.into_test()
}

#[tokio::test]
async fn the_seed_gateway_against_in_process_services() {
    let users = in_process::<UsersModule>("USERS_SERVICE").await;
    let orders = in_process::<OrdersModule>("ORDERS_SERVICE").await;
    let app = gateway(users, orders).await;

    let res = app.get("/users/42").send().await;
    assert_eq!(
        (res.status(), res.text()),
        (
            401,
            r#"{"message":"Invalid or missing token","error":"Unauthorized","statusCode":401}"#
        )
    );
    let res = app.get("/users/42").bearer(TOKEN).send().await;
    assert_eq!(
        (res.status(), res.text()),
        (200, r#"{"id":"42","name":"Ada Lovelace"}"#)
    );
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let res = app.get("/users/42/profile").bearer(TOKEN).send().await;
    assert_eq!((res.status(), res.text()), (200, SEED_PROFILE));
    let res = app.get("/users/7").bearer(TOKEN).send().await;
    assert_eq!(
        (res.status(), res.json::<Value>()),
        (
            404,
            json!({ "statusCode": 404, "message": "User 7 not found" })
        )
    );
    let res = app
        .post("/orders")
        .bearer(TOKEN)
        .json(&json!({ "userId": "42", "items": ["quill"] }))
        .send()
        .await;
    assert_eq!(
        (res.status(), res.text()),
        (201, r#"{"id":"o-3","items":["quill"]}"#)
    );
    // A malformed body is Nest's 400, in process as over a socket.
    let res = app
        .post("/orders")
        .bearer(TOKEN)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_seed_gateway_against_mocks() {
    let (users, users_mock) = ClientProxy::mock("USERS_SERVICE");
    let (orders, orders_mock) = ClientProxy::mock("ORDERS_SERVICE");
    users_mock
        .on(pattern!({ cmd: "get_user" }))
        .reply(&json!({ "id": "42", "name": "Grace Hopper", "extra": true }));
    orders_mock
        .on(pattern!({ cmd: "list_orders" }))
        .reply(&json!([{ "id": "o-9", "items": [] }]));
    orders_mock
        .on(pattern!({ cmd: "create_order" }))
        .reply(&json!({ "id": "o-10" }));
    let app = gateway(users, orders.clone()).await;

    // The service's reply, as it came (a field the service adds reaches the client).
    let res = app.get("/users/42").bearer(TOKEN).send().await;
    assert_eq!(
        res.text(),
        r#"{"id":"42","name":"Grace Hopper","extra":true}"#
    );
    let res = app.get("/users/42/profile").bearer(TOKEN).send().await;
    assert_eq!(
        res.text(),
        r#"{"id":"42","name":"Grace Hopper","orderCount":1,"orders":[{"id":"o-9","items":[]}]}"#
    );
    let res = app
        .post("/orders")
        .bearer(TOKEN)
        .json(&json!({ "userId": "42", "items": ["quill"] }))
        .send()
        .await;
    assert_eq!((res.status(), res.text()), (201, r#"{"id":"o-10"}"#));
    // What the gateway sent: the seed's payloads.
    assert_eq!(
        users_mock.requests(pattern!({ cmd: "get_user" })),
        [json!({ "id": "42" }), json!({ "id": "42" })]
    );
    assert_eq!(
        orders_mock.requests(pattern!({ cmd: "list_orders" })),
        [json!({ "userId": "42" })]
    );
    assert_eq!(
        orders_mock.requests(pattern!({ cmd: "create_order" })),
        [json!({ "userId": "42", "items": ["quill"] })]
    );

    // An error the service sends, and one it never answers.
    users_mock
        .on(pattern!({ cmd: "get_user" }))
        .reply_error(&json!({ "statusCode": 404, "message": "User 7 not found" }));
    let res = app.get("/users/7").bearer(TOKEN).send().await;
    assert_eq!(
        (res.status(), res.json::<Value>()),
        (
            404,
            json!({ "statusCode": 404, "message": "User 7 not found" })
        )
    );
    // Streams and events through a mock, directly.
    orders_mock.on("count").reply_stream([1, 2, 3]);
    let mut stream = orders.send_stream::<i64>("count", &()).await.unwrap();
    let mut values = Vec::new();
    while let Some(value) = futures_util::StreamExt::next(&mut stream).await {
        values.push(value.unwrap());
    }
    assert_eq!(values, [1, 2, 3]);
    orders
        .emit("order_shipped", &json!({ "id": "o-1" }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        orders_mock.events("order_shipped"),
        [json!({ "id": "o-1" })]
    );
    // A pattern without an answer fails the call, naming it.
    let err = orders.send::<Value>("nope", &()).await.unwrap_err();
    assert!(
        err.to_string().contains("the mock has no answer for nope"),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_mock_runs_the_call_to_its_deadline() {
    let (users, users_mock) = ClientProxy::mock("USERS_SERVICE");
    users_mock.on(pattern!({ cmd: "get_user" })).no_reply();
    let started = std::time::Instant::now();
    let err = users
        .send_with::<Value>(
            pattern!({ cmd: "get_user" }),
            &json!({ "id": "42" }),
            CallOptions::timeout(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RpcError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The body of `GET path` on the module's app, in process.
async fn get_text(module: gateway_core::testing::TestingModule, path: &str) -> String {
    let app = module.create_nest_application().into_test();
    app.get(path).send().await.text().to_owned()
}

#[derive(Clone, Debug, PartialEq)]
struct Greeting(&'static str);

#[injectable]
struct GreetingService {
    greeting: Greeting,
}

#[injectable]
struct GreetController {
    service: Arc<GreetingService>,
    #[inject("PUNCTUATION")]
    punctuation: String,
}

#[controller]
impl GreetController {
    #[get("greet/:name")]
    async fn greet(&self, #[param] name: String) -> String {
        format!("{}, {name}{}", self.service.greeting.0, self.punctuation)
    }
}

#[module(
    controllers = [GreetController],
    providers = [GreetingService, Provider::typed(Greeting("Hello")), Provider::value("PUNCTUATION", "!".to_owned())],
)]
struct GreetModule;

/// A module that provides another greeting, to stand in for [`GreetingsModule`].
#[module(providers = [Provider::typed(Greeting("Salut"))], exports = [Token::of::<Greeting>()])]
struct FrenchGreetingsModule;

#[module(providers = [Provider::typed(Greeting("Hello"))], exports = [Token::of::<Greeting>()])]
struct GreetingsModule;

#[module(
    imports = [GreetingsModule],
    controllers = [GreetController],
    providers = [GreetingService, Provider::value("PUNCTUATION", "!".to_owned())],
)]
struct ImportingModule;

#[tokio::test]
async fn providers_are_overridden_by_value_factory_and_class() {
    // `.overrideProvider(Greeting).useValue(..)`, `.overrideProvider('PUNCTUATION').useFactory(..)`.
    let module = Test::create_testing_module::<GreetModule>()
        .override_provider_type::<Greeting>()
        .use_value(Greeting("Hi"))
        .override_provider("PUNCTUATION")
        .use_factory(|greeting: Greeting| format!(" ({})", greeting.0.len()))
        .compile()
        .await
        .unwrap();
    assert_eq!(module.get::<Greeting>().unwrap(), Greeting("Hi"));
    assert_eq!(module.get_token::<String>("PUNCTUATION").unwrap(), " (2)");
    let service: Arc<GreetingService> = module.get().unwrap();
    assert_eq!(service.greeting, Greeting("Hi"));
    let app = module.create_nest_application().into_test();
    let res = app.get("/greet/Ada").send().await;
    assert_eq!((res.status(), res.text()), (200, "Hi, Ada (2)"));

    // `.overrideProvider(GreetingService).useFactory(..)`: the class's instance from a factory.
    let module = Test::create_testing_module::<GreetModule>()
        .override_provider_type::<Arc<GreetingService>>()
        .use_factory(|| {
            Arc::new(GreetingService {
                greeting: Greeting("Hey"),
            })
        })
        .compile()
        .await
        .unwrap();
    assert_eq!(get_text(module, "/greet/Bob").await, "Hey, Bob!");

    // `.overrideProvider('SERVICE').useClass(GreetingService)`: built by the container.
    let module = Test::create_testing_module::<GreetModule>()
        .override_provider("SERVICE")
        .use_class::<GreetingService>()
        .compile()
        .await
        .unwrap();
    let built: Arc<GreetingService> = module.get_token("SERVICE").unwrap();
    assert_eq!(built.greeting, Greeting("Hello"));
}

#[tokio::test]
async fn a_module_is_overridden_where_it_is_imported() {
    let module = Test::create_testing_module::<ImportingModule>()
        .override_module::<GreetingsModule, FrenchGreetingsModule>()
        .compile()
        .await
        .unwrap();
    assert_eq!(get_text(module, "/greet/Ada").await, "Salut, Ada!");
}

/// A guard that wants the `x-key` header to be its key, and the route it guards.
struct KeyGuard {
    key: &'static str,
}

impl CanActivate for KeyGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(ctx.headers().get("x-key").is_some_and(|k| k == self.key))
    }
}

#[injectable]
struct Vault;

#[controller]
#[guard(KeyGuard)]
impl Vault {
    #[get("vault")]
    async fn open(&self) -> &'static str {
        "gold"
    }
}

#[module(controllers = [Vault], providers = [Provider::typed(Arc::new(KeyGuard { key: "production-key" }))])]
struct VaultModule;

#[tokio::test]
async fn a_guard_is_overridden() {
    let app = Test::create_testing_module::<VaultModule>()
        .compile()
        .await
        .unwrap()
        .create_nest_application()
        .into_test();
    assert_eq!(
        app.get("/vault")
            .header("x-key", "test-key")
            .send()
            .await
            .status(),
        403
    );

    // `.overrideGuard(KeyGuard).useValue(..)`: our guards are types, so the stand-in is another
    // value of the guard's type.
    let app = Test::create_testing_module::<VaultModule>()
        .override_guard(KeyGuard { key: "test-key" })
        .compile()
        .await
        .unwrap()
        .create_nest_application()
        .into_test();
    let res = app.get("/vault").header("x-key", "test-key").send().await;
    assert_eq!((res.status(), res.text()), (200, "gold"));
}

#[tokio::test]
async fn an_override_missing_a_dependency_fails_compile_as_boot_fails() {
    let error = Test::create_testing_module::<GreetModule>()
        .override_provider("PUNCTUATION")
        .use_factory(|_: Arc<Vault>| "?".to_owned())
        .compile()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("can't resolve dependencies of the factory of PUNCTUATION"),
        "{error}"
    );
}

#[tokio::test]
async fn a_testing_module_from_a_list_of_controllers_and_providers() {
    // Test.createTestingModule({ controllers: [GreetController], providers: [..] })
    let module = Test::create_testing_module_with(|module| {
        module.controller::<GreetController>();
        module.provider::<GreetingService>();
        module.provide(Provider::typed(Greeting("Ahoy")));
        module.provide(Provider::value("PUNCTUATION", "?".to_owned()));
    })
    .compile()
    .await
    .unwrap();
    assert_eq!(get_text(module, "/greet/Ada").await, "Ahoy, Ada?");
}
