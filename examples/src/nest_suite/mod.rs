//! NestJS's own microservices integration suite (`integration/microservices` in the Nest
//! repository), its apps ported to this framework, so our tests can assert the facts its specs
//! assert. `cargo run -p examples --bin nest-suite -- tcp` serves them (HTTP on `PORT`, default
//! 8080; the microservice on `MICROSERVICE_PORT`, default Nest's 3000).
//!
//! Ported so far (most are hybrid applications whose controller has HTTP routes that call,
//! through a client, the message handlers it also serves; `tests/nest_suite.rs` ports the
//! specs that define their app inside the spec):
//! - `tcp`: the RPC app of `sum-rpc` ([`AppController`]), with its `@Client` field and the
//!   `useFactory`/`useClass` clients of `ClientsModule.registerAsync`. Not its custom client
//!   class (`customClass`, a `ClientTCP` whose `serializeError` wraps errors in `RpcException`):
//!   our errors are one typed enum, [`RpcError`], with no class to subclass.
//! - `tcp-tls` (feature `tls`): `sum-rpc-tls`, the same app with TCP `tlsOptions` on the
//!   microservice and its clients (`tcp_tls`).
//! - `disconnected`: `disconnected-client` ([`disconnected`]).
//! - `nats`: the NATS apps of `sum-nats` ([`nats::NatsController`]: wildcard patterns
//!   (`math.*`), two handlers of one event, an exception caught by the route, the record-builder
//!   route), `broadcast-nats` and `multicast-nats`.
//! - `redis` (feature `redis`): the Redis apps of `sum-redis` (`RedisController`: the RPC
//!   app's controller over Redis), `broadcast-redis` and `multicast-redis`.
//! - `mqtt` (feature `mqtt`): the MQTT apps of `sum-mqtt` and `mqtt-record-builder`
//!   (`MqttController`: wildcard (`#`, `+`) and shared (`$share/<group>/..`) subscriptions for
//!   messages and events, QoS from the packet), `broadcast-mqtt` and `multicast-mqtt`.
//! - `rmq` (feature `rmq`): the RabbitMQ apps of `sum-rmq`, `topic-exchange-rmq` (`rmq-topic`)
//!   and `fanout-exchange-rmq` (`rmq-fanout`).
//! - `grpc`: the gRPC app of `sum-grpc` and `math-grpc` ([`grpc::GrpcController`]: the `Math`
//!   and `Math2` services, unary, server-streaming and bidirectional, and the routes that call
//!   them through `ClientGrpc`), the microservice on `MICROSERVICE_PORT`, default 5000.

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

pub(crate) fn sum(data: Option<Vec<i64>>) -> i64 {
    data.unwrap_or_default().iter().sum()
}

/// The values of `pattern`'s streamed reply to `data`, the first `take` of them, summed as
/// they come (the specs' `.pipe(scan((a, b) => a + b), take(n))`).
pub(crate) async fn streamed_sum(
    client: &ClientProxy,
    pattern: impl Into<Pattern>,
    data: &(impl serde::Serialize + ?Sized),
    take: usize,
) -> Result<i64, HttpException> {
    let mut values = client.send_stream::<i64>(pattern, data).await?.take(take);
    let mut total = 0;
    while let Some(value) = values.next().await {
        total += value?;
    }
    Ok(total)
}

/// Every list summed at once by `pattern`'s handler: `true` when every sum is right (the
/// specs' `/concurrent`).
pub(crate) async fn sums_right(
    client: &ClientProxy,
    pattern: Pattern,
    lists: &[Vec<i64>],
) -> Result<bool, RpcError> {
    let calls = lists.iter().map(|tab| {
        let expected: i64 = tab.iter().sum();
        let sent = client.send::<i64>(pattern.clone(), tab);
        async move { sent.await.map(|result| result == expected) }
    });
    let results = futures_util::future::try_join_all(calls).await?;
    Ok(results.into_iter().all(|right| right))
}

/// The controller that `sum-rpc` (`AppController`, over TCP), `sum-redis` (`RedisController`),
/// `sum-mqtt` (`MqttController`) and `sum-rmq` (`RmqController`) share, line for line but for the client's transport:
/// `$client(..)` is the attribute that makes the `client` field (`client(options)` for Nest's
/// `@Client(options)`, `inject("TOKEN")` for an injected one), `$notified` the flag its
/// `notification` handler sets, `$field` the fields and `$extra` the methods an app adds.
macro_rules! sum_app_controller {
    (
        $(#[$doc:meta])* $name:ident, $client:ident($($client_args:tt)*), $notified:ident
        $(, fields { $($field:tt)* })? $(, { $($extra:tt)* })?
    ) => {
        $(#[$doc])*
        #[injectable]
        pub struct $name {
            #[$client($($client_args)*)]
            client: ClientProxy,
            $($($field)*)?
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
                $crate::nest_suite::streamed_sum(&self.client, pattern!({ cmd: "streaming" }), &data, usize::MAX).await
            }

            /// Every list summed by the `sum` handler at once; `true` when every sum is right.
            #[post("concurrent")]
            #[http_code(200)]
            async fn concurrent(&self, #[body] data: Vec<Vec<i64>>) -> Result<bool, RpcError> {
                $crate::nest_suite::sums_right(&self.client, pattern!({ cmd: "sum" }), &data).await
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

/// `broadcast-<transport>` and `multicast-<transport>` (Redis, MQTT): Nest's
/// `<Transport>BroadcastController` and `<Transport>MulticastController`, line for line but for
/// the client's options, and the module and set-up that connect two microservices of the
/// transport to one app. `$options` makes the controllers' `@Client`, `$server` the
/// microservices' transport.
#[cfg(any(feature = "redis", feature = "mqtt"))]
macro_rules! broadcast_app {
    ($broadcast:ident, $multicast:ident, $module:ident, $options:expr, $server:expr) => {
        /// `broadcast-*`: two microservices of one app both answer one request.
        #[injectable]
        pub struct $broadcast {
            #[client($options)]
            client: ClientProxy,
        }

        #[controller]
        impl $broadcast {
            /// The first two values of the replies, summed: one from each instance.
            #[get("broadcast")]
            async fn multicats(&self) -> Result<i64, HttpException> {
                $crate::nest_suite::streamed_sum(&self.client, pattern!({ cmd: "broadcast" }), &serde_json::json!({}), 2).await
            }

            /// One value, and the reply never completes (the spec's `observer.next(1)`).
            #[message_pattern({ cmd: "broadcast" })]
            fn reply_broadcast(&self) -> impl futures_util::Stream<Item = Result<i64, RpcException>> + Send + 'static {
                use futures_util::StreamExt;
                futures_util::stream::once(async { Ok(1) }).chain(futures_util::stream::pending())
            }
        }

        /// `multicast-*`: the same with its own pattern.
        #[injectable]
        pub struct $multicast {
            #[client($options)]
            client: ClientProxy,
        }

        #[controller]
        impl $multicast {
            /// The first two values of the replies, summed: one from each instance.
            #[get("multicast")]
            async fn multicats(&self) -> Result<i64, HttpException> {
                $crate::nest_suite::streamed_sum(&self.client, pattern!({ cmd: "multicast" }), &serde_json::json!({}), 2).await
            }

            /// One value, and the reply never completes.
            #[message_pattern({ cmd: "multicast" })]
            fn reply_multicast(&self) -> impl futures_util::Stream<Item = Result<i64, RpcException>> + Send + 'static {
                use futures_util::StreamExt;
                futures_util::stream::once(async { Ok(1) }).chain(futures_util::stream::pending())
            }
        }

        /// The broadcast and multicast apps' module (one app serves both specs).
        #[module(controllers = [$broadcast, $multicast])]
        pub struct $module;

        /// The broadcast and multicast specs' set-up: two microservices connected to one app.
        pub async fn create_broadcast() -> Result<NestApplication, BootError> {
            $crate::nest_suite::hybrid::<$module>([$server, $server]).await
        }
    };
}

sum_app_controller!(
    /// The spec app's `AppController`: its `@Client({ transport: Transport.TCP })` (to
    /// localhost on the microservice's port), and the `useFactory` and `useClass` clients of
    /// the module's `ClientsModule.registerAsync`.
    AppController,
    client(app_client(format!("127.0.0.1:{}", microservice_port()))),
    IS_NOTIFIED,
    fields {
        #[inject("USE_CLASS_CLIENT")]
        use_class_client: ClientProxy,
        #[inject("USE_FACTORY_CLIENT")]
        use_factory_client: ClientProxy,
    },
    {
        #[post("useFactory")]
        #[http_code(200)]
        async fn call_with_client_use_factory(
            &self,
            #[query] q: Command,
            #[body] data: RawReply,
        ) -> Result<RawReply, RpcError> {
            self.use_factory_client.send(json!({ "cmd": q.command }), &data).await
        }

        #[post("useClass")]
        #[http_code(200)]
        async fn call_with_client_use_class(
            &self,
            #[query] q: Command,
            #[body] data: RawReply,
        ) -> Result<RawReply, RpcError> {
            self.use_class_client.send(json!({ "cmd": q.command }), &data).await
        }
    }
);

/// The options of the app's TCP clients to `address` (over TLS in the `sum-rpc-tls` app).
fn app_client(address: impl Into<String>) -> ClientOptions {
    let options = ClientOptions::tcp("client", address);
    #[cfg(feature = "tls")]
    let options = tcp_tls::with_client_tls(options);
    options
}

/// The spec app's `ConfigService`: where the clients' settings come from (Nest's holds
/// `{ transport: Transport.TCP }`; ours holds the address of the microservice too, since our
/// options name it).
#[derive(Clone, Debug)]
pub struct ConfigService {
    address: String,
}

impl ConfigService {
    /// The settings of this process: the microservice on localhost, `MICROSERVICE_PORT`.
    pub fn from_env() -> Self {
        ConfigService {
            address: format!("127.0.0.1:{}", microservice_port()),
        }
    }

    /// A setting by key (`"address"`); `None` for an unknown key.
    pub fn get(&self, key: &str) -> Option<&str> {
        (key == "address").then_some(self.address.as_str())
    }

    /// The options of a TCP client to the configured address.
    fn tcp_client(&self) -> ClientOptions {
        app_client(self.get("address").unwrap_or("127.0.0.1:3000"))
    }
}

/// The spec app's `ConfigModule`: provides and exports [`ConfigService`] (by type).
#[module(
    providers = [Provider::typed(ConfigService::from_env())],
    exports = [Token::of::<ConfigService>()],
)]
pub struct ConfigModule;

/// The spec app's `ClientOptionService`, the `useClass` of `USE_CLASS_CLIENT`: a class that
/// makes the client's options from the injected [`ConfigService`].
#[injectable]
pub struct ClientOptionService {
    config_service: ConfigService,
}

impl ClientsModuleOptionsFactory for ClientOptionService {
    fn create_client_options(&self) -> ClientOptions {
        self.config_service.tcp_client()
    }
}

/// The spec app's module: the controller, and the clients `ClientsModule.registerAsync` makes
/// from the `ConfigModule`'s settings, one by a factory and one by a class.
#[module(
    imports = [ClientsModule::register_async([
        ClientAsync::use_factory("USE_FACTORY_CLIENT", |config: ConfigService| config.tcp_client())
            .imports(ConfigModule),
        ClientAsync::use_class::<ClientOptionService>("USE_CLASS_CLIENT").imports(ConfigModule),
    ])],
    controllers = [AppController],
)]
pub struct ApplicationModule;

/// The spec's set-up: the app, with a TCP microservice connected on `0.0.0.0:<port>` and
/// started (`connectMicroservice`, `startAllMicroservices`).
pub async fn create(microservice_port: u16) -> Result<NestApplication, BootError> {
    hybrid::<ApplicationModule>([Transport::tcp(format!("0.0.0.0:{microservice_port}"))]).await
}

/// A spec's hybrid app: `M` with each of `microservices` connected and started (Nest's
/// `connectMicroservice` for each, then `startAllMicroservices`).
pub async fn hybrid<M: gateway_core::di::Module>(
    microservices: impl IntoIterator<Item = Transport>,
) -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<M>().await?;
    for transport in microservices {
        app.connect_microservice(transport);
    }
    app.start_all_microservices().await?;
    Ok(app)
}

pub mod disconnected;
pub mod grpc;
pub mod nats;

#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "rmq")]
pub mod rmq;
#[cfg(feature = "tls")]
pub mod tcp_tls;
