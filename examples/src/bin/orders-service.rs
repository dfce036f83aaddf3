//! The orders microservice: Nest TCP on `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT`
//! (default 127.0.0.1:3002).

use examples::{env_host, env_port, init_logging, orders_router, OrderStore};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let addr = format!(
        "{}:{}",
        env_host("ORDERS_SERVICE_HOST"),
        env_port("ORDERS_SERVICE_PORT", 3002)
    );
    let server = TcpServer::bind(addr, orders_router(OrderStore::default())).await?;
    server.serve_until(shutdown_signal()).await;
    Ok(())
}
