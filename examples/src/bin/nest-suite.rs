//! NestJS's microservices integration apps, ported (`examples::nest_suite`):
//! `nest-suite <transport>` with HTTP on `PORT` (8080). Ported: `tcp` (the microservice on
//! `MICROSERVICE_PORT`, 3000), `tcp-tls` (feature `tls`; `TLS_KEY_FILE`, `TLS_CERT_FILE`,
//! `TLS_CA_FILE`), `nats` (`NATS_URL`, nats://127.0.0.1:4222), `grpc` (the gRPC microservice on
//! `MICROSERVICE_PORT`, 5000), `disconnected` (clients to
//! services that are not there), and with the
//! features of the same names `mqtt` (`MQTT_URL`), `redis` (`REDIS_URL`), `rmq` (`RMQ_URL`; also
//! `rmq-topic` and `rmq-fanout`, the exchange apps):
//! `cargo run -p examples --features mqtt --bin nest-suite -- mqtt`.

use examples::{env_port, init_logging, nest_suite};
use gateway_core::prelude::*;

async fn create(transport: &str) -> Result<NestApplication, Box<dyn std::error::Error>> {
    Ok(match transport {
        "tcp" => nest_suite::create(nest_suite::microservice_port()).await?,
        #[cfg(feature = "tls")]
        "tcp-tls" => {
            let (server, client) = nest_suite::tcp_tls::settings_from_env()?;
            nest_suite::tcp_tls::create(nest_suite::microservice_port(), server, client).await?
        }
        "nats" => nest_suite::nats::create().await?,
        "grpc" => nest_suite::grpc::create(nest_suite::grpc::microservice_port()).await?,
        "disconnected" => nest_suite::disconnected::create().await?,
        #[cfg(feature = "mqtt")]
        "mqtt" => nest_suite::mqtt::create().await?,
        #[cfg(feature = "redis")]
        "redis" => nest_suite::redis::create().await?,
        #[cfg(feature = "rmq")]
        "rmq" => nest_suite::rmq::create().await?,
        #[cfg(feature = "rmq")]
        "rmq-topic" => nest_suite::rmq::create_topic_exchange().await?,
        #[cfg(feature = "rmq")]
        "rmq-fanout" => {
            let (producer, consumer) = nest_suite::rmq::create_fanout_exchange().await?;
            tokio::spawn(consumer.serve());
            producer
        }
        // Reached only for the apps whose feature is off.
        #[allow(unreachable_patterns)]
        "mqtt" | "redis" | "rmq" | "rmq-topic" | "rmq-fanout" | "tcp-tls" => {
            let feature = match transport {
                "tcp-tls" => "tls",
                other => other.split('-').next().unwrap_or(other),
            };
            return Err(format!(
                "the {transport} apps need the feature: cargo run -p examples --features {feature} --bin nest-suite -- {transport}"
            )
            .into());
        }
        other => return Err(format!("the {other} apps of Nest's suite are not ported").into()),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_logging();
    let transport = std::env::args().nth(1).unwrap_or_else(|| "tcp".to_owned());
    let app = create(&transport).await?;
    let port = env_port("PORT", 8080);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("Nest suite ({transport}) on http://localhost:{port}");
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}
