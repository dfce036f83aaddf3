use gateway_core::prelude::*;

#[injectable]
struct UsersController;

#[controller]
impl UsersController {
    #[get("users")]
    #[header("Cache Control", "no-store")]
    #[header("X-Only-A-Name")]
    async fn list(&self) -> String {
        String::new()
    }
}

fn main() {}
