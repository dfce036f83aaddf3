//! Transport.NATS against real NestJS and a real NATS server: our `ClientProxy` against a Nest
//! NATS microservice, a Nest `ClientProxy` against our `NatsServer`, queue groups, and the
//! broker going away (a private nats-server per fault test, so the shared one is untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_checks::{
    namespace, nest_client_against_ours, our_client_against_nest, our_router, Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_tests::*;
use serde_json::{json, Value};

const NATS_URL: &str = "nats://127.0.0.1:4222";

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
        let client = client(NATS_URL);
        our_client_against_nest(version, "nats", NATS_URL, &client, Unknown::NoResponders).await;
    }
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
        let router = our_router(&ns, Arc::default());
        let server = NatsServer::connect(NATS_URL, router, NatsServerOptions::default())
            .await
            .unwrap();
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.serve());
        tokio::time::sleep(Duration::from_millis(100)).await; // subscriptions flushed
        nest_client_against_ours(version, "nats", NATS_URL, &ns, Unknown::NoResponders).await;
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
