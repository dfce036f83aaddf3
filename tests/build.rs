//! The test protos compiled into Rust (gateway-build: no system `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    gateway_build::compile_protos(&["proto/math.proto", "proto/echo.proto"], &["proto"])?;
    Ok(())
}
