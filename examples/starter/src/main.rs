//! `cargo run -- service` serves the greetings microservice on 127.0.0.1:3001;
//! `cargo run` serves the gateway on :3000 (`PORT`). Then:
//! `curl localhost:3000/greet/Ada` prints `{"greeting":"Hello, Ada!"}`.

use gateway_core::prelude::*;
use starter::{AppModule, GreetingsModule};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("service") {
        let transport = Transport::tcp("127.0.0.1:3001");
        NestFactory::create_microservice::<GreetingsModule>(transport)
            .await?
            .listen()
            .await?;
    } else {
        let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok());
        NestFactory::create::<AppModule>()
            .await?
            .listen(port.unwrap_or(3000))
            .await?;
    }
    Ok(())
}
