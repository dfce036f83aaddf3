use gateway_core::prelude::*;

include!("../grpc_math.rs");
use math::{RequestSum, SumResult};

#[derive(serde::Deserialize)]
struct Numbers {
    data: Vec<i32>,
}

#[injectable]
struct MathController;

#[controller]
impl MathController {
    // The payload is not the method's request message.
    #[grpc_method(math::Math)]
    async fn sum(&self, #[payload] request: Numbers) -> Result<SumResult, RpcException> {
        Ok(SumResult { result: request.data.iter().sum() })
    }

    // Nor the reply its response message.
    #[grpc_method(math::Math, "Sum")]
    async fn sum_as_number(&self, request: RequestSum) -> Result<i32, RpcException> {
        Ok(request.data.iter().sum())
    }
}

fn main() {}
