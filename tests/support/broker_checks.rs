//! Interop checks shared by the broker transports' tests (NATS, Redis): the same calls and
//! answers whatever the broker, against the Nest peers `broker-service.js` and
//! `broker-client.js`. Every pattern carries a per-run namespace (`ns`): brokers are shared.

// Each test binary uses the part its transport needs.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use gateway_core::prelude::*;
use gateway_tests::*;
use serde::Deserialize;
use serde_json::{json, Value};

pub const UNICODE: &str = "héllo 😀 日本 \u{2028}\n\t\"\\ \u{1F600}\u{10FFFF}";

/// What a request for a pattern nobody handles gets on this broker.
#[derive(Debug, Clone, Copy)]
pub enum Unknown {
    /// An immediate error (NATS "no responders").
    NoResponders,
    /// The service's no-handler error (RabbitMQ: the queue's consumer answers).
    NoHandler,
    /// Nothing: the message is dropped (Redis pub/sub), so the call times out.
    Dropped,
}

/// A namespace for this run's subjects (the broker is shared; never assume it is empty).
pub fn namespace() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}x{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the transport carries message headers (NATS, RabbitMQ).
pub fn has_headers(transport: &str) -> bool {
    matches!(transport, "nats" | "rmq")
}

/// Our `client` against the Nest peer service on `transport` at `url`.
pub async fn our_client_against_nest(
    version: Nest,
    transport: &str,
    url: &str,
    client: &ClientProxy,
    expect_unknown: Unknown,
    ns: &str,
) {
    let _nest = spawn_node_ready(version, "broker-service.js", &[transport, url, ns]).await;
    if has_headers(transport) {
        let options = CallOptions::default().header("x-request-id", "rid-ours");
        let seen: Value = client
            .send_with(json!({ "cmd": "headers", "ns": ns }), &json!({}), options)
            .await
            .unwrap();
        assert_eq!(
            seen,
            json!({ "rid": "rid-ours" }),
            "the header reached the Nest handler"
        );
    }
    let p = |cmd: &str| json!({ "cmd": cmd, "ns": ns });

    let user: Value = client
        .send(p("get_user"), &json!({ "id": 42 }))
        .await
        .unwrap();
    assert_eq!(user, json!({ "id": 42, "name": "Ada Lovelace" }));
    match client
        .send::<Value>(p("get_user"), &json!({ "id": 7 }))
        .await
    {
        Err(RpcError::Remote { error, .. }) => {
            assert_eq!(
                error,
                json!({ "statusCode": 404, "message": "User not found" })
            )
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    // The subject is the normalized pattern: another key order reaches the same handler.
    let echoed: Value = client
        .send(json!({ "ns": ns, "cmd": "echo" }), &json!({ "s": UNICODE }))
        .await
        .unwrap();
    assert_eq!(echoed, json!({ "s": UNICODE }));
    let big = UNICODE.repeat(5_000);
    let echoed: String = client.send(p("echo"), &big).await.unwrap();
    assert_eq!(echoed, big);

    let values: Vec<Value> = client
        .send_stream::<Value>(p("stream"), &json!({}))
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(values, [json!({"n": 0}), json!({"n": 1}), json!({"n": 2})]);
    match client.send::<Value>(p("rpc_str"), &json!({})).await {
        Err(RpcError::Remote { error, .. }) => {
            assert_eq!(error, json!({ "status": "error", "message": "boom" }))
        }
        other => panic!("expected a remote error, got {other:?}"),
    }

    // A pattern nobody handles: NATS says so at once (no responders); Redis drops the
    // message, so the call ends at its deadline.
    let started = Instant::now();
    let unknown = client
        .send_with::<Value>(
            p("nope"),
            &json!({}),
            CallOptions::timeout(Duration::from_millis(500)),
        )
        .await;
    match expect_unknown {
        Unknown::NoResponders => {
            assert!(
                matches!(&unknown, Err(RpcError::ConnectionLost { reason, .. }) if reason.contains("no responders")),
                "{unknown:?}"
            );
            assert!(started.elapsed() < Duration::from_millis(400));
        }
        Unknown::NoHandler => {
            assert!(
                matches!(&unknown, Err(RpcError::Remote { error, .. }) if error == gateway_core::NO_MESSAGE_HANDLER),
                "{unknown:?}"
            )
        }
        Unknown::Dropped => {
            assert!(
                matches!(&unknown, Err(RpcError::Timeout { .. })),
                "{unknown:?}"
            )
        }
    }
    client
        .emit(
            format!("order_created.{ns}"),
            &json!({ "orderId": 1, "note": UNICODE }),
        )
        .await
        .unwrap();
    let mut events: Vec<Value> = Vec::new();
    for _ in 0..50 {
        events = client.send(p("events"), &json!({})).await.unwrap();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        events,
        vec![json!({ "pattern": "order_created", "data": { "orderId": 1, "note": UNICODE } })]
    );

    let calls = (0..64u64).map(|i| {
        let client = client.clone();
        let pattern = p("sleep");
        async move {
            let ms = (i * 37) % 13 * 4;
            let reply: Value = client
                .send(pattern, &json!({ "ms": ms, "tag": i }))
                .await
                .unwrap();
            assert_eq!(reply, json!({ "slept": ms, "tag": i }));
        }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(client.pending_calls(), 0);
}

#[derive(Deserialize)]
struct Count {
    n: u64,
}

#[derive(Deserialize)]
struct Sleep {
    ms: u64,
    tag: u64,
}

/// Our microservice with the handlers `nest-peer/nats-client.js` calls.
pub fn our_router(ns: &str, events: Arc<Mutex<Vec<Value>>>) -> MessageRouter {
    let p = |cmd: &str| json!({ "cmd": cmd, "ns": ns });
    let seen = events.clone();
    MessageRouter::new()
        .message(p("get_user"), |req: Value| async move {
            if req["id"] == 42 {
                Ok(json!({ "id": 42, "name": "Ada Lovelace" }))
            } else {
                Err(RpcException::new(
                    json!({ "statusCode": 404, "message": "User not found" }),
                ))
            }
        })
        .message(p("headers"), |_: Value| async move {
            let context = MessageContext::current().expect("a handler has a context");
            Ok::<_, RpcException>(json!({ "rid": context.header("x-request-id") }))
        })
        .message(p("echo"), |data: Value| async move {
            Ok::<_, RpcException>(data)
        })
        .stream(p("count"), |req: Count| {
            stream::iter((0..req.n).map(|n| Ok::<_, RpcException>(json!({ "n": n }))))
        })
        .stream(p("half"), |_: Value| {
            stream::iter([
                Ok(json!(1)),
                Err(RpcException::new(
                    json!({ "code": "E1", "message": "mid-stream" }),
                )),
            ])
        })
        .message(p("rpc_str"), |_: Value| async move {
            Err::<(), _>(RpcException::new("boom"))
        })
        .message(p("panic"), |_: Value| async move {
            if true {
                panic!("a bug in a handler");
            }
            Ok::<(), RpcException>(())
        })
        .message(p("sleep"), |req: Sleep| async move {
            tokio::time::sleep(Duration::from_millis(req.ms)).await;
            Ok::<_, RpcException>(json!({ "slept": req.ms, "tag": req.tag }))
        })
        .event(format!("order_created.{ns}"), move |data: Value| {
            seen.lock()
                .unwrap()
                .push(json!({ "pattern": "order_created", "data": data }));
            async {}
        })
        .message(p("events"), move |_: Value| {
            let events = events.lock().unwrap().clone();
            async move { Ok::<_, RpcException>(events) }
        })
}

/// Starts our server with `start(ns, router)` (it returns the server's shutdown handle and
/// serving task), runs the Nest peer client against it, then stops it within 5 s.
pub async fn nest_client_against_our_server<Fut>(
    version: Nest,
    transport: &str,
    url: &str,
    expect_unknown: Unknown,
    start: impl FnOnce(String, MessageRouter) -> Fut,
) where
    Fut: std::future::Future<
        Output = (
            gateway_core::server::ShutdownHandle,
            tokio::task::JoinHandle<()>,
        ),
    >,
{
    eprintln!("a Nest {version:?} {transport} ClientProxy against our microservice");
    let ns = namespace();
    let (stop, serving) = start(ns.clone(), our_router(&ns, Arc::default())).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // subscribed / consuming
    nest_client_against_ours(version, transport, url, &ns, expect_unknown).await;
    stop.shutdown();
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("the server stops")
        .unwrap();
    if transport == "rmq" {
        delete_queue(&format!("q-{ns}")).await;
    }
}

/// The Nest peer client on `transport` at `url` against our server (already serving `ns`).
pub async fn nest_client_against_ours(
    version: Nest,
    transport: &str,
    url: &str,
    ns: &str,
    expect_unknown: Unknown,
) {
    let out = run_node(version, "broker-client.js", &[transport, url, ns], "").await;
    // Nest 12's NATS client logs its status changes on stdout: the JSON is the last line.
    let last = out.lines().last().unwrap_or_default();
    let r: Value = serde_json::from_str(last).expect("broker-client.js prints JSON");
    if has_headers(transport) {
        assert_eq!(
            r["headers"],
            json!({ "ok": { "rid": "rid-nest" } }),
            "the Nest client's header reached our handler"
        );
    }
    assert_eq!(
        r["getUser"],
        json!({ "ok": { "id": 42, "name": "Ada Lovelace" } })
    );
    assert_eq!(
        r["notFound"],
        json!({ "err": { "statusCode": 404, "message": "User not found" } })
    );
    assert_eq!(r["reordered"], json!({ "ok": { "x": 1 } }));
    assert_eq!(
        r["unicode"],
        json!({ "ok": { "s": "héllo 😀 日本", "t": "\u{2028}\n\"\\" } })
    );
    assert_eq!(
        r["stream"],
        json!({ "ok": [{ "n": 0 }, { "n": 1 }, { "n": 2 }] })
    );
    assert_eq!(
        r["streamError"],
        json!({ "err": { "code": "E1", "message": "mid-stream" } })
    );
    assert_eq!(
        r["rpcString"],
        json!({ "err": { "status": "error", "message": "boom" } })
    );
    assert_eq!(
        r["panic"],
        json!({ "err": { "status": "error", "message": "Internal server error" } })
    );
    let unknown = r["unknown"]["err"]["jsError"].as_str().unwrap_or_default();
    match expect_unknown {
        Unknown::NoResponders => assert!(unknown.contains("no subscribers"), "{}", r["unknown"]),
        Unknown::Dropped => assert!(unknown.contains("Timeout"), "{}", r["unknown"]),
        Unknown::NoHandler => assert_eq!(
            r["unknown"],
            json!({ "err": gateway_core::NO_MESSAGE_HANDLER })
        ),
    }
    assert_eq!(r["concurrent"], r["concurrentExpected"]);
    assert_eq!(
        r["events"]["ok"],
        json!([{ "pattern": "order_created", "data": { "orderId": 1, "note": "ünïcode" } }])
    );
}

/// The broker down when the first call comes, then up, then killed mid-load, then back:
/// fast `Connect` errors (503) while it is down, in-flight calls failing promptly with
/// `ConnectionLost`, nothing left pending, and both ends recovering by themselves. `serve`
/// connects our server for `router` to the broker at the URL and spawns it.
pub async fn broker_down_then_restarted<F, Fut>(
    kind: BrokerKind,
    scheme: &str,
    client_for: impl Fn(&str) -> ClientProxy,
    serve: F,
) where
    F: Fn(String, MessageRouter) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    init_tracing();
    let port = free_port();
    let url = format!("{scheme}://127.0.0.1:{port}");
    let ns = namespace();
    let client = client_for(&url);
    let p = json!({ "cmd": "sleep", "ns": ns });

    // No broker yet: a fast, clear failure (the edge answers 503), not a hang.
    let started = Instant::now();
    let down = client
        .send::<Value>(p.clone(), &json!({ "ms": 0, "tag": 0 }))
        .await;
    assert!(matches!(down, Err(RpcError::Connect { .. })), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        HttpException::from(down.unwrap_err()).status(),
        503,
        "a dead broker is a 503 at the edge"
    );

    // The broker comes up: the same client connects on its next call.
    let broker = PrivateBroker::start(kind, port).await;
    serve(url.clone(), our_router(&ns, Arc::default())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ok: Value = client
        .send(p.clone(), &json!({ "ms": 0, "tag": 1 }))
        .await
        .unwrap();
    assert_eq!(ok, json!({ "slept": 0, "tag": 1 }));

    // Mid-load restart: in-flight calls fail promptly with a clear error.
    let in_flight = start_in_flight(&client, &p, 20, 800);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (kind, port) = broker.stop().await;
    assert_in_flight_lost(&client, in_flight, Duration::from_secs(3)).await;

    // While it is down, calls fail fast.
    let started = Instant::now();
    assert!(client
        .send::<Value>(p.clone(), &json!({ "ms": 0, "tag": 2 }))
        .await
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(3));

    // It comes back: both ends reconnect by themselves; measure how long until a call works.
    let _broker = PrivateBroker::start(kind, port).await;
    let took = await_recovery(&client, &p, Duration::from_secs(15)).await;
    eprintln!("{kind:?} restart: calls succeed again {took:?} after the broker is back");
}

/// A channel on the local RabbitMQ, with its connection (to close), or `None` when it is down.
pub async fn rmq_channel() -> Option<(amqprs::connection::Connection, amqprs::channel::Channel)> {
    let arguments =
        amqprs::connection::OpenConnectionArguments::new("127.0.0.1", 5672, "guest", "guest");
    let conn = amqprs::connection::Connection::open(&arguments)
        .await
        .ok()?;
    let channel = conn.open_channel(None).await.ok()?;
    Some((conn, channel))
}

/// Deletes a test's exchange (declared durable, as Nest declares them).
pub async fn delete_exchange(exchange: &str) {
    if let Some((conn, channel)) = rmq_channel().await {
        let arguments = amqprs::channel::ExchangeDeleteArguments::new(exchange);
        let _ = channel.exchange_delete(arguments).await;
        let _ = conn.close().await;
    }
}

/// Deletes a test's queue (queues are durable: they would outlive the test).
pub async fn delete_queue(queue: &str) {
    if let Some((conn, channel)) = rmq_channel().await {
        let arguments = amqprs::channel::QueueDeleteArguments::new(queue);
        let _ = channel.queue_delete(arguments).await;
        let _ = conn.close().await;
    }
}

/// Starts `count` calls that each keep the service busy for `ms`, to be cut by a broker
/// restart; each task gives the call's result and how long it took.
pub fn start_in_flight(
    client: &ClientProxy,
    pattern: &Value,
    count: u64,
    ms: u64,
) -> Vec<tokio::task::JoinHandle<(Result<Value, RpcError>, Duration)>> {
    (0..count)
        .map(|i| {
            let (client, pattern) = (client.clone(), pattern.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let result = client
                    .send::<Value>(pattern, &json!({ "ms": ms, "tag": i }))
                    .await;
                (result, started.elapsed())
            })
        })
        .collect()
}

/// Every in-flight call failed with `ConnectionLost` within `limit`, and none is left pending.
pub async fn assert_in_flight_lost(
    client: &ClientProxy,
    calls: Vec<tokio::task::JoinHandle<(Result<Value, RpcError>, Duration)>>,
    limit: Duration,
) {
    for call in calls {
        let (result, took) = call.await.unwrap();
        assert!(
            matches!(&result, Err(RpcError::ConnectionLost { .. })),
            "an in-flight call during the restart: {result:?}"
        );
        assert!(took < limit, "failed in {took:?}");
    }
    assert_eq!(client.pending_calls(), 0, "nothing left pending");
}

/// Calls until one succeeds (within `limit`), with short per-call deadlines: on Redis and
/// MQTT a request sent before the server has resubscribed is dropped by the broker and would
/// wait out the whole default deadline. Returns how long recovery took.
pub async fn await_recovery(client: &ClientProxy, pattern: &Value, limit: Duration) -> Duration {
    let back = Instant::now();
    let quick = || CallOptions::timeout(Duration::from_millis(300));
    let recovered = loop {
        match client
            .send_with::<Value>(pattern.clone(), &json!({ "ms": 0, "tag": 3 }), quick())
            .await
        {
            Ok(value) => break value,
            Err(_) if back.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("no recovery within {limit:?}: {error:?}"),
        }
    };
    assert_eq!(recovered, json!({ "slept": 0, "tag": 3 }));
    back.elapsed()
}
