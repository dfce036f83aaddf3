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

    // A request stream in, a reply stream out (`rpc SumStream(stream ..) returns (stream ..)`).
    #[grpc_stream_method(math::Math)]
    fn sum_stream(
        &self,
        requests: gateway_core::grpc::GrpcRequests<RequestSum>,
    ) -> impl futures_core::Stream<Item = Result<SumResult, RpcException>> {
        use futures_util::StreamExt;
        requests.map(|request| Ok(SumResult { result: request.data.iter().sum() }))
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
