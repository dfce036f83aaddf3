use gateway_core::prelude::*;

#[injectable]
struct MathController {
    // The options are `ClientOptions`, not an address.
    #[client("127.0.0.1:3000")]
    math: ClientProxy,
}

fn main() {}
