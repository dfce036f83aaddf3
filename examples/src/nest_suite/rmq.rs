//! `sum-rmq`: Nest's RabbitMQ app (`src/rmq/rmq.controller.ts`), ported. Nest's app declares
//! its queue `test` with `durable: false`; ours is `nest_suite_sum` with the transport's
//! defaults (durable), so it cannot clash with another `test` queue on the broker.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use gateway_core::prelude::*;
use serde_json::json;

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
pub const QUEUE: &str = "nest_suite_sum";

/// The RabbitMQ URL of the RabbitMQ apps: `RMQ_URL`, default
/// `amqp://guest:guest@127.0.0.1:5672`.
pub fn url() -> String {
    std::env::var("RMQ_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_owned())
}

/// The RabbitMQ app's module: the controller and its client.
#[module(
    imports = [ClientsModule::register([ClientOptions::rmq("RMQ_CLIENT", url(), QUEUE)])],
    controllers = [RmqController],
)]
pub struct RmqModule;

/// The RabbitMQ spec's set-up: the app with a RabbitMQ microservice connected and started.
pub async fn create() -> Result<NestApplication, BootError> {
    let mut app = NestFactory::create::<RmqModule>().await?;
    app.connect_microservice(Transport::rmq(url(), QUEUE));
    app.start_all_microservices().await?;
    Ok(app)
}
