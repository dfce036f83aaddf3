use gateway_core::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct GetUser {
    id: u64,
}

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[message_pattern({ cmd: "get_user", v: 2 })]
    async fn get_user(&self, #[payload] req: GetUser) -> Result<String, RpcException> {
        Ok(req.id.to_string())
    }

    #[message_pattern("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[message_pattern("count")]
    fn count(&self, n: u64) -> impl futures_core::Stream<Item = Result<u64, RpcException>> + Send + 'static {
        futures_util::stream::iter((0..n).map(Ok))
    }

    #[event_pattern("user_seen")]
    async fn user_seen(&self, #[payload] _id: u64) {}

    #[event_pattern({ evt: "x" })]
    async fn fallible(&self, _data: serde_json::Value) -> Result<(), RpcException> {
        Ok(())
    }
}

#[module(controllers = [UsersController])]
struct UsersModule;

fn main() {
    let meta = UsersController::META;
    assert_eq!(meta.patterns.len(), 5);
    assert_eq!(meta.patterns[0].route, r#"{"cmd":"get_user","v":2}"#);
    assert!(meta.patterns[3].event);
    let _ = NestFactory::create_microservice::<UsersModule>(Transport::tcp("127.0.0.1:0"));
}
