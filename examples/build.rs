//! The seed's protos (`proto/seed.proto`, for `TRANSPORT=grpc`) compiled into Rust, with no
//! system `protoc` (gateway-build).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    gateway_build::compile_protos(&["proto/seed.proto"], &["proto"])?;
    Ok(())
}
