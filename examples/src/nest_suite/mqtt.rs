//! `sum-mqtt`: Nest's MQTT app (`src/mqtt/mqtt.controller.ts`), ported.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use gateway_core::prelude::*;
use serde_json::json;

use gateway_core::transport::mqtt::MqttServerOptions;

use super::{sum, Command};

/// What [`MqttController`]'s wildcard event handlers received: `wildcard-event/#`,
/// `wildcard-event2/+/test`, and their shared-subscription twins (the spec's `IS_*` flags).
pub static RECEIVED: [AtomicBool; 4] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

sum_app_controller!(
    /// The spec app's `MqttController`, with its `@Client({ transport: Transport.MQTT })`; on top of the RPC app's routes, wildcard (`#`, `+`) and shared
    /// (`$share/<group>/..`) subscriptions for messages and events.
    MqttController,
    client(ClientOptions::mqtt("MQTT_CLIENT", url())),
    NOTIFIED,
    {
            #[post("wildcard-event")]
            async fn send_wildcard_event(&self) -> Result<(), RpcError> {
                self.client.emit("wildcard-event/test", &true).await
            }

            #[post("wildcard-message")]
            async fn send_wildcard_message(&self, #[body] data: RawReply) -> Result<RawReply, RpcError> {
                self.client.send("wildcard-message/test", &data).await
            }

            #[post("wildcard-event2")]
            async fn send_wildcard_event2(&self) -> Result<(), RpcError> {
                self.client.emit("wildcard-event2/test/test", &true).await
            }

            #[post("wildcard-message2")]
            async fn send_wildcard_message2(&self, #[body] data: RawReply) -> Result<RawReply, RpcError> {
                self.client.send("wildcard-message2/test/test", &data).await
            }

            #[post("shared-wildcard-event")]
            async fn send_shared_wildcard_event(&self) -> Result<(), RpcError> {
                self.client.emit("shared-wildcard-event/test", &true).await
            }

            #[post("shared-wildcard-message")]
            async fn send_shared_wildcard_message(
                &self,
                #[body] data: RawReply,
            ) -> Result<RawReply, RpcError> {
                self.client
                    .send("shared-wildcard-message/test", &data)
                    .await
            }

            #[post("shared-wildcard-event2")]
            async fn send_shared_wildcard_event2(&self) -> Result<(), RpcError> {
                self.client
                    .emit("shared-wildcard-event2/test/test", &true)
                    .await
            }

            #[post("shared-wildcard-message2")]
            async fn send_shared_wildcard_message2(
                &self,
                #[body] data: RawReply,
            ) -> Result<RawReply, RpcError> {
                self.client
                    .send("shared-wildcard-message2/test/test", &data)
                    .await
            }

            /// The call published with QoS 1 (Nest's `MqttRecordBuilder(data).setQoS(1)`).
            #[post("record-builder-duplex")]
            #[http_code(200)]
            async fn use_record_builder_duplex(&self, #[body] data: RawReply) -> Result<RawReply, RpcError> {
                let options = CallOptions::default().qos(1);
                self.client.send_with("record-builder-duplex", &data, options).await
            }

            /// The payload, and the QoS the message came with.
            #[message_pattern("record-builder-duplex")]
            async fn handle_record_builder_duplex(
                &self,
                #[payload] data: serde_json::Value,
                #[ctx] context: MessageContext,
            ) -> serde_json::Value {
                json!({ "data": data, "qos": context.qos() })
            }

            #[message_pattern("wildcard-message/#")]
            async fn wildcard_message_handler(&self, data: Option<Vec<i64>>) -> i64 {
                sum(data)
            }

            #[event_pattern("wildcard-event/#")]
            async fn wildcard_event_handler(&self, data: bool) {
                mark(0, data);
            }

            #[message_pattern("wildcard-message2/+/test")]
            async fn wildcard_message_handler2(&self, data: Option<Vec<i64>>) -> i64 {
                sum(data)
            }

            #[event_pattern("wildcard-event2/+/test")]
            async fn wildcard_event_handler2(&self, data: bool) {
                mark(1, data);
            }

            #[message_pattern("$share/test-group/shared-wildcard-message/#")]
            async fn shared_wildcard_message_handler(&self, data: Option<Vec<i64>>) -> i64 {
                sum(data)
            }

            #[event_pattern("$share/test-group/shared-wildcard-event/#")]
            async fn shared_wildcard_event_handler(&self, data: bool) {
                mark(2, data);
            }

            #[message_pattern("$share/test-group/shared-wildcard-message2/+/test")]
            async fn shared_wildcard_message_handler2(&self, data: Option<Vec<i64>>) -> i64 {
                sum(data)
            }

            #[event_pattern("$share/test-group/shared-wildcard-event2/+/test")]
            async fn shared_wildcard_event_handler2(&self, data: bool) {
                mark(3, data);
            }
    }
);

/// Set by [`MqttController`]'s `notification` handler.
pub static NOTIFIED: AtomicBool = AtomicBool::new(false);

fn mark(flag: usize, data: bool) {
    RECEIVED[flag].store(data, Ordering::SeqCst);
}

/// The MQTT URL of the MQTT apps: `MQTT_URL`, default `mqtt://127.0.0.1:1883`.
pub fn url() -> String {
    crate::config().get_or("MQTT_URL", "mqtt://127.0.0.1:1883".to_owned())
}

/// The MQTT app's module: the controller.
#[module(
    controllers = [MqttController],
)]
pub struct MqttModule;

/// The MQTT spec's set-up: the app with an MQTT microservice connected and started.
pub async fn create() -> Result<NestApplication, BootError> {
    super::hybrid::<MqttModule>([Transport::mqtt(url())]).await
}

/// `mqtt-record-builder`'s set-up: the same app, its microservice subscribed with QoS 1
/// (`subscribeOptions: { qos: 1 }`).
pub async fn create_record_builder() -> Result<NestApplication, BootError> {
    let qos_1 = MqttServerOptions::default().subscribe_qos(1);
    super::hybrid::<MqttModule>([Transport::mqtt_with(url(), qos_1)]).await
}

broadcast_app!(
    MqttBroadcastController,
    MqttMulticastController,
    MqttBroadcastModule,
    ClientOptions::mqtt("MQTT_CLIENT", url()),
    Transport::mqtt(url())
);
