//! NestJS's microservices integration apps, ported (`examples::nest_suite`):
//! `nest-suite <transport>` with HTTP on `PORT` (8080) and the microservice on
//! `MICROSERVICE_PORT` (3000); brokers at `NATS_URL` (nats://127.0.0.1:4222). Ported so far:
//! `tcp`, `nats`, `mqtt` (`MQTT_URL`, mqtt://127.0.0.1:1883), `redis` (`REDIS_URL`,
//! redis://127.0.0.1:6379).

use examples::{env_port, init_logging, nest_suite};
use gateway_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = std::env::args().nth(1).unwrap_or_else(|| "tcp".to_owned());
    if transport != "tcp" {
        return Err(
            format!("the {transport} apps of Nest's suite are not ported yet (tcp is)").into(),
        );
    }
    let app = nest_suite::create(nest_suite::microservice_port()).await?;
    let port = env_port("PORT", 8080);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("Nest suite ({transport}) on http://localhost:{port}");
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}
