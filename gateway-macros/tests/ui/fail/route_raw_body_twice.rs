use gateway_core::prelude::*;

#[injectable]
struct WebhookController;

#[controller]
impl WebhookController {
    // Twice.
    #[post("a")]
    async fn twice(&self, #[raw_body] a: String, #[raw_body] b: String) -> String {
        a + &b
    }
}

fn main() {}
