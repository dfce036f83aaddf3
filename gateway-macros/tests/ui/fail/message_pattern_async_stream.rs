use gateway_core::prelude::*;

#[injectable]
struct CountController;

#[controller]
impl CountController {
    #[message_pattern("count")]
    async fn count(&self, #[payload] n: u64) -> impl futures_core::Stream<Item = Result<u64, RpcException>> {
        futures_util::stream::iter((0..n).map(Ok))
    }
}

fn main() {}
