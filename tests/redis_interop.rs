//! Transport.REDIS against real NestJS and the real Redis on 127.0.0.1:6379: our
//! `ClientProxy` against a Nest Redis microservice, a Nest `ClientProxy` against our
//! `RedisServer`, and Redis going away (a private redis-server, so the shared one is untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::time::Duration;

use broker_checks::{
    broker_down_then_restarted, namespace, nest_client_against_our_server, our_client_against_nest,
    Unknown,
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
        nest_client_against_our_server(
            version,
            "redis",
            REDIS_URL,
            Unknown::Dropped,
            |ns, router| async move {
                let _ = ns;
                let server = RedisServer::connect(REDIS_URL, router).await.unwrap();
                (server.shutdown_handle(), tokio::spawn(server.serve()))
            },
        )
        .await;
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
