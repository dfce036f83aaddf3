//! W3C trace context on the brokers' headers, against real NestJS and real brokers: a Nest
//! NATS, RabbitMQ or MQTT 5 service behind our client reads `traceparent` / `tracestate` from
//! its context and gets the payload it always got; our own NATS, RabbitMQ, MQTT 5 and gRPC
//! servers continue the trace a call carries (gRPC: in the call's metadata). (Its own test binary: it installs the process's `tracing`
//! subscriber, which turns the spans on.)

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::time::Duration;

use broker_checks::{delete_queue, namespace};
use gateway_core::prelude::*;
use gateway_core::trace::TraceContext;
use gateway_core::transport::mqtt::{MqttServer, MqttServerOptions};
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_core::transport::rmq::RmqServer;
use gateway_tests::*;
use serde_json::{json, Value};

const NATS_URL: &str = "nats://127.0.0.1:4222";
const RMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672";
const MQTT_URL: &str = "mqtt://127.0.0.1:1883";
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const STATE: &str = "congo=t61rcWkgMzE";

/// Spans on (for `gateway_core` at `info`), written nowhere.
fn spans_on() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("gateway_core=info")
        .with_writer(std::io::sink)
        .try_init();
}

/// The hop a gateway request would be in: the caller's trace, continued. (A call joins the
/// hop it is made in: `send` must be called inside the scope, as a handler's calls are.)
fn in_request() -> TraceContext {
    TraceContext::continued(Some(CALLER), Some(STATE))
}

/// Calls the Nest peer's `trace` pattern from inside a request's hop and checks what Nest saw.
async fn nest_sees_the_trace(client: &ClientProxy, ns: &str) {
    let payload = json!({ "id": "42", "items": ["book", "pen"], "note": "Grüße, 世界" });
    let hop = in_request();
    let seen: Value = hop
        .clone()
        .scope(async {
            client
                .send(json!({ "cmd": "trace", "ns": ns }), &payload)
                .await
        })
        .await
        .expect("the Nest peer answers");
    // Headers only: the payload is what Nest always got.
    assert_eq!(seen["data"], payload);
    let traceparent = seen["traceparent"]
        .as_str()
        .expect("Nest saw a traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"));
    // The parent Nest sees is the call's span: a child of the request's hop.
    assert_eq!(parts[2].len(), 16);
    assert_ne!(parts[2], hop.span_id());
    assert_ne!(parts[2], "b7ad6b7169203331");
    assert_eq!(seen["tracestate"], STATE);

    // A call outside any request starts a trace of its own.
    let seen: Value = client
        .send(json!({ "cmd": "trace", "ns": ns }), &payload)
        .await
        .unwrap();
    let traceparent = seen["traceparent"].as_str().expect("a new trace");
    assert!(!traceparent.contains(TRACE_ID), "{traceparent}");
    assert_eq!(seen["tracestate"], Value::Null);

    // A traceparent set by hand wins.
    let own = "00-11111111111111111111111111111111-2222222222222222-00";
    let options = CallOptions::default().header("traceparent", own);
    let seen: Value = hop
        .scope(async {
            client
                .send_with(json!({ "cmd": "trace", "ns": ns }), &payload, options)
                .await
        })
        .await
        .unwrap();
    assert_eq!(seen["traceparent"], own);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_nats_service_reads_the_trace_from_its_headers() {
    if !nats_up("a_nest_nats_service_reads_the_trace_from_its_headers") {
        return;
    }
    require_nest!("a_nest_nats_service_reads_the_trace_from_its_headers");
    spans_on();
    for version in Nest::ALL {
        let ns = namespace();
        let _nest = spawn_node_ready(version, "broker-service.js", &["nats", NATS_URL, &ns]).await;
        let client = ClientProxy::new(
            ClientOptions::nats("NATS_SERVICE", NATS_URL).timeout(Duration::from_secs(5)),
        );
        nest_sees_the_trace(&client, &ns).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_rmq_service_reads_the_trace_from_its_headers() {
    if !rmq_up("a_nest_rmq_service_reads_the_trace_from_its_headers") {
        return;
    }
    require_nest!("a_nest_rmq_service_reads_the_trace_from_its_headers");
    spans_on();
    for version in Nest::ALL {
        let ns = namespace();
        let queue = format!("q-{ns}");
        let _nest = spawn_node_ready(version, "broker-service.js", &["rmq", RMQ_URL, &ns]).await;
        let client = ClientProxy::new(
            ClientOptions::rmq("RMQ_SERVICE", RMQ_URL, &queue).timeout(Duration::from_secs(5)),
        );
        nest_sees_the_trace(&client, &ns).await;
        delete_queue(&queue).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_mqtt5_service_reads_the_trace_from_its_user_properties() {
    if !mqtt_up("a_nest_mqtt5_service_reads_the_trace") {
        return;
    }
    require_nest!("a_nest_mqtt5_service_reads_the_trace_from_its_user_properties");
    spans_on();
    for version in Nest::ALL {
        let ns = namespace();
        let _nest = spawn_node_ready(version, "broker-service.js", &["mqtt5", MQTT_URL, &ns]).await;
        let client = ClientProxy::new(
            ClientOptions::mqtt5("MQTT_SERVICE", MQTT_URL).timeout(Duration::from_secs(5)),
        );
        nest_sees_the_trace(&client, &ns).await;
    }
}

/// A router whose handler answers with the trace it runs in.
fn trace_router(ns: &str) -> MessageRouter {
    MessageRouter::new().message(json!({ "cmd": "whose", "ns": ns }), |_: Value| async {
        let trace = TraceContext::current().expect("a handler runs in a trace");
        Ok::<_, RpcException>(json!({
            "trace": trace.trace_id(),
            "parent": trace.parent_span_id(),
            "state": trace.tracestate(),
        }))
    })
}

/// Our server continues the trace our client's call carried.
async fn our_server_continues(client: &ClientProxy, ns: &str) {
    let seen: Value = in_request()
        .scope(async {
            client
                .send(json!({ "cmd": "whose", "ns": ns }), &json!({}))
                .await
        })
        .await
        .expect("our server answers");
    assert_eq!(seen["trace"], TRACE_ID);
    assert_eq!(seen["parent"].as_str().map(str::len), Some(16));
    assert_eq!(seen["state"], STATE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_nats_server_continues_the_trace() {
    if !nats_up("our_nats_server_continues_the_trace") {
        return;
    }
    spans_on();
    let ns = namespace();
    let server = NatsServer::connect(NATS_URL, trace_router(&ns), NatsServerOptions::default())
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let client = ClientProxy::new(ClientOptions::nats("NATS_SERVICE", NATS_URL));
    our_server_continues(&client, &ns).await;
    stop.shutdown();
    let _ = serving.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_rmq_server_continues_the_trace() {
    if !rmq_up("our_rmq_server_continues_the_trace") {
        return;
    }
    spans_on();
    let ns = namespace();
    let queue = format!("q-{ns}");
    let server = RmqServer::connect(RMQ_URL, &queue, trace_router(&ns))
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    let client = ClientProxy::new(ClientOptions::rmq("RMQ_SERVICE", RMQ_URL, &queue));
    our_server_continues(&client, &ns).await;
    stop.shutdown();
    let _ = serving.await;
    delete_queue(&queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_mqtt5_server_continues_the_trace() {
    if !mqtt_up("our_mqtt5_server_continues_the_trace") {
        return;
    }
    spans_on();
    let ns = namespace();
    let options = MqttServerOptions::default().v5();
    let server = MqttServer::connect_with(MQTT_URL, trace_router(&ns), options)
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = ClientProxy::new(ClientOptions::mqtt5("MQTT_SERVICE", MQTT_URL));
    our_server_continues(&client, &ns).await;
    // Over MQTT 3.1.1 there are no headers: the handler's trace is a new one.
    let plain = ClientProxy::new(ClientOptions::mqtt("MQTT_SERVICE", MQTT_URL));
    let seen: Value = in_request()
        .scope(async {
            plain
                .send(json!({ "cmd": "whose", "ns": ns }), &json!({}))
                .await
        })
        .await
        .expect("our MQTT 5 server answers an MQTT 3.1.1 client");
    assert_ne!(seen["trace"], TRACE_ID);
    stop.shutdown();
    let _ = serving.await;
}

/// gRPC: the trace rides in the call's metadata, as the brokers' calls carry it in headers.
mod grpc {
    use super::*;
    use gateway_core::grpc::{ClientGrpc, GrpcClientOptions, GrpcRequest};

    gateway_core::include_protos!();

    /// `Say` answers with the trace its handler runs in: `trace parent state`.
    #[injectable]
    struct Whose;

    #[controller]
    impl Whose {
        #[grpc_method(echo::Echo)]
        async fn say(&self, #[payload] _text: echo::Text) -> Result<echo::Text, RpcException> {
            let trace = TraceContext::current().expect("a handler runs in a trace");
            Ok(echo::Text {
                text: format!(
                    "{} {} {}",
                    trace.trace_id(),
                    trace.parent_span_id().unwrap_or_default(),
                    trace.tracestate().unwrap_or_default()
                ),
                ..Default::default()
            })
        }
    }

    #[module(controllers = [Whose])]
    struct WhoseModule;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn our_grpc_server_continues_the_trace() {
        spans_on();
        let (addr, stop) =
            serve_microservice_on::<WhoseModule>(Transport::grpc("127.0.0.1:0")).await;
        let echo: echo::Echo::Client =
            ClientGrpc::new("ECHO", GrpcClientOptions::new(addr.to_string())).get_service();

        let seen = in_request()
            .scope(echo.say(echo::Text::default()))
            .await
            .expect("our gRPC server answers");
        let parts: Vec<&str> = seen.text.split(' ').collect();
        assert_eq!(parts[0], TRACE_ID);
        assert_eq!(parts[1].len(), 16, "the call's own span is the parent");
        assert_ne!(parts[1], "b7ad6b7169203331", "a hop of its own");
        assert_eq!(parts[2], STATE);

        // A `traceparent` the caller set itself goes as it is.
        let own = "00-11111111111111111111111111111111-2222222222222222-01";
        let seen = in_request()
            .scope(echo.say(GrpcRequest::new(echo::Text::default()).metadata("traceparent", own)))
            .await
            .expect("our gRPC server answers");
        assert!(seen
            .text
            .starts_with("11111111111111111111111111111111 2222222222222222"));

        // A `ClientProxy` bridged to gRPC (`ClientOptions::grpc`): its call's hop, in the
        // metadata, with the headers the call set.
        let patterns = gateway_core::grpc::GrpcPatterns::new()
            .method::<echo::Echo::Say>(json!({ "cmd": "say" }));
        let proxy = ClientProxy::new(ClientOptions::grpc("ECHO", addr.to_string(), patterns));
        let seen: Value = in_request()
            .scope(async { proxy.send(json!({ "cmd": "say" }), &json!({})).await })
            .await
            .expect("our gRPC server answers the bridge");
        let parts: Vec<&str> = seen["text"].as_str().unwrap().split(' ').collect();
        assert_eq!(parts[0], TRACE_ID);
        assert_eq!(parts[1].len(), 16);
        assert_eq!(parts[2], STATE);
        // A header gRPC metadata cannot carry fails the call, unsent: INVALID_ARGUMENT, which
        // the bridge answers as Nest's 400-like `err`.
        let unsendable = CallOptions::default().header("x note", "n");
        match proxy
            .send_with::<Value>(json!({ "cmd": "say" }), &json!({}), unsendable)
            .await
        {
            Err(RpcError::Remote { error, .. }) => assert_eq!(
                error,
                json!({
                    "statusCode": 400,
                    "message": "metadata \"x note\" cannot be sent: not a metadata key or value"
                })
            ),
            other => panic!("expected the 400-like error, got {other:?}"),
        }

        // Outside any request: a new trace, still carried.
        let seen = echo.say(echo::Text::default()).await.unwrap();
        let trace = seen.text.split(' ').next().unwrap();
        assert_eq!(trace.len(), 32);
        assert_ne!(trace, TRACE_ID);
        stop.shutdown();
    }
}
