use gateway_core::prelude::*;

#[injectable]
struct WebhookController;

#[controller]
impl WebhookController {
    #[post("b")]
    async fn number(&self, #[raw_body] n: u32) -> u32 {
        n
    }
}

fn main() {}
