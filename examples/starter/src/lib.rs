//! A gateway and the microservice behind it, as a Nest team would start them:
//! `GET /greet/:name` on the gateway asks the greetings service (`{ cmd: 'greet' }` over
//! Nest's TCP transport) and answers `{"greeting":"Hello, Ada!"}`.

use gateway_core::config::{ConfigModule, ConfigService};
use gateway_core::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the greetings service takes (Nest: a DTO class).
#[derive(Debug, Deserialize, Serialize)]
pub struct Greet {
    /// Who to greet.
    pub name: String,
}

/// The greetings microservice's controller (Nest: `@Controller()` with
/// `@MessagePattern({ cmd: 'greet' })`).
#[injectable]
pub struct GreetingsController;

#[controller]
impl GreetingsController {
    #[message_pattern({ cmd: "greet" })]
    async fn greet(&self, #[payload] req: Greet) -> Result<String, RpcException> {
        if req.name.trim().is_empty() {
            return Err(RpcException::new(json!({
                "statusCode": 400,
                "message": "name must not be empty",
            })));
        }
        Ok(format!("Hello, {}!", req.name))
    }
}

/// The greetings microservice's module.
#[module(controllers = [GreetingsController])]
pub struct GreetingsModule;

/// The gateway's controller: HTTP in, a message to the greetings service out.
#[injectable]
pub struct AppController {
    #[inject("GREETINGS_SERVICE")]
    greetings: ClientProxy,
}

#[controller]
impl AppController {
    #[get("greet/:name")]
    async fn greet(&self, #[param] name: String) -> Result<serde_json::Value, RpcError> {
        let greeting: String = self
            .greetings
            .send(pattern!({ cmd: "greet" }), &Greet { name })
            .await?;
        Ok(json!({ "greeting": greeting }))
    }
}

/// The gateway's module: the greetings client, its address from the settings
/// (`GREETINGS_SERVICE_ADDR`, default `127.0.0.1:3001`; Nest's `ConfigModule` and
/// `ClientsModule.registerAsync`).
#[module(
    imports = [
        ConfigModule::for_root().is_global(),
        ClientsModule::register_async([ClientAsync::use_factory(
            "GREETINGS_SERVICE",
            |config: ConfigService| {
                let addr = config.get_or("GREETINGS_SERVICE_ADDR", "127.0.0.1:3001".to_owned());
                ClientOptions::tcp("GREETINGS_SERVICE", addr)
            },
        )]),
    ],
    controllers = [AppController],
)]
pub struct AppModule;
