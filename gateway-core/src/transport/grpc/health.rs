//! The standard gRPC health service, `grpc.health.v1.Health` (grpc/grpc
//! `doc/health-checking.md`): every [`Transport::grpc`](crate::app::Transport::grpc) server
//! answers it, as `grpc-health-probe`, Kubernetes' gRPC probes and load balancers ask.
//!
//! `Check` with `service: ""` is the server's own state; with a service's full name
//! (`math.Math`) that service's; a name the server does not serve is `NOT_FOUND`. Both are
//! `SERVING` until the server begins to shut down, then `NOT_SERVING`. `Watch` sends the state
//! now and again when it changes.

#![allow(missing_docs)] // the messages' fields are documented by the proto

use serde::{Deserialize, Serialize};

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheckRequest {
    /// The service's full name (`math.Math`), or `""` for the server.
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, Eq, prost::Message, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheckResponse {
    /// A [`ServingStatus`] (as its number, as proto-loader gives enums).
    #[prost(enumeration = "ServingStatus", tag = "1")]
    pub status: i32,
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ServingStatus {
    Unknown = 0,
    Serving = 1,
    NotServing = 2,
    /// Used only by `Watch`.
    ServiceUnknown = 3,
}

/// The service `grpc.health.v1.Health`: its methods as types and its typed client.
#[allow(non_snake_case)]
pub mod Health {
    use super::{HealthCheckRequest, HealthCheckResponse};
    use crate::client::RpcError;
    use crate::grpc::{GrpcChannel, GrpcMethod, GrpcService, GrpcStream, IntoGrpcRequest};

    /// The service's name with its package.
    pub const NAME: &str = "grpc.health.v1.Health";

    /// `rpc Check(HealthCheckRequest) returns (HealthCheckResponse)`
    #[derive(Debug, Clone, Copy)]
    pub struct Check;

    impl GrpcMethod for Check {
        type Request = HealthCheckRequest;
        type Response = HealthCheckResponse;
        const SERVICE: &'static str = "Health";
        const METHOD: &'static str = "Check";
        const PATH: &'static str = "/grpc.health.v1.Health/Check";
        const CLIENT_STREAMING: bool = false;
        const SERVER_STREAMING: bool = false;
    }

    /// `rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse)`
    #[derive(Debug, Clone, Copy)]
    pub struct Watch;

    impl GrpcMethod for Watch {
        type Request = HealthCheckRequest;
        type Response = HealthCheckResponse;
        const SERVICE: &'static str = "Health";
        const METHOD: &'static str = "Watch";
        const PATH: &'static str = "/grpc.health.v1.Health/Watch";
        const CLIENT_STREAMING: bool = false;
        const SERVER_STREAMING: bool = true;
    }

    /// A typed client of `grpc.health.v1.Health`.
    #[derive(Debug, Clone)]
    pub struct Client(GrpcChannel);

    impl GrpcService for Client {
        const NAME: &'static str = NAME;
        fn from_channel(channel: GrpcChannel) -> Self {
            Client(channel)
        }
    }

    impl Client {
        /// `Check`: the state of the server (`service: ""`) or of one of its services.
        pub async fn check(
            &self,
            request: impl IntoGrpcRequest<HealthCheckRequest>,
        ) -> Result<HealthCheckResponse, RpcError> {
            self.0.unary::<Check, _>(request).await
        }

        /// `Watch`: the state now, then each change.
        pub async fn watch(
            &self,
            request: impl IntoGrpcRequest<HealthCheckRequest>,
        ) -> Result<GrpcStream<HealthCheckResponse>, RpcError> {
            self.0.server_streaming::<Watch, _>(request).await
        }
    }
}
