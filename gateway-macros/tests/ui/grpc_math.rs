// The `math` package as `gateway-build` writes it (tests/proto/math.proto, two of its
// methods, messages without prost's attributes): what the grpc_method cases name.
#[allow(non_snake_case, dead_code)]
pub mod math {
    #[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, prost::Message)]
    pub struct RequestSum {
        #[prost(int32, repeated, tag = "1")]
        pub data: Vec<i32>,
    }
    #[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, prost::Message)]
    pub struct SumResult {
        #[prost(int32, tag = "1")]
        pub result: i32,
    }
    pub mod Math {
        pub struct Sum;
        impl ::gateway_core::grpc::GrpcMethod for Sum {
            type Request = super::RequestSum;
            type Response = super::SumResult;
            const SERVICE: &'static str = "Math";
            const METHOD: &'static str = "Sum";
            const PATH: &'static str = "/math.Math/Sum";
            const CLIENT_STREAMING: bool = false;
            const SERVER_STREAMING: bool = false;
        }
        pub struct SumStream;
        impl ::gateway_core::grpc::GrpcMethod for SumStream {
            type Request = super::RequestSum;
            type Response = super::SumResult;
            const SERVICE: &'static str = "Math";
            const METHOD: &'static str = "SumStream";
            const PATH: &'static str = "/math.Math/SumStream";
            const CLIENT_STREAMING: bool = true;
            const SERVER_STREAMING: bool = true;
        }
    }
}
