use gateway_core::prelude::*;

include!("../grpc_math.rs");
use math::{RequestSum, SumResult};

#[injectable]
struct MathController;

#[controller]
impl MathController {
    // The method from the handler's name (`sum` → `Sum`), the payload marked or by position.
    #[grpc_method(math::Math)]
    async fn sum(&self, #[payload] request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    #[grpc_method(math::Math, "Sum")]
    #[guard(Allow)]
    async fn sum_again(&self, request: RequestSum, _ctx: MessageContext) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.len() as i32 })
    }
}

#[injectable]
struct Allow;

impl CanActivate for Allow {
    async fn can_activate(&self, _: &mut ExecutionContext<'_>) -> Result<bool, HttpException> {
        Ok(true)
    }
}

fn main() {}
