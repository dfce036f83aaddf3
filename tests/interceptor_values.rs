//! Interceptors that map the handler's value (Nest's `next.handle().pipe(map(..))`) on HTTP
//! routes and message handlers, and exception filters on message handlers: ours answer as
//! Nest's own (`nest-peer/intercepted.js`) do, byte for byte on HTTP, value for value on TCP.

use futures_util::stream::{self, Stream};
use gateway_core::axum::http::StatusCode;
use gateway_core::axum::response::Response;
use gateway_core::http::{value_response, TransformInterceptor};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

/// Adds the context's type to an object value.
#[injectable]
struct Stamp;

fn stamp(mut data: Value, kind: &str) -> Value {
    if let Some(object) = data.as_object_mut() {
        object.insert("stamped".into(), json!(kind));
    }
    data
}

impl NestInterceptor for Stamp {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        next.handle().await.map_value(|data| stamp(data, "http"))
    }

    async fn intercept_rpc(&self, _: &RpcContext, next: RpcNext) -> RpcReply {
        next.handle().await.map_value(|data| stamp(data, "rpc"))
    }
}

/// Answers a field of the value: a string.
#[injectable]
struct Name;

impl NestInterceptor for Name {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        next.handle().await.map_value(|data| data["name"].clone())
    }
}

/// Answers without calling the handler (Nest's `return of('cached')`).
#[injectable]
struct Cached;

impl NestInterceptor for Cached {
    async fn intercept(&self, _: &CallContext, _: Next) -> Response {
        value_response(StatusCode::OK, "cached")
    }

    async fn intercept_rpc(&self, _: &RpcContext, _: RpcNext) -> RpcReply {
        RpcReply::ok("cached")
    }
}

#[injectable]
struct ValuesController;

#[controller("v")]
impl ValuesController {
    #[get("object")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn object(&self) -> Value {
        json!({ "b": 1, "a": [1, 2], "id": "42" })
    }

    #[get("text")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn text(&self) -> &'static str {
        "hello"
    }

    #[get("number")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn number(&self) -> u32 {
        3
    }

    #[get("nothing")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn nothing(&self) {}

    #[post("created")]
    #[use_interceptors(TransformInterceptor::new(), Stamp)]
    async fn created(&self) -> Value {
        json!({ "id": "o-1", "items": ["book"] })
    }

    #[post("accepted")]
    #[http_code(202)]
    #[use_interceptors(Stamp)]
    async fn accepted(&self) -> Value {
        json!({ "id": "o-2" })
    }

    #[get("name")]
    #[use_interceptors(Name)]
    async fn name(&self) -> Value {
        json!({ "id": "42", "name": "Ada Lovelace" })
    }

    #[get("missing")]
    #[use_interceptors(TransformInterceptor::new())]
    async fn missing(&self) -> Result<Value, HttpException> {
        Err(HttpException::not_found("User not found"))
    }

    #[get("cached")]
    #[use_interceptors(TransformInterceptor::new(), Cached)]
    async fn cached(&self) -> &'static str {
        "fresh"
    }
}

#[module(controllers = [ValuesController], providers = [Stamp, Name, Cached])]
struct HttpModule;

/// Adds `filtered: "rpc"` to an object error.
#[injectable]
struct RpcFilter;

impl ExceptionFilter for RpcFilter {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<Response, HttpException> {
        Err(e)
    }

    async fn catch_rpc(&self, e: RpcException, _: &RpcContext) -> Result<RpcReply, RpcException> {
        let mut error = e.error().clone();
        error["filtered"] = json!("rpc");
        Err(RpcException::new(error))
    }
}

/// Answers a failed call with a value.
#[injectable]
struct Recover;

impl ExceptionFilter for Recover {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<Response, HttpException> {
        Err(e)
    }

    async fn catch_rpc(&self, e: RpcException, _: &RpcContext) -> Result<RpcReply, RpcException> {
        Ok(RpcReply::ok(&json!({ "recovered": e.error()["message"] })))
    }
}

#[injectable]
struct UsersController;

#[controller]
#[use_interceptors(TransformInterceptor::new())]
#[use_filters(RpcFilter)]
impl UsersController {
    #[message_pattern({ cmd: "user" })]
    async fn user(&self, #[payload] data: Value) -> Value {
        json!({ "id": data["id"].to_string(), "name": "Ada Lovelace" })
    }

    #[message_pattern({ cmd: "fail" })]
    async fn fail(&self) -> Result<Value, RpcException> {
        Err(RpcException::new(
            json!({ "statusCode": 404, "message": "User not found" }),
        ))
    }

    #[message_pattern({ cmd: "count" })]
    fn count(&self, n: u64) -> impl Stream<Item = Result<u64, RpcException>> + Send + 'static {
        stream::iter((1..=n).map(Ok))
    }

    #[message_pattern({ cmd: "cached" })]
    #[use_interceptors(Cached)]
    async fn cached(&self) -> &'static str {
        "fresh"
    }

    #[message_pattern({ cmd: "stamped" })]
    #[use_interceptors(Stamp)]
    async fn stamped(&self) -> Value {
        json!({ "id": "7" })
    }

    #[message_pattern({ cmd: "recover" })]
    #[use_filters(Recover)]
    async fn recover(&self) -> Result<Value, RpcException> {
        Err(RpcException::new(json!({ "message": "gone" })))
    }
}

#[module(controllers = [UsersController], providers = [Stamp, Cached, RpcFilter, Recover])]
struct RpcModule;

const PATHS: [(&str, &str); 9] = [
    ("GET", "/v/object"),
    ("GET", "/v/text"),
    ("GET", "/v/number"),
    ("GET", "/v/nothing"),
    ("POST", "/v/created"),
    ("POST", "/v/accepted"),
    ("GET", "/v/name"),
    ("GET", "/v/missing"),
    ("GET", "/v/cached"),
];

/// What a client sees of a response: status, the content headers and the body.
async fn seen(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let (status, head, body) = http_request(addr, method, path, &[], "").await;
    let content = |name| header(&head, name).map(str::to_owned);
    (
        status,
        content("content-type"),
        content("content-length"),
        body,
    )
}

#[tokio::test]
async fn interceptors_map_route_values_as_nests_do() {
    let ours = serve_app::<HttpModule>(|_| {}).await;
    let json = Some("application/json; charset=utf-8".to_owned());
    let html = Some("text/html; charset=utf-8".to_owned());
    let expected = [
        (200, json.clone(), r#"{"data":{"b":1,"a":[1,2],"id":"42"}}"#),
        (200, json.clone(), r#"{"data":"hello"}"#),
        (200, json.clone(), r#"{"data":3}"#),
        (200, json.clone(), "{}"),
        (
            201,
            json.clone(),
            r#"{"data":{"id":"o-1","items":["book"],"stamped":"http"}}"#,
        ),
        (202, json.clone(), r#"{"id":"o-2","stamped":"http"}"#),
        (200, html, "Ada Lovelace"),
        (
            404,
            json.clone(),
            r#"{"message":"User not found","error":"Not Found","statusCode":404}"#,
        ),
        (200, json, r#"{"data":"cached"}"#),
    ];
    for ((method, path), (status, content_type, body)) in PATHS.iter().zip(expected) {
        let length = Some(body.len().to_string());
        assert_eq!(
            seen(ours, method, path).await,
            (status, content_type, length, body.to_owned()),
            "{method} {path}"
        );
    }
    if !nest_available("interceptors_map_route_values_as_nests_do") {
        return;
    }
    for version in Nest::ALL {
        let port = free_port();
        let _nest = spawn_node_ready(version, "intercepted.js", &["http", &port.to_string()]).await;
        let nest: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        for (method, path) in PATHS {
            assert_eq!(
                seen(ours, method, path).await,
                seen(nest, method, path).await,
                "{method} {path} against Nest {version:?}"
            );
        }
    }
}

/// The outcomes `intercepted.js client` prints, which a Nest service and ours both give.
fn expected_rpc_outcomes() -> Value {
    json!({
        "user": { "ok": [{ "data": { "id": "42", "name": "Ada Lovelace" } }] },
        "fail": { "err": { "statusCode": 404, "message": "User not found", "filtered": "rpc" } },
        "count": { "ok": [{ "data": 1 }, { "data": 2 }, { "data": 3 }] },
        "cached": { "ok": [{ "data": "cached" }] },
        "stamped": { "ok": [{ "data": { "id": "7", "stamped": "rpc" } }] },
        "recover": { "ok": [{ "recovered": "gone" }] },
    })
}

async fn our_service() -> u16 {
    serve_microservice::<RpcModule>().await.port()
}

#[tokio::test]
async fn interceptors_and_filters_wrap_message_handlers() {
    let port = our_service().await;
    let client = ClientProxy::new(ClientOptions::tcp("USERS", format!("127.0.0.1:{port}")));
    let user: Value = client
        .send(json!({ "cmd": "user" }), &json!({ "id": 42 }))
        .await
        .unwrap();
    assert_eq!(user, expected_rpc_outcomes()["user"]["ok"][0]);
    let cached: Value = client
        .send(json!({ "cmd": "cached" }), &json!({}))
        .await
        .unwrap();
    assert_eq!(cached, json!({ "data": "cached" }));
    let recovered: Value = client
        .send(json!({ "cmd": "recover" }), &json!({}))
        .await
        .unwrap();
    assert_eq!(recovered, json!({ "recovered": "gone" }));
    let failed = client
        .send::<Value>(json!({ "cmd": "fail" }), &json!({}))
        .await
        .unwrap_err();
    let RpcError::Remote { error, .. } = failed else {
        panic!("a remote error, not {failed:?}")
    };
    assert_eq!(error, expected_rpc_outcomes()["fail"]["err"]);
}

#[tokio::test]
async fn a_nest_client_sees_our_intercepted_handlers_as_it_sees_nests() {
    if !nest_available("a_nest_client_sees_our_intercepted_handlers_as_it_sees_nests") {
        return;
    }
    let ours = our_service().await;
    for version in Nest::ALL {
        let port = free_port();
        let _nest =
            spawn_node_ready(version, "intercepted.js", &["serve", &port.to_string()]).await;
        let outcomes = |port: u16| async move {
            let out = run_node(
                version,
                "intercepted.js",
                &["client", &port.to_string()],
                "",
            )
            .await;
            serde_json::from_str::<Value>(&out).expect("intercepted.js prints JSON")
        };
        let nest = outcomes(port).await;
        assert_eq!(nest, expected_rpc_outcomes(), "Nest {version:?}");
        assert_eq!(outcomes(ours).await, nest, "ours against Nest {version:?}");
    }
}

// --- the order of the RPC pipeline's parts ---

/// What the traced parts did, in order.
static TRACE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn trace(what: String) {
    TRACE.lock().unwrap().push(what);
}

/// A guard, interceptor and filter that records each call and changes nothing.
#[derive(Clone)]
struct Trace(&'static str);

impl CanActivate for Trace {
    async fn can_activate(&self, _: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        trace(format!("guard {}", self.0));
        Ok(true)
    }
}

impl NestInterceptor for Trace {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        next.handle().await
    }

    async fn intercept_rpc(&self, _: &RpcContext, next: RpcNext) -> RpcReply {
        trace(format!("interceptor {}", self.0));
        next.handle().await
    }
}

impl ExceptionFilter for Trace {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<Response, HttpException> {
        Err(e)
    }

    async fn catch_rpc(&self, e: RpcException, _: &RpcContext) -> Result<RpcReply, RpcException> {
        trace(format!("filter {}", self.0));
        Err(e)
    }
}

#[injectable]
struct ControllerGuard;

impl CanActivate for ControllerGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Trace("controller").can_activate(ctx).await
    }
}

#[injectable]
struct HandlerGuard;

impl CanActivate for HandlerGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Trace("handler").can_activate(ctx).await
    }
}

#[injectable]
struct TracedController;

#[controller]
#[guard(ControllerGuard)]
#[use_interceptors(Trace("controller"))]
#[use_filters(Trace("controller"))]
impl TracedController {
    /// The hybrid app's route.
    #[get("health")]
    async fn health(&self) -> &'static str {
        "ok"
    }

    #[message_pattern("traced")]
    #[guard(HandlerGuard)]
    #[use_interceptors(Trace("handler"))]
    #[use_filters(Trace("handler"))]
    async fn traced(&self) -> Result<Value, RpcException> {
        trace("handler".into());
        Err(RpcException::new("boom"))
    }
}

#[module(controllers = [TracedController], providers = [ControllerGuard, HandlerGuard])]
struct TracedModule;

/// Nest's order: every guard (global, controller, handler), then every interceptor (same
/// order) around the handler, then the filters from the handler's outward (at each level the
/// one registered last first); on a microservice and on a hybrid app that inherits its app's
/// globals.
#[tokio::test]
async fn guards_then_interceptors_then_filters_from_global_to_handler() {
    let expected = [
        "guard global",
        "guard controller",
        "guard handler",
        "interceptor global",
        "interceptor controller",
        "interceptor handler",
        "handler",
        "filter handler",
        "filter controller",
        "filter global 2",
        "filter global 1",
    ];
    let call = |port: u16| async move {
        TRACE.lock().unwrap().clear();
        let client = ClientProxy::new(ClientOptions::tcp("TRACED", format!("127.0.0.1:{port}")));
        let error = client.send::<Value>("traced", &()).await.unwrap_err();
        assert!(matches!(error, RpcError::Remote { .. }), "{error:?}");
        TRACE.lock().unwrap().clone()
    };

    let mut service =
        NestFactory::create_microservice::<TracedModule>(Transport::tcp("127.0.0.1:0"))
            .await
            .unwrap();
    service
        .use_global_guards(Trace("global"))
        .use_global_interceptors(Trace("global"))
        .use_global_filters(Trace("global 1"))
        .use_global_filters(Trace("global 2"));
    let server = service.bind().await.unwrap();
    let port = server.local_addr().port();
    tokio::spawn(server.serve());
    assert_eq!(call(port).await, expected, "microservice");

    let mut app = NestFactory::create::<TracedModule>().await.unwrap();
    app.use_global_guards(Trace("global"))
        .use_global_interceptors(Trace("global"))
        .use_global_filters(Trace("global 1"));
    let port = free_port();
    // The app's global filter, inherited, then the microservice's own: the own one is asked
    // first, as Nest asks the one registered last.
    app.connect_microservice_with(
        Transport::tcp(format!("127.0.0.1:{port}")),
        HybridAppOptions {
            inherit_app_config: true,
        },
    )
    .use_global_filters(Trace("global 2"));
    app.start_all_microservices().await.unwrap();
    assert_eq!(call(port).await, expected, "hybrid app, inheriting");
    app.close().await;
}

// --- Nest's `global-config-applied.spec.ts` ---

/// A spy guard, interceptor and filter: Nest's `SpyGuard`, `SpyInterceptor`, `SpyFilter`.
#[derive(Clone, Default)]
struct Spy(std::sync::Arc<[std::sync::atomic::AtomicBool; 3]>);

impl Spy {
    fn called(&self, which: usize) -> bool {
        self.0[which].load(std::sync::atomic::Ordering::SeqCst)
    }

    fn call(&self, which: usize) {
        self.0[which].store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl CanActivate for Spy {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        if ctx.get_type() == ContextType::Rpc {
            self.call(0);
        }
        Ok(true)
    }
}

impl NestInterceptor for Spy {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        next.handle().await
    }

    async fn intercept_rpc(&self, _: &RpcContext, next: RpcNext) -> RpcReply {
        self.call(1);
        next.handle().await
    }
}

impl ExceptionFilter for Spy {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<Response, HttpException> {
        Err(e)
    }

    async fn catch_rpc(&self, e: RpcException, _: &RpcContext) -> Result<RpcReply, RpcException> {
        self.call(2);
        Err(e)
    }
}

/// `global-config-applied.spec.ts`: the suite's app with a TCP microservice connected, given
/// global guards, interceptors and filters of its own (`microservice.useGlobalGuards(..)`);
/// a call through the app's route reaches the handler through each of them, and an exception
/// through the filter (the spec's `command=exception` names no handler, which Nest answers
/// before any filter; a payload the handler cannot take is our exception instead).
#[tokio::test]
async fn global_config_applied_spec() {
    let port = free_port();
    std::env::set_var("MICROSERVICE_PORT", port.to_string());
    let mut app = NestFactory::create::<examples::nest_suite::ApplicationModule>()
        .await
        .unwrap();
    let spy = Spy::default();
    app.connect_microservice(Transport::tcp(format!("0.0.0.0:{port}")))
        .use_global_guards(spy.clone())
        .use_global_interceptors(spy.clone())
        .use_global_filters(spy.clone());
    app.start_all_microservices().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let json = [("Content-Type", "application/json")];
    let sum = http_request(server, "POST", "/?command=sum", &json, "[1,2,3,4,5]").await;
    assert_eq!((sum.0, sum.2.as_str()), (200, "15"));
    assert!(spy.called(0), "Guard called");
    assert!(spy.called(1), "Interceptor called");
    assert!(!spy.called(2), "no exception yet");
    // Our service answers a payload it cannot decode with Nest's 400 body, which the
    // gateway relays.
    let failed = http_request(server, "POST", "/?command=sum", &json, r#"{"a":1}"#).await;
    assert_eq!(failed.0, 400, "{failed:?}");
    assert!(spy.called(2), "Filter called");
}

// --- a panicking interceptor ---

/// An interceptor that panics on message handlers.
#[injectable]
struct Panics;

impl NestInterceptor for Panics {
    async fn intercept(&self, _: &CallContext, next: Next) -> Response {
        next.handle().await
    }

    async fn intercept_rpc(&self, _: &RpcContext, _: RpcNext) -> RpcReply {
        panic!("an interceptor's bug")
    }
}

#[injectable]
struct FragileController;

#[controller]
impl FragileController {
    #[message_pattern("fragile")]
    #[use_interceptors(Panics)]
    async fn fragile(&self) -> u32 {
        1
    }

    #[message_pattern("sturdy")]
    async fn sturdy(&self) -> u32 {
        2
    }
}

#[module(controllers = [FragileController], providers = [Panics])]
struct FragileModule;

/// A panic in an interceptor is Nest's generic error for that call, as a handler's panic is;
/// the service keeps serving.
#[tokio::test]
async fn a_panicking_interceptor_fails_its_call_only() {
    let addr = serve_microservice::<FragileModule>().await;
    let client = ClientProxy::new(ClientOptions::tcp("FRAGILE", addr.to_string()));
    for _ in 0..2 {
        let error = client.send::<u32>("fragile", &()).await.unwrap_err();
        let RpcError::Remote { error, .. } = error else {
            panic!("a remote error, not {error:?}")
        };
        assert_eq!(
            error,
            json!({ "status": "error", "message": "Internal server error" })
        );
        assert_eq!(client.send::<u32>("sturdy", &()).await.unwrap(), 2);
    }
}
