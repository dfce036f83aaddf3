//! The seed's API gateway (`src/main.ts`): HTTP on `GATEWAY_PORT` (default 3000), bearer token
//! from `GATEWAY_TOKEN`, services at `USERS_SERVICE_HOST:USERS_SERVICE_PORT` (127.0.0.1:3001)
//! and `ORDERS_SERVICE_HOST:ORDERS_SERVICE_PORT` (127.0.0.1:3002).

use examples::{env_port, gateway, init_logging};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let token = std::env::var("GATEWAY_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or("GATEWAY_TOKEN is not set: the gateway needs the bearer token it accepts")?;
    let app = gateway::create(&token).await?;
    let port = env_port("GATEWAY_PORT", 3000);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("API gateway listening on http://localhost:{port}");
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}
