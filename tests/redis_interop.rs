//! Transport.REDIS against real NestJS and the real Redis on 127.0.0.1:6379: our
//! `ClientProxy` against a Nest Redis microservice, a Nest `ClientProxy` against our
//! `RedisServer`, and Redis going away (a private redis-server, so the shared one is untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::Arc;
use std::time::Duration;

use broker_checks::{
    broker_down_then_restarted, namespace, nest_client_against_ours, our_client_against_nest,
    our_router, Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::redis::RedisServer;
use gateway_tests::*;

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
        our_client_against_nest(
            version,
            "redis",
            REDIS_URL,
            &client,
            Unknown::Dropped,
            &namespace(),
        )
        .await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_then_restarted_mid_load() {
    if !BrokerKind::Redis.installed("redis_down_at_start_then_restarted_mid_load") {
        return;
    }
    broker_down_then_restarted(
        BrokerKind::Redis,
        "redis",
        client,
        |url, router| async move {
            let server = RedisServer::connect(&url, router).await.unwrap();
            tokio::spawn(server.serve());
        },
    )
    .await;
}
