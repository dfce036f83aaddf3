//! Transport.MQTT against real NestJS and the real Mosquitto on 127.0.0.1:1883: our
//! `ClientProxy` against a Nest MQTT microservice, a Nest `ClientProxy` against our
//! `MqttServer`, and the broker going away (a private mosquitto, so the shared one is
//! untouched).

#[path = "support/broker_checks.rs"]
mod broker_checks;

use std::sync::Arc;
use std::time::Duration;

use broker_checks::{
    broker_down_then_restarted, namespace, nest_client_against_ours, our_client_against_nest,
    our_router, Unknown,
};
use gateway_core::prelude::*;
use gateway_core::transport::mqtt::MqttServer;
use gateway_tests::*;

const MQTT_URL: &str = "mqtt://127.0.0.1:1883";

fn mqtt_up(test: &str) -> bool {
    server_available(
        test,
        "Mosquitto (MQTT)",
        "127.0.0.1:1883",
        "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
    )
}

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
        eprintln!("a Nest {version:?} MQTT ClientProxy against our microservice");
        let ns = namespace();
        let server = MqttServer::connect(MQTT_URL, our_router(&ns, Arc::default()))
            .await
            .unwrap();
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.serve());
        tokio::time::sleep(Duration::from_millis(100)).await; // subscribed
        nest_client_against_ours(version, "mqtt", MQTT_URL, &ns, Unknown::Dropped).await;
        stop.shutdown();
        tokio::time::timeout(Duration::from_secs(5), serving)
            .await
            .expect("the server stops")
            .unwrap();
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
