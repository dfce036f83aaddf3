use gateway_core::prelude::*;

#[injectable]
struct MeController;

#[controller]
impl MeController {
    #[get("me")]
    async fn me(&self, #[context] name: String) -> String {
        name
    }
}

fn main() {}
