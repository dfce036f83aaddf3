//! The users microservice: Nest TCP on `USERS_SERVICE_HOST:USERS_SERVICE_PORT` (default
//! 127.0.0.1:3001), or NATS with `TRANSPORT=nats` (`NATS_URL`, queue group `users`: start
//! several to share the load).

use examples::{init_logging, service_transport, UsersModule};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = service_transport("USERS_SERVICE", 3001, "users");
    NestFactory::create_microservice::<UsersModule>(transport)
        .await?
        .listen()
        .await?;
    Ok(())
}
