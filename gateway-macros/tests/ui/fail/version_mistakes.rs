use gateway_core::prelude::*;

#[injectable]
struct CatsController;

#[controller("cats")]
impl CatsController {
    // No version named.
    #[get("a")]
    #[version()]
    async fn a(&self) -> &'static str {
        "a"
    }

    // A version is a string.
    #[get("b")]
    #[version(2)]
    async fn b(&self) -> &'static str {
        "b"
    }

    // Versioning does not reach message handlers.
    #[message_pattern("cats")]
    #[version("1")]
    async fn cats(&self) -> Result<u32, RpcException> {
        Ok(1)
    }
}

fn main() {}
