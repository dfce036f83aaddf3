//! The users microservice: Nest TCP on `USERS_SERVICE_HOST:USERS_SERVICE_PORT`
//! (default 127.0.0.1:3001).

use examples::{env_host, env_port, init_logging, users_router};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let addr = format!(
        "{}:{}",
        env_host("USERS_SERVICE_HOST"),
        env_port("USERS_SERVICE_PORT", 3001)
    );
    let server = TcpServer::bind(addr, users_router()).await?;
    server.serve_until(shutdown_signal()).await;
    Ok(())
}
