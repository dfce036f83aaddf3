//! The test protos compiled into Rust (gateway-build: no system `protoc`): Nest's suite's
//! `math` (the example's copy, which the Nest peers load too), its `edge` (edge-cases-grpc),
//! and our `echo`, which imports `math`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    gateway_build::compile_protos(
        &[
            "../examples/proto/math.proto",
            "proto/echo.proto",
            "proto/edge.proto",
        ],
        &["proto", "../examples/proto"],
    )?;
    Ok(())
}
