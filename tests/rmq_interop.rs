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

/// A pattern too long to be an AMQP routing key (255 bytes), sent through a topic exchange
/// with `wildcards`, fails that call with the reason, and the client goes on working: amqprs,
/// handed such a key, would panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_too_long_for_a_routing_key_fails_its_call_only() {
    if !rmq_up("a_pattern_too_long_for_a_routing_key_fails_its_call_only") {
        return;
    }
    let ns = namespace();
    let queue = format!("q-{ns}");
    let options = gateway_core::transport::rmq::RmqOptions::queue(queue.clone()).wildcards();
    let router = MessageRouter::new().message(format!("{ns}.echo"), |v: Value| async move {
        Ok::<_, RpcException>(v)
    });
    let server = RmqServer::connect_with(RMQ_URL, router, options.clone())
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    let client = ClientProxy::new(
        ClientOptions::rmq_with("RMQ_SERVICE", RMQ_URL, options).timeout(Duration::from_secs(5)),
    );
    let long = format!("{ns}.{}", "x".repeat(300));
    let refused = client.send::<Value>(long, &json!(1)).await;
    let error = refused.expect_err("a 300-byte routing key").to_string();
    assert!(error.contains("AMQP allows 255"), "{error}");
    let echoed: Value = client
        .send(format!("{ns}.echo"), &json!({ "n": 2 }))
        .await
        .unwrap();
    assert_eq!(echoed, json!({ "n": 2 }));
    stop.shutdown();
    served.await.unwrap();
    delete_queue(&queue).await;
    broker_checks::delete_exchange(&queue).await;
}

/// How many messages wait in `queue`, not yet sent to a consumer.
async fn ready_in(queue: &str) -> u32 {
    let (conn, channel) = broker_checks::rmq_channel().await.expect("RabbitMQ is up");
    let passive = amqprs::channel::QueueDeclareArguments::new(queue)
        .passive(true)
        .finish();
    let (_, ready, _) = channel.queue_declare(passive).await.unwrap().unwrap();
    let _ = conn.close().await;
    ready
}

/// Nest's `noAck: false` with `prefetchCount`: the broker sends a consumer no more messages
/// than its prefetch count until its handlers acknowledge them (`context.ack()`, Nest's
/// `channel.ack(message)`); the rest wait in the queue, not in the service. A message settled
/// twice is settled once; one rejected with requeue comes back; one no handler takes is
/// rejected for good (its prefetch slot freed), as Nest rejects it; one not acknowledged when
/// the server stops goes back to the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_keep_the_rest_of_the_queue_at_the_broker() {
    if !rmq_up("acknowledgements_keep_the_rest_of_the_queue_at_the_broker") {
        return;
    }
    let queue = format!("q-{}", namespace());
    let held: Arc<std::sync::Mutex<Vec<(u32, MessageContext)>>> = Arc::default();
    let router = MessageRouter::new().event("hold", {
        let held = held.clone();
        move |n: u32| {
            let context = MessageContext::current().expect("a handler's context");
            held.lock().unwrap().push((n, context));
            async {}
        }
    });
    let options = gateway_core::transport::rmq::RmqOptions::queue(queue.clone())
        .no_ack(false)
        .prefetch_count(2);
    let server = RmqServer::connect_with(RMQ_URL, router, options)
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    let client = client(RMQ_URL, &queue);
    for n in 0..6 {
        client.emit("hold", &n).await.unwrap();
    }
    let taken = |count: usize| {
        let held = held.clone();
        async move {
            let started = Instant::now();
            while held.lock().unwrap().len() < count {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{count} taken in time"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await; // and no more
            held.lock()
                .unwrap()
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(taken(2).await, vec![0, 1], "two sent: the prefetch count");
    assert_eq!(
        ready_in(&queue).await,
        4,
        "the other four wait at the broker"
    );

    let first_two: Vec<MessageContext> = held
        .lock()
        .unwrap()
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    for context in &first_two {
        assert!(context.ack().await);
    }
    assert!(
        !first_two[0].ack().await,
        "a second acknowledgement is not sent"
    );
    assert_eq!(taken(4).await, vec![0, 1, 2, 3]);

    // 2 goes back to the queue and comes again, after 4 and 5 or before them.
    let third = held.lock().unwrap()[2].1.clone();
    assert!(third.nack(true).await);
    let fourth = held.lock().unwrap()[3].1.clone();
    assert!(fourth.ack().await);
    // Requeued and sent again, beside 4 (in the order the broker chooses).
    let mut again = taken(6).await[4..].to_vec();
    again.sort_unstable();
    assert_eq!(again, [2, 4], "2 redelivered");
    let settle_all = || async {
        let all: Vec<MessageContext> = held.lock().unwrap().drain(..).map(|(_, c)| c).collect();
        for context in all {
            context.ack().await;
        }
    };
    settle_all().await;
    assert_eq!(taken(1).await, vec![5], "the last one");
    settle_all().await;

    // Events no handler takes are rejected, not left holding the prefetch slots.
    for _ in 0..3 {
        client.emit("nobody", &0).await.unwrap();
    }
    client.emit("hold", &7).await.unwrap();
    assert_eq!(taken(1).await, vec![7]);
    assert_eq!(ready_in(&queue).await, 0);
    // 7 is not acknowledged when the server stops: the broker puts it back in the queue.
    stop.shutdown();
    served.await.unwrap();
    assert_eq!(ready_in(&queue).await, 1, "7 back in the queue");
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
