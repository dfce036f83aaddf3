use gateway_core::prelude::*;

#[injectable]
struct MathController {
    // Either the container gives the client, or the field makes its own: not both.
    #[inject("MATH_SERVICE")]
    #[client(ClientOptions::tcp("MATH_SERVICE", "127.0.0.1:3000"))]
    math: ClientProxy,
    // `@Client()` takes the client's options.
    #[client]
    other: ClientProxy,
}

fn main() {}
