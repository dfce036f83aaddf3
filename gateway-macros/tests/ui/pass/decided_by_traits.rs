//! Outputs are decided by traits, not by how a type is spelled: aliases of `Result` and of
//! `Response`, `impl IntoResponse`, and a message handler's `#[ctx]`. A guard written above
//! `#[controller]` applies to the whole block.
use gateway_core::axum::response::{IntoResponse, Response};
use gateway_core::prelude::*;

type ApiResult<T> = Result<T, HttpException>;
type Raw = Response;
type Reply<T> = Result<T, RpcException>;

struct Allow;

impl CanActivate for Allow {
    async fn can_activate(&self, _: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(true)
    }
}

#[injectable]
struct AliasController;

#[guard(Allow)]
#[controller]
impl AliasController {
    #[get("json")]
    async fn json(&self) -> ApiResult<Vec<u32>> {
        Ok(vec![1, 2])
    }

    #[get("raw")]
    async fn raw(&self) -> Raw {
        "raw".into_response()
    }

    #[get("raw-result")]
    async fn raw_result(&self) -> ApiResult<Raw> {
        Ok("raw".into_response())
    }

    #[get("opaque")]
    async fn opaque(&self) -> impl IntoResponse {
        (gateway_core::axum::http::StatusCode::ACCEPTED, "later")
    }

    #[message_pattern("whoami")]
    async fn whoami(&self, #[ctx] ctx: MessageContext, #[payload] _id: u64) -> Reply<String> {
        Ok(ctx.subject().to_owned())
    }

    #[message_pattern("positional")]
    async fn positional(&self, id: u64, ctx: MessageContext) -> String {
        format!("{id} on {}", ctx.subject())
    }
}

#[module(controllers = [AliasController], providers = [gateway_core::di::Provider::typed(std::sync::Arc::new(Allow))])]
struct AliasModule;

fn main() {
    assert_eq!(AliasController::META.routes.len(), 4);
    assert_eq!(AliasController::META.patterns.len(), 2);
}
