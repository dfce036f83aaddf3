//! The orders microservice: Nest TCP on `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT`
//! (default 127.0.0.1:3002).

use examples::{orders_router, run_service, OrderStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run_service("ORDERS_SERVICE", 3002, orders_router(OrderStore::default())).await?;
    Ok(())
}
