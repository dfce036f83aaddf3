use gateway_core::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct GetUser {
    id: u64,
}

#[injectable]
struct ServiceKeyGuard;

impl CanActivate for ServiceKeyGuard {
    async fn can_activate(&self, ctx: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(ctx.get_type() == ContextType::Rpc && ctx.headers().contains_key("x-service-key"))
    }
}

#[injectable]
struct UsersController;

/// A filter that passes every exception on (the RPC side's default).
#[injectable]
struct PassFilter;

impl ExceptionFilter for PassFilter {
    async fn catch(&self, e: HttpException, _: &ArgumentsHost) -> Result<gateway_core::axum::response::Response, HttpException> {
        Err(e)
    }
}

// A controller's guard, interceptors and filters cover its handlers; a handler takes its own
// guards, interceptors, filters and metadata.
#[controller]
#[guard(ServiceKeyGuard)]
#[use_interceptors(gateway_core::http::LoggingInterceptor::new())]
#[use_filters(PassFilter)]
impl UsersController {
    #[message_pattern({ cmd: "get_user", v: 2 })]
    async fn get_user(&self, #[payload] req: GetUser) -> Result<String, RpcException> {
        Ok(req.id.to_string())
    }

    #[message_pattern("ping")]
    #[guard(ServiceKeyGuard)]
    #[roles("ops")]
    #[public]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[message_pattern("count")]
    fn count(&self, n: u64) -> impl futures_core::Stream<Item = Result<u64, RpcException>> + Send + 'static {
        futures_util::stream::iter((0..n).map(Ok))
    }

    #[event_pattern("user_seen")]
    #[use_interceptors(gateway_core::http::TimeoutInterceptor::new(std::time::Duration::from_secs(1)))]
    #[use_filters(PassFilter)]
    async fn user_seen(&self, #[payload] _id: u64) {}

    #[event_pattern({ evt: "x" })]
    async fn fallible(&self, _data: serde_json::Value) -> Result<(), RpcException> {
        Ok(())
    }
}

#[module(controllers = [UsersController], providers = [ServiceKeyGuard, PassFilter])]
struct UsersModule;

fn main() {
    let meta = UsersController::META;
    assert_eq!(meta.patterns.len(), 5);
    assert_eq!(meta.patterns[0].route, r#"{"cmd":"get_user","v":2}"#);
    assert!(meta.patterns[3].event);
    assert!(meta.patterns[1].reflector().is_public());
    assert_eq!(meta.patterns[1].reflector().get("roles").map(|r| r.strs().collect::<Vec<_>>()), Some(vec!["ops"]));
    let _ = NestFactory::create_microservice::<UsersModule>(Transport::tcp("127.0.0.1:0"));
}
