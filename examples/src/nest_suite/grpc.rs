//! `sum-grpc` and `math-grpc`: Nest's gRPC app (`src/grpc/grpc.controller.ts`, the `math` and
//! `math2` packages of `math.proto` and `math2.proto`), ported: a hybrid app whose routes call,
//! through `ClientGrpc`s, the gRPC handlers it also serves (on `MICROSERVICE_PORT`, default
//! Nest's gRPC 5000).
//!
//! Not ported: the `/error` route's custom client (`ClientGrpcProxy` subclassed to override
//! `serializeError`; our client errors are one typed enum, with no class to subclass), and
//! `StreamLargeMessages` (the backpressure case).

use futures_util::{Stream, StreamExt};
use gateway_core::grpc::{ClientGrpc, GrpcClientOptions, GrpcRequests};
use gateway_core::prelude::*;
use serde_json::json;

use crate::proto::{math, math2};

/// The spec app's `GrpcController`: the `Math` and `Math2` services, and the routes that call
/// them.
#[injectable]
pub struct GrpcController {
    /// `@Client({ transport: Transport.GRPC, options: { package: 'math', protoPath } })`.
    #[inject("MATH_CLIENT")]
    client: ClientGrpc,
    /// `clientMulti`, of both packages (one connection serves every service of a server).
    #[inject("MATH_MULTI_CLIENT")]
    client_multi: ClientGrpc,
}

/// `RpcException({ code: 3, message })`: `INVALID_ARGUMENT`.
fn divide_by_zero() -> RpcException {
    RpcException::new(json!({ "code": 3, "message": "dividing by 0 is not possible" }))
}

#[controller]
impl GrpcController {
    #[post("sum")]
    #[http_code(200)]
    async fn call(&self, #[body] data: Vec<i32>) -> Result<math::SumResult, HttpException> {
        let svc: math::Math::Client = self.client.get_service();
        Ok(svc.sum(math::RequestSum { data }).await?)
    }

    /// Nest's `getService` has both `sum` and `Sum`; ours has the one typed method, which
    /// this route calls too.
    #[post("upperMethod/sum")]
    #[http_code(200)]
    async fn call_with_options(
        &self,
        #[body] data: Vec<i32>,
    ) -> Result<math::SumResult, HttpException> {
        let svc: math::Math::Client = self.client.get_service();
        Ok(svc.sum(math::RequestSum { data }).await?)
    }

    #[post("multi/sum")]
    #[http_code(200)]
    async fn call_multi_sum(
        &self,
        #[body] data: Vec<i32>,
    ) -> Result<math::SumResult, HttpException> {
        let svc: math::Math::Client = self.client_multi.get_service();
        Ok(svc.sum(math::RequestSum { data }).await?)
    }

    #[post("multi/sum2")]
    #[http_code(200)]
    async fn call_multi_sum2(
        &self,
        #[body] data: Vec<i32>,
    ) -> Result<math2::SumResult, HttpException> {
        let svc: math2::Math2::Client = self.client_multi.get_service();
        Ok(svc.sum2(math2::RequestSum { data }).await?)
    }

    #[grpc_method(math::Math)]
    async fn sum(&self, #[payload] req: math::RequestSum) -> Result<math::SumResult, RpcException> {
        Ok(math::SumResult {
            result: req.data.iter().sum(),
        })
    }

    /// `@GrpcStreamMethod('Math') sumStream(messages)`: a sum for each message.
    #[grpc_stream_method(math::Math)]
    fn sum_stream(
        &self,
        messages: GrpcRequests<math::RequestSum>,
    ) -> impl Stream<Item = Result<math::SumResult, RpcException>> {
        messages.map(|msg| {
            Ok(math::SumResult {
                result: msg.data.iter().sum(),
            })
        })
    }

    /// `@GrpcStreamCall('Math') sumStreamPass(stream)`: Nest hands that handler the raw call
    /// to write to; ours is the same stream handler (each message answered as it comes).
    #[grpc_stream_method(math::Math, "SumStreamPass")]
    fn sum_stream_pass(
        &self,
        messages: GrpcRequests<math::RequestSum>,
    ) -> impl Stream<Item = Result<math::SumResult, RpcException>> {
        self.sum_stream(messages)
    }

    #[grpc_method(math::Math)]
    async fn divide(
        &self,
        #[payload] req: math::RequestDivide,
    ) -> Result<math::DivideResult, RpcException> {
        if req.divisor == 0 {
            return Err(divide_by_zero());
        }
        Ok(math::DivideResult {
            result: req.dividend / req.divisor,
        })
    }

    /// math-grpc's `StreamDivide`: each division's result, the first division by zero ending
    /// the stream with `INVALID_ARGUMENT`.
    #[grpc_method(math::Math)]
    fn stream_divide(
        &self,
        #[payload] req: math::StreamDivideRequest,
    ) -> impl Stream<Item = Result<math::StreamDivideResponse, RpcException>> {
        futures_util::stream::iter(req.data).map(|division| {
            if division.divisor == 0 {
                return Err(divide_by_zero());
            }
            Ok(math::StreamDivideResponse {
                data: Some(math::DivideResult {
                    result: division.dividend / division.divisor,
                }),
            })
        })
    }

    #[grpc_method(math2::Math2)]
    async fn sum2(
        &self,
        #[payload] req: math2::RequestSum,
    ) -> Result<math2::SumResult, RpcException> {
        Ok(math2::SumResult {
            result: req.data.iter().sum(),
        })
    }
}

/// The clients' url: the microservice this app serves (`localhost:<port>`).
static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn url() -> String {
    URL.get()
        .cloned()
        .unwrap_or_else(|| format!("localhost:{}", microservice_port()))
}

/// The app's module: the controller and its two `ClientGrpc`s.
#[module(
    imports = [ClientsModule::register_grpc([
        ("MATH_CLIENT", GrpcClientOptions::new(url())),
        ("MATH_MULTI_CLIENT", GrpcClientOptions::new(url())),
    ])],
    controllers = [GrpcController],
)]
pub struct GrpcModule;

/// The gRPC microservice's port: `MICROSERVICE_PORT`, default Nest's gRPC default, 5000.
pub fn microservice_port() -> u16 {
    crate::env_port("MICROSERVICE_PORT", 5000)
}

/// The spec's set-up: the app with its gRPC microservice connected on `0.0.0.0:<port>` and
/// started; its clients call it at `localhost:<port>`.
pub async fn create(microservice_port: u16) -> Result<NestApplication, BootError> {
    let _ = URL.set(format!("localhost:{microservice_port}"));
    super::hybrid::<GrpcModule>([Transport::grpc(format!("0.0.0.0:{microservice_port}"))]).await
}
