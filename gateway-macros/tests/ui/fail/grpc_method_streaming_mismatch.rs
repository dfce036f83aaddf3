use gateway_core::prelude::*;

include!("../grpc_math.rs");
use math::{RequestSum, SumResult};

#[injectable]
struct MathController;

#[controller]
impl MathController {
    // `rpc SumStream(stream RequestSum) returns (stream SumResult)`: a request stream, which
    // `#[grpc_method]` does not take.
    #[grpc_method(math::Math)]
    async fn sum_stream(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    // `rpc Sum(RequestSum)`: one request, which `#[grpc_stream_method]` does not take.
    #[grpc_stream_method(math::Math, "Sum")]
    async fn sum(
        &self,
        requests: gateway_core::grpc::GrpcRequests<RequestSum>,
    ) -> Result<SumResult, RpcException> {
        let _ = requests;
        Ok(SumResult { result: 0 })
    }
}

fn main() {}
