use gateway_core::prelude::*;

include!("../grpc_math.rs");
use math::{RequestSum, SumResult};

#[injectable]
struct MathController;

#[controller]
impl MathController {
    #[grpc_method(math::Math, "Product")]
    async fn product(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().product() })
    }

    // The method from the handler's name: `Total`, which the proto lacks.
    #[grpc_method(math::Math)]
    async fn total(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }
}

fn main() {}
