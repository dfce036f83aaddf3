//! The broker servers' bound on handlers in flight (`max_in_flight`), on the real brokers:
//! past it NATS, Redis and RabbitMQ servers take no more messages until a handler finishes
//! (every request is still answered, at most the limit at once); MQTT, whose client must keep
//! its event loop turning, drops what arrives at the limit, as QoS 0 allows. And a graceful
//! shutdown still sends the replies of the handlers in flight, which leave through the
//! server's outbox (batched publishing) after the handlers end: the server runs on a runtime
//! dropped as `serve` returns, as in a process that exits then, so a reply `serve` did not wait
//! for is lost (checked: without the Redis server's wait for its outboxes, or the NATS
//! server's wait and flush, the test fails; without the MQTT server's last write after the
//! handlers ended, it failed 2 runs in 3).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker_checks::namespace;
use gateway_core::prelude::*;
use gateway_core::server::{MessageRouter, RpcException, ShutdownHandle};
use gateway_core::transport::mqtt::MqttServer;
use gateway_core::transport::nats::{NatsServer, NatsServerOptions};
use gateway_core::transport::redis::RedisServer;
use gateway_core::transport::rmq::RmqServer;
use gateway_tests::*;

const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// How many handlers run now, and the most that ever ran at once.
#[derive(Default)]
struct Gauge {
    running: AtomicUsize,
    most: AtomicUsize,
}

/// A router whose `pattern` handler holds its slot for `hold`, measured by the gauge.
fn router(pattern: &str, hold: Duration) -> (MessageRouter, Arc<Gauge>) {
    let gauge = Arc::new(Gauge::default());
    let seen = gauge.clone();
    let router = MessageRouter::new().message(pattern.to_owned(), move |n: u32| {
        let gauge = seen.clone();
        async move {
            let now = gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(hold).await;
            gauge.running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, RpcException>(n)
        }
    });
    (router, gauge)
}

/// Sends `count` requests at once; the answers that came back.
async fn burst(client: &ClientProxy, pattern: &str, count: u32) -> Vec<u32> {
    let calls = (0..count).map(|n| client.send::<u32>(pattern.to_owned(), &n));
    let mut answered: Vec<u32> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    answered.sort_unstable();
    answered
}

async fn paused_at_the_limit(client: ClientProxy, pattern: &str, gauge: &Gauge) {
    let answered = burst(&client, pattern, 12).await;
    assert_eq!(
        answered,
        (0..12).collect::<Vec<_>>(),
        "every request answered"
    );
    assert_eq!(gauge.most.load(Ordering::SeqCst), 3, "at most 3 at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_reads_pause_at_the_in_flight_limit() {
    if !nats_up("nats_reads_pause_at_the_in_flight_limit") {
        return;
    }
    let pattern = format!("{}.bounded", namespace());
    let (router, gauge) = router(&pattern, Duration::from_millis(150));
    let options = NatsServerOptions::default().max_in_flight(3);
    let server = NatsServer::connect("nats://127.0.0.1:4222", router, options)
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    let client = ClientProxy::new(
        ClientOptions::nats("N", "nats://127.0.0.1:4222").timeout(Duration::from_secs(10)),
    );
    paused_at_the_limit(client, &pattern, &gauge).await;
    stop.shutdown();
    served.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_reads_pause_at_the_in_flight_limit() {
    require_redis!("redis_reads_pause_at_the_in_flight_limit");
    let pattern = format!("{}.bounded", namespace());
    let (router, gauge) = router(&pattern, Duration::from_millis(150));
    let server = RedisServer::connect(REDIS_URL, router)
        .await
        .unwrap()
        .max_in_flight(3);
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client =
        ClientProxy::new(ClientOptions::redis("R", REDIS_URL).timeout(Duration::from_secs(10)));
    paused_at_the_limit(client, &pattern, &gauge).await;
    stop.shutdown();
    served.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmq_reads_pause_at_the_in_flight_limit() {
    if !rmq_up("rmq_reads_pause_at_the_in_flight_limit") {
        return;
    }
    const URL: &str = "amqp://guest:guest@127.0.0.1:5672";
    let queue = format!("{}_bounded", namespace());
    let (router, gauge) = router("bounded", Duration::from_millis(150));
    let server = RmqServer::connect(URL, &queue, router)
        .await
        .unwrap()
        .max_in_flight(3);
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    let client =
        ClientProxy::new(ClientOptions::rmq("Q", URL, &queue).timeout(Duration::from_secs(10)));
    paused_at_the_limit(client, "bounded", &gauge).await;
    stop.shutdown();
    served.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_drops_what_arrives_at_the_in_flight_limit() {
    if !mqtt_up("mqtt_drops_what_arrives_at_the_in_flight_limit") {
        return;
    }
    const URL: &str = "mqtt://127.0.0.1:1883";
    let pattern = format!("{}/bounded", namespace());
    let (router, gauge) = router(&pattern, Duration::from_millis(1500));
    let server = MqttServer::connect(URL, router)
        .await
        .unwrap()
        .max_in_flight(2);
    let stop = server.shutdown_handle();
    let served = tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client = ClientProxy::new(ClientOptions::mqtt("M", URL).timeout(Duration::from_secs(4)));
    let answered = burst(&client, &pattern, 6).await;
    assert_eq!(answered.len(), 2, "two handled, four dropped: {answered:?}");
    assert_eq!(gauge.most.load(Ordering::SeqCst), 2);
    // Once the handlers finish, the server takes messages again.
    assert_eq!(burst(&client, &pattern, 1).await, vec![0]);
    stop.shutdown();
    served.await.unwrap();
}

/// Requests in flight at a shutdown: more than the outbox hands on in one batch (256), so its
/// last batches are still queued when the last handler ends.
const IN_FLIGHT: u32 = 600;

/// Sends [`IN_FLIGHT`] requests to a server whose handler takes 300 ms, stops the server while they are
/// in flight, and checks that every one is answered (the grace period waits for them, and
/// their replies leave the outbox before the server is done).
async fn replies_outlive_shutdown(
    client: ClientProxy,
    pattern: &str,
    stop: ShutdownHandle,
    served: tokio::task::JoinHandle<()>,
) {
    let calls = tokio::spawn({
        let pattern = pattern.to_owned();
        async move { burst(&client, &pattern, IN_FLIGHT).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await; // all in flight
    stop.shutdown();
    let answered = calls.await.unwrap();
    assert_eq!(
        answered,
        (0..IN_FLIGHT).collect::<Vec<_>>(),
        "every in-flight request answered"
    );
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the server stops")
        .unwrap();
}

/// Runs the server `serve` connects and serves on a runtime of its own, dropped the moment
/// `serve` returns, as a process that exits after `serve` is: what the server left to tasks of
/// its own (its outbox's last batch) is gone then, so only replies `serve` waited for arrive.
/// Its stop handle, and its end.
async fn serve_then_exit<F, Fut>(serve: F) -> (ShutdownHandle, tokio::task::JoinHandle<()>)
where
    F: FnOnce(tokio::sync::oneshot::Sender<ShutdownHandle>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // One thread: the server's tasks run only while `serve` waits, none beside it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(serve(handle_tx));
        drop(runtime); // every task of the server's ends here, sent or not
        let _ = done_tx.send(());
    });
    let stop = handle_rx.await.expect("the server connects");
    (stop, tokio::spawn(async { done_rx.await.unwrap() }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_answers_what_is_in_flight_at_shutdown() {
    if !nats_up("nats_answers_what_is_in_flight_at_shutdown") {
        return;
    }
    let pattern = format!("{}.draining", namespace());
    let (router, _) = router(&pattern, Duration::from_millis(300));
    let (stop, served) = serve_then_exit(|stop| async move {
        let server = NatsServer::connect("nats://127.0.0.1:4222", router, Default::default())
            .await
            .unwrap();
        let _ = stop.send(server.shutdown_handle());
        server.serve().await;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await; // subscribed
    let client = ClientProxy::new(
        ClientOptions::nats("N", "nats://127.0.0.1:4222").timeout(Duration::from_secs(10)),
    );
    replies_outlive_shutdown(client, &pattern, stop, served).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_answers_what_is_in_flight_at_shutdown() {
    require_redis!("redis_answers_what_is_in_flight_at_shutdown");
    let pattern = format!("{}.draining", namespace());
    let (router, _) = router(&pattern, Duration::from_millis(300));
    let (stop, served) = serve_then_exit(|stop| async move {
        let server = RedisServer::connect(REDIS_URL, router).await.unwrap();
        let _ = stop.send(server.shutdown_handle());
        server.serve().await;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client =
        ClientProxy::new(ClientOptions::redis("R", REDIS_URL).timeout(Duration::from_secs(10)));
    replies_outlive_shutdown(client, &pattern, stop, served).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_answers_what_is_in_flight_at_shutdown() {
    if !mqtt_up("mqtt_answers_what_is_in_flight_at_shutdown") {
        return;
    }
    const URL: &str = "mqtt://127.0.0.1:1883";
    let pattern = format!("{}/draining", namespace());
    let (router, _) = router(&pattern, Duration::from_millis(300));
    let (stop, served) = serve_then_exit(|stop| async move {
        let server = MqttServer::connect(URL, router)
            .await
            .unwrap()
            .max_in_flight(IN_FLIGHT as usize);
        let _ = stop.send(server.shutdown_handle());
        server.serve().await;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client = ClientProxy::new(ClientOptions::mqtt("M", URL).timeout(Duration::from_secs(10)));
    replies_outlive_shutdown(client, &pattern, stop, served).await;
}
