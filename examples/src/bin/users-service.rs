//! The users microservice: Nest TCP on `USERS_SERVICE_HOST:USERS_SERVICE_PORT`
//! (default 127.0.0.1:3001).

use examples::{env_addr, init_logging, UsersModule};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = Transport::tcp(env_addr("USERS_SERVICE", 3001));
    NestFactory::create_microservice::<UsersModule>(transport)
        .await?
        .listen()
        .await?;
    Ok(())
}
