//! The orders microservice: Nest TCP on `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT`
//! (default 127.0.0.1:3002).

use examples::{env_addr, init_logging, OrdersModule};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = Transport::tcp(env_addr("ORDERS_SERVICE", 3002));
    NestFactory::create_microservice::<OrdersModule>(transport)
        .await?
        .listen()
        .await?;
    Ok(())
}
