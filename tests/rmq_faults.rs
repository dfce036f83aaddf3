//! RabbitMQ restarted under load. RabbitMQ is too heavy to run privately per test, so this
//! restarts the local broker's application (`rabbitmqctl stop_app` / `start_app`), which closes
//! every connection as a broker restart does. Its own test binary, so no other test shares
//! the broker while it restarts.

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::Arc;
use std::time::Duration;

use broker_checks::{
    assert_in_flight_lost, await_recovery, delete_queue, namespace, our_router, start_in_flight,
};
use gateway_core::prelude::*;
use gateway_core::transport::rmq::RmqServer;
use gateway_tests::*;
use serde_json::{json, Value};

const RMQ_URL: &str = "amqp://guest:guest@127.0.0.1:5672";

fn rabbitmqctl(args: &[&str]) -> bool {
    std::process::Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_restarted_mid_load() {
    let test = "rabbitmq_restarted_mid_load";
    if !server_available(
        test,
        "RabbitMQ",
        "127.0.0.1:5672",
        "rabbitmq-server -detached",
    ) {
        return;
    }
    if !rabbitmqctl(&["status"]) {
        assert!(
            !in_ci(),
            "{test} needs rabbitmqctl (as root); CI must not skip"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: rabbitmqctl cannot control the local RabbitMQ (run as root)"
        );
        return;
    }
    init_tracing();
    let ns = namespace();
    let queue = format!("q-{ns}");
    let server = RmqServer::connect(RMQ_URL, &queue, our_router(&ns, Arc::default()))
        .await
        .unwrap();
    tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = ClientProxy::new(ClientOptions::rmq("RMQ_SERVICE", RMQ_URL, &queue));
    let p = json!({ "cmd": "sleep", "ns": ns });
    let ok: Value = client
        .send(p.clone(), &json!({ "ms": 0, "tag": 0 }))
        .await
        .unwrap();
    assert_eq!(ok, json!({ "slept": 0, "tag": 0 }));

    // Calls that sleep 4 s: `rabbitmqctl stop_app` may take over a second to begin on a busy
    // machine (one CI run saw a 1.5 s call answered before the broker went down).
    let in_flight = start_in_flight(&client, &p, 20, 4000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = tokio::task::spawn_blocking(|| rabbitmqctl(&["stop_app"]))
        .await
        .unwrap();
    let started_again = tokio::task::spawn_blocking(|| rabbitmqctl(&["start_app"]));
    assert_in_flight_lost(&client, in_flight, Duration::from_secs(5)).await;
    assert!(
        stopped && started_again.await.unwrap(),
        "rabbitmqctl restarted the app"
    );
    let took = await_recovery(&client, &p, Duration::from_secs(30)).await;
    eprintln!("RabbitMQ restart: calls succeed again {took:?} after start_app returned");
    delete_queue(&queue).await;
}
