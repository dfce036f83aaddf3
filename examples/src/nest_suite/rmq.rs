//! `sum-rmq`: Nest's RabbitMQ app (`src/rmq/rmq.controller.ts`), ported, its queue declared as
//! Nest's app declares `test` (`queueOptions: { durable: false }`) but named
//! `nest_suite_test`, so it cannot clash with another `test` queue on the broker; and the
//! exchange apps of `topic-exchange-rmq` and `fanout-exchange-rmq`.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use gateway_core::prelude::*;
use serde_json::json;

use gateway_core::transport::rmq::RmqOptions;

use super::{sum, Command};

sum_app_controller!(
    /// The spec app's `RMQController`: its client (Nest builds it with `ClientProxyFactory`)
    /// is the injected `RMQ_CLIENT`, on the queue the microservice consumes.
    RmqController,
    inject("RMQ_CLIENT"),
    NOTIFIED
);

/// Set by [`RmqController`]'s `notification` handler.
pub static NOTIFIED: AtomicBool = AtomicBool::new(false);

/// The queue the app's microservice consumes and its client sends to.
pub const QUEUE: &str = "nest_suite_test";

/// How the app's client and microservice declare [`QUEUE`]: not durable, as Nest's app.
fn queue() -> RmqOptions {
    RmqOptions::queue(QUEUE).durable(false)
}

/// The RabbitMQ URL of the RabbitMQ apps: `RMQ_URL`, default
/// `amqp://guest:guest@127.0.0.1:5672`.
pub fn url() -> String {
    crate::config().get_or("RMQ_URL", "amqp://guest:guest@127.0.0.1:5672".to_owned())
}

/// The RabbitMQ app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::rmq_with("RMQ_CLIENT", url(), queue())])],
    controllers = [RmqController],
)]
pub struct RmqModule;

/// The RabbitMQ spec's set-up: the app with a RabbitMQ microservice connected and started.
pub async fn create() -> Result<NestApplication, BootError> {
    super::hybrid::<RmqModule>([Transport::rmq_with(url(), queue())]).await
}

/// The queue (and, with wildcards, the topic exchange of the same name) of `topic-exchange-rmq`
/// (Nest's `test2`).
pub const TOPIC_QUEUE: &str = "nest_suite_topic";

/// The fanout exchange of `fanout-exchange-rmq` (Nest's `test.fanout`).
pub const FANOUT_EXCHANGE: &str = "nest_suite.fanout";

/// `topic-exchange-rmq`: Nest's `RMQTopicExchangeController`. The microservice has
/// `wildcards`, so `wildcard.*.*` handles `wildcard.a.b`; the client sends to the queue, as
/// Nest 11's does (its `topicExchange` option is not read). `/topic-exchange/wildcards` is ours:
/// a client with `wildcards` too, publishing through the topic exchange keyed by the pattern.
#[injectable]
pub struct RmqTopicExchangeController {
    #[client(ClientOptions::rmq("TOPIC_CLIENT", url(), TOPIC_QUEUE))]
    client: ClientProxy,
    #[client(ClientOptions::rmq_with(
        "TOPIC_EXCHANGE_CLIENT",
        url(),
        RmqOptions::queue(TOPIC_QUEUE).wildcards(),
    ))]
    exchange_client: ClientProxy,
}

#[controller]
impl RmqTopicExchangeController {
    #[get("topic-exchange")]
    async fn topic_exchange(&self) -> Result<String, RpcError> {
        self.client.send("wildcard.a.b", &1).await
    }

    #[get("topic-exchange/wildcards")]
    async fn topic_exchange_wildcards(&self) -> Result<String, RpcError> {
        self.exchange_client.send("wildcard.c.d", &1).await
    }

    /// The pattern the message came with (Nest's `ctx.getPattern()`).
    #[message_pattern("wildcard.*.*")]
    async fn handle_topic_exchange(&self, _data: serde_json::Value, ctx: MessageContext) -> String {
        ctx.pattern().unwrap_or_default().to_owned()
    }
}

/// The topic-exchange spec's module.
#[module(controllers = [RmqTopicExchangeController])]
pub struct RmqTopicExchangeModule;

/// The topic-exchange spec's set-up: the app with a RabbitMQ microservice with `wildcards`.
pub async fn create_topic_exchange() -> Result<NestApplication, BootError> {
    let wildcards = RmqOptions::queue(TOPIC_QUEUE).wildcards();
    super::hybrid::<RmqTopicExchangeModule>([Transport::rmq_with(url(), wildcards)]).await
}

/// `fanout-exchange-rmq`: Nest's `RMQFanoutExchangeProducerController`, whose client publishes
/// to a fanout exchange.
#[injectable]
pub struct RmqFanoutExchangeProducerController {
    #[client(ClientOptions::rmq_with(
        "FANOUT_CLIENT",
        url(),
        RmqOptions::queue("default").exchange(FANOUT_EXCHANGE).exchange_type("fanout"),
    ))]
    client: ClientProxy,
}

#[controller]
impl RmqFanoutExchangeProducerController {
    #[get("fanout-exchange")]
    async fn topic_exchange(&self) -> Result<String, RpcError> {
        self.client.send("ping", &1).await
    }
}

/// `fanout-exchange-rmq`: Nest's `RMQFanoutExchangeConsumerController`, in a microservice whose
/// exclusive, broker-named queue is bound to the fanout exchange.
#[injectable]
pub struct RmqFanoutExchangeConsumerController;

#[controller]
impl RmqFanoutExchangeConsumerController {
    #[message_pattern("ping")]
    async fn handle_topic_exchange(&self, _data: serde_json::Value, ctx: MessageContext) -> String {
        format!("{}/pong", ctx.pattern().unwrap_or_default())
    }
}

/// The fanout spec's producer app.
#[module(controllers = [RmqFanoutExchangeProducerController])]
pub struct RmqFanoutProducerModule;

/// The fanout spec's consumer microservice.
#[module(controllers = [RmqFanoutExchangeConsumerController])]
pub struct RmqFanoutConsumerModule;

/// The fanout spec's set-up: the producer app, and the consumer microservice started (to serve
/// with [`MicroserviceServer::serve`]).
pub async fn create_fanout_exchange() -> Result<(NestApplication, MicroserviceServer), BootError> {
    let producer = NestFactory::create::<RmqFanoutProducerModule>().await?;
    let consumer =
        NestFactory::create_microservice::<RmqFanoutConsumerModule>(Transport::rmq_with(
            url(),
            RmqOptions::queue("")
                .exchange(FANOUT_EXCHANGE)
                .exchange_type("fanout")
                .exclusive(),
        ))
        .await?
        .start()
        .await?;
    Ok((producer, consumer))
}
