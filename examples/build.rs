//! The protos compiled into Rust, with no system `protoc` (gateway-build): the seed's
//! (`proto/seed.proto`, for `TRANSPORT=grpc`) and Nest's suite's (`math`, `math2`, for
//! `nest-suite -- grpc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    gateway_build::compile_protos(
        &["proto/seed.proto", "proto/math.proto", "proto/math2.proto"],
        &["proto"],
    )?;
    Ok(())
}
