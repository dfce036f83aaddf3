//! The gRPC transport (feature `grpc`): our server and client, and each against real Nest
//! (`@nestjs/microservices` with `@grpc/grpc-js` and `@grpc/proto-loader`, pinned), on the
//! `math` package of Nest's own microservices suite (`examples/proto/math.proto`).

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use gateway_core::grpc::{
    ClientGrpc, GrpcChannel, GrpcClientOptions, GrpcMethod, GrpcRequest, GrpcRequests, GrpcService,
};
use gateway_core::prelude::*;
use gateway_tests::{
    compile_peer, free_port, http_request, serve_microservice_on, spawn_node_ready, Nest, TsPeer,
};

#[path = "support/seed_checks.rs"]
mod seed_checks;
use serde_json::json;

gateway_core::include_protos!();

use math::{
    DivideResult, RequestDivide, RequestSum, StreamDivideRequest, StreamDivideResponse, SumResult,
};

/// Calls of `Divide` that slept as their metadata asked and went on (a call dropped at its
/// deadline never does).
static SLEPT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The `Math` service as a Nest team writes it (Nest's `GrpcController`), in Rust.
#[injectable]
struct MathController;

#[controller]
impl MathController {
    #[grpc_method(math::Math)]
    async fn sum(&self, #[payload] request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult {
            result: request.data.iter().sum(),
        })
    }

    #[grpc_method(math::Math, "Divide")]
    async fn divide(
        &self,
        #[payload] request: RequestDivide,
        #[ctx] ctx: MessageContext,
    ) -> Result<DivideResult, RpcException> {
        if let Some(ms) = ctx.header("x-sleep-ms") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            SLEPT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        if request.divisor == 0 {
            return Err(RpcException::new(
                json!({ "code": 3, "message": "dividing by 0 is not possible" }),
            ));
        }
        let plus = i32::from(ctx.header("x-tag") == Some("plus-one"));
        // Reply metadata (Nest's `call.sendMetadata`): the quotient's remainder.
        let remainder = (request.dividend % request.divisor).to_string();
        gateway_core::grpc::set_reply_metadata("x-remainder", remainder);
        Ok(DivideResult {
            result: request.dividend / request.divisor + plus,
        })
    }

    #[grpc_method(math::Math)]
    fn stream_divide(
        &self,
        #[payload] request: StreamDivideRequest,
    ) -> impl Stream<Item = Result<StreamDivideResponse, RpcException>> {
        futures_util::stream::iter(request.data).map(|division| {
            if division.divisor == 0 {
                return Err(RpcException::new(
                    json!({ "code": 3, "message": "dividing by 0 is not possible" }),
                ));
            }
            Ok(StreamDivideResponse {
                data: Some(DivideResult {
                    result: division.dividend / division.divisor,
                }),
            })
        })
    }

    // Nest's `@GrpcStreamMethod('Math')`: a sum per message, as they come.
    #[grpc_stream_method(math::Math)]
    fn sum_stream(
        &self,
        #[payload] requests: GrpcRequests<RequestSum>,
    ) -> impl Stream<Item = Result<SumResult, RpcException>> {
        requests.map(|request| {
            Ok(SumResult {
                result: request.data.iter().sum(),
            })
        })
    }
}

#[module(controllers = [MathController])]
struct MathModule;

/// Our `Math` service on a free port: its address and its stop handle.
async fn our_math_service() -> (std::net::SocketAddr, ShutdownHandle) {
    serve_microservice_on::<MathModule>(Transport::grpc("127.0.0.1:0")).await
}

/// `SumStream` with three messages: a sum for each, as they come.
async fn bidirectional_sums(math: &math::Math::Client) {
    let requests = futures_util::stream::iter((1..=3).map(|n| RequestSum {
        data: (1..=n).collect(),
    }));
    let replies = math.sum_stream(requests).await.unwrap();
    let sums: Vec<i32> = replies.map(|sum| sum.unwrap().result).collect().await;
    assert_eq!(sums, [1, 3, 6]);
}

/// 64 sums at once on the client's one connection, each answered right.
async fn sixty_four_sums(math: &math::Math::Client) {
    let calls = (0..64).map(|i| {
        let math = math.clone();
        async move {
            math.sum(RequestSum { data: vec![i, i] })
                .await
                .unwrap()
                .result
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(results, (0..64).map(|i| 2 * i).collect::<Vec<_>>());
}

/// A method `math.Math` does not have, called through a client of our own.
struct Product;

impl GrpcMethod for Product {
    type Request = RequestSum;
    type Response = SumResult;
    const SERVICE: &'static str = "Math";
    const METHOD: &'static str = "Product";
    const PATH: &'static str = "/math.Math/Product";
    const CLIENT_STREAMING: bool = false;
    const SERVER_STREAMING: bool = false;
}

struct Raw(GrpcChannel);

impl GrpcService for Raw {
    const NAME: &'static str = "math.Math";
    fn from_channel(channel: GrpcChannel) -> Self {
        Raw(channel)
    }
}

fn client(addr: impl std::fmt::Display) -> math::Math::Client {
    ClientGrpc::new("MATH_PACKAGE", GrpcClientOptions::new(addr.to_string())).get_service()
}

#[tokio::test]
async fn our_client_and_server_speak_every_kind_of_call() {
    gateway_tests::init_tracing();
    let (addr, stop) = our_math_service().await;
    let math = client(addr);

    // The JSON shape of Nest's proto-loader (defaults left out, camelCase), which a gateway
    // answers with.
    assert_eq!(
        serde_json::to_string(&SumResult { result: 0 }).unwrap(),
        "{}"
    );
    let divide = StreamDivideResponse {
        data: Some(DivideResult { result: 2 }),
    };
    assert_eq!(
        serde_json::to_string(&divide).unwrap(),
        r#"{"data":{"result":2}}"#
    );

    // Nest's sum-grpc fact: [1..5] sums to 15.
    let sum = math
        .sum(RequestSum {
            data: vec![1, 2, 3, 4, 5],
        })
        .await
        .unwrap();
    assert_eq!(sum.result, 15);

    let quotient = math
        .divide(RequestDivide {
            dividend: 9,
            divisor: 3,
        })
        .await
        .unwrap();
    assert_eq!(quotient.result, 3);

    // An RpcException with a gRPC code is that status, with its message.
    let error = math
        .divide(RequestDivide {
            dividend: 1,
            divisor: 0,
        })
        .await
        .unwrap_err();
    match &error {
        RpcError::Grpc {
            code,
            message,
            method,
            ..
        } => {
            assert_eq!(
                (*code, message.as_str()),
                (3, "dividing by 0 is not possible")
            );
            assert_eq!(method, "/math.Math/Divide");
        }
        other => panic!("expected a gRPC status, got {other:?}"),
    }
    let http = HttpException::from(error);
    assert_eq!(http.status(), 400);
    assert_eq!(
        http.body(),
        &json!({ "statusCode": 400, "message": "dividing by 0 is not possible" })
    );

    // A server stream: each value as it comes, then the error that ends it.
    let divisions = vec![
        RequestDivide {
            dividend: 8,
            divisor: 2,
        },
        RequestDivide {
            dividend: 9,
            divisor: 3,
        },
        RequestDivide {
            dividend: 1,
            divisor: 0,
        },
        RequestDivide {
            dividend: 4,
            divisor: 4,
        },
    ];
    let items: Vec<_> = math
        .stream_divide(StreamDivideRequest { data: divisions })
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 3, "the error ends the stream: {items:?}");
    assert_eq!(items[0].as_ref().unwrap().data.as_ref().unwrap().result, 4);
    assert_eq!(items[1].as_ref().unwrap().data.as_ref().unwrap().result, 3);
    assert!(
        matches!(&items[2], Err(RpcError::Grpc { code: 3, .. })),
        "{:?}",
        items[2]
    );

    // Bidirectional (`#[grpc_stream_method]`).
    bidirectional_sums(&math).await;

    // A method the service does not have: UNIMPLEMENTED (501 at a gateway).
    let raw: Raw =
        ClientGrpc::new("MATH_PACKAGE", GrpcClientOptions::new(addr.to_string())).get_service();
    let error = raw
        .0
        .unary::<Product, _>(RequestSum { data: vec![2, 3] })
        .await
        .unwrap_err();
    assert!(
        matches!(error, RpcError::Grpc { code: 12, .. }),
        "{error:?}"
    );
    assert_eq!(HttpException::from(error).status(), 501);

    // Metadata a handler set for its reply.
    let (quotient, metadata) = raw
        .0
        .unary_with_metadata::<math::Math::Divide, _>(RequestDivide {
            dividend: 7,
            divisor: 2,
        })
        .await
        .unwrap();
    assert_eq!(quotient.result, 3);
    assert_eq!(metadata, [("x-remainder".to_owned(), "1".to_owned())]);
    assert!(
        !gateway_core::grpc::set_reply_metadata("x", "y"),
        "outside a handler"
    );
    stop.shutdown();
}

#[tokio::test]
async fn deadlines_metadata_and_a_dead_service() {
    let (addr, stop) = our_math_service().await;
    let math = client(addr);

    // Metadata reaches the handler's context; a call past its deadline fails with Timeout
    // (a gateway's 504) and the server drops the handler.
    let started = std::time::Instant::now();
    let slept = SLEPT.load(std::sync::atomic::Ordering::SeqCst);
    let error = math
        .divide(
            GrpcRequest::new(RequestDivide {
                dividend: 4,
                divisor: 2,
            })
            .metadata("x-sleep-ms", "400")
            .timeout(Duration::from_millis(150)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, RpcError::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(HttpException::from(error).status(), 504);
    // The server dropped the handler at the caller's deadline (`grpc-timeout`): it never
    // woke from its sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(SLEPT.load(std::sync::atomic::Ordering::SeqCst), slept);
    let fast = math
        .divide(
            GrpcRequest::new(RequestDivide {
                dividend: 4,
                divisor: 2,
            })
            .metadata("x-sleep-ms", "10"),
        )
        .await
        .unwrap();
    assert_eq!(fast.result, 2);

    // 64 calls at once on one connection.
    sixty_four_sums(&math).await;

    // The service gone: UNAVAILABLE, a gateway's 503, fast.
    stop.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let dead = client(addr);
    let started = std::time::Instant::now();
    let error = dead.sum(RequestSum { data: vec![1] }).await.unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(HttpException::from(error).status(), 503);
}

/// Nest's `ClientGrpc` (a Nest HTTP app's, `grpc-math.gateway.ts`) calling our service, on
/// Nest 11 and 12.
#[tokio::test]
async fn nest_client_grpc_calls_our_service() {
    gateway_tests::require_nest!("nest_client_grpc_calls_our_service");
    for version in Nest::ALL {
        nest_client_grpc_calls_our_service_on(version).await;
    }
}

async fn nest_client_grpc_calls_our_service_on(version: Nest) {
    let (addr, stop) = our_math_service().await;
    let dist = compile_peer(TsPeer::Suite, version);
    let http_port = free_port();
    let _gateway = spawn_node_ready(
        version,
        &format!("{dist}/grpc-math.gateway.js"),
        &[&addr.to_string(), &http_port.to_string()],
    )
    .await;
    let http: std::net::SocketAddr = ([127, 0, 0, 1], http_port).into();
    let post = |path: &'static str, body: serde_json::Value| async move {
        let (status, _, body) = http_request(
            http,
            "POST",
            path,
            &[("content-type", "application/json")],
            &body.to_string(),
        )
        .await;
        (status, body)
    };

    // Nest's sum-grpc spec: `POST /sum` [1..5] answers 200 {"result":15}.
    assert_eq!(
        post("/sum", json!([1, 2, 3, 4, 5])).await,
        (200, r#"{"result":15}"#.into())
    );
    // Metadata from Nest's client reaches our handler.
    let divided = post(
        "/divide",
        json!({ "dividend": 9, "divisor": 3, "tag": "plus-one" }),
    )
    .await;
    assert_eq!(divided, (200, r#"{"result":4}"#.into()));
    // Our RpcException { code, message } is the status grpc-js reports.
    let error = post("/divide", json!({ "dividend": 1, "divisor": 0 })).await;
    assert_eq!(
        error,
        (
            200,
            r#"{"code":3,"details":"dividing by 0 is not possible"}"#.into()
        )
    );
    // A server stream: the values, then the error that ended it (Nest's math-grpc spec).
    let stream = post(
        "/stream-divide",
        json!({ "data": [{ "dividend": 8, "divisor": 2 }, { "dividend": 1, "divisor": 0 }] }),
    )
    .await;
    assert_eq!(
        stream,
        (
            200,
            r#"{"items":[{"data":{"result":4}}],"error":{"code":3,"details":"dividing by 0 is not possible"}}"#.into()
        )
    );
    // Bidirectional, Nest's client streaming to our `#[grpc_stream_method]`.
    let sums = post("/sum-stream", json!([[1], [1, 2], [1, 2, 3]])).await;
    assert_eq!(
        sums,
        (200, r#"[{"result":1},{"result":3},{"result":6}]"#.into())
    );
    let (status, body) = post("/sum-many", json!({ "count": 64 })).await;
    assert_eq!(status, 200);
    let sums: Vec<i32> = serde_json::from_str(&body).unwrap();
    assert_eq!(sums, (0..64).map(|i| 2 * i).collect::<Vec<_>>());
    stop.shutdown();
}

/// Our `ClientGrpc` calling Nest's `math` service (`grpc-math.service.ts`), on Nest 11 and 12.
#[tokio::test]
async fn our_client_calls_a_nest_grpc_service() {
    gateway_tests::require_nest!("our_client_calls_a_nest_grpc_service");
    for version in Nest::ALL {
        our_client_calls_a_nest_grpc_service_on(version).await;
    }
}

async fn our_client_calls_a_nest_grpc_service_on(version: Nest) {
    let dist = compile_peer(TsPeer::Suite, version);
    let port = free_port();
    let _service = spawn_node_ready(
        version,
        &format!("{dist}/grpc-math.service.js"),
        &[&format!("127.0.0.1:{port}")],
    )
    .await;
    let math = client(format!("127.0.0.1:{port}"));

    let sum = math
        .sum(RequestSum {
            data: vec![1, 2, 3, 4, 5],
        })
        .await
        .unwrap();
    assert_eq!(sum.result, 15);
    let tagged = math
        .divide(
            GrpcRequest::new(RequestDivide {
                dividend: 9,
                divisor: 3,
            })
            .metadata("x-tag", "plus-one"),
        )
        .await
        .unwrap();
    assert_eq!(tagged.result, 4);
    // Nest's `RpcException({ code: INVALID_ARGUMENT, message })` (math-grpc's
    // "3 INVALID_ARGUMENT: dividing by 0 is not possible").
    let error = math
        .divide(RequestDivide {
            dividend: 1,
            divisor: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RpcError::Grpc { code: 3, message, .. } if message == "dividing by 0 is not possible"),
        "{error:?}"
    );
    // A Nest handler past our deadline: Timeout, at the deadline.
    let started = std::time::Instant::now();
    let error = math
        .divide(
            GrpcRequest::new(RequestDivide {
                dividend: 4,
                divisor: 2,
            })
            .metadata("x-sleep-ms", "2000")
            .timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, RpcError::Timeout { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Server streaming, ended by an error.
    let items: Vec<_> = math
        .stream_divide(StreamDivideRequest {
            data: vec![
                RequestDivide {
                    dividend: 8,
                    divisor: 2,
                },
                RequestDivide {
                    dividend: 1,
                    divisor: 0,
                },
            ],
        })
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().data.as_ref().unwrap().result, 4);
    assert!(
        matches!(&items[1], Err(RpcError::Grpc { code: 3, .. })),
        "{:?}",
        items[1]
    );

    // Bidirectional (Nest's `@GrpcStreamMethod`).
    bidirectional_sums(&math).await;

    // 64 calls at once.
    sixty_four_sums(&math).await;
}

/// Nest's `GrpcController` (`POST /sum` over `ClientGrpc`) in Rust: the client injected from
/// `ClientsModule`, the service's statuses answered by the gRPC → HTTP table.
#[injectable]
struct MathGateway {
    #[inject("MATH_PACKAGE")]
    client: ClientGrpc,
}

#[controller]
impl MathGateway {
    #[post("sum")]
    #[http_code(200)]
    async fn sum(&self, #[body] data: Vec<i32>) -> Result<SumResult, HttpException> {
        let math: math::Math::Client = self.client.get_service();
        Ok(math.sum(RequestSum { data }).await?)
    }

    #[post("divide")]
    #[http_code(200)]
    async fn divide(&self, #[body] division: RequestDivide) -> Result<DivideResult, HttpException> {
        let math: math::Math::Client = self.client.get_service();
        Ok(math.divide(division).await?)
    }
}

#[tokio::test]
async fn a_gateway_injects_client_grpc_and_answers_statuses_as_http() {
    let (addr, stop) = our_math_service().await;

    #[module(
        imports = [ClientsModule::register_grpc([(
            "MATH_PACKAGE",
            GrpcClientOptions::new(MATH_URL.get().cloned().unwrap_or_default()),
        )])],
        controllers = [MathGateway],
    )]
    struct GatewayModule;

    static MATH_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MATH_URL.set(addr.to_string()).unwrap();
    let app = NestFactory::create::<GatewayModule>().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let post = |path: &'static str, body: &'static str| async move {
        let (status, _, body) = http_request(
            http,
            "POST",
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await;
        (status, body)
    };

    assert_eq!(
        post("/sum", "[1,2,3,4,5]").await,
        (200, r#"{"result":15}"#.into())
    );
    assert_eq!(
        post("/divide", r#"{"dividend":9,"divisor":3}"#).await,
        (200, r#"{"result":3}"#.into())
    );
    // INVALID_ARGUMENT → 400 with the status's message, in Nest's body.
    assert_eq!(
        post("/divide", r#"{"dividend":1,"divisor":0}"#).await,
        (
            400,
            r#"{"statusCode":400,"message":"dividing by 0 is not possible"}"#.into()
        )
    );
    // The service gone: UNAVAILABLE → 503 naming the client.
    stop.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = post("/sum", "[1]").await;
    assert_eq!(
        (status, body.as_str()),
        (
            503,
            r#"{"message":"MATH_PACKAGE is unavailable","error":"Service Unavailable","statusCode":503}"#
        )
    );
}

/// The seed system over gRPC, configured as a user would (`TRANSPORT=grpc`): the same
/// services and gateway as `seed.rs`, the services gRPC servers of `proto/seed.proto`, the
/// gateway's `ClientProxy`s bridging its patterns to their methods; the same HTTP answers.
/// (The only test of this binary that reads the environment.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_gateway_answers_the_same_over_grpc() {
    use examples::{gateway, service_transport, OrdersModule, UsersModule};
    let (users_port, orders_port) = (free_port(), free_port());
    std::env::set_var("TRANSPORT", "grpc");
    std::env::set_var("USERS_SERVICE_PORT", users_port.to_string());
    std::env::set_var("ORDERS_SERVICE_PORT", orders_port.to_string());

    let users = NestFactory::create_microservice::<UsersModule>(service_transport(
        "USERS_SERVICE",
        3001,
        "users",
    ))
    .await
    .unwrap()
    .start()
    .await
    .unwrap();
    let orders = NestFactory::create_microservice::<OrdersModule>(service_transport(
        "ORDERS_SERVICE",
        3002,
        "orders",
    ))
    .await
    .unwrap()
    .start()
    .await
    .unwrap();
    assert!(users.tcp().is_none(), "TRANSPORT=grpc gives gRPC services");
    assert_eq!(users.local_addr().map(|a| a.port()), Some(users_port));
    let stop_orders = orders.shutdown_handle();
    tokio::spawn(users.serve());
    let orders_task = tokio::spawn(orders.serve());

    let app = gateway::create(seed_checks::TOKEN)
        .await
        .expect("the gateway boots");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));

    seed_checks::check_seed_gateway(addr, true, async move {
        stop_orders.shutdown();
        let _ = orders_task.await;
    })
    .await;
}

/// `grpc.health.v1.Health`, which every server of ours answers (grpc-health-probe's and
/// Kubernetes' probes): SERVING for the server and its services, NOT_FOUND for another
/// service, and a watch that sees NOT_SERVING when the server begins to stop, then ends.
#[tokio::test]
async fn every_server_answers_the_standard_health_service() {
    use gateway_core::grpc::health::{Health, HealthCheckRequest, ServingStatus};
    let (addr, stop) = our_math_service().await;
    let health: Health::Client =
        ClientGrpc::new("MATH_HEALTH", GrpcClientOptions::new(addr.to_string())).get_service();
    let check = |service: &str| {
        let (health, service) = (health.clone(), service.to_owned());
        async move { health.check(HealthCheckRequest { service }).await }
    };
    for service in ["", "math.Math"] {
        let status = check(service).await.unwrap().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let error = check("math.Unknown").await.unwrap_err();
    assert!(matches!(error, RpcError::Grpc { code: 5, .. }), "{error:?}");

    let mut watch = health
        .watch(GrpcRequest::new(HealthCheckRequest::default()).timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status, ServingStatus::Serving as i32);
    stop.shutdown();
    let last = tokio::time::timeout(Duration::from_secs(2), watch.next())
        .await
        .expect("the watch hears the shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(last.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(Duration::from_secs(2), watch.next()).await;
    assert!(matches!(end, Ok(None)), "the watch ends: {end:?}");
}

/// Wants `authorization: Bearer let-me-in` in the call's metadata.
#[injectable]
struct MetadataGuard;

impl CanActivate for MetadataGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        let rpc = ctx.switch_to_rpc().expect("a gRPC call is an RPC context");
        Ok(rpc.get_context().header("authorization") == Some("Bearer let-me-in"))
    }
}

#[injectable]
struct EchoController;

#[controller]
impl EchoController {
    #[grpc_method(echo::Echo)]
    async fn say(&self, #[payload] text: echo::Text) -> Result<echo::Text, RpcException> {
        Ok(text)
    }

    #[grpc_method(echo::Echo)]
    #[guard(MetadataGuard)]
    async fn guarded(&self, #[payload] text: echo::Text) -> Result<echo::Text, RpcException> {
        Ok(echo::Text {
            note: Some("let in".into()),
            ..text
        })
    }
}

#[controller]
impl CountController {
    #[grpc_method(echo::Echo)]
    fn count(
        &self,
        #[payload] text: echo::Text,
    ) -> impl Stream<Item = Result<echo::Text, RpcException>> {
        let times = text.sum.as_ref().map_or(0, |sum| sum.result);
        futures_util::stream::iter(0..times).then(move |i| {
            let text = text.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(echo::Text {
                    note: Some(i.to_string()),
                    ..text
                })
            }
        })
    }
}

#[injectable]
struct CountController;

#[module(controllers = [EchoController, CountController], providers = [MetadataGuard])]
struct EchoModule;

/// Imports between protos, well-known types, `optional`, bytes, non-ASCII text, messages at
/// the 4 MiB limit (Nest's `maxReceiveMessageLength` default) and over it, and a guard on a
/// gRPC handler reading the call's metadata.
#[tokio::test]
async fn proto_features_limits_and_guards() {
    let (addr, stop) = serve_microservice_on::<EchoModule>(Transport::grpc("127.0.0.1:0")).await;
    let echo: echo::Echo::Client =
        ClientGrpc::new("ECHO", GrpcClientOptions::new(addr.to_string())).get_service();

    let text = echo::Text {
        text: "Grüße, 世界 🚀".into(),
        note: Some(String::new()),
        at: Some(google::protobuf::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        sum: Some(SumResult { result: 15 }),
        blob: vec![0, 255, 7],
    };
    assert_eq!(
        echo.say(text.clone()).await.unwrap(),
        text,
        "every field back as sent"
    );
    // The JSON a gateway would answer with: proto-loader's shape.
    assert_eq!(
        serde_json::to_value(&text).unwrap(),
        json!({
            "text": "Grüße, 世界 🚀",
            "note": "",
            "at": { "seconds": 1_700_000_000, "nanos": 5 },
            "sum": { "result": 15 },
            "blob": [0, 255, 7],
        })
    );

    // Just under the 4 MiB limit goes; over it is RESOURCE_EXHAUSTED from the server.
    let big = |len: usize| echo::Text {
        text: "é".repeat(len / 2),
        ..Default::default()
    };
    let near = echo.say(big(4 * 1024 * 1024 - 64)).await.unwrap();
    assert_eq!(near.text.len(), 4 * 1024 * 1024 - 64);
    let generous: echo::Echo::Client = ClientGrpc::new(
        "ECHO",
        GrpcClientOptions::new(addr.to_string()).max_send_message_length(16 << 20),
    )
    .get_service();
    let error = generous.say(big(5 * 1024 * 1024)).await.unwrap_err();
    assert!(matches!(error, RpcError::Grpc { code: 8, .. }), "{error:?}");
    // Our client refuses to send over its own limit.
    let error = echo.say(big(5 * 1024 * 1024)).await.unwrap_err();
    assert!(matches!(error, RpcError::Grpc { .. }), "{error:?}");

    // The guard reads the metadata; a refusal is Nest's `Forbidden resource`, as grpc-js
    // reports an error without a code (UNKNOWN).
    let error = echo.guarded(text.clone()).await.unwrap_err();
    assert!(
        matches!(&error, RpcError::Grpc { code: 2, message, .. } if message == "Forbidden resource"),
        "{error:?}"
    );
    let let_in = echo
        .guarded(GrpcRequest::new(text.clone()).metadata("authorization", "Bearer let-me-in"))
        .await
        .unwrap();
    assert_eq!(let_in.note.as_deref(), Some("let in"));
    stop.shutdown();
}

async fn echo_service_on(addr: &str) -> (std::net::SocketAddr, ShutdownHandle) {
    serve_microservice_on::<EchoModule>(Transport::grpc(addr)).await
}

/// A service killed in the middle of a server stream: the stream ends with an error the
/// gateway answers 503, at once; the service restarted on the same address, the same client
/// calls it again (the channel redials).
#[tokio::test]
async fn a_service_killed_mid_stream_and_restarted() {
    let (addr, stop) = echo_service_on("127.0.0.1:0").await;
    let echo: echo::Echo::Client = ClientGrpc::new(
        "ECHO",
        GrpcClientOptions::new(addr.to_string()).timeout(Duration::from_secs(10)),
    )
    .get_service();
    let counting = echo::Text {
        text: "tick".into(),
        sum: Some(SumResult { result: 100 }),
        ..Default::default()
    };
    let mut ticks = echo.count(counting.clone()).await.unwrap();
    for i in 0..3 {
        let tick = ticks.next().await.unwrap().unwrap();
        assert_eq!(tick.note.as_deref(), Some(i.to_string().as_str()));
    }
    stop.kill();
    let started = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(2), ticks.next())
        .await
        .expect("the stream hears the kill at once");
    let error = end.expect("an error, not a quiet end").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(error.is_unavailable(), "{error:?}");
    assert_eq!(HttpException::from(error).status(), 503);

    // Restarted on the same port: the same client works again.
    let (_, stop) = echo_service_on(&addr.to_string()).await;
    let text = echo::Text {
        text: "back".into(),
        ..Default::default()
    };
    assert_eq!(echo.say(text.clone()).await.unwrap(), text);
    let mut ticks = echo
        .count(echo::Text {
            sum: Some(SumResult { result: 2 }),
            ..counting
        })
        .await
        .unwrap();
    assert!(ticks.next().await.unwrap().is_ok());
    assert!(ticks.next().await.unwrap().is_ok());
    assert!(ticks.next().await.is_none());
    stop.shutdown();
}

/// TLS both sides (rustls): our server asking for client certificates; our client with the
/// CA and a certificate is served; one trusting only the Mozilla roots, one without a
/// certificate, and a plain one are refused at once (UNAVAILABLE, a gateway's 503).
#[tokio::test]
async fn mutual_tls() {
    use gateway_core::grpc::GrpcServerOptions;
    use gateway_core::tls::TlsOptions;
    let pki = gateway_tests::tls::TestPki::new("grpc");
    let options = GrpcServerOptions::default().tls(pki.server().ca_pem(&pki.ca).unwrap());
    let (addr, stop) =
        serve_microservice_on::<MathModule>(Transport::grpc_with("127.0.0.1:0", options)).await;
    let port = addr.port();
    // The certificate names `localhost`.
    let math = |tls: Option<TlsOptions>| -> math::Math::Client {
        let options = GrpcClientOptions::new(format!("localhost:{port}"));
        let options = match tls {
            Some(tls) => options.tls(tls),
            None => options,
        };
        ClientGrpc::new("MATH_TLS", options).get_service()
    };
    let sum = math(Some(pki.mutual_client()))
        .sum(RequestSum {
            data: vec![1, 2, 3, 4, 5],
        })
        .await
        .unwrap();
    assert_eq!(sum.result, 15);
    for (tls, why) in [
        (Some(TlsOptions::new()), "the Mozilla roots only"),
        (Some(pki.client()), "no client certificate"),
        (None, "no TLS"),
    ] {
        let started = std::time::Instant::now();
        let error = math(tls)
            .sum(RequestSum { data: vec![1] })
            .await
            .unwrap_err();
        assert!(error.is_unavailable(), "{why}: {error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{why}: {:?}",
            started.elapsed()
        );
    }
    stop.shutdown();
}

/// Nest's `EdgeController` (`edge-cases-grpc.spec.ts`): handlers that throw at once, and one
/// that answers nothing. Its `CompleteEmpty` and `CollectEmpty` (an `Observable` that
/// completes without a value: `INTERNAL` in Nest) cannot be written here: a unary or
/// client-streaming handler is an `async fn` whose `Ok` is the one response message.
#[injectable]
struct EdgeController;

#[controller]
impl EdgeController {
    /// `collectVoid`: the messages read, nothing returned: the empty message.
    #[grpc_stream_method(edge::Edge)]
    async fn collect_void(
        &self,
        messages: GrpcRequests<edge::Num>,
    ) -> Result<edge::Nothing, RpcException> {
        let _read: Vec<edge::Num> = messages.collect().await;
        Ok(edge::Nothing {})
    }

    /// `echoThrow`: `RpcException({ code: INVALID_ARGUMENT, message: 'echo rejected' })`.
    #[grpc_stream_method(edge::Edge)]
    fn echo_throw(
        &self,
        _messages: GrpcRequests<edge::Num>,
    ) -> impl Stream<Item = Result<edge::Num, RpcException>> {
        futures_util::stream::once(async {
            Err(RpcException::new(
                json!({ "code": 3, "message": "echo rejected" }),
            ))
        })
    }

    /// `collectThrow`: `RpcException({ code: INVALID_ARGUMENT, message: 'collect rejected' })`.
    #[grpc_stream_method(edge::Edge)]
    async fn collect_throw(
        &self,
        _messages: GrpcRequests<edge::Num>,
    ) -> Result<edge::Num, RpcException> {
        Err(RpcException::new(
            json!({ "code": 3, "message": "collect rejected" }),
        ))
    }
}

#[module(controllers = [EdgeController])]
struct EdgeModule;

/// `edge-cases-grpc.spec.ts`'s facts that a Rust handler can express.
#[tokio::test]
async fn edge_cases_grpc() {
    let (addr, stop) = serve_microservice_on::<EdgeModule>(Transport::grpc("127.0.0.1:0")).await;
    let client: edge::Edge::Client =
        ClientGrpc::new("EDGE", GrpcClientOptions::new(addr.to_string())).get_service();
    let one = || futures_util::stream::iter([edge::Num { value: 1 }]);

    // `answers a client-streaming call whose handler returns nothing`: `{}`.
    let nothing = client.collect_void(one()).await.unwrap();
    assert_eq!(serde_json::to_string(&nothing).unwrap(), "{}");
    // `sends the error of a throwing bidi stream call to the client`.
    let replies: Vec<_> = client.echo_throw(one()).await.unwrap().collect().await;
    assert!(
        matches!(&replies[..], [Err(RpcError::Grpc { code: 3, message, .. })] if message == "echo rejected"),
        "{replies:?}"
    );
    // `sends the error of a throwing client-streaming stream call to the client`.
    let error = client.collect_throw(one()).await.unwrap_err();
    assert!(
        matches!(&error, RpcError::Grpc { code: 3, message, .. } if message == "collect rejected"),
        "{error:?}"
    );
    // A method of the proto with no handler: UNIMPLEMENTED.
    let error = client
        .complete_empty(edge::Num { value: 1 })
        .await
        .unwrap_err();
    assert!(
        matches!(error, RpcError::Grpc { code: 12, .. }),
        "{error:?}"
    );
    stop.shutdown();
}

/// Doubles a reply's `result` (an interceptor mapping the handler's value, Nest's
/// `next.handle().pipe(map(..))`).
#[injectable]
struct Double;

impl NestInterceptor for Double {
    async fn intercept(
        &self,
        _: &CallContext,
        next: Next,
    ) -> gateway_core::axum::response::Response {
        next.handle().await
    }

    async fn intercept_rpc(&self, _: &RpcContext, next: RpcNext) -> RpcReply {
        next.handle().await.map_value(|mut value| {
            value["result"] = json!(value["result"].as_i64().unwrap_or(0) * 2);
            value
        })
    }
}

/// Turns any exception into `UNAUTHENTICATED` (an exception filter, Nest's `@Catch()`).
#[injectable]
struct Unauthenticated;

impl ExceptionFilter for Unauthenticated {
    async fn catch(
        &self,
        e: HttpException,
        _: &ArgumentsHost,
    ) -> Result<gateway_core::axum::response::Response, HttpException> {
        Err(e)
    }

    async fn catch_rpc(&self, e: RpcException, _: &RpcContext) -> Result<RpcReply, RpcException> {
        let message = format!("filtered: {e}");
        Err(RpcException::new(json!({ "code": 16, "message": message })))
    }
}

#[injectable]
struct PipelineController;

#[controller]
#[use_interceptors(Double)]
#[use_filters(Unauthenticated)]
impl PipelineController {
    #[grpc_method(math::Math)]
    async fn sum(&self, #[payload] request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult {
            result: request.data.iter().sum(),
        })
    }

    #[grpc_method(math::Math)]
    async fn divide(&self, #[payload] _: RequestDivide) -> Result<DivideResult, RpcException> {
        Err(RpcException::new("no division today"))
    }
}

#[module(controllers = [PipelineController], providers = [Double, Unauthenticated])]
struct PipelineModule;

/// Interceptors and exception filters apply to gRPC handlers as to every message handler.
#[tokio::test]
async fn interceptors_and_filters_apply_to_grpc_handlers() {
    let (addr, stop) =
        serve_microservice_on::<PipelineModule>(Transport::grpc("127.0.0.1:0")).await;
    let math = client(addr);
    let sum = math
        .sum(RequestSum {
            data: vec![1, 2, 3, 4, 5],
        })
        .await
        .unwrap();
    assert_eq!(sum.result, 30, "the interceptor doubled the handler's 15");
    let error = math
        .divide(RequestDivide {
            dividend: 1,
            divisor: 1,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RpcError::Grpc { code: 16, message, .. } if message == "filtered: no division today"),
        "{error:?}"
    );
    stop.shutdown();
}

/// A graceful stop waits out the grace period for a call in flight, then cuts it: a stream
/// still running ends with an error soon after the grace period, not when it would have.
#[tokio::test]
async fn a_graceful_stop_cuts_what_outlives_the_grace_period() {
    use gateway_core::grpc::GrpcServerOptions;
    let options = GrpcServerOptions::default().grace_period(Duration::from_millis(300));
    let (addr, stop) =
        serve_microservice_on::<EchoModule>(Transport::grpc_with("127.0.0.1:0", options)).await;
    let echo: echo::Echo::Client = ClientGrpc::new(
        "ECHO",
        GrpcClientOptions::new(addr.to_string()).timeout(Duration::from_secs(10)),
    )
    .get_service();
    // 100 ticks, one every 50 ms: 5 s if nothing stops it.
    let counting = echo::Text {
        sum: Some(SumResult { result: 100 }),
        ..Default::default()
    };
    let mut ticks = echo.count(counting).await.unwrap();
    assert!(ticks.next().await.unwrap().is_ok());
    let started = std::time::Instant::now();
    stop.shutdown();
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(3), ticks.next()).await {
            Ok(Some(Ok(_))) => continue, // still within the grace period
            other => break other,
        }
    };
    let waited = started.elapsed();
    assert!(matches!(end, Ok(Some(Err(_))) | Ok(None)), "{end:?}");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1500),
        "the call ran on for {waited:?}"
    );
}
