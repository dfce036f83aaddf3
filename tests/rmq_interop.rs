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

/// A server whose queue options differ from the queue's on the broker is refused at
/// `connect`, with RabbitMQ's reason; an AMQP URL naming the default vhost as `/%2f` (as
/// amqplib and the RabbitMQ docs write it) reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_declared_differently_is_refused_with_the_brokers_reason() {
    if !rmq_up("a_queue_declared_differently_is_refused_with_the_brokers_reason") {
        return;
    }
    let queue = format!("q-{}", namespace());
    let router =
        || MessageRouter::new().message("x", |v: Value| async move { Ok::<_, RpcException>(v) });
    let url = format!("{RMQ_URL}/%2f");
    let durable = RmqServer::connect(&url, &queue, router()).await;
    assert!(
        durable.is_ok(),
        "the `/%2f` vhost is `/`: {:?}",
        durable.err()
    );
    let options = gateway_core::transport::rmq::RmqOptions::queue(queue.clone()).durable(false);
    let refused = RmqServer::connect_with(RMQ_URL, router(), options).await;
    let error = refused
        .err()
        .expect("a durable queue redeclared as not durable")
        .to_string();
    assert!(
        error.contains("406") && error.contains("PRECONDITION_FAILED") && error.contains("durable"),
        "{error}"
    );
    delete_queue(&queue).await;
}

/// Nest 11's exchanges (`topic-exchange-rmq`, `fanout-exchange-rmq`), both ways. Our clients
/// against Nest microservices (one with `wildcards`, one consuming a fanout exchange from an
/// exclusive queue): through the topic exchange, straight to the queue, through the fanout
/// exchange. Then Nest's clients, made as the specs make them, against ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_both_ways_with_nest() {
    use broker_checks::delete_exchange;
    use gateway_core::transport::rmq::RmqOptions;

    if !rmq_up("exchanges_both_ways_with_nest") {
        return;
    }
    require_nest!("exchanges_both_ways_with_nest");
    init_tracing();
    for version in Nest::ALL {
        let ns = namespace();
        let (topic, fanout) = (format!("{ns}-topic"), format!("{ns}.fanout"));
        let ours = |name: &str, options: RmqOptions| {
            ClientProxy::new(
                ClientOptions::rmq_with(name, RMQ_URL, options).timeout(Duration::from_secs(5)),
            )
        };
        let wildcards = ours("TOPIC", RmqOptions::queue(&topic).wildcards());
        let to_queue = ours("QUEUE", RmqOptions::queue(&topic));
        let to_fanout = ours(
            "FANOUT",
            RmqOptions::queue("default")
                .exchange(&fanout)
                .exchange_type("fanout"),
        );

        let dist = compile_peer(TsPeer::Suite, version);
        let script = format!("{dist}/rmq-exchanges.service.js");
        let mut nest = spawn_node_ready(version, &script, &[RMQ_URL, &ns]).await;
        let answer = |client: &ClientProxy, pattern: &'static str| {
            let client = client.clone();
            async move { client.send::<String>(pattern, &1).await.unwrap() }
        };
        assert_eq!(
            answer(&wildcards, "wildcard.a.b").await,
            "wildcard.a.b",
            "{version:?}"
        );
        assert_eq!(answer(&to_queue, "wildcard.c.d").await, "wildcard.c.d");
        assert_eq!(answer(&to_fanout, "ping").await, "ping/pong");
        nest.kill().await;

        // Nest's clients against our microservices, set up as Nest's were.
        let topic_router = MessageRouter::new().message("wildcard.*.*", |_: Value| async {
            let context = MessageContext::current().expect("a context");
            Ok::<_, RpcException>(context.pattern().unwrap_or_default().to_owned())
        });
        let fanout_router = MessageRouter::new().message("ping", |_: Value| async {
            let context = MessageContext::current().expect("a context");
            Ok::<_, RpcException>(format!("{}/pong", context.pattern().unwrap_or_default()))
        });
        let topic_server =
            RmqServer::connect_with(RMQ_URL, topic_router, RmqOptions::queue(&topic).wildcards())
                .await
                .unwrap();
        let fanout_options = RmqOptions::queue("")
            .exchange(&fanout)
            .exchange_type("fanout")
            .exclusive();
        let fanout_server = RmqServer::connect_with(RMQ_URL, fanout_router, fanout_options)
            .await
            .unwrap();
        let stops = [
            topic_server.shutdown_handle(),
            fanout_server.shutdown_handle(),
        ];
        let serving = [
            tokio::spawn(topic_server.serve()),
            tokio::spawn(fanout_server.serve()),
        ];
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = run_node(
            version,
            &format!("{dist}/rmq-exchanges.client.js"),
            &[RMQ_URL, &ns],
            "",
        )
        .await;
        let result: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
            .expect("the client prints JSON");
        assert_eq!(
            result,
            json!({
                "wildcards": { "ok": "wildcard.a.b" },
                "queue": { "ok": "wildcard.c.d" },
                "fanout": { "ok": "ping/pong" },
            }),
            "{version:?}"
        );
        for stop in stops {
            stop.shutdown();
        }
        for serving in serving {
            serving.await.unwrap();
        }
        delete_queue(&topic).await;
        delete_exchange(&topic).await;
        delete_exchange(&fanout).await;
    }
}
