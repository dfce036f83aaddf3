//! `sum-redis`: Nest's Redis app (`src/redis/redis.controller.ts`), ported.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use gateway_core::prelude::*;
use serde_json::json;

use super::{sum, Command};

sum_app_controller!(
    /// The spec app's `RedisController`, with its `@Client({ transport: Transport.REDIS })`.
    RedisController,
    client(ClientOptions::redis("REDIS_CLIENT", url())),
    NOTIFIED
);

/// Set by [`RedisController`]'s `notification` handler.
pub static NOTIFIED: AtomicBool = AtomicBool::new(false);

/// The Redis URL of the Redis apps: `REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn url() -> String {
    crate::config().get_or("REDIS_URL", "redis://127.0.0.1:6379".to_owned())
}

/// The Redis app's module: the controller.
#[module(
    controllers = [RedisController],
)]
pub struct RedisModule;

/// The Redis spec's set-up: the app with a Redis microservice connected and started.
pub async fn create() -> Result<NestApplication, BootError> {
    super::hybrid::<RedisModule>([Transport::redis(url())]).await
}

broadcast_app!(
    RedisBroadcastController,
    RedisMulticastController,
    RedisBroadcastModule,
    ClientOptions::redis("REDIS_CLIENT", url()),
    Transport::redis(url())
);
