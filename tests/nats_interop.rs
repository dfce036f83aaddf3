//! Transport.NATS against real NestJS and a real NATS server: our `ClientProxy` against a Nest
//! NATS microservice, a Nest `ClientProxy` against our `NatsServer`, queue groups, and the
//! broker going away (a private nats-server per fault test, so the shared one is untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker_checks::{
    broker_down_then_restarted, namespace, nest_client_against_our_server, our_client_against_nest,
    Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_tests::*;
use serde_json::{json, Value};

const NATS_URL: &str = "nats://127.0.0.1:4222";

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
        our_client_against_nest(
            version,
            "nats",
            NATS_URL,
            &client,
            Unknown::NoResponders,
            &namespace(),
        )
        .await;
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
        nest_client_against_our_server(
            version,
            "nats",
            NATS_URL,
            Unknown::NoResponders,
            |ns, router| async move {
                let _ = ns;
                let server = NatsServer::connect(NATS_URL, router, NatsServerOptions::default())
                    .await
                    .unwrap();
                (server.shutdown_handle(), tokio::spawn(server.serve()))
            },
        )
        .await;
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

/// Once `NatsServer::connect` returned, its subjects are subscribed (Nest's `listen()`
/// resolves the same way): a request sent before `serve` runs waits for it, and is answered,
/// instead of NATS refusing it at once with "no responders".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_returns_subscribed() {
    if !nats_up("connect_returns_subscribed") {
        return;
    }
    let ns = namespace();
    let pattern = json!({ "cmd": "ready", "ns": ns });
    let router = MessageRouter::new().message(pattern.clone(), |n: i64| async move {
        Ok::<_, RpcException>(n + 1)
    });
    let server = NatsServer::connect(NATS_URL, router, NatsServerOptions::default())
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let client = client(NATS_URL);
    let call = tokio::spawn(async move { client.send::<i64>(pattern, &41).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !call.is_finished(),
        "answered before serve: {:?}",
        call.await
    );
    let serving = tokio::spawn(server.serve());
    assert_eq!(call.await.unwrap().unwrap(), 42);
    stop.shutdown();
    serving.await.unwrap();
}

// ---------------------------------------------------------------------------------------
// The broker going away: a private nats-server on its own port.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_at_start_then_restarted_mid_load() {
    if !BrokerKind::Nats.installed("broker_down_at_start_then_restarted_mid_load") {
        return;
    }
    broker_down_then_restarted(BrokerKind::Nats, "nats", client, |url, router| async move {
        let server = NatsServer::connect(&url, router, NatsServerOptions::default())
            .await
            .unwrap();
        tokio::spawn(server.serve());
    })
    .await;
}
