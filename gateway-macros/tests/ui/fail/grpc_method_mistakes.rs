use gateway_core::prelude::*;

include!("../grpc_math.rs");
use math::{RequestSum, SumResult};

#[injectable]
struct MathController;

#[controller]
impl MathController {
    #[grpc_method]
    async fn no_service(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    #[grpc_method("Math", "Sum")]
    async fn service_as_string(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    #[grpc_method(math::Math, Sum)]
    async fn method_not_a_string(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    #[grpc_method(math::Math, "Sum-Up")]
    async fn not_a_method_name(&self, request: RequestSum) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }
}

fn main() {}
