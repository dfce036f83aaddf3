//! `disconnected-client`: Nest's `DisconnectedClientController`
//! (`src/disconnected.controller.ts`), ported. `POST /` takes a client's options in Nest's
//! shape (`{ "transport": Transport.TCP, "options": { .. } }`, the enum as the number Nest
//! sends), makes a client (`ClientProxyFactory.create`), and calls a service that is not
//! there: a refused connection is Nest's `RequestTimeoutException` (408, `ECONNREFUSED`),
//! any other error a 500.

use gateway_core::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

/// Nest's `Transport` enum, as its numbers travel in JSON.
#[derive(Debug, Deserialize)]
pub struct NestClientOptions {
    /// `Transport.TCP` (0), `REDIS` (1), `NATS` (2), `MQTT` (3), `RMQ` (5).
    pub transport: u8,
    /// The transport's options (`host`/`port`, `url`).
    #[serde(default)]
    pub options: Value,
}

impl NestClientOptions {
    fn text(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(Value::as_str)
    }

    fn port(&self, default: u64) -> u64 {
        self.options
            .get("port")
            .and_then(Value::as_u64)
            .unwrap_or(default)
    }

    /// `ClientProxyFactory.create(options)`: Nest's defaults where an option is missing. A
    /// transport this build has no client for (or Nest's gRPC and Kafka) is a 400.
    pub fn client(&self) -> Result<ClientOptions, HttpException> {
        const NAME: &str = "DISCONNECTED";
        let host = self.text("host").unwrap_or("localhost");
        Ok(match self.transport {
            0 => ClientOptions::tcp(NAME, format!("{host}:{}", self.port(3000))),
            #[cfg(feature = "redis")]
            1 => ClientOptions::redis(
                NAME,
                self.text("url")
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("redis://{host}:{}", self.port(6379))),
            ),
            2 => ClientOptions::nats(NAME, self.text("url").unwrap_or("nats://localhost:4222")),
            #[cfg(feature = "mqtt")]
            3 => ClientOptions::mqtt(
                NAME,
                match (self.text("url"), self.text("host")) {
                    (Some(url), _) => url.to_owned(),
                    // Nest passes `host` (a URL, in the spec) and `port` to mqtt.js.
                    (None, Some(host)) => format!("{host}:{}", self.port(1883)),
                    (None, None) => "mqtt://localhost:1883".to_owned(),
                },
            ),
            other => {
                return Err(HttpException::bad_request(format!(
                    "no client for transport {other} in this build"
                )))
            }
        })
    }
}

/// The spec app's `DisconnectedClientController`.
#[injectable]
pub struct DisconnectedClientController;

#[controller]
impl DisconnectedClientController {
    #[post("")]
    async fn call(&self, #[body] options: NestClientOptions) -> Result<RawReply, HttpException> {
        let client = ClientProxy::new(options.client()?);
        client
            .send(pattern!({ cmd: "none" }), &json!([1, 2, 3]))
            .await
            .map_err(|error| match error {
                RpcError::Connect { .. } => HttpException::request_timeout("ECONNREFUSED"),
                _ => HttpException::internal_server_error(()),
            })
    }
}

/// The spec's module: the controller alone (`Test.createTestingModule({ controllers })`).
#[module(controllers = [DisconnectedClientController])]
pub struct DisconnectedModule;

/// The spec's set-up: the app.
pub async fn create() -> Result<NestApplication, BootError> {
    NestFactory::create::<DisconnectedModule>().await
}
