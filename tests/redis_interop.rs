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

/// Nest's `wildcards: true`: our server subscribes to its routes as patterns, so a Nest
/// client's `math.<ns>.sum` reaches the `math.<ns>.*` handler (whose context names the
/// channel), its reply comes back on `math.<ns>.sum.reply` where the Nest client listens, and
/// an event on `orders.<ns>.created` reaches `orders.<ns>.*`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_redis_client_against_our_wildcard_microservice() {
    require_redis!("a_nest_redis_client_against_our_wildcard_microservice");
    require_nest!("a_nest_redis_client_against_our_wildcard_microservice");
    init_tracing();
    use gateway_core::transport::redis::RedisServerOptions;
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};

    for version in Nest::ALL {
        let ns = namespace();
        let events = Arc::new(Mutex::new(Vec::<Value>::new()));
        let (on_orders, on_events) = (events.clone(), events.clone());
        let router = MessageRouter::new()
            .message(format!("math.{ns}.*"), |numbers: Vec<i64>| async move {
                let channel = MessageContext::current()
                    .expect("a context")
                    .subject()
                    .to_owned();
                let result = match channel.rsplit('.').next() {
                    Some("sum") => numbers.iter().sum::<i64>(),
                    _ => numbers.iter().copied().max().unwrap_or_default(),
                };
                Ok::<_, RpcException>(json!({ "result": result, "channel": channel }))
            })
            .event(format!("orders.{ns}.*"), move |order: Value| {
                let seen = on_orders.clone();
                async move {
                    let channel = MessageContext::current()
                        .expect("a context")
                        .subject()
                        .to_owned();
                    seen.lock()
                        .unwrap()
                        .push(json!({ "channel": channel, "order": order }));
                }
            })
            .message(format!("events.{ns}"), move |_: Value| {
                let seen = on_events.clone();
                async move { Ok::<_, RpcException>(Value::Array(seen.lock().unwrap().clone())) }
            });
        let server =
            RedisServer::connect_with(REDIS_URL, router, RedisServerOptions::default().wildcards())
                .await
                .unwrap();
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.serve());
        tokio::time::sleep(Duration::from_millis(200)).await;

        let out = run_node(
            version,
            "wildcard-client.js",
            &["redis", REDIS_URL, &ns],
            "",
        )
        .await;
        let r: Value = serde_json::from_str(out.lines().last().unwrap_or_default())
            .expect("wildcard-client.js prints JSON");
        assert_eq!(
            r["sum"],
            json!({ "ok": { "result": 6, "channel": format!("math.{ns}.sum") } }),
            "{version:?}"
        );
        assert_eq!(
            r["max"],
            json!({ "ok": { "result": 5, "channel": format!("math.{ns}.max") } })
        );
        assert_eq!(
            r["events"],
            json!({ "ok": [{ "channel": format!("orders.{ns}.created"), "order": { "id": "o-1" } }] })
        );
        stop.shutdown();
        serving.await.unwrap();
    }
}

/// Redis refusing some `PUBLISH`es of a batch (an ACL user that may publish on `ok` but not on
/// `refused`, on a private redis-server) fails those calls at once with Redis's own reason,
/// not at their deadline, while the calls it took in the same batch are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_publish_fails_its_call_at_once_and_only_it() {
    if !BrokerKind::Redis.installed("a_refused_publish_fails_its_call_at_once_and_only_it") {
        return;
    }
    let port = free_port();
    let port_arg = port.to_string();
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        &port_arg,
        "--save",
        "",
        "--appendonly",
        "no",
        // The user: every command, on the channels `ok` and the two reply channels only.
        "--user",
        "limited",
        "on",
        ">secret",
        "resetchannels",
        "&ok",
        "&ok.reply",
        "&refused.reply",
        "~*",
        "+@all",
    ]
    .map(str::to_owned)
    .to_vec();
    let _redis = PrivateBroker::start_with(BrokerKind::Redis, port, args).await;
    let url = format!("redis://127.0.0.1:{port}");
    let router =
        MessageRouter::new().message("ok", |n: u32| async move { Ok::<_, RpcException>(n) });
    let server = RedisServer::connect(&url, router).await.unwrap();
    tokio::spawn(server.serve());
    // Deadlines far beyond the test's bound: only Redis's answer can end a refused call.
    let client = ClientProxy::new(
        ClientOptions::redis(
            "REDIS_SERVICE",
            format!("redis://limited:secret@127.0.0.1:{port}"),
        )
        .timeout(Duration::from_secs(60)),
    );
    client.connect().await.expect("the user may subscribe");
    // The server subscribes once it serves: until then Redis drops what is published on `ok`.
    let mut subscribed = false;
    for _ in 0..50 {
        let probe = CallOptions::timeout(Duration::from_millis(200));
        if client.send_with::<u32>("ok", &0, probe).await.is_ok() {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "our Redis server answers on `ok`");
    let calls = (0..16u32).map(|n| {
        let pattern = if n % 2 == 0 { "ok" } else { "refused" };
        client.send::<u32>(pattern, &n)
    });
    let results = tokio::time::timeout(
        Duration::from_secs(10),
        futures_util::future::join_all(calls),
    )
    .await
    .expect("a refused PUBLISH must fail its call, not leave it to its deadline");
    for (n, result) in results.into_iter().enumerate() {
        match result {
            Ok(answer) => assert!(n % 2 == 0 && answer == n as u32, "call {n}: {answer}"),
            Err(error) => assert!(
                n % 2 == 1
                    && matches!(error, RpcError::ConnectionLost { .. })
                    && error
                        .to_string()
                        .contains("Redis refused the request: NoPerm"),
                "call {n} fails with its own command's reason: {error}"
            ),
        }
    }
}
