//! Transport.RMQ against real NestJS and the real RabbitMQ on 127.0.0.1:5672: our
//! `ClientProxy` against a Nest RMQ microservice, a Nest `ClientProxy` against our
//! `RmqServer`, competing consumers, and the broker down when a call comes. Every test uses
//! its own queue (`q-<ns>`), deleted afterwards.

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_checks::{
    delete_queue, namespace, nest_client_against_our_server, our_client_against_nest, Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::rmq::RmqServer;
use gateway_tests::*;
use serde_json::{json, Value};

const RMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672";

fn rmq_up(test: &str) -> bool {
    server_available(
        test,
        "RabbitMQ",
        "127.0.0.1:5672",
        "rabbitmq-server -detached",
    )
}

fn client(url: &str, queue: &str) -> ClientProxy {
    ClientProxy::new(ClientOptions::rmq("RMQ_SERVICE", url, queue).timeout(Duration::from_secs(5)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_a_nest_rmq_microservice() {
    if !rmq_up("our_client_against_a_nest_rmq_microservice") {
        return;
    }
    require_nest!("our_client_against_a_nest_rmq_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("our ClientProxy against a Nest {version:?} RMQ microservice");
        let ns = namespace();
        let queue = format!("q-{ns}");
        let client = client(RMQ_URL, &queue);
        our_client_against_nest_in(version, &client, &ns).await;
        delete_queue(&queue).await;
    }
}

async fn our_client_against_nest_in(version: Nest, client: &ClientProxy, ns: &str) {
    our_client_against_nest(version, "rmq", RMQ_URL, client, Unknown::NoHandler, ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_rmq_client_against_our_microservice() {
    if !rmq_up("a_nest_rmq_client_against_our_microservice") {
        return;
    }
    require_nest!("a_nest_rmq_client_against_our_microservice");
    init_tracing();
    for version in Nest::ALL {
        nest_client_against_our_server(
            version,
            "rmq",
            RMQ_URL,
            Unknown::NoHandler,
            |ns, router| async move {
                let queue = format!("q-{ns}");
                let server = RmqServer::connect(RMQ_URL, &queue, router).await.unwrap();
                (server.shutdown_handle(), tokio::spawn(server.serve()))
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_consumers_share_the_load() {
    if !rmq_up("competing_consumers_share_the_load") {
        return;
    }
    let ns = namespace();
    let queue = format!("q-{ns}");
    let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut stops = Vec::new();
    for (name, handled) in [("a", a.clone()), ("b", b.clone())] {
        let router =
            MessageRouter::new().message(json!({ "cmd": "whoami", "ns": ns }), move |_: Value| {
                handled.fetch_add(1, Ordering::Relaxed);
                async move {
                    // Long enough that a message waits for a free consumer now and then.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    Ok::<_, RpcException>(name)
                }
            });
        let server = RmqServer::connect(RMQ_URL, &queue, router).await.unwrap();
        stops.push(server.shutdown_handle());
        tokio::spawn(server.serve());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = client(RMQ_URL, &queue);
    let calls = (0..100).map(|_| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            client
                .send::<String>(json!({ "cmd": "whoami", "ns": ns }), &json!({}))
                .await
                .unwrap()
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    let (a, b) = (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
    assert_eq!(a + b, 100, "each call handled exactly once");
    assert!(a > 10 && b > 10, "both consumers took a share: {a} / {b}");
    assert_eq!(answers.iter().filter(|w| *w == "a").count(), a);
    for stop in stops {
        stop.shutdown();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    delete_queue(&queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_is_a_fast_503() {
    let port = free_port();
    let client = client(&format!("amqp://guest:guest@127.0.0.1:{port}"), "nobody");
    let started = Instant::now();
    let down = client
        .send::<Value>(json!({ "cmd": "x" }), &json!({}))
        .await;
    assert!(matches!(down, Err(RpcError::Connect { .. })), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(HttpException::from(down.unwrap_err()).status(), 503);
}
