//! Transport.MQTT against real NestJS and the real Mosquitto on 127.0.0.1:1883: our
//! `ClientProxy` against a Nest MQTT microservice, a Nest `ClientProxy` against our
//! `MqttServer` (both on MQTT 3.1.1 and on MQTT 5, Nest's `protocolVersion: 5`), and the broker going away (a private mosquitto, so the shared one is
//! untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::time::Duration;

use broker_checks::{
    broker_down_then_restarted, namespace, nest_client_against_our_server, our_client_against_nest,
    Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::mqtt::{MqttServer, MqttServerOptions};
use gateway_tests::*;

const MQTT_URL: &str = "mqtt://127.0.0.1:1883";

fn client(url: &str) -> ClientProxy {
    ClientProxy::new(ClientOptions::mqtt("MQTT_SERVICE", url).timeout(Duration::from_secs(5)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_a_nest_mqtt_microservice() {
    if !mqtt_up("our_client_against_a_nest_mqtt_microservice") {
        return;
    }
    require_nest!("our_client_against_a_nest_mqtt_microservice");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("our ClientProxy against a Nest {version:?} MQTT microservice");
        let client = client(MQTT_URL);
        our_client_against_nest(
            version,
            "mqtt",
            MQTT_URL,
            &client,
            Unknown::Dropped,
            &namespace(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nest_mqtt_client_against_our_microservice() {
    if !mqtt_up("a_nest_mqtt_client_against_our_microservice") {
        return;
    }
    require_nest!("a_nest_mqtt_client_against_our_microservice");
    init_tracing();
    for version in Nest::ALL {
        nest_client_against_our_server(
            version,
            "mqtt",
            MQTT_URL,
            Unknown::Dropped,
            |ns, router| async move {
                let _ = ns;
                let server = MqttServer::connect(MQTT_URL, router).await.unwrap();
                (server.shutdown_handle(), tokio::spawn(server.serve()))
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_both_ways() {
    if !mqtt_up("mqtt5_both_ways") {
        return;
    }
    require_nest!("mqtt5_both_ways");
    init_tracing();
    for version in Nest::ALL {
        eprintln!("MQTT 5: our ClientProxy against a Nest {version:?} microservice, and back");
        let client = ClientProxy::new(
            ClientOptions::mqtt5("MQTT_SERVICE", MQTT_URL).timeout(Duration::from_secs(5)),
        );
        our_client_against_nest(
            version,
            "mqtt5",
            MQTT_URL,
            &client,
            Unknown::Dropped,
            &namespace(),
        )
        .await;
        nest_client_against_our_server(
            version,
            "mqtt5",
            MQTT_URL,
            Unknown::Dropped,
            |ns, router| async move {
                let _ = ns;
                let options = MqttServerOptions::default().v5();
                let server = MqttServer::connect_with(MQTT_URL, router, options)
                    .await
                    .unwrap();
                (server.shutdown_handle(), tokio::spawn(server.serve()))
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_down_at_start_then_restarted_mid_load() {
    if !BrokerKind::Mosquitto.installed("mqtt_down_at_start_then_restarted_mid_load") {
        return;
    }
    broker_down_then_restarted(
        BrokerKind::Mosquitto,
        "mqtt",
        client,
        |url, router| async move {
            let server = MqttServer::connect(&url, router).await.unwrap();
            tokio::spawn(server.serve());
        },
    )
    .await;
}

/// A TCP relay to the broker at `to`: `cut()` ends every connection through it, and while
/// it is `refusing` new ones are closed as soon as they are accepted.
struct Relay {
    addr: String,
    refusing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    async fn start(to: &'static str) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (flag, watch) = (refusing.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let mut cut = watch.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Relay {
            addr,
            refusing,
            cuts,
        }
    }

    /// Ends every connection, and closes new ones while `refuse` holds.
    fn cut(&self, refuse: bool) {
        self.refusing
            .store(refuse, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }
}

/// Our server loses its broker connection while a handler runs, and the handler ends before
/// the server is connected again: its reply waits in rumqttc's queue and leaves once the
/// server has reconnected, instead of being dropped. The caller, connected to the broker
/// all along, gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_made_while_the_server_reconnects_is_sent_once_it_is_back() {
    if !mqtt_up("a_reply_made_while_the_server_reconnects_is_sent_once_it_is_back") {
        return;
    }
    init_tracing();
    let pattern = format!("{}/slow", namespace());
    let router = MessageRouter::new().message(pattern.clone(), |n: i64| async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Ok::<_, RpcException>(n * 2)
    });
    let relay = Relay::start("127.0.0.1:1883").await;
    let server = MqttServer::connect(&format!("mqtt://{}", relay.addr), router)
        .await
        .unwrap();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client = ClientProxy::new(
        ClientOptions::mqtt("MQTT_SERVICE", MQTT_URL).timeout(Duration::from_secs(8)),
    );
    let call = tokio::spawn({
        let pattern = pattern.clone();
        async move { client.send::<i64>(pattern, &21).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await; // the handler runs
    relay.cut(true);
    tokio::time::sleep(Duration::from_millis(1500)).await; // the handler ended meanwhile
    assert!(
        !call.is_finished(),
        "answered while cut off: {:?}",
        call.await
    );
    relay.cut(false);
    assert_eq!(call.await.unwrap().unwrap(), 42);
    stop.shutdown();
    serving.await.unwrap();
}

/// The first requests on a route race the client's subscription to its reply topic: every
/// one of them must be published after the SUBSCRIBE, or its reply finds no subscriber and
/// the call ends at its deadline. 64 first calls on each of 20 fresh routes, from two
/// threads, on one new connection. A guard, not a reproduction: the code before it (a set
/// updated before the SUBSCRIBE was queued) passed it too, its window being a few
/// instructions wide; the ordering is now held by a lock across the subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_calls_on_a_new_route_all_wait_for_its_reply_subscription() {
    if !mqtt_up("first_calls_on_a_new_route_all_wait_for_its_reply_subscription") {
        return;
    }
    init_tracing();
    let ns = namespace();
    let routes: Vec<String> = (0..20).map(|i| format!("{ns}/first/{i}")).collect();
    let mut router = MessageRouter::new();
    for route in &routes {
        router = router.message(route.clone(), |n: i64| async move {
            Ok::<_, RpcException>(n + 1)
        });
    }
    let server = MqttServer::connect(MQTT_URL, router).await.unwrap();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.serve());
    tokio::time::sleep(Duration::from_millis(300)).await; // subscribed
    let client = ClientProxy::new(
        ClientOptions::mqtt("MQTT_SERVICE", MQTT_URL).timeout(Duration::from_secs(3)),
    );
    client.connect().await.unwrap();
    for route in routes {
        let calls: Vec<_> = (0..64i64)
            .map(|n| {
                let (client, route) = (client.clone(), route.clone());
                tokio::spawn(async move { client.send::<i64>(route, &n).await })
            })
            .collect();
        for (n, call) in calls.into_iter().enumerate() {
            assert_eq!(
                call.await.unwrap().unwrap(),
                n as i64 + 1,
                "call {n} on {route}"
            );
        }
    }
    stop.shutdown();
    serving.await.unwrap();
}
