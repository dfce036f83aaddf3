//! The orders microservice: Nest TCP on `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT` (default
//! 127.0.0.1:3002), or NATS with `TRANSPORT=nats` (`NATS_URL`, queue group `orders`: start
//! several to share the load).

use examples::{init_logging, service_transport, OrdersModule};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = service_transport("ORDERS_SERVICE", 3002, "orders");
    NestFactory::create_microservice::<OrdersModule>(transport)
        .await?
        .listen()
        .await?;
    Ok(())
}
