//! NestJS's own microservices integration suite (`integration/microservices` in the Nest
//! repository), its apps ported to this framework, so our tests can assert the facts its specs
//! assert. `cargo run -p examples --bin nest-suite -- tcp` serves them (HTTP on `PORT`, default
//! 8080; the microservice on `MICROSERVICE_PORT`, default Nest's 3000).
//!
//! Ported so far (each a hybrid application whose controller has HTTP routes that call,
//! through a client, the message handlers it also serves):
//! - `tcp`: the RPC app of `sum-rpc` ([`AppController`]). Not yet: its `useFactory`/`useClass`
//!   clients and custom client class (they need factory providers).
//! - `nats`: the NATS app of `sum-nats` ([`NatsController`]): wildcard patterns (`math.*`),
//!   two handlers of one event, an exception caught by the route. Not yet: its record-builder
//!   route.
//! - `redis`: the Redis app of `sum-redis` ([`RedisController`]: the RPC app's controller
//!   over Redis).
//! - `mqtt`: the MQTT app of `sum-mqtt` ([`MqttController`]): wildcard (`#`, `+`) and shared
//!   (`$share/<group>/..`) subscriptions for messages and events. Not yet: its record-builder
//!   route (QoS from the packet).

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{Stream, StreamExt};
use gateway_core::prelude::*;
use serde::Deserialize;
use serde_json::json;

/// Set by the `notification` event handler (the spec's `AppController.IS_NOTIFIED`).
pub static IS_NOTIFIED: AtomicBool = AtomicBool::new(false);

/// The microservice's port: `MICROSERVICE_PORT`, default Nest's TCP default, 3000.
pub fn microservice_port() -> u16 {
    crate::env_port("MICROSERVICE_PORT", 3000)
}

/// `?command=..`.
#[derive(Debug, Deserialize)]
pub struct Command {
    /// The `cmd` of the pattern to call.
    pub command: String,
}

fn sum(data: Option<Vec<i64>>) -> i64 {
    data.unwrap_or_default().iter().sum()
}

/// The controller that `sum-rpc` (`AppController`, over TCP), `sum-redis` (`RedisController`)
/// and `sum-mqtt` (`MqttController`) share, line for line but for the client's transport:
/// `$client` is the injected client's token, `$notified` the flag its `notification` handler
/// sets, and `$extra` the methods an app adds.
macro_rules! sum_app_controller {
    ($(#[$doc:meta])* $name:ident, $client:literal, $notified:ident $(, { $($extra:tt)* })?) => {
        $(#[$doc])*
        #[injectable]
        pub struct $name {
            #[inject($client)]
            client: ClientProxy,
        }

        #[controller]
        impl $name {
            #[post("")]
            #[http_code(200)]
            async fn call(
                &self,
                #[query] q: Command,
                #[body] data: RawReply,
            ) -> Result<RawReply, RpcError> {
                self.client.send(json!({ "cmd": q.command }), &data).await
            }

            /// Every value of the `streaming` reply, summed as they come (the spec's
            /// `.pipe(scan((a, b) => a + b))`); the last sum is the answer.
            #[post("stream")]
            #[http_code(200)]
            async fn stream(&self, #[body] data: RawReply) -> Result<i64, HttpException> {
                let mut values = self
                    .client
                    .send_stream::<i64>(pattern!({ cmd: "streaming" }), &data)
                    .await?;
                let mut total = 0;
                while let Some(value) = values.next().await {
                    total += value?;
                }
                Ok(total)
            }

            /// Every list summed by the `sum` handler at once; `true` when every sum is right.
            #[post("concurrent")]
            #[http_code(200)]
            async fn concurrent(&self, #[body] data: Vec<Vec<i64>>) -> Result<bool, RpcError> {
                let calls = data.iter().map(|tab| {
                    let expected: i64 = tab.iter().sum();
                    let sent = self.client.send::<i64>(pattern!({ cmd: "sum" }), tab);
                    async move { sent.await.map(|result| result == expected) }
                });
                let results = futures_util::future::try_join_all(calls).await?;
                Ok(results.into_iter().all(|right| right))
            }

            #[post("notify")]
            async fn send_notification(&self) -> Result<(), RpcError> {
                self.client.emit("notification", &true).await
            }

            #[message_pattern({ cmd: "sum" })]
            async fn sum(&self, data: Option<Vec<i64>>) -> i64 {
                sum(data)
            }

            #[message_pattern({ cmd: "asyncSum" })]
            async fn async_sum(&self, data: Option<Vec<i64>>) -> i64 {
                tokio::task::yield_now().await;
                sum(data)
            }

            #[message_pattern({ cmd: "streamSum" })]
            fn stream_sum(
                &self,
                data: Option<Vec<i64>>,
            ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
                futures_util::stream::iter([Ok(sum(data))])
            }

            #[message_pattern({ cmd: "streaming" })]
            fn streaming(
                &self,
                data: Vec<i64>,
            ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
                futures_util::stream::iter(data.into_iter().map(Ok))
            }

            #[event_pattern("notification")]
            async fn event_handler(&self, data: bool) {
                $notified.store(data, Ordering::SeqCst);
            }

            $($($extra)*)?
        }
    };
}

sum_app_controller!(
    /// The spec app's `AppController`: its `@Client({ transport: Transport.TCP })` is the
    /// injected `CLIENT` (to localhost on the microservice's port).
    AppController,
    "CLIENT",
    IS_NOTIFIED
);

sum_app_controller!(
    /// The spec app's `RedisController`: its `@Client({ transport: Transport.REDIS })` is the
    /// injected `REDIS_CLIENT`.
    RedisController,
    "REDIS_CLIENT",
    REDIS_NOTIFIED
);

/// Set by [`RedisController`]'s `notification` handler.
pub static REDIS_NOTIFIED: AtomicBool = AtomicBool::new(false);

/// The spec app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::tcp(
        "CLIENT",
        format!("127.0.0.1:{}", microservice_port()),
    )])],
    controllers = [AppController],
)]
pub struct ApplicationModule;

/// The spec's set-up: the app, with a TCP microservice connected on `0.0.0.0:<port>` and
/// started (`connectMicroservice`, `startAllMicroservices`).
pub async fn create(microservice_port: u16) -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<ApplicationModule>().await?;
    app.connect_microservice(Transport::tcp(format!("0.0.0.0:{microservice_port}")));
    app.start_all_microservices().await?;
    Ok(app)
}

/// Set by the first and the second `notification` handler of [`NatsController`] (the spec's
/// `NatsController.IS_NOTIFIED` and `IS_NOTIFIED2`).
pub static NATS_NOTIFIED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

/// The spec app's `NatsController`: its client is the injected `NATS_CLIENT`.
#[injectable]
pub struct NatsController {
    #[inject("NATS_CLIENT")]
    client: ClientProxy,
}

#[controller]
impl NatsController {
    #[post("")]
    #[http_code(200)]
    async fn call(
        &self,
        #[query] q: Command,
        #[body] data: RawReply,
    ) -> Result<RawReply, RpcError> {
        self.client.connect().await?;
        self.client.send(q.command, &data).await
    }

    #[post("stream")]
    #[http_code(200)]
    async fn stream(&self, #[body] data: RawReply) -> Result<i64, HttpException> {
        let mut values = self
            .client
            .send_stream::<i64>("streaming.sum", &data)
            .await?;
        let mut total = 0;
        while let Some(value) = values.next().await {
            total += value?;
        }
        Ok(total)
    }

    #[post("concurrent")]
    #[http_code(200)]
    async fn concurrent(&self, #[body] data: Vec<Vec<i64>>) -> Result<bool, RpcError> {
        let calls = data.iter().map(|tab| {
            let expected: i64 = tab.iter().sum();
            let sent = self.client.send::<i64>("math.sum", tab);
            async move { sent.await.map(|result| result == expected) }
        });
        let results = futures_util::future::try_join_all(calls).await?;
        Ok(results.into_iter().all(|right| right))
    }

    /// The service's error, caught and answered as a value (the spec's
    /// `.pipe(catchError(err => of(err)))`).
    #[get("exception")]
    async fn get_error(&self) -> Result<RawReply, RpcError> {
        match self.client.send::<RawReply>("exception", &json!({})).await {
            Err(RpcError::Remote { error, .. }) => {
                Ok(serde_json::value::to_raw_value(&error).expect("JSON"))
            }
            other => other,
        }
    }

    #[post("notify")]
    async fn send_notification(&self) -> Result<(), RpcError> {
        self.client.emit("notification", &true).await
    }

    #[message_pattern("math.*")]
    async fn sum(&self, #[payload] data: Option<Vec<i64>>, #[ctx] _context: MessageContext) -> i64 {
        sum(data)
    }

    #[message_pattern("async.*")]
    async fn async_sum(&self, data: Option<Vec<i64>>) -> i64 {
        tokio::task::yield_now().await;
        sum(data)
    }

    #[message_pattern("stream.*")]
    fn stream_sum(
        &self,
        data: Option<Vec<i64>>,
    ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::iter([Ok(sum(data))])
    }

    #[message_pattern("streaming.*")]
    fn streaming(
        &self,
        data: Vec<i64>,
    ) -> impl Stream<Item = Result<i64, RpcException>> + Send + 'static {
        futures_util::stream::iter(data.into_iter().map(Ok))
    }

    #[message_pattern("exception")]
    async fn throw_error(&self) -> Result<i64, RpcException> {
        Err(RpcException::new("test"))
    }

    #[event_pattern("notification")]
    async fn event_handler(&self, #[payload] data: bool) {
        NATS_NOTIFIED[0].store(data, Ordering::SeqCst);
    }

    #[event_pattern("notification")]
    async fn event_handler2(&self, #[payload] data: bool) {
        NATS_NOTIFIED[1].store(data, Ordering::SeqCst);
    }
}

/// The NATS URL of the NATS apps: `NATS_URL`, default `nats://127.0.0.1:4222`.
pub fn nats_url() -> String {
    std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// The NATS app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::nats("NATS_CLIENT", nats_url())])],
    controllers = [NatsController],
)]
pub struct NatsModule;

/// The NATS spec's set-up: the app with a NATS microservice connected and started.
pub async fn create_nats() -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<NatsModule>().await?;
    app.connect_microservice(Transport::nats(nats_url()));
    app.start_all_microservices().await?;
    Ok(app)
}

/// What [`MqttController`]'s wildcard event handlers received: `wildcard-event/#`,
/// `wildcard-event2/+/test`, and their shared-subscription twins (the spec's `IS_*` flags).
pub static MQTT_RECEIVED: [AtomicBool; 4] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

sum_app_controller!(
    /// The spec app's `MqttController`: its `@Client({ transport: Transport.MQTT })` is the
    /// injected `MQTT_CLIENT`; on top of the RPC app's routes, wildcard (`#`, `+`) and shared
    /// (`$share/<group>/..`) subscriptions for messages and events.
    MqttController,
    "MQTT_CLIENT",
    MQTT_NOTIFIED,
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
pub static MQTT_NOTIFIED: AtomicBool = AtomicBool::new(false);

fn mark(flag: usize, data: bool) {
    MQTT_RECEIVED[flag].store(data, Ordering::SeqCst);
}

/// The MQTT URL of the MQTT apps: `MQTT_URL`, default `mqtt://127.0.0.1:1883`.
pub fn mqtt_url() -> String {
    std::env::var("MQTT_URL").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".to_owned())
}

/// The MQTT app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::mqtt("MQTT_CLIENT", mqtt_url())])],
    controllers = [MqttController],
)]
pub struct MqttModule;

/// The MQTT spec's set-up: the app with an MQTT microservice connected and started.
pub async fn create_mqtt() -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<MqttModule>().await?;
    app.connect_microservice(Transport::mqtt(mqtt_url()));
    app.start_all_microservices().await?;
    Ok(app)
}

/// The Redis URL of the Redis apps: `REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The Redis app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::redis("REDIS_CLIENT", redis_url())])],
    controllers = [RedisController],
)]
pub struct RedisModule;

/// The Redis spec's set-up: the app with a Redis microservice connected and started.
pub async fn create_redis() -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<RedisModule>().await?;
    app.connect_microservice(Transport::redis(redis_url()));
    app.start_all_microservices().await?;
    Ok(app)
}
