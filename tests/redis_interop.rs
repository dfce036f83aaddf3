//! Transport.REDIS against real NestJS and the real Redis on 127.0.0.1:6379: our
//! `ClientProxy` against a Nest Redis microservice, a Nest `ClientProxy` against our
//! `RedisServer`, and Redis going away (a private redis-server, so the shared one is untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_checks::{
    namespace, nest_client_against_ours, our_client_against_nest, our_router, Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::redis::RedisServer;
use gateway_tests::*;
use serde_json::{json, Value};

const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn client(url: &str) -> ClientProxy {
    ClientProxy::new(ClientOptions::redis("REDIS_SERVICE", url).timeout(Duration::from_secs(5)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_a_nest_redis_microservice() {
    require_redis!("our_client_against_a_nest_redis_microservice");
    require_nest!("our_client_against_a_nest_redis_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("our ClientProxy against a Nest {version:?} Redis microservice");
        let client = client(REDIS_URL);
        our_client_against_nest(version, "redis", REDIS_URL, &client, Unknown::Dropped).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_redis_client_against_our_microservice() {
    require_redis!("a_nest_redis_client_against_our_microservice");
    require_nest!("a_nest_redis_client_against_our_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("a Nest {version:?} Redis ClientProxy against our microservice");
        let ns = namespace();
        let server = RedisServer::connect(REDIS_URL, our_router(&ns, Arc::default()))
            .await
            .unwrap();
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.serve());
        tokio::time::sleep(Duration::from_millis(100)).await; // subscribed
        nest_client_against_ours(version, "redis", REDIS_URL, &ns, Unknown::Dropped).await;
        stop.shutdown();
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

/// A redis-server of the test's own (killed when dropped).
struct PrivateRedis {
    child: tokio::process::Child,
}

impl PrivateRedis {
    async fn start(port: u16) -> PrivateRedis {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return PrivateRedis { child };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the private redis-server did not come up on {port}");
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

fn redis_server_installed(test: &str) -> bool {
    let ok = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !in_ci(),
            "{test} needs the redis-server binary; CI must not skip"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: redis-server is not installed (apt-get install redis-server)"
        );
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_then_restarted_mid_load() {
    if !redis_server_installed("redis_down_at_start_then_restarted_mid_load") {
        return;
    }
    init_tracing();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let ns = namespace();
    let client = client(&url);
    let p = json!({ "cmd": "sleep", "ns": ns });

    // No Redis yet: a fast Connect error (503 at the edge).
    let started = Instant::now();
    let down = client
        .send::<Value>(p.clone(), &json!({ "ms": 0, "tag": 0 }))
        .await;
    assert!(matches!(down, Err(RpcError::Connect { .. })), "{down:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(HttpException::from(down.unwrap_err()).status(), 503);

    // Redis comes up: the server (started now) and the same client connect.
    let redis = PrivateRedis::start(port).await;
    let server = RedisServer::connect(&url, our_router(&ns, Arc::default()))
        .await
        .unwrap();
    tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ok: Value = client
        .send(p.clone(), &json!({ "ms": 0, "tag": 1 }))
        .await
        .unwrap();
    assert_eq!(ok, json!({ "slept": 0, "tag": 1 }));

    // Restart mid-load: in-flight calls fail promptly and clearly.
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
    redis.stop().await;
    for call in in_flight {
        let (result, took) = call.await.unwrap();
        assert!(
            matches!(&result, Err(RpcError::ConnectionLost { .. })),
            "an in-flight call during the restart: {result:?}"
        );
        assert!(took < Duration::from_secs(3), "failed in {took:?}");
    }
    assert_eq!(client.pending_calls(), 0, "nothing left pending");

    // Back up: both ends reconnect by themselves.
    let _redis = PrivateRedis::start(port).await;
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
        "Redis restart: calls succeed again {:?} after Redis is back",
        back.elapsed()
    );
}
