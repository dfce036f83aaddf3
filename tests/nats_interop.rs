//! Transport.NATS against real NestJS and a real NATS server: our `ClientProxy` against a Nest
//! NATS microservice, a Nest `ClientProxy` against our `NatsServer`, queue groups, and the
//! broker going away (a private nats-server per fault test, so the shared one is untouched).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use gateway_core::prelude::*;
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_tests::*;
use serde::Deserialize;
use serde_json::{json, Value};

const NATS_URL: &str = "nats://127.0.0.1:4222";
const UNICODE: &str = "héllo 😀 日本 \u{2028}\n\t\"\\ \u{1F600}\u{10FFFF}";

/// A namespace for this run's subjects (the broker is shared; never assume it is empty).
fn namespace() -> String {
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

fn nats_up(test: &str) -> bool {
    server_available(
        test,
        "NATS",
        "127.0.0.1:4222",
        "nats-server -a 127.0.0.1 -p 4222 -js",
    )
}

fn client(url: &str) -> ClientProxy {
    ClientProxy::new(ClientOptions::nats("NATS_SERVICE", url).timeout(Duration::from_secs(5)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_a_nest_nats_microservice() {
    if !nats_up("our_client_against_a_nest_nats_microservice") {
        return;
    }
    require_nest!("our_client_against_a_nest_nats_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("our ClientProxy against a Nest {version:?} NATS microservice");
        let ns = namespace();
        let _nest = spawn_node_ready(version, "nats-service.js", &[NATS_URL, &ns]).await;
        let client = client(NATS_URL);
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

        // Nobody subscribed: NATS says so at once (no responders), no waiting for the deadline.
        let started = Instant::now();
        let unknown = client.send::<Value>(p("nope"), &json!({})).await;
        assert!(
            matches!(&unknown, Err(RpcError::ConnectionLost { reason, .. }) if reason.contains("no responders")),
            "{unknown:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));

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
fn our_router(ns: &str, events: Arc<Mutex<Vec<Value>>>) -> MessageRouter {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_nats_client_against_our_microservice() {
    if !nats_up("a_nest_nats_client_against_our_microservice") {
        return;
    }
    require_nest!("a_nest_nats_client_against_our_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("a Nest {version:?} NATS ClientProxy against our microservice");
        let ns = namespace();
        let events = Arc::new(Mutex::new(Vec::new()));
        let server = NatsServer::connect(
            NATS_URL,
            our_router(&ns, events),
            NatsServerOptions::default(),
        )
        .await
        .unwrap();
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.serve());
        tokio::time::sleep(Duration::from_millis(100)).await; // subscriptions flushed

        let out = run_node(version, "nats-client.js", &[NATS_URL, &ns], "").await;
        // Nest 12's NATS client logs its status changes on stdout: the JSON is the last line.
        let last = out.lines().last().unwrap_or_default();
        let r: Value = serde_json::from_str(last).expect("nats-client.js prints JSON");
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
        assert!(unknown.contains("no subscribers"), "{}", r["unknown"]);
        assert_eq!(r["concurrent"], r["concurrentExpected"]);
        assert_eq!(
            r["events"]["ok"],
            json!([{ "pattern": "order_created", "data": { "orderId": 1, "note": "ünïcode" } }])
        );

        stop.shutdown();
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

/// A router answering `whoami` with its instance name, counting what it handled.
fn instance(ns: &str, name: &'static str, handled: Arc<AtomicUsize>) -> MessageRouter {
    MessageRouter::new().message(json!({ "cmd": "whoami", "ns": ns }), move |_: Value| {
        handled.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, RpcException>(name) }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_group_shares_the_load_and_two_gateways_need_no_addresses() {
    if !nats_up("a_queue_group_shares_the_load_and_two_gateways_need_no_addresses") {
        return;
    }
    let ns = namespace();
    let queue = format!("users-{ns}");
    let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut stops = Vec::new();
    for (name, handled) in [("a", a.clone()), ("b", b.clone())] {
        let server = NatsServer::connect(
            NATS_URL,
            instance(&ns, name, handled),
            NatsServerOptions::default().queue(queue.clone()),
        )
        .await
        .unwrap();
        stops.push(server.shutdown_handle());
        tokio::spawn(server.serve());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Two "gateways" (two clients), each knowing only the broker.
    let (one, two) = (client(NATS_URL), client(NATS_URL));
    let mut answers = Vec::new();
    for i in 0..100 {
        let gateway = if i % 2 == 0 { &one } else { &two };
        let who: String = gateway
            .send(json!({ "cmd": "whoami", "ns": ns }), &json!({}))
            .await
            .unwrap();
        answers.push(who);
    }
    let (a, b) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    assert_eq!(a + b, 100, "each call handled exactly once");
    assert!(a > 10 && b > 10, "both instances took a share: {a} / {b}");
    assert_eq!(answers.iter().filter(|w| *w == "a").count(), a);
    for stop in stops {
        stop.shutdown();
    }
}

// ---------------------------------------------------------------------------------------
// The broker going away: a private nats-server on its own port.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_at_start_then_restarted_mid_load() {
    if !nats_server_installed("broker_down_at_start_then_restarted_mid_load") {
        return;
    }
    init_tracing();
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let ns = namespace();
    let client = client(&url);
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
    let broker = PrivateNats::start(port).await;
    let server = NatsServer::connect(
        &url,
        our_router(&ns, Arc::default()),
        NatsServerOptions::default(),
    )
    .await
    .unwrap();
    tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ok: Value = client
        .send(p.clone(), &json!({ "ms": 0, "tag": 1 }))
        .await
        .unwrap();
    assert_eq!(ok, json!({ "slept": 0, "tag": 1 }));

    // Mid-load restart: in-flight calls fail promptly with a clear error.
    let in_flight: Vec<_> = (0..20)
        .map(|i| {
            let client = client.clone();
            let p = p.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = client
                    .send::<Value>(p, &json!({ "ms": 800, "tag": i }))
                    .await;
                (result, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = broker.stop().await;
    for call in in_flight {
        let (result, took) = call.await.unwrap();
        assert!(
            matches!(&result, Err(RpcError::ConnectionLost { .. })),
            "an in-flight call during the restart: {result:?}"
        );
        assert!(took < Duration::from_secs(3), "failed in {took:?}");
    }
    assert_eq!(client.pending_calls(), 0, "nothing left pending");

    // While it is down, calls fail fast.
    let started = Instant::now();
    assert!(client
        .send::<Value>(p.clone(), &json!({ "ms": 0, "tag": 2 }))
        .await
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(3));

    // It comes back: both ends reconnect by themselves; measure how long until a call works.
    let _broker = PrivateNats::start(port).await;
    let back = Instant::now();
    let recovered = loop {
        match client
            .send::<Value>(p.clone(), &json!({ "ms": 0, "tag": 3 }))
            .await
        {
            Ok(value) => break value,
            Err(_) if back.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("no recovery within 15 s: {error:?}"),
        }
    };
    assert_eq!(recovered, json!({ "slept": 0, "tag": 3 }));
    eprintln!(
        "NATS restart: calls succeed again {:?} after the broker is back",
        back.elapsed()
    );
}
